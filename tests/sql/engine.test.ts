// The worker fast path and what claims decide: complete_and_claim, a running cap that stays exact under 16
// claimers at any size, takeovers in the history, and escalations that stick.
import type postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { useTestDatabase, type Sql } from '../helpers/database.ts';
import { claim, createParallel, createRoot, getTask, rejection, type TaskRow } from '../helpers/tasks.ts';

const CAP = 40;
const db = useTestDatabase({ settings: { max_running: CAP } });

/** Expire a lease now, as the passing of time would. */
async function expireLease(id: string) {
  await db.sql`update taskweave.tasks set lease_expires_at = now() - interval '1 second' where id = ${id}`;
}

/** Settles every task left running or pending, so each test starts with the cap empty. */
async function clearQueue() {
  await db.sql`update taskweave.tasks set status = 'cancelled' where status in ('pending', 'running', 'queued', 'needs_human_review')`;
}

/** The running cap for connections opened from now on (set_settings where it exists, else the database's setting). */
async function setCap(cap: number) {
  const [{ table }] = await db.sql<{ table: boolean }[]>`select to_regprocedure('taskweave.set_settings(jsonb)') is not null as table`;
  if (table) await db.sql`select taskweave.set_settings(${db.sql.json({ max_running: cap })})`;
  else await db.sql.unsafe(`alter database ${db.url.split('/').pop()} set taskweave.max_running = ${cap}`);
}

