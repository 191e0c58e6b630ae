-- Taskweave 0.3.0: fan-in at 100,000 dependencies, and a counter shard is called a shard.
--
-- 1. An aggregator over 100,000 dependencies took about 5 s to create. Most of it was share-locking every
--    dependency (a row lock writes each tuple and its WAL record) so that none could end unseen while the
--    aggregator was made, and reading the dependencies five more times (exists, parallel, same root, open
--    count, counters). Now:
--    - "none ends unseen" is one advisory lock on the run instead of 100,000 row locks: the creator takes
--      it exclusively (waiting for the run's endings in flight to commit, so its count sees them), and the
--      fan-in trigger takes it shared before it looks for aggregators (an ending that waits for a creation
--      then finds the new aggregator's rows committed). Endings in a run never wait for one another, only
--      for an aggregator being made in their run;
--    - one pass over the dependencies finds what is wrong with them and counts them; the rows that wait
--      for them and the counter shards are written from the open ones without reading tasks again, and
--      the aggregator row is written once, with its open shard count.
-- 2. "slot" meant five things. The fan-in's counter rows are shards: tasks.join_shards,
--    tasks.join_open_shards, aggregator_join_counters.shard, and aggregator_dependencies.shard, where each
--    dependency's shard is now stored when the aggregator is made, so the trigger no longer hashes. (A slot
--    is a place under the running cap, tasks.running_slot.) The hash is unchanged, so aggregators waiting
--    across this migration count down as before.

alter table taskweave.tasks rename column join_slots to join_shards;
alter table taskweave.tasks rename column join_open_slots to join_open_shards;
alter table taskweave_private.aggregator_join_counters rename column slot to shard;
comment on column taskweave.tasks.join_shards is
  'For an aggregator: how many counter shards in taskweave_private.aggregator_join_counters its open dependencies are hashed into.';
comment on column taskweave.tasks.join_open_shards is
  'For a queued aggregator: how many of its counter shards still have open dependencies; the shard that takes it to zero '
  'activates the aggregator.';
comment on table taskweave_private.aggregator_join_counters is
  'Sharded countdown of an aggregator''s open dependencies. A dependency that ends decrements one shard (chosen by a hash of '
  'its id), so concurrent completions rarely touch the same row and the cost per completion does not grow with the number of '
  'dependencies. Only a shard reaching zero touches the aggregator row (tasks.join_open_shards). Shard -1, when present, holds '
  'the dependencies that had already completed when the aggregator was created. A quorum aggregator has one shard, which '
  'counts completions too.';

-- Each dependency's shard is written once, when the aggregator is made, beside the row the trigger already
-- reads: the trigger hashes nothing (a hashing function with a fixed search_path, as the Security Advisor
-- wants, cannot be inlined, and cost a function call per ending dependency). Rows of aggregators made
-- before this migration get the shard the old hash gave them.
alter table taskweave_private.aggregator_dependencies add column shard smallint not null default 0;
update taskweave_private.aggregator_dependencies d
   set shard = taskweave_private.join_slot(d.dependency_task_id, a.join_shards)
  from taskweave.tasks a
 where a.id = d.aggregator_task_id;
alter table taskweave_private.aggregator_dependencies alter column shard drop default;
comment on column taskweave_private.aggregator_dependencies.shard is
  'Which counter shard of the aggregator this dependency counts down (aggregator_join_counters.shard), fixed when the '
  'aggregator is made: abs(hashtextextended(dependency id, 0)) % join_shards; 0 for a quorum aggregator.';

create function taskweave_private.fan_in_lock_key(p_root_task_id uuid)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
  select pg_catalog.hashtextextended(p_root_task_id::text, 0)::bit(64)::bit(32)::integer
$$;
comment on function taskweave_private.fan_in_lock_key(uuid) is
  'The second key of a run''s fan-in advisory lock (the first is hashtext(''taskweave.fan_in'')): held exclusively while an '
  'aggregator is created in the run, shared by the fan-in trigger while a dependency ends. Two runs that share a key only '
  'wait for each other a little longer.';
revoke all on function taskweave_private.fan_in_lock_key(uuid) from public, anon, authenticated;
grant execute on function taskweave_private.fan_in_lock_key(uuid) to service_role;

create or replace function taskweave.check_aggregator_dependencies()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_agg record;
  v_remaining integer;
  v_completed integer;
  v_open_shards integer;
  v_outcome text;
begin
  -- an aggregator being created in this run finishes first, so the lookup below sees its rows; endings in
  -- the run share the lock and never wait for one another
  perform pg_advisory_xact_lock_shared(hashtext('taskweave.fan_in'), taskweave_private.fan_in_lock_key(new.root_task_id));
  -- aggregators that wait for this task (primary key lookup); usually exactly one. In id order: two
  -- completions that both feed the same two aggregators must lock their rows in the same order
  for v_agg in
    select a.id, d.shard, a.min_completed, a.wait_until
      from taskweave_private.aggregator_dependencies d
      join taskweave.tasks a on a.id = d.aggregator_task_id
     where d.dependency_task_id = new.id and a.status = 'queued'
     order by d.aggregator_task_id
  loop
    update taskweave_private.aggregator_join_counters
       set remaining = remaining - 1,
           completed = completed + (new.status = 'completed')::integer
     where aggregator_task_id = v_agg.id and shard = v_agg.shard
     returning remaining, completed into v_remaining, v_completed;

    if v_agg.min_completed is not null then
      -- a quorum aggregator has one counter row: it holds the totals, and its lock orders the completions,
      -- so exactly one transaction sees the rule hold first
      v_outcome := taskweave_private.join_outcome(v_remaining, v_completed, v_agg.min_completed, v_agg.wait_until);
      if v_outcome is not null then
        perform taskweave_private.activate_aggregator(v_agg.id, v_outcome, v_completed);
      end if;
    elsif v_remaining = 0 then
      -- This shard is done: count it off on the aggregator row. The row lock orders these last steps, so
      -- exactly one transaction takes join_open_shards to zero, whatever order the commits come in.
      update taskweave.tasks set join_open_shards = join_open_shards - 1
       where id = v_agg.id and status = 'queued'
       returning join_open_shards into v_open_shards;
      if v_open_shards = 0 then
        -- every other shard's last decrement committed before our update got the row: their counts are visible
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
  'the aggregator when the join rule holds (all ended, or its quorum completed). O(1) per ending dependency: one shared '
  'advisory lock on the run, one primary-key lookup (which names the shard) and one counter row (sharded for plain aggregators; the aggregator row '
  'only when a shard empties); exactly one activation even when dependencies end in concurrent transactions. A dependency '
  'in needs_human_review does not count as ended.';

create or replace function taskweave.create_aggregator_task(
  p_parent_task_id uuid,
  p_dependent_task_ids uuid[],
  p_title text,
  p_instructions text,
  p_tool_call_id text default null,
  p_worker text default null,
  p_min_completed integer default null,
  p_wait_seconds integer default null
)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_parent taskweave.tasks;
  v_task taskweave.tasks;
  v_max integer := taskweave_private.setting_int('max_aggregator_dependencies', 10000);
  v_count integer;
  v_bad record;
  v_found integer;
  v_not_parallel integer;
  v_other_root integer;
  v_open_ids uuid[];
  v_completed integer;
  v_open integer;
  v_shards smallint;
  v_open_shards integer;
  v_shard_of smallint[];
  v_rank integer;
  v_outcome text;
  v_id uuid := gen_random_uuid();
  v_now timestamptz := now();
  v_wait_until timestamptz;
begin
  perform taskweave_private.validate_new_task(p_title, p_instructions, '{}'::jsonb);
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
  if p_min_completed is not null and (p_min_completed < 1 or p_min_completed > v_count) then
    raise exception 'p_min_completed must be between 1 and the number of dependencies, % (got %)', v_count, p_min_completed
      using errcode = '22023';
  end if;
  if p_wait_seconds is not null then
    perform taskweave_private.validate_seconds('p_wait_seconds', p_wait_seconds, 1, 604800);
    v_wait_until := v_now + make_interval(secs => p_wait_seconds);
  end if;

  v_parent := taskweave_private.lock_parent(p_parent_task_id, p_worker);
  if p_tool_call_id is not null then
    select * into v_task from taskweave.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      if v_task.dependent_task_ids is distinct from p_dependent_task_ids or v_task.title <> btrim(p_title)
         or v_task.instructions <> p_instructions or v_task.min_completed is distinct from p_min_completed
         or (v_task.wait_until - v_task.created_at) is distinct from make_interval(secs => p_wait_seconds) then
        perform taskweave_private.tool_call_reused(p_parent_task_id, p_tool_call_id, v_task.id);
      end if;
      return v_task;
    end if;
  end if;
  perform taskweave_private.check_new_child(v_parent);

  -- No dependency of this run ends unseen while the aggregator is made: an ending that committed before
  -- this lock is counted below; one that commits after waits in the fan-in trigger for this transaction,
  -- then finds the aggregator's rows.
  perform pg_advisory_xact_lock(hashtext('taskweave.fan_in'), taskweave_private.fan_in_lock_key(v_parent.root_task_id));

  -- one pass over the dependencies: what is wrong with them, and what is open
  select count(*)::integer,
         (count(*) filter (where not t.is_parallel_task))::integer,
         (count(*) filter (where t.root_task_id <> v_parent.root_task_id))::integer,
         array_agg(t.id) filter (where not taskweave_private.is_ended(t.status)),
         (count(*) filter (where t.status = 'completed'))::integer
    into v_found, v_not_parallel, v_other_root, v_open_ids, v_completed
    from taskweave.tasks t
   where t.id = any (p_dependent_task_ids);
  if v_found < v_count then
    select d.id into v_bad
      from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
      left join taskweave.tasks t on t.id = d.id
     where t.id is null
     order by d.ord limit 1;
    raise exception 'dependency % does not exist', v_bad.id using errcode = '22023';
  end if;
  if v_not_parallel > 0 then
    select d.id into v_bad
      from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
      join taskweave.tasks t on t.id = d.id
     where not t.is_parallel_task
     order by d.ord limit 1;
    raise exception 'dependency % is not a parallel task', v_bad.id using errcode = '22023';
  end if;
  if v_other_root > 0 then
    select d.id, t.root_task_id into v_bad
      from unnest(p_dependent_task_ids) with ordinality as d(id, ord)
      join taskweave.tasks t on t.id = d.id
     where t.root_task_id <> v_parent.root_task_id
     order by d.ord limit 1;
    raise exception 'dependency % belongs to root task %, not to root task %', v_bad.id, v_bad.root_task_id, v_parent.root_task_id
      using errcode = '22023';
  end if;
  v_open := coalesce(cardinality(v_open_ids), 0);

  v_rank := taskweave_private.take_run_slot(v_parent.root_task_id);
  v_outcome := taskweave_private.join_outcome(v_open, v_completed, p_min_completed, v_wait_until);

  if p_min_completed is not null then
    -- a quorum is counted on one row: every completion must see the running total
    v_shards := 1;
  else
    -- enough shards that concurrent workers rarely meet on one counter row (a wait there costs a whole
    -- commit), and about eight dependencies per shard so few completions reach the aggregator row itself
    v_shards := least(128, greatest(1, v_open / 8))::smallint;
  end if;
  -- each open dependency's shard, in v_open_ids' order: the one place the hash is written
  select coalesce(array_agg((abs(hashtextextended(d.id::text, 0)) % v_shards)::smallint order by d.ord), '{}')
    into v_shard_of
    from unnest(v_open_ids) with ordinality d(id, ord);
  v_open_shards := case when v_outcome is not null then 0
                        else (select count(distinct s)::integer from unnest(v_shard_of) s) end;

  insert into taskweave.tasks (id, parent_task_id, root_task_id, title, instructions, input, status, is_parallel_task,
                               dependent_task_ids, min_completed, wait_until, activated_by, join_shards, join_open_shards,
                               tool_call_id, depth, max_attempts, claim_rank)
  values (v_id, p_parent_task_id, v_parent.root_task_id, btrim(p_title), p_instructions, '{}'::jsonb,
          case when v_outcome is null then 'queued' when v_completed > 0 then 'pending' else 'cancelled' end::taskweave.task_status,
          true, p_dependent_task_ids, p_min_completed, v_wait_until, v_outcome,
          case when v_outcome is null then v_shards else 0 end, v_open_shards, p_tool_call_id, v_parent.depth + 1,
          taskweave_private.setting_int('default_max_attempts', 3), v_rank)
  returning * into v_task;

  if v_open > 0 then
    insert into taskweave_private.aggregator_dependencies (dependency_task_id, aggregator_task_id, shard)
    select d.id, v_id, d.shard from unnest(v_open_ids, v_shard_of) d(id, shard);
  end if;

  if v_outcome is null then
    if p_min_completed is not null then
      insert into taskweave_private.aggregator_join_counters (aggregator_task_id, shard, remaining, completed)
      values (v_id, 0, v_open, v_completed);
    else
      insert into taskweave_private.aggregator_join_counters (aggregator_task_id, shard, remaining, completed)
      select v_id, s, count(*)::integer, 0
        from unnest(v_shard_of) s
       group by s;
      if v_completed > 0 then
        insert into taskweave_private.aggregator_join_counters (aggregator_task_id, shard, remaining, completed)
        values (v_id, -1, 0, v_completed);
      end if;
    end if;
  elsif v_open > 0 then
    -- a quorum already met at creation: the dependencies still open are not needed
    perform taskweave_private.cancel_unneeded_dependencies(v_task);
  end if;
  return v_task;
end;
$$;
comment on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) is
  'An aggregator over parallel tasks of the same run: queued until the join rule holds (every dependency ended, or '
  'p_min_completed of them completed, or p_wait_seconds passed), then pending, or cancelled when none completed. Rejects '
  '(22023, naming the id) an empty list, null or duplicate ids, unknown ids, tasks that are not parallel tasks, tasks of '
  'another root, and more than taskweave.max_aggregator_dependencies. Idempotent on (parent, tool call id) with the same '
  'arguments (TW006 with others); with p_worker only the holder of the parent''s lease may (TW001). Holds the run''s fan-in '
  'lock (fan_in_lock_key) while it counts, so no dependency ends unseen.';
revoke all on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) from public, anon, authenticated;
grant execute on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) to service_role;

-- replaced by the run's fan-in lock above, and by aggregator_dependencies.shard
drop function taskweave_private.lock_dependencies_for_share(uuid[]);
drop function taskweave_private.join_slot(uuid, smallint);
