-- Taskweave 0.2.0 baseline, part 2: the state machine, written once.
--
-- One guard trigger (taskweave_private.guard_task_transition, BEFORE INSERT OR UPDATE OF status) is the
-- single place that enforces DESIGN section 2's allowed moves and writes a move's bookkeeping: the lease
-- is cleared when a task leaves running, started_at is set on the first claim, completed_at when it
-- ends, updated_at on every move. We chose a trigger over a helper every function must call because a
-- trigger cannot be forgotten: a new API function that sets a status is checked the same way.
-- The due condition (taskweave_private.is_due) and the join rule (taskweave_private.join_outcome, in the
-- fan-in migration) are each written once too.
--
-- Errors raise with stable SQLSTATEs:
--   22023 invalid argument (the message names the bad value)   P0002 unknown task or review
--   42501 not allowed (not an operator)                         55000 wrong state for this call
--   TW001 the worker does not hold the task's lease              TW002 the review is already resolved
--   TW003 the task no longer waits for a review                  TW004 a run limit is reached
--   TW005 the running cap is reached                             TW006 a tool call id reused with other arguments

create function taskweave_private.next_statuses(p_from taskweave.task_status)
returns taskweave.task_status[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case p_from
    when 'pending' then array['running', 'cancelled']::taskweave.task_status[]
    when 'queued' then array['pending', 'cancelled']::taskweave.task_status[]
    when 'running' then array['completed', 'pending', 'needs_human_review', 'failed', 'cancelled']::taskweave.task_status[]
    when 'needs_human_review' then array['pending', 'cancelled', 'completed']::taskweave.task_status[]
    else array[]::taskweave.task_status[]
  end
$$;
comment on function taskweave_private.next_statuses(taskweave.task_status) is
  'The statuses a task may move to from p_from (DESIGN.md section 2). completed, failed and cancelled are terminal.';

create function taskweave_private.is_ended(p_status taskweave.task_status)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select p_status in ('completed', 'failed', 'cancelled')
$$;
comment on function taskweave_private.is_ended(taskweave.task_status) is 'Whether a status is terminal.';

create function taskweave_private.guard_task_transition()
returns trigger
language plpgsql
-- no SET clause: runs on every transition, and a SET clause costs a GUC save/restore per call; it names
-- only schema-qualified objects, so search_path cannot redirect it
as $$
begin
  if tg_op = 'INSERT' then
    -- a task is born pending, queued (an aggregator waiting) or, for an aggregator whose dependencies
    -- already ended, activated or cancelled at once
    if new.status not in ('pending', 'queued', 'cancelled') then
      raise exception 'a new task cannot start in status %', new.status using errcode = '55000';
    end if;
  elsif new.status = old.status then
    return new;
  elsif not (new.status = any (taskweave_private.next_statuses(old.status))) then
    raise exception 'task % cannot move from % to %', old.id, old.status, new.status
      using errcode = '55000',
            hint = 'Allowed from ' || old.status || ': ' || coalesce(array_to_string(taskweave_private.next_statuses(old.status), ', '), 'nothing (terminal)');
  end if;

  new.updated_at := now();
  if new.status <> 'running' then
    new.leased_by := null;
    new.lease_expires_at := null;
  else
    new.started_at := coalesce(new.started_at, now());
  end if;
  if new.status in ('completed', 'failed', 'cancelled') then
    new.completed_at := now();
    new.model_wait_until := null;
  else
    new.completed_at := null;
  end if;
  return new;
end;
$$;
comment on function taskweave_private.guard_task_transition() is
  'The one enforcement point of the state machine: rejects a move not in next_statuses() (55000) and writes the move''s '
  'bookkeeping (lease cleared off running, started_at, completed_at, updated_at).';

create trigger tasks_guard_transition
  before insert or update of status on taskweave.tasks
  for each row execute function taskweave_private.guard_task_transition();

create function taskweave_private.is_due(p_status taskweave.task_status, p_run_after timestamptz, p_lease_expires_at timestamptz)
returns boolean
language sql
stable
-- no SET clause, so the planner can inline it into the claim queries
as $$
  select (p_status = 'pending' and p_run_after <= now())
      or (p_status = 'running' and p_lease_expires_at <= now())
$$;
comment on function taskweave_private.is_due(taskweave.task_status, timestamptz, timestamptz) is
  'The due condition, written once: a pending task whose run_after has come, or a running task whose lease expired. '
  'Used by claim_tasks, claim_task, the dispatchers and the hosted sweep.';

-- ---------------------------------------------------------------------------------------------
-- who acts: recorded per transaction so the event trigger can name them

create function taskweave_private.current_actor(p_fallback text default null)
returns text
language plpgsql
stable
-- no SET clause: called on every transition; it names only schema-qualified objects
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
  return coalesce(v_claims ->> 'email', v_claims ->> 'sub', taskweave_private.caller_role());
end;
$$;
comment on function taskweave_private.current_actor(text) is
  'Who is acting in this transaction, for task_events: the worker or operator the SQL API recorded, else the JWT email or subject, else the role.';

create function taskweave_private.set_actor(p_actor text)
returns void
language sql
volatile
-- no SET clause: called on every transition; it names only schema-qualified objects
as $$
  select set_config('taskweave.actor', coalesce(p_actor, ''), true)
$$;
comment on function taskweave_private.set_actor(text) is 'Records the acting worker or operator for the rest of the transaction, so the event trigger can name them.';

-- ---------------------------------------------------------------------------------------------
-- checks shared by the API

create function taskweave_private.require_lease(p_task taskweave.tasks, p_task_id uuid, p_worker text)
returns void
language plpgsql
stable
-- no SET clause: called on every worker call; it names only schema-qualified objects
as $$
begin
  if p_task.id is null then
    raise exception 'task % not found', p_task_id using errcode = 'P0002';
  end if;
  if p_task.status <> 'running' or p_task.leased_by is distinct from p_worker then
    raise exception 'task % is not leased to worker "%" (status %, leased by %)',
      p_task_id, p_worker, p_task.status, coalesce('"' || p_task.leased_by || '"', 'nobody')
      using errcode = 'TW001',
            hint = case when p_task.status = 'cancelled' then 'The task was cancelled: ' || coalesce(p_task.cancel_reason, 'no reason given') || '.'
                        else 'The lease expired and the task was claimed again, or it already ended; this worker''s result is discarded.' end;
  end if;
end;
$$;
comment on function taskweave_private.require_lease(taskweave.tasks, uuid, text) is 'Raises TW001 unless the task is running and leased to this worker.';

create function taskweave_private.validate_worker(p_worker text)
returns void
language plpgsql
immutable
-- no SET clause: called on every claim; it names no object but built-ins (as pg_catalog.*)
as $$
begin
  if p_worker is null or pg_catalog.char_length(pg_catalog.btrim(p_worker)) = 0 or pg_catalog.char_length(p_worker) > 200 then
    raise exception 'p_worker must be a non-empty name of at most 200 characters' using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.validate_worker(text) is 'Raises 22023 for an empty or overlong worker name.';

create function taskweave_private.validate_seconds(p_name text, p_value integer, p_min integer, p_max integer)
returns void
language plpgsql
immutable
-- no SET clause: called on every claim; it names no object but built-ins (as pg_catalog.*)
as $$
begin
  if p_value is null or p_value < p_min or p_value > p_max then
    raise exception '% must be between % and % (got %)', p_name, p_min, p_max, coalesce(p_value::pg_catalog.text, 'null')
      using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.validate_seconds(text, integer, integer, integer) is 'Raises 22023 naming the argument when an integer is null or out of range.';

create function taskweave_private.validate_new_task(p_title text, p_instructions text, p_input jsonb)
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
comment on function taskweave_private.validate_new_task(text, text, jsonb) is 'Raises 22023 with the reason when a new task''s title, instructions or input is unacceptable.';

create function taskweave_private.escalate_failure(p_task taskweave.tasks, p_error jsonb)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
begin
  if p_task.is_parallel_task then
    update taskweave.tasks set status = 'needs_human_review', last_error = p_error
     where id = p_task.id
     returning * into v_task;
    insert into taskweave.human_reviews (task_id, error) values (p_task.id, p_error);
  else
    update taskweave.tasks set status = 'failed', last_error = p_error
     where id = p_task.id
     returning * into v_task;
  end if;
  return v_task;
end;
$$;
comment on function taskweave_private.escalate_failure(taskweave.tasks, jsonb) is
  'A task that cannot be retried: a parallel task stops in needs_human_review with one open review holding the error; any other task fails.';

revoke all on function
  taskweave_private.next_statuses(taskweave.task_status),
  taskweave_private.is_ended(taskweave.task_status),
  taskweave_private.guard_task_transition(),
  taskweave_private.is_due(taskweave.task_status, timestamptz, timestamptz),
  taskweave_private.current_actor(text),
  taskweave_private.set_actor(text),
  taskweave_private.require_lease(taskweave.tasks, uuid, text),
  taskweave_private.validate_worker(text),
  taskweave_private.validate_seconds(text, integer, integer, integer),
  taskweave_private.validate_new_task(text, text, jsonb),
  taskweave_private.escalate_failure(taskweave.tasks, jsonb)
  from public, anon, authenticated;
grant execute on function
  taskweave_private.next_statuses(taskweave.task_status),
  taskweave_private.is_ended(taskweave.task_status),
  taskweave_private.guard_task_transition(),
  taskweave_private.is_due(taskweave.task_status, timestamptz, timestamptz),
  taskweave_private.current_actor(text),
  taskweave_private.set_actor(text),
  taskweave_private.require_lease(taskweave.tasks, uuid, text),
  taskweave_private.validate_worker(text),
  taskweave_private.validate_seconds(text, integer, integer, integer),
  taskweave_private.validate_new_task(text, text, jsonb),
  taskweave_private.escalate_failure(taskweave.tasks, jsonb)
  to service_role;
