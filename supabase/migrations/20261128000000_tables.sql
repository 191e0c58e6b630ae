-- Taskweave 0.2.0 baseline, part 1: schemas, the status enum, tables, indexes, RLS and the operator check.
-- Taskweave keeps to its own schemas: `taskweave` (tables and the SQL API, exposed through the Data API)
-- and `taskweave_private` (internals, never exposed). Nothing in `public` or in any schema Taskweave did
-- not create is created, altered, granted or revoked. Both schemas are created without `if not exists`:
-- a project that already has a schema of that name gets an error instead of having it adopted.

create schema taskweave;
comment on schema taskweave is 'Taskweave: coordination of parallel LLM agent tasks. Tables and the SQL API; exposed through the Data API.';
create schema taskweave_private;
comment on schema taskweave_private is 'Taskweave internals: helpers, counters, rate limits and dispatch. Never exposed through the Data API.';

-- the API roles reach the schemas; what they may do inside is granted object by object (and RLS decides rows)
grant usage on schema taskweave to authenticated, service_role;
-- policies call taskweave_private.is_operator(), so signed-in users need to reach that one function
grant usage on schema taskweave_private to authenticated, service_role;

create type taskweave.task_status as enum (
  'pending', 'queued', 'running', 'needs_human_review', 'completed', 'failed', 'cancelled'
);
comment on type taskweave.task_status is
  'A task''s place in the state machine (DESIGN.md section 2). The allowed moves are taskweave_private.next_statuses().';

create table taskweave.tasks (
  id uuid primary key default gen_random_uuid(),
  parent_task_id uuid references taskweave.tasks (id) on delete cascade,
  root_task_id uuid not null references taskweave.tasks (id) on delete cascade,
  title text not null,
  instructions text not null,
  input jsonb not null default '{}'::jsonb,
  status taskweave.task_status not null default 'pending',
  is_parallel_task boolean not null default false,
  dependent_task_ids uuid[] not null default '{}',
  min_completed integer,
  wait_until timestamptz,
  activated_by text,
  join_slots smallint not null default 0,
  join_open_slots smallint not null default 0,
  output jsonb,
  last_error jsonb,
  cancel_reason text,
  attempt integer not null default 0,
  max_attempts integer not null default 3,
  run_after timestamptz not null default now(),
  leased_by text,
  lease_expires_at timestamptz,
  idle_releases integer not null default 0,
  model_wait_until timestamptz,
  usage jsonb not null default '{"input_tokens": 0, "output_tokens": 0, "model_steps": 0}'::jsonb,
  claim_rank integer not null default 0,
  tool_call_id text,
  depth integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  constraint tasks_title_check check (char_length(btrim(title)) between 1 and 500),
  constraint tasks_instructions_check check (char_length(instructions) <= 200000),
  constraint tasks_input_is_object check (jsonb_typeof(input) = 'object'),
  constraint tasks_attempts_check check (attempt >= 0 and max_attempts between 1 and 100),
  constraint tasks_root_check check ((parent_task_id is null) = (root_task_id = id)),
  constraint tasks_lease_check check ((status = 'running') = (leased_by is not null and lease_expires_at is not null)),
  constraint tasks_queued_is_aggregator check (status <> 'queued' or cardinality(dependent_task_ids) > 0),
  constraint tasks_min_completed_check check (min_completed is null or min_completed between 1 and cardinality(dependent_task_ids)),
  constraint tasks_activated_by_check check (activated_by in ('dependencies', 'quorum', 'deadline'))
);

comment on table taskweave.tasks is
  'One unit of agent work. Roots come from create_task; parallel tasks and aggregators from the agent''s tools. '
  'Status moves only through the SQL API and triggers; taskweave_private.guard_task_transition enforces the allowed moves.';
