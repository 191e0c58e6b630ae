-- Taskweave 0.2.0 baseline, part 4: leases and the worker API. Claims respect the running cap
-- (taskweave.max_running) and take runs in turn (claim_rank); model steps respect run limits and the
-- shared model rate limits (set_model_limits).

create function taskweave_private.running_cap_free()
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_cap integer := taskweave_private.setting_int('max_running', 100);
  v_running integer;
begin
  if v_cap <= 0 then
    return null; -- no cap
  end if;
  -- One claimer at a time counts and claims: the lock is held to commit, so the next claimer's count
  -- sees every task the previous one started, and the cap holds exactly across workers and paths.
  perform pg_advisory_xact_lock(hashtextextended('taskweave.max_running', 0));
  select count(*) into v_running from taskweave.tasks where status = 'running';
  return greatest(v_cap - v_running, 0);
end;
$$;
comment on function taskweave_private.running_cap_free() is
  'How many more tasks may start under taskweave.max_running (null: no cap). Serialises claimers until commit so the cap is exact.';

create function taskweave_private.claim_locked(p_task taskweave.tasks, p_worker text, p_lease_seconds integer)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
begin
  if p_task.status = 'running' and p_task.attempt >= p_task.max_attempts then
    -- the previous holder died on the last attempt: that counts as a failure, not a free extra try
    perform taskweave_private.escalate_failure(p_task, jsonb_build_object(
      'category', 'timeout',
      'message', format('worker "%s" stopped renewing its lease on attempt %s of %s', p_task.leased_by, p_task.attempt, p_task.max_attempts),
      'at', now()));
    return null;
  end if;
  update taskweave.tasks
     set status = 'running', attempt = attempt + 1, leased_by = p_worker,
         lease_expires_at = now() + make_interval(secs => p_lease_seconds)
   where id = p_task.id
   returning * into v_task;
  return v_task;
end;
$$;
comment on function taskweave_private.claim_locked(taskweave.tasks, text, integer) is
  'Leases a locked, due task to the worker (attempt + 1); a task whose holder died on its last attempt is escalated instead.';

create function taskweave.claim_tasks(p_worker text, p_limit integer default 1, p_lease_seconds integer default 300)
returns setof taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row taskweave.tasks;
  v_claimed taskweave.tasks;
  v_left integer := p_limit;
  v_free integer;
