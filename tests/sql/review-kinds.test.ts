// Every kind of review through resolve_review: failure, approval, question, interrupted_call. Each
// kind's life cycle, the actions each kind takes (22023 naming a wrong one), abort and manual cancelling
// the work under the task, and resolves that arrive at once: exactly one wins and the task resumes once.
import { describe, expect, it } from 'vitest';
import { asIdentity, operator, useTestDatabase, type Sql } from '../helpers/database.ts';
import { claim, createFanOut, createParallel, failToReview, getTask, rejection } from '../helpers/tasks.ts';
import { openApprovalsForChildren, waitForPerson, type Kind } from './support/waiting-reviews.ts';

const db = useTestDatabase();

type Review = { id: string; status: string; kind: string; action: string | null; manual_output: unknown; note: string | null; resolved_by: string | null };

const resolveAs = (sql: Sql, who: string, id: string, action: string, output: unknown = null, note: string | null = null) =>
  asIdentity(sql, operator(who), async (tx) => {
    const [row] = await tx<Review[]>`
      select * from taskweave.resolve_review(${id}, ${action}, ${output === null ? null : tx.json(output as never)}, ${note})`;
    return row;
  });

async function reviewOf(kind: Kind, request: Record<string, unknown> = {}) {
  const { root, children, aggregator } = await createFanOut(db.sql, 1, `${kind} run`);
  const reviewId = await waitForPerson(db.sql, children[0].id, kind, request);
  return { root, task: children[0], aggregator, reviewId };
}

async function events(taskId: string) {
  return db.sql<{ event: string; from_status: string | null; to_status: string | null; actor: string; detail: Record<string, unknown> }[]>`
    select event, from_status, to_status, actor, detail from taskweave.task_events
     where task_id = ${taskId} and id > (select max(id) from taskweave.task_events where task_id = ${taskId} and to_status = 'needs_human_review' and event = 'status_changed')
     order by id`;
}

const resumes = async (taskId: string) =>
  (await db.sql<{ n: number }[]>`
    select count(*)::int as n from taskweave.task_events where task_id = ${taskId} and event = 'status_changed' and from_status = 'needs_human_review'`)[0].n;

async function unchanged(reviewId: string, taskId: string) {
  const [review] = await db.sql`select status, action from taskweave.human_reviews where id = ${reviewId}`;
  expect(review).toEqual({ status: 'open', action: null });
  expect((await getTask(db.sql, taskId)).status).toBe('needs_human_review');
}

describe('approval reviews', () => {
  const request = { tool_call_id: 'call-1', tool: 'send_email', arguments: { to: 'a@example.com', body: 'hi' }, reason: 'the user asked' };

  it('approve as asked: the task resumes (pending, a new round) and the history records the decision', async () => {
    const { task, reviewId } = await reviewOf('approval', request);
    const review = await resolveAs(db.sql, 'ada@example.com', reviewId, 'approve');
    expect(review).toMatchObject({ status: 'resolved', kind: 'approval', action: 'approve', manual_output: null, resolved_by: 'ada@example.com' });
    expect(await getTask(db.sql, task.id)).toMatchObject({ status: 'pending', attempt: 0, leased_by: null });
    expect(await events(task.id)).toEqual([
      { event: 'review_resolved', from_status: null, to_status: null, actor: 'ada@example.com',
        detail: { review_id: reviewId, kind: 'approval', action: 'approve', tool_call_id: 'call-1', edited: false } },
      { event: 'status_changed', from_status: 'needs_human_review', to_status: 'pending', actor: 'ada@example.com', detail: { attempt: 0 } },
    ]);
  });

  it('edit and approve: the edited arguments are kept on the review and, with the requested ones, in the history', async () => {
    const { task, reviewId } = await reviewOf('approval', request);
    const edit = { arguments: { to: 'b@example.com', body: 'hello' } };
    const review = await resolveAs(db.sql, 'ada@example.com', reviewId, 'approve', edit, 'wrong address');
    expect(review).toMatchObject({ action: 'approve', manual_output: edit, note: 'wrong address' });
    const [resolved] = await events(task.id);
    expect(resolved.detail).toEqual({
      review_id: reviewId, kind: 'approval', action: 'approve', tool_call_id: 'call-1', note: 'wrong address', edited: true,
      arguments: edit.arguments, requested_arguments: request.arguments,
    });
    expect((await getTask(db.sql, task.id)).status).toBe('pending');
  });

  it('approve refuses anything but null or {"arguments": {...}}, changing nothing', async () => {
    const { task, reviewId } = await reviewOf('approval', request);
    for (const bad of [[1], 'text', { arguments: 'x' }, { arguments: [] }, { arguments: {}, extra: 1 }, { args: {} }]) {
      const e = await rejection(resolveAs(db.sql, 'ada@example.com', reviewId, 'approve', bad));
      expect(e.code).toBe('22023');
      expect(e.message).toContain('{"arguments": {...}}');
    }
    await unchanged(reviewId, task.id);
  });

  it('reject needs a reason, which is kept as the note the loop gives the model', async () => {
    const { task, reviewId } = await reviewOf('approval', request);
    for (const note of [null, '  ']) {
      expect(await rejection(resolveAs(db.sql, 'ada@example.com', reviewId, 'reject', null, note))).toEqual({
        code: '22023', message: "a reject needs p_note: the reason the model is given instead of the tool's result",
      });
    }
    expect((await rejection(resolveAs(db.sql, 'ada@example.com', reviewId, 'reject', { arguments: {} }, 'no'))).code).toBe('22023');
    await unchanged(reviewId, task.id);
    const review = await resolveAs(db.sql, 'ada@example.com', reviewId, 'reject', null, 'do not email customers on Sunday');
    expect(review).toMatchObject({ action: 'reject', note: 'do not email customers on Sunday', manual_output: null });
    expect(await getTask(db.sql, task.id)).toMatchObject({ status: 'pending', attempt: 0 });
    expect((await events(task.id))[0].detail).toMatchObject({ action: 'reject', note: 'do not email customers on Sunday', tool_call_id: 'call-1' });
  });
});

