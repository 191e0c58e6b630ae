-- Taskweave 0.3.0: a worker that finishes a task asks for its next one in the same transaction.
--
-- A worker's loop was two transactions per task, claim_tasks then complete_task, each with its own
-- round trip and commit. complete_and_claim completes the worker's task exactly as complete_task does
-- and claims at most one next task exactly as claim_tasks does (running cap, run-fair order, due), in
-- one transaction: one round trip and one commit per task in a busy worker. graphile-worker batches its
-- own completions for the same reason. Both halves are the functions themselves, so their rules have one
-- home each; the history is unchanged (the completion and the claim each write their task_events row).

create function taskweave.complete_and_claim(p_task_id uuid, p_worker text, p_output jsonb, p_lease_seconds integer default 300)
returns setof taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
begin
  -- checked before anything changes, so bad input fails without completing the task either
  perform taskweave_private.validate_worker(p_worker);
  perform taskweave_private.validate_seconds('p_lease_seconds', p_lease_seconds, 1, 86400);
  perform taskweave.complete_task(p_task_id, p_worker, p_output);
  -- the completed task's running slot is free again within this transaction, so it can go to the next task
  return query select * from taskweave.claim_tasks(p_worker, 1, p_lease_seconds);
end;
$$;
comment on function taskweave.complete_and_claim(uuid, text, jsonb, integer) is
  'Completes the worker''s running task exactly as complete_task does (TW001 for a worker that no longer holds the lease, '
  'P0002 for an unknown id, nothing changed) and, in the same transaction, claims at most one next task for the same worker '
  'exactly as claim_tasks(p_worker, 1, p_lease_seconds) does: zero rows when none is due or the running cap is full.';
revoke all on function taskweave.complete_and_claim(uuid, text, jsonb, integer) from public, anon, authenticated;
grant execute on function taskweave.complete_and_claim(uuid, text, jsonb, integer) to service_role;
