-- The worker path at engine speed (issue 22): what a claim and a completion cost, measured with
-- scripts/bench-engine.ts and scripts/bench-engine-profile.ts, and taken out of the path without changing
-- any rule.
--
-- 1. complete_and_claim hands the completed task's running slot straight to the next task. One task
--    leaves the cap and one enters it in the same transaction, so the number running does not change:
--    no count of the running tasks, no advisory lock. The hand-over is refused (and the cap is asked as
--    claim_tasks asks it) when the cap is off, or when the running tasks do not fit under it: a slot
--    above a lowered cap, or a task started while the cap was off (running_slot null). It no longer calls
--    complete_task and claim_tasks: the same statements, written out, without two more calls per job.
-- 2. The claim queries test the due condition as plain columns (run_after <= now(), lease_expires_at <=
--    now()): is_due has a SET clause since 20261206009000, so Postgres can no longer inline it and called
--    it once per row. FOR UPDATE re-checks the condition on the locked row version.
-- 3. Arguments are checked inline; the validate_* functions run only to raise their error.
-- 4. Five CHECK constraints on values a task gets when it is created became a trigger that fires only
--    when one of those values is written (see below), and the size caps run only when a value may be
--    over its cap.
-- 5. The guard trigger takes a superuser's recorded actor without calling current_actor.

create or replace function taskweave.claim_tasks(p_worker text, p_limit integer default 1, p_lease_seconds integer default 300)
returns setof taskweave.tasks
language plpgsql
set search_path = ''
-- the plans below do not depend on the arguments; a custom plan per call cost more than the claim
set plan_cache_mode = force_generic_plan
as $$
declare
  v_row taskweave.tasks;
  v_claimed taskweave.tasks;
  v_left integer := p_limit;
  v_slots integer[];
  v_ids uuid[];
begin
  if p_worker is null or pg_catalog.char_length(pg_catalog.btrim(p_worker)) = 0 or pg_catalog.char_length(p_worker) > 200 then
    perform taskweave_private.validate_worker(p_worker);
  end if;
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 86400 then
    perform taskweave_private.validate_seconds('p_lease_seconds', p_lease_seconds, 1, 86400);
  end if;
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    perform taskweave_private.validate_seconds('p_limit', p_limit, 1, 1000);
  end if;
  perform pg_catalog.set_config('taskweave.actor', p_worker, true);

  -- tasks whose worker died first: they are still running and keep their slot, so the cap does not bound
  -- them (the range of tasks_lease_expiry_idx; FOR UPDATE re-checks it on the locked version)
  for v_row in
    select * from taskweave.tasks t
     where t.status = 'running' and t.lease_expires_at <= pg_catalog.now()
     order by t.lease_expires_at
     limit v_left
     for update skip locked
  loop
    v_claimed := taskweave_private.claim_locked(v_row, p_worker, p_lease_seconds);
    if v_claimed.id is not null then
      v_left := v_left - 1;
      return next v_claimed;
    end if;
  end loop;

  if v_left > 0 then
    v_slots := taskweave_private.take_running_slots(v_left);
    v_left := coalesce(pg_catalog.cardinality(v_slots), v_left);
  end if;
  if v_left > 0 then
    -- runs take turns: a task's claim_rank is its place in its run, so a new run's first task (rank 0)
    -- goes before the rest of a wide run, and two wide runs interleave. Pick and lock, then lease them all
    -- by primary key, each with one of the slots (a pending task has no last-attempt case).
    select pg_catalog.array_agg(picked.id order by picked.claim_rank, picked.created_at) into v_ids
      from (select t.id, t.claim_rank, t.created_at from taskweave.tasks t
             where t.status = 'pending' and t.run_after <= pg_catalog.now()
             order by t.claim_rank, t.created_at
             limit v_left
             for update skip locked) picked;
    if v_ids is not null then
      return query
        with leased as (
          update taskweave.tasks t
             set status = 'running', attempt = t.attempt + 1, leased_by = p_worker,
                 lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds),
                 running_slot = v_slots[pg_catalog.array_position(v_ids, t.id)]
           where t.id = any (v_ids)
          returning t.*
        )
        select * from leased order by leased.claim_rank, leased.created_at;
    end if;
  end if;
  return;
