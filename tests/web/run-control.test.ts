// Run control in the web app's data layer and actions, against a real database: token usage per task
// and per run, a run's limits, a budget stop in the review queue, waiting on a model's rate limit, and Cancel.
import { describe, expect, it, vi } from 'vitest';
import { operator, plainUser, useTestDatabase } from '../helpers/database.ts';
import type { Claims } from '../../src/lib/db/identity.ts';
import { useAppPool } from './fixtures/app-pool.ts';
import { seedFanOut } from './fixtures/seed.ts';

vi.mock('server-only', () => ({}));
const { getTaskDetail, getOverview } = await import('../../src/features/tasks/queries.ts');
const { cancelFromForm, cancelTask } = await import('../../src/features/tasks/service.ts');
const { listOpenReviews } = await import('../../src/features/reviews/queries.ts');
const { applyDecision } = await import('../../src/features/reviews/service.ts');
const { dataApiTypes } = await import('../../src/lib/server/db.ts');

const db = useTestDatabase();
const app = useAppPool(db, dataApiTypes);
const ada = operator().claims as Claims;
const bob = plainUser().claims as Claims;
type Viewer = Parameters<typeof cancelFromForm>[0] extends { viewer: () => Promise<infer V> } ? V : never;
const asOperator: Viewer = { kind: 'operator', claims: ada, name: 'ada@example.com', mode: 'supabase' };

const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};

/** One model step's transcript entry with its token usage, as the worker saves it. */
async function modelStep(taskId: string, input: number, output: number) {
  await db.sql`select taskweave.claim_task(${taskId}, 'usage-worker', 300)`;
  await db.sql`
    select taskweave.append_task_message(${taskId}, 'usage-worker', 'assistant', ${db.sql.json([{ type: 'text', text: 'step' }])},
      ${db.sql.json({ input_tokens: input, output_tokens: output })})`;
}

async function statuses(ids: string[]): Promise<Record<string, string>> {
  const rows = await db.sql<{ id: string; status: string }[]>`select id, status::text from taskweave.tasks where id = any (${ids}::uuid[])`;
  return Object.fromEntries(rows.map((r) => [r.id, r.status]));
}

describe('token usage and run limits', () => {
  it('shows a task’s tokens and its run’s usage against the limits, on the task page and the overview', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Usage run', complete: [0], fail: [], limits: { max_tasks: 20, max_tokens: 50_000, deadline_seconds: 3600 } });
    await modelStep(fanOut.childIds[1], 1200, 300);

    const detail = await getTaskDetail(app(), ada, fanOut.childIds[1]);
    expect(detail?.task.usage).toMatchObject({ input_tokens: 1200, output_tokens: 300 });
    expect(detail?.run).toMatchObject({ root_task_id: fanOut.rootId, max_tasks: 20, max_tokens: 50_000, task_count: 5 });
    expect(detail!.run!.input_tokens).toBeGreaterThanOrEqual(1200);
    expect(detail!.run!.output_tokens).toBeGreaterThanOrEqual(300);
    // a bigint counter arrives as a number and a timestamp as ISO 8601 text, as the generated types say
    expect(typeof detail!.run!.input_tokens).toBe('number');
    expect(detail!.run!.deadline_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$/);
    expect(Date.parse(detail!.run!.deadline_at!) - Date.parse(detail!.task.created_at)).toBeGreaterThan(3_500_000);

    const overview = await getOverview(app(), ada);
    const root = overview.recentRoots.find((r) => r.id === fanOut.rootId);
    expect(root?.run).toMatchObject({ max_tokens: 50_000, max_tasks: 20, task_count: 5 });
    expect(root!.run!.input_tokens + root!.run!.output_tokens).toBeGreaterThanOrEqual(1500);
  });

  it('shows a budget stop in the review queue with the run’s usage against its limits', async () => {
    const budget = { category: 'budget', message: 'run limit reached: max_tokens 1000 (used 1500)', limit: 'max_tokens' };
    const fanOut = await seedFanOut(db.sql, { title: 'Budget run', complete: [], fail: [], limits: { max_tokens: 1000 } });
    await modelStep(fanOut.childIds[0], 1000, 500);
    await db.sql`select taskweave.fail_task(${fanOut.childIds[0]}, 'usage-worker', ${db.sql.json(budget)}, false)`;

    const page = await listOpenReviews(app(), ada, { limit: 100 });
    const review = page.items.find((r) => r.task.id === fanOut.childIds[0]);
    expect(review?.error).toMatchObject({ category: 'budget' });
    expect(review?.run).toMatchObject({ root_task_id: fanOut.rootId, max_tokens: 1000 });
    expect(review!.run!.input_tokens + review!.run!.output_tokens).toBeGreaterThanOrEqual(1500);
  });

  it('says when a task waits on its model\'s rate limit', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Rate limited', complete: [], fail: [] });
    await db.sql`select taskweave.set_model_limits('web-test-model', 1)`;
    const [first, second] = fanOut.childIds;
    await db.sql`select taskweave.claim_task(${first}, 'w1', 300)`;
    await db.sql`select taskweave.claim_task(${second}, 'w2', 300)`;
    const [a] = await db.sql<{ step: { wait_ms: number } }[]>`select taskweave.begin_model_step(${first}, 'w1', 'web-test-model') as step`;
    const [b] = await db.sql<{ step: { wait_ms: number } }[]>`select taskweave.begin_model_step(${second}, 'w2', 'web-test-model') as step`;
    expect(a.step.wait_ms).toBe(0);
    expect(b.step.wait_ms).toBeGreaterThan(0);

    const waiting = await getTaskDetail(app(), ada, second);
    expect(waiting?.waitingForModelUntil).not.toBeNull();
    expect(Date.parse(waiting!.waitingForModelUntil!)).toBeGreaterThan(Date.now());
    expect((await getTaskDetail(app(), ada, first))?.waitingForModelUntil).toBeNull();
  });
});

