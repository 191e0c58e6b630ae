-- Supabase's Security Advisor (`supabase db advisors --type security`) warns on every function without a
-- fixed search_path (function_search_path_mutable). These were left without a SET clause to save its cost
-- on the hot paths (a SET clause also keeps the planner from inlining a SQL function); each already names
-- only schema-qualified objects, so an empty search_path changes nothing they resolve. The advisor check in
-- `npm test` (tests/sql/supabase-shaped.test.ts) fails when a function without one comes back, for example
-- through a later `create or replace` without `set search_path = ''`.
alter function taskweave_private.guard_task_transition() set search_path = '';
alter function taskweave_private.is_due(taskweave.task_status, timestamptz, timestamptz) set search_path = '';
alter function taskweave_private.current_actor(text) set search_path = '';
alter function taskweave_private.set_actor(text) set search_path = '';
alter function taskweave_private.require_lease(taskweave.tasks, uuid, text) set search_path = '';
alter function taskweave_private.validate_worker(text) set search_path = '';
alter function taskweave_private.validate_seconds(text, integer, integer, integer) set search_path = '';
alter function taskweave_private.join_slot(uuid, smallint) set search_path = '';
alter function taskweave_private.join_outcome(integer, integer, integer, timestamptz) set search_path = '';
alter function taskweave_private.take_running_slots(integer) set search_path = '';
