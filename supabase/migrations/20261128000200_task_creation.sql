-- Taskweave 0.2.0 baseline, part 3: creating tasks, and the run limits that bound how many.

-- ---------------------------------------------------------------------------------------------
-- run limits: max_tasks, max_tokens, deadline_seconds (DESIGN.md section 3)

create function taskweave_private.validate_limits(p_limits jsonb)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_key text;
  v_value jsonb;
  v_max numeric;
begin
  if p_limits is null or jsonb_typeof(p_limits) <> 'object' then
    raise exception 'p_limits must be a JSON object such as {"max_tasks": 50, "max_tokens": 200000, "deadline_seconds": 3600} (got %)',
      coalesce(jsonb_typeof(p_limits), 'null') using errcode = '22023';
  end if;
  for v_key, v_value in select key, value from jsonb_each(p_limits) loop
    v_max := case v_key when 'max_tasks' then 1000000 when 'max_tokens' then 1000000000000 when 'deadline_seconds' then 31536000 end;
    if v_max is null then
      raise exception 'p_limits has an unknown key "%"; the keys are max_tasks, max_tokens and deadline_seconds', v_key
        using errcode = '22023';
    end if;
    if jsonb_typeof(v_value) = 'null' then
      continue; -- null: no limit
    end if;
    if jsonb_typeof(v_value) <> 'number' or v_value::text::numeric <> trunc(v_value::text::numeric)
       or v_value::text::numeric < 1 or v_value::text::numeric > v_max then
      raise exception 'p_limits.% must be a whole number from 1 to % or null for no limit (got %)', v_key, v_max, v_value
        using errcode = '22023';
    end if;
  end loop;
end;
$$;
comment on function taskweave_private.validate_limits(jsonb) is 'Raises 22023 naming the key when run limits are not {max_tasks?, max_tokens?, deadline_seconds?} with whole positive numbers or null.';

create function taskweave_private.limit_value(p_limits jsonb, p_key text, p_default_setting text, p_default integer)
returns bigint
language sql
stable
set search_path = ''
as $$
  -- given: the value (null = no limit); absent: the database default (0 = no limit)
  select case when p_limits ? p_key then (p_limits ->> p_key)::bigint
              else nullif(taskweave_private.setting_int(p_default_setting, p_default), 0) end
$$;
comment on function taskweave_private.limit_value(jsonb, text, text, integer) is 'One run limit from p_limits, else from the database default setting.';

create function taskweave_private.run_limit_reached(p_run taskweave.runs, p_for_new_task boolean)
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
    when p_for_new_task and p_run.max_tasks is not null and p_run.task_count >= p_run.max_tasks then
      format('the run has %s tasks, its max_tasks = %s', p_run.task_count, p_run.max_tasks)
  end
$$;
comment on function taskweave_private.run_limit_reached(taskweave.runs, boolean) is
  'Why a run may not go on (deadline, max_tokens, and for a new task max_tasks), or null when it may.';