comment on column taskweave.tasks.root_task_id is 'The root of this task''s tree (itself for a root): the run it belongs to.';
comment on column taskweave.tasks.is_parallel_task is 'Created by create_parallel_task or create_aggregator_task: a failure stops in needs_human_review instead of failed.';
comment on column taskweave.tasks.dependent_task_ids is 'For an aggregator: the tasks it waits for, in the order their results are shown to it. Empty for other tasks.';
comment on column taskweave.tasks.min_completed is 'For an aggregator: activate as soon as this many dependencies completed (quorum); null waits for all to end.';
comment on column taskweave.tasks.wait_until is 'For an aggregator: activate at this time with whatever has completed (a join deadline); null waits without limit.';
comment on column taskweave.tasks.activated_by is 'For an aggregator that left queued: dependencies (all ended), quorum or deadline.';
comment on column taskweave.tasks.join_slots is 'For an aggregator: how many counter slots in taskweave_private.aggregator_join_counters its open dependencies are hashed into.';
comment on column taskweave.tasks.join_open_slots is 'For a queued aggregator: how many of its counter slots still have open dependencies; the slot that takes it to zero activates the aggregator.';
comment on column taskweave.tasks.last_error is 'The most recent failure given to fail_task: {category, message, ...}; category is model, tool, timeout, internal, budget or rate_limit.';
comment on column taskweave.tasks.cancel_reason is 'Why the task was cancelled: the operator''s note, or the early activation of an aggregator that no longer needed it.';
comment on column taskweave.tasks.attempt is 'Claims so far in this round; claim_tasks adds one, an operator''s retry starts a new round at zero.';
comment on column taskweave.tasks.run_after is 'A pending task is not claimed before this time (retry backoff, release delay).';
comment on column taskweave.tasks.leased_by is 'The worker that holds a running task; only it may heartbeat, complete or fail it.';
comment on column taskweave.tasks.lease_expires_at is 'After this a running task may be claimed again by any worker.';
comment on column taskweave.tasks.idle_releases is 'Releases since the last saved model step; past taskweave.max_idle_releases the task fails with category timeout.';
comment on column taskweave.tasks.model_wait_until is 'While set and in the future, the task waits for a model rate-limit slot (set_model_limits).';
comment on column taskweave.tasks.usage is 'Tokens of this task''s model steps: {"input_tokens", "output_tokens", "model_steps"}.';
comment on column taskweave.tasks.claim_rank is 'The task''s place in its run (0 for the root). Claims serve lower ranks first, so runs take turns: a wide run cannot starve a new one.';
comment on column taskweave.tasks.tool_call_id is 'The LLM tool call that created this task; with parent_task_id it makes the creating tools idempotent.';
comment on column taskweave.tasks.depth is 'Nesting depth: 0 for a root, parent depth + 1 for a child.';

-- claiming walks only pending rows, in run-fair order (claim_rank), oldest first within a rank
create index tasks_claimable_idx on taskweave.tasks (claim_rank, created_at) where status = 'pending';
-- the lease sweep and the running cap walk only running rows
create index tasks_lease_expiry_idx on taskweave.tasks (lease_expires_at) where status = 'running';
-- join deadlines to sweep
create index tasks_join_deadline_idx on taskweave.tasks (wait_until) where status = 'queued' and wait_until is not null;
-- which aggregators list a task (review page, ad-hoc queries); the trigger uses taskweave_private.aggregator_dependencies
create index tasks_dependent_task_ids_idx on taskweave.tasks using gin (dependent_task_ids) where cardinality(dependent_task_ids) > 0;
create index tasks_parent_task_id_idx on taskweave.tasks (parent_task_id, created_at);
create index tasks_root_task_id_idx on taskweave.tasks (root_task_id, created_at);
create unique index tasks_tool_call_idx on taskweave.tasks (parent_task_id, tool_call_id) where tool_call_id is not null;
create index tasks_roots_recent_idx on taskweave.tasks (created_at desc) where parent_task_id is null;

alter table taskweave.tasks enable row level security;

