-- The SQL API of DESIGN.md section 3 and the triggers behind it. Every state transition lives here.
-- Errors raise with stable SQLSTATEs:
--   22023 invalid argument (the message names the bad value)   P0002 unknown task or review
--   55000 wrong state for this call                             42501 not allowed (not an operator)
--   TW001 the worker does not hold the task's lease (a stale worker)

-- ---------------------------------------------------------------------------------------------
-- settings: custom GUCs, e.g. `alter database postgres set taskweave.max_aggregator_dependencies = 20000`

create function private.setting_int(p_name text, p_default integer)
returns integer
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(current_setting('taskweave.' || p_name, true), '')::integer, p_default)
$$;
comment on function private.setting_int(text, integer) is
  'A Taskweave limit from the GUC taskweave.<name> (set per database or session), else the default. '
  'Names: max_aggregator_dependencies (10000), max_children_per_task (100), max_depth (5), '
  'retry_base_seconds (10), retry_max_seconds (600), default_max_attempts (3).';

create function private.current_actor(p_fallback text default null)
returns text
language plpgsql
stable
-- no SET clause: called on every transition, and a SET clause costs a GUC save/restore per call;
-- it names only schema-qualified objects, so search_path cannot redirect it. plpgsql, not SQL: its
-- plans are cached, and the JWT is parsed only when no worker or operator was recorded.
as $$
declare
  v_actor text := nullif(current_setting('taskweave.actor', true), '');
  v_claims jsonb;
begin
  if v_actor is not null then
    return v_actor;
  end if;
  if p_fallback is not null then
    return p_fallback;
  end if;
  v_claims := auth.jwt();
  return coalesce(v_claims ->> 'email', v_claims ->> 'sub', current_user::text);
end;
$$;
comment on function private.current_actor(text) is
  'Who is acting in this transaction, for task_events: the worker or operator the SQL API recorded, else the JWT email or subject, else the role.';

create function private.set_actor(p_actor text)
returns void
language sql
volatile
-- no SET clause: called on every transition, and a SET clause blocks inlining and costs a GUC
-- save/restore per call; it names only schema-qualified objects, so search_path cannot redirect it
as $$
  select set_config('taskweave.actor', coalesce(p_actor, ''), true)
$$;
comment on function private.set_actor(text) is 'Records the acting worker or operator for the rest of the transaction, so the event trigger can name them.';

create function private.join_slot(p_task_id uuid, p_slots smallint)
returns smallint
language sql
immutable
parallel safe
-- no SET clause: called on every transition, and a SET clause blocks inlining and costs a GUC
-- save/restore per call; it names only schema-qualified objects, so search_path cannot redirect it
as $$
  select (abs(hashtextextended(p_task_id::text, 0)) % greatest(p_slots, 1))::smallint
$$;
comment on function private.join_slot(uuid, smallint) is 'Which counter slot of an aggregator a dependency decrements.';

create function private.require_lease(p_task public.tasks, p_task_id uuid, p_worker text)
returns void
language plpgsql
stable
-- no SET clause: called on every transition, and a SET clause blocks inlining and costs a GUC
-- save/restore per call; it names only schema-qualified objects, so search_path cannot redirect it
as $$
begin
  if p_task.id is null then
    raise exception 'task % not found', p_task_id using errcode = 'P0002';
  end if;
  if p_task.status <> 'running' or p_task.leased_by is distinct from p_worker then
    raise exception 'task % is not leased to worker "%" (status %, leased by %)',
      p_task_id, p_worker, p_task.status, coalesce('"' || p_task.leased_by || '"', 'nobody')
      using errcode = 'TW001',
            hint = 'The lease expired and the task was claimed again, or it already ended; this worker''s result is discarded.';
  end if;
end;
$$;
comment on function private.require_lease(public.tasks, uuid, text) is 'Raises TW001 unless the task is running and leased to this worker.';