create function taskweave_private.take_run_slot(p_root_task_id uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_run taskweave.runs;
  v_reason text;
begin
  -- the run row lock serialises the run's creations, so max_tasks holds under concurrency
  select * into v_run from taskweave.runs where root_task_id = p_root_task_id for update;
  v_reason := taskweave_private.run_limit_reached(v_run, true);
  if v_reason is not null then
    raise exception 'run limit reached: %; no task can be created in run %', v_reason, p_root_task_id
      using errcode = 'TW004',
            hint = 'Finish the work with the tasks that exist. An operator can raise the limits with taskweave.set_run_limits.';
  end if;
  update taskweave.runs set task_count = task_count + 1, updated_at = now() where root_task_id = p_root_task_id;
  -- the new task's claim_rank: its place in the run
  return v_run.task_count;
end;
$$;
comment on function taskweave_private.take_run_slot(uuid) is
  'Counts a new task against its run''s limits (TW004 when the run is at one) and returns the task''s place in the run (claim_rank).';

-- ---------------------------------------------------------------------------------------------
-- roots

create function taskweave.create_task(p_title text, p_instructions text, p_input jsonb default '{}'::jsonb, p_limits jsonb default '{}'::jsonb)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_id uuid := gen_random_uuid();
  v_task taskweave.tasks;
  v_deadline bigint;
begin
  perform taskweave_private.validate_new_task(p_title, p_instructions, p_input);
  perform taskweave_private.validate_limits(p_limits);
  insert into taskweave.tasks (id, root_task_id, title, instructions, input, status, max_attempts)
  values (v_id, v_id, btrim(p_title), p_instructions, p_input, 'pending', taskweave_private.setting_int('default_max_attempts', 3))
  returning * into v_task;
  v_deadline := taskweave_private.limit_value(p_limits, 'deadline_seconds', 'default_deadline_seconds', 86400);
  insert into taskweave.runs (root_task_id, max_tasks, max_tokens, deadline_at, created_at)
  values (v_id,
          taskweave_private.limit_value(p_limits, 'max_tasks', 'default_max_tasks', 1000),
          taskweave_private.limit_value(p_limits, 'max_tokens', 'default_max_tokens', 2000000),
          v_task.created_at + make_interval(secs => v_deadline),
          v_task.created_at);
  return v_task;
end;
$$;
comment on function taskweave.create_task(text, text, jsonb, jsonb) is
  'A new root task, pending, and its run. p_limits bounds the whole run: {"max_tasks", "max_tokens", "deadline_seconds"}, each '
  'optional (absent: the database default taskweave.default_<key>; null: no limit). Raises 22023 for an empty title, a '
  'non-object input or bad limits.';
revoke all on function taskweave.create_task(text, text, jsonb, jsonb) from public, anon, authenticated;
grant execute on function taskweave.create_task(text, text, jsonb, jsonb) to service_role;

-- ---------------------------------------------------------------------------------------------
-- children

create function taskweave_private.lock_parent(p_parent_task_id uuid, p_worker text)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_parent taskweave.tasks;
begin
  if p_parent_task_id is null then
    raise exception 'p_parent_task_id must not be null' using errcode = '22023';
  end if;
  if p_worker is not null then
    perform taskweave_private.validate_worker(p_worker);
  end if;
  -- the parent row lock serialises its children's creation, so the limits and tool-call idempotency hold
  select * into v_parent from taskweave.tasks where id = p_parent_task_id for no key update;
  if not found then
    raise exception 'parent task % not found', p_parent_task_id using errcode = 'P0002';
  end if;
  if p_worker is not null then
    -- a worker that lost its lease (expired, reclaimed, cancelled) creates nothing
    perform taskweave_private.require_lease(v_parent, p_parent_task_id, p_worker);
    perform taskweave_private.set_actor(p_worker);
  end if;
  return v_parent;
end;
$$;
comment on function taskweave_private.lock_parent(uuid, text) is 'Locks a parent about to get a child; with a worker, raises TW001 unless that worker holds the parent''s lease.';

create function taskweave_private.check_new_child(p_parent taskweave.tasks)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if taskweave_private.is_ended(p_parent.status) then
    raise exception 'parent task % has already ended (status %); it cannot start new tasks', p_parent.id, p_parent.status
      using errcode = '55000';
  end if;
  if p_parent.depth + 1 > taskweave_private.setting_int('max_depth', 5) then
    raise exception 'nesting too deep: task % is at depth %, and tasks may nest at most % levels; do this work in the task itself',
      p_parent.id, p_parent.depth, taskweave_private.setting_int('max_depth', 5)
      using errcode = '22023';
  end if;
  if (select count(*) from taskweave.tasks c where c.parent_task_id = p_parent.id) >= taskweave_private.setting_int('max_children_per_task', 100) then
    raise exception 'task % already has % child tasks, the most one task may create; combine the work into fewer tasks',
      p_parent.id, taskweave_private.setting_int('max_children_per_task', 100)
      using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.check_new_child(taskweave.tasks) is 'Raises unless the (locked) parent may get one more child: not ended (55000), within max_depth and max_children_per_task (22023).';

create function taskweave_private.tool_call_reused(p_parent_task_id uuid, p_tool_call_id text, p_existing uuid)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  raise exception 'tool call % of task % already created task % with other arguments', p_tool_call_id, p_parent_task_id, p_existing
    using errcode = 'TW006',
          hint = 'A tool call id names one call: repeat it with the same arguments, or make a new call.';
end;
$$;
comment on function taskweave_private.tool_call_reused(uuid, text, uuid) is 'Raises TW006: a tool call id was used again with other arguments (or for the other tool).';

create function taskweave.create_parallel_task(
  p_parent_task_id uuid,
  p_title text,
  p_instructions text,
  p_input jsonb default '{}'::jsonb,
  p_tool_call_id text default null,
  p_worker text default null
)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_parent taskweave.tasks;
  v_task taskweave.tasks;
  v_rank integer;
begin
  perform taskweave_private.validate_new_task(p_title, p_instructions, p_input);
  v_parent := taskweave_private.lock_parent(p_parent_task_id, p_worker);
  if p_tool_call_id is not null then
    select * into v_task from taskweave.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      if cardinality(v_task.dependent_task_ids) > 0 or v_task.title <> btrim(p_title)
         or v_task.instructions <> p_instructions or v_task.input <> p_input then
        perform taskweave_private.tool_call_reused(p_parent_task_id, p_tool_call_id, v_task.id);
      end if;
      return v_task;
    end if;
  end if;
  perform taskweave_private.check_new_child(v_parent);
  v_rank := taskweave_private.take_run_slot(v_parent.root_task_id);
  insert into taskweave.tasks (parent_task_id, root_task_id, title, instructions, input, status, is_parallel_task,
                               tool_call_id, depth, max_attempts, claim_rank)
  values (p_parent_task_id, v_parent.root_task_id, btrim(p_title), p_instructions, p_input, 'pending', true,
          p_tool_call_id, v_parent.depth + 1, taskweave_private.setting_int('default_max_attempts', 3), v_rank)
  returning * into v_task;
  return v_task;
end;
$$;
comment on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text) is
  'A pending parallel child of the parent, in the same run. The same (parent, tool call id) with the same arguments returns the '
  'existing task, with other arguments raises TW006, so a repeated LLM step never duplicates a child. With p_worker only the '
  'holder of the parent''s lease may (TW001). TW004 when the run is at a limit.';
