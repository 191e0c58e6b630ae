-- Taskweave 0.3.0: reading numbers, text and lists out of jsonb arguments, once, with 22023 naming the key.
--
-- Until now each function cast jsonb values itself (`(p_limits ->> 'max_tasks')::bigint`), so a value the
-- validator let through but the cast could not take ended in 22P02, 22003 or 0A000 instead of 22023
-- naming the key: limits written 1.0, usage 1.5 or "abc" (audit finding 6). The helpers below look at
-- the JSON text before any cast, and every later parse goes through them. Run limits gain max_cost_usd.

create function taskweave_private.json_whole_number(p_value jsonb, p_name text, p_min bigint, p_max bigint)
returns bigint
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return null;
  end if;
  -- digits only before any cast, so no cast can fail: 1.0, 1e400 and "abc" are all 22023 here (checked in
  -- steps: SQL does not promise to evaluate the operands of OR in order)
  if jsonb_typeof(p_value) = 'number' and p_value::text ~ '^-?[0-9]{1,19}$' then
    if p_value::text::numeric between p_min and p_max then
      return p_value::text::bigint;
    end if;
  end if;
  raise exception '% must be a whole number from % to % (written without a decimal point), or null (got %)',
    p_name, p_min, p_max, left(p_value::text, 100)
    using errcode = '22023';
end;
$$;
comment on function taskweave_private.json_whole_number(jsonb, text, bigint, bigint) is
  'A JSON whole number between p_min and p_max (null for JSON null or absent); 22023 naming p_name for anything else, '
  'including 1.0, fractions, strings and numbers too large to cast.';

create function taskweave_private.json_decimal(p_value jsonb, p_name text, p_min numeric, p_max numeric)
returns numeric
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return null;
  end if;
  if jsonb_typeof(p_value) = 'number' and p_value::text ~ '^-?[0-9]{1,15}(\.[0-9]{1,15})?$' then
    if p_value::text::numeric between p_min and p_max then
      return p_value::text::numeric;
    end if;
  end if;
  raise exception '% must be a number from % to %, or null (got %)', p_name, p_min, p_max, left(p_value::text, 100)
    using errcode = '22023';
end;
$$;
comment on function taskweave_private.json_decimal(jsonb, text, numeric, numeric) is
  'A JSON number between p_min and p_max with at most 15 digits each side of the point (null for JSON null or absent); '
  '22023 naming p_name otherwise.';

