// Kill the function (SIGKILL, as the platform does at its wall-clock limit) in the middle of a run.
// After the short lease expires, another instance picks the task up, resumes from the saved transcript
// and finishes it exactly once, without creating any child twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { startFakeOpenAI, taskOf, toolResultsOf, type FakeOpenAI } from './fake-openai-server.ts';
import { post, startFunction, waitFor } from './support.ts';

const db = useTestDatabase();
let fake: FakeOpenAI;
let first: Awaited<ReturnType<typeof startFunction>>;
let second: Awaited<ReturnType<typeof startFunction>>;
let phase: 'crash' | 'recover' = 'crash';
let rootStepRequests = 0;

beforeAll(async () => {
  fake = await startFakeOpenAI((req) => {
    const task = taskOf(req);
    if (task.kind !== 'root') return { content: 'not used' };
    rootStepRequests++;
    const results = toolResultsOf(req);
    if (!req.messages.some((m) => m.role === 'assistant')) {
      return {
        tool_calls: ['one', 'two', 'three'].map((n) => ({
          id: `call_${n}`,
          name: 'create_parallel_task',
          arguments: { title: `Part ${n}`, instructions: `Do part ${n}.` },
        })),
      };
    }
    const aggregate = results.find((r) => r.tool_call_id === 'call_aggregate');
    if (!aggregate) {
      // the second step of the first run never answers: the function gets killed while it waits
      if (phase === 'crash') return { hang: true };
      const ids = results.map((r) => (r.value as { task_id: string }).task_id);
      return { tool_calls: [{ id: 'call_aggregate', name: 'create_aggregator_task', arguments: { title: 'Join', instructions: 'Join.', dependent_task_ids: ids } }] };
    }
    return { content: 'All parts started.' };
  });
  const env = { LLM_PROVIDER: 'openai', OPENAI_BASE_URL: fake.baseURL, PROCESS_TASK_LEASE_SECONDS: '5', PROCESS_TASK_HEARTBEAT_MS: '500' };
  [first, second] = await Promise.all([startFunction(db.url, env), startFunction(db.url, env)]);
});

afterAll(async () => {
  await Promise.all([first?.stop('SIGKILL'), second?.stop()]);
  await fake?.close();
});

describe('a run killed mid-way', () => {
  it('is finished exactly once by the next worker after the lease expires, with no duplicate children', async () => {
    const sql = db.sql;
    const [root] = await sql`select * from taskweave.create_task('Three parts', 'Split into three parts and join them.')`;

    const doomed = post(first, { task_id: root.id }).catch((error: Error) => ({ status: 0, error }));
    // the first step and its three tool results are saved, then the second model call hangs
    await waitFor('the hung second step', async () => rootStepRequests >= 2, 20_000, 50);
    const before = await sql`select role from taskweave.task_messages where task_id = ${root.id} order by seq`;
    expect(before.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'tool']);
    const [running] = await sql`select status, leased_by, attempt from taskweave.tasks where id = ${root.id}`;
    expect(running.status).toBe('running');
    expect(running.attempt).toBe(1);

    first.process.kill('SIGKILL');
    const outcome = await doomed;
    expect(outcome.status).toBe(0); // the connection died with the process

    // while the dead worker's lease lasts, the task is not claimable (409)
    const early = await post(second, { task_id: root.id });
    expect(early.status).toBe(409);
    expect(early.json.error.code).toBe('not_claimable');

    phase = 'recover';
    await waitFor('the lease to expire', async () => {
      const [t] = await sql`select lease_expires_at <= now() as expired from taskweave.tasks where id = ${root.id}`;
      return t.expired;
    }, 15_000, 100);
    const resumed = await post(second, { task_id: root.id });
    expect(resumed.status).toBe(200);
    expect(resumed.json.results).toEqual([expect.objectContaining({ task_id: root.id, status: 'completed', outcome: 'completed', attempt: 2 })]);

    const children = await sql`select title, tool_call_id from taskweave.tasks where parent_task_id = ${root.id} order by title`;
    expect(children.map((c) => c.tool_call_id)).toEqual(['call_aggregate', 'call_one', 'call_three', 'call_two']);
    const transcript = await sql`select role from taskweave.task_messages where task_id = ${root.id} order by seq`;
    expect(transcript.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'tool', 'assistant', 'tool', 'assistant']);
    const completions = await sql`select actor from taskweave.task_events where task_id = ${root.id} and to_status = 'completed'`;
    expect(completions).toHaveLength(1);
    const [final] = await sql`select status, output, leased_by from taskweave.tasks where id = ${root.id}`;
    expect(final.status).toBe('completed');
    expect(final.output.text).toBe('All parts started.');
    expect(final.output.steps).toBe(3);
    // step 1 ran once; step 2 twice (the hung call and the resumed one); step 3 once
    expect(rootStepRequests).toBe(4);
  });
});