revoke all on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text) from public, anon, authenticated;
grant execute on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text) to service_role;

create function taskweave_private.lock_dependencies_for_share(p_ids uuid[])
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_tries integer := 0;
begin
  -- Lock the dependencies so none ends unseen while the aggregator is made: an ending that committed
  -- before this lock is counted by the caller; one that commits after finds the aggregator through the
  -- fan-in trigger. NOWAIT, all or nothing, and retried: waiting here while holding some of them could
  -- close a cycle with a completing dependency whose trigger waits for an aggregator row we hold (40P01).
  loop
    begin
      perform 1 from taskweave.tasks t where t.id = any (p_ids) order by t.id for share nowait;
      return;
    exception when lock_not_available then
      v_tries := v_tries + 1;
      if v_tries >= 400 then
        raise exception 'the dependencies stayed locked by other transactions; try again' using errcode = '55P03';
      end if;
      perform pg_sleep(0.002 + random() * 0.008);
    end;
  end loop;
end;
$$;
comment on function taskweave_private.lock_dependencies_for_share(uuid[]) is
  'Share-locks all the given tasks at once or none, retrying briefly: never waits while holding part of the set.';

create function taskweave.create_aggregator_task(
  p_parent_task_id uuid,
  p_dependent_task_ids uuid[],
  p_title text,
  p_instructions text,
  p_tool_call_id text default null,
  p_worker text default null,
  p_min_completed integer default null,
  p_wait_seconds integer default null
)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_parent taskweave.tasks;
  v_task taskweave.tasks;
  v_max integer := taskweave_private.setting_int('max_aggregator_dependencies', 10000);
  v_count integer;
  v_bad record;
  v_open integer;
  v_completed integer;
  v_slots smallint;
  v_rank integer;
  v_outcome text;
  v_id uuid := gen_random_uuid();
  v_now timestamptz := now();
  v_wait_until timestamptz;
