-- create_task takes its run limits from its one read of the defaults (0.3.3).
--
-- This is what 0.3.2 wrote into 20261206010000_engine_hot_path.sql after 0.3.1 had shipped that migration;
-- the released file is back as it shipped, and the change lives here, where a database that ran either
-- version of it ends in the same state:
-- - taskweave_private.limit_value(p_limits, p_key, p_default bigint) returns the value p_limits gives for
--   p_key (null = no limit), else p_default; the 0.3.1 form that read the database default itself,
--   limit_value(jsonb, text, text, integer), is dropped.
-- - create_task reads every default in one statement and passes each to limit_value, instead of spelling
--   out the same test three times.
-- (0.3.2's other edits to that file left no trace in the schema: the guard trigger and the identity
-- helpers it touched are defined again, whole, by later statements and migrations.)

-- create_task reads every default in one statement, so limit_value takes the default itself
drop function if exists taskweave_private.limit_value(jsonb, text, text, integer);
create or replace function taskweave_private.limit_value(p_limits jsonb, p_key text, p_default bigint)
returns bigint
language plpgsql
immutable
set search_path = ''
as $$
begin
  -- given: the value (null = no limit); absent: the default. validate_limits ran first, so the value is
  -- digits only
  if p_limits ? p_key then
    return taskweave_private.json_whole_number(p_limits -> p_key, 'p_limits.' || p_key, 1, 1000000000000);
  end if;
  return p_default;
end;
$$;
comment on function taskweave_private.limit_value(p_limits jsonb, p_key text, p_default bigint) is 'One whole-number run limit: the value p_limits gives for p_key (null = no limit), else p_default.';
revoke all on function taskweave_private.limit_value(p_limits jsonb, p_key text, p_default bigint) from public, anon, authenticated;
grant execute on function taskweave_private.limit_value(p_limits jsonb, p_key text, p_default bigint) to service_role;

create or replace function taskweave.create_task(p_title text, p_instructions text, p_input jsonb default '{}'::jsonb, p_limits jsonb default '{}'::jsonb, p_agent text default null::text)
returns taskweave.tasks
language plpgsql
security definer -- the tasks table takes changes only from the API; operators who are not its owner call this
set search_path = ''
as $$
declare
  v_id uuid := pg_catalog.gen_random_uuid();
  v_task taskweave.tasks;
  v_max_attempts integer;
  v_max_tasks bigint;
  v_max_tokens bigint;
  v_deadline bigint;
begin
  -- service_role, the schema owner and superusers pass; a signed-in user needs the operator claim
  if not taskweave_private.is_operator() then
    perform taskweave_private.require_operator('create tasks');
  end if;
  if p_title is null or pg_catalog.char_length(pg_catalog.btrim(p_title)) = 0 or pg_catalog.char_length(p_title) > 500
     or p_instructions is null or pg_catalog.char_length(p_instructions) > 200000
     or p_input is null or pg_catalog.jsonb_typeof(p_input) <> 'object' then
    perform taskweave_private.validate_new_task(p_title, p_instructions, p_input);
  end if;
  if p_limits is distinct from '{}'::jsonb then
    perform taskweave_private.validate_limits(p_limits);
  end if;
  if p_agent is not null then
    perform taskweave_private.lock_agent(p_agent);
  end if;
  -- the database defaults (0 = no limit), in one read
  select coalesce(pg_catalog.max(s.value) filter (where s.name = 'default_max_attempts'), 3),
         coalesce(pg_catalog.max(s.value) filter (where s.name = 'default_max_tasks'), 1000),
         coalesce(pg_catalog.max(s.value) filter (where s.name = 'default_max_tokens'), 2000000),
         coalesce(pg_catalog.max(s.value) filter (where s.name = 'default_deadline_seconds'), 86400)
    into v_max_attempts, v_max_tasks, v_max_tokens, v_deadline
    from taskweave_private.settings s
   where s.name in ('default_max_attempts', 'default_max_tasks', 'default_max_tokens', 'default_deadline_seconds');
  -- a database default of 0 is no limit
  v_max_tasks := nullif(v_max_tasks, 0);
  v_max_tokens := nullif(v_max_tokens, 0);
  v_deadline := nullif(v_deadline, 0);
  if p_limits is distinct from '{}'::jsonb then
    v_max_tasks := taskweave_private.limit_value(p_limits, 'max_tasks', v_max_tasks);
    v_max_tokens := taskweave_private.limit_value(p_limits, 'max_tokens', v_max_tokens);
    v_deadline := taskweave_private.limit_value(p_limits, 'deadline_seconds', v_deadline);
  end if;
  insert into taskweave.tasks (id, root_task_id, title, instructions, input, status, max_attempts, agent)
  values (v_id, v_id, pg_catalog.btrim(p_title), p_instructions, p_input, 'pending', v_max_attempts, p_agent)
  returning * into v_task;
  insert into taskweave.runs (root_task_id, max_tasks, max_tokens, max_cost_usd, deadline_at, created_at)
  values (v_id, v_max_tasks, v_max_tokens,
          case when p_limits ? 'max_cost_usd' then taskweave_private.json_decimal(p_limits -> 'max_cost_usd', 'p_limits.max_cost_usd', 0.000001, 1000000) end,
          v_task.created_at + pg_catalog.make_interval(secs => v_deadline),
          v_task.created_at);
  return v_task;
end;
$$;