end;
$$;

create or replace function taskweave.complete_and_claim(p_task_id uuid, p_worker text, p_output jsonb, p_lease_seconds integer default 300)
returns setof taskweave.tasks
language plpgsql
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
  v_slot integer;
  v_cap integer;
  v_over boolean;
  v_row taskweave.tasks;
  v_claimed taskweave.tasks;
begin
  -- checked before anything changes, so bad input fails without completing the task either
  if p_worker is null or pg_catalog.char_length(pg_catalog.btrim(p_worker)) = 0 or pg_catalog.char_length(p_worker) > 200 then
    perform taskweave_private.validate_worker(p_worker);
  end if;
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 86400 then
    perform taskweave_private.validate_seconds('p_lease_seconds', p_lease_seconds, 1, 86400);
  end if;
  if p_output is null then
    raise exception 'p_output must not be null' using errcode = '22023';
  end if;
  perform pg_catalog.set_config('taskweave.actor', p_worker, true);

  -- the completion, as complete_task does it, keeping the slot the task held
  update taskweave.tasks t set status = 'completed', output = p_output
    from (select h.id, h.running_slot from taskweave.tasks h
           where h.id = p_task_id and h.leased_by = p_worker
           for no key update) held
   where t.id = held.id
  returning held.running_slot into v_slot;
  if not found then
    -- not (or no longer) this worker's: complete_task raises why (TW001, P0002), or completes it should it
    -- have become this worker's again meanwhile; the next claim then asks the cap as usual
    perform taskweave.complete_task(p_task_id, p_worker, p_output);
    return query select * from taskweave.claim_tasks(p_worker, 1, p_lease_seconds);
    return;
  end if;

  -- the next task, as claim_tasks(p_worker, 1) chooses it: a task whose worker died first (it keeps its
  -- own slot) ...
  select * into v_row from taskweave.tasks t
   where t.status = 'running' and t.lease_expires_at <= pg_catalog.now()
   order by t.lease_expires_at
   limit 1
   for update skip locked;
  if found then
    v_claimed := taskweave_private.claim_locked(v_row, p_worker, p_lease_seconds);
    if v_claimed.id is not null then
      return next v_claimed;
      return;
    end if;
  end if;

  -- ... else a pending one in run-fair order, under the cap: with the slot just freed when the running
  -- tasks fit under the cap (then one leaving and one entering keeps them there), else as claim_tasks asks
  select c.cap,
         exists (select 1 from taskweave.tasks t
                  where t.status = 'running' and (t.running_slot > c.cap or t.running_slot is null))
    into v_cap, v_over
    from (select coalesce((select s.value from taskweave_private.settings s where s.name = 'max_running'), 100) as cap) c;
  if v_cap <= 0 then
    v_slot := null; -- no cap
  elsif v_slot is null or v_slot > v_cap or v_over then
    v_slot := (taskweave_private.take_running_slots(1))[1];
    if v_slot is null then
      return; -- the cap is reached
    end if;
  end if;
  select * into v_row from taskweave.tasks t
   where t.status = 'pending' and t.run_after <= pg_catalog.now()
   order by t.claim_rank, t.created_at
   limit 1
   for update skip locked;
  if not found then
    return;
  end if;
  return query
    update taskweave.tasks t
       set status = 'running', attempt = t.attempt + 1, leased_by = p_worker,
           lease_expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => p_lease_seconds),
           running_slot = v_slot
     where t.id = v_row.id
    returning t.*;