async function runningCount(sql: Sql = db.sql) {
  const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks where status = 'running'`;
  return n;
}

describe('complete_and_claim', () => {
  it('completes the task as complete_task does and claims the next due task for the same worker, run-fair, in one transaction', async () => {
    await clearQueue();
    const wide = await createRoot(db.sql, 'wide run');
    const [first] = await db.sql<TaskRow[]>`select * from taskweave.claim_tasks('w', 1, 60)`;
    expect(first.id).toBe(wide.id);
    // the wide run has two more parts waiting; then a new run arrives: it goes first (claim_rank)
    await createParallel(db.sql, wide.id, 'part 1');
    await createParallel(db.sql, wide.id, 'part 2');
    const newcomer = await createRoot(db.sql, 'new run');

    const next = await db.sql<TaskRow[]>`select * from taskweave.complete_and_claim(${first.id}, 'w', '{"answer": 42}', 90)`;
    expect(next.map((t) => t.id)).toEqual([newcomer.id]);
    expect(next[0]).toMatchObject({ status: 'running', leased_by: 'w', attempt: 1 });
    const seconds = (next[0].lease_expires_at!.getTime() - Date.now()) / 1000;
    expect(seconds).toBeGreaterThan(80);
    expect(seconds).toBeLessThan(100);
    expect(await getTask(db.sql, first.id)).toMatchObject({ status: 'completed', output: { answer: 42 }, leased_by: null });

    // both transitions are in the history, from the one transaction
    const events = await db.sql<{ task_id: string; to_status: string; actor: string; xmin: string }[]>`
      select task_id, to_status, actor, xmin::text from taskweave.task_events
       where (task_id = ${first.id} and to_status = 'completed') or (task_id = ${newcomer.id} and to_status = 'running')`;
    expect(events).toHaveLength(2);
    expect(new Set(events.map((e) => e.xmin)).size).toBe(1);
    expect(events.every((e) => e.actor === 'w')).toBe(true);
  });

  it('claims nothing when none is due, and frees the completed task\'s slot for the next claim', async () => {
    await clearQueue();
    const only = await createRoot(db.sql, 'only');
    const [running] = await db.sql<{ id: string; running_slot: number }[]>`select id, running_slot from taskweave.claim_tasks('w', 1)`;
    expect(running.id).toBe(only.id);
    expect(await db.sql`select * from taskweave.complete_and_claim(${only.id}, 'w', '{}')`).toEqual([]);
    expect((await getTask(db.sql, only.id)).status).toBe('completed');

    // at the cap, the slot of the task that completes goes to the next one in the same transaction
    const roots = await db.sql<{ id: string }[]>`select (taskweave.create_task('full ' || i, 'x')).id from generate_series(1, ${CAP + 1}::int) i`;
    const held = await db.sql<{ id: string; running_slot: number }[]>`select id, running_slot from taskweave.claim_tasks('w', ${CAP + 1}::int)`;
    expect(held).toHaveLength(CAP);
    expect(await db.sql`select * from taskweave.claim_tasks('other', 1)`).toEqual([]);
    const [next] = await db.sql<{ id: string; running_slot: number }[]>`
      select id, running_slot from taskweave.complete_and_claim(${held[0].id}, 'w', '{}')`;
    expect(next.id).toBe(roots[CAP].id);
    expect(next.running_slot).toBe(held[0].running_slot);
    expect(await runningCount()).toBe(CAP);
  });

  it('changes nothing for a worker that does not hold the lease (TW001), an unknown task (P0002) or a bad argument (22023)', async () => {
    await clearQueue();
    const mine = await createRoot(db.sql, 'mine');
    const waiting = await createRoot(db.sql, 'waiting');
    await claim(db.sql, mine.id, 'holder');
    const before = await db.sql`select id, status, leased_by, attempt, updated_at from taskweave.tasks where id in (${mine.id}, ${waiting.id}) order by id`;
    const stale = await rejection(db.sql`select * from taskweave.complete_and_claim(${mine.id}, 'stranger', '{}')`);
    expect(stale.code).toBe('TW001');
    const missing = '00000000-0000-4000-8000-000000000abc';
    expect(await rejection(db.sql`select * from taskweave.complete_and_claim(${missing}, 'holder', '{}')`)).toMatchObject({ code: 'P0002' });
    expect(await rejection(db.sql`select * from taskweave.complete_and_claim(${mine.id}, 'holder', null)`)).toEqual({
      code: '22023',
      message: 'p_output must not be null',
    });
    expect(await rejection(db.sql`select * from taskweave.complete_and_claim(${mine.id}, 'holder', '{}', 0)`)).toEqual({
      code: '22023',
      message: 'p_lease_seconds must be between 1 and 86400 (got 0)',
    });
    expect(await db.sql`select id, status, leased_by, attempt, updated_at from taskweave.tasks where id in (${mine.id}, ${waiting.id}) order by id`).toEqual(before);
  });
});

describe('complete_and_claim hands the running slot over only while the running tasks fit under the cap', () => {
  it('after the cap is lowered below what runs, nothing new starts until the running tasks are under it', async () => {
    await clearQueue();
    await db.sql`select count(taskweave.create_task('lowered ' || i, 'x')) from generate_series(1, 6) i`;
    await setCap(3);
    const held = await db.sql<{ id: string; running_slot: number }[]>`select id, running_slot from taskweave.claim_tasks('w', 3) order by running_slot`;
    expect(held.map((t) => t.running_slot)).toEqual([1, 2, 3]);
    await setCap(1);
    try {
      // slot 1 is under the new cap, but slots 2 and 3 are above it: no hand-over, and no room
      expect(await db.sql`select * from taskweave.complete_and_claim(${held[0].id}, 'w', '{}')`).toEqual([]);
      expect(await db.sql`select * from taskweave.complete_and_claim(${held[1].id}, 'w', '{}')`).toEqual([]);
      expect(await runningCount()).toBe(1);
      // one running, cap 1: the last one's slot (3, above the cap) is not handed over either, but the cap
      // has room once it completes, so the next task starts with the lowest free slot
      const [next] = await db.sql<{ id: string; running_slot: number }[]>`select id, running_slot from taskweave.complete_and_claim(${held[2].id}, 'w', '{}')`;
      expect(next.running_slot).toBe(1);
      expect(await runningCount()).toBe(1);
      // from now on the slot goes from task to task
      const [after] = await db.sql<{ id: string; running_slot: number }[]>`select id, running_slot from taskweave.complete_and_claim(${next.id}, 'w', '{}')`;
      expect(after).toMatchObject({ running_slot: 1 });
      expect(await runningCount()).toBe(1);
    } finally {
      await setCap(CAP);
    }
  });

  it('tasks started while the cap was off count: turning it on stops new starts until they are under it', async () => {
    await clearQueue();
    await db.sql`select count(taskweave.create_task('uncapped ' || i, 'x')) from generate_series(1, 5) i`;
    await setCap(0);
    const held = await db.sql<{ id: string; running_slot: number | null }[]>`select id, running_slot from taskweave.claim_tasks('w', 3)`;
    expect(held.map((t) => t.running_slot)).toEqual([null, null, null]);
    await setCap(2);
    try {
      expect(await db.sql`select * from taskweave.complete_and_claim(${held[0].id}, 'w', '{}')`).toEqual([]);
      expect(await runningCount()).toBe(2);
      // one of the three left: room for one more, which gets the lowest free slot
      const [next] = await db.sql<{ running_slot: number }[]>`select running_slot from taskweave.complete_and_claim(${held[1].id}, 'w', '{}')`;
      expect(next.running_slot).toBe(1);
      expect(await runningCount()).toBe(2);
    } finally {
      await setCap(CAP);
    }
  });

  it('takes a task whose worker died before a pending one, as claim_tasks does', async () => {
    await clearQueue();
    const mine = await createRoot(db.sql, 'mine');
    const orphan = await createRoot(db.sql, 'orphan');
    await createRoot(db.sql, 'waiting');
    await claim(db.sql, mine.id, 'w');
    await claim(db.sql, orphan.id, 'dead worker');
    await expireLease(orphan.id);
    const [next] = await db.sql<TaskRow[]>`select * from taskweave.complete_and_claim(${mine.id}, 'w', '{}')`;
    expect(next).toMatchObject({ id: orphan.id, status: 'running', leased_by: 'w', attempt: 2 });
    const [event] = await db.sql<{ detail: { previous_worker: string } }[]>`
      select detail from taskweave.task_events where task_id = ${orphan.id} and event = 'lease_taken_over'`;
    expect(event.detail.previous_worker).toBe('dead worker');
  });
});

describe('what a claim reads', () => {
  /** Index tuples that scans of taskweave.tasks' indexes returned in the current transaction, by index. */
  async function indexReads(tx: postgres.TransactionSql) {
    const rows = await tx<{ name: string; n: number }[]>`
      select c.relname as name, pg_stat_get_xact_tuples_returned(i.indexrelid)::int as n
        from pg_index i join pg_class c on c.oid = i.indexrelid
       where i.indrelid = 'taskweave.tasks'::regclass`;
    return Object.fromEntries(rows.map((r) => [r.name, r.n])) as Record<string, number>;
  }
  const delta = (after: Record<string, number>, before: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)] as const).filter(([, n]) => n > 0));

  it('complete_and_claim checks the cap with one probe, however many tasks run (0.3.2 read every running task)', async () => {
    await clearQueue();
    await setCap(1000);
    try {
      await db.sql`select count(taskweave.create_task('many running ' || i, 'x')) from generate_series(1, 260) i`;
      expect(await db.sql`select id from taskweave.claim_tasks('someone else', 250)`).toHaveLength(250);
      type Held = TaskRow & { running_slot: number };
      let [mine] = await db.sql<Held[]>`select * from taskweave.claim_tasks('w', 1)`;
      // the first completion also marks the claimed tasks' leftover pending entries dead; the second is measured
      [mine] = await db.sql<Held[]>`select * from taskweave.complete_and_claim(${mine.id}, 'w', '{}')`;
      const reads = await db.sql.begin(async (tx) => {
        const before = await indexReads(tx);
        const [next] = await tx<TaskRow[]>`select * from taskweave.complete_and_claim(${mine.id}, 'w', '{}')`;
        expect(next).toMatchObject({ status: 'running', leased_by: 'w', running_slot: mine.running_slot });
        return delta(await indexReads(tx), before);
      });
      const total = Object.values(reads).reduce((a, b) => a + b, 0);
      expect(reads.tasks_running_slot_idx ?? 0, JSON.stringify(reads)).toBeLessThanOrEqual(5);
      expect(total, JSON.stringify(reads)).toBeLessThan(20);
      expect(await runningCount()).toBe(251);
    } finally {
      await clearQueue();
      await setCap(CAP);
    }
  });

  it('a claim does not read again past the tasks claimed before it, when they were created in one statement (0.3.2 did)', async () => {
    await clearQueue();
    // one statement: one created_at for all, and claim_rank 0 for every root — equal keys in tasks_claimable_idx,
    // enough of them to fill its leaf pages (btree deduplication merges equal keys when a page fills)
    await db.sql`select count(taskweave.create_task('same instant ' || i, 'x')) from generate_series(1, 1500) i`;
    let [held] = await db.sql<TaskRow[]>`select * from taskweave.claim_tasks('w', 1)`;
    for (let i = 0; i < 150; i++) {
      [held] = await db.sql<TaskRow[]>`select * from taskweave.complete_and_claim(${held.id}, 'w', '{}')`;
    }
    const reads = await db.sql.begin(async (tx) => {
      const before = await indexReads(tx);
      const [next] = await tx<TaskRow[]>`select * from taskweave.complete_and_claim(${held.id}, 'w', '{}')`;
      expect(next).toMatchObject({ status: 'running', leased_by: 'w' });
      return delta(await indexReads(tx), before);
    });
    // 0.3.2: 152 (every task claimed so far). Now one live entry and the last few claims' leftovers; the
    // margin covers leftovers another transaction's snapshot (an autoanalyze) kept from being marked dead.
    expect(reads.tasks_claimable_idx, JSON.stringify(reads)).toBeLessThanOrEqual(40);
    await clearQueue();
  });
});

describe('the running cap under 16 concurrent claimers', () => {
  /**
   * 16 connections claim, complete and complete_and_claim at once while a 17th samples how many run;
   * returns the most it saw. Every sample is a committed state, so any over the cap would be seen.
   */
  async function hammer(cap: number, tasks: number) {
    await clearQueue();
    await db.sql`select count(taskweave.create_task('cap ' || i, 'x')) from generate_series(1, ${tasks}::int) i`;
    await setCap(cap);
    const claimers = Array.from({ length: 16 }, () => db.client(1));
    const monitor = db.client(1);
    let most = 0;
    let afterFirst = 0;
    let done = false;
    const sampling = (async () => {
      while (!done) most = Math.max(most, await runningCount(monitor));
    })();
    try {
      // first every claimer asks for more than its share at the same moment: together they fill the cap exactly
      const firstClaims = await Promise.all(
        claimers.map((c, i) => c<{ id: string }[]>`select id from taskweave.claim_tasks(${'claimer-' + i}, ${Math.min(1000, Math.ceil(cap / 8))}::int)`),
      );
      afterFirst = await runningCount();
      // then each works through the queue: complete_and_claim, and a plain claim when it holds nothing
      await Promise.all(
        claimers.map(async (c, i) => {
          const worker = `claimer-${i}`;
          let held = firstClaims[i].map((r) => r.id);
          for (let round = 0; round < 12; round++) {
            if (held.length === 0) held = (await c<{ id: string }[]>`select id from taskweave.claim_tasks(${worker}, 3)`).map((r) => r.id);
            const id = held.shift();
            if (!id) continue;
            const next = await c<{ id: string }[]>`select id from taskweave.complete_and_claim(${id}, ${worker}, '{}')`;
            held.push(...next.map((r) => r.id));
          }
        }),
      );
    } finally {
      done = true;
      await sampling;
    }
    await Promise.all([...claimers, monitor].map((c) => c.end({ timeout: 2 })));
    await setCap(CAP);
    const [slots] = await db.sql<{ running: number; distinct_slots: number; max_slot: number }[]>`
      select count(*)::int as running, count(distinct running_slot)::int as distinct_slots, coalesce(max(running_slot), 0)::int as max_slot
        from taskweave.tasks where status = 'running'`;
    return { most, afterFirst, slots };
  }

  it('holds exactly at max_running = 40: filled, never passed', async () => {
    const { most, afterFirst, slots } = await hammer(CAP, 400);
    expect(afterFirst).toBe(CAP);
    expect(most).toBe(CAP);
    expect(slots.running).toBeLessThanOrEqual(CAP);
    expect(slots.distinct_slots).toBe(slots.running);
    expect(slots.max_slot).toBeLessThanOrEqual(CAP);
    // the history kept up under 16 connections (task_events has no foreign key since 0.3.2): every row names a
    // task that exists, and every claim and completion has its row
    const [history] = await db.sql<{ orphans: number; completed: number; completion_events: number; claims: number; claim_events: number }[]>`
      select (select count(*)::int from taskweave.task_events e where not exists (select 1 from taskweave.tasks t where t.id = e.task_id)) as orphans,
             (select count(*)::int from taskweave.tasks where status = 'completed' and title like 'cap %') as completed,
             (select count(*)::int from taskweave.task_events e join taskweave.tasks t on t.id = e.task_id
               where e.to_status = 'completed' and t.title like 'cap %') as completion_events,
             (select coalesce(sum(attempt), 0)::int from taskweave.tasks where title like 'cap %') as claims,
             (select count(*)::int from taskweave.task_events e join taskweave.tasks t on t.id = e.task_id
               where e.to_status = 'running' and e.from_status = 'pending' and t.title like 'cap %') as claim_events`;
    expect(history.orphans).toBe(0);
    expect(history.completed).toBeGreaterThan(0);
    expect(history.completion_events).toBe(history.completed);
    expect(history.claim_events).toBe(history.claims);
  });

  it('holds exactly at max_running = 10,000 with fewer tasks than the cap, and at 100 with more', async () => {
    const big = await hammer(10_000, 300);
    expect(big.afterFirst).toBe(300); // every task: the claimers asked for 16 x 1,000
    expect(big.slots.distinct_slots).toBe(big.slots.running);
    expect(big.slots.max_slot).toBeLessThanOrEqual(10_000);
    const hundred = await hammer(100, 800);
    expect(hundred.afterFirst).toBe(100);
    expect(hundred.most).toBe(100);
    expect(hundred.slots.distinct_slots).toBe(hundred.slots.running);
  });
});

describe('takeovers', () => {
  it('re-claiming an expired lease writes a lease_taken_over event naming the previous worker and touches updated_at', async () => {
    await clearQueue();
    const root = await createRoot(db.sql, 'takeover');
    await claim(db.sql, root.id, 'dead-worker');
    await expireLease(root.id);
    const [{ updated_at: before }] = await db.sql<{ updated_at: Date }[]>`select updated_at from taskweave.tasks where id = ${root.id}`;
    const [again] = await db.sql<(TaskRow & { updated_at: Date })[]>`select * from taskweave.claim_tasks('live-worker', 1)`;
    expect(again).toMatchObject({ id: root.id, status: 'running', attempt: 2, leased_by: 'live-worker' });
    expect(again.updated_at.getTime()).toBeGreaterThan(before.getTime());
    const events = await db.sql<{ event: string; from_status: string; to_status: string; actor: string; detail: Record<string, unknown> }[]>`
      select event, from_status, to_status, actor, detail from taskweave.task_events where task_id = ${root.id} order by id`;
    expect(events.map((e) => e.event)).toEqual(['created', 'status_changed', 'lease_taken_over']);
    expect(events[2]).toMatchObject({
      from_status: 'running',
      to_status: 'running',
      actor: 'live-worker',
      detail: { attempt: 2, leased_by: 'live-worker', previous_worker: 'dead-worker' },
    });
    // claim_task by id records a takeover the same way
    await expireLease(root.id);
    await claim(db.sql, root.id, 'third-worker');
    const [last] = await db.sql<{ event: string; detail: Record<string, unknown> }[]>`
      select event, detail from taskweave.task_events where task_id = ${root.id} order by id desc limit 1`;
    expect(last).toMatchObject({ event: 'lease_taken_over', detail: { previous_worker: 'live-worker', leased_by: 'third-worker', attempt: 3 } });
  });
});

describe('claim_task on a task whose last worker died on its last attempt', () => {
  it('escalates it for good (a review for a parallel task, failed for a root) and returns it in that status instead of raising', async () => {
    await clearQueue();
    const root = await createRoot(db.sql, 'parent');
    const child = await createParallel(db.sql, root.id, 'fragile');
    await db.sql`update taskweave.tasks set max_attempts = 1 where id in (${child.id}, ${root.id})`;
    await claim(db.sql, child.id, 'dead-worker');
    await expireLease(child.id);
    const escalated = await claim(db.sql, child.id, 'by-id');
    expect(escalated).toMatchObject({ id: child.id, status: 'needs_human_review', leased_by: null });
    const task = await getTask(db.sql, child.id);
    expect(task.status).toBe('needs_human_review');
    expect(task.last_error).toMatchObject({ category: 'timeout', message: 'worker "dead-worker" stopped renewing its lease on attempt 1 of 1' });
    expect(await db.sql`select status, kind from taskweave.human_reviews where task_id = ${child.id}`).toEqual([{ status: 'open', kind: 'failure' }]);

    await claim(db.sql, root.id, 'dead-worker');
    await expireLease(root.id);
    expect(await claim(db.sql, root.id, 'by-id')).toMatchObject({ id: root.id, status: 'failed' });
    expect((await getTask(db.sql, root.id)).status).toBe('failed');
  });
});

describe('a backend\'s memory', () => {
  it('is settled once, on its first task write (a rolled-back write leaves it for the next)', async () => {
    const settled = async (c: ReturnType<typeof db.client>) =>
      (await c<{ v: string | null }[]>`select current_setting('taskweave.backend_memory_settled', true) as v`)[0].v;
    const c = db.client(1);
    try {
      expect(await settled(c)).toBeNull();
      await c.begin(async (tx) => {
        await tx`select taskweave.create_task('settle', 'x')`;
        await tx`select 1/0`;
      }).catch(() => undefined);
      expect(await settled(c)).not.toBe('on'); // '' once Postgres knows the name
      await c`select taskweave.create_task('settle', 'x')`;
      expect(await settled(c)).toBe('on');
    } finally {
      await c.end({ timeout: 2 });
    }
  });
});
