-- Taskweave 0.3.0: what nothing calls any more goes, and no comment describes what is gone.
--
-- running_cap_free() was the 0.2.0 running cap (one advisory lock around "count, then claim"); the running
-- slots of 20261129000200 replaced it and nothing has called it since.

drop function taskweave_private.running_cap_free();

-- The history's comments said "one row per status change, written by trigger" (the AFTER trigger
-- record_task_transition of 20261128000700, dropped in 20261129000200); a takeover is written by the claim.
comment on table taskweave.task_events is
  'Append-only history: one row per task creation, status change and lease takeover, with the actor where known.';
comment on column taskweave.task_events.event is
  'created or status_changed (written by the guard trigger taskweave_private.guard_task_transition), or lease_taken_over '
  '(a claim of a running task whose lease expired, written by taskweave_private.claim_locked: from_status and to_status are '
  'both running, detail.previous_worker names the worker that lost it).';
