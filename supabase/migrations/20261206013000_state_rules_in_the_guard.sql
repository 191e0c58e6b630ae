-- The rules on a task's state move from CHECK constraints into the guard trigger (0.3.2).
--
-- Postgres parses every CHECK constraint of a table, and the WHEN clause of every trigger an UPDATE may
-- fire, again for each UPDATE statement it executes (ExecRelCheck and TriggerEnabled build their
-- expressions per statement, from text). A worker's claim and completion are two such statements per job,
-- so on `tasks` that parsing was the largest single cost of the worker path: `perf` put ExecConstraints at
-- 16% of a backend's CPU and the WHEN clauses at 11%. This migration moves:
--   - the four CHECK constraints left on `tasks`: tasks_attempts_check, tasks_lease_check and
--     tasks_activated_by_check into guard_task_transition, tasks_queued_is_aggregator into check_task_shape
--     (only a new row or a new list of dependencies can break it: no move enters queued). Both raise the
--     same 23514 naming the same constraint for any write that breaks one;
--   - tasks_keep_finished (a finished task's row never changes), tasks_cap_sizes (the caps of output,
--     last_error and cancel_reason on a write without a status change) and the INSERT and UPDATE part of
--     tasks_api_only (a write from outside the SQL API is refused, for every role but a superuser) into the
--     same function: one trigger call per row instead of two for the roles workers and operators use.
-- The guard therefore fires on every INSERT and UPDATE of a task (no column list and no WHEN clause), and
-- does no more than before on a status change. What it checks on an update that keeps the status reads
-- only small columns and sizes (pg_column_size and octet_length read a stored value's header, never a
-- toasted body), so a heartbeat does not pay for a task's instructions.
-- The creation-time rules keep their column list: their trigger (now tasks_shape_check) fires only when a
-- creation-time column is written (always on INSERT).
-- And the parent index no longer lists roots: tasks_roots_recent_idx already lists them (newest first), and
-- a root's two moves per job each wrote an entry at the head of the queue's page of this index.

-- 1. The guard: every rule on a task row in one BEFORE trigger. Two small helpers raise what the rules
--    raise, so each error is written once: refuse_outside_api (42501, also for require_api_change, which
--    tasks_api_only and task_events_api_only still call) and raise_check_violation (23514, also for
--    check_task_shape below).
create function taskweave_private.refuse_outside_api(p_op text, p_table text)
returns void
language plpgsql
set search_path = ''
as $function$
begin
  raise exception '% on taskweave.% is refused: tasks and their history change only through the SQL API', p_op, p_table
    using errcode = '42501',
          hint = 'Call the API function (claim_tasks, complete_task, fail_task, cancel_task, resolve_review, …) instead of writing the table.';
end;
$function$;
comment on function taskweave_private.refuse_outside_api(text, text) is
  'Raises 42501 for a write to a Taskweave table from outside the SQL API (p_op: INSERT, UPDATE or DELETE).';

create function taskweave_private.raise_check_violation(p_constraint text)
returns void
language plpgsql
set search_path = ''
as $function$
begin
  -- what Postgres raises for a CHECK constraint of that name, which these rules were
  raise exception 'new row for relation "tasks" violates check constraint "%"', p_constraint
    using errcode = 'check_violation', constraint = p_constraint, table = 'tasks', schema = 'taskweave';
end;
$function$;
comment on function taskweave_private.raise_check_violation(text) is
  'Raises 23514 naming a rule on taskweave.tasks that was a CHECK constraint, with the message Postgres gives for one.';

revoke all on function taskweave_private.refuse_outside_api(text, text), taskweave_private.raise_check_violation(text)
  from public, anon, authenticated;
grant execute on function taskweave_private.refuse_outside_api(text, text), taskweave_private.raise_check_violation(text)
  to service_role;

create or replace function taskweave_private.require_api_change()
returns trigger
language plpgsql
set search_path = ''
as $function$
begin
  if not taskweave_private.called_from_api() then
    perform taskweave_private.refuse_outside_api(tg_op, tg_table_name);
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end;
$function$;

create or replace function taskweave_private.guard_task_transition()
returns trigger
language plpgsql
set search_path = ''
as $function$
declare
  v_detail jsonb;
  v_open integer;
  v_completed integer;
  v_constraint text;
