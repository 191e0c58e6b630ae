// A registry tool's call is not started when it could outlast the invocation (the platform would cut it
// off, and a non-idempotent call would then wait for an operator): the task is released, and a fresh
// invocation makes the call. In-process loop against the real SQL API, with the clock under the test's hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { startHttpTestServer, type HttpTestServer } from '../helpers/http-test-server.ts';
import { processTaskById } from '../../supabase/functions/process-task/processor.ts';
import { call, harness, say } from './loop-support.ts';

const db = useTestDatabase();
let api: HttpTestServer;

beforeAll(async () => {
  api = await startHttpTestServer({ '/work': () => ({ json: { done: true } }) });
  await db.sql`select taskweave.upsert_tool('long-job', ${db.sql.json({ kind: 'http', config: { method: 'POST', url: `${api.url}/work` }, timeout_seconds: 60 })})`;
  await db.sql`select taskweave.upsert_agent('worker-agent', ${db.sql.json({ name: 'Worker', tools: ['long-job'] })})`;
});

afterAll(async () => {
  await api?.close();
});

describe('a tool call near the end of the invocation', () => {
  it('releases the task instead of starting a call that may outlast it; the next invocation makes the call', async () => {
    const [task] = await db.sql`select id from taskweave.create_task('Long job', 'Run it.', '{}'::jsonb, '{}'::jsonb, 'worker-agent')`;
    const settings = { budgetMs: 100_000, minStepMs: 5_000 };
    const late = harness(db.sql, () => {
      late.clock.advance(50_000); // the model took 50 s: 50 s are left, the tool may take 60
      return call({ id: 'job_1', name: 'long-job', input: { size: 1 } });
    }, settings);
    const [first] = await processTaskById(task.id, late.deps);
    expect(first).toMatchObject({ outcome: 'released', status: 'pending' });
    expect(api.requests).toHaveLength(0);
    expect(await db.sql`select id from taskweave.tool_calls where task_id = ${task.id}`).toHaveLength(0);
    await db.sql`update taskweave.tasks set run_after = now() where id = ${task.id}`;

    const fresh = harness(db.sql, () => say('the job ran'), settings);
    const [second] = await processTaskById(task.id, fresh.deps);
    expect(second).toMatchObject({ outcome: 'completed', status: 'completed' });
    expect(api.requests.map((r) => JSON.parse(r.body))).toEqual([{ size: 1 }]);
    expect(fresh.prompts).toHaveLength(1); // the saved step was not asked again
    const [row] = await db.sql`select status from taskweave.tool_calls where task_id = ${task.id}`;
    expect(row.status).toBe('succeeded');
  });
});
