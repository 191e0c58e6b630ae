// Exactly once, or a person decides: the function is killed (SIGKILL, as the platform does) while a
// registry tool's call is in flight, after "started" was saved and before the result. The next worker
// runs an idempotent tool's call again by itself; a non-idempotent one stops the task for an operator
// (review kind interrupted_call), whose Retry makes the call again and whose Manual result is used
// instead of calling. No model step is repeated either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, operator, useTestDatabase } from '../helpers/database.ts';
import { startHttpTestServer, type HttpTestServer } from '../helpers/http-test-server.ts';
import { startFakeOpenAI, taskOf, toolResultsOf, type FakeOpenAI } from './fake-openai-server.ts';
import { post, startFunction, waitFor } from './support.ts';

const db = useTestDatabase();
let fake: FakeOpenAI;
let api: HttpTestServer;
let crasher: Awaited<ReturnType<typeof startFunction>>;
let survivor: Awaited<ReturnType<typeof startFunction>>;
let phase: 'crash' | 'recover' = 'crash';
const tasks: Record<'idempotent' | 'retry' | 'manual', string> = { idempotent: '', retry: '', manual: '' };

beforeAll(async () => {
  fake = await startFakeOpenAI((req) => {
    const task = taskOf(req);
    if (!req.messages.some((m) => m.role === 'assistant')) {
      return { tool_calls: [{ id: `call_${task.input.case}`, name: String(task.input.tool), arguments: { order: task.input.case } }] };
    }
    return { content: `result: ${JSON.stringify(toolResultsOf(req)[0].value)}` };
  });
  // while phase is crash, every call hangs: the function is killed with the call in flight
  const route = (name: string) => (r: { body: string }) => (phase === 'crash' ? { hang: true as const } : { json: { [name]: JSON.parse(r.body).order } });
  api = await startHttpTestServer({ '/lookup': route('looked_up'), '/charge': route('charged') });
  const env = { LLM_PROVIDER: 'openai', OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test', PROCESS_TASK_LEASE_SECONDS: '5', PROCESS_TASK_HEARTBEAT_MS: '500' };
  [crasher, survivor] = await Promise.all([startFunction(db.url, env), startFunction(db.url, env)]);
  const tool = (slug: string, idempotent: boolean) =>
    db.sql`select taskweave.upsert_tool(${slug}, ${db.sql.json({ kind: 'http', config: { method: 'POST', url: `${api.url}/${slug}` }, idempotent })})`;
  await tool('lookup', true);
  await tool('charge', false);
  await db.sql`select taskweave.upsert_agent('clerk', ${db.sql.json({ name: 'Clerk', model: 'openai:fake-clerk', tools: ['lookup', 'charge'] })})`;
});

afterAll(async () => {
  await Promise.all([crasher?.stop('SIGKILL'), survivor?.stop()]);
  await Promise.all([fake?.close(), api?.close()]);
});

const requestsOf = (taskId: string) => fake.requests.filter((r) => taskOf(r).id === taskId);

async function resolve(taskId: string, action: string, manualOutput: unknown) {
  const [review] = await db.sql`select id from taskweave.human_reviews where task_id = ${taskId} and status = 'open'`;
  await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.resolve_review(${review.id}, ${action}, ${manualOutput === null ? null : tx.json(manualOutput as never)}, null)`);
}

describe('a run killed between a tool call’s started record and its result', () => {
  it('leaves each call started, with no result, when the function dies', async () => {
    for (const [key, tool] of [['idempotent', 'lookup'], ['retry', 'charge'], ['manual', 'charge']] as const) {
      const [task] = await db.sql`select * from taskweave.create_task(${'Order ' + key}, 'Place the order.', ${db.sql.json({ case: key, tool })}, '{}'::jsonb, 'clerk')`;
      tasks[key] = task.id;
    }
    const doomed = Object.values(tasks).map((id) => post(crasher, { task_id: id }).catch(() => ({ status: 0 })));
    await waitFor('all three calls in flight', async () => api.requests.length >= 3, 20_000, 50);
    const started = await db.sql`select task_id, status, result from taskweave.tool_calls where task_id in ${db.sql(Object.values(tasks))}`;
    expect(started).toHaveLength(3);
    for (const call of started) expect(call).toMatchObject({ status: 'started', result: null });

    crasher.process.kill('SIGKILL');
    expect((await Promise.all(doomed)).map((r) => r.status)).toEqual([0, 0, 0]);
    phase = 'recover';
    await waitFor('the dead worker’s leases to expire', async () => {
      const [t] = await db.sql`select bool_and(lease_expires_at <= now()) as expired from taskweave.tasks where id in ${db.sql(Object.values(tasks))}`;
      return t.expired;
    }, 15_000, 100);
  });

  it('an idempotent tool’s call runs again by itself, and the task completes', async () => {
    const res = await post(survivor, { task_id: tasks.idempotent });
    expect(res.json.results).toEqual([expect.objectContaining({ status: 'completed', outcome: 'completed', attempt: 2 })]);
    expect(api.requests.filter((r) => JSON.parse(r.body).order === 'idempotent')).toHaveLength(2); // the lost call and the repeat
    expect(requestsOf(tasks.idempotent)).toHaveLength(2); // step 1 was not asked again
    expect(toolResultsOf(requestsOf(tasks.idempotent)[1])[0].value).toEqual({ status: 200, body: { looked_up: 'idempotent' }, truncated: false });
    const [call] = await db.sql`select status from taskweave.tool_calls where task_id = ${tasks.idempotent}`;
    expect(call.status).toBe('succeeded');
    expect(await db.sql`select id from taskweave.human_reviews where task_id = ${tasks.idempotent}`).toHaveLength(0);
  });

  it('a non-idempotent tool’s call stops the task for an operator, who sees the call; Retry makes it again once', async () => {
    const res = await post(survivor, { task_id: tasks.retry });
    expect(res.json.results).toEqual([expect.objectContaining({ status: 'needs_human_review', outcome: 'needs_human_review' })]);
    const [review] = await db.sql`select kind, status, request from taskweave.human_reviews where task_id = ${tasks.retry}`;
    expect(review).toMatchObject({
      kind: 'interrupted_call',
      status: 'open',
      request: { tool_call_id: 'call_retry', tool: 'charge', arguments: { order: 'retry' }, started_at: expect.any(String) },
    });
    const charges = () => api.requests.filter((r) => JSON.parse(r.body).order === 'retry');
    expect(charges()).toHaveLength(1); // not called again without a person's decision

    await resolve(tasks.retry, 'retry', null);
    const resumed = await post(survivor, { task_id: tasks.retry });
    expect(resumed.json.results).toEqual([expect.objectContaining({ status: 'completed', outcome: 'completed' })]);
    expect(charges()).toHaveLength(2);
    expect(requestsOf(tasks.retry)).toHaveLength(2);
    expect(toolResultsOf(requestsOf(tasks.retry)[1])[0].value).toEqual({ status: 200, body: { charged: 'retry' }, truncated: false });
    expect((await post(survivor, { task_id: tasks.retry })).status).toBe(409);
  });

  it('Manual: the operator’s result is the call’s result, and the call is not made again', async () => {
    const res = await post(survivor, { task_id: tasks.manual });
    expect(res.json.results).toEqual([expect.objectContaining({ status: 'needs_human_review' })]);
    await resolve(tasks.manual, 'manual', { charged: 'manual', receipt: 'R-17 (checked by hand)' });
    const resumed = await post(survivor, { task_id: tasks.manual });
    expect(resumed.json.results).toEqual([expect.objectContaining({ status: 'completed', outcome: 'completed' })]);
    expect(api.requests.filter((r) => JSON.parse(r.body).order === 'manual')).toHaveLength(1);
    const expected = { result: { charged: 'manual', receipt: 'R-17 (checked by hand)' }, written_by: 'operator' };
    expect(toolResultsOf(requestsOf(tasks.manual)[1])[0].value).toEqual(expected);
    const [call] = await db.sql`select status, result from taskweave.tool_calls where task_id = ${tasks.manual}`;
    expect(call).toEqual({ status: 'succeeded', result: expected });
  });
});
