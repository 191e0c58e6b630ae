-- Taskweave 0.3.0: a cheaper claim -> complete path, measured with `npm run bench:engine` and
-- scripts/bench-engine-profile.ts (pg_stat_user_functions and perf per job). Same semantics, same errors.
--
-- 1. claim_tasks no longer re-plans on every call. Its "limit p_limit" pick fed an UPDATE in one statement
--    whose generic plan hashed the whole table, so Postgres chose a fresh custom plan for every claim, and
--    planning was most of a claim's time. Now: pick and lock, then UPDATE by primary key, with generic plans.
-- 2. The running cap no longer serialises claimers. 0.2.0 took one advisory lock, held to commit, around
--    "count running tasks, then claim": exact, but every claim in the database waited for the one before it
--    to commit. Now the cap is max_running numbered slots. A claim takes free slot numbers with
--    pg_try_advisory_xact_lock (never waits: a slot another claimer holds is skipped), re-reads which slots
--    are in use with a fresh snapshot, and writes the slot into tasks.running_slot of the task it starts. A
--    unique index on running_slot over running tasks backs it up. So at most max_running tasks hold a slot,
--    and claimers run side by side.
-- 3. One trigger per transition: the guard (BEFORE) checks the move inline, writes its bookkeeping and now
--    also appends the task_events row and sends the notifications, which the AFTER trigger
--    record_task_transition did (an AFTER row trigger re-reads both row versions and runs a second function).
--    task_events' foreign key is checked at commit, since the 'created' row is written before its task row.
-- 4. set_actor is plpgsql (a cached plan) instead of a SQL function parsed on every call.
-- 5. complete_task is one UPDATE guarded by the lease; the lease check's error is only built when it fails.

alter table taskweave.tasks add column running_slot integer;
comment on column taskweave.tasks.running_slot is
  'While running under taskweave.max_running: the slot (1..max_running) this task holds; null otherwise, and for '
  'tasks started while the cap was off. Written by the claim, cleared by the guard trigger when the task stops running.';

create unique index tasks_running_slot_idx on taskweave.tasks (running_slot) where status = 'running';
comment on index taskweave.tasks_running_slot_idx is
  'One running task per slot: the backstop of the running cap (taskweave_private.take_running_slots).';

-- ---------------------------------------------------------------------------------------------
-- the running cap as slots

create function taskweave_private.take_running_slots(p_wanted integer)
returns integer[]
language plpgsql
volatile
-- no SET clause: runs on every claim; it names only schema-qualified objects (built-ins as pg_catalog.*)
as $$
declare
  v_cap integer := taskweave_private.setting_int('max_running', 100);
  v_key integer := pg_catalog.hashtext('taskweave.running_slot');
  v_running integer;
  v_used integer[];
  v_taken integer[] := '{}';
  v_room integer;
  v_locked_more boolean;
begin
  if v_cap <= 0 then
    return null; -- no cap
  end if;
  for v_round in 1..3 loop
    -- What runs now, read with a snapshot newer than every slot lock taken so far: a claimer that held one
    -- of our slots before us has committed, and its task shows here. The count also covers tasks without a
    -- slot (started while the cap was off) and slots above a lowered cap, so nothing new starts until the
    -- running tasks are under the cap.
    select count(*)::integer, coalesce(pg_catalog.array_agg(t.running_slot) filter (where t.running_slot is not null), '{}')
      into v_running, v_used
      from taskweave.tasks t
     where t.status = 'running';
    v_taken := array(select s from pg_catalog.unnest(v_taken) s where s <> all (v_used) order by s);
    v_room := greatest(least(p_wanted, v_cap - v_running), 0);
    if pg_catalog.cardinality(v_taken) >= v_room or v_round = 3 then
      return v_taken[1:v_room];
    end if;
    -- take free slots: whoever locks a slot first has it until commit; a slot another claimer holds is
    -- skipped, never waited for
    v_locked_more := false;
    for v_slot in 1..v_cap loop
      continue when v_slot = any (v_used) or v_slot = any (v_taken);
      if pg_catalog.pg_try_advisory_xact_lock(v_key, v_slot) then
        v_taken := v_taken || v_slot;
        v_locked_more := true;
        exit when pg_catalog.cardinality(v_taken) >= v_room;
      end if;
    end loop;
    if not v_locked_more then
      return v_taken; -- verified by this round's read; no more slots to be had
    end if;
  end loop;
  return v_taken; -- not reached: round 3 returns after its read
