// The seeded demo (supabase/seed.sql, as `npm run db:reset` and `npm run dev` apply it) run by the real
// function under Deno with LLM_PROVIDER=demo and the dispatcher, offline: the `planner` agent delegates
// each topic to `researcher`, which looks it up with the seeded SQL tool `findings` before writing; the
// topic that asks to fail lands in review, an operator writes it, and the aggregator combines all three.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, operator, useTestDatabase } from '../helpers/database.ts';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { startDispatcher, type Dispatcher } from '../../scripts/lib/dispatcher.ts';
import { startFunction, waitFor } from './support.ts';

const db = useTestDatabase();
let fn: Awaited<ReturnType<typeof startFunction>>;
let dispatcher: Dispatcher;

beforeAll(async () => {
  await db.sql.unsafe(fs.readFileSync(path.join(repoRoot, 'supabase', 'seed.sql'), 'utf8'));
  fn = await startFunction(db.url, { LLM_PROVIDER: 'demo' });
  dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: fn.url, secret: fn.secret, concurrency: 3, sweepIntervalMs: 300, log: () => {} });
});

afterAll(async () => {
  await dispatcher?.stop();
  await fn?.stop();
});

describe('the seeded demo', () => {
  it('the planner delegates to the researcher, which calls the seeded SQL tool; after the review the run completes', async () => {
    const sql = db.sql;
    const [root] = await sql`select id, agent from taskweave.tasks where parent_task_id is null`;
    expect(root.agent).toBe('planner');
    const review = await waitFor('the review of the topic that fails', async () => {
      const [r] = await sql`select r.id, t.title from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id where r.status = 'open'`;
      return r;
    }, 60_000);
    expect(review.title).toBe('Employee wellbeing and retention outcomes');
    await asIdentity(sql, operator(), (tx) => tx`select taskweave.resolve_review(${review.id}, 'manual', ${tx.json('Wellbeing improved in most pilots (written by hand).')}, null)`);
    const aggregator = await waitFor('the aggregator to complete', async () => {
      const [a] = await sql`select * from taskweave.tasks where parent_task_id = ${root.id} and cardinality(dependent_task_ids) > 0`;
      return a?.status === 'completed' ? a : undefined;
    }, 60_000);

    const researched = await sql`
      select t.title, t.agent, t.output, c.tool_slug, c.arguments, c.status as call_status, c.result
        from taskweave.tasks t join taskweave.tool_calls c on c.task_id = t.id
       where t.parent_task_id = ${root.id} and t.status = 'completed' and t.output ->> 'source' = 'model' and cardinality(t.dependent_task_ids) = 0
       order by t.title`;
    expect(researched.map((r) => [r.title, r.agent, r.tool_slug, r.arguments, r.call_status])).toEqual([
      ['Costs, customer coverage and operational risks', 'researcher', 'findings', { topic: 'Costs, customer coverage and operational risks' }, 'succeeded'],
      ['Productivity evidence from four-day-week trials', 'researcher', 'findings', { topic: 'Productivity evidence from four-day-week trials' }, 'succeeded'],
    ]);
    for (const r of researched) {
      expect(r.output.model).toBe('demo:demo-researcher-1');
      expect(r.result.findings.length).toBeGreaterThan(0); // the seeded notes were found
      expect(r.output.text).toContain(`From findings: ${JSON.stringify(r.result).slice(0, 100)}`);
    }
    expect(aggregator.output.text).toContain('Summary of 3 results (3 completed):');
    expect(aggregator.output.text).toContain('(written by a human operator)');
    // the demo models have prices: cost shows beside the tokens
    const [run] = await sql`select cost_usd::float8 as cost from taskweave.runs where root_task_id = ${root.id}`;
    expect(run.cost).toBeGreaterThan(0);
  });
});