describe('question reviews', () => {
  const request = { tool_call_id: 'ask-1', question: 'Which colour?', options: ['red', 'blue'] };

  it('answer: {"answer": ...} is required; the task resumes and the history has the answer', async () => {
    const { task, reviewId } = await reviewOf('question', request);
    for (const bad of [null, 'blue', { answer: null }, { answer: '  ' }, { answer: 'blue', extra: 1 }, { reply: 'blue' }]) {
      const e = await rejection(resolveAs(db.sql, 'ada@example.com', reviewId, 'answer', bad));
      expect(e.code).toBe('22023');
      expect(e.message).toMatch(/answer/);
    }
    await unchanged(reviewId, task.id);
    const review = await resolveAs(db.sql, 'grace@example.com', reviewId, 'answer', { answer: 'blue' });
    expect(review).toMatchObject({ action: 'answer', manual_output: { answer: 'blue' }, resolved_by: 'grace@example.com' });
    expect(await getTask(db.sql, task.id)).toMatchObject({ status: 'pending', attempt: 0 });
    expect((await events(task.id))[0].detail).toEqual({ review_id: reviewId, kind: 'question', action: 'answer', tool_call_id: 'ask-1', answer: 'blue' });
  });
});

describe('interrupted_call reviews', () => {
  const request = { tool_call_id: 'call-9', tool: 'charge_card', arguments: { amount: 10 }, started_at: '2026-12-06T10:00:00Z' };

  it('retry runs the call again: the task resumes with no output given', async () => {
    const { task, reviewId } = await reviewOf('interrupted_call', request);
    expect((await rejection(resolveAs(db.sql, 'ada@example.com', reviewId, 'retry', { x: 1 }))).code).toBe('22023');
    const review = await resolveAs(db.sql, 'ada@example.com', reviewId, 'retry');
    expect(review).toMatchObject({ action: 'retry', manual_output: null });
    expect(await getTask(db.sql, task.id)).toMatchObject({ status: 'pending', attempt: 0 });
  });

  it('manual gives the call its result (required); the task resumes rather than completing', async () => {
    const { task, reviewId } = await reviewOf('interrupted_call', request);
    expect(await rejection(resolveAs(db.sql, 'ada@example.com', reviewId, 'manual'))).toEqual({
      code: '22023', message: 'a manual resolution needs p_manual_output (the result the tool call should have returned)',
    });
    const review = await resolveAs(db.sql, 'ada@example.com', reviewId, 'manual', { charged: true, receipt: 'r-1' });
    expect(review).toMatchObject({ action: 'manual', manual_output: { charged: true, receipt: 'r-1' } });
    expect(await getTask(db.sql, task.id)).toMatchObject({ status: 'pending', output: null });
    expect((await events(task.id))[0].detail).toMatchObject({ action: 'manual', tool_call_id: 'call-9', manual_output: { charged: true, receipt: 'r-1' } });
  });
});