end;
$$;
comment on function taskweave_private.take_running_slots(integer) is
  'Takes up to p_wanted free running slots (1..taskweave.max_running) for this transaction, without waiting for other '
  'claimers; returns them (fewer, or none, when the cap is reached) or null when there is no cap. The claim writes one '
  'into tasks.running_slot of each task it starts.';

-- ---------------------------------------------------------------------------------------------
-- state machine: the same moves, checked inline

create or replace function taskweave_private.guard_task_transition()
returns trigger
language plpgsql
-- no SET clause: runs on every transition, and a SET clause costs a GUC save/restore per call; it names
-- only schema-qualified objects (built-ins as pg_catalog.*), so search_path cannot redirect it
as $$
declare
  v_detail jsonb;
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
            hint = 'Allowed from ' || old.status || ': ' || coalesce(pg_catalog.array_to_string(taskweave_private.next_statuses(old.status), ', '), 'nothing (terminal)');
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
    if new.last_error is distinct from old.last_error then
      v_detail := v_detail || pg_catalog.jsonb_build_object('error', new.last_error);
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
    -- the API functions record their caller with set_actor; current_actor() works it out otherwise
    coalesce(nullif(pg_catalog.current_setting('taskweave.actor', true), ''), taskweave_private.current_actor()),
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
  '(55000), writes the move''s bookkeeping (lease and running slot cleared off running, started_at, completed_at, '
  'updated_at), appends its task_events row (with the actor, and the reason of a cancel), notifies task_changed while '
  'a watcher listens, and task_ready when the task became pending.';

-- The history moved into the guard above: one BEFORE trigger per transition instead of a BEFORE and an
-- AFTER one (an AFTER row trigger re-reads both row versions and runs its own function). The 'created'
-- row is now written before its task row, so the foreign key waits for commit.
drop trigger tasks_record_created on taskweave.tasks;
drop trigger tasks_record_status_change on taskweave.tasks;
drop function taskweave_private.record_task_transition();
alter table taskweave.task_events alter constraint task_events_task_id_fkey deferrable initially deferred;

create or replace function taskweave_private.set_actor(p_actor text)
returns void
language plpgsql
volatile
-- no SET clause: called on every transition; it names only built-ins, as pg_catalog.*
as $$
begin
  perform pg_catalog.set_config('taskweave.actor', coalesce(p_actor, ''), true);
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- claims take slots

create or replace function taskweave.claim_tasks(p_worker text, p_limit integer default 1, p_lease_seconds integer default 300)
returns setof taskweave.tasks
language plpgsql
volatile
set search_path = ''
-- Every statement below has a good generic plan (index order under a limit, primary-key lookups). Left to
-- choose, Postgres keeps re-planning the "limit v_left" pick for each call, because a generic plan's cost
-- assumes a limit of 10% of the table; that planning was most of a claim's time.
set plan_cache_mode = force_generic_plan
as $$
declare
  v_row taskweave.tasks;
  v_claimed taskweave.tasks;
  v_left integer := p_limit;
  v_slots integer[];
  v_ids uuid[];