describe('cancel', () => {
  it('counts the task and its descendants that have not ended, and the action stops exactly those', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Cancel me', complete: [0], fail: [1] });
    const before = await getTaskDetail(app(), ada, fanOut.rootId);
    // root, child 2 (needs review), child 3 (pending), the aggregator (queued); child 1 completed
    expect(before?.cancellable).toBe(4);

    const revalidate = vi.fn();
    const state = await cancelFromForm({ viewer: async () => asOperator, sql: app, revalidate }, form({ taskId: fanOut.rootId, note: 'wrong brief' }));
    expect(state).toMatchObject({ status: 'success', errors: {} });
    expect(state.message).toBe('Cancelled “Cancel me”: 4 tasks stopped, this one and 3 tasks under it.');
    expect(revalidate).toHaveBeenCalledWith(fanOut.rootId);
    expect(await statuses([fanOut.rootId, ...fanOut.childIds, fanOut.aggregatorId])).toEqual({
      [fanOut.rootId]: 'cancelled',
      [fanOut.childIds[0]]: 'completed',
      [fanOut.childIds[1]]: 'cancelled',
      [fanOut.childIds[2]]: 'cancelled',
      [fanOut.aggregatorId]: 'cancelled',
    });
    // the open review was resolved as abort, and the cancel is in the history with who and why
    const [review] = await db.sql`select status, action from taskweave.human_reviews where id = ${fanOut.failed[0].reviewId}`;
    expect(review).toMatchObject({ status: 'resolved', action: 'abort' });
    const [event] = await db.sql<{ actor: string | null; detail: unknown }[]>`
      select actor, detail from taskweave.task_events where task_id = ${fanOut.rootId} and to_status = 'cancelled'`;
    expect(event.actor).toBe('ada@example.com');
    expect(JSON.stringify(event.detail)).toContain('wrong brief');
    const after = await getTaskDetail(app(), ada, fanOut.rootId);
    expect(after?.cancellable).toBe(0);
    // a second click (another tab, a stale page) stops nothing and says so
    const again = await cancelFromForm({ viewer: async () => asOperator, sql: app, revalidate }, form({ taskId: fanOut.rootId }));
    expect(again).toMatchObject({ status: 'error', message: 'Nothing changed: “Cancel me” had already ended (cancelled).' });
  });

  it('a single running task: the count is one and the worker loses its lease', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Cancel one', complete: [], fail: [] });
    await db.sql`select taskweave.claim_task(${fanOut.childIds[0]}, 'doomed-worker', 300)`;
    expect((await getTaskDetail(app(), ada, fanOut.childIds[0]))?.cancellable).toBe(1);
    const outcome = await cancelTask(app(), ada, { taskId: fanOut.childIds[0] });
    expect(outcome).toMatchObject({ ok: true, stopped: 1, task: { status: 'cancelled' } });
    const late = db.sql`select taskweave.complete_task(${fanOut.childIds[0]}, 'doomed-worker', '{"text":"too late"}')`;
    await expect(late).rejects.toMatchObject({ code: 'TW001' });
  });

  // issue 21 item 4: the count came from a read before cancel_task took its locks, so a task that
  // completed in between was reported "Cancelled"; the message now uses what the cancel itself moved
  it('says what the cancel itself did when the task completes while the cancel waits for its lock', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Cancel race', children: 1, complete: [], fail: [] });
    const child = fanOut.childIds[0];
    await db.sql`select taskweave.claim_task(${child}, 'racing-worker', 300)`;
    const worker = db.client(1);
    let completed!: () => void;
    let release!: () => void;
    const ran = new Promise<void>((resolve) => (completed = resolve));
    const held = new Promise<void>((resolve) => (release = resolve));
    // the worker's completion holds the task's row, not yet committed
    const working = worker.begin(async (tx) => {
      await tx`select taskweave.complete_task(${child}, 'racing-worker', '{"text":"done"}')`;
      completed();
      await held;
    });
    await ran;
    const cancelling = cancelFromForm({ viewer: async () => asOperator, sql: app, revalidate: vi.fn() }, form({ taskId: child }));
    await expect
      .poll(async () => (await db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)[0].n)
      .toBeGreaterThan(0);
    release();
    await working;
    expect(await cancelling).toMatchObject({ status: 'error', message: 'Nothing changed: “Research vendor 1” had already ended (completed).' });
    expect(await statuses([child])).toEqual({ [child]: 'completed' });
  });

  it('refuses visitors before the database, non-operators in the database, and bad input with words', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Not cancelled', complete: [], fail: [] });
    const sql = vi.fn(app);
    const signedOut = await cancelFromForm({ viewer: async () => ({ kind: 'signed-out' }), sql, revalidate: vi.fn() }, form({ taskId: fanOut.rootId }));
    expect(signedOut).toMatchObject({ status: 'error', message: expect.stringMatching(/Sign in again/) });
    const notOperator = await cancelFromForm({ viewer: async () => ({ kind: 'not-operator', name: 'bob' }), sql, revalidate: vi.fn() }, form({ taskId: fanOut.rootId }));
    expect(notOperator.message).toMatch(/not an operator/);
    expect(sql).not.toHaveBeenCalled();

    const forged = await cancelFromForm(
      { viewer: async () => ({ kind: 'operator', claims: bob, name: 'bob', mode: 'supabase' }), sql: app, revalidate: vi.fn() },
      form({ taskId: fanOut.rootId }),
    );
    expect(forged).toMatchObject({ status: 'error', message: 'The database refused: your account is not an operator.' });

    const malformed = await cancelFromForm({ viewer: async () => asOperator, sql: app, revalidate: vi.fn() }, form({ taskId: 'not-a-uuid' }));
    expect(malformed).toMatchObject({ status: 'error', errors: { taskId: [expect.stringMatching(/not valid/)] } });
    const longNote = await cancelFromForm({ viewer: async () => asOperator, sql: app, revalidate: vi.fn() }, form({ taskId: fanOut.rootId, note: 'x'.repeat(2001) }));
    expect(longNote).toMatchObject({ status: 'error', message: 'Check the note: nothing was cancelled.' });
    const unknown = await cancelFromForm({ viewer: async () => asOperator, sql: app, revalidate: vi.fn() }, form({ taskId: '7d4b7f2e-2d53-4e38-9d6a-0b1c2d3e4f50' }));
    expect(unknown).toMatchObject({ status: 'error', message: 'This task no longer exists, or you may not see it.' });

    expect(Object.values(await statuses([fanOut.rootId, ...fanOut.childIds]))).not.toContain('cancelled');
  });
});

describe('review decisions are told apart by SQLSTATE', () => {
  it('a review resolved by Cancel is "already resolved", without a second query deciding it', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Cancelled under review' });
    await cancelTask(app(), ada, { taskId: fanOut.rootId });
    const outcome = await applyDecision(app(), ada, { reviewId: fanOut.failed[0].reviewId, action: 'retry' });
    expect(outcome).toMatchObject({ ok: false, kind: 'already-resolved', resolved: { action: 'abort', taskTitle: 'Research vendor 2' } });
  });
});
