-- Taskweave 0.3.0: the tables of agents, tools, model prices and tool calls, and the kinds of review.
-- Tables only: the SQL API that manages and uses them comes in later migrations of this release.

-- ---------------------------------------------------------------------------------------------
-- agents: named model configurations a task can run as (tasks.agent)

create table taskweave.agents (
  slug text primary key,
  name text not null,
  description text not null default '',
  instructions text not null default '',
  model text,
  temperature numeric,
  max_output_tokens integer,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint agents_slug_check check (slug ~ '^[a-z][a-z0-9_-]{0,39}$' and strpos(slug, '__') = 0),
  constraint agents_name_check check (char_length(btrim(name)) between 1 and 200),
  constraint agents_description_check check (char_length(description) <= 2000),
  constraint agents_instructions_check check (char_length(instructions) <= 100000),
  constraint agents_model_check check (model is null or model ~ '^[a-z][a-z0-9-]*:.+$'),
  constraint agents_temperature_check check (temperature is null or temperature between 0 and 2),
  constraint agents_max_output_tokens_check check (max_output_tokens is null or max_output_tokens between 1 and 200000)
);
comment on table taskweave.agents is
  'Named agents: instructions, model (provider:model) and tools. A task runs as one when tasks.agent names it; '
  'with none, the environment''s model runs with the built-in instructions.';
comment on column taskweave.agents.model is 'provider:model, e.g. openai:gpt-4.1-mini or anthropic:claude-sonnet-4-5; null runs the environment''s model.';

alter table taskweave.agents enable row level security;

-- tools: what an agent may call besides the built-in tools

create table taskweave.tools (
  slug text primary key,
  kind text not null,
  description text not null default '',
  config jsonb not null default '{}'::jsonb,
  secrets text[] not null default '{}',
  idempotent boolean not null default false,
  requires_approval boolean not null default false,
  timeout_seconds integer not null default 30,
  max_output_bytes integer not null default 16384,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tools_slug_check check (slug ~ '^[a-z][a-z0-9_-]{0,39}$' and strpos(slug, '__') = 0),
  constraint tools_kind_check check (kind in ('mcp', 'http', 'sql')),
  constraint tools_description_check check (char_length(description) <= 2000),
  constraint tools_config_is_object check (jsonb_typeof(config) = 'object'),
  constraint tools_timeout_check check (timeout_seconds between 1 and 300),
  constraint tools_max_output_bytes_check check (max_output_bytes between 256 and 1048576)
);
comment on table taskweave.tools is
  'Tools agents may call: kind mcp (a remote MCP server, its tools seen as <slug>__<name>), http (one endpoint) or sql '
  '(a Postgres function). Credentials are named in secrets and resolved from the function''s environment; never stored here.';
comment on column taskweave.tools.secrets is 'Names of environment variables the tool needs; a header or URL value refers to one as {{NAME}}.';
comment on column taskweave.tools.idempotent is 'A call that started but has no saved result is run again on resume; otherwise an operator decides (review kind interrupted_call).';
comment on column taskweave.tools.requires_approval is 'Every call waits for an operator''s approve or reject first (review kind approval).';

alter table taskweave.tools enable row level security;

create table taskweave.agent_tools (
  agent_slug text not null references taskweave.agents (slug) on delete cascade,
  tool_slug text not null references taskweave.tools (slug) on delete restrict,
  position integer not null default 0,
  primary key (agent_slug, tool_slug)
);
comment on table taskweave.agent_tools is 'Which tools each agent may call (the agent definition''s tools, in order).';
create index agent_tools_tool_slug_idx on taskweave.agent_tools (tool_slug);

alter table taskweave.agent_tools enable row level security;

create table taskweave.model_prices (
  model text primary key,
  input_per_million numeric not null,
  output_per_million numeric not null,
  updated_at timestamptz not null default now(),
  constraint model_prices_model_check check (char_length(model) between 1 and 200),
  constraint model_prices_input_check check (input_per_million >= 0),
  constraint model_prices_output_check check (output_per_million >= 0)
);
comment on table taskweave.model_prices is
  'US dollars per million input and output tokens, by model name as in agents.model (provider:model) or the environment''s model name.';

alter table taskweave.model_prices enable row level security;

-- tool calls: the started/result record of every external call, for exactly-once and for the pages

create table taskweave.tool_calls (
  id bigint generated always as identity primary key,
  task_id uuid not null references taskweave.tasks (id) on delete cascade,
  tool_call_id text not null,
  tool_slug text,
  tool_name text not null,
  arguments jsonb not null default '{}'::jsonb,
  status text not null default 'started',
  result jsonb,
  error text,
  started_at timestamptz not null default now(),
  ended_at timestamptz,
  duration_ms integer,
  constraint tool_calls_status_check check (status in ('awaiting_approval', 'started', 'succeeded', 'failed', 'rejected')),
  constraint tool_calls_task_call_unique unique (task_id, tool_call_id)
);
comment on table taskweave.tool_calls is
  'One row per call of a registered tool: saved as started before the call is made and given its result after, so a run that '
  'dies in between knows the call may have happened.';
