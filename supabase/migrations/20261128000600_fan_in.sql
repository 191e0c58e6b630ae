-- Taskweave 0.2.0 baseline, part 7: fan-in. An aggregator waits in queued until the join rule holds
-- (taskweave_private.join_outcome, written once); the trigger check_aggregator_dependencies counts each
-- ending dependency off in O(1), and taskweave_private.sweep() handles join deadlines.

create function taskweave_private.join_slot(p_task_id uuid, p_slots smallint)
returns smallint
language sql
immutable
parallel safe
-- no SET clause: called on every ending dependency, and a SET clause blocks inlining
as $$
  select (abs(hashtextextended(p_task_id::text, 0)) % greatest(p_slots, 1))::smallint
$$;
comment on function taskweave_private.join_slot(uuid, smallint) is 'Which counter slot of an aggregator a dependency decrements.';

create function taskweave_private.join_outcome(p_open integer, p_completed integer, p_min_completed integer, p_wait_until timestamptz)
returns text
language sql
stable
-- no SET clause: called on every ending dependency of a quorum aggregator
as $$
  -- the join rule: every dependency ended, or a quorum completed, or the wait is over; null keeps waiting
  select case
    when p_open <= 0 then 'dependencies'
    when p_min_completed is not null and p_completed >= p_min_completed then 'quorum'
    when p_wait_until is not null and p_wait_until <= now() then 'deadline'
  end
$$;
comment on function taskweave_private.join_outcome(integer, integer, integer, timestamptz) is
  'The join rule, written once: dependencies (none open), quorum (p_min_completed completed) or deadline (p_wait_until passed); '
  'null while the aggregator must keep waiting.';

create function taskweave_private.cancel_unneeded_dependencies(p_aggregator taskweave.tasks)
returns integer
language sql
volatile
set search_path = ''
as $$
  select taskweave_private.cancel_subtrees(
    array(select d.id from unnest(p_aggregator.dependent_task_ids) as d(id)),
    format('not needed: aggregator %s activated by its %s before this task ended', p_aggregator.id, p_aggregator.activated_by),
    true)
$$;
comment on function taskweave_private.cancel_unneeded_dependencies(taskweave.tasks) is
  'After an early activation (quorum or deadline): cancels the dependencies that have not ended, with the reason on each.';

create function taskweave_private.activate_aggregator(p_aggregator_id uuid, p_outcome text, p_completed bigint)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_aggregator taskweave.tasks;
begin
  -- status = 'queued' re-checked under the row lock: exactly one caller activates
  update taskweave.tasks
     set status = case when p_completed > 0 then 'pending' else 'cancelled' end::taskweave.task_status,
         activated_by = p_outcome,
         run_after = now(),
         cancel_reason = case when p_completed > 0 then null else 'no dependency completed' end
   where id = p_aggregator_id and status = 'queued'
   returning * into v_aggregator;
  if not found then
    return false;
  end if;
  if p_outcome <> 'dependencies' then
    perform taskweave_private.cancel_unneeded_dependencies(v_aggregator);
  end if;
  return true;
end;
$$;
comment on function taskweave_private.activate_aggregator(uuid, text, bigint) is
  'Moves a queued aggregator to pending (cancelled when no dependency completed), once; after an early activation the '
  'dependencies still open are cancelled.';

create function taskweave.check_aggregator_dependencies()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_agg record;
  v_remaining integer;
  v_completed integer;
  v_open_slots integer;
  v_outcome text;
