-- Taskweave 0.3.0: names that mean one thing (issue 22, item 8). "Slot" is a place under the running cap
-- (take_running_slots, tasks.running_slot, the hosted dispatch_slots it bounds) and nothing else: counting a
-- new task against its run's limits is not taking a slot, and a rate-limited model hands out requests of a
-- sliding one-minute window (taskweave_private.model_requests), not slots.
--
-- take_run_slot -> count_task_in_run, take_model_slot -> take_model_request. plpgsql records no dependency
-- on a function it calls, so each caller is re-created here with the new name (bodies as
-- supabase/schema.sql had them, otherwise unchanged) before the old functions go.

create function taskweave_private.count_task_in_run(p_root_task_id uuid)
returns integer
language plpgsql
set search_path = ''
as $function$
declare
  v_run taskweave.runs;
  v_reason text;
begin
  -- the run row lock serialises the run's creations, so max_tasks holds under concurrency
  select * into v_run from taskweave.runs where root_task_id = p_root_task_id for update;
  v_reason := taskweave_private.run_limit_reached(v_run, true);
  if v_reason is not null then
    raise exception 'run limit reached: %; no task can be created in run %', v_reason, p_root_task_id
      using errcode = 'TW004',
            hint = 'Finish the work with the tasks that exist. An operator can raise the limits with taskweave.set_run_limits.';
  end if;
  update taskweave.runs set task_count = task_count + 1, updated_at = now() where root_task_id = p_root_task_id;
  -- the new task's claim_rank: its place in the run
  return v_run.task_count;
end;
$function$;

comment on function taskweave_private.count_task_in_run(uuid) is
  'Counts a new task against its run''s limits (TW004 when the run is at one) and returns the task''s place in '
  'the run (claim_rank).';

revoke all on function taskweave_private.count_task_in_run(uuid) from public, anon, authenticated;
grant execute on function taskweave_private.count_task_in_run(uuid) to service_role;

create function taskweave_private.take_model_request(p_model text, p_task_id uuid)
returns integer
language plpgsql
set search_path = ''
as $function$
declare
  v_limit taskweave_private.model_limits;
  v_requests integer;
  v_tokens bigint;
  v_oldest timestamptz;
  v_wait_ms integer;
begin
  -- the model's row lock serialises the requests taken of it, so the sliding window is exact across workers
  select * into v_limit from taskweave_private.model_limits where model = p_model for update;
  if not found then
    return 0;
  end if;
  delete from taskweave_private.model_requests where model = p_model and taken_at <= now() - interval '1 minute';
  select count(*), coalesce(sum(tokens), 0), min(taken_at) into v_requests, v_tokens, v_oldest
    from taskweave_private.model_requests where model = p_model;
  if v_requests >= v_limit.requests_per_minute
     or (v_limit.tokens_per_minute is not null and v_tokens >= v_limit.tokens_per_minute) then
    -- the oldest entry leaves the window first
    v_wait_ms := ceil(extract(epoch from (v_oldest + interval '1 minute' - now())) * 1000)::integer;
    return least(greatest(v_wait_ms, 50), 60000);
  end if;
  insert into taskweave_private.model_requests (model, task_id) values (p_model, p_task_id);
  return 0;
end;
$function$;

comment on function taskweave_private.take_model_request(text, uuid) is
  'Takes one request of a rate-limited model''s sliding one-minute window of requests and tokens (a row of '
  'model_requests); returns 0 when taken, else how many milliseconds until the window has room. Models without '
  'limits always get 0.';

revoke all on function taskweave_private.take_model_request(text, uuid) from public, anon, authenticated;
grant execute on function taskweave_private.take_model_request(text, uuid) to service_role;

create or replace function taskweave.begin_model_step(p_task_id uuid, p_worker text, p_model text, p_prompt_tokens bigint default null)
returns jsonb
language plpgsql
set search_path = ''
as $function$
declare
  v_task taskweave.tasks;
  v_run taskweave.runs;
  v_reason text;
  v_wait_ms integer;
  v_price taskweave.model_prices;
  v_prompt_cost numeric;
begin
  if p_model is null or char_length(btrim(p_model)) = 0 or char_length(p_model) > 200 then
    raise exception 'p_model must be a non-empty model name of at most 200 characters' using errcode = '22023';
  end if;
  if p_prompt_tokens < 0 or p_prompt_tokens > 1000000000000 then
    raise exception 'p_prompt_tokens must be an estimate from 0 to 1000000000000 tokens (got %)', p_prompt_tokens using errcode = '22023';
  end if;
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  -- a cancelled task has lost its lease: the worker stops before its next model request
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  select * into v_run from taskweave.runs where root_task_id = v_task.root_task_id;
  v_reason := taskweave_private.run_limit_reached(v_run, false);
  if v_reason is null and p_prompt_tokens is not null then
    -- the prompt is spent as soon as the request is sent: a step that would cross a limit is not sent
    if v_run.max_tokens is not null and v_run.input_tokens + v_run.output_tokens + p_prompt_tokens > v_run.max_tokens then
      v_reason := format('the step''s prompt of about %s tokens would take the run past its max_tokens = %s (used %s)',
                         p_prompt_tokens, v_run.max_tokens, v_run.input_tokens + v_run.output_tokens);
    elsif v_run.max_cost_usd is not null then
      v_price := taskweave_private.model_price(p_model);
      v_prompt_cost := coalesce(p_prompt_tokens * v_price.input_per_million / 1000000, 0);
      if v_run.cost_usd + v_prompt_cost > v_run.max_cost_usd then
        v_reason := format('the step''s prompt of about %s tokens (%s US dollars) would take the run past its max_cost_usd = %s (cost %s)',
                           p_prompt_tokens, round(v_prompt_cost, 6), v_run.max_cost_usd, round(v_run.cost_usd, 6));
      end if;
    end if;
  end if;
  if v_reason is not null then
    raise exception 'run limit reached: %; no model step may start in run %', v_reason, v_task.root_task_id
      using errcode = 'TW004',
            hint = 'An operator can raise the limits with taskweave.set_run_limits, then retry the task.';
  end if;
  v_wait_ms := taskweave_private.take_model_request(p_model, p_task_id);
  if v_wait_ms > 0 then
    update taskweave.tasks set model_wait_until = now() + make_interval(secs => v_wait_ms / 1000.0) where id = p_task_id;
  elsif v_task.model_wait_until is not null then
    update taskweave.tasks set model_wait_until = null where id = p_task_id;
  end if;
  return jsonb_build_object('wait_ms', v_wait_ms);