end;
$$;
comment on function taskweave.complete_and_claim(p_task_id uuid, p_worker text, p_output jsonb, p_lease_seconds integer) is 'Completes the worker''s running task exactly as complete_task does (TW001 for a worker that no longer holds the lease, P0002 for an unknown id, nothing changed) and, in the same transaction, claims at most one next task for the same worker under claim_tasks'' rules (an expired lease first, then run-fair order, within the running cap): zero rows when none is due or the cap is full. The completed task''s running slot goes to the next task while the running tasks fit under the cap.';

create or replace function taskweave.complete_task(p_task_id uuid, p_worker text, p_output jsonb)
returns taskweave.tasks
language plpgsql
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
begin
  if p_output is null then
    raise exception 'p_output must not be null' using errcode = '22023';
  end if;
  perform pg_catalog.set_config('taskweave.actor', coalesce(p_worker, ''), true);
  -- leased_by = p_worker implies status = 'running' (tasks_lease_check); no status test here, so the plan
  -- is the primary key's and never a scan of the running tasks
  update taskweave.tasks set status = 'completed', output = p_output
   where id = p_task_id and leased_by = p_worker
   returning * into v_task;
  if not found then
    -- not (or no longer) this worker's: the locked row says why (TW001 or P0002); should it have become
    -- this worker's again meanwhile, complete it as before
    select * into v_task from taskweave.tasks where id = p_task_id for no key update;
    perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
    update taskweave.tasks set status = 'completed', output = p_output where id = p_task_id returning * into v_task;
  end if;
  return v_task;
end;
$$;

-- A task's shape and size caps, checked where they are written, not on every update. Postgres evaluates
-- every CHECK constraint of a table on every UPDATE, and parses each one afresh for each statement; on
-- the worker path that parsing cost more than the update itself. The values these five constraints test
-- are written when a task is created and never by a claim or a completion, so they are checked by a
-- trigger that fires only when one of them is written (raising the same 23514 naming the same
-- constraint). The caps on output, last_error and cancel_reason are written with a status change, so the
-- guard trigger checks them there; tasks_cap_sizes still catches a write of one of them without one.
alter table taskweave.tasks
  drop constraint tasks_title_check,
  drop constraint tasks_instructions_check,
  drop constraint tasks_input_is_object,
  drop constraint tasks_root_check,
  drop constraint tasks_min_completed_check;

create function taskweave_private.check_task_shape()
returns trigger
language plpgsql
set search_path = ''
as $$
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
  end;
  if v_constraint is not null then
    raise exception 'new row for relation "tasks" violates check constraint "%"', v_constraint
      using errcode = 'check_violation', constraint = v_constraint, table = 'tasks', schema = 'taskweave';
  end if;
  return new;
end;
$$;
comment on function taskweave_private.check_task_shape() is 'BEFORE INSERT or an UPDATE of a column it tests, on taskweave.tasks: the size caps (cap_task_sizes_of, 22023 naming the argument), then what were CHECK constraints until 0.3.1 (23514 naming the same constraint): tasks_title_check (trimmed title of 1 to 500 characters), tasks_instructions_check (at most 200,000 characters), tasks_input_is_object, tasks_root_check (a root is its own root, a child is not), tasks_min_completed_check (a quorum between 1 and the number of dependencies).';
revoke all on function taskweave_private.check_task_shape() from public, anon, authenticated;
grant execute on function taskweave_private.check_task_shape() to service_role;

