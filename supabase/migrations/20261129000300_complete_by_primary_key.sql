-- Taskweave 0.3.0: complete_task finds its task by primary key again.
--
-- 20261129000200 made complete_task one guarded UPDATE: "where id = p_task_id and status = 'running' and
-- leased_by = p_worker". Its status test matches the predicate of the partial indexes over running tasks,
-- and once plpgsql switched to a generic plan (from the sixth call of a session) the planner could pick
-- tasks_running_slot_idx and filter every running task, dead versions included, by id: a completion read
-- about 60 index entries and 45 heap tuples with 80 tasks running (pg_stat_user_indexes, `npm run
-- bench:engine` with claims of ten), and its cost grew with the number of running tasks.
--
-- leased_by is set exactly while a task runs (the tasks_lease_check constraint), so "leased_by = p_worker"
-- already means running, and without the status test no partial index is a candidate: the UPDATE is a
-- primary-key lookup whatever the statistics say. tests/sql/scale.test.ts checks that a completion reads no
-- index over running tasks.

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
  -- leased_by = p_worker implies status = 'running' (tasks_lease_check); no status test here, so the plan
  -- is the primary key's and never a scan of the running tasks
  update taskweave.tasks set status = 'completed', output = p_output
   where id = p_task_id and leased_by = p_worker
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
