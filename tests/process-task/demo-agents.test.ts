// The offline demo with agents, as `npm run dev` runs it: the real function under Deno with
// LLM_PROVIDER=demo and the dispatcher. The demo planner delegates each topic to the agent listed in
// create_parallel_task's description; that agent runs on its own demo model, calls its SQL tool over data
// in the database, and its note quotes what the tool answered; the aggregator combines the notes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { startDispatcher, type Dispatcher } from '../../scripts/lib/dispatcher.ts';
import { startFunction, waitFor } from './support.ts';

const db = useTestDatabase();
let fn: Awaited<ReturnType<typeof startFunction>>;
let dispatcher: Dispatcher;

beforeAll(async () => {
  await db.sql.unsafe(`
    create schema demo_facts;
    create table demo_facts.facts (topic text primary key, fact text not null);
    insert into demo_facts.facts values ('Tides', 'Tides follow the moon.'), ('Volcanoes', 'Most volcanoes sit on plate edges.');
    create function demo_facts.lookup(p jsonb) returns jsonb language sql stable as $$
      select jsonb_build_object('topic', p ->> 'topic', 'fact', coalesce((select fact from demo_facts.facts where topic = p ->> 'topic'), 'no fact on file'))
    $$;
    grant usage on schema demo_facts to taskweave_sql_tool;
    grant select on demo_facts.facts to taskweave_sql_tool;
    grant execute on function demo_facts.lookup(jsonb) to taskweave_sql_tool;
  `);
  await db.sql`select taskweave.upsert_tool('facts', ${db.sql.json({ kind: 'sql', description: 'A fact about a topic: {"topic": "..."}', config: { function: 'demo_facts.lookup' } })})`;
  await db.sql`select taskweave.upsert_agent('researcher', ${db.sql.json({
    name: 'Researcher',
    description: 'Researches one topic with the facts tool',
    instructions: 'Look the topic up before you write.',
    model: 'demo:demo-researcher-1',
    tools: ['facts'],
  })})`;
  fn = await startFunction(db.url, { LLM_PROVIDER: 'demo' });
  dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: fn.url, secret: fn.secret, concurrency: 3, sweepIntervalMs: 300, log: () => {} });
});

afterAll(async () => {
  await dispatcher?.stop();
  await fn?.stop();
});

describe('the demo with agents and a SQL tool', () => {
  it('delegates each topic to the researcher agent, which calls its tool, and combines the notes', async () => {
    const sql = db.sql;
    const [root] = await sql`select * from taskweave.create_task('Nature facts', 'Research two topics.', ${sql.json({ topics: ['Tides', 'Volcanoes'] })})`;
    const aggregator = await waitFor('the aggregator to complete', async () => {
      const [a] = await sql`select * from taskweave.tasks where parent_task_id = ${root.id} and cardinality(dependent_task_ids) > 0`;
      return a?.status === 'completed' ? a : undefined;
    }, 60_000);

    const children = await sql`select id, title, agent, output from taskweave.tasks where parent_task_id = ${root.id} and cardinality(dependent_task_ids) = 0 order by title`;
    expect(children.map((c) => [c.title, c.agent, c.output.model])).toEqual([
      ['Tides', 'researcher', 'demo:demo-researcher-1'],
      ['Volcanoes', 'researcher', 'demo:demo-researcher-1'],
    ]);
    expect(children[0].output.text).toContain('From facts: {"fact":"Tides follow the moon.","topic":"Tides"}');
    expect(children[1].output.text).toContain('From facts: {"fact":"Most volcanoes sit on plate edges.","topic":"Volcanoes"}');
    const calls = await sql`select c.tool_slug, c.arguments, c.status from taskweave.tool_calls c join taskweave.tasks t on t.id = c.task_id where t.parent_task_id = ${root.id} order by c.arguments ->> 'topic'`;
    expect(calls).toEqual([
      { tool_slug: 'facts', arguments: { topic: 'Tides' }, status: 'succeeded' },
      { tool_slug: 'facts', arguments: { topic: 'Volcanoes' }, status: 'succeeded' },
    ]);
    expect(aggregator.output.text).toContain('Summary of 2 results (2 completed):');
    expect(aggregator.output.text).toContain('- Tides: Research note: Tides');
    const statuses = await sql`select status, count(*)::int as n from taskweave.tasks where root_task_id = ${root.id} group by 1`;
    expect(statuses).toEqual([{ status: 'completed', n: 4 }]);
  });
});