begin
  perform taskweave_private.validate_worker(p_worker);
  perform taskweave_private.validate_seconds('p_lease_seconds', p_lease_seconds, 1, 86400);
  perform taskweave_private.validate_seconds('p_limit', p_limit, 1, 1000);
  perform taskweave_private.set_actor(p_worker);
  v_free := taskweave_private.running_cap_free();

  -- tasks whose worker died first: they are already counted as running, so the cap does not bound them
  -- (lease_expires_at <= now() written out as well, so it bounds the index range of tasks_lease_expiry_idx:
  -- inlined, is_due is an OR the planner can only filter with, and every claim walked all running rows)
  for v_row in
    select * from taskweave.tasks t
     where t.status = 'running' and t.lease_expires_at <= now()
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

  v_left := least(v_left, coalesce(v_free, v_left));
  if v_left > 0 then
    -- runs take turns: a task's claim_rank is its place in its run, so a new run's first task (rank 0)
    -- goes before the rest of a wide run, and two wide runs interleave. One statement picks and leases
    -- them all (a pending task has no last-attempt case, so claim_locked's per-row call is not needed).
    return query
      with picked as (
        select t.id from taskweave.tasks t
         where t.status = 'pending' and taskweave_private.is_due(t.status, t.run_after, t.lease_expires_at)
         order by t.claim_rank, t.created_at
         limit v_left
         for update skip locked
      ), leased as (
        update taskweave.tasks t
           set status = 'running', attempt = t.attempt + 1, leased_by = p_worker,
               lease_expires_at = now() + make_interval(secs => p_lease_seconds)
          from picked
         where t.id = picked.id
        returning t.*
      )
      select * from leased order by leased.claim_rank, leased.created_at;
  end if;
  return;
end;
$$;
comment on function taskweave.claim_tasks(text, integer, integer) is
  'Leases up to p_limit due tasks to the worker: running tasks whose lease expired, then pending tasks in run-fair order '
  '(claim_rank, then age), never more than taskweave.max_running running at once. FOR UPDATE SKIP LOCKED, so concurrent '
  'workers never get the same task. Attempt + 1 each.';
revoke all on function taskweave.claim_tasks(text, integer, integer) from public, anon, authenticated;
grant execute on function taskweave.claim_tasks(text, integer, integer) to service_role;

create function taskweave.claim_task(p_task_id uuid, p_worker text, p_lease_seconds integer default 300)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row taskweave.tasks;
  v_claimed taskweave.tasks;
  v_free integer;
begin
  perform taskweave_private.validate_worker(p_worker);
  perform taskweave_private.validate_seconds('p_lease_seconds', p_lease_seconds, 1, 86400);
  perform taskweave_private.set_actor(p_worker);
  v_free := taskweave_private.running_cap_free();
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
  if v_row.status = 'pending' and v_free = 0 then
    raise exception 'the running cap is reached: % tasks run at once (taskweave.max_running)', taskweave_private.setting_int('max_running', 100)
      using errcode = 'TW005', hint = 'The task stays pending; a dispatcher claims it when a running task ends.';
  end if;
  v_claimed := taskweave_private.claim_locked(v_row, p_worker, p_lease_seconds);
  if v_claimed.id is null then
    raise exception 'task % ran out of attempts when its last worker stopped; it was escalated', p_task_id using errcode = '55000';
  end if;
  return v_claimed;
end;
$$;
comment on function taskweave.claim_task(uuid, text, integer) is
  'Leases one given task to the worker if it is due (pending and due, or running with an expired lease) and the running cap '
  'has room (TW005 otherwise); 55000 when it is not claimable, P0002 for an unknown id. Used by process-task''s {"task_id"} mode.';
revoke all on function taskweave.claim_task(uuid, text, integer) from public, anon, authenticated;
grant execute on function taskweave.claim_task(uuid, text, integer) to service_role;

create function taskweave.heartbeat_task(p_task_id uuid, p_worker text, p_lease_seconds integer default 300)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
begin
  perform taskweave_private.validate_seconds('p_lease_seconds', p_lease_seconds, 1, 86400);
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  update taskweave.tasks set lease_expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
   where id = p_task_id returning * into v_task;
  return v_task;
end;
$$;
comment on function taskweave.heartbeat_task(uuid, text, integer) is
  'Extends the lease of a running task the worker holds; raises TW001 for a worker that no longer holds it (expired, reclaimed, cancelled).';
revoke all on function taskweave.heartbeat_task(uuid, text, integer) from public, anon, authenticated;
grant execute on function taskweave.heartbeat_task(uuid, text, integer) to service_role;

create function taskweave.complete_task(p_task_id uuid, p_worker text, p_output jsonb)
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
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  perform taskweave_private.set_actor(p_worker);
  update taskweave.tasks set status = 'completed', output = p_output where id = p_task_id returning * into v_task;
  return v_task;
end;
$$;
comment on function taskweave.complete_task(uuid, text, jsonb) is
  'Completes a running task with its output. Only the worker holding the lease may; a stale worker gets TW001 and changes nothing.';
revoke all on function taskweave.complete_task(uuid, text, jsonb) from public, anon, authenticated;
grant execute on function taskweave.complete_task(uuid, text, jsonb) to service_role;

create function taskweave.fail_task(p_task_id uuid, p_worker text, p_error jsonb, p_retryable boolean default true)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_delay integer;
begin
  if p_error is null or jsonb_typeof(p_error) <> 'object' then
    raise exception 'p_error must be a JSON object such as {"category": "model", "message": "..."} (got %)',
      coalesce(jsonb_typeof(p_error), 'null') using errcode = '22023';
  end if;
  if p_retryable is null then
    raise exception 'p_retryable must not be null' using errcode = '22023';
  end if;
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  perform taskweave_private.set_actor(p_worker);
  if p_retryable and v_task.attempt < v_task.max_attempts then
    v_delay := least(
      taskweave_private.setting_int('retry_max_seconds', 600),
      taskweave_private.setting_int('retry_base_seconds', 10) * power(2, greatest(v_task.attempt - 1, 0))::integer);
    update taskweave.tasks
       set status = 'pending', last_error = p_error, run_after = now() + make_interval(secs => v_delay)
     where id = p_task_id
     returning * into v_task;
    return v_task;
  end if;
  return taskweave_private.escalate_failure(v_task, p_error || jsonb_build_object('attempt', v_task.attempt, 'max_attempts', v_task.max_attempts));
end;
$$;
comment on function taskweave.fail_task(uuid, text, jsonb, boolean) is
  'Records a failed attempt. Retryable with attempts left: back to pending after exponential backoff '
  '(taskweave.retry_base_seconds * 2^(attempt-1), at most taskweave.retry_max_seconds). Otherwise a parallel task '
  'goes to needs_human_review with one open review holding the error, and any other task to failed.';
revoke all on function taskweave.fail_task(uuid, text, jsonb, boolean) from public, anon, authenticated;
grant execute on function taskweave.fail_task(uuid, text, jsonb, boolean) to service_role;

create function taskweave.release_task(p_task_id uuid, p_worker text, p_delay_seconds integer default 0, p_rate_limited boolean default false)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_bound integer := taskweave_private.setting_int('max_idle_releases', 3);
begin
  perform taskweave_private.validate_seconds('p_delay_seconds', p_delay_seconds, 0, 86400);
  if p_rate_limited is null then
    raise exception 'p_rate_limited must not be null' using errcode = '22023';
  end if;
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  perform taskweave_private.set_actor(p_worker);
  if not p_rate_limited and v_task.idle_releases >= v_bound then
    -- a model slower than the invocation's budget would otherwise be released and re-run forever
    return taskweave_private.escalate_failure(v_task, jsonb_build_object(
      'category', 'timeout',
      'message', format('released %s times in a row without saving a model step (taskweave.max_idle_releases = %s): '
                        'the model does not answer within one invocation''s budget', v_task.idle_releases + 1, v_bound),
      'releases', v_task.idle_releases + 1,
      'at', now()));
  end if;
  update taskweave.tasks
     set status = 'pending', attempt = greatest(attempt - 1, 0), run_after = now() + make_interval(secs => p_delay_seconds),
         idle_releases = idle_releases + case when p_rate_limited then 0 else 1 end
   where id = p_task_id
   returning * into v_task;
  return v_task;
end;
$$;
comment on function taskweave.release_task(uuid, text, integer, boolean) is
  'Hands a running task back (pending, due after p_delay_seconds) without using up an attempt: the worker ran out of '
  'wall-clock budget or waits for a rate limit (p_rate_limited). Releases without a saved model step in between are counted; '
  'past taskweave.max_idle_releases the task fails with category timeout instead (rate-limit releases do not count).';
revoke all on function taskweave.release_task(uuid, text, integer, boolean) from public, anon, authenticated;
grant execute on function taskweave.release_task(uuid, text, integer, boolean) to service_role;

-- ---------------------------------------------------------------------------------------------
-- model steps: run limits and shared rate limits, checked right before every model request

create function taskweave_private.take_model_slot(p_model text, p_task_id uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_limit taskweave_private.model_limits;
  v_requests integer;
  v_tokens bigint;
  v_oldest timestamptz;
  v_wait_ms integer;
begin
  -- the model's row lock serialises its slot-takers, so the sliding window is exact across workers
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
$$;
comment on function taskweave_private.take_model_slot(text, uuid) is
  'Takes one request slot of a rate-limited model (a sliding one-minute window of requests and tokens); returns 0 when taken, '
  'else how many milliseconds until one frees. Models without limits always get 0.';

create function taskweave.begin_model_step(p_task_id uuid, p_worker text, p_model text)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_run taskweave.runs;
  v_reason text;
  v_wait_ms integer;
begin
  if p_model is null or char_length(btrim(p_model)) = 0 or char_length(p_model) > 200 then
    raise exception 'p_model must be a non-empty model name of at most 200 characters' using errcode = '22023';
  end if;
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  -- a cancelled task has lost its lease: the worker stops before its next model request
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  select * into v_run from taskweave.runs where root_task_id = v_task.root_task_id;
  v_reason := taskweave_private.run_limit_reached(v_run, false);
  if v_reason is not null then
    raise exception 'run limit reached: %; no model step may start in run %', v_reason, v_task.root_task_id
      using errcode = 'TW004',
            hint = 'An operator can raise the limits with taskweave.set_run_limits, then retry the task.';
  end if;
  v_wait_ms := taskweave_private.take_model_slot(p_model, p_task_id);
  if v_wait_ms > 0 then
    update taskweave.tasks set model_wait_until = now() + make_interval(secs => v_wait_ms / 1000.0) where id = p_task_id;
  elsif v_task.model_wait_until is not null then
    update taskweave.tasks set model_wait_until = null where id = p_task_id;
  end if;
  return jsonb_build_object('wait_ms', v_wait_ms);
end;
$$;
comment on function taskweave.begin_model_step(uuid, text, text) is
  'Called by the worker right before every model request. TW001 when the worker lost the lease (expired, reclaimed, '
  'cancelled); TW004 when the run is past its deadline or max_tokens; else {"wait_ms": 0} with a rate-limit slot taken, or '
  '{"wait_ms": n} when the model''s limits (set_model_limits) leave no slot for n ms (tasks.model_wait_until shows it).';
revoke all on function taskweave.begin_model_step(uuid, text, text) from public, anon, authenticated;
grant execute on function taskweave.begin_model_step(uuid, text, text) to service_role;

revoke all on function
  taskweave_private.running_cap_free(),
  taskweave_private.claim_locked(taskweave.tasks, text, integer),
  taskweave_private.take_model_slot(text, uuid)
  from public, anon, authenticated;
grant execute on function
  taskweave_private.running_cap_free(),
  taskweave_private.claim_locked(taskweave.tasks, text, integer),
  taskweave_private.take_model_slot(text, uuid)
  to service_role;
