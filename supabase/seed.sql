-- Demo data for local runs (applied by `npm run db:reset` and by `npm run dev` on a new database).
--
-- Two agents on the offline `demo` provider: `planner` (demo:demo-planner-1) splits the question into
-- topics and delegates each to `researcher` (demo:demo-researcher-1), whose tool `findings` is a SQL
-- tool over the seeded notes in schema `taskweave_demo` (the demo's own schema, made here only). The
-- researcher looks its topic up, then writes a note quoting what it found; an aggregator combines the
-- notes. The second topic asks the demo model to fail, so it lands on the reviews page, where an operator
-- resolves it (Manual or Retry) and the aggregator then runs with all three results. Both demo models
-- have (made-up) prices, so the task pages show cost in dollars beside the tokens.

-- ---------------------------------------------------------------------------------------------
-- the researcher's data, read by its SQL tool as role taskweave_sql_tool (nothing else may)

create schema taskweave_demo;
comment on schema taskweave_demo is
  'Taskweave''s offline demo: the notes its researcher agent looks up with the SQL tool "findings". Made by supabase/seed.sql only.';

create table taskweave_demo.findings (
  id integer generated always as identity primary key,
  keyword text not null,
  finding text not null,
  source text not null
);
comment on table taskweave_demo.findings is 'Notes the demo researcher finds by keyword (taskweave_demo.search_findings).';
alter table taskweave_demo.findings enable row level security;
create policy "the SQL tool role reads findings" on taskweave_demo.findings for select to taskweave_sql_tool using (true);

insert into taskweave_demo.findings (keyword, finding, source) values
  ('productivity', 'In the 2022 UK pilot, 56 of 61 companies kept the four-day week after six months; revenue was broadly flat over the trial.', 'Autonomy, UK four-day week pilot results, 2023'),
  ('productivity', 'Iceland''s public-sector trials (2015-2019) cut hours without lowering service levels in most workplaces.', 'Autonomy & Alda, Going Public, 2021'),
  ('wellbeing', 'Reported burnout fell in most pilot companies, and sick days dropped by about two thirds.', 'Autonomy, UK four-day week pilot results, 2023'),
  ('retention', 'Resignations fell sharply during the UK pilot compared with the same months a year earlier.', 'Autonomy, UK four-day week pilot results, 2023'),
  ('cost', 'Small firms reported that scheduling, not salary, was the main cost: cover for customers on the fifth day.', 'Four Day Week Global, company interviews, 2023'),
  ('coverage', 'Staggered days off (half the team Monday, half Friday) kept five-day customer coverage in most service firms.', 'Four Day Week Global, implementation guide, 2023'),
  ('risk', 'Firms that dropped the policy most often cited uneven workloads across teams and client expectations.', 'Autonomy, UK four-day week pilot results, 2023');

create function taskweave_demo.search_findings(p_arguments jsonb)
returns jsonb
language sql
stable
set search_path = ''
as $$
  -- {"topic": "..."}: the notes whose keyword the topic mentions, at most five
  select jsonb_build_object(
    'topic', p_arguments ->> 'topic',
    'findings', coalesce(jsonb_agg(jsonb_build_object('finding', f.finding, 'source', f.source) order by f.id), '[]'::jsonb))
  from (select * from taskweave_demo.findings f
         where strpos(lower(coalesce(p_arguments ->> 'topic', '')), f.keyword) > 0
         order by f.id limit 5) as f
$$;
comment on function taskweave_demo.search_findings(jsonb) is 'The demo researcher''s SQL tool: notes whose keyword appears in {"topic"}.';
revoke all on function taskweave_demo.search_findings(jsonb) from public;
grant usage on schema taskweave_demo to taskweave_sql_tool;
grant select on taskweave_demo.findings to taskweave_sql_tool;
grant execute on function taskweave_demo.search_findings(jsonb) to taskweave_sql_tool;

-- ---------------------------------------------------------------------------------------------
-- the tool, the two agents and the demo models' prices, through the SQL API

select taskweave.upsert_tool('findings', jsonb_build_object(
  'kind', 'sql',
  'description', 'Looks up research notes on a topic, with their sources. Arguments: {"topic": "<the topic, in words>"}.',
  'config', jsonb_build_object(
    'function', 'taskweave_demo.search_findings',
    'input_schema', jsonb_build_object(
      'type', 'object',
      'properties', jsonb_build_object('topic', jsonb_build_object('type', 'string', 'description', 'The topic to look up')),
      'required', jsonb_build_array('topic'))),
  'idempotent', true,
  'timeout_seconds', 5,
  'max_output_bytes', 4096));

select taskweave.upsert_agent('planner', jsonb_build_object(
  'name', 'Planner',
  'description', 'Splits a question into research topics, delegates each, and combines the findings.',
  'instructions', 'Split the question into independent topics. Delegate each topic to the researcher agent with '
                  'create_parallel_task, then combine the results with create_aggregator_task.',
  'model', 'demo:demo-planner-1'));

select taskweave.upsert_agent('researcher', jsonb_build_object(
  'name', 'Researcher',
  'description', 'Researches one topic: looks it up with the findings tool and writes a short note with sources.',
  'instructions', 'Look the topic up with the findings tool before you write. Quote what it found and name the sources.',
  'model', 'demo:demo-researcher-1',
  'temperature', 0.2,
  'max_output_tokens', 1200,
  'tools', jsonb_build_array('findings')));

-- made-up prices, so cost shows beside tokens in the demo
select taskweave.set_model_price('demo:demo-planner-1', 0.15, 0.60);
select taskweave.set_model_price('demo:demo-researcher-1', 0.40, 1.60);

-- ---------------------------------------------------------------------------------------------
-- the demo run

select taskweave.create_task(
  'Research brief: should a 40-person company adopt a four-day week?',
  'Split the question into research topics, research them in parallel, then combine the findings into one recommendation.',
  jsonb_build_object(
    'demo', true,
    'agent', 'researcher',
    'topics', jsonb_build_array(
      'Productivity evidence from four-day-week trials',
      jsonb_build_object('title', 'Employee wellbeing and retention outcomes', 'simulate_failure', true),
      'Costs, customer coverage and operational risks'
    )
  ),
  p_agent => 'planner'
);
