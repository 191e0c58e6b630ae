// An Edge Functions worker lives a fixed wall-clock time from its start (150 s, 400 s paid) and serves
// several requests. An invocation's time budget therefore ends before the worker does, counted from the
// worker's start (index.ts's module load), not the request's: a run that starts late in a worker's life
// releases in time (release_task, no attempt used) instead of being killed mid-step.
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { createHandler } from '../../supabase/functions/process-task/http-handler.ts';
import { readConfig, EDGE_WORKER_LIFETIME_MS } from '../../supabase/functions/process-task/config.ts';
import { DEFAULT_SETTINGS } from '../../supabase/functions/process-task/ports.ts';
import { invocationDeadline, processDueTasks, processTaskById } from '../../supabase/functions/process-task/processor.ts';
import { WorkerEndingError } from '../../supabase/functions/process-task/errors.ts';
import { call, createRoot, harness, statusOf } from './loop-support.ts';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai-server.ts';
import { post, startFunction } from './support.ts';

const db = useTestDatabase();
let fake: FakeOpenAI | undefined;
let fn: Awaited<ReturnType<typeof startFunction>> | undefined;
afterAll(async () => {
  await fn?.stop();
  await fake?.close();
});

const forever = (i: number) => call({ id: `c${i}`, name: 'create_parallel_task', input: { title: `T${i}`, instructions: 'x' } });

describe('the invocation deadline', () => {
  const settings = { ...DEFAULT_SETTINGS, budgetMs: 110_000, workerReserveMs: 40_000 };
  it('is the request budget without a bounded worker, and never later than the worker’s end less the reserve', () => {
    const t0 = 1_000_000;
    const deps = { settings } as Parameters<typeof invocationDeadline>[0];
    expect(invocationDeadline(deps, t0 + 100_000)).toBe(t0 + 210_000);
    const onEdge = { ...deps, worker: { startedAt: t0, lifetimeMs: 150_000 } };
    // the first request of a worker keeps the whole budget; one 100 s later gets only what the worker has left
    expect(invocationDeadline(onEdge, t0)).toBe(t0 + 110_000);
    expect(invocationDeadline(onEdge, t0 + 100_000)).toBe(t0 + 110_000);
    expect(invocationDeadline({ ...onEdge, worker: { startedAt: t0, lifetimeMs: 400_000 } }, t0 + 100_000)).toBe(t0 + 210_000);
  });

  it('comes from the edge runtime (150 s) or PROCESS_TASK_WORKER_LIFETIME_MS; a plain Deno server has none', () => {
    const env = { TASKWEAVE_DB_URL: 'postgres://x', PROCESS_TASK_SECRET: 'k' };
    expect(readConfig(env).workerLifetimeMs).toBeUndefined();
    expect(readConfig(env, { edgeRuntime: true }).workerLifetimeMs).toBe(EDGE_WORKER_LIFETIME_MS);
    expect(readConfig({ ...env, PROCESS_TASK_WORKER_LIFETIME_MS: '400000' }, { edgeRuntime: true }).workerLifetimeMs).toBe(400_000);
    expect(readConfig({ ...env, PROCESS_TASK_WORKER_RESERVE_MS: '5000' }).settings.workerReserveMs).toBe(5_000);
    expect(() => readConfig({ ...env, PROCESS_TASK_WORKER_LIFETIME_MS: 'soon' })).toThrow(/PROCESS_TASK_WORKER_LIFETIME_MS/);
  });
});

