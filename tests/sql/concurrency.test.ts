// Fan-in under real concurrency: many connections end an aggregator's dependencies at the same instant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase, type Sql } from '../helpers/database.ts';
import { activationCount, createFanOut, failToReview, getTask } from '../helpers/tasks.ts';

// hundreds of tasks run at once here; the running cap has its own tests
const db = useTestDatabase({ settings: { max_running: 0 } });
const CONNECTIONS = 50;
const REPETITIONS = 50;
let pool: Sql[] = [];

beforeAll(async () => {
  pool = Array.from({ length: CONNECTIONS }, () => db.client(1));
  await Promise.all(pool.map((c) => c`select 1`)); // connect everyone before the race starts
});
afterAll(() => {
  pool = [];
});

/**
 * Each connection opens a transaction and waits until all have; then all end their dependency and commit
 * at once. (Waiting after the update instead would hold row locks that the others need: a deadlock the
 * test itself would cause, since Postgres cannot see the barrier.)
 */
async function endTogether(taskIds: string[], end: (c: Sql, id: string, i: number) => Promise<unknown>) {
  let arrived = 0;
  let release!: () => void;
  const barrier = new Promise<void>((r) => (release = r));
  await Promise.all(
    taskIds.map((id, i) =>
      pool[i].begin(async (tx) => {
        await tx`select txid_current()`;
        if (++arrived === taskIds.length) release();
        await barrier;
        await end(tx as unknown as Sql, id, i);
      }),
    ),
  );
}

describe('fan-in under concurrency', () => {
  it(`activates exactly once when ${CONNECTIONS} dependencies complete in ${CONNECTIONS} concurrent transactions (x${REPETITIONS})`, async () => {
    const outcomes: number[] = [];
    for (let rep = 0; rep < REPETITIONS; rep++) {
      const { children, aggregator } = await createFanOut(db.sql, CONNECTIONS, `stress ${rep}`);
      await db.sql`select taskweave.claim_task(id, 'w-' || ord) from unnest(${children.map((c) => c.id)}::uuid[]) with ordinality as u(id, ord)`;
      await endTogether(children.map((c) => c.id), (tx, id, i) => tx`select taskweave.complete_task(${id}, ${'w-' + (i + 1)}, ${tx.json({ i })})`);
      outcomes.push(await activationCount(db.sql, aggregator.id));
      expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
    }
    expect(outcomes).toEqual(Array(REPETITIONS).fill(1));
  });

  it('activates exactly once when completions race with the creation of the aggregator (x20)', async () => {
    for (let rep = 0; rep < 20; rep++) {
      const { root, children } = await createFanOut(db.sql, 10, `late aggregator ${rep}`);
      await db.sql`select taskweave.claim_task(id, 'w') from unnest(${children.map((c) => c.id)}::uuid[]) as id`;
      const ids = children.map((c) => c.id);
      const [, aggregator] = await Promise.all([
        Promise.all(ids.map((id, i) => pool[i]`select taskweave.complete_task(${id}, 'w', '{}')`)),
        pool[CONNECTIONS - 1]`select * from taskweave.create_aggregator_task(${root.id}, ${ids}::uuid[], 'late', 'combine')`.then((r) => r[0]),
      ]);
      const agg = await getTask(db.sql, aggregator.id as string);
      expect(agg.status).toBe('pending');
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from taskweave.task_events where task_id = ${agg.id} and to_status = 'pending'`;
      expect(row.n).toBe(1);
    }
  });

  it('mixed endings (completed and aborted by operators) from concurrent connections still activate once (x10)', async () => {
    for (let rep = 0; rep < 10; rep++) {
      const { children, aggregator } = await createFanOut(db.sql, 20, `mixed ${rep}`);
      const reviews: Record<string, string> = {};
      for (const child of children.slice(10)) reviews[child.id] = await failToReview(db.sql, child.id);
      await db.sql`select taskweave.claim_task(id, 'w') from unnest(${children.slice(0, 10).map((c) => c.id)}::uuid[]) as id`;
      await endTogether(children.map((c) => c.id), (tx, id) =>
        reviews[id] ? tx`select taskweave.resolve_review(${reviews[id]}, 'abort')` : tx`select taskweave.complete_task(${id}, 'w', '{}')`,
      );
      expect(await activationCount(db.sql, aggregator.id)).toBe(1);
      expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
    }
  });
});