begin
  perform taskweave_private.validate_new_task(p_title, p_instructions, '{}'::jsonb);
  v_count := coalesce(cardinality(p_dependent_task_ids), 0);
  if v_count = 0 then
    raise exception 'p_dependent_task_ids must not be empty' using errcode = '22023';
  end if;
  if array_position(p_dependent_task_ids, null) is not null then
    raise exception 'p_dependent_task_ids must not contain null' using errcode = '22023';
  end if;
  if v_count > v_max then
    raise exception 'an aggregator may wait for at most % tasks (got %)', v_max, v_count using errcode = '22023';
  end if;
  select d.id into v_bad from unnest(p_dependent_task_ids) as d(id) group by d.id having count(*) > 1 limit 1;
  if found then
    raise exception 'dependency % is listed more than once', v_bad.id using errcode = '22023';
  end if;
  if p_min_completed is not null and (p_min_completed < 1 or p_min_completed > v_count) then
    raise exception 'p_min_completed must be between 1 and the number of dependencies, % (got %)', v_count, p_min_completed
      using errcode = '22023';
  end if;
  if p_wait_seconds is not null then
    perform taskweave_private.validate_seconds('p_wait_seconds', p_wait_seconds, 1, 604800);
    v_wait_until := v_now + make_interval(secs => p_wait_seconds);
  end if;

  v_parent := taskweave_private.lock_parent(p_parent_task_id, p_worker);
  if p_tool_call_id is not null then
    select * into v_task from taskweave.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      if v_task.dependent_task_ids is distinct from p_dependent_task_ids or v_task.title <> btrim(p_title)
         or v_task.instructions <> p_instructions or v_task.min_completed is distinct from p_min_completed
         or (v_task.wait_until - v_task.created_at) is distinct from make_interval(secs => p_wait_seconds) then
        perform taskweave_private.tool_call_reused(p_parent_task_id, p_tool_call_id, v_task.id);
      end if;
      return v_task;
    end if;
  end if;
  perform taskweave_private.check_new_child(v_parent);

  perform taskweave_private.lock_dependencies_for_share(p_dependent_task_ids);

  select d.id into v_bad
  from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
  left join taskweave.tasks t on t.id = d.id
  where t.id is null
  order by d.ord limit 1;
  if found then
    raise exception 'dependency % does not exist', v_bad.id using errcode = '22023';
  end if;
  select d.id into v_bad
  from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
  join taskweave.tasks t on t.id = d.id
  where not t.is_parallel_task
  order by d.ord limit 1;
  if found then
    raise exception 'dependency % is not a parallel task', v_bad.id using errcode = '22023';
  end if;
  select d.id, t.root_task_id into v_bad
  from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
  join taskweave.tasks t on t.id = d.id
  where t.root_task_id <> v_parent.root_task_id
  order by d.ord limit 1;
  if found then
    raise exception 'dependency % belongs to root task %, not to root task %', v_bad.id, v_bad.root_task_id, v_parent.root_task_id
      using errcode = '22023';
  end if;

  select count(*) filter (where not taskweave_private.is_ended(t.status)),
         count(*) filter (where t.status = 'completed')
    into v_open, v_completed
  from taskweave.tasks t where t.id = any (p_dependent_task_ids);

  v_rank := taskweave_private.take_run_slot(v_parent.root_task_id);
  v_outcome := taskweave_private.join_outcome(v_open, v_completed, p_min_completed, v_wait_until);

  if p_min_completed is not null then
    -- a quorum is counted on one row: every completion must see the running total
    v_slots := 1;
  else
    -- enough slots that concurrent workers rarely meet on one counter row (a wait there costs a whole
    -- commit), and about eight dependencies per slot so few completions reach the aggregator row itself
    v_slots := least(128, greatest(1, v_open / 8))::smallint;
  end if;

  insert into taskweave.tasks (id, parent_task_id, root_task_id, title, instructions, input, status, is_parallel_task,
                               dependent_task_ids, min_completed, wait_until, activated_by, join_slots, tool_call_id,
                               depth, max_attempts, claim_rank)
  values (v_id, p_parent_task_id, v_parent.root_task_id, btrim(p_title), p_instructions, '{}'::jsonb,
          case when v_outcome is null then 'queued' when v_completed > 0 then 'pending' else 'cancelled' end::taskweave.task_status,
          true, p_dependent_task_ids, p_min_completed, v_wait_until, v_outcome,
          case when v_outcome is null then v_slots else 0 end, p_tool_call_id, v_parent.depth + 1,
          taskweave_private.setting_int('default_max_attempts', 3), v_rank)
  returning * into v_task;

  if v_open > 0 then
    insert into taskweave_private.aggregator_dependencies (dependency_task_id, aggregator_task_id)
    select t.id, v_id from taskweave.tasks t
     where t.id = any (p_dependent_task_ids) and not taskweave_private.is_ended(t.status);
  end if;

  if v_outcome is null then
    if p_min_completed is not null then
      insert into taskweave_private.aggregator_join_counters (aggregator_task_id, slot, remaining, completed)
      values (v_id, 0, v_open, v_completed);
    else
      insert into taskweave_private.aggregator_join_counters (aggregator_task_id, slot, remaining, completed)
      select v_id, taskweave_private.join_slot(t.id, v_slots), count(*)::integer, 0
        from taskweave.tasks t
       where t.id = any (p_dependent_task_ids) and not taskweave_private.is_ended(t.status)
       group by 2;
      if v_completed > 0 then
        insert into taskweave_private.aggregator_join_counters (aggregator_task_id, slot, remaining, completed)
        values (v_id, -1, 0, v_completed);
      end if;
    end if;
    update taskweave.tasks
       set join_open_slots = (select count(*) from taskweave_private.aggregator_join_counters c
                               where c.aggregator_task_id = v_id and c.remaining > 0)
     where id = v_id
     returning * into v_task;
  elsif v_open > 0 then
    -- a quorum already met at creation: the dependencies still open are not needed
    perform taskweave_private.cancel_unneeded_dependencies(v_task);
  end if;
  return v_task;