create function taskweave_private.cap_task_sizes_of(p_task taskweave.tasks)
returns void
language plpgsql
set search_path = ''
as $$
begin
  -- lengths in bytes bound lengths in characters: the exact checks run only when a value may be over
  if pg_catalog.octet_length(p_task.title) > 500 or pg_catalog.octet_length(p_task.instructions) > 200000
     or pg_catalog.pg_column_size(p_task.input) > 1048576 or pg_catalog.pg_column_size(p_task.output) > 1048576
     or pg_catalog.pg_column_size(p_task.last_error) > 65536 or pg_catalog.octet_length(p_task.tool_call_id) > 200
     or pg_catalog.octet_length(p_task.cancel_reason) > 10000 or pg_catalog.octet_length(p_task.agent) > 200 then
    perform taskweave_private.cap_text(p_task.title, 500, 'p_title', 'tasks.title');
    perform taskweave_private.cap_text(p_task.instructions, 200000, 'p_instructions', 'tasks.instructions');
    perform taskweave_private.cap_jsonb(p_task.input, 1048576, 'p_input', 'tasks.input');
    perform taskweave_private.cap_jsonb(p_task.output, 1048576, 'p_output', 'tasks.output');
    perform taskweave_private.cap_jsonb(p_task.last_error, 65536, 'p_error', 'tasks.last_error');
    perform taskweave_private.cap_text(p_task.tool_call_id, 200, 'p_tool_call_id', 'tasks.tool_call_id');
    perform taskweave_private.cap_text(p_task.cancel_reason, 10000, 'p_note', 'tasks.cancel_reason');
    perform taskweave_private.cap_text(p_task.agent, 200, 'p_agent', 'tasks.agent');
  end if;
end;
$$;
comment on function taskweave_private.cap_task_sizes_of(p_task taskweave.tasks) is 'The size caps of a taskweave.tasks row (see cap_jsonb, cap_text): 22023 naming the argument. Called by check_task_shape, cap_task_sizes and the guard trigger.';
revoke all on function taskweave_private.cap_task_sizes_of(p_task taskweave.tasks) from public, anon, authenticated;
grant execute on function taskweave_private.cap_task_sizes_of(p_task taskweave.tasks) to service_role;

create or replace function taskweave_private.cap_task_sizes()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform taskweave_private.cap_task_sizes_of(new);
  return new;
end;
$$;
comment on function taskweave_private.cap_task_sizes() is 'The size caps of taskweave.tasks (cap_task_sizes_of) for a write of output, last_error or cancel_reason that does not change the status (the guard trigger checks them on a status change); 22023 naming the argument.';

drop trigger tasks_cap_sizes on taskweave.tasks;
create trigger tasks_cap_sizes
  before update of output, last_error, cancel_reason
  on taskweave.tasks
  for each row
  when (old.status = new.status)
  execute function taskweave_private.cap_task_sizes();
create trigger tasks_check_shape
  before insert or update of title, instructions, input, tool_call_id, agent, parent_task_id, root_task_id, min_completed, dependent_task_ids
  on taskweave.tasks
  for each row
  execute function taskweave_private.check_task_shape();

create or replace function taskweave_private.guard_task_transition()
returns trigger
language plpgsql
set search_path = ''
as $function$
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

  -- what a move writes with it stays under its caps (22023 naming the argument; check_task_shape checks
  -- the rest of a new row)
  if tg_op = 'UPDATE' and (pg_catalog.pg_column_size(new.output) > 1048576 or pg_catalog.pg_column_size(new.last_error) > 65536
                           or pg_catalog.octet_length(new.cancel_reason) > 10000) then
    perform taskweave_private.cap_task_sizes_of(new);
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
    -- a superuser's recorded actor is honoured as is (current_actor says so too): the worker path of a
    -- local stack skips a function call per move
    case when pg_catalog.current_setting('is_superuser') = 'on'
         then coalesce(nullif(pg_catalog.current_setting('taskweave.actor', true), ''), taskweave_private.current_actor())
         else taskweave_private.current_actor() end,
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

-- 6. Who is asking, without a catalog query when the answer is already known. create_task spent most of
--    its 2 ms here (scripts/bench-engine.ts measures enqueue -> start): claims_are_trusted looks up the
--    login in pg_roles, and is_operator the caller.
--    - trusted_claims: with no claims set in this session there is nothing to trust; auth.jwt() reads the
--      same two settings and would return null.
--    - is_operator: a caller whose role is a superuser (is_superuser follows SET ROLE, not security definer
--      switches, as caller_role does) is an operator, as the pg_roles test found.
create or replace function taskweave_private.trusted_claims()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select case
    when nullif(pg_catalog.current_setting('request.jwt.claim', true), '') is null
     and nullif(pg_catalog.current_setting('request.jwt.claims', true), '') is null then null
    when taskweave_private.claims_are_trusted() then (select auth.jwt())
  end
