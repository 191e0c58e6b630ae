// The web app's data access against a real, migrated database, as the identities it will meet.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { operator, plainUser, useTestDatabase } from '../helpers/database.ts';
import type { Claims } from '../../src/lib/db/identity.ts';
import { useAppPool } from './fixtures/app-pool.ts';
import { seedFanOut, type SeededFanOut } from './fixtures/seed.ts';

vi.mock('server-only', () => ({}));
const { listOpenReviews, listResolvedReviews } = await import('../../src/features/reviews/queries.ts');
const { applyDecision } = await import('../../src/features/reviews/service.ts');
const { getOverview, getTaskDetail } = await import('../../src/features/tasks/queries.ts');
const { decodeCursor } = await import('../../src/lib/db/cursor.ts');
const { dataApiTypes } = await import('../../src/lib/server/db.ts');

const db = useTestDatabase();
const app = useAppPool(db, dataApiTypes);
const ada = operator().claims as Claims;
const grace = operator('grace@example.com', '00000000-0000-4000-8000-00000000a0a1').claims as Claims;
const bob = plainUser().claims as Claims;

describe('open reviews', () => {
  let fanOut: SeededFanOut;
  beforeAll(async () => {
    fanOut = await seedFanOut(db.sql, { children: 3, complete: [0, 2], fail: [1] });
  });

  it('shows the failed task, its error, parent and the aggregator it holds up', async () => {
    const page = await listOpenReviews(app(), ada);
    expect(page.total).toBe(1);
    const [review] = page.items;
    expect(review.id).toBe(fanOut.failed[0].reviewId);
    expect(review.task).toMatchObject({ id: fanOut.childIds[1], title: 'Research vendor 2', status: 'needs_human_review', is_parallel_task: true, attempt: 1 });
    expect(review.error).toMatchObject({ category: 'model', provider: { status: 429 }, step: 2 });
    expect(review.parent).toMatchObject({ id: fanOut.rootId, title: 'Compare three vendors' });
    expect(review.aggregators).toEqual([
      { id: fanOut.aggregatorId, title: 'Combine the vendor research', status: 'queued', total: 3, ended: 2, completed: 2, activated_by: null },
    ]);
  });

  it('refuses the queue to a signed-in user who is not an operator, and shows them no task (the database decides)', async () => {
    await expect(listOpenReviews(app(), bob)).rejects.toMatchObject({ code: '42501' });
    expect(await getTaskDetail(app(), bob, fanOut.rootId)).toBeNull();
  });
});

describe('keyset pagination', () => {
  it('walks forwards and backwards through every open review exactly once', async () => {
    const { failed } = await seedFanOut(db.sql, { title: 'Paging', children: 25, complete: [], fail: Array.from({ length: 25 }, (_, i) => i) });
    const all = new Set((await db.sql<{ id: string }[]>`select id from taskweave.human_reviews where status = 'open'`).map((r) => r.id));
    expect(all.size).toBeGreaterThanOrEqual(failed.length);

    const seen: string[] = [];
    const pages = [];
    let after: string | undefined;
    do {
      const page = await listOpenReviews(app(), ada, { after: decodeCursor(after), limit: 7 });
      pages.push(page);
      seen.push(...page.items.map((r) => r.id));
      after = page.next;
    } while (after);
    expect(seen).toHaveLength(all.size);
    expect(new Set(seen)).toEqual(all);
    expect(pages[0].previous).toBeUndefined();
    expect(pages.at(-1)!.next).toBeUndefined();

    // oldest first
    const created = await db.sql<{ id: string }[]>`select id from taskweave.human_reviews where status = 'open' order by created_at, id`;
    expect(seen).toEqual(created.map((r) => r.id));

    // back from the third page lands on the second
    const back = await listOpenReviews(app(), ada, { before: decodeCursor(pages[2].previous), limit: 7 });
    expect(back.items.map((r) => r.id)).toEqual(pages[1].items.map((r) => r.id));
    expect(back.next).toBeDefined();
    expect(back.previous).toBeDefined();
  });
});

