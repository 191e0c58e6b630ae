-- Taskweave's tables: tasks (the coordination state), human_reviews (operator decisions),
-- task_events (append-only history) and task_messages (each task's LLM transcript).
-- Writes go only through the SQL API (next migration); RLS lets operators read.

create schema if not exists private;
comment on schema private is 'Taskweave internals: helpers the SQL API and policies use; not exposed through the Data API.';
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  parent_task_id uuid references public.tasks (id) on delete cascade,
  root_task_id uuid not null references public.tasks (id) on delete cascade,
  title text not null,
  instructions text not null,
  input jsonb not null default '{}'::jsonb,
  status text not null default 'pending',
  is_parallel_task boolean not null default false,
  dependent_task_ids uuid[] not null default '{}',
  join_slots smallint not null default 0,
  join_open_slots smallint not null default 0,
  output jsonb,
  last_error jsonb,
  attempt integer not null default 0,
  max_attempts integer not null default 3,
  run_after timestamptz not null default now(),
  leased_by text,
  lease_expires_at timestamptz,
  tool_call_id text,
  depth integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  constraint tasks_status_check check (
    status in ('pending', 'queued', 'running', 'needs_human_review', 'completed', 'failed', 'cancelled')
  ),
  constraint tasks_title_check check (char_length(btrim(title)) between 1 and 500),
  constraint tasks_instructions_check check (char_length(instructions) <= 200000),
  constraint tasks_input_is_object check (jsonb_typeof(input) = 'object'),
  constraint tasks_attempts_check check (attempt >= 0 and max_attempts between 1 and 100),
  constraint tasks_root_check check ((parent_task_id is null) = (root_task_id = id)),
  constraint tasks_lease_check check ((status = 'running') = (leased_by is not null and lease_expires_at is not null)),
  constraint tasks_queued_is_aggregator check (status <> 'queued' or cardinality(dependent_task_ids) > 0)
);

comment on table public.tasks is
  'One unit of agent work. Roots come from create_task; parallel tasks and aggregators from the agent''s tools. '
  'Status moves only through the SQL API and triggers; see DESIGN.md section 2.';
comment on column public.tasks.root_task_id is 'The root of this task''s tree (itself for a root).';
comment on column public.tasks.is_parallel_task is 'Created by create_parallel_task or create_aggregator_task: a failure stops in needs_human_review instead of failed.';
comment on column public.tasks.dependent_task_ids is 'For an aggregator: the tasks it waits for, in the order their results are shown to it. Empty for other tasks.';
comment on column public.tasks.join_slots is 'For an aggregator: how many counter slots in private.aggregator_join_counters its open dependencies are hashed into.';
comment on column public.tasks.join_open_slots is 'For a queued aggregator: how many of its counter slots still have open dependencies; the slot that takes it to zero activates the aggregator.';
comment on column public.tasks.last_error is 'The most recent failure given to fail_task: {category, message, provider?, ...}.';
comment on column public.tasks.attempt is 'Claims so far in this round; claim_tasks adds one, an operator''s retry starts a new round at zero.';
comment on column public.tasks.run_after is 'A pending task is not claimed before this time (retry backoff).';
comment on column public.tasks.leased_by is 'The worker that holds a running task; only it may heartbeat, complete or fail it.';
comment on column public.tasks.lease_expires_at is 'After this a running task may be claimed again by any worker.';
comment on column public.tasks.tool_call_id is 'The LLM tool call that created this task; with parent_task_id it makes the creating tools idempotent.';
comment on column public.tasks.depth is 'Nesting depth: 0 for a root, parent depth + 1 for a child.';

-- claiming due work walks only pending rows, oldest due first
create index tasks_claimable_idx on public.tasks (run_after, created_at) where status = 'pending';
-- the lease sweep walks only running rows
create index tasks_lease_expiry_idx on public.tasks (lease_expires_at) where status = 'running';
-- which aggregators list a task (review page, ad-hoc queries); the trigger uses private.aggregator_dependencies
-- partial: only aggregators have entries, so the far more frequent updates of other tasks never touch it
create index tasks_dependent_task_ids_idx on public.tasks using gin (dependent_task_ids) where cardinality(dependent_task_ids) > 0;
create index tasks_parent_task_id_idx on public.tasks (parent_task_id, created_at);
create index tasks_root_task_id_idx on public.tasks (root_task_id, created_at);
create unique index tasks_tool_call_idx on public.tasks (parent_task_id, tool_call_id) where tool_call_id is not null;
create index tasks_roots_recent_idx on public.tasks (created_at desc) where parent_task_id is null;

alter table public.tasks enable row level security;

create table private.aggregator_join_counters (
  aggregator_task_id uuid not null references public.tasks (id) on delete cascade,
  slot smallint not null,
  remaining integer not null,
  completed integer not null default 0,
  primary key (aggregator_task_id, slot),
  constraint aggregator_join_counters_remaining_check check (remaining >= 0)
);
comment on table private.aggregator_join_counters is
  'Sharded countdown of an aggregator''s open dependencies. A dependency that ends decrements one slot (chosen by a hash of its id), '
  'so concurrent completions rarely touch the same row and the cost per completion does not grow with the number of dependencies. '
  'Only a slot reaching zero touches the aggregator row (tasks.join_open_slots). Slot -1, when present, holds the dependencies '
  'that had already completed when the aggregator was created.';