end;
$$;
comment on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) is
  'An aggregator over parallel tasks of the same run: queued until the join rule holds (every dependency ended, or '
  'p_min_completed of them completed, or p_wait_seconds passed), then pending, or cancelled when none completed. Rejects '
  '(22023, naming the id) an empty list, null or duplicate ids, unknown ids, tasks that are not parallel tasks, tasks of '
  'another root, and more than taskweave.max_aggregator_dependencies. Idempotent on (parent, tool call id) with the same '
  'arguments (TW006 with others); with p_worker only the holder of the parent''s lease may (TW001).';
revoke all on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) from public, anon, authenticated;
grant execute on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) to service_role;

revoke all on function
  taskweave_private.validate_limits(jsonb),
  taskweave_private.limit_value(jsonb, text, text, integer),
  taskweave_private.run_limit_reached(taskweave.runs, boolean),
  taskweave_private.take_run_slot(uuid),
  taskweave_private.lock_parent(uuid, text),
  taskweave_private.check_new_child(taskweave.tasks),
  taskweave_private.tool_call_reused(uuid, text, uuid),
  taskweave_private.lock_dependencies_for_share(uuid[])
  from public, anon, authenticated;
grant execute on function
  taskweave_private.validate_limits(jsonb),
  taskweave_private.limit_value(jsonb, text, text, integer),
  taskweave_private.run_limit_reached(taskweave.runs, boolean),
  taskweave_private.take_run_slot(uuid),
  taskweave_private.lock_parent(uuid, text),
  taskweave_private.check_new_child(taskweave.tasks),
  taskweave_private.tool_call_reused(uuid, text, uuid),
  taskweave_private.lock_dependencies_for_share(uuid[])
  to service_role;