describe('resolving reviews', () => {
  it('retry puts the task back to pending and keeps the aggregator waiting', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Retry me' });
    const outcome = await applyDecision(app(), ada, { reviewId: fanOut.failed[0].reviewId, action: 'retry', note: 'rate limit is over' });
    expect(outcome).toMatchObject({ ok: true, review: { action: 'retry', resolved_by: 'ada@example.com' }, task: { status: 'pending' } });
    if (outcome.ok) expect(outcome.aggregators[0]).toMatchObject({ status: 'queued', ended: 1 });
  });

  it('abort cancels the task and activates the aggregator with partial results', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Abort me', complete: [0, 2], fail: [1] });
    const outcome = await applyDecision(app(), ada, { reviewId: fanOut.failed[0].reviewId, action: 'abort' });
    expect(outcome).toMatchObject({ ok: true, task: { status: 'cancelled' } });
    if (outcome.ok) expect(outcome.aggregators[0]).toMatchObject({ id: fanOut.aggregatorId, status: 'pending', ended: 3, completed: 2 });
  });

  it('abort of the only unfinished dependency with nothing completed cancels the aggregator', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'All failed', children: 1, complete: [], fail: [0] });
    const outcome = await applyDecision(app(), ada, { reviewId: fanOut.failed[0].reviewId, action: 'abort' });
    if (!outcome.ok) throw new Error(outcome.detail);
    expect(outcome.aggregators[0]).toMatchObject({ status: 'cancelled', completed: 0 });
  });

  it('manual completes the task with the operator’s output and the aggregator sees it', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Manual me', complete: [0, 2], fail: [1] });
    const outcome = await applyDecision(app(), ada, { reviewId: fanOut.failed[0].reviewId, action: 'manual', manualOutput: { price: 12 } });
    expect(outcome).toMatchObject({ ok: true, task: { status: 'completed' } });
    if (outcome.ok) expect(outcome.aggregators[0]).toMatchObject({ status: 'pending', completed: 3 });
    const detail = await getTaskDetail(app(), ada, fanOut.childIds[1]);
    expect(detail?.task.output).toMatchObject({ source: 'manual', value: { price: 12 }, resolved_by: 'ada@example.com' });
    const text = await seedFanOut(db.sql, { title: 'Manual text' });
    await applyDecision(app(), ada, { reviewId: text.failed[0].reviewId, action: 'manual', manualOutput: '<b>plain</b> text' });
    const [{ output }] = await db.sql<{ output: { value: unknown } }[]>`select output from taskweave.tasks where id = ${text.failed[0].taskId}`;
    expect(output.value).toBe('<b>plain</b> text');
  });

  it('a second resolution is refused and names who resolved it first', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Race' });
    const reviewId = fanOut.failed[0].reviewId;
    const [first, second] = await Promise.all([
      applyDecision(app(), ada, { reviewId, action: 'retry' }),
      applyDecision(app(), grace, { reviewId, action: 'abort' }),
    ]);
    const winners = [first, second].filter((o) => o.ok);
    const losers = [first, second].filter((o) => !o.ok);
    expect(winners).toHaveLength(1);
    expect(losers[0]).toMatchObject({ ok: false, kind: 'already-resolved', resolved: { taskTitle: 'Research vendor 2' } });
    if (!losers[0].ok) expect(losers[0].resolved?.resolvedBy).toMatch(/@example\.com$/);
  });

  it('reports unknown reviews and non-operators in categories', async () => {
    expect(await applyDecision(app(), ada, { reviewId: '7d4b7f2e-2d53-4e38-9d6a-0b1c2d3e4f50', action: 'retry' })).toMatchObject({
      ok: false,
      kind: 'not-found',
    });
    const fanOut = await seedFanOut(db.sql, { title: 'Not yours' });
    expect(await applyDecision(app(), bob, { reviewId: fanOut.failed[0].reviewId, action: 'retry' })).toMatchObject({ ok: false, kind: 'not-operator' });
  });

  it('lists resolved reviews newest first with who, how and when', async () => {
    const page = await listResolvedReviews(app(), ada, { limit: 3 });
    expect(page.items).toHaveLength(3);
    const times = page.items.map((r) => Date.parse(r.resolved_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(page.items[0]).toMatchObject({ resolved_by: expect.stringMatching(/@example\.com$/) });
    const next = await listResolvedReviews(app(), ada, { before: decodeCursor(page.next), limit: 100 });
    expect(next.items.map((r) => r.id)).not.toContain(page.items[0].id);
  });
});

describe('task detail and overview', () => {
  it('shows the fan-out group, timeline and reviews of a task', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Detail' });
    const detail = await getTaskDetail(app(), ada, fanOut.childIds[1]);
    expect(detail?.parent?.id).toBe(fanOut.rootId);
    expect(detail?.group?.parent.id).toBe(fanOut.rootId);
    expect(detail?.group?.children.map((c) => c.id)).toEqual([...fanOut.childIds, fanOut.aggregatorId]);
    expect(detail?.events.map((e) => e.to_status)).toEqual(expect.arrayContaining(['running', 'needs_human_review']));
    expect(detail?.reviews[0]).toMatchObject({ status: 'open', error: { category: 'model' } });

    const root = await getTaskDetail(app(), ada, fanOut.rootId);
    expect(root?.group?.parent.id).toBe(fanOut.rootId);
    expect(root?.group?.children).toHaveLength(4);
    expect(await getTaskDetail(app(), ada, '7d4b7f2e-2d53-4e38-9d6a-0b1c2d3e4f50')).toBeNull();
    // the run goes on (two children still pending) and has no answer yet
    expect(root?.work).toMatchObject({ state: 'running', open_reviews: 1, answer: null });
  });

  it("shows a fanned-out task's answer: the output of its completed aggregator (the operator module's one rule)", async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Answer', complete: [0, 1, 2], fail: [] });
    await db.sql`select taskweave.claim_task(${fanOut.aggregatorId}, 'w')`;
    await db.sql`select taskweave.complete_task(${fanOut.aggregatorId}, 'w', '{"text": "the combined answer"}')`;
    // the root's own planning is still pending: the run has not ended
    expect((await getTaskDetail(app(), ada, fanOut.rootId))?.work).toMatchObject({ state: 'running', answer: null });
    await db.sql`select taskweave.claim_task(${fanOut.rootId}, 'w')`;
    await db.sql`select taskweave.complete_task(${fanOut.rootId}, 'w', '{"text": "planned"}')`;
    const root = await getTaskDetail(app(), ada, fanOut.rootId);
    expect(root?.work).toMatchObject({ state: 'completed', open_reviews: 0, answer: { task_id: fanOut.aggregatorId, output: { text: 'the combined answer' } } });
  });

  it('counts tasks by status and lists recent roots', async () => {
    const overview = await getOverview(app(), ada);
    expect(overview.counts.needs_human_review).toBeGreaterThan(0);
    expect(overview.openReviews).toBe(overview.counts.needs_human_review);
    expect(overview.recentRoots[0].descendants).toBeGreaterThan(0);
    const hidden = await getOverview(app(), bob);
    expect(hidden.openReviews).toBe(0);
    expect(hidden.recentRoots).toEqual([]);
  });
});
