-- Taskweave 0.3.0: history and finished tasks are immutable to every role, and only the SQL API moves a task.
--
-- An audit, as service_role, deleted task_events rows, overwrote a completed task's output and moved a
-- queued aggregator to pending past its join. Now:
--   * task_events is append-only for every role, the owner and superusers included: no UPDATE, DELETE or
--     TRUNCATE. Tasks are never deleted or truncated either (their events would go with them).
--   * A completed, failed or cancelled task's row never changes again, for every role.
--   * For every role but a superuser, a task is created, moved or changed, and a task_events row
--     written, only from inside Taskweave's SQL API: a plpgsql function in schema taskweave or
--     taskweave_private must be the outermost caller (taskweave_private.called_from_api). A statement a
--     client sends directly (service_role through the Data API, or the owner on hosted Supabase) is refused.
--   * An aggregator leaves queued for pending only when its join rule holds, checked against its
--     dependencies' statuses (besides the fan-in counters), for every role but a superuser.
-- Superusers (the local `postgres`, which the tests and the local workers use) are exempt from the
-- last two rules: a superuser can disable any trigger anyway, and keeping its direct moves lets tests set
-- up states. `set session_replication_role = replica` skips every trigger, these included; only a
-- superuser may set it, and it is the documented way to prune old runs.
--
-- Why the call stack and not a marker: the API functions run with their caller's rights (security
-- invoker), so a role that may call them may also run their statements directly, and a transaction-local
-- setting that the API sets could be set by any session. The call stack cannot be forged from outside:
-- PG_CONTEXT lists the real caller frames, outermost last; a client's own code (a DO block, a function
-- of its own in another schema or language) is always the last line, and text it controls (a statement,
-- a quoted name) always ends in a double quote there, which the pattern below rejects. Creating a
-- function in taskweave or taskweave_private takes the owner's CREATE right on those schemas.

create function taskweave_private.called_from_api()
returns boolean
language plpgsql
stable
-- no SET clause: runs on every move made by a non-superuser; it names only built-ins, as pg_catalog.*
as $$
declare
  v_stack text;
  v_frames text[];
  v_depth integer;
begin
  get diagnostics v_stack = pg_context;
  v_frames := pg_catalog.string_to_array(v_stack, E'\n');
  v_depth := coalesce(pg_catalog.cardinality(v_frames), 0);
  -- frame 1 is this function and frame 2 the trigger that asks; a statement a client sends adds nothing
  -- more, so a change made from inside a function has at least three lines
  if v_depth < 3 then
    return false;
  end if;
  return v_frames[v_depth] ~ '^PL/pgSQL function taskweave(_private)?\.[a-z0-9_]+\([][a-z0-9_ ,.]*\) line [0-9]+ at [A-Za-z ]+$';
end;
$$;
comment on function taskweave_private.called_from_api() is
  'Whether the statement that fired the calling trigger runs inside Taskweave''s SQL API: the outermost frame of the call '
  'stack (PG_CONTEXT) is a plpgsql function in schema taskweave or taskweave_private. A statement sent by a client, or '
  'run from a DO block or a function outside those schemas, is not.';

create function taskweave_private.require_api_change()
returns trigger
language plpgsql
-- no SET clause: runs on every change a non-superuser makes; it names only schema-qualified objects
as $$
begin
  if not taskweave_private.called_from_api() then
    raise exception '% on taskweave.% is refused: tasks and their history change only through the SQL API', tg_op, tg_table_name
      using errcode = '42501',
            hint = 'Call the API function (claim_tasks, complete_task, fail_task, cancel_task, resolve_review, …) instead of writing the table.';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end;
$$;
comment on function taskweave_private.require_api_change() is
  'BEFORE trigger on tasks and task_events for every role but a superuser: refuses (42501) a change not made from inside the SQL API.';

create trigger tasks_api_only
  before insert or update or delete on taskweave.tasks
  for each row
  when (pg_catalog.current_setting('is_superuser') <> 'on')
  execute function taskweave_private.require_api_change();

create trigger task_events_api_only
  before insert on taskweave.task_events
  for each row
  when (pg_catalog.current_setting('is_superuser') <> 'on')
  execute function taskweave_private.require_api_change();

