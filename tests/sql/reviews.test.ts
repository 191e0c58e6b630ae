import { describe, expect, it } from 'vitest';
import { anon, asIdentity, operator, plainUser, serviceRole, useTestDatabase } from '../helpers/database.ts';
import { createFanOut, failToReview, getTask, rejection } from '../helpers/tasks.ts';

const db = useTestDatabase();

type Review = { id: string; status: string; action: string | null; resolved_by: string | null; resolved_at: Date | null; note: string | null };

async function openReview() {
  const { children, aggregator } = await createFanOut(db.sql, 1, 'reviewed');
  const reviewId = await failToReview(db.sql, children[0].id, { category: 'model', message: 'rate limited', provider: { status: 429 } });
  return { task: children[0], aggregator, reviewId };
}

const resolveAs = (identity: Parameters<typeof asIdentity>[1], id: string, action: string, output: unknown = null, note: string | null = null) =>
  asIdentity(db.sql, identity, async (tx) => {
    const [row] = await tx<Review[]>`
      select * from taskweave.resolve_review(${id}, ${action}, ${output === null ? null : tx.json(output as never)}, ${note})`;
    return row;
  });

describe('resolve_review', () => {
  it('retry: the task goes back to pending with its attempts renewed; who and when are recorded', async () => {
    const { task, reviewId } = await openReview();
    const review = await resolveAs(operator('ada@example.com'), reviewId, 'retry', null, 'provider is back');
    expect(review).toMatchObject({ status: 'resolved', action: 'retry', resolved_by: 'ada@example.com', note: 'provider is back' });
    expect(Math.abs(review.resolved_at!.getTime() - Date.now())).toBeLessThan(60_000);
    expect(await getTask(db.sql, task.id)).toMatchObject({ status: 'pending', attempt: 0 });
    const [event] = await db.sql`select from_status, to_status, actor from taskweave.task_events where task_id = ${task.id} order by id desc limit 1`;
    expect(event).toEqual({ from_status: 'needs_human_review', to_status: 'pending', actor: 'ada@example.com' });
  });

  it('abort: the task is cancelled and its aggregator (with nothing completed) is cancelled too', async () => {
    const { task, aggregator, reviewId } = await openReview();
    await resolveAs(operator(), reviewId, 'abort');
    expect((await getTask(db.sql, task.id)).status).toBe('cancelled');
    expect((await getTask(db.sql, aggregator.id)).status).toBe('cancelled');
  });

  it('manual: the task completes with the operator output marked as human-written and the aggregator activates', async () => {
    const { task, aggregator, reviewId } = await openReview();
    const review = await resolveAs(operator('grace@example.com'), reviewId, 'manual', { answer: 42 });
    expect(review.action).toBe('manual');
    const done = await getTask(db.sql, task.id);
    expect(done.status).toBe('completed');
    expect(done.output).toMatchObject({ source: 'manual', value: { answer: 42 }, resolved_by: 'grace@example.com', review_id: reviewId });
    expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
  });

  it('a review resolves once: the second call fails clearly, naming who resolved it and when', async () => {
    const { task, reviewId } = await openReview();
    await resolveAs(operator('ada@example.com'), reviewId, 'manual', 'typed');
    const second = await rejection(resolveAs(operator('grace@example.com'), reviewId, 'retry'));
    expect(second.code).toBe('TW002');
    expect(second.message).toMatch(new RegExp(`^review ${reviewId} is already resolved \\(manual by ada@example.com at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\)$`));
    expect((await getTask(db.sql, task.id)).status).toBe('completed');
  });

  it('two operators clicking at the same instant: exactly one wins, the other is told it is already resolved', async () => {
    for (let round = 0; round < 10; round++) {
      const { task, reviewId } = await openReview();
      const [c1, c2] = [db.client(1), db.client(1)];
      const attempt = (c: typeof c1, who: string, action: string) =>
        asIdentity(c, operator(who), (tx) => tx`select * from taskweave.resolve_review(${reviewId}, ${action}, ${action === 'manual' ? tx.json('x') : null})`).then(
          () => ({ ok: true as const, who }),
          (e: { code: string; message: string }) => ({ ok: false as const, who, code: e.code, message: e.message }),
        );
      const results = await Promise.all([attempt(c1, 'ada@example.com', 'retry'), attempt(c2, 'grace@example.com', 'manual')]);
      const winners = results.filter((r) => r.ok);
      const losers = results.filter((r) => !r.ok);
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(1);
      expect(losers[0]).toMatchObject({ code: 'TW002' });
      expect((losers[0] as { message: string }).message).toContain(`by ${winners[0].who} at`);
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.task_events where task_id = ${task.id} and from_status = 'needs_human_review'`;
      expect(row.n).toBe(1);
    }
  });

  it('refuses plain users (42501) and anon (no execute right), changing nothing', async () => {
    const { task, reviewId } = await openReview();
    expect(await rejection(resolveAs(plainUser(), reviewId, 'abort'))).toEqual({ code: '42501', message: 'only operators may resolve reviews' });
    const anonCall = await rejection(resolveAs(anon, reviewId, 'abort'));
    expect(anonCall.code).toBe('42501');
    expect(anonCall.message).toBe('permission denied for function resolve_review');
    expect((await getTask(db.sql, task.id)).status).toBe('needs_human_review');
    const [review] = await db.sql`select status from taskweave.human_reviews where id = ${reviewId}`;
    expect(review.status).toBe('open');
  });

  it('lets service_role resolve (automation), recorded as service_role', async () => {
    const { reviewId } = await openReview();
    const review = await resolveAs(serviceRole, reviewId, 'abort');
    expect(review).toMatchObject({ status: 'resolved', resolved_by: 'service_role' });
  });

  it('rejects bad arguments with 22023 and unknown reviews with P0002', async () => {
    const { reviewId } = await openReview();
    expect(await rejection(resolveAs(operator(), reviewId, 'delete'))).toEqual({ code: '22023', message: 'p_action must be retry, abort or manual (got delete)' });
    expect(await rejection(resolveAs(operator(), reviewId, 'manual'))).toEqual({ code: '22023', message: 'a manual resolution needs p_manual_output' });
    expect(await rejection(resolveAs(operator(), reviewId, 'retry', { x: 1 }))).toEqual({
      code: '22023',
      message: 'p_manual_output is only for a manual resolution (action was retry)',
    });
    const missing = '00000000-0000-4000-8000-00000000dead';
    expect(await rejection(resolveAs(operator(), missing, 'retry'))).toEqual({ code: 'P0002', message: `review ${missing} not found` });
    const [review] = await db.sql`select status from taskweave.human_reviews where id = ${reviewId}`;
    expect(review.status).toBe('open');
  });
});