create table taskweave.runs (
  root_task_id uuid primary key references taskweave.tasks (id) on delete cascade,
  max_tasks integer,
  max_tokens bigint,
  deadline_at timestamptz,
  task_count integer not null default 1,
  input_tokens bigint not null default 0,
  output_tokens bigint not null default 0,
  model_steps integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint runs_max_tasks_check check (max_tasks is null or max_tasks >= 1),
  constraint runs_max_tokens_check check (max_tokens is null or max_tokens >= 1)
);
comment on table taskweave.runs is
  'One row per run (root task): its limits (create_task p_limits, set_run_limits) and what it has used. '
  'A run at a limit starts no new model step and creates no task.';
comment on column taskweave.runs.task_count is 'Tasks created in the run, the root included.';
comment on column taskweave.runs.max_tokens is 'Input plus output tokens of every model step in the run; null is no limit.';

alter table taskweave.runs enable row level security;

create table taskweave.human_reviews (
  id uuid primary key default gen_random_uuid(),
  task_id uuid not null references taskweave.tasks (id) on delete cascade,
  status text not null default 'open',
  error jsonb not null default '{}'::jsonb,
  action text,
  manual_output jsonb,
  note text,
  resolved_by text,
  resolved_at timestamptz,
  created_at timestamptz not null default now(),
  constraint human_reviews_status_check check (status in ('open', 'resolved')),
  constraint human_reviews_action_check check (action in ('retry', 'abort', 'manual')),
  constraint human_reviews_resolution_check check (
    (status = 'open' and action is null and resolved_at is null)
    or (status = 'resolved' and action is not null and resolved_at is not null)
  ),
  constraint human_reviews_manual_check check ((action = 'manual') = (manual_output is not null))
);
comment on table taskweave.human_reviews is
  'A parallel task that could not go on waits here for an operator: retry, abort or a hand-written output (resolve_review).';
comment on column taskweave.human_reviews.error is 'The failure that stopped the task, as given to fail_task.';
comment on column taskweave.human_reviews.resolved_by is 'Who resolved it: the operator''s email, else their user id, else the database role.';

create unique index human_reviews_one_open_per_task_idx on taskweave.human_reviews (task_id) where status = 'open';
create index human_reviews_open_queue_idx on taskweave.human_reviews (created_at, id) where status = 'open';
create index human_reviews_resolved_idx on taskweave.human_reviews (resolved_at desc, id) where status = 'resolved';
create index human_reviews_task_id_idx on taskweave.human_reviews (task_id);

alter table taskweave.human_reviews enable row level security;