describe('a run late in a worker’s life', () => {
  it('releases by the worker’s deadline, not 110 s after its request, without using an attempt', async () => {
    const h = harness(db.sql, (_, i) => {
      h.clock.advance(4_000); // each model step takes 4 s
      return forever(i);
    }, { budgetMs: 110_000, workerReserveMs: 40_000, minStepMs: 5_000 });
    const workerStartedAt = h.clock.now();
    h.deps.worker = { startedAt: workerStartedAt, lifetimeMs: 150_000 };
    h.clock.advance(100_000); // the request arrives 100 s into the worker's life
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, h.deps);
    // 10 s were left before the reserve: two 4 s steps, then too little for a third
    expect(result).toMatchObject({ outcome: 'released', status: 'pending', steps: 2 });
    expect(h.clock.now()).toBeLessThanOrEqual(workerStartedAt + 110_000);
    expect(h.store.calls.some((c) => c.fn === 'release')).toBe(true);
    expect(h.store.calls.some((c) => c.fn === 'fail')).toBe(false);
    expect((await statusOf(db.sql, root.id)).attempt).toBe(0);
  });

  it('claims nothing when too little of the worker is left: the task stays pending for another worker', async () => {
    const h = harness(db.sql, (_, i) => forever(i), { budgetMs: 110_000, workerReserveMs: 40_000, minStepMs: 5_000 });
    h.deps.worker = { startedAt: h.clock.now(), lifetimeMs: 150_000 };
    h.clock.advance(106_000);
    const root = await createRoot(db.sql);
    await expect(processTaskById(root.id, h.deps)).rejects.toBeInstanceOf(WorkerEndingError);
    expect(await processDueTasks(5, h.deps)).toEqual([]);
    expect(h.store.calls.filter((c) => c.fn.startsWith('claim'))).toEqual([]);
    expect(await statusOf(db.sql, root.id)).toMatchObject({ status: 'pending', attempt: 0, leased_by: null });

    const handler = createHandler({ secrets: ['k'], agent: h.deps });
    const res = await handler(
      new Request('http://x/functions/v1/process-task', { method: 'POST', headers: { Authorization: 'Bearer k' }, body: JSON.stringify({ task_id: root.id }) }),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ error: { code: 'worker_ending' } });
    expect(await statusOf(db.sql, root.id)).toMatchObject({ status: 'pending', attempt: 0 });
  });
});

describe('the real function under Deno with a short worker life', () => {
  it('counts from its module load: a request late in its life releases before the worker’s end, and a later one claims nothing', async () => {
    // a model that never finishes: each step (0.7 s) creates one more child
    fake = await startFakeOpenAI((_, i) => ({ tool_calls: [{ id: `c${i}`, name: 'create_parallel_task', arguments: { title: `T${i}`, instructions: 'x' } }], delayMs: 700 }));
    fn = await startFunction(db.url, {
      LLM_PROVIDER: 'openai',
      LLM_MODEL: 'fake-gpt',
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-test',
      // a worker of 20 s that stops taking work 3 s before its end; the request budget alone would allow 60 s
      PROCESS_TASK_WORKER_LIFETIME_MS: '20000',
      PROCESS_TASK_WORKER_RESERVE_MS: '3000',
      PROCESS_TASK_BUDGET_MS: '60000',
      PROCESS_TASK_MIN_STEP_MS: '1000',
      PROCESS_TASK_MAX_STEPS: '200',
    });
    const readyAt = Date.now();
    const listening = fn.logs.find((l) => l.includes('"listening"'));
    expect(listening).toContain('"worker_lifetime_ms":20000');
    const root = await createRoot(db.sql, 'Never done');
    const sentAt = Date.now();
    const first = await post(fn, { task_id: root.id });
    const answeredAt = Date.now();
    expect(first.status).toBe(200);
    expect(first.json.results[0]).toMatchObject({ task_id: root.id, outcome: 'released', status: 'pending' });
    expect(first.json.results[0].steps).toBeGreaterThan(0);
    // the worker started before it was ready, so its deadline (start + 20 s - 3 s) is at most ready + 17 s:
    // the answer (saved and released) came by then, far inside the 60 s request budget
    expect(answeredAt).toBeLessThan(readyAt + 17_000 + 2_000);
    expect(answeredAt - sentAt).toBeGreaterThan(1_000);
    expect((await statusOf(db.sql, root.id)).attempt).toBe(0);

    const other = await createRoot(db.sql, 'Too late for this worker');
    const late = await post(fn, { task_id: other.id });
    expect(late.status).toBe(503);
    expect(late.json).toMatchObject({ error: { code: 'worker_ending' } });
    expect(await statusOf(db.sql, other.id)).toMatchObject({ status: 'pending', attempt: 0, leased_by: null });
    expect((await post(fn, { max_tasks: 5 })).json).toEqual({ results: [] });
  }, 120_000);
});