begin
  perform taskweave_private.validate_worker(p_worker);
  perform taskweave_private.validate_seconds('p_lease_seconds', p_lease_seconds, 1, 86400);
  perform taskweave_private.validate_seconds('p_limit', p_limit, 1, 1000);
  perform taskweave_private.set_actor(p_worker);

  -- tasks whose worker died first: they are still running and keep their slot, so the cap does not bound
  -- them (lease_expires_at <= now() written out as well, so it bounds the index range of
  -- tasks_lease_expiry_idx: inlined, is_due is an OR the planner can only filter with)
  for v_row in
    select * from taskweave.tasks t
     where t.status = 'running' and t.lease_expires_at <= pg_catalog.now()
       and taskweave_private.is_due(t.status, t.run_after, t.lease_expires_at)
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
    -- goes before the rest of a wide run, and two wide runs interleave. Two statements whose plans do not
    -- depend on p_limit: pick and lock, then lease them all by primary key, each with one of the slots (a
    -- pending task has no last-attempt case, so claim_locked's per-row call is not needed). One statement
    -- with "limit p_limit" feeding the update got a generic plan that hashed the whole table, so Postgres
    -- planned it afresh on every claim, which cost more than the claim itself.
    select pg_catalog.array_agg(picked.id order by picked.claim_rank, picked.created_at) into v_ids
      from (select t.id, t.claim_rank, t.created_at from taskweave.tasks t
             where t.status = 'pending' and taskweave_private.is_due(t.status, t.run_after, t.lease_expires_at)
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

create or replace function taskweave.claim_task(p_task_id uuid, p_worker text, p_lease_seconds integer default 300)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row taskweave.tasks;
  v_claimed taskweave.tasks;
  v_slots integer[];
begin
  perform taskweave_private.validate_worker(p_worker);
  perform taskweave_private.validate_seconds('p_lease_seconds', p_lease_seconds, 1, 86400);
  perform taskweave_private.set_actor(p_worker);
  select * into v_row from taskweave.tasks where id = p_task_id for update skip locked;
  if not found then
    if exists (select 1 from taskweave.tasks where id = p_task_id) then
      raise exception 'task % is being claimed by another worker', p_task_id using errcode = '55000';
    end if;
    raise exception 'task % not found', p_task_id using errcode = 'P0002';
  end if;
  if not taskweave_private.is_due(v_row.status, v_row.run_after, v_row.lease_expires_at) then
    raise exception 'task % is not claimable (status %)', p_task_id,
      v_row.status || case
        when v_row.status = 'pending' then ', due at ' || v_row.run_after::text
        when v_row.status = 'running' then ', leased to "' || v_row.leased_by || '" until ' || v_row.lease_expires_at::text
        else '' end
      using errcode = '55000';
  end if;
  if v_row.status = 'pending' then
    -- a pending task needs a slot under the cap (a running one with an expired lease keeps its own)
    v_slots := taskweave_private.take_running_slots(1);
    if v_slots = '{}' then
      raise exception 'the running cap is reached: % tasks run at once (taskweave.max_running)', taskweave_private.setting_int('max_running', 100)
        using errcode = 'TW005', hint = 'The task stays pending; a dispatcher claims it when a running task ends.';
    end if;
    update taskweave.tasks
       set status = 'running', attempt = attempt + 1, leased_by = p_worker,
           lease_expires_at = now() + make_interval(secs => p_lease_seconds), running_slot = v_slots[1]
     where id = p_task_id
     returning * into v_claimed;
    return v_claimed;
  end if;
  v_claimed := taskweave_private.claim_locked(v_row, p_worker, p_lease_seconds);
  if v_claimed.id is null then
    raise exception 'task % ran out of attempts when its last worker stopped; it was escalated', p_task_id using errcode = '55000';
  end if;
  return v_claimed;
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- completion: one statement when the worker holds the lease

create or replace function taskweave.complete_task(p_task_id uuid, p_worker text, p_output jsonb)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
begin
  if p_output is null then
    raise exception 'p_output must not be null' using errcode = '22023';
  end if;
  perform taskweave_private.set_actor(p_worker);
  update taskweave.tasks set status = 'completed', output = p_output
   where id = p_task_id and status = 'running' and leased_by = p_worker
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

revoke all on function taskweave_private.take_running_slots(integer) from public, anon, authenticated;
grant execute on function taskweave_private.take_running_slots(integer) to service_role;
