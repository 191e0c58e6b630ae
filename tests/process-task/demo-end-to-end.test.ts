// The offline demo as `npm run dev` runs it: the real function under Deno with LLM_PROVIDER=demo and the
// dispatcher. A root with three topics fans out, the marked topic fails into review, an operator writes
// its result, and the aggregator's summary names all three.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, operator, useTestDatabase } from '../helpers/database.ts';
import { startDispatcher, type Dispatcher } from '../../scripts/lib/dispatcher.ts';
import { startFunction, waitFor } from './support.ts';

const db = useTestDatabase();
let fn: Awaited<ReturnType<typeof startFunction>>;
let dispatcher: Dispatcher;

beforeAll(async () => {
  fn = await startFunction(db.url, { LLM_PROVIDER: 'demo' });
  dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: fn.url, secret: fn.secret, concurrency: 3, sweepIntervalMs: 300, log: () => {} });
});

afterAll(async () => {
  await dispatcher?.stop();
  await fn?.stop();
});

describe('demo provider end to end', () => {
  it('reaches the reviews page and completes after a manual resolution', async () => {
    const sql = db.sql;
    const input = { topics: ['Postgres', 'SQLite [simulate-failure]', 'DuckDB'] };
    const [root] = await sql`select * from taskweave.create_task('Compare embedded databases', 'Compare three databases for a desktop app.', ${sql.json(input)})`;
    const review = await waitFor('the SQLite review', async () => {
      const [r] = await sql`select r.id, r.error, t.title from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id where r.status = 'open'`;
      return r;
    }, 30_000);
    expect(review.title).toBe('SQLite');
    expect(review.error).toMatchObject({ category: 'model', provider: { name: 'demo', status_code: 422, is_retryable: false } });
    // the root's last step (the aggregator call) may still be in flight when its child fails: the root's
    // own work ends completed all the same, whichever finishes first
    const rootDone = await waitFor('the root to complete', async () => {
      const [t] = await sql`select status from taskweave.tasks where id = ${root.id}`;
      return t.status === 'running' || t.status === 'pending' ? undefined : t;
    }, 30_000);
    expect(rootDone.status).toBe('completed');

    await asIdentity(sql, operator(), (tx) => tx`select taskweave.resolve_review(${review.id}, 'manual', ${sql.json('SQLite: one file, no server; fine for a desktop app.')}, null)`);
    const aggregator = await waitFor('the aggregator to complete', async () => {
      const [a] = await sql`select * from taskweave.tasks where parent_task_id = ${root.id} and cardinality(dependent_task_ids) > 0`;
      return a?.status === 'completed' ? a : undefined;
    }, 30_000);
    expect(aggregator.output.text).toContain('Summary of 3 results (3 completed):');
    expect(aggregator.output.text).toContain('- SQLite (written by a human operator): SQLite: one file, no server; fine for a desktop app.');
    expect(aggregator.output.text).toContain('- Postgres: Research note: Postgres');
    const statuses = await sql`select status, count(*)::int as n from taskweave.tasks where root_task_id = ${root.id} group by 1`;
    expect(statuses).toEqual([{ status: 'completed', n: 5 }]);
  });
});