create table taskweave.task_events (
  id bigint generated always as identity primary key,
  task_id uuid not null references taskweave.tasks (id) on delete cascade,
  event text not null,
  from_status taskweave.task_status,
  to_status taskweave.task_status,
  actor text,
  detail jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
comment on table taskweave.task_events is 'Append-only history: one row per task creation and status change, written by trigger with the actor where known.';
create index task_events_task_id_idx on taskweave.task_events (task_id, id);

alter table taskweave.task_events enable row level security;

create table taskweave.task_messages (
  id bigint generated always as identity primary key,
  task_id uuid not null references taskweave.tasks (id) on delete cascade,
  seq integer not null,
  role text not null,
  content jsonb not null,
  usage jsonb,
  created_at timestamptz not null default now(),
  constraint task_messages_role_check check (role in ('system', 'user', 'assistant', 'tool')),
  constraint task_messages_seq_unique unique (task_id, seq)
);
comment on table taskweave.task_messages is 'Each task''s LLM transcript in order: model steps and tool results, saved before the next step so a killed run resumes.';
comment on column taskweave.task_messages.usage is 'For a model step: {"input_tokens", "output_tokens"} as the provider reported them.';

alter table taskweave.task_messages enable row level security;

-- ---------------------------------------------------------------------------------------------
-- internals

create table taskweave_private.aggregator_join_counters (
  aggregator_task_id uuid not null references taskweave.tasks (id) on delete cascade,
  slot smallint not null,
  remaining integer not null,
  completed integer not null default 0,
  primary key (aggregator_task_id, slot),
  constraint aggregator_join_counters_remaining_check check (remaining >= 0)
);
comment on table taskweave_private.aggregator_join_counters is
  'Sharded countdown of an aggregator''s open dependencies. A dependency that ends decrements one slot (chosen by a hash of its id), '
  'so concurrent completions rarely touch the same row and the cost per completion does not grow with the number of dependencies. '
  'Only a slot reaching zero touches the aggregator row (tasks.join_open_slots). Slot -1, when present, holds the dependencies '
  'that had already completed when the aggregator was created. A quorum aggregator has one slot, which counts completions too.';

create table taskweave_private.aggregator_dependencies (
  dependency_task_id uuid not null references taskweave.tasks (id) on delete cascade,
  aggregator_task_id uuid not null references taskweave.tasks (id) on delete cascade,
  primary key (dependency_task_id, aggregator_task_id)
);
comment on table taskweave_private.aggregator_dependencies is
  'Which aggregators wait for a task, one row per dependency that was open when the aggregator was made. The fan-in trigger '
  'looks a dependency up here by primary key; looking it up in tasks.dependent_task_ids would read the aggregator''s whole array.';
create index aggregator_dependencies_aggregator_idx on taskweave_private.aggregator_dependencies (aggregator_task_id);

create table taskweave_private.pending_cancellations (
  task_id uuid primary key references taskweave.tasks (id) on delete cascade,
  reason text not null,
  created_at timestamptz not null default now()
);
comment on table taskweave_private.pending_cancellations is
  'Dependencies an early join (quorum, deadline) must cancel but could not lock at that moment (a worker was mid-call on them); '
  'taskweave_private.sweep() cancels them. Cancelling them inline would wait on rows whose holders wait on our counter row.';

create table taskweave_private.model_limits (
  model text primary key,
  requests_per_minute integer not null,
  tokens_per_minute integer,
  updated_at timestamptz not null default now(),
  constraint model_limits_rpm_check check (requests_per_minute >= 1),
  constraint model_limits_tpm_check check (tokens_per_minute is null or tokens_per_minute >= 1)
);
comment on table taskweave_private.model_limits is 'Rate limits per model name, shared by every worker (set_model_limits).';

create table taskweave_private.model_requests (
  id bigint generated always as identity primary key,
  model text not null references taskweave_private.model_limits (model) on delete cascade,
  task_id uuid references taskweave.tasks (id) on delete set null,
  taken_at timestamptz not null default now(),
  tokens integer not null default 0
);
comment on table taskweave_private.model_requests is
  'Sliding one-minute log of model requests (and their tokens, once known) for models with limits; rows older than a minute are pruned.';
create index model_requests_window_idx on taskweave_private.model_requests (model, taken_at);
create index model_requests_task_idx on taskweave_private.model_requests (task_id, id);

create table taskweave_private.dispatch_requests (
  request_id bigint primary key,
  sent_at timestamptz not null default now()
);
comment on table taskweave_private.dispatch_requests is
  'Hosted dispatch: pg_net requests sent to process-task; one without a response in net._http_response is in flight.';

alter table taskweave_private.aggregator_join_counters enable row level security;
alter table taskweave_private.aggregator_dependencies enable row level security;
alter table taskweave_private.pending_cancellations enable row level security;
alter table taskweave_private.model_limits enable row level security;
alter table taskweave_private.model_requests enable row level security;
alter table taskweave_private.dispatch_requests enable row level security;

-- Writes happen only through the SQL API. service_role is the workers' role (it bypasses RLS); operators
-- (authenticated with the operator claim) read through the policies below; anon gets nothing.
revoke all on taskweave.tasks, taskweave.runs, taskweave.human_reviews, taskweave.task_events, taskweave.task_messages
  from public, anon, authenticated;
grant select on taskweave.tasks, taskweave.runs, taskweave.human_reviews, taskweave.task_events, taskweave.task_messages
  to authenticated;
grant select, insert, update, delete on taskweave.tasks, taskweave.runs, taskweave.human_reviews, taskweave.task_events,
  taskweave.task_messages to service_role;
revoke all on taskweave_private.aggregator_join_counters, taskweave_private.aggregator_dependencies,
  taskweave_private.pending_cancellations, taskweave_private.model_limits, taskweave_private.model_requests,
  taskweave_private.dispatch_requests from public, anon, authenticated;
grant select, insert, update, delete on taskweave_private.aggregator_join_counters, taskweave_private.aggregator_dependencies,
  taskweave_private.pending_cancellations, taskweave_private.model_limits, taskweave_private.model_requests,
  taskweave_private.dispatch_requests to service_role;

-- ---------------------------------------------------------------------------------------------
-- who is calling, and whether they are an operator

create function taskweave_private.caller_role()
returns text
language sql
stable
set search_path = ''
as $$
  -- the role GUC survives a security definer switch (current_user does not): it names the API role
  -- PostgREST (or our web app) set for this request; a direct login without SET ROLE is its login role
  select coalesce(nullif(current_setting('role', true), 'none'), session_user::text)
$$;
comment on function taskweave_private.caller_role() is
  'The role the request runs as (anon, authenticated, service_role, or a direct login such as postgres), even inside a security definer function.';

create function taskweave_private.is_operator()
returns boolean
language sql
stable
set search_path = ''
as $$
  -- an allow-list, never a deny-list: a custom role that inherits authenticated is not an operator
  select coalesce((select auth.jwt()) -> 'app_metadata' ->> 'role' = 'operator', false)
      or taskweave_private.caller_role() = 'service_role'
      or exists (
        select 1
          from pg_catalog.pg_roles r, pg_catalog.pg_namespace n
         where r.rolname = taskweave_private.caller_role()
           and n.nspname = 'taskweave'
           and (r.rolsuper or r.oid = n.nspowner)
      )
$$;
comment on function taskweave_private.is_operator() is
  'True for an operator (JWT app_metadata.role = operator), for service_role, and for the role that owns the taskweave schema '
  '(the migrating role, e.g. postgres on SUPABASE_DB_URL) or a superuser. False for everyone else, including custom roles '
  'that inherit authenticated.';
revoke all on function taskweave_private.caller_role(), taskweave_private.is_operator() from public, anon;
grant execute on function taskweave_private.caller_role(), taskweave_private.is_operator() to authenticated, service_role;

create policy "operators read tasks" on taskweave.tasks
  for select to authenticated using ((select taskweave_private.is_operator()));
create policy "operators read runs" on taskweave.runs
  for select to authenticated using ((select taskweave_private.is_operator()));
create policy "operators read reviews" on taskweave.human_reviews
  for select to authenticated using ((select taskweave_private.is_operator()));
create policy "operators read events" on taskweave.task_events
  for select to authenticated using ((select taskweave_private.is_operator()));
create policy "operators read messages" on taskweave.task_messages
  for select to authenticated using ((select taskweave_private.is_operator()));

-- ---------------------------------------------------------------------------------------------
-- settings: custom GUCs, e.g. `alter database postgres set taskweave.max_running = 20`

create function taskweave_private.setting_int(p_name text, p_default integer)
returns integer
language sql
stable
-- no SET clause: read on every claim, and a SET clause costs a GUC save/restore per call and keeps the
-- planner from inlining it; it names only built-ins, as pg_catalog.*
as $$
  select coalesce(nullif(pg_catalog.current_setting('taskweave.' || p_name, true), '')::pg_catalog.int4, p_default)
$$;
comment on function taskweave_private.setting_int(text, integer) is
  'A Taskweave limit from the GUC taskweave.<name> (set per database or session), else the default. Names and defaults: '
  'max_running (100; 0 = no cap), max_aggregator_dependencies (10000), max_children_per_task (100), max_depth (5), '
  'retry_base_seconds (10), retry_max_seconds (600), default_max_attempts (3), default_max_tasks (1000), '
  'default_max_tokens (2000000), default_deadline_seconds (86400), max_idle_releases (3).';
revoke all on function taskweave_private.setting_int(text, integer) from public, anon, authenticated;
grant execute on function taskweave_private.setting_int(text, integer) to service_role;