create function taskweave_private.json_text(p_value jsonb, p_name text, p_max_length integer)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return null;
  end if;
  if jsonb_typeof(p_value) <> 'string' then
    raise exception '% must be a string (got %)', p_name, jsonb_typeof(p_value) using errcode = '22023';
  end if;
  if char_length(p_value #>> '{}') > p_max_length then
    raise exception '% must be at most % characters (got %)', p_name, p_max_length, char_length(p_value #>> '{}')
      using errcode = '22023';
  end if;
  return p_value #>> '{}';
end;
$$;
comment on function taskweave_private.json_text(jsonb, text, integer) is
  'A JSON string of at most p_max_length characters (null for JSON null or absent); 22023 naming p_name otherwise.';

create function taskweave_private.json_boolean(p_value jsonb, p_name text)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return null;
  end if;
  if jsonb_typeof(p_value) <> 'boolean' then
    raise exception '% must be true or false (got %)', p_name, left(p_value::text, 100) using errcode = '22023';
  end if;
  return p_value::text::boolean;
end;
$$;
comment on function taskweave_private.json_boolean(jsonb, text) is 'A JSON boolean (null for JSON null or absent); 22023 naming p_name otherwise.';

create function taskweave_private.json_text_array(p_value jsonb, p_name text, p_max_items integer, p_max_length integer)
returns text[]
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_item jsonb;
  v_items text[] := '{}';
  v_index integer := 0;
begin
  if p_value is null or jsonb_typeof(p_value) = 'null' then
    return null;
  end if;
  if jsonb_typeof(p_value) <> 'array' then
    raise exception '% must be an array of strings (got %)', p_name, jsonb_typeof(p_value) using errcode = '22023';
  end if;
  if jsonb_array_length(p_value) > p_max_items then
    raise exception '% may list at most % items (got %)', p_name, p_max_items, jsonb_array_length(p_value) using errcode = '22023';
  end if;
  for v_item in select value from jsonb_array_elements(p_value) loop
    if jsonb_typeof(v_item) <> 'string' or char_length(v_item #>> '{}') not between 1 and p_max_length then
      raise exception '%[%] must be a non-empty string of at most % characters (got %)', p_name, v_index, p_max_length, left(v_item::text, 100)
        using errcode = '22023';
    end if;
    if (v_item #>> '{}') = any (v_items) then
      raise exception '% lists "%" more than once', p_name, v_item #>> '{}' using errcode = '22023';
    end if;
    v_items := v_items || (v_item #>> '{}');
    v_index := v_index + 1;
  end loop;
  return v_items;
end;
$$;
comment on function taskweave_private.json_text_array(jsonb, text, integer, integer) is
  'A JSON array of distinct non-empty strings (null for JSON null or absent); 22023 naming p_name and the index otherwise.';

create function taskweave_private.json_object_keys_in(p_value jsonb, p_name text, p_allowed text[])
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_key text;
begin
  if p_value is null or jsonb_typeof(p_value) <> 'object' then
    raise exception '% must be a JSON object (got %)', p_name, coalesce(jsonb_typeof(p_value), 'null') using errcode = '22023';
  end if;
  select k into v_key from jsonb_object_keys(p_value) as k where not (k = any (p_allowed)) order by k limit 1;
  if found then
    raise exception '% has an unknown key "%"; the keys are %', p_name, left(v_key, 100),
      case when cardinality(p_allowed) > 1
           then array_to_string(p_allowed[1:cardinality(p_allowed) - 1], ', ') || ' and ' || p_allowed[cardinality(p_allowed)]
           else array_to_string(p_allowed, '') end
      using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.json_object_keys_in(jsonb, text, text[]) is
  'Raises 22023 naming p_name unless the value is a JSON object whose keys are all in p_allowed.';

-- ---------------------------------------------------------------------------------------------
-- run limits: max_tasks, max_tokens, deadline_seconds and, since 0.3.0, max_cost_usd

create or replace function taskweave_private.validate_limits(p_limits jsonb)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  perform taskweave_private.json_object_keys_in(p_limits, 'p_limits', array['max_tasks', 'max_tokens', 'deadline_seconds', 'max_cost_usd']);
  perform taskweave_private.json_whole_number(p_limits -> 'max_tasks', 'p_limits.max_tasks', 1, 1000000);
  perform taskweave_private.json_whole_number(p_limits -> 'max_tokens', 'p_limits.max_tokens', 1, 1000000000000);
  perform taskweave_private.json_whole_number(p_limits -> 'deadline_seconds', 'p_limits.deadline_seconds', 1, 31536000);
  perform taskweave_private.json_decimal(p_limits -> 'max_cost_usd', 'p_limits.max_cost_usd', 0.000001, 1000000);
end;
$$;
comment on function taskweave_private.validate_limits(jsonb) is
  'Raises 22023 naming the key unless run limits are {max_tasks?, max_tokens?, deadline_seconds?, max_cost_usd?}: whole '
  'positive numbers (max_cost_usd: a positive number of US dollars) or null for no limit.';

create or replace function taskweave_private.limit_value(p_limits jsonb, p_key text, p_default_setting text, p_default integer)
returns bigint
language sql
stable
set search_path = ''
as $$
  -- given: the value (null = no limit); absent: the database default (0 = no limit). validate_limits ran
  -- first, so the value is digits only
  select case when p_limits ? p_key then taskweave_private.json_whole_number(p_limits -> p_key, 'p_limits.' || p_key, 1, 1000000000000)
              else nullif(taskweave_private.setting_int(p_default_setting, p_default), 0) end
$$;
comment on function taskweave_private.limit_value(jsonb, text, text, integer) is 'One whole-number run limit from p_limits, else from the database default setting.';

create or replace function taskweave_private.run_limit_reached(p_run taskweave.runs, p_for_new_task boolean)
returns text
language sql
stable
set search_path = ''
as $$
  select case
    when p_run.deadline_at is not null and p_run.deadline_at <= now() then
      format('the run''s deadline passed at %s', to_char(p_run.deadline_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
    when p_run.max_tokens is not null and p_run.input_tokens + p_run.output_tokens >= p_run.max_tokens then
      format('the run used %s of its max_tokens = %s', p_run.input_tokens + p_run.output_tokens, p_run.max_tokens)
    when p_run.max_cost_usd is not null and p_run.cost_usd >= p_run.max_cost_usd then
      format('the run cost %s US dollars of its max_cost_usd = %s', round(p_run.cost_usd, 6), p_run.max_cost_usd)
    when p_for_new_task and p_run.max_tasks is not null and p_run.task_count >= p_run.max_tasks then
      format('the run has %s tasks, its max_tasks = %s', p_run.task_count, p_run.max_tasks)
  end
$$;
comment on function taskweave_private.run_limit_reached(taskweave.runs, boolean) is
  'Why a run may not go on (deadline, max_tokens, max_cost_usd, and for a new task max_tasks), or null when it may.';

create or replace function taskweave.set_run_limits(p_root_task_id uuid, p_limits jsonb)
returns taskweave.tasks
language plpgsql
volatile
-- security definer: operators (authenticated) have no write rights on runs; this function is the door
security definer
set search_path = ''
as $$
declare
  v_root taskweave.tasks;
begin
  perform taskweave_private.require_operator('change run limits');
  perform taskweave_private.validate_limits(p_limits);
  select * into v_root from taskweave.tasks where id = p_root_task_id;
  if not found then
    raise exception 'task % not found', p_root_task_id using errcode = 'P0002';
  end if;
  if v_root.parent_task_id is not null then
    raise exception 'task % is not a root task; its run is %', p_root_task_id, v_root.root_task_id using errcode = '22023';
  end if;
  update taskweave.runs
     set max_tasks = case when p_limits ? 'max_tasks'
                          then taskweave_private.json_whole_number(p_limits -> 'max_tasks', 'p_limits.max_tasks', 1, 1000000)::integer
                          else max_tasks end,
         max_tokens = case when p_limits ? 'max_tokens'
                           then taskweave_private.json_whole_number(p_limits -> 'max_tokens', 'p_limits.max_tokens', 1, 1000000000000)
                           else max_tokens end,
         deadline_at = case when p_limits ? 'deadline_seconds'
                            then v_root.created_at + make_interval(secs =>
                                   taskweave_private.json_whole_number(p_limits -> 'deadline_seconds', 'p_limits.deadline_seconds', 1, 31536000))
                            else deadline_at end,
         max_cost_usd = case when p_limits ? 'max_cost_usd'
                             then taskweave_private.json_decimal(p_limits -> 'max_cost_usd', 'p_limits.max_cost_usd', 0.000001, 1000000)
                             else max_cost_usd end,
         updated_at = now()
   where root_task_id = p_root_task_id;
  insert into taskweave.task_events (task_id, event, from_status, to_status, actor, detail)
  values (p_root_task_id, 'limits_changed', v_root.status, v_root.status, taskweave_private.operator_name(), jsonb_build_object('limits', p_limits));
  return v_root;
end;
$$;
comment on function taskweave.set_run_limits(uuid, jsonb) is
  'Operators and service_role: replaces the given limits of a run (keys as in create_task: max_tasks, max_tokens, '
  'deadline_seconds, max_cost_usd; null removes a limit; absent keys stay), e.g. to raise a budget and go on with a Retry. '
  'Recorded in task_events as limits_changed. 22023 naming the key for a bad limit.';
revoke all on function taskweave.set_run_limits(uuid, jsonb) from public, anon, authenticated;
grant execute on function taskweave.set_run_limits(uuid, jsonb) to authenticated, service_role;

revoke all on function
  taskweave_private.json_whole_number(jsonb, text, bigint, bigint),
  taskweave_private.json_decimal(jsonb, text, numeric, numeric),
  taskweave_private.json_text(jsonb, text, integer),
  taskweave_private.json_boolean(jsonb, text),
  taskweave_private.json_text_array(jsonb, text, integer, integer),
  taskweave_private.json_object_keys_in(jsonb, text, text[])
  from public, anon, authenticated;
grant execute on function
  taskweave_private.json_whole_number(jsonb, text, bigint, bigint),
  taskweave_private.json_decimal(jsonb, text, numeric, numeric),
  taskweave_private.json_text(jsonb, text, integer),
  taskweave_private.json_boolean(jsonb, text),
  taskweave_private.json_text_array(jsonb, text, integer, integer),
  taskweave_private.json_object_keys_in(jsonb, text, text[])
  to service_role;