begin
  -- the first task write of a backend settles its memory (20261206012500_settled_backend_memory.sql)
  if pg_catalog.current_setting('taskweave.backend_memory_settled', true) is distinct from 'on' then
    perform taskweave_private.settle_backend_memory();
  end if;

  -- every role but a superuser changes a task only from inside the SQL API (tasks_api_only until 0.3.2)
  if pg_catalog.current_setting('is_superuser') <> 'on' and not taskweave_private.called_from_api() then
    perform taskweave_private.refuse_outside_api(tg_op, tg_table_name);
  end if;

  -- what an update writes stays under its caps (22023 naming the argument; tasks_shape_check checks the
  -- creation-time columns when they are written). Stored sizes only: no toasted value is read.
  if tg_op = 'UPDATE' and (pg_catalog.pg_column_size(new.output) > 1048576 or pg_catalog.pg_column_size(new.last_error) > 65536
                           or pg_catalog.octet_length(new.cancel_reason) > 10000) then
    perform taskweave_private.cap_task_sizes_of(new);
  end if;

  if tg_op = 'INSERT' then
    -- a task is born pending, queued (an aggregator waiting) or, for an aggregator whose dependencies
    -- already ended, activated or cancelled at once
    if new.status not in ('pending', 'queued', 'cancelled') then
      raise exception 'a new task cannot start in status %', new.status using errcode = '55000';
    end if;
  elsif new.status = old.status then
    -- a write that keeps the status: a finished task's row never changes
    if old.status in ('completed', 'failed', 'cancelled') then
      if new is distinct from old then
        raise exception 'task % is %: a finished task''s row never changes', old.id, old.status
          using errcode = '55000',
                hint = 'completed, failed and cancelled are final; to do the work again, create a new task.';
      end if;
      return new;
    end if;
  -- the moves of next_statuses(), written out: this runs on every transition (tests/sql compares the two)
  elsif not (case old.status
          when 'pending' then new.status in ('running', 'cancelled')
          when 'queued' then new.status in ('pending', 'cancelled')
          when 'running' then new.status in ('completed', 'pending', 'needs_human_review', 'failed', 'cancelled')
          when 'needs_human_review' then new.status in ('pending', 'cancelled', 'completed')
          else false
        end) then
    raise exception 'task % cannot move from % to %', old.id, old.status, new.status
      using errcode = '55000',
            hint = case when old.status in ('completed', 'failed', 'cancelled')
                        then old.status || ' is final: a finished task never moves again. To do the work again, create a new task'
                             || case when old.parent_task_id is not null then ' (an agent can fan it out again with create_parallel_task).' else '.' end
                        else 'Allowed from ' || old.status || ': ' || pg_catalog.array_to_string(taskweave_private.next_statuses(old.status), ', ') || '.'
                   end;
  elsif old.status = 'queued' and new.status = 'pending' and pg_catalog.current_setting('is_superuser') <> 'on' then
    -- the fan-in counters decided this; their dependencies' statuses must agree, whoever asks
    select count(*) filter (where d.status not in ('completed', 'failed', 'cancelled'))::integer,
           count(*) filter (where d.status = 'completed')::integer
      into v_open, v_completed
      from taskweave.tasks d
     where d.id = any (new.dependent_task_ids);
    if v_completed = 0 or taskweave_private.join_outcome(v_open, v_completed, new.min_completed, new.wait_until) is null then
      raise exception 'aggregator % cannot leave queued: its join rule does not hold (% of % dependencies still open, % completed)',
        old.id, v_open, pg_catalog.cardinality(new.dependent_task_ids), v_completed
        using errcode = '55000';
    end if;
  end if;

  -- a move's bookkeeping
  if tg_op = 'INSERT' or new.status <> old.status then
    new.updated_at := pg_catalog.now();
    if new.status <> 'running' then
      new.leased_by := null;
      new.lease_expires_at := null;
      new.running_slot := null;
    else
      new.started_at := coalesce(new.started_at, pg_catalog.now());
    end if;
    if new.status in ('completed', 'failed', 'cancelled') then
      new.completed_at := pg_catalog.now();
      new.model_wait_until := null;
    else
      new.completed_at := null;
    end if;
  end if;

  -- the state rules, on the row as it will be stored (CHECK constraints until 0.3.2; a test that comes out
  -- null passes, as it did there). tasks_queued_is_aggregator is tasks_shape_check's: no move enters queued.
  v_constraint := case
    when not (new.attempt >= 0 and new.max_attempts between 1 and 100) then 'tasks_attempts_check'
    when (new.status = 'running') <> (new.leased_by is not null and new.lease_expires_at is not null) then 'tasks_lease_check'
    when new.activated_by not in ('dependencies', 'quorum', 'deadline') then 'tasks_activated_by_check'
  end;
  if v_constraint is not null then
    perform taskweave_private.raise_check_violation(v_constraint);
  end if;
  if tg_op = 'UPDATE' and new.status = old.status then
    return new; -- no move: no history, no notification
  end if;

  -- the move's history: one task_events row, built from only what this move needs (a task's 'created' row
  -- is written just before the task row itself, in the same statement)
  v_detail := pg_catalog.jsonb_build_object('attempt', new.attempt);
  if new.leased_by is not null then
    v_detail := v_detail || pg_catalog.jsonb_build_object('leased_by', new.leased_by);
  end if;
  if tg_op = 'INSERT' then
    if new.parent_task_id is not null then
      v_detail := v_detail || pg_catalog.jsonb_build_object('parent_task_id', new.parent_task_id);
    end if;
    if pg_catalog.cardinality(new.dependent_task_ids) > 0 then
      v_detail := v_detail || pg_catalog.jsonb_build_object('dependent_task_count', pg_catalog.cardinality(new.dependent_task_ids));
    end if;
  else
    if new.last_error is distinct from old.last_error and new.last_error is not null then
      -- the error itself is stored once, in tasks.last_error (and the review that opens for it); the
      -- history keeps what a timeline shows: its category and the head of its message
      v_detail := v_detail || pg_catalog.jsonb_build_object('error', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'category', new.last_error -> 'category',
        'message', pg_catalog.left(new.last_error ->> 'message', 200),
        'stored_in', 'tasks.last_error')));
    end if;
    if new.status = 'pending' and new.run_after > pg_catalog.now() then
      v_detail := v_detail || pg_catalog.jsonb_build_object('run_after', new.run_after);
    end if;
  end if;
  if new.activated_by is not null and new.status in ('pending', 'cancelled') and new.dependent_task_ids <> '{}' then
    v_detail := v_detail || pg_catalog.jsonb_build_object('activated_by', new.activated_by);
  end if;
  if new.status = 'cancelled' and new.cancel_reason is not null then
    v_detail := v_detail || pg_catalog.jsonb_build_object('reason', new.cancel_reason);
  end if;
  insert into taskweave.task_events (task_id, event, from_status, to_status, actor, detail)
  values (
    new.id,
    case when tg_op = 'INSERT' then 'created' else 'status_changed' end,
    case when tg_op = 'INSERT' then null else old.status end,
    new.status,
    -- the worker or operator the API recorded (set_actor) when the caller may name one, else the
    -- trusted claims, else the role (current_actor)
    taskweave_private.current_actor(),
    v_detail
  );

  -- notifications go out at commit: task_changed only while someone listens (change_watchers), since
  -- every notifying transaction serialises on the notify queue's lock through its commit
  if exists (select 1 from taskweave_private.change_watchers w where w.expires_at > pg_catalog.now()) then
    -- ids are uuids and statuses come from the enum, so the payload needs no JSON escaping
    perform pg_catalog.pg_notify('task_changed', pg_catalog.format('{"id":"%s","root_task_id":"%s","parent_task_id":%s,"status":"%s","old_status":%s}',
      new.id, new.root_task_id, coalesce('"' || new.parent_task_id || '"', 'null'), new.status,
      case when tg_op = 'UPDATE' then '"' || old.status || '"' else 'null' end));
  end if;
  if new.status = 'pending' then
    perform pg_catalog.pg_notify('task_ready', new.id::text);
  end if;
  return new;