describe('actions by kind', () => {
  it('a wrong action for the kind is 22023 naming the action and what the kind takes; nothing changes', async () => {
    const cases: [Kind, string, string][] = [
      ['approval', 'retry', 'p_action must be approve, reject or abort for an approval review (got retry)'],
      ['approval', 'answer', 'p_action must be approve, reject or abort for an approval review (got answer)'],
      ['question', 'approve', 'p_action must be answer or abort for a question review (got approve)'],
      ['question', 'manual', 'p_action must be answer or abort for a question review (got manual)'],
      ['interrupted_call', 'approve', 'p_action must be retry, manual or abort for an interrupted_call review (got approve)'],
      ['failure', 'approve', 'p_action must be retry, abort or manual (got approve)'],
      ['failure', 'answer', 'p_action must be retry, abort or manual (got answer)'],
    ];
    for (const [kind, action, message] of cases) {
      const { task, reviewId } = await reviewOf(kind, { tool_call_id: 'c' });
      expect(await rejection(resolveAs(db.sql, 'ada@example.com', reviewId, action, action === 'answer' ? { answer: 'x' } : null, 'why'))).toEqual({ code: '22023', message });
      await unchanged(reviewId, task.id);
    }
  });

  it('abort is allowed for every kind and cancels the task, everything under it, and their open reviews', async () => {
    for (const kind of ['failure', 'approval', 'question', 'interrupted_call'] as const) {
      const { root, children, aggregator } = await createFanOut(db.sql, 1, `abort ${kind}`);
      const task = children[0];
      await claim(db.sql, task.id, 'w-abort');
      // work the task had started before it stopped: a pending child, a running grandchild, a child in review
      const pendingChild = await createParallel(db.sql, task.id, 'pending child');
      const busyChild = await createParallel(db.sql, task.id, 'busy child');
      const grandchild = await createParallel(db.sql, busyChild.id, 'grandchild');
      await claim(db.sql, grandchild.id, 'w-grand');
      const reviewedChild = await createParallel(db.sql, task.id, 'reviewed child');
      const childReview = await failToReview(db.sql, reviewedChild.id);
      const reviewId = await waitForPerson(db.sql, task.id, kind, { tool_call_id: 'c1' }, { alreadyRunning: true });

      const review = await resolveAs(db.sql, 'ada@example.com', reviewId, 'abort', null, 'not needed');
      expect(review).toMatchObject({ action: 'abort', note: 'not needed' });
      for (const id of [task.id, pendingChild.id, busyChild.id, grandchild.id, reviewedChild.id]) {
        expect(await getTask(db.sql, id)).toMatchObject({ status: 'cancelled', leased_by: null });
      }
      expect((await getTask(db.sql, task.id)) as unknown).toMatchObject({ cancel_reason: 'not needed' });
      const [child] = await db.sql`select status, action from taskweave.human_reviews where id = ${childReview}`;
      expect(child).toEqual({ status: 'resolved', action: 'abort' });
      // the grandchild's worker learns at its next call
      expect((await rejection(db.sql`select taskweave.heartbeat_task(${grandchild.id}, 'w-grand')`)).code).toBe('TW001');
      // the aggregator had nothing completed: it is cancelled; the root is untouched
      expect((await getTask(db.sql, aggregator.id)).status).toBe('cancelled');
      expect((await getTask(db.sql, root.id)).status).toBe('pending');
    }
  });

  it("failure manual completes the task and cancels what its own children had not finished (finished ones stay)", async () => {
    const { children, aggregator } = await createFanOut(db.sql, 1, 'manual cascade');
    const task = children[0];
    await claim(db.sql, task.id, 'w-m');
    const done = await createParallel(db.sql, task.id, 'done child');
    await claim(db.sql, done.id, 'w-done');
    await db.sql`select taskweave.complete_task(${done.id}, 'w-done', '{"ok": 1}'::jsonb)`;
    const waiting = await createParallel(db.sql, task.id, 'waiting child');
    const running = await createParallel(db.sql, task.id, 'running child');
    const deeper = await createParallel(db.sql, running.id, 'deeper');
    await claim(db.sql, running.id, 'w-run');
    await db.sql`select taskweave.fail_task(${task.id}, 'w-m', '{"category": "model", "message": "gave up"}'::jsonb, false)`;
    const [{ id: reviewId }] = await db.sql<{ id: string }[]>`select id from taskweave.human_reviews where task_id = ${task.id} and status = 'open'`;

    await resolveAs(db.sql, 'ada@example.com', reviewId, 'manual', 'written by hand');
    expect(await getTask(db.sql, task.id)).toMatchObject({ status: 'completed', output: { source: 'manual', value: 'written by hand' } });
    expect((await getTask(db.sql, done.id)).status).toBe('completed');
    for (const id of [waiting.id, running.id, deeper.id]) {
      expect(await getTask(db.sql, id)).toMatchObject({ status: 'cancelled', cancel_reason: 'its parent task was completed by hand by ada@example.com' });
    }
    expect((await rejection(db.sql`select taskweave.heartbeat_task(${running.id}, 'w-run')`)).code).toBe('TW001');
    expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
  });
});

