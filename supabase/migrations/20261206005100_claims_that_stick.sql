-- Taskweave 0.3.0: what a claim decides stays decided, and shows in the history.
--
-- 1. A takeover is a transition of its own. Re-claiming a task whose lease expired moves it from running
--    to running, which the guard (it acts on status changes) lets pass without bookkeeping: the new
--    worker's lease left no task_events row and updated_at stood still, so a timeline never showed that a
--    worker died and another took over. claim_locked now writes both, with the worker that lost the task.
-- 2. An escalation sticks. claim_task on a task whose worker died on its last attempt escalated it (a
--    review, or failed) and then raised 55000, which rolled the escalation back: the task stayed running
--    with an expired lease and no review, and process-task's {"task_id"} answered a false 409. claim_task
--    now returns the escalated row (status needs_human_review or failed), and the caller runs nothing.

create or replace function taskweave_private.claim_locked(p_task taskweave.tasks, p_worker text, p_lease_seconds integer)
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
         lease_expires_at = now() + make_interval(secs => p_lease_seconds),
         -- a takeover keeps the status, so the guard does no bookkeeping for it
         updated_at = case when p_task.status = 'running' then now() else updated_at end
   where id = p_task.id
   returning * into v_task;
  if p_task.status = 'running' then
    -- the guard writes history only when the status changes; a takeover is recorded here
    insert into taskweave.task_events (task_id, event, from_status, to_status, actor, detail)
    values (v_task.id, 'lease_taken_over', 'running', 'running', p_worker,
            jsonb_build_object('attempt', v_task.attempt, 'leased_by', p_worker, 'previous_worker', p_task.leased_by,
                               'lease_expired_at', p_task.lease_expires_at));
  end if;
  return v_task;
end;
$$;
comment on function taskweave_private.claim_locked(taskweave.tasks, text, integer) is
  'Leases a locked, due task to the worker (attempt + 1). Taking over a task whose lease expired writes a lease_taken_over '
  'task_events row naming the previous worker and touches updated_at; a task whose holder died on its last attempt is '
  'escalated instead (returns null).';

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
    -- its last worker died on the last attempt: claim_locked escalated it, and that must commit; the row
    -- (needs_human_review or failed) tells the caller there is nothing to run
    select * into v_claimed from taskweave.tasks where id = p_task_id;
  end if;
  return v_claimed;
end;
$$;
comment on function taskweave.claim_task(uuid, text, integer) is
  'Leases one given task to the worker if it is due (pending and due, or running with an expired lease) and the running cap '
  'has room (TW005 otherwise); 55000 when it is not claimable, P0002 for an unknown id. A task whose last worker died on its '
  'last attempt is escalated instead (a review, or failed) and returned in that status: the caller runs only a running row. '
  'Used by process-task''s {"task_id"} mode.';
revoke all on function taskweave.claim_task(uuid, text, integer) from public, anon, authenticated;
grant execute on function taskweave.claim_task(uuid, text, integer) to service_role;