begin
  -- aggregators that wait for this task (primary key lookup); usually exactly one. In id order: two
  -- completions that both feed the same two aggregators must lock their rows in the same order
  for v_agg in
    select a.id, a.join_slots, a.min_completed, a.wait_until
      from taskweave_private.aggregator_dependencies d
      join taskweave.tasks a on a.id = d.aggregator_task_id
     where d.dependency_task_id = new.id and a.status = 'queued'
     order by d.aggregator_task_id
  loop
    update taskweave_private.aggregator_join_counters
       set remaining = remaining - 1,
           completed = completed + (new.status = 'completed')::integer
     where aggregator_task_id = v_agg.id and slot = taskweave_private.join_slot(new.id, v_agg.join_slots)
     returning remaining, completed into v_remaining, v_completed;

    if v_agg.min_completed is not null then
      -- a quorum aggregator has one counter row: it holds the totals, and its lock orders the completions,
      -- so exactly one transaction sees the rule hold first
      v_outcome := taskweave_private.join_outcome(v_remaining, v_completed, v_agg.min_completed, v_agg.wait_until);
      if v_outcome is not null then
        perform taskweave_private.activate_aggregator(v_agg.id, v_outcome, v_completed);
      end if;
    elsif v_remaining = 0 then
      -- This slot is done: count it off on the aggregator row. The row lock orders these last steps, so
      -- exactly one transaction takes join_open_slots to zero, whatever order the commits come in.
      update taskweave.tasks set join_open_slots = join_open_slots - 1
       where id = v_agg.id and status = 'queued'
       returning join_open_slots into v_open_slots;
      if v_open_slots = 0 then
        -- every other slot's last decrement committed before our update got the row: their counts are visible
        perform taskweave_private.activate_aggregator(v_agg.id, 'dependencies',
          (select sum(c.completed) from taskweave_private.aggregator_join_counters c where c.aggregator_task_id = v_agg.id));
      end if;
    end if;
  end loop;
  return null;
end;
$$;
comment on function taskweave.check_aggregator_dependencies() is
  'Fan-in: when a parallel task ends (completed or cancelled), counts it down on each aggregator waiting for it and activates '
  'the aggregator when the join rule holds (all ended, or its quorum completed). O(1) per ending dependency: one primary-key '
  'lookup and one counter row (sharded for plain aggregators; the aggregator row only when a slot empties); exactly one '
  'activation even when dependencies end in concurrent transactions. A dependency in needs_human_review does not count as ended.';
revoke all on function taskweave.check_aggregator_dependencies() from public, anon, authenticated;

create trigger tasks_check_aggregator_dependencies
  after update of status on taskweave.tasks
  for each row
  when (new.status in ('completed', 'cancelled') and old.status is distinct from new.status and new.is_parallel_task)
  execute function taskweave.check_aggregator_dependencies();

create function taskweave_private.sweep(p_limit integer default 500)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_agg record;
  v_activated integer := 0;
  v_cancelled integer := 0;
  v_item record;
begin
  -- join deadlines that passed
  for v_agg in
    select t.id from taskweave.tasks t
     where t.status = 'queued' and t.wait_until <= now()
     order by t.wait_until
     limit p_limit
     for no key update skip locked
  loop
    if taskweave_private.activate_aggregator(v_agg.id, 'deadline',
         (select coalesce(sum(c.completed), 0) from taskweave_private.aggregator_join_counters c where c.aggregator_task_id = v_agg.id)) then
      v_activated := v_activated + 1;
    end if;
  end loop;

  -- cancellations an early join could not take at the time
  for v_item in
    delete from taskweave_private.pending_cancellations
     where task_id in (select p.task_id from taskweave_private.pending_cancellations p order by p.created_at limit p_limit
                       for update skip locked)
    returning task_id, reason
  loop
    perform taskweave_private.set_actor('taskweave sweep');
    v_cancelled := v_cancelled + taskweave_private.cancel_subtrees(array[v_item.task_id], v_item.reason, true);
  end loop;
  return jsonb_build_object('activated', v_activated, 'cancelled', v_cancelled);
end;
$$;
comment on function taskweave_private.sweep(integer) is
  'Periodic upkeep, run by the local dispatcher and by pg_cron when hosted: activates aggregators whose wait_until passed, '
  'and cancels the dependencies an early join queued. Returns {"activated", "cancelled"}.';

revoke all on function
  taskweave_private.join_slot(uuid, smallint),
  taskweave_private.join_outcome(integer, integer, integer, timestamptz),
  taskweave_private.cancel_unneeded_dependencies(taskweave.tasks),
  taskweave_private.activate_aggregator(uuid, text, bigint),
  taskweave_private.sweep(integer)
  from public, anon, authenticated;
grant execute on function
  taskweave_private.join_slot(uuid, smallint),
  taskweave_private.join_outcome(integer, integer, integer, timestamptz),
  taskweave_private.cancel_unneeded_dependencies(taskweave.tasks),
  taskweave_private.activate_aggregator(uuid, text, bigint),
  taskweave_private.sweep(integer)
  to service_role;