describe('resolves that arrive at once', () => {
  it('two operators decide the same review of each kind at the same instant: exactly one wins, the task resumes once', async () => {
    const pairs: [Kind, [string, unknown, string | null], [string, unknown, string | null]][] = [
      ['approval', ['approve', null, null], ['reject', null, 'no']],
      ['question', ['answer', { answer: 'a' }, null], ['answer', { answer: 'b' }, null]],
      ['interrupted_call', ['retry', null, null], ['manual', { r: 1 }, null]],
      ['approval', ['approve', { arguments: { x: 1 } }, null], ['abort', null, null]],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [kind, first, second] of pairs) {
        const { task, reviewId } = await reviewOf(kind, { tool_call_id: `c-${round}` });
        const [c1, c2] = [db.client(1), db.client(1)];
        const attempt = (c: Sql, who: string, [action, output, note]: [string, unknown, string | null]) =>
          resolveAs(c, who, reviewId, action, output, note).then(
            () => ({ ok: true as const, who }),
            (e: { code: string }) => ({ ok: false as const, who, code: e.code }),
          );
        const results = await Promise.all([attempt(c1, 'ada@example.com', first), attempt(c2, 'grace@example.com', second)]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual([expect.objectContaining({ code: 'TW002' })]);
        expect(await resumes(task.id)).toBe(1);
        const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.task_events where task_id = ${task.id} and event = 'review_resolved'`;
        expect(n).toBe(1);
        await Promise.all([c1.end(), c2.end()]);
      }
    }
  });

  it('fifty parallel children each wait for approval; resolved concurrently in random order (each twice), each resumes exactly once', async () => {
    const { children, reviewIds } = await openApprovalsForChildren(db.sql, 50);
    const order = reviewIds.flatMap((id, i) => [
      { id, action: i % 3 === 0 ? 'reject' : 'approve', who: 'ada@example.com' },
      { id, action: 'approve', who: 'grace@example.com' },
    ]);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const pool = db.client(10);
    const results = await Promise.all(
      order.map((o) =>
        resolveAs(pool, o.who, o.id, o.action, o.action === 'approve' && o.who === 'grace@example.com' ? { arguments: { edited: true } } : null, o.action === 'reject' ? 'not this one' : null).then(
          (r) => ({ id: o.id, ok: true, action: r.action }),
          (e: { code: string }) => ({ id: o.id, ok: false, code: e.code }),
        ),
      ),
    );
    for (const id of reviewIds) {
      const mine = results.filter((r) => r.id === id);
      expect(mine.filter((r) => r.ok)).toHaveLength(1);
      expect(mine.filter((r) => !r.ok)).toEqual([expect.objectContaining({ code: 'TW002' })]);
    }
    const rows = await db.sql<{ id: string; status: string; attempt: number; resumes: number }[]>`
      select t.id, t.status, t.attempt,
             (select count(*)::int from taskweave.task_events e
               where e.task_id = t.id and e.event = 'status_changed' and e.from_status = 'needs_human_review') as resumes
        from taskweave.tasks t where t.id = any (${children.map((c) => c.id)}::uuid[])`;
    expect(rows).toHaveLength(50);
    for (const row of rows) expect(row).toMatchObject({ status: 'pending', attempt: 0, resumes: 1 });
    const [{ open }] = await db.sql<{ open: number }[]>`select count(*)::int as open from taskweave.human_reviews where id = any (${reviewIds}::uuid[]) and status = 'open'`;
    expect(open).toBe(0);
  });
});