$$;

create or replace function taskweave_private.is_operator()
returns boolean
language sql
stable
security definer -- reads pg_roles for the caller, who may not
set search_path = ''
as $$
  -- an allow-list, never a deny-list: a custom role that inherits authenticated is not an operator, and
  -- neither is a login that wrote an operator claim for itself
  select pg_catalog.current_setting('is_superuser') = 'on'
      or taskweave_private.caller_role() = 'service_role'
      or exists (
        select 1
          from pg_catalog.pg_roles r, pg_catalog.pg_namespace n
         where r.rolname = taskweave_private.caller_role()
           and n.nspname = 'taskweave'
           and (r.rolsuper or r.oid = n.nspowner)
      )
      or coalesce(taskweave_private.trusted_claims() -> 'app_metadata' ->> 'role' = 'operator', false)
$$;

-- 7. Small helpers in PL/pgSQL rather than SQL. Postgres 17 cannot inline a SQL function that has a SET
--    clause (and every function here has `set search_path = ''`, for the Security Advisor), and it plans
--    such a function's body again for every statement that calls it. PL/pgSQL keeps its plans for the
--    session, and evaluates a plain expression without the executor. Same bodies, same results.
create or replace function taskweave_private.caller_role()
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
  -- the role GUC survives a security definer switch (current_user does not): it names the API role
  -- PostgREST (or our web app) set for this request; a direct login without SET ROLE is its login role
  return coalesce(nullif(pg_catalog.current_setting('role', true), 'none'), session_user::text);
end;
$$;

create or replace function taskweave_private.claims_are_trusted()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  -- session_user is the login, unchanged by SET ROLE and by security definer functions
  return session_user::text in ('authenticator', 'taskweave_web')
      or exists (
        select 1
          from pg_catalog.pg_roles r, pg_catalog.pg_namespace n
         where r.rolname = session_user::text
           and n.nspname = 'taskweave'
           and (r.rolsuper
                or r.oid = n.nspowner
                or pg_catalog.pg_has_role(r.oid, 'service_role', 'member')));
end;
$$;

create or replace function taskweave_private.trusted_claims()
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  -- with no claims set in this session there is nothing to trust (auth.jwt() reads these two settings)
  if nullif(pg_catalog.current_setting('request.jwt.claim', true), '') is null
     and nullif(pg_catalog.current_setting('request.jwt.claims', true), '') is null then
    return null;
  end if;
  if taskweave_private.claims_are_trusted() then
    return (select auth.jwt());
  end if;
  return null;
end;
$$;

create or replace function taskweave_private.is_operator()
returns boolean
language plpgsql
stable
security definer -- reads pg_roles for the caller, who may not
set search_path = ''
as $$
declare
  v_role text := taskweave_private.caller_role();
begin
  -- an allow-list, never a deny-list: a custom role that inherits authenticated is not an operator, and
  -- neither is a login that wrote an operator claim for itself. is_superuser follows SET ROLE (not
  -- security definer switches), as caller_role does: a superuser caller is an operator.
  if pg_catalog.current_setting('is_superuser') = 'on' or v_role = 'service_role' then
    return true;
  end if;
  if exists (select 1
               from pg_catalog.pg_roles r, pg_catalog.pg_namespace n
              where r.rolname = v_role
                and n.nspname = 'taskweave'
                and (r.rolsuper or r.oid = n.nspowner)) then
    return true;
  end if;
  return coalesce(taskweave_private.trusted_claims() -> 'app_metadata' ->> 'role' = 'operator', false);
end;
$$;

create or replace function taskweave_private.operator_name()
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_claims jsonb := taskweave_private.trusted_claims();
begin
  return coalesce(v_claims ->> 'email', v_claims ->> 'sub', taskweave_private.caller_role());
end;
$$;