comment on column taskweave.tool_calls.tool_call_id is 'The model''s id for the call (the transcript''s toolCallId).';
comment on column taskweave.tool_calls.tool_name is 'The name the model called: the tool slug, or <slug>__<name> for an MCP server''s tool.';
create index tool_calls_tool_slug_idx on taskweave.tool_calls (tool_slug, started_at desc);

alter table taskweave.tool_calls enable row level security;

-- ---------------------------------------------------------------------------------------------
-- tasks and runs: the agent a task runs as, and cost in dollars

alter table taskweave.tasks add column agent text;
comment on column taskweave.tasks.agent is 'The slug of the agent this task runs as (taskweave.agents); null runs the environment''s model.';
create index tasks_agent_unfinished_idx on taskweave.tasks (agent)
  where agent is not null and status not in ('completed', 'failed', 'cancelled');

alter table taskweave.runs add column max_cost_usd numeric;
alter table taskweave.runs add column cost_usd numeric not null default 0;
alter table taskweave.runs add constraint runs_max_cost_usd_check check (max_cost_usd is null or max_cost_usd > 0);
comment on column taskweave.runs.max_cost_usd is 'US dollars the run''s model steps may cost (taskweave.model_prices); null is no limit.';
comment on column taskweave.runs.cost_usd is 'US dollars of the run''s model steps so far, at the prices in force when each step was saved.';

-- ---------------------------------------------------------------------------------------------
-- reviews have a kind: a failure (as before), an approval before a tool call, a question, or a call
-- that was interrupted between started and result

alter table taskweave.human_reviews add column kind text not null default 'failure';
alter table taskweave.human_reviews add column request jsonb not null default '{}'::jsonb;
alter table taskweave.human_reviews add constraint human_reviews_kind_check
  check (kind in ('failure', 'approval', 'question', 'interrupted_call'));
alter table taskweave.human_reviews drop constraint human_reviews_action_check;
alter table taskweave.human_reviews add constraint human_reviews_action_check
  check (action in ('retry', 'abort', 'manual', 'approve', 'reject', 'answer'));
alter table taskweave.human_reviews add constraint human_reviews_kind_action_check check (
  action is null or action = 'abort'
  or (kind = 'failure' and action in ('retry', 'manual'))
  or (kind = 'approval' and action in ('approve', 'reject'))
  or (kind = 'question' and action = 'answer')
  or (kind = 'interrupted_call' and action in ('retry', 'manual'))
);
alter table taskweave.human_reviews drop constraint human_reviews_manual_check;
alter table taskweave.human_reviews add constraint human_reviews_manual_check check (
  (action not in ('manual', 'answer') or manual_output is not null)
  and (action not in ('retry', 'abort', 'reject') or manual_output is null)
);
comment on column taskweave.human_reviews.kind is
  'failure (the task failed: retry, abort or manual), approval (a tool call waits: approve or reject), question (ask_human: answer), '
  'interrupted_call (a non-idempotent call started and has no result: retry or manual). abort is always allowed (cancel_task).';
comment on column taskweave.human_reviews.request is
  'What the person is asked. approval: {tool_call_id, tool, arguments, reason}; question: {tool_call_id, question, options}; '
  'interrupted_call: {tool_call_id, tool, arguments, started_at}; failure: {}.';
comment on column taskweave.human_reviews.manual_output is
  'manual: the hand-written output (failure) or tool result (interrupted_call); answer: {"answer": ...}; '
  'approve: null, or {"arguments": {...}} when the operator edited them.';
create index human_reviews_open_kind_idx on taskweave.human_reviews (kind, created_at, id) where status = 'open';

-- ---------------------------------------------------------------------------------------------
-- who may read: operators through RLS (as for the other tables); writes only through the SQL API

revoke all on taskweave.agents, taskweave.tools, taskweave.agent_tools, taskweave.model_prices, taskweave.tool_calls
  from public, anon, authenticated;
grant select on taskweave.agents, taskweave.tools, taskweave.agent_tools, taskweave.model_prices, taskweave.tool_calls
  to authenticated;
grant select, insert, update, delete on taskweave.agents, taskweave.tools, taskweave.agent_tools, taskweave.model_prices,
  taskweave.tool_calls to service_role;

create policy "operators read agents" on taskweave.agents
  for select to authenticated using ((select taskweave_private.is_operator()));
create policy "operators read tools" on taskweave.tools
  for select to authenticated using ((select taskweave_private.is_operator()));
create policy "operators read agent tools" on taskweave.agent_tools
  for select to authenticated using ((select taskweave_private.is_operator()));
create policy "operators read model prices" on taskweave.model_prices
  for select to authenticated using ((select taskweave_private.is_operator()));
create policy "operators read tool calls" on taskweave.tool_calls
  for select to authenticated using ((select taskweave_private.is_operator()));