create function private.validate_worker(p_worker text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_worker is null or char_length(btrim(p_worker)) = 0 or char_length(p_worker) > 200 then
    raise exception 'p_worker must be a non-empty name of at most 200 characters' using errcode = '22023';
  end if;
end;
$$;
comment on function private.validate_worker(text) is 'Raises 22023 for an empty or overlong worker name.';

create function private.validate_lease_seconds(p_lease_seconds integer)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 86400 then
    raise exception 'p_lease_seconds must be between 1 and 86400 (got %)', coalesce(p_lease_seconds::text, 'null')
      using errcode = '22023';
  end if;
end;
$$;
comment on function private.validate_lease_seconds(integer) is 'Raises 22023 for a lease outside 1..86400 seconds.';

create function private.validate_new_task(p_title text, p_instructions text, p_input jsonb)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_title is null or char_length(btrim(p_title)) = 0 then
    raise exception 'p_title must not be empty' using errcode = '22023';
  end if;
  if char_length(p_title) > 500 then
    raise exception 'p_title must be at most 500 characters (got %)', char_length(p_title) using errcode = '22023';
  end if;
  if p_instructions is null then
    raise exception 'p_instructions must not be null' using errcode = '22023';
  end if;
  if char_length(p_instructions) > 200000 then
    raise exception 'p_instructions must be at most 200000 characters (got %)', char_length(p_instructions) using errcode = '22023';
  end if;
  if p_input is null or jsonb_typeof(p_input) <> 'object' then
    raise exception 'p_input must be a JSON object (got %)', coalesce(jsonb_typeof(p_input), 'null') using errcode = '22023';
  end if;
end;
$$;
comment on function private.validate_new_task(text, text, jsonb) is 'Raises 22023 with the reason when a new task''s title, instructions or input is unacceptable.';

-- ---------------------------------------------------------------------------------------------
-- creating tasks

create function public.create_task(p_title text, p_instructions text, p_input jsonb default '{}'::jsonb)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_id uuid := gen_random_uuid();
  v_task public.tasks;
begin
  perform private.validate_new_task(p_title, p_instructions, p_input);
  insert into public.tasks (id, root_task_id, title, instructions, input, status, max_attempts)
  values (v_id, v_id, btrim(p_title), p_instructions, p_input, 'pending', private.setting_int('default_max_attempts', 3))
  returning * into v_task;
  return v_task;
end;
$$;
comment on function public.create_task(text, text, jsonb) is 'A new root task, pending. Raises 22023 for an empty title or a non-object input.';

create function private.lock_parent_for_children(p_parent_task_id uuid)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_parent public.tasks;
begin
  if p_parent_task_id is null then
    raise exception 'p_parent_task_id must not be null' using errcode = '22023';
  end if;
  -- the parent row lock serialises its children's creation, so the limits hold under concurrency
  select * into v_parent from public.tasks where id = p_parent_task_id for no key update;
  if not found then
    raise exception 'parent task % not found', p_parent_task_id using errcode = 'P0002';
  end if;
  if v_parent.status in ('completed', 'failed', 'cancelled') then
    raise exception 'parent task % has already ended (status %); it cannot start new tasks', p_parent_task_id, v_parent.status
      using errcode = '55000';
  end if;
  if v_parent.depth + 1 > private.setting_int('max_depth', 5) then
    raise exception 'nesting too deep: task % is at depth %, and tasks may nest at most % levels', p_parent_task_id, v_parent.depth,
      private.setting_int('max_depth', 5)
      using errcode = '22023';
  end if;
  if (select count(*) from public.tasks c where c.parent_task_id = p_parent_task_id) >= private.setting_int('max_children_per_task', 100) then
    raise exception 'task % already has % child tasks, the most one task may create', p_parent_task_id,
      private.setting_int('max_children_per_task', 100)
      using errcode = '22023';
  end if;
  return v_parent;
end;
$$;
comment on function private.lock_parent_for_children(uuid) is
  'Locks a parent about to get a child and checks it exists, has not ended, and is within the depth and children limits.';

create function public.create_parallel_task(
  p_parent_task_id uuid,
  p_title text,
  p_instructions text,
  p_input jsonb default '{}'::jsonb,
  p_tool_call_id text default null
)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_parent public.tasks;
  v_task public.tasks;
begin
  if p_tool_call_id is not null then
    select * into v_task from public.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      if cardinality(v_task.dependent_task_ids) > 0 then
        raise exception 'tool call % of task % already created aggregator %, not a parallel task', p_tool_call_id, p_parent_task_id, v_task.id
          using errcode = '55000';
      end if;
      return v_task;
    end if;
  end if;
  perform private.validate_new_task(p_title, p_instructions, p_input);
  v_parent := private.lock_parent_for_children(p_parent_task_id);
  if p_tool_call_id is not null then
    -- a concurrent call with the same tool call id may have won while we waited for the parent lock
    select * into v_task from public.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      return v_task;
    end if;
  end if;
  insert into public.tasks (parent_task_id, root_task_id, title, instructions, input, status, is_parallel_task,
                            tool_call_id, depth, max_attempts)
  values (p_parent_task_id, v_parent.root_task_id, btrim(p_title), p_instructions, p_input, 'pending', true,
          p_tool_call_id, v_parent.depth + 1, private.setting_int('default_max_attempts', 3))
  returning * into v_task;
  return v_task;
end;
$$;
comment on function public.create_parallel_task(uuid, text, text, jsonb, text) is
  'A pending parallel child of the parent, in the same root. The same (parent, tool call id) returns the existing task, '
  'so a repeated LLM step never duplicates a child.';

create function public.create_aggregator_task(
  p_parent_task_id uuid,
  p_dependent_task_ids uuid[],
  p_title text,
  p_instructions text,
  p_tool_call_id text default null
)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_parent public.tasks;
  v_task public.tasks;
  v_max integer := private.setting_int('max_aggregator_dependencies', 10000);
  v_count integer;
  v_bad record;
  v_open integer;
  v_completed integer;
  v_slots smallint;
  v_id uuid := gen_random_uuid();
begin
  if p_tool_call_id is not null then
    select * into v_task from public.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      if v_task.dependent_task_ids is distinct from p_dependent_task_ids then
        raise exception 'tool call % of task % already created task % with other dependencies', p_tool_call_id, p_parent_task_id, v_task.id
          using errcode = '55000';
      end if;
      return v_task;
    end if;
  end if;

  perform private.validate_new_task(p_title, p_instructions, '{}'::jsonb);
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

  v_parent := private.lock_parent_for_children(p_parent_task_id);
  if p_tool_call_id is not null then
    select * into v_task from public.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      return v_task;
    end if;
  end if;

  -- Lock the dependencies so none ends unseen while the aggregator is made: an ending that committed
  -- before this lock is counted here; one that commits after finds the aggregator through the trigger.
  perform 1 from public.tasks t where t.id = any (p_dependent_task_ids) order by t.id for share;

  select d.id into v_bad
  from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
  left join public.tasks t on t.id = d.id
  where t.id is null
  order by d.ord limit 1;
  if found then
    raise exception 'dependency % does not exist', v_bad.id using errcode = '22023';
  end if;
  select d.id into v_bad
  from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
  join public.tasks t on t.id = d.id
  where not t.is_parallel_task
  order by d.ord limit 1;
  if found then
    raise exception 'dependency % is not a parallel task', v_bad.id using errcode = '22023';
  end if;
  select d.id, t.root_task_id into v_bad
  from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
  join public.tasks t on t.id = d.id
  where t.root_task_id <> v_parent.root_task_id
  order by d.ord limit 1;
  if found then
    raise exception 'dependency % belongs to root task %, not to root task %', v_bad.id, v_bad.root_task_id, v_parent.root_task_id
      using errcode = '22023';
  end if;

  select count(*) filter (where t.status not in ('completed', 'cancelled')),
         count(*) filter (where t.status = 'completed')
    into v_open, v_completed
  from public.tasks t where t.id = any (p_dependent_task_ids);

  -- Enough slots that concurrent workers rarely meet on one counter row (a wait there costs a whole
  -- commit), and about eight dependencies per slot so few completions reach the aggregator row itself.
  v_slots := least(128, greatest(1, v_open / 8))::smallint;

  insert into public.tasks (id, parent_task_id, root_task_id, title, instructions, input, status, is_parallel_task,
                            dependent_task_ids, join_slots, tool_call_id, depth, max_attempts)
  values (v_id, p_parent_task_id, v_parent.root_task_id, btrim(p_title), p_instructions, '{}'::jsonb,
          case when v_open > 0 then 'queued' when v_completed > 0 then 'pending' else 'cancelled' end,
          true, p_dependent_task_ids, case when v_open > 0 then v_slots else 0 end, p_tool_call_id, v_parent.depth + 1,
          private.setting_int('default_max_attempts', 3))
  returning * into v_task;

  if v_open > 0 then
    insert into private.aggregator_join_counters (aggregator_task_id, slot, remaining, completed)
    select v_id, private.join_slot(t.id, v_slots), count(*)::integer, 0
      from public.tasks t
     where t.id = any (p_dependent_task_ids) and t.status not in ('completed', 'cancelled')
     group by 2;
    insert into private.aggregator_dependencies (dependency_task_id, aggregator_task_id)
    select t.id, v_id from public.tasks t
     where t.id = any (p_dependent_task_ids) and t.status not in ('completed', 'cancelled');
    if v_completed > 0 then
      insert into private.aggregator_join_counters (aggregator_task_id, slot, remaining, completed)
      values (v_id, -1, 0, v_completed);
    end if;
    update public.tasks
       set join_open_slots = (select count(*) from private.aggregator_join_counters c where c.aggregator_task_id = v_id and c.remaining > 0)
     where id = v_id
     returning * into v_task;
  elsif v_completed = 0 then
    update public.tasks set completed_at = now() where id = v_id returning * into v_task;
  end if;
  return v_task;
end;
$$;
comment on function public.create_aggregator_task(uuid, uuid[], text, text, text) is
  'An aggregator over parallel tasks of the same root: queued until every dependency has ended (completed or cancelled), '
  'pending at once when all have already ended, cancelled at once when all were cancelled. Rejects (22023, naming the id) '
  'an empty list, null or duplicate ids, unknown ids, tasks that are not parallel tasks, tasks of another root, and more than '
  'taskweave.max_aggregator_dependencies (10000). Idempotent on (parent, tool call id).';

-- ---------------------------------------------------------------------------------------------
-- leases

create function private.escalate_failure(p_task public.tasks, p_error jsonb)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task public.tasks;
begin
  if p_task.is_parallel_task then
    update public.tasks
       set status = 'needs_human_review', leased_by = null, lease_expires_at = null, last_error = p_error, updated_at = now()
     where id = p_task.id
     returning * into v_task;
    insert into public.human_reviews (task_id, error) values (p_task.id, p_error);
  else
    update public.tasks
       set status = 'failed', leased_by = null, lease_expires_at = null, last_error = p_error, updated_at = now(), completed_at = now()
     where id = p_task.id
     returning * into v_task;
  end if;
  return v_task;
end;
$$;
comment on function private.escalate_failure(public.tasks, jsonb) is
  'A task that cannot be retried: a parallel task stops in needs_human_review with one open review holding the error; any other task fails.';

create function private.claim_locked(p_task public.tasks, p_worker text, p_lease_seconds integer)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task public.tasks;
begin
  if p_task.status = 'running' and p_task.attempt >= p_task.max_attempts then
    -- the previous holder died on the last attempt: that counts as a failure, not a free extra try
    perform private.escalate_failure(p_task, jsonb_build_object(
      'category', 'timeout',
      'message', format('worker "%s" stopped renewing its lease on attempt %s of %s', p_task.leased_by, p_task.attempt, p_task.max_attempts),
      'at', now()));
    return null;
  end if;
  update public.tasks
     set status = 'running', attempt = attempt + 1, leased_by = p_worker,
         lease_expires_at = now() + make_interval(secs => p_lease_seconds),
         started_at = coalesce(started_at, now()), updated_at = now()
   where id = p_task.id
   returning * into v_task;
  return v_task;
end;
$$;
comment on function private.claim_locked(public.tasks, text, integer) is
  'Leases a locked, claimable task to the worker (attempt + 1); a task whose holder died on its last attempt is escalated instead.';

create function public.claim_tasks(p_worker text, p_limit integer default 1, p_lease_seconds integer default 300)
returns setof public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row public.tasks;
  v_claimed public.tasks;
  v_left integer := p_limit;
begin
  perform private.validate_worker(p_worker);
  perform private.validate_lease_seconds(p_lease_seconds);
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    raise exception 'p_limit must be between 1 and 1000 (got %)', coalesce(p_limit::text, 'null') using errcode = '22023';
  end if;
  perform private.set_actor(p_worker);

  -- tasks whose worker died first: they have waited longest
  for v_row in
    select * from public.tasks
     where status = 'running' and lease_expires_at <= now()
     order by lease_expires_at
     limit v_left
     for update skip locked
  loop
    v_claimed := private.claim_locked(v_row, p_worker, p_lease_seconds);
    if v_claimed.id is not null then
      v_left := v_left - 1;
      return next v_claimed;
    end if;
  end loop;

  if v_left > 0 then
    for v_row in
      select * from public.tasks
       where status = 'pending' and run_after <= now()
       order by run_after, created_at
       limit v_left
       for update skip locked
    loop
      return next private.claim_locked(v_row, p_worker, p_lease_seconds);
    end loop;
  end if;
  return;
end;
$$;
comment on function public.claim_tasks(text, integer, integer) is
  'Leases up to p_limit tasks to the worker: running tasks whose lease expired, then due pending tasks oldest first; '
  'FOR UPDATE SKIP LOCKED, so concurrent workers never get the same task. Attempt + 1 each.';

create function public.claim_task(p_task_id uuid, p_worker text, p_lease_seconds integer default 300)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row public.tasks;
  v_claimed public.tasks;
begin
  perform private.validate_worker(p_worker);
  perform private.validate_lease_seconds(p_lease_seconds);
  perform private.set_actor(p_worker);
  select * into v_row from public.tasks where id = p_task_id for update skip locked;
  if not found then
    if exists (select 1 from public.tasks where id = p_task_id) then
      raise exception 'task % is being claimed by another worker', p_task_id using errcode = '55000';
    end if;
    raise exception 'task % not found', p_task_id using errcode = 'P0002';
  end if;
  if not ((v_row.status = 'pending' and v_row.run_after <= now())
          or (v_row.status = 'running' and v_row.lease_expires_at <= now())) then
    raise exception 'task % is not claimable (status %)', p_task_id,
      v_row.status || case
        when v_row.status = 'pending' then ', due at ' || v_row.run_after::text
        when v_row.status = 'running' then ', leased to "' || v_row.leased_by || '" until ' || v_row.lease_expires_at::text
        else '' end
      using errcode = '55000';
  end if;
  v_claimed := private.claim_locked(v_row, p_worker, p_lease_seconds);
  if v_claimed.id is null then
    raise exception 'task % ran out of attempts when its last worker stopped; it was escalated', p_task_id using errcode = '55000';
  end if;
  return v_claimed;
end;
$$;
comment on function public.claim_task(uuid, text, integer) is
  'Leases one given task to the worker if it is claimable now (pending and due, or running with an expired lease); '
  'raises 55000 otherwise and P0002 for an unknown id. Used by process-task''s {"task_id"} mode.';

create function public.heartbeat_task(p_task_id uuid, p_worker text, p_lease_seconds integer default 300)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task public.tasks;
begin
  perform private.validate_lease_seconds(p_lease_seconds);
  select * into v_task from public.tasks where id = p_task_id for no key update;
  perform private.require_lease(v_task, p_task_id, p_worker);
  update public.tasks set lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
   where id = p_task_id returning * into v_task;
  return v_task;
end;
$$;
comment on function public.heartbeat_task(uuid, text, integer) is
  'Extends the lease of a running task the worker holds; raises TW001 for a worker that no longer holds it.';

create function public.complete_task(p_task_id uuid, p_worker text, p_output jsonb)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task public.tasks;
begin
  if p_output is null then
    raise exception 'p_output must not be null' using errcode = '22023';
  end if;
  select * into v_task from public.tasks where id = p_task_id for no key update;
  perform private.require_lease(v_task, p_task_id, p_worker);
  perform private.set_actor(p_worker);
  update public.tasks
     set status = 'completed', output = p_output, leased_by = null, lease_expires_at = null,
         completed_at = now(), updated_at = now()
   where id = p_task_id
   returning * into v_task;
  return v_task;
end;
$$;
comment on function public.complete_task(uuid, text, jsonb) is
  'Completes a running task with its output. Only the worker holding the lease may; a stale worker gets TW001 and changes nothing.';

create function public.fail_task(p_task_id uuid, p_worker text, p_error jsonb, p_retryable boolean default true)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task public.tasks;
  v_delay integer;
begin
  if p_error is null or jsonb_typeof(p_error) <> 'object' then
    raise exception 'p_error must be a JSON object such as {"category": "model", "message": "..."} (got %)',
      coalesce(jsonb_typeof(p_error), 'null') using errcode = '22023';
  end if;
  if p_retryable is null then
    raise exception 'p_retryable must not be null' using errcode = '22023';
  end if;
  select * into v_task from public.tasks where id = p_task_id for no key update;
  perform private.require_lease(v_task, p_task_id, p_worker);
  perform private.set_actor(p_worker);
  if p_retryable and v_task.attempt < v_task.max_attempts then
    v_delay := least(
      private.setting_int('retry_max_seconds', 600),
      private.setting_int('retry_base_seconds', 10) * power(2, greatest(v_task.attempt - 1, 0))::integer);
    update public.tasks
       set status = 'pending', leased_by = null, lease_expires_at = null, last_error = p_error,
           run_after = now() + make_interval(secs => v_delay), updated_at = now()
     where id = p_task_id
     returning * into v_task;
    return v_task;
  end if;
  return private.escalate_failure(v_task, p_error || jsonb_build_object('attempt', v_task.attempt, 'max_attempts', v_task.max_attempts));
end;
$$;
comment on function public.fail_task(uuid, text, jsonb, boolean) is
  'Records a failed attempt. Retryable with attempts left: back to pending after exponential backoff '
  '(taskweave.retry_base_seconds * 2^(attempt-1), at most taskweave.retry_max_seconds). Otherwise a parallel task '
  'goes to needs_human_review with one open review holding the error, and any other task to failed.';

create function public.release_task(p_task_id uuid, p_worker text, p_delay_seconds integer default 0)
returns public.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task public.tasks;
begin
  if p_delay_seconds is null or p_delay_seconds < 0 or p_delay_seconds > 86400 then
    raise exception 'p_delay_seconds must be between 0 and 86400 (got %)', coalesce(p_delay_seconds::text, 'null') using errcode = '22023';
  end if;
  select * into v_task from public.tasks where id = p_task_id for no key update;
  perform private.require_lease(v_task, p_task_id, p_worker);
  perform private.set_actor(p_worker);
  update public.tasks
     set status = 'pending', leased_by = null, lease_expires_at = null, attempt = greatest(attempt - 1, 0),
         run_after = now() + make_interval(secs => p_delay_seconds), updated_at = now()
   where id = p_task_id
   returning * into v_task;
  return v_task;
end;
$$;
comment on function public.release_task(uuid, text, integer) is
  'Hands a running task back (pending, due after p_delay_seconds) without using up an attempt: a worker that ran out of '
  'wall-clock budget saved its transcript and lets the next invocation continue.';

create function public.append_task_message(p_task_id uuid, p_worker text, p_role text, p_content jsonb)
returns public.task_messages
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task public.tasks;
  v_message public.task_messages;
begin
  if p_role is null or p_role not in ('system', 'user', 'assistant', 'tool') then
    raise exception 'p_role must be system, user, assistant or tool (got %)', coalesce(p_role, 'null') using errcode = '22023';
  end if;
  if p_content is null then
    raise exception 'p_content must not be null' using errcode = '22023';
  end if;
  -- the task row lock orders the messages of one task
  select * into v_task from public.tasks where id = p_task_id for no key update;
  perform private.require_lease(v_task, p_task_id, p_worker);
  insert into public.task_messages (task_id, seq, role, content)
  values (p_task_id, coalesce((select max(m.seq) from public.task_messages m where m.task_id = p_task_id), 0) + 1, p_role, p_content)
  returning * into v_message;
  return v_message;
end;
$$;
comment on function public.append_task_message(uuid, text, text, jsonb) is
  'Appends one message to a running task''s transcript (the lease holder only), numbered in order.';

create function public.get_dependency_results(p_task_id uuid)
returns setof public.tasks
language sql
stable
set search_path = ''
as $$
  select t.*
  from public.tasks a
  cross join lateral unnest(a.dependent_task_ids) with ordinality as d(id, ord)
  join public.tasks t on t.id = d.id
  where a.id = p_task_id
  order by d.ord
$$;
comment on function public.get_dependency_results(uuid) is
  'An aggregator''s dependencies in the order it listed them, with status and output, for its LLM context.';

-- ---------------------------------------------------------------------------------------------
-- operators

create function public.resolve_review(
  p_review_id uuid,
  p_action text,
  p_manual_output jsonb default null,
  p_note text default null
)
returns public.human_reviews
language plpgsql
volatile
-- security definer: operators (role authenticated) have no write rights on the tables; this function is
-- the one door, and it checks the operator itself before changing anything.
security definer
set search_path = ''
as $$
declare
  v_review public.human_reviews;
  v_task public.tasks;
  v_who text := coalesce((select auth.jwt()) ->> 'email', (select auth.jwt()) ->> 'sub', private.caller_role());
begin
  if not private.is_operator() then
    raise exception 'only operators may resolve reviews' using errcode = '42501',
      hint = 'An operator has app_metadata.role = "operator" in their JWT.';
  end if;
  if p_action is null or p_action not in ('retry', 'abort', 'manual') then
    raise exception 'p_action must be retry, abort or manual (got %)', coalesce(p_action, 'null') using errcode = '22023';
  end if;
  if p_action = 'manual' and p_manual_output is null then
    raise exception 'a manual resolution needs p_manual_output' using errcode = '22023';
  end if;
  if p_action <> 'manual' and p_manual_output is not null then
    raise exception 'p_manual_output is only for a manual resolution (action was %)', p_action using errcode = '22023';
  end if;
  if char_length(p_note) > 10000 then
    raise exception 'p_note must be at most 10000 characters' using errcode = '22023';
  end if;

  -- two operators clicking at once: the second waits here, then sees the first one's resolution
  select * into v_review from public.human_reviews where id = p_review_id for update;
  if not found then
    raise exception 'review % not found', p_review_id using errcode = 'P0002';
  end if;
  if v_review.status = 'resolved' then
    raise exception 'review % is already resolved (% by % at %)', p_review_id, v_review.action, v_review.resolved_by,
      to_char(v_review.resolved_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')
      using errcode = '55000';
  end if;
  select * into v_task from public.tasks where id = v_review.task_id for no key update;
  if v_task.status <> 'needs_human_review' then
    raise exception 'task % is % and no longer waits for a review', v_task.id, v_task.status using errcode = '55000';
  end if;

  perform private.set_actor(v_who);
  update public.human_reviews
     set status = 'resolved', action = p_action, manual_output = p_manual_output, note = p_note,
         resolved_by = v_who, resolved_at = now()
   where id = p_review_id
   returning * into v_review;

  if p_action = 'retry' then
    update public.tasks
       set status = 'pending', attempt = 0, run_after = now(), updated_at = now()
     where id = v_task.id;
  elsif p_action = 'abort' then
    update public.tasks
       set status = 'cancelled', completed_at = now(), updated_at = now()
     where id = v_task.id;
  else
    update public.tasks
       set status = 'completed', completed_at = now(), updated_at = now(),
           output = jsonb_build_object('source', 'manual', 'value', p_manual_output, 'resolved_by', v_who,
                                       'resolved_at', now(), 'review_id', p_review_id)
     where id = v_task.id;
  end if;
  return v_review;
end;
$$;
comment on function public.resolve_review(uuid, text, jsonb, text) is
  'An operator''s decision on an open review: retry (task pending, attempts renewed), abort (task cancelled) or manual '
  '(task completed with {"source": "manual", "value": ...}). Records who and when. Operators and service_role only (42501); '
  'a review resolves once: a second call, even a simultaneous one, raises 55000 naming who resolved it.';

-- ---------------------------------------------------------------------------------------------
-- triggers

create function public.check_aggregator_dependencies()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_agg record;
  v_remaining integer;
  v_open_slots integer;
  v_total_completed bigint;
begin
  -- aggregators that wait for this task (primary key lookup); usually exactly one. In id order: two
  -- completions that both feed the same two aggregators must lock their rows in the same order, or
  -- each could hold a counter row the other needs next (a deadlock)
  for v_agg in
    select a.id, a.join_slots
      from private.aggregator_dependencies d
      join public.tasks a on a.id = d.aggregator_task_id
     where d.dependency_task_id = new.id and a.status = 'queued'
     order by d.aggregator_task_id
  loop
    update private.aggregator_join_counters
       set remaining = remaining - 1,
           completed = completed + (new.status = 'completed')::integer
     where aggregator_task_id = v_agg.id and slot = private.join_slot(new.id, v_agg.join_slots)
     returning remaining into v_remaining;

    if v_remaining = 0 then
      -- This slot is done: count it off on the aggregator row. The row lock orders these last steps, so
      -- exactly one transaction takes join_open_slots to zero, whatever order the commits come in.
      update public.tasks set join_open_slots = join_open_slots - 1
       where id = v_agg.id and status = 'queued'
       returning join_open_slots into v_open_slots;
      if v_open_slots = 0 then
        -- every other slot's last decrement committed before our update got the row: their counts are visible
        select sum(c.completed) into v_total_completed
          from private.aggregator_join_counters c where c.aggregator_task_id = v_agg.id;
        update public.tasks
           set status = case when v_total_completed > 0 then 'pending' else 'cancelled' end,
               run_after = now(), updated_at = now(),
               completed_at = case when v_total_completed > 0 then null else now() end
         where id = v_agg.id;
      end if;
    end if;
  end loop;
  return null;
end;
$$;
comment on function public.check_aggregator_dependencies() is
  'Fan-in: when a parallel task ends (completed or cancelled), counts it down on each aggregator waiting for it and activates '
  'the aggregator (pending, or cancelled when no dependency completed) when the last one ends. O(1) per ending dependency: '
  'one primary-key lookup and one sharded counter row (the aggregator row only when a slot empties); exactly one activation even '
  'when dependencies end in concurrent transactions. '
  'A dependency in needs_human_review does not count as ended, so it holds the aggregator.';

create trigger tasks_check_aggregator_dependencies
  after update of status on public.tasks
  for each row
  when (new.status in ('completed', 'cancelled') and old.status is distinct from new.status and new.is_parallel_task)
  execute function public.check_aggregator_dependencies();

create function private.record_task_transition()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_detail jsonb := jsonb_build_object('attempt', new.attempt);
begin
  -- every status change passes here, so it builds only what this change needs
  if new.leased_by is not null then
    v_detail := v_detail || jsonb_build_object('leased_by', new.leased_by);
  end if;
  if tg_op = 'INSERT' then
    if new.parent_task_id is not null then
      v_detail := v_detail || jsonb_build_object('parent_task_id', new.parent_task_id);
    end if;
    if cardinality(new.dependent_task_ids) > 0 then
      v_detail := v_detail || jsonb_build_object('dependent_task_count', cardinality(new.dependent_task_ids));
    end if;
  else
    if new.last_error is distinct from old.last_error then
      v_detail := v_detail || jsonb_build_object('error', new.last_error);
    end if;
    if new.status = 'pending' and new.run_after > now() then
      v_detail := v_detail || jsonb_build_object('run_after', new.run_after);
    end if;
  end if;
  insert into public.task_events (task_id, event, from_status, to_status, actor, detail)
  values (
    new.id,
    case when tg_op = 'INSERT' then 'created' else 'status_changed' end,
    case when tg_op = 'INSERT' then null else old.status end,
    new.status,
    private.current_actor(),
    v_detail
  );
  -- ids are uuids and statuses come from a fixed list, so the payload needs no JSON escaping
  perform pg_notify('task_changed', format('{"id":"%s","root_task_id":"%s","parent_task_id":%s,"status":"%s","old_status":%s}',
    new.id, new.root_task_id, coalesce('"' || new.parent_task_id || '"', 'null'), new.status,
    case when tg_op = 'UPDATE' then '"' || old.status || '"' else 'null' end));
  if new.status = 'pending' then
    perform pg_notify('task_ready', new.id::text);
  end if;
  return null;
end;
$$;
comment on function private.record_task_transition() is
  'After a task is created or changes status: appends a task_events row (with the actor), notifies task_changed, '
  'and notifies task_ready when it became pending.';

create trigger tasks_record_created
  after insert on public.tasks
  for each row execute function private.record_task_transition();

create trigger tasks_record_status_change
  after update of status on public.tasks
  for each row
  when (old.status is distinct from new.status)
  execute function private.record_task_transition();

create function private.notify_review_changed()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_notify('review_changed', json_build_object(
    'id', new.id, 'task_id', new.task_id, 'status', new.status, 'action', new.action, 'resolved_by', new.resolved_by)::text);
  return null;
end;
$$;
comment on function private.notify_review_changed() is 'Notifies review_changed when a review opens or resolves, for live operator views.';

create trigger human_reviews_notify
  after insert or update of status on public.human_reviews
  for each row execute function private.notify_review_changed();

-- ---------------------------------------------------------------------------------------------
-- execute rights: nothing for anon; workers (service_role) run the task API; operators resolve reviews

revoke all on all functions in schema public from public, anon, authenticated;
revoke all on all functions in schema private from public, anon, authenticated;
grant execute on function
  public.create_task(text, text, jsonb),
  public.create_parallel_task(uuid, text, text, jsonb, text),
  public.create_aggregator_task(uuid, uuid[], text, text, text),
  public.claim_tasks(text, integer, integer),
  public.claim_task(uuid, text, integer),
  public.heartbeat_task(uuid, text, integer),
  public.complete_task(uuid, text, jsonb),
  public.fail_task(uuid, text, jsonb, boolean),
  public.release_task(uuid, text, integer),
  public.append_task_message(uuid, text, text, jsonb),
  public.get_dependency_results(uuid),
  public.resolve_review(uuid, text, jsonb, text)
  to service_role;
grant execute on function public.resolve_review(uuid, text, jsonb, text) to authenticated;
grant execute on function private.is_operator(), private.caller_role() to authenticated, service_role;
grant execute on all functions in schema private to service_role;
