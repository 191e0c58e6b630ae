// taskweave.task_states: when a task and everything under it count as running, blocked on a person, or
// ended, and what the answer is. The one rule behind MCP get_task's state/answer and the web app's run
// pages (these cases were the MCP endpoint's own TypeScript rule before it moved here).
import { describe, expect, it } from 'vitest';
import { asIdentity, operator, plainUser, useTestDatabase } from '../helpers/database.ts';
import { claim, complete, createAggregator, createParallel, createRoot, fail, finish } from '../helpers/tasks.ts';
import { waitForPerson } from './support/waiting-reviews.ts';

const db = useTestDatabase();

type State = { task_id: string; state: string; open_reviews: number; answer_task_id: string | null };
const stateOf = async (id: string) => {
  const [row] = await db.sql<State[]>`select * from taskweave.task_states(${[id]}::uuid[])`;
  return row;
};

/** A root that planned (completed) with parallel children a and b and an aggregator over them. */
async function plannedRun() {
  const root = await createRoot(db.sql, 'planned');
  await claim(db.sql, root.id, 'w-root');
  const a = await createParallel(db.sql, root.id, 'a');
  const b = await createParallel(db.sql, root.id, 'b');
  const agg = await createAggregator(db.sql, root.id, [a.id, b.id]);
  await complete(db.sql, root.id, 'w-root', { planned: true });
  return { root, a, b, agg };
}

describe('task_states', () => {
  it('is running while anything can move', async () => {
    const { root, a } = await plannedRun();
    await finish(db.sql, a.id);
    await claim(db.sql, (await db.sql`select id from taskweave.tasks where parent_task_id = ${root.id} and title = 'b'`)[0].id as string, 'w-b');
    expect(await stateOf(root.id)).toEqual({ task_id: root.id, state: 'running', open_reviews: 0, answer_task_id: null });
    const fresh = await createRoot(db.sql, 'fresh');
    expect((await stateOf(fresh.id)).state).toBe('running');
  });

  it('needs an operator when what is left waits on a review, but not while another task runs or a join deadline will start the aggregator', async () => {
    const { root, a, b } = await plannedRun();
    await finish(db.sql, a.id);
    await waitForPerson(db.sql, b.id, 'failure');
    expect(await stateOf(root.id)).toEqual({ task_id: root.id, state: 'needs_operator', open_reviews: 1, answer_task_id: null });

    const more = await plannedRun();
    await waitForPerson(db.sql, more.a.id, 'approval', { tool_call_id: 'x', tool: 't' });
    // b is still pending: it can move
    expect(await stateOf(more.root.id)).toMatchObject({ state: 'running', open_reviews: 1 });

    const deadline = await createRoot(db.sql, 'deadline');
    await claim(db.sql, deadline.id, 'w-d');
    const c = await createParallel(db.sql, deadline.id, 'c');
    await db.sql`select taskweave.create_aggregator_task(${deadline.id}, ${[c.id]}::uuid[], 'join by a deadline', 'i', null, null, null, 3600)`;
    await complete(db.sql, deadline.id, 'w-d', {});
    await waitForPerson(db.sql, c.id, 'question', { tool_call_id: 'q', question: '?' });
    expect(await stateOf(deadline.id)).toMatchObject({ state: 'running', open_reviews: 1 });
  });

  it('has ended as its final aggregator ended, followed down a second fan-out', async () => {
    const root = await createRoot(db.sql, 'nested');
    await claim(db.sql, root.id, 'w-root');
    const a = await createParallel(db.sql, root.id, 'a');
    const agg = await createAggregator(db.sql, root.id, [a.id]);
    await complete(db.sql, root.id, 'w-root', {});
    await finish(db.sql, a.id);
    // the aggregator fans out again before it completes
    await claim(db.sql, agg.id, 'w-agg');
    const x = await createParallel(db.sql, agg.id, 'x');
    const agg2 = await createAggregator(db.sql, agg.id, [x.id], 'second join');
    await complete(db.sql, agg.id, 'w-agg', { first: true });
    expect((await stateOf(root.id)).state).toBe('running');
    await finish(db.sql, x.id);
    await finish(db.sql, agg2.id, { second: true });
    expect(await stateOf(root.id)).toEqual({ task_id: root.id, state: 'completed', open_reviews: 0, answer_task_id: agg2.id });
    // asked about the first aggregator, its own answer is the second join too
    expect(await stateOf(agg.id)).toMatchObject({ state: 'completed', answer_task_id: agg2.id });
  });

  it('is cancelled when its join was cancelled (nothing completed)', async () => {
    const { root, a, b, agg } = await plannedRun();
    for (const t of [a, b]) {
      const reviewId = await waitForPerson(db.sql, t.id, 'failure');
      await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.resolve_review(${reviewId}, 'abort')`);
    }
    expect(await stateOf(root.id)).toEqual({ task_id: root.id, state: 'cancelled', open_reviews: 0, answer_task_id: null });
    expect((await stateOf(agg.id)).state).toBe('cancelled');
  });

  it('ends with the task itself when it did not fan out, or did not complete', async () => {
    const lone = await createRoot(db.sql, 'lone');
    await finish(db.sql, lone.id, { done: 1 });
    expect(await stateOf(lone.id)).toEqual({ task_id: lone.id, state: 'completed', open_reviews: 0, answer_task_id: lone.id });
    const failed = await createRoot(db.sql, 'failed');
    await claim(db.sql, failed.id, 'w-f');
    const child = await createParallel(db.sql, failed.id, 'child');
    await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.cancel_task(${child.id})`);
    await fail(db.sql, failed.id, 'w-f', false);
    expect(await stateOf(failed.id)).toEqual({ task_id: failed.id, state: 'failed', open_reviews: 0, answer_task_id: null });
  });

  it('answers only for the tasks the caller may see, and at most 1000 at once', async () => {
    const root = await createRoot(db.sql, 'hidden');
    expect(await asIdentity(db.sql, plainUser(), (tx) => tx`select * from taskweave.task_states(${[root.id]}::uuid[])`)).toEqual([]);
    expect(await asIdentity(db.sql, operator(), (tx) => tx`select task_id from taskweave.task_states(${[root.id]}::uuid[])`)).toEqual([{ task_id: root.id }]);
    const many = Array.from({ length: 1001 }, () => root.id);
    await expect(db.sql`select * from taskweave.task_states(${many}::uuid[])`).rejects.toMatchObject({ code: '22023' });
  });
});
