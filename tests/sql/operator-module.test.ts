// The operator module (supabase/functions/_shared/operator.ts) against a real database, as an operator
// through the same kind of transaction the web app opens: list pages and cursors, a resolve and the race
// it can lose, bulk resolves in batches, a cancel's own count, and where a run stands.
import { describe, expect, it } from 'vitest';
import {
  ACTIONS_BY_KIND,
  REVIEW_KINDS,
  cancelTask,
  countReviews,
  listReviews,
  resolveReview,
  resolveReviews,
  workStates,
  type Sql as OperatorSql,
  type Transact,
} from '../../supabase/functions/_shared/operator.ts';
import { decodeKeysetCursor, encodeKeysetCursor } from '../../supabase/functions/_shared/keyset-cursor.ts';
import { asIdentity, operator, useTestDatabase } from '../helpers/database.ts';
import { claim, complete, createFanOut, createParallel, createRoot, finish, getTask } from '../helpers/tasks.ts';
import { openApprovalsForChildren, waitForPerson } from './support/waiting-reviews.ts';

const db = useTestDatabase({ settings: { max_children_per_task: 1000 } });

const as = (who = 'ada@example.com'): Transact => (fn) => asIdentity(db.sql, operator(who), (tx) => fn(tx as unknown as OperatorSql));

