import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import {
  activationCount,
  claim,
  complete,
  createAggregator,
  createFanOut,
  createParallel,
  createRoot,
  failToReview,
  finish,
  getTask,
} from '../helpers/tasks.ts';

// hundreds of tasks run at once here; the running cap has its own tests
const db = useTestDatabase({ settings: { max_running: 0 } });

async function resolve(reviewId: string, action: string, output: unknown = null) {
  const [row] = await db.sql`select * from taskweave.resolve_review(${reviewId}, ${action}, ${output === null ? null : db.sql.json(output as never)})`;
  return row;
}

describe('join rule', () => {
  it('activates the aggregator exactly when the last dependency completes', async () => {
    const { children, aggregator } = await createFanOut(db.sql, 3);
    await finish(db.sql, children[0].id);
    await finish(db.sql, children[1].id);
    expect((await getTask(db.sql, aggregator.id)).status).toBe('queued');
    await finish(db.sql, children[2].id);
    expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
    expect(await activationCount(db.sql, aggregator.id)).toBe(1);
  });

  it('counts cancelled dependencies as ended: some completed, some aborted -> pending', async () => {
    const { children, aggregator } = await createFanOut(db.sql, 2);
    await finish(db.sql, children[0].id);
    const review = await failToReview(db.sql, children[1].id);
    expect((await getTask(db.sql, aggregator.id)).status).toBe('queued');
    await resolve(review, 'abort');
    expect((await getTask(db.sql, children[1].id)).status).toBe('cancelled');
    expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
  });

  it('cancels the aggregator when every dependency was cancelled', async () => {
    const { children, aggregator } = await createFanOut(db.sql, 2);
    for (const child of children) await resolve(await failToReview(db.sql, child.id), 'abort');
    const agg = await getTask(db.sql, aggregator.id);
    expect(agg.status).toBe('cancelled');
    expect(await activationCount(db.sql, aggregator.id)).toBe(1);
  });

  it('creates the aggregator cancelled at once when all its dependencies were already cancelled', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    await resolve(await failToReview(db.sql, a.id), 'abort');
    expect((await createAggregator(db.sql, root.id, [a.id])).status).toBe('cancelled');
  });

  it('is held by a dependency in needs_human_review, and a manual output releases it', async () => {
    const { children, aggregator } = await createFanOut(db.sql, 3);
    await finish(db.sql, children[0].id);
    await finish(db.sql, children[1].id);
    const review = await failToReview(db.sql, children[2].id);
    expect((await getTask(db.sql, aggregator.id)).status).toBe('queued');
    await resolve(review, 'manual', { summary: 'typed by hand' });
    expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
    const results = await db.sql<{ id: string; status: string; output: Record<string, unknown> }[]>`
      select id, status, output from taskweave.get_dependency_results(${aggregator.id})`;
    expect(results.map((r) => r.id)).toEqual(children.map((c) => c.id));
    expect(results[2].output).toMatchObject({ source: 'manual', value: { summary: 'typed by hand' } });
  });

  it('retry of a held dependency keeps the aggregator queued until the retried task completes', async () => {
    const { children, aggregator } = await createFanOut(db.sql, 1);
    const review = await failToReview(db.sql, children[0].id);
    await resolve(review, 'retry');
    const retried = await getTask(db.sql, children[0].id);
    expect(retried).toMatchObject({ status: 'pending', attempt: 0 });
    expect((await getTask(db.sql, aggregator.id)).status).toBe('queued');
    await finish(db.sql, children[0].id);
    expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
  });

  it('works nested: an aggregator is itself a dependency of an outer aggregator', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    const b = await createParallel(db.sql, root.id, 'b');
    const c = await createParallel(db.sql, root.id, 'c');
    const inner = await createAggregator(db.sql, root.id, [a.id, b.id], 'inner');
    const outer = await createAggregator(db.sql, root.id, [inner.id, c.id], 'outer');
    await finish(db.sql, a.id);
    await finish(db.sql, b.id);
    await finish(db.sql, c.id);
    expect((await getTask(db.sql, inner.id)).status).toBe('pending');
    expect((await getTask(db.sql, outer.id)).status).toBe('queued');
    await finish(db.sql, inner.id, { combined: ['a', 'b'] });
    expect((await getTask(db.sql, outer.id)).status).toBe('pending');
  });

  it('an aggregator whose dependencies are all cancelled cancels its own outer aggregator too', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    const inner = await createAggregator(db.sql, root.id, [a.id], 'inner');
    const outer = await createAggregator(db.sql, root.id, [inner.id], 'outer');
    await resolve(await failToReview(db.sql, a.id), 'abort');
    expect((await getTask(db.sql, inner.id)).status).toBe('cancelled');
    expect((await getTask(db.sql, outer.id)).status).toBe('cancelled');
  });

  it('one task may feed two aggregators, and each activates once', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    const b = await createParallel(db.sql, root.id, 'b');
    const first = await createAggregator(db.sql, root.id, [a.id, b.id], 'first');
    const second = await createAggregator(db.sql, root.id, [b.id], 'second');
    await finish(db.sql, b.id);
    expect((await getTask(db.sql, second.id)).status).toBe('pending');
    expect((await getTask(db.sql, first.id)).status).toBe('queued');
    await finish(db.sql, a.id);
    expect((await getTask(db.sql, first.id)).status).toBe('pending');
    expect(await activationCount(db.sql, first.id)).toBe(1);
    expect(await activationCount(db.sql, second.id)).toBe(1);
  });

  it('a wide fan-in of 300 dependencies finished in random order activates once, at the end', async () => {
    const { children, aggregator } = await createFanOut(db.sql, 300, 'wide');
    const order = [...children].sort(() => Math.random() - 0.5);
    await db.sql`select taskweave.claim_task(id, 'bulk') from unnest(${order.map((c) => c.id)}::uuid[]) as id`;
    for (const [i, child] of order.entries()) {
      await complete(db.sql, child.id, 'bulk', { i });
      if (i === order.length - 2) expect((await getTask(db.sql, aggregator.id)).status).toBe('queued');
    }
    expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
    expect(await activationCount(db.sql, aggregator.id)).toBe(1);
  });
});

describe('events and notifications', () => {
  it('records every transition with its actor', async () => {
    const root = await createRoot(db.sql);
    await claim(db.sql, root.id, 'worker-7');
    await complete(db.sql, root.id, 'worker-7', { done: true });
    const events = await db.sql`select event, from_status, to_status, actor from taskweave.task_events where task_id = ${root.id} order by id`;
    expect(events).toEqual([
      { event: 'created', from_status: null, to_status: 'pending', actor: 'postgres' },
      { event: 'status_changed', from_status: 'pending', to_status: 'running', actor: 'worker-7' },
      { event: 'status_changed', from_status: 'running', to_status: 'completed', actor: 'worker-7' },
    ]);
  });

  it('notifies task_ready with the id when a task becomes pending, including an activated aggregator', async () => {
    const listener = db.client(1);
    const ready: string[] = [];
    await listener.listen('task_ready', (payload) => ready.push(payload));
    const { children, aggregator, root } = await createFanOut(db.sql, 2);
    await finish(db.sql, children[0].id);
    await finish(db.sql, children[1].id);
    const deadline = Date.now() + 5000;
    while (!ready.includes(aggregator.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(ready).toContain(root.id);
    expect(ready).toContain(children[0].id);
    expect(ready).toContain(aggregator.id);
    expect(ready.filter((id) => id === aggregator.id)).toHaveLength(1);
  });
});