create or replace function taskweave_private.limit_value(p_limits jsonb, p_key text, p_default_setting text, p_default integer)
returns bigint
language plpgsql
stable
set search_path = ''
as $$
begin
  -- given: the value (null = no limit); absent: the database default (0 = no limit). validate_limits ran
  -- first, so the value is digits only
  if p_limits ? p_key then
    return taskweave_private.json_whole_number(p_limits -> p_key, 'p_limits.' || p_key, 1, 1000000000000);
  end if;
  return nullif(taskweave_private.setting_int(p_default_setting, p_default), 0);
end;
$$;

create or replace function taskweave_private.join_outcome(p_open integer, p_completed integer, p_min_completed integer, p_wait_until timestamptz)
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
  -- the join rule: every dependency ended, or a quorum completed, or the wait is over; null keeps waiting
  return case
    when p_open <= 0 then 'dependencies'
    when p_min_completed is not null and p_completed >= p_min_completed then 'quorum'
    when p_wait_until is not null and p_wait_until <= pg_catalog.now() then 'deadline'
  end;
end;
$$;

create or replace function taskweave_private.fan_in_lock_key(p_root_task_id uuid)
returns integer
language plpgsql
immutable
parallel safe
set search_path = ''
as $$
begin
  return pg_catalog.hashtextextended(p_root_task_id::text, 0)::bit(64)::bit(32)::integer;
end;
$$;

create or replace function taskweave_private.run_limit_reached(p_run taskweave.runs, p_for_new_task boolean)
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
  return case
    when p_run.deadline_at is not null and p_run.deadline_at <= pg_catalog.now() then
      pg_catalog.format('the run''s deadline passed at %s', pg_catalog.to_char(p_run.deadline_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
    when p_run.max_tokens is not null and p_run.input_tokens + p_run.output_tokens >= p_run.max_tokens then
      pg_catalog.format('the run used %s of its max_tokens = %s', p_run.input_tokens + p_run.output_tokens, p_run.max_tokens)
    when p_run.max_cost_usd is not null and p_run.cost_usd >= p_run.max_cost_usd then
      pg_catalog.format('the run cost %s US dollars of its max_cost_usd = %s', pg_catalog.round(p_run.cost_usd, 6), p_run.max_cost_usd)
    when p_for_new_task and p_run.max_tasks is not null and p_run.task_count >= p_run.max_tasks then
      pg_catalog.format('the run has %s tasks, its max_tasks = %s', p_run.task_count, p_run.max_tasks)
  end;
end;
$$;

-- 8. create_task with the same rules and fewer calls (enqueue -> start in scripts/bench-engine.ts): the
--    defaults are read in one statement, the limits are parsed only when some are given, and the
--    validators run only to raise their error.
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
  v_max_tasks := nullif(v_max_tasks, 0);
  v_max_tokens := nullif(v_max_tokens, 0);
  v_deadline := nullif(v_deadline, 0);
  if p_limits is distinct from '{}'::jsonb then
    -- given: the value (null = no limit); absent: the database default
    if p_limits ? 'max_tasks' then v_max_tasks := taskweave_private.json_whole_number(p_limits -> 'max_tasks', 'p_limits.max_tasks', 1, 1000000000000); end if;
    if p_limits ? 'max_tokens' then v_max_tokens := taskweave_private.json_whole_number(p_limits -> 'max_tokens', 'p_limits.max_tokens', 1, 1000000000000); end if;
    if p_limits ? 'deadline_seconds' then v_deadline := taskweave_private.json_whole_number(p_limits -> 'deadline_seconds', 'p_limits.deadline_seconds', 1, 1000000000000); end if;
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

-- 9. A fan-in counter row per page, near enough: every ending dependency updates one of up to 128 shard
--    rows of its aggregator from many connections at once. Packed 100 to a page they queued on the same
--    page lock, and an update that found no room on its page was not HOT (a new index entry each time).
--    With fillfactor 10 the shards spread over about ten times as many pages and update in place.
alter table taskweave_private.aggregator_join_counters set (fillfactor = 10);