end;
$function$;

comment on function taskweave.begin_model_step(uuid, text, text, bigint) is
  'Called by the worker right before every model request. TW001 when the worker lost the lease (expired, '
  'reclaimed, cancelled); TW004 when the run is past its deadline, max_tokens or max_cost_usd, or when '
  'p_prompt_tokens (the worker''s estimate of the request''s prompt) would take it past max_tokens or, at the '
  'model''s input price, past max_cost_usd; else {"wait_ms": 0} with a request taken in the model''s rate-limit '
  'window (taskweave_private.take_model_request), or {"wait_ms": n} when the model''s limits (set_model_limits) '
  'leave no room in the window for n ms (tasks.model_wait_until shows it).';

revoke all on function taskweave.begin_model_step(uuid, text, text, bigint) from public, anon, authenticated;
grant execute on function taskweave.begin_model_step(uuid, text, text, bigint) to service_role;

create or replace function taskweave.create_parallel_task(p_parent_task_id uuid, p_title text, p_instructions text,
                                                          p_input jsonb default '{}'::jsonb, p_tool_call_id text default null,
                                                          p_worker text default null, p_agent text default null)
returns taskweave.tasks
language plpgsql
set search_path = ''
as $function$
declare
  v_parent taskweave.tasks;
  v_task taskweave.tasks;
  v_rank integer;
begin
  perform taskweave_private.validate_new_task(p_title, p_instructions, p_input);
  if char_length(p_tool_call_id) not between 1 and 200 then
    raise exception 'p_tool_call_id must be 1 to 200 characters (got %)', char_length(p_tool_call_id) using errcode = '22023';
  end if;
  v_parent := taskweave_private.lock_parent(p_parent_task_id, p_worker);
  if p_tool_call_id is not null then
    select * into v_task from taskweave.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      if cardinality(v_task.dependent_task_ids) > 0 or v_task.title <> btrim(p_title)
         or v_task.instructions <> p_instructions or v_task.input <> p_input or v_task.agent is distinct from p_agent then
        perform taskweave_private.tool_call_reused(p_parent_task_id, p_tool_call_id, v_task.id);
      end if;
      return v_task;
    end if;
  end if;
  perform taskweave_private.lock_agent(p_agent);
  perform taskweave_private.check_new_child(v_parent);
  v_rank := taskweave_private.count_task_in_run(v_parent.root_task_id);
  insert into taskweave.tasks (parent_task_id, root_task_id, title, instructions, input, status, is_parallel_task,
                               tool_call_id, depth, max_attempts, claim_rank, agent)
  values (p_parent_task_id, v_parent.root_task_id, btrim(p_title), p_instructions, p_input, 'pending', true,
          p_tool_call_id, v_parent.depth + 1, taskweave_private.setting_int('default_max_attempts', 3), v_rank, p_agent)
  returning * into v_task;
  return v_task;
end;
$function$;

comment on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text, text) is
  'A pending parallel child of the parent, in the same run, running as agent p_agent (null: the environment''s '
  'model; an unknown agent is 22023). The same (parent, tool call id) with the same arguments returns the '
  'existing task, with other arguments raises TW006, so a repeated LLM step never duplicates a child. With '
  'p_worker only the holder of the parent''s lease may (TW001). TW004 when the run is at a limit.';

revoke all on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text, text) from public, anon, authenticated;
grant execute on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text, text) to service_role;

create or replace function taskweave.create_aggregator_task(p_parent_task_id uuid, p_dependent_task_ids uuid[], p_title text,
                                                            p_instructions text, p_tool_call_id text default null,
                                                            p_worker text default null, p_min_completed integer default null,
                                                            p_wait_seconds integer default null)
returns taskweave.tasks
language plpgsql
set search_path = ''
as $function$
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

  v_rank := taskweave_private.count_task_in_run(v_parent.root_task_id);
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
$function$;

comment on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) is
  'An aggregator over parallel tasks of the same run: queued until the join rule holds (every dependency ended, '
  'or p_min_completed of them completed, or p_wait_seconds passed), then pending, or cancelled when none '
  'completed. Rejects (22023, naming the id) an empty list, null or duplicate ids, unknown ids, tasks that are '
  'not parallel tasks, tasks of another root, and more than taskweave.max_aggregator_dependencies. Idempotent on '
  '(parent, tool call id) with the same arguments (TW006 with others); with p_worker only the holder of the '
  'parent''s lease may (TW001). Holds the run''s fan-in lock (fan_in_lock_key) while it counts, so no dependency '
  'ends unseen.';

revoke all on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) from public, anon, authenticated;
grant execute on function taskweave.create_aggregator_task(uuid, uuid[], text, text, text, text, integer, integer) to service_role;

drop function taskweave_private.take_run_slot(uuid);
drop function taskweave_private.take_model_slot(text, uuid);

comment on column taskweave.tasks.model_wait_until is
  'While set and in the future, the task waits for room in its model''s rate-limit window (set_model_limits).';