create function taskweave_private.refuse_history_change()
returns trigger
language plpgsql
-- no SET clause: it names only built-ins
as $$
begin
  if tg_table_name = 'task_events' then
    raise exception 'taskweave.task_events is append-only: no role may % its rows', pg_catalog.lower(tg_op)
      using errcode = '42501';
  end if;
  raise exception 'taskweave.tasks rows are history: no role may % them', pg_catalog.lower(tg_op)
    using errcode = '42501',
          hint = 'Cancel a task that should not run (cancel_task); a superuser may prune old runs with session_replication_role = replica.';
end;
$$;
comment on function taskweave_private.refuse_history_change() is
  'Refuses (42501) an UPDATE, DELETE or TRUNCATE of task_events and a DELETE or TRUNCATE of tasks, for every role.';

create trigger task_events_append_only
  before update or delete on taskweave.task_events
  for each row execute function taskweave_private.refuse_history_change();
create trigger task_events_no_truncate
  before truncate on taskweave.task_events
  for each statement execute function taskweave_private.refuse_history_change();
create trigger tasks_never_deleted
  before delete on taskweave.tasks
  for each row execute function taskweave_private.refuse_history_change();
create trigger tasks_no_truncate
  before truncate on taskweave.tasks
  for each statement execute function taskweave_private.refuse_history_change();

create function taskweave_private.keep_finished_task()
returns trigger
language plpgsql
-- no SET clause: it names only built-ins
as $$
begin
  if new is distinct from old then
    raise exception 'task % is %: a finished task''s row never changes', old.id, old.status
      using errcode = '55000',
            hint = 'completed, failed and cancelled are final; to do the work again, create a new task.';
  end if;
  return new;
end;
$$;
comment on function taskweave_private.keep_finished_task() is
  'Refuses (55000) any change to a completed, failed or cancelled task, for every role.';

-- named to fire after tasks_guard_transition (triggers fire in name order): a status move out of a
-- finished status keeps the guard's own message
create trigger tasks_keep_finished
  before update on taskweave.tasks
  for each row
  when (old.status in ('completed', 'failed', 'cancelled'))
  execute function taskweave_private.keep_finished_task();

-- ---------------------------------------------------------------------------------------------
-- the guard: a useful hint out of a finished status, the join rule re-checked, the actor that cannot be
-- forged, and a failure's error stored once (the task's last_error and, for a review, the review hold it;
-- the history names its category and message head)

create or replace function taskweave_private.guard_task_transition()
returns trigger
language plpgsql
-- no SET clause: runs on every transition, and a SET clause costs a GUC save/restore per call; it names
-- only schema-qualified objects (built-ins as pg_catalog.*), so search_path cannot redirect it
as $$
declare
  v_detail jsonb;
  v_open integer;
  v_completed integer;
begin
  if tg_op = 'INSERT' then
    -- a task is born pending, queued (an aggregator waiting) or, for an aggregator whose dependencies
    -- already ended, activated or cancelled at once
    if new.status not in ('pending', 'queued', 'cancelled') then
      raise exception 'a new task cannot start in status %', new.status using errcode = '55000';
    end if;
  elsif new.status = old.status then
    return new;
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

  -- the move's bookkeeping
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

  -- the move's history: one task_events row, built from only what this move needs (its foreign key is
  -- checked at commit, so a task's 'created' row can be written before the task row itself)
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
$$;
comment on function taskweave_private.guard_task_transition() is
  'The one place a task moves (BEFORE INSERT OR UPDATE OF status on tasks): rejects a move not in next_statuses() '
  '(55000, with a hint that says what may follow, or that a finished task is final), re-checks an aggregator''s join rule '
  'against its dependencies before it leaves queued (every role but a superuser), writes the move''s bookkeeping (lease '
  'and running slot cleared off running, started_at, completed_at, updated_at), appends its task_events row (with the '
  'actor from current_actor, the reason of a cancel, and the category and message head of a new error, which itself is '
  'stored once in last_error), notifies task_changed while a watcher listens, and task_ready when the task became pending.';

revoke all on function
  taskweave_private.called_from_api(),
  taskweave_private.require_api_change(),
  taskweave_private.refuse_history_change(),
  taskweave_private.keep_finished_task()
  from public, anon, authenticated;
grant execute on function
  taskweave_private.called_from_api(),
  taskweave_private.require_api_change(),
  taskweave_private.refuse_history_change(),
  taskweave_private.keep_finished_task()
  to service_role;
