-- Claims that do not grow with the queue's history or with the running tasks (0.3.3).
--
-- 1. tasks_claimable_idx keeps one index entry per row version (deduplicate_items = off).
--    Every claim scans this index from its head, (claim_rank, created_at). Tasks created in one
--    transaction share created_at, and roots share claim_rank 0, so btree deduplication merged their
--    entries into posting lists. A claimed task leaves its pending entry behind until it is dead to every
--    snapshot; a scan marks such an entry dead (LP_DEAD) only when every row in its posting list is dead,
--    so with posting lists the dead entries at the head stayed and every claim read past them again.
--    Measured (8 workers chaining complete_and_claim over 10,000 tasks created by one statement, index
--    tuples read per claim from pg_stat_user_indexes): 171 before, 9 to 20 after; one worker: 108 before, 2 after.
--    The index is rebuilt once here; it holds only the pending tasks.
--
-- 2. complete_and_claim asks whether the running tasks fit under the cap with one probe of
--    tasks_running_slot_idx from its top (the highest slot in use, or a running task with no slot, which
--    sorts first backwards). It was `exists (... running_slot > cap or running_slot is null)`, which the
--    planner answers by reading every entry of that index: a completion cost grew with the running tasks.
--    Measured (one connection, max_running = 10,000, 2,000 tasks held running by other workers):
--    1,186 us per complete_and_claim before, 270 us after, the same as with 8 running.
--
-- 3. settle_backend_memory() fills its 2 MB with 256 copies of 8 kB and measures it in bytes: the same
--    allocation, about 13 ms less once per backend (length() counted 2 million UTF-8 characters).

alter index taskweave.tasks_claimable_idx set (deduplicate_items = off);
reindex index taskweave.tasks_claimable_idx;
comment on index taskweave.tasks_claimable_idx is 'The pending tasks in claim order (claim_rank, created_at): every claim scans it from the head. deduplicate_items = off since 0.3.3, so a claimed task''s leftover entry can be marked dead on its own (a posting list is marked only when all its rows are dead).';

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
  -- (one probe of tasks_running_slot_idx from its top: the highest slot in use, or a running task without
  -- one, which sorts first backwards; not a walk over every running task)
  select c.cap,
         coalesce((select t.running_slot is null or t.running_slot > c.cap
                     from taskweave.tasks t
                    where t.status = 'running'
                    order by t.running_slot desc nulls first
                    limit 1), false)
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

create or replace function taskweave_private.settle_backend_memory()
returns void
language plpgsql
set search_path = ''
as $function$
begin
  perform pg_catalog.set_config('taskweave.backend_memory_settled', 'on', false);
  -- one chunk above glibc's 128 kB mmap threshold, freed when this statement's memory is reset
  perform pg_catalog.octet_length(pg_catalog.repeat(pg_catalog.repeat(' ', 8192), 256));
end;
$function$;
