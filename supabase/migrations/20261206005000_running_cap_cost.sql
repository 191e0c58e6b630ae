-- Taskweave 0.3.0: the running cap costs the same at any size.
--
-- take_running_slots looked for free slots by testing every number 1..max_running against the array of
-- slots in use, so a claim cost max_running x running tasks: nothing at 100, a cliff at 10,000. It now
-- walks the slots in use in order and tries only the numbers in their gaps, from the lowest up, so a
-- claim costs the running tasks it reads plus the few numbers it tries (those other claimers hold at that
-- moment, and the ones it takes), whatever max_running is. It also reads the running tasks once instead of
-- twice: after taking slots with pg_try_advisory_xact_lock it looks up only those slots, with a fresh
-- snapshot, to drop any that a claimer which held it first has since committed; the unique index
-- tasks_running_slot_idx backs it up. At most max_running tasks hold a slot in 1..max_running, so the cap
-- is exact for every task that holds one.

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
  v_room integer;
  v_taken integer[] := '{}';
  v_new integer[];
  v_lost integer[] := '{}';
  v_now_used integer[];
  v_candidate integer;
  v_used_at integer;
  v_used_count integer;
begin
  if v_cap <= 0 then
    return null; -- no cap
  end if;
  -- What runs now. The count also covers tasks without a slot (started while the cap was off) and slots
  -- above a lowered cap, so nothing new starts until the running tasks are under the cap.
  select count(*)::integer,
         coalesce(pg_catalog.array_agg(t.running_slot order by t.running_slot) filter (where t.running_slot is not null), '{}')
    into v_running, v_used
    from taskweave.tasks t
   where t.status = 'running';
  v_room := greatest(least(p_wanted, v_cap - v_running), 0);
  v_used_count := pg_catalog.cardinality(v_used);
  for v_round in 1..3 loop
    exit when pg_catalog.cardinality(v_taken) >= v_room;
    -- Take free slots, lowest first: the numbers in the gaps between the sorted slots in use. Whoever locks
    -- a slot first has it until commit; a slot another claimer holds is skipped, never waited for. Each
    -- step passes a slot in use or tries a number, so this runs about (slots in use) + (slots wanted) +
    -- (slots other claimers hold) times, never max_running times.
    v_new := '{}';
    v_candidate := 1;
    v_used_at := 1;
    while v_candidate <= v_cap and pg_catalog.cardinality(v_taken) + pg_catalog.cardinality(v_new) < v_room loop
      if v_used_at <= v_used_count and v_used[v_used_at] <= v_candidate then
        -- in use (or already passed): step over it
        if v_used[v_used_at] = v_candidate then
          v_candidate := v_candidate + 1;
        end if;
        v_used_at := v_used_at + 1;
        continue;
      end if;
      if v_candidate <> all (v_taken) and v_candidate <> all (v_lost)
         and pg_catalog.pg_try_advisory_xact_lock(v_key, v_candidate) then
        v_new := v_new || v_candidate;
      end if;
      v_candidate := v_candidate + 1;
    end loop;
    exit when v_new = '{}'; -- no more slots to be had
    -- A claimer that held one of these slots before us has committed by now, and its task shows with this
    -- statement's fresh snapshot: such a slot is lost, the others are ours. (Only the new slots are looked
    -- up, through tasks_running_slot_idx; the unique index is the backstop.)
    select coalesce(pg_catalog.array_agg(t.running_slot), '{}') into v_now_used
      from taskweave.tasks t
     where t.status = 'running' and t.running_slot = any (v_new);
    v_taken := v_taken || array(select s from pg_catalog.unnest(v_new) s where s <> all (v_now_used) order by s);
    v_lost := v_lost || v_now_used;
  end loop;
  return v_taken[1:v_room];
end;
$$;
comment on function taskweave_private.take_running_slots(integer) is
  'Takes up to p_wanted free running slots (1..taskweave.max_running) for this transaction, without waiting for other '
  'claimers; returns them (fewer, or none, when the cap is reached) or null when there is no cap. Its cost follows the '
  'running tasks and the slots wanted, not max_running. The claim writes one into tasks.running_slot of each task it starts.';
revoke all on function taskweave_private.take_running_slots(integer) from public, anon, authenticated;
grant execute on function taskweave_private.take_running_slots(integer) to service_role;
