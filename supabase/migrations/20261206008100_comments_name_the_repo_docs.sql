-- Two comments of the 0.2.0 baseline sent readers to a design document outside this repository; the
-- contracts are in docs/contracts.md now. Comments only: nothing else changes.
comment on type taskweave.task_status is
  'A task''s place in the state machine (docs/contracts.md section 1). The allowed moves are taskweave_private.next_statuses().';
comment on function taskweave_private.next_statuses(taskweave.task_status) is
  'The statuses a task may move to from p_from (docs/contracts.md section 1). completed, failed and cancelled are terminal.';