end;
$function$;

comment on function taskweave_private.guard_task_transition() is
  'The one BEFORE INSERT OR UPDATE trigger that holds a task row''s rules (tasks_shape_check fires after it for the '
  'creation-time columns). For every role but a superuser: refuses a write not made from inside the SQL API (42501, '
  'called_from_api). On a move: rejects one not in next_statuses() '
  '(55000, with a hint that says what may follow, or that a finished task is final), re-checks an aggregator''s join rule '
  'against its dependencies before it leaves queued (every role but a superuser), writes the move''s bookkeeping (lease and '
  'running slot cleared off running, started_at, completed_at, updated_at), appends its task_events row (with the actor '
  'from current_actor, the reason of a cancel, and the category and message head of a new error, which itself is stored '
  'once in last_error), notifies task_changed while a watcher listens, and task_ready when the task became pending. On '
  'a write that keeps the status: refuses any change to a finished task (55000). On every update: the caps of output, '
  'last_error and cancel_reason (22023). On every write: the state rules tasks_attempts_check, tasks_lease_check and '
  'tasks_activated_by_check (23514 naming the rule, raise_check_violation; CHECK constraints until 0.3.2).';

drop trigger tasks_guard_transition on taskweave.tasks;
create trigger tasks_guard_transition
  before insert or update on taskweave.tasks
  for each row execute function taskweave_private.guard_task_transition();