create table private.aggregator_dependencies (
  dependency_task_id uuid not null references public.tasks (id) on delete cascade,
  aggregator_task_id uuid not null references public.tasks (id) on delete cascade,
  primary key (dependency_task_id, aggregator_task_id)
);
comment on table private.aggregator_dependencies is
  'Which queued aggregators wait for a task, one row per open dependency. The fan-in trigger looks a dependency up here by '
  'primary key; looking it up in tasks.dependent_task_ids would read the aggregator''s whole array (160 kB at 10,000 '
  'dependencies) for every completion.';
create index aggregator_dependencies_aggregator_idx on private.aggregator_dependencies (aggregator_task_id);

create table public.human_reviews (
  id uuid primary key default gen_random_uuid(),
  task_id uuid not null references public.tasks (id) on delete cascade,
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
comment on table public.human_reviews is
  'A parallel task that ran out of attempts waits here for an operator: retry, abort or a hand-written output (resolve_review).';
comment on column public.human_reviews.error is 'The failure that stopped the task, as given to fail_task.';
comment on column public.human_reviews.resolved_by is 'Who resolved it: the operator''s email, else their user id, else the database role.';

create unique index human_reviews_one_open_per_task_idx on public.human_reviews (task_id) where status = 'open';
create index human_reviews_open_queue_idx on public.human_reviews (created_at, id) where status = 'open';
create index human_reviews_resolved_idx on public.human_reviews (resolved_at desc, id) where status = 'resolved';
create index human_reviews_task_id_idx on public.human_reviews (task_id);

alter table public.human_reviews enable row level security;

create table public.task_events (
  id bigint generated always as identity primary key,
  task_id uuid not null references public.tasks (id) on delete cascade,
  event text not null,
  from_status text,
  to_status text,
  actor text,
  detail jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
comment on table public.task_events is 'Append-only history: one row per task creation and status change, written by trigger with the actor where known.';
create index task_events_task_id_idx on public.task_events (task_id, id);

alter table public.task_events enable row level security;

create table public.task_messages (
  id bigint generated always as identity primary key,
  task_id uuid not null references public.tasks (id) on delete cascade,
  seq integer not null,
  role text not null,
  content jsonb not null,
  created_at timestamptz not null default now(),
  constraint task_messages_role_check check (role in ('system', 'user', 'assistant', 'tool')),
  constraint task_messages_seq_unique unique (task_id, seq)
);
comment on table public.task_messages is 'Each task''s LLM transcript in order: model steps and tool results, saved before the next step so a killed run resumes.';

alter table public.task_messages enable row level security;

-- Writes happen only through the SQL API; the Data API roles get no direct write rights.
revoke all on public.tasks, public.human_reviews, public.task_events, public.task_messages from anon, authenticated;
grant select on public.tasks, public.human_reviews, public.task_events, public.task_messages to authenticated;
revoke all on private.aggregator_join_counters, private.aggregator_dependencies from public, anon, authenticated;
grant select on private.aggregator_join_counters, private.aggregator_dependencies to authenticated;
grant all on private.aggregator_join_counters, private.aggregator_dependencies to service_role;

alter table private.aggregator_join_counters enable row level security;
alter table private.aggregator_dependencies enable row level security;

create function private.caller_role()
returns text
language sql
stable
set search_path = ''
as $$
  -- the role GUC survives a security definer switch (current_user does not): it names the API role
  -- PostgREST (or our web app) set for this request; a direct login without SET ROLE is its login role
  select coalesce(nullif(current_setting('role', true), 'none'), session_user::text)
$$;
comment on function private.caller_role() is
  'The role the request runs as (anon, authenticated, service_role, or a direct login such as postgres), even inside a security definer function.';

create function private.is_operator()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce((select auth.jwt()) -> 'app_metadata' ->> 'role' = 'operator', false)
      or coalesce((select auth.jwt()) ->> 'role' = 'service_role', false)
      or private.caller_role() = 'service_role'
      or private.caller_role() not in ('anon', 'authenticated', 'authenticator')
$$;
comment on function private.is_operator() is
  'True for an operator (JWT app_metadata.role = operator), for service_role, and for trusted database roles that connect directly '
  '(postgres, SUPABASE_DB_URL); false for anon, plain signed-in users and the bare authenticator login.';
revoke all on function private.is_operator(), private.caller_role() from public, anon;
grant execute on function private.is_operator(), private.caller_role() to authenticated, service_role;

create policy "operators read tasks" on public.tasks
  for select to authenticated using ((select private.is_operator()));
create policy "operators read reviews" on public.human_reviews
  for select to authenticated using ((select private.is_operator()));
create policy "operators read events" on public.task_events
  for select to authenticated using ((select private.is_operator()));
create policy "operators read messages" on public.task_messages
  for select to authenticated using ((select private.is_operator()));
create policy "operators read join counters" on private.aggregator_join_counters
  for select to authenticated using ((select private.is_operator()));
create policy "operators read aggregator dependencies" on private.aggregator_dependencies
  for select to authenticated using ((select private.is_operator()));