describe('operator module', () => {
  it('offers per kind exactly the actions SQL takes', async () => {
    for (const kind of REVIEW_KINDS) {
      const [{ actions }] = await db.sql<{ actions: string[] }[]>`select taskweave_private.review_actions(${kind}) as actions`;
      expect([...ACTIONS_BY_KIND[kind]].sort()).toEqual([...actions].sort());
    }
  });

  it('lists a filter a page at a time, forwards and back, with the total and each task, run and aggregator', async () => {
    const { root, reviewIds, aggregator } = await openApprovalsForChildren(db.sql, 7);
    const filter = { root_task_id: root.id, kind: 'approval' as const };
    const first = await as()((tx) => listReviews(tx, { filter, limit: 3 }));
    expect(first.total).toBe(7);
    expect(first.items.map((i) => i.id)).toEqual(reviewIds.slice(0, 3));
    expect(first.previous).toBeUndefined();
    const item = first.items[0];
    expect(item).toMatchObject({
      kind: 'approval',
      error: null,
      request: { tool_call_id: 'call-0', tool: 'send_email', arguments: { to: 'person0@example.com' }, reason: 'tell person 0' },
      task: { status: 'needs_human_review', root_task_id: root.id, parent_task_id: root.id, agent: null, is_parallel_task: true },
      parent: { id: root.id, status: 'pending' },
      run: { root_task_id: root.id },
      aggregators: [{ id: aggregator.id, status: 'queued', total: 7, ended: 0, completed: 0, activated_by: null }],
    });
    expect(item.cursor.at).toMatch(/\.\d+\+00$/); // Postgres's text form, microseconds kept
    const second = await as()((tx) => listReviews(tx, { filter, limit: 3, after: decodeKeysetCursor(first.next) }));
    expect(second.items.map((i) => i.id)).toEqual(reviewIds.slice(3, 6));
    const third = await as()((tx) => listReviews(tx, { filter, limit: 3, after: decodeKeysetCursor(second.next) }));
    expect(third.items.map((i) => i.id)).toEqual(reviewIds.slice(6));
    expect(third.next).toBeUndefined();
    const back = await as()((tx) => listReviews(tx, { filter, limit: 3, before: decodeKeysetCursor(third.previous) }));
    expect(back.items.map((i) => i.id)).toEqual(reviewIds.slice(3, 6));
    expect(back.next).toBeDefined();
    expect(back.previous).toBeDefined();
    expect(await as()((tx) => countReviews(tx, { ...filter, text: 'nothing like this' }))).toBe(0);
  });

  it('cursors: its own round-trip; anything else, an impossible time included, decodes to nothing', () => {
    const cursor = { at: '2026-12-06 10:00:00.123456+00', id: '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11' };
    expect(decodeKeysetCursor(encodeKeysetCursor(cursor))).toEqual(cursor);
    for (const bad of ['', 'x', encodeKeysetCursor({ ...cursor, at: '2026-13-01 10:00:00+00' }), encodeKeysetCursor({ ...cursor, id: 'nope' }), btoa('[1,2]')]) {
      expect(decodeKeysetCursor(bad)).toBeUndefined();
    }
  });

  it('resolves one review and says what it did; a second decision is told who won', async () => {
    const { children } = await createFanOut(db.sql, 1, 'one');
    const reviewId = await waitForPerson(db.sql, children[0].id, 'question', { tool_call_id: 'q', question: 'colour?' });
    const invalid = await resolveReview(as(), { reviewId, action: 'answer' });
    expect(invalid).toMatchObject({ ok: false, kind: 'invalid', code: '22023' });
    const done = await resolveReview(as('ada@example.com'), { reviewId, action: 'answer', manualOutput: { answer: 'blue' } });
    expect(done).toMatchObject({
      ok: true,
      review: { id: reviewId, kind: 'question', action: 'answer', manual_output: { answer: 'blue' }, resolved_by: 'ada@example.com' },
      task: { id: children[0].id, status: 'pending' },
      aggregators: [{ status: 'queued', total: 1, ended: 0 }],
    });
    const late = await resolveReview(as('grace@example.com'), { reviewId, action: 'abort' });
    expect(late).toMatchObject({ ok: false, kind: 'already-resolved', code: 'TW002', resolved: { action: 'answer', resolvedBy: 'ada@example.com', taskTitle: children[0].title } });
    expect(await resolveReview(as(), { reviewId: '00000000-0000-4000-8000-00000000dead', action: 'retry' })).toMatchObject({ ok: false, kind: 'not-found' });
  });

  it('resolves a filter in batches, one transaction each, until none match', async () => {
    const { root, reviewIds } = await openApprovalsForChildren(db.sql, 23);
    let transactions = 0;
    const counting: Transact = (fn) => {
      transactions++;
      return as()(fn);
    };
    const outcome = await resolveReviews(counting, { filter: { root_task_id: root.id }, action: 'reject', note: 'no email today', batchSize: 10 });
    expect(outcome).toEqual({ resolved: 23, skipped: 0, batches: 3 });
    expect(transactions).toBe(3);
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.human_reviews where id = any (${reviewIds}::uuid[]) and action = 'reject' and note = 'no email today'`;
    expect(n).toBe(23);
    // an exact multiple of the batch: one more batch finds nothing and stops
    const more = await openApprovalsForChildren(db.sql, 10);
    expect(await resolveReviews(as(), { filter: { root_task_id: more.root.id }, action: 'approve', batchSize: 5 })).toEqual({ resolved: 10, skipped: 0, batches: 3 });
  });

  it('cancel reports what the cancel itself stopped: not what had already ended', async () => {
    const { root, children, aggregator } = await createFanOut(db.sql, 3, 'cancel me');
    await finish(db.sql, children[0].id);
    await claim(db.sql, children[1].id, 'w-c');
    const outcome = await cancelTask(as(), { taskId: root.id, note: 'enough' });
    // root, two children, the aggregator (the finished child stays completed)
    expect(outcome).toEqual({ task: { id: root.id, title: root.title, status: 'cancelled' }, stopped: 4 });
    expect((await getTask(db.sql, aggregator.id)).status).toBe('cancelled');
    expect(await cancelTask(as(), { taskId: root.id })).toMatchObject({ stopped: 0 });
    await expect(cancelTask(as(), { taskId: '00000000-0000-4000-8000-00000000dead' })).rejects.toMatchObject({ code: 'P0002' });
  });

  it('where a run stands: running, waiting for a person (how many), ended, and its answer', async () => {
    const { root, children, aggregator } = await createFanOut(db.sql, 3, 'states');
    const state = async (id: string) => (await as()((tx) => workStates(tx, [id]))).get(id);
    expect(await state(root.id)).toEqual({ task_id: root.id, state: 'running', open_reviews: 0, answer: null });

    await claim(db.sql, root.id, 'w-root');
    await complete(db.sql, root.id, 'w-root', { planned: true });
    await finish(db.sql, children[0].id, { part: 0 });
    await waitForPerson(db.sql, children[1].id, 'approval', { tool_call_id: 'a', tool: 't' });
    // the root's own work ended, but its run did not: one child still runs
    expect(await state(root.id)).toMatchObject({ state: 'running', open_reviews: 1 });
    await waitForPerson(db.sql, children[2].id, 'question', { tool_call_id: 'q', question: '?' });
    // nothing can move: the aggregator waits on the two reviews
    expect(await state(root.id)).toEqual({ task_id: root.id, state: 'needs_operator', open_reviews: 2, answer: null });

    await resolveReview(as(), { reviewId: (await db.sql`select id from taskweave.human_reviews where task_id = ${children[1].id} and status = 'open'`)[0].id as string, action: 'abort' });
    await resolveReview(as(), { reviewId: (await db.sql`select id from taskweave.human_reviews where task_id = ${children[2].id} and status = 'open'`)[0].id as string, action: 'abort' });
    expect(await state(root.id)).toMatchObject({ state: 'running', open_reviews: 0 });
    await finish(db.sql, aggregator.id, { summary: 'the answer' });
    expect(await state(root.id)).toEqual({
      task_id: root.id, state: 'completed', open_reviews: 0,
      answer: { task_id: aggregator.id, title: aggregator.title, output: { summary: 'the answer' } },
    });
    // a task without aggregators answers with its own output; a cancelled one has no answer
    const lone = await createRoot(db.sql, 'lone');
    await finish(db.sql, lone.id, { alone: true });
    const cancelled = await createRoot(db.sql, 'gone');
    const child = await createParallel(db.sql, cancelled.id, 'child');
    await cancelTask(as(), { taskId: cancelled.id });
    const states = await as()((tx) => workStates(tx, [lone.id, cancelled.id, child.id]));
    expect(states.get(lone.id)).toMatchObject({ state: 'completed', answer: { task_id: lone.id, output: { alone: true } } });
    expect(states.get(cancelled.id)).toMatchObject({ state: 'cancelled', answer: null });
    expect(states.get(child.id)).toMatchObject({ state: 'cancelled' });
  });
});