-- the guard now refuses a write from outside the API itself; tasks_api_only is left for DELETE (where it
-- speaks before tasks_never_deleted, as it did)
drop trigger tasks_api_only on taskweave.tasks;
create trigger tasks_api_only
  before delete on taskweave.tasks
  for each row
  when (pg_catalog.current_setting('is_superuser') <> 'on')
  execute function taskweave_private.require_api_change();

drop trigger tasks_keep_finished on taskweave.tasks;
drop function taskweave_private.keep_finished_task();
drop trigger tasks_cap_sizes on taskweave.tasks;
drop function taskweave_private.cap_task_sizes();

alter table taskweave.tasks
  drop constraint tasks_attempts_check,
  drop constraint tasks_lease_check,
  drop constraint tasks_queued_is_aggregator,
  drop constraint tasks_activated_by_check;

-- 2. The creation-time rules also hold "a queued task is an aggregator" when the list of dependencies is
--    written. Their trigger is renamed tasks_shape_check so that it fires after the guard (BEFORE triggers
--    fire in name order): a write from outside the API is refused (42501) before its values are looked at,
--    as when tasks_api_only fired first.
create or replace function taskweave_private.check_task_shape()
returns trigger
language plpgsql
set search_path = ''
as $function$
declare
  v_constraint text;
begin
  -- the size caps first (22023 naming the argument), as before
  perform taskweave_private.cap_task_sizes_of(new);
  v_constraint := case
    -- as the constraints did: a test that comes out null passes (a null title is refused by NOT NULL)
    when pg_catalog.char_length(pg_catalog.btrim(new.title)) not between 1 and 500 then 'tasks_title_check'
    when pg_catalog.char_length(new.instructions) > 200000 then 'tasks_instructions_check'
    when pg_catalog.jsonb_typeof(new.input) <> 'object' then 'tasks_input_is_object'
    when (new.parent_task_id is null) <> (new.root_task_id = new.id) then 'tasks_root_check'
    when not (new.min_completed is null or new.min_completed between 1 and pg_catalog.cardinality(new.dependent_task_ids)) then 'tasks_min_completed_check'
    when new.status = 'queued' and pg_catalog.cardinality(new.dependent_task_ids) = 0 then 'tasks_queued_is_aggregator'
  end;
  if v_constraint is not null then
    perform taskweave_private.raise_check_violation(v_constraint);
  end if;
  return new;
end;
$function$;

alter trigger tasks_check_shape on taskweave.tasks rename to tasks_shape_check;

comment on function taskweave_private.check_task_shape() is
  'BEFORE INSERT OR UPDATE OF the creation-time columns of tasks: the size caps (22023), then the rules tasks_title_check, '
  'tasks_instructions_check, tasks_input_is_object, tasks_root_check, tasks_min_completed_check and '
  'tasks_queued_is_aggregator (23514 naming the rule, as the CHECK constraints they were).';

-- 3. One index entry fewer per move of a root: roots are listed by tasks_roots_recent_idx.
drop index taskweave.tasks_parent_task_id_idx;
create index tasks_parent_task_id_idx on taskweave.tasks (parent_task_id, created_at) where parent_task_id is not null;
comment on index taskweave.tasks_parent_task_id_idx is
  'A task''s children, oldest first (roots are in tasks_roots_recent_idx). A lookup by parent_task_id = x uses it.';

-- 4. task_events.task_id keeps no foreign key. Its check cost a query and a FOR KEY SHARE lock on the task
--    row for each history row, two per job, on the very rows and pages the workers are claiming and
--    completing (16-19% of the worker path's throughput with 8 workers). What it guaranteed holds by
--    construction: only the guard and the API functions that hold the task write history rows
--    (task_events_api_only refuses any other writer but a superuser), and a task is never deleted
--    (tasks_never_deleted), so no history row can name a task that does not exist. Join on task_id.
alter table taskweave.task_events drop constraint task_events_task_id_fkey;
comment on column taskweave.task_events.task_id is
  'The task this history row belongs to (taskweave.tasks.id). No foreign key since 0.3.2: only the guard and the API '
  'functions that hold the task write history rows, and tasks are never deleted.';
