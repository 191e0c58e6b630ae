-- Taskweave 0.3.0: the running cap costs the same at any size.
--
-- take_running_slots looked for free slots by testing every number 1..max_running against the array of
-- slots in use, so a claim cost max_running x running tasks: nothing at 100, a cliff at 10,000. It now
-- walks the slots in use in order and tries only the numbers in their gaps, from the lowest up, so a
-- claim costs the running tasks it reads plus the few numbers it tries (those other claimers hold at that
-- moment, and the ones it takes), whatever max_running is. Exactness is argued as before: a slot is taken
-- with pg_try_advisory_xact_lock, then the slots in use are re-read with a fresh snapshot, and the
-- unique index tasks_running_slot_idx backs it up.

create or replace function taskweave_private.take_running_slots(p_wanted integer)
returns integer[]
language plpgsql
volatile
-- a fixed search_path, as every function has (Supabase's Security Advisor); it names only schema-qualified
-- objects (built-ins as pg_catalog.*) all the same
set search_path = ''
as $$
declare
  v_cap integer := taskweave_private.setting_int('max_running', 100);
  v_key integer := pg_catalog.hashtext('taskweave.running_slot');
  v_running integer;
  v_used integer[];
  v_taken integer[] := '{}';
  v_room integer;
  v_locked_more boolean;
  v_candidate integer;
  v_used_at integer;
  v_used_count integer;
begin
  if v_cap <= 0 then
    return null; -- no cap
  end if;
  for v_round in 1..3 loop
    -- What runs now, read with a snapshot newer than every slot lock taken so far: a claimer that held one
    -- of our slots before us has committed, and its task shows here. The count also covers tasks without a
    -- slot (started while the cap was off) and slots above a lowered cap, so nothing new starts until the
    -- running tasks are under the cap.
    select count(*)::integer,
           coalesce(pg_catalog.array_agg(t.running_slot order by t.running_slot) filter (where t.running_slot is not null), '{}')
      into v_running, v_used
      from taskweave.tasks t
     where t.status = 'running';
    v_taken := array(select s from pg_catalog.unnest(v_taken) s where s <> all (v_used) order by s);
    v_room := greatest(least(p_wanted, v_cap - v_running), 0);
    if pg_catalog.cardinality(v_taken) >= v_room or v_round = 3 then
      return v_taken[1:v_room];
    end if;
    -- Take free slots, lowest first: the numbers between the sorted slots in use. Whoever locks a slot
    -- first has it until commit; a slot another claimer holds is skipped, never waited for. Every number
    -- tried is either free-looking or skipped in one step, so this loop runs about
    -- (slots in use) + (slots wanted) + (slots other claimers hold) times, never max_running times.
    v_locked_more := false;
    v_candidate := 1;
    v_used_at := 1;
    v_used_count := pg_catalog.cardinality(v_used);
    while v_candidate <= v_cap and pg_catalog.cardinality(v_taken) < v_room loop
      if v_used_at <= v_used_count and v_used[v_used_at] <= v_candidate then
        -- in use (or, for a duplicate left by a lowered cap, already passed): step over it
        if v_used[v_used_at] = v_candidate then
          v_candidate := v_candidate + 1;
        end if;
        v_used_at := v_used_at + 1;
        continue;
      end if;
      if v_candidate <> all (v_taken) and pg_catalog.pg_try_advisory_xact_lock(v_key, v_candidate) then
        v_taken := v_taken || v_candidate;
        v_locked_more := true;
      end if;
      v_candidate := v_candidate + 1;
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
  'claimers; returns them (fewer, or none, when the cap is reached) or null when there is no cap. Its cost follows the '
  'running tasks and the slots wanted, not max_running. The claim writes one into tasks.running_slot of each task it starts.';
revoke all on function taskweave_private.take_running_slots(integer) from public, anon, authenticated;
grant execute on function taskweave_private.take_running_slots(integer) to service_role;
