// Run control in SQL: the state machine's guard, run limits and usage, cancel, quorum and deadline joins,
// the release-loop bound, and the worker check on the creating calls. Real Postgres, many connections.
import { describe, expect, it } from 'vitest';
import { asIdentity, operator, plainUser, useTestDatabase, withSettings, type Sql } from '../helpers/database.ts';
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
  rejection,
  type TaskRow,
} from '../helpers/tasks.ts';

// hundreds of tasks run at once in the races; the running cap has its own tests (scale.test.ts)
const db = useTestDatabase({ settings: { max_running: 0 } });

async function rootWithLimits(limits: Record<string, unknown>, title = 'limited'): Promise<TaskRow> {
  const [row] = await db.sql<TaskRow[]>`select * from taskweave.create_task(${title}, 'x', '{}'::jsonb, ${db.sql.json(limits as never)})`;
  return row;
}

async function run(rootId: string) {
  const [row] = await db.sql`select * from taskweave.runs where root_task_id = ${rootId}`;
  return row;
}

async function count(sql: Sql, query: string): Promise<number> {
  return (await sql.unsafe(query))[0].n as number;
}

describe('the state machine', () => {
  it('allows exactly the moves of docs/contracts.md §1', async () => {
    const rows = await db.sql<{ s: string; next: string[] }[]>`
      select s::text, taskweave_private.next_statuses(s)::text[] as next from unnest(enum_range(null::taskweave.task_status)) s`;
    expect(Object.fromEntries(rows.map((r) => [r.s, r.next]))).toEqual({
      pending: ['running', 'cancelled'],
      queued: ['pending', 'cancelled'],
      running: ['completed', 'pending', 'needs_human_review', 'failed', 'cancelled'],
      needs_human_review: ['pending', 'cancelled', 'completed'],
      completed: [],
      failed: [],
      cancelled: [],
    });
  });

  it('the guard trigger allows exactly the moves next_statuses() lists, for every pair of statuses', async () => {
    const statuses = (await db.sql<{ s: string }[]>`select unnest(enum_range(null::taskweave.task_status))::text as s`).map((r) => r.s);
    const allowed = Object.fromEntries(
      (await db.sql<{ s: string; next: string[] }[]>`
        select s::text, taskweave_private.next_statuses(s)::text[] as next from unnest(enum_range(null::taskweave.task_status)) s`).map((r) => [r.s, r.next]),
    );
    // an aggregator: the one kind of task that may be queued, so every status is a valid starting point
    const { aggregator: subject } = await createFanOut(db.sql, 2, 'every move');
    const seen: string[] = [];
    for (const from of statuses) {
      for (const to of statuses) {
        if (from === to) continue;
        // each attempt in a transaction that is rolled back: put the row in `from` without the triggers, then move it
        const outcome = await db.sql
          .begin(async (tx) => {
            await tx.unsafe('set local session_replication_role = replica');
            const leased = from === 'running';
            await tx`
              update taskweave.tasks
                 set status = ${from}::taskweave.task_status,
                     leased_by = ${leased ? 'w' : null}, lease_expires_at = ${leased ? db.sql`now() + interval '1 minute'` : null}
               where id = ${subject.id}`;
            await tx.unsafe('set local session_replication_role = origin');
            // a move into running brings its lease, as a claim does (a check constraint wants one)
            const moved = await (to === 'running'
              ? tx`update taskweave.tasks set status = 'running', leased_by = 'w', lease_expires_at = now() + interval '1 minute' where id = ${subject.id}`
              : tx`update taskweave.tasks set status = ${to}::taskweave.task_status where id = ${subject.id}`
            ).then(
              () => 'allowed',
              (e: { code?: string }) => `rejected ${e.code}`,
            );
            throw Object.assign(new Error('roll back'), { outcome: moved });
          })
          .catch((e: { outcome?: string }) => e.outcome ?? String(e));
        expect({ from, to, outcome }).toEqual({ from, to, outcome: allowed[from].includes(to) ? 'allowed' : 'rejected 55000' });
        seen.push(`${from}->${to}`);
      }
    }
    expect(seen).toHaveLength(statuses.length * (statuses.length - 1));
  });

  it('rejects any other move, even a direct UPDATE, and writes the bookkeeping of an allowed one', async () => {
    const root = await createRoot(db.sql, 'guarded');
    await finish(db.sql, root.id);
    expect(await rejection(db.sql`update taskweave.tasks set status = 'running' where id = ${root.id}`)).toEqual({
      code: '55000',
      message: `task ${root.id} cannot move from completed to running`,
    });
    expect(await rejection(db.sql`update taskweave.tasks set status = 'bogus' where id = ${root.id}`)).toMatchObject({ code: '22P02' });
    const other = await createRoot(db.sql, 'cleared');
    await claim(db.sql, other.id, 'w');
    await db.sql`update taskweave.tasks set status = 'cancelled' where id = ${other.id}`;
    const row = await getTask(db.sql, other.id);
    expect(row).toMatchObject({ status: 'cancelled', leased_by: null, lease_expires_at: null });
    expect((row as unknown as { completed_at: Date }).completed_at).toBeInstanceOf(Date);
  });
});

describe('run limits and usage', () => {
  it('rejects bad limits with 22023 and creates nothing', async () => {
    const before = await count(db.sql, 'select count(*)::int as n from taskweave.tasks');
    expect(await rejection(db.sql`select taskweave.create_task('t', 'x', '{}', '{"max_task": 3}')`)).toEqual({
      code: '22023',
      message: 'p_limits has an unknown key "max_task"; the keys are max_tasks, max_tokens, deadline_seconds and max_cost_usd',
    });
    expect(await rejection(db.sql`select taskweave.create_task('t', 'x', '{}', '{"max_tokens": -5}')`)).toMatchObject({ code: '22023' });
    expect(await rejection(db.sql`select taskweave.create_task('t', 'x', '{}', '{"deadline_seconds": 1.5}')`)).toMatchObject({ code: '22023' });
    expect(await rejection(db.sql`select taskweave.create_task('t', 'x', '{}', '[]')`)).toMatchObject({ code: '22023' });
    expect(await count(db.sql, 'select count(*)::int as n from taskweave.tasks')).toBe(before);
  });

  it('takes defaults from database settings, and null for no limit', async () => {
    const root = await rootWithLimits({ max_tokens: null });
    expect(await run(root.id)).toMatchObject({ max_tasks: 1000, max_tokens: null, task_count: 1 });
    const dated = await run(root.id);
    expect((dated.deadline_at as Date).getTime() - (dated.created_at as Date).getTime()).toBe(86_400_000);
  });

  it('max_tasks: the run creates no task past it (TW004, nothing created); set_run_limits raises it and creation goes on', async () => {
    const root = await rootWithLimits({ max_tasks: 3 });
    await claim(db.sql, root.id, 'w');
    await db.sql`select taskweave.create_parallel_task(${root.id}, 'a', 'x', '{}', 'c1', 'w')`;
    await db.sql`select taskweave.create_parallel_task(${root.id}, 'b', 'x', '{}', 'c2', 'w')`;
    const denied = await rejection(db.sql`select taskweave.create_parallel_task(${root.id}, 'c', 'x', '{}', 'c3', 'w')`);
    expect(denied).toEqual({ code: 'TW004', message: `run limit reached: the run has 3 tasks, its max_tasks = 3; no task can be created in run ${root.id}` });
    expect(await count(db.sql, `select count(*)::int as n from taskweave.tasks where root_task_id = '${root.id}'`)).toBe(3);
    // the same tool call again is still answered with what it made
    const [again] = await db.sql`select id from taskweave.create_parallel_task(${root.id}, 'a', 'x', '{}', 'c1', 'w')`;
    expect(again.id).toBeTruthy();
    // a plain user may not raise limits; an operator may
    expect(await rejection(asIdentity(db.sql, plainUser(), (tx) => tx`select taskweave.set_run_limits(${root.id}, '{"max_tasks": 10}')`))).toMatchObject({
      code: '42501',
    });
    await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.set_run_limits(${root.id}, '{"max_tasks": 10}')`);
    await db.sql`select taskweave.create_parallel_task(${root.id}, 'c', 'x', '{}', 'c3', 'w')`;
    expect(await run(root.id)).toMatchObject({ max_tasks: 10, task_count: 4 });
    const [event] = await db.sql`select actor, detail from taskweave.task_events where task_id = ${root.id} and event = 'limits_changed'`;
    expect(event).toMatchObject({ actor: 'ada@example.com', detail: { limits: { max_tasks: 10 } } });
  });

  it('max_tokens: usage of each step adds up per task and per run; past the limit no model step starts (TW004)', async () => {
    const root = await rootWithLimits({ max_tokens: 1000 });
    await claim(db.sql, root.id, 'w');
    expect((await db.sql`select taskweave.begin_model_step(${root.id}, 'w', 'm') as r`)[0].r).toEqual({ wait_ms: 0 });
    await db.sql`select taskweave.append_task_message(${root.id}, 'w', 'assistant', '"step 1"', '{"input_tokens": 600, "output_tokens": 150}')`;
    await db.sql`select taskweave.begin_model_step(${root.id}, 'w', 'm')`;
    await db.sql`select taskweave.append_task_message(${root.id}, 'w', 'assistant', '"step 2"', '{"input_tokens": 200, "output_tokens": 80}')`;
    expect((await getTask(db.sql, root.id) as unknown as { usage: unknown }).usage).toEqual({ input_tokens: 800, output_tokens: 230, model_steps: 2, cost_usd: 0 });
    expect(await run(root.id)).toMatchObject({ input_tokens: '800', output_tokens: '230', model_steps: 2 });
    expect(await rejection(db.sql`select taskweave.begin_model_step(${root.id}, 'w', 'm')`)).toEqual({
      code: 'TW004',
      message: `run limit reached: the run used 1030 of its max_tokens = 1000; no model step may start in run ${root.id}`,
    });
    expect(await rejection(db.sql`select taskweave.append_task_message(${root.id}, 'w', 'assistant', '"x"', '{"tokens": 1}')`)).toMatchObject({
      code: '22023',
    });
  });

  it('deadline_seconds: past the deadline no step starts and no task is created', async () => {
    const root = await rootWithLimits({ deadline_seconds: 1 });
    await claim(db.sql, root.id, 'w');
    await db.sql`select pg_sleep(1.1)`;
    expect((await rejection(db.sql`select taskweave.begin_model_step(${root.id}, 'w', 'm')`)).code).toBe('TW004');
    expect((await rejection(db.sql`select taskweave.create_parallel_task(${root.id}, 'a', 'x', '{}', null, 'w')`)).message).toMatch(
      /^run limit reached: the run's deadline passed at /,
    );
  });
});

describe('the creating calls take the worker', () => {
  it('a worker that lost its lease creates nothing (TW001)', async () => {
    const root = await createRoot(db.sql, 'stale');
    await claim(db.sql, root.id, 'first', 1);
    await db.sql`update taskweave.tasks set lease_expires_at = now() - interval '1 second' where id = ${root.id}`;
    await db.sql`select * from taskweave.claim_tasks('second', 1)`;
    expect((await rejection(db.sql`select taskweave.create_parallel_task(${root.id}, 'a', 'x', '{}', 'c1', 'first')`)).code).toBe('TW001');
    const child = await db.sql`select id from taskweave.create_parallel_task(${root.id}, 'a', 'x', '{}', 'c1', 'second')`;
    expect((await rejection(db.sql`select taskweave.create_aggregator_task(${root.id}, ${[child[0].id]}::uuid[], 's', 'x', 'c2', 'first')`)).code).toBe('TW001');
    expect(await count(db.sql, `select count(*)::int as n from taskweave.tasks where parent_task_id = '${root.id}'`)).toBe(1);
  });
});

describe('cancel_task', () => {
  it('cancels the task and every descendant that has not ended; a running worker loses its lease; reviews resolve as abort; audited', async () => {
    const { root, children, aggregator } = await createFanOut(db.sql, 4, 'to cancel');
    await finish(db.sql, children[0].id);
    await claim(db.sql, children[1].id, 'busy-worker');
    const review = await failToReview(db.sql, children[2].id);
    await claim(db.sql, root.id, 'root-worker');
    const before = await count(db.sql, `select count(*)::int as n from taskweave.task_events where task_id = '${children[0].id}'`);

    const [cancelled] = await asIdentity(db.sql, operator(), (tx) => tx`select * from taskweave.cancel_task(${root.id}, 'wrong input')`);
    expect(cancelled).toMatchObject({ id: root.id, status: 'cancelled', cancel_reason: 'wrong input' });
    const statuses = await db.sql`select id, status from taskweave.tasks where root_task_id = ${root.id}`;
    const byId = Object.fromEntries(statuses.map((r) => [r.id, r.status]));
    expect(byId[children[0].id]).toBe('completed'); // ended before: untouched
    for (const id of [children[1].id, children[2].id, children[3].id, aggregator.id, root.id]) expect(byId[id]).toBe('cancelled');
    expect(await count(db.sql, `select count(*)::int as n from taskweave.task_events where task_id = '${children[0].id}'`)).toBe(before);

    const hb = await rejection(db.sql`select taskweave.heartbeat_task(${children[1].id}, 'busy-worker')`);
    expect(hb.code).toBe('TW001');
    expect((await rejection(db.sql`select taskweave.begin_model_step(${children[1].id}, 'busy-worker', 'm')`)).code).toBe('TW001');
    const [r] = await db.sql`select status, action, note, resolved_by from taskweave.human_reviews where id = ${review}`;
    expect(r).toEqual({ status: 'resolved', action: 'abort', note: 'wrong input', resolved_by: 'ada@example.com' });
    const [event] = await db.sql`
      select actor, detail from taskweave.task_events where task_id = ${children[1].id} and to_status = 'cancelled'`;
    expect(event).toMatchObject({ actor: 'ada@example.com', detail: { reason: 'wrong input' } });
  });

  it('only operators and service_role may cancel; a custom role inheriting authenticated is not an operator', async () => {
    const root = await createRoot(db.sql, 'keep');
    expect((await rejection(asIdentity(db.sql, plainUser(), (tx) => tx`select taskweave.cancel_task(${root.id})`))).code).toBe('42501');
    await db.sql.unsafe(`do $$ begin
      if not exists (select 1 from pg_roles where rolname = 'tw_test_custom_role') then
        create role tw_test_custom_role nologin inherit; grant authenticated to tw_test_custom_role;
      end if; end $$`);
    await db.sql.unsafe(`grant tw_test_custom_role to current_user`).catch(() => {});
    const custom = await rejection(
      db.sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', '{"role":"tw_test_custom_role","sub":"00000000-0000-4000-8000-0000000000c1"}', true)`;
        await tx.unsafe('set local role tw_test_custom_role');
        const [row] = await tx`select taskweave_private.is_operator() as op`;
        if (row.op) throw Object.assign(new Error('custom role treated as an operator'), { code: 'BUG' });
        return tx`select taskweave.cancel_task(${root.id})`;
      }),
    );
    expect(custom.code).toBe('42501');
    expect((await getTask(db.sql, root.id)).status).toBe('pending');
  });

  it('cancelling one dependency counts as its ending: the join rule activates the aggregator', async () => {
    const { children, aggregator } = await createFanOut(db.sql, 2, 'one cancelled');
    await finish(db.sql, children[0].id);
    await db.sql`select taskweave.cancel_task(${children[1].id}, 'not needed')`;
    expect(await getTask(db.sql, aggregator.id)).toMatchObject({ status: 'pending' });
    expect(await activationCount(db.sql, aggregator.id)).toBe(1);
  });

  it('racing completions and review resolutions from many connections: no deadlock, every task ends, the aggregator settles once (x5)', async () => {
    for (let rep = 0; rep < 5; rep++) {
      const { root, children, aggregator } = await createFanOut(db.sql, 24, `race ${rep}`);
      const reviews = await Promise.all(children.slice(16).map((c) => failToReview(db.sql, c.id)));
      await db.sql`select taskweave.claim_task(id, 'w') from unnest(${children.slice(0, 16).map((c) => c.id)}::uuid[]) as id`;
      const clients = Array.from({ length: 25 }, () => db.client(1));
      const results = await Promise.allSettled([
        ...children.slice(0, 16).map((c, i) => clients[i]`select taskweave.complete_task(${c.id}, 'w', '{}')`),
        ...reviews.map((id, i) => clients[16 + i]`select taskweave.resolve_review(${id}, 'retry')`),
        clients[24]`select taskweave.cancel_task(${root.id}, 'race')`,
      ]);
      const codes = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code);
      // a call that lost the race is told clearly (lease gone, review already resolved by the cancel, task
      // no longer waiting); never a deadlock or anything else
      for (const code of codes) expect(['TW001', 'TW002', 'TW003']).toContain(code);
      const open = await count(db.sql, `select count(*)::int as n from taskweave.tasks where root_task_id = '${root.id}'
        and status not in ('completed', 'cancelled')`);
      expect(open).toBe(0);
      expect(await activationCount(db.sql, aggregator.id)).toBeLessThanOrEqual(1);
      expect(await count(db.sql, `select count(*)::int as n from taskweave.human_reviews h join taskweave.tasks t on t.id = h.task_id
        where t.root_task_id = '${root.id}' and h.status = 'open'`)).toBe(0);
      await Promise.all(clients.map((c) => c.end({ timeout: 2 })));
    }
  });
});

describe('joins that do not wait forever', () => {
  it('rejects a quorum outside 1..N and a wait outside 1..604800 seconds', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    expect(await rejection(db.sql`select taskweave.create_aggregator_task(${root.id}, ${[a.id]}::uuid[], 's', 'x', null, null, 2)`)).toEqual({
      code: '22023',
      message: 'p_min_completed must be between 1 and the number of dependencies, 1 (got 2)',
    });
    expect(await rejection(db.sql`select taskweave.create_aggregator_task(${root.id}, ${[a.id]}::uuid[], 's', 'x', null, null, null, 0)`)).toEqual({
      code: '22023',
      message: 'p_wait_seconds must be between 1 and 604800 (got 0)',
    });
  });

  it(`quorum: 50 dependencies completing in 50 concurrent transactions activate it exactly once, at the quorum (x10)`, async () => {
    const N = 50;
    const clients = Array.from({ length: N }, () => db.client(1));
    await Promise.all(clients.map((c) => c`select 1`));
    for (let rep = 0; rep < 10; rep++) {
      const root = await createRoot(db.sql, `quorum ${rep}`);
      const children = (await withSettings(db.sql, { max_children_per_task: 100 }, async (tx) => {
        return tx`select t.id from generate_series(1, ${N}::int) i cross join lateral taskweave.create_parallel_task(${root.id}, 'p' || i, 'x') t order by i`;
      })) as unknown as { id: string }[];
      const [agg] = await db.sql`select * from taskweave.create_aggregator_task(${root.id}, ${children.map((c) => c.id)}::uuid[], 'q', 'x', null, null, 25)`;
      expect(agg.status).toBe('queued');
      await db.sql`select taskweave.claim_task(id, 'w') from unnest(${children.map((c) => c.id)}::uuid[]) as id`;
      const results = await Promise.allSettled(children.map((c, i) => clients[i]`select taskweave.complete_task(${c.id}, 'w', '{}')`));
      // completions after the quorum may find their task already cancelled as not needed (TW001); nothing else fails
      for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('TW001');
      await db.sql`select taskweave_private.sweep()`;
      expect(await activationCount(db.sql, agg.id)).toBe(1);
      const after = await getTask(db.sql, agg.id);
      expect(after).toMatchObject({ status: 'pending' });
      expect((after as unknown as { activated_by: string }).activated_by).toBe('quorum');
      const ended = await db.sql`select status, cancel_reason from taskweave.tasks where id in ${db.sql(children.map((c) => c.id))}`;
      expect(ended.filter((t) => t.status === 'completed').length).toBeGreaterThanOrEqual(25);
      for (const t of ended.filter((t) => t.status !== 'completed')) {
        expect(t).toEqual({ status: 'cancelled', cancel_reason: `not needed: aggregator ${agg.id} activated by its quorum before this task ended` });
      }
    }
  });

  it('deadline: the sweep activates the aggregator with what completed and cancels the rest, saying why', async () => {
    const root = await createRoot(db.sql, 'deadline');
    const [a, b] = [await createParallel(db.sql, root.id, 'a'), await createParallel(db.sql, root.id, 'b')];
    const [agg] = await db.sql`select * from taskweave.create_aggregator_task(${root.id}, ${[a.id, b.id]}::uuid[], 's', 'x', null, null, null, 1)`;
    await finish(db.sql, a.id);
    expect((await getTask(db.sql, agg.id)).status).toBe('queued');
    await db.sql`select pg_sleep(1.05)`;
    const [swept] = await db.sql`select taskweave_private.sweep() as r`;
    expect(swept.r).toMatchObject({ activated: 1 });
    expect(await getTask(db.sql, agg.id)).toMatchObject({ status: 'pending' });
    const [bRow] = await db.sql`select status, cancel_reason from taskweave.tasks where id = ${b.id}`;
    expect(bRow).toEqual({ status: 'cancelled', cancel_reason: `not needed: aggregator ${agg.id} activated by its deadline before this task ended` });
    // none completed by the deadline: the aggregator is cancelled instead
    const [c] = [await createParallel(db.sql, root.id, 'c')];
    const [agg2] = await db.sql`select * from taskweave.create_aggregator_task(${root.id}, ${[c.id]}::uuid[], 's2', 'x', null, null, null, 1)`;
    await db.sql`select pg_sleep(1.05)`;
    await db.sql`select taskweave_private.sweep()`;
    expect(await getTask(db.sql, agg2.id)).toMatchObject({ status: 'cancelled' });
  });

  it('creating an aggregator while its dependencies complete concurrently never deadlocks (x20)', async () => {
    const clients = Array.from({ length: 12 }, () => db.client(1));
    for (let rep = 0; rep < 20; rep++) {
      const root = await createRoot(db.sql, `agg race ${rep}`);
      const deps: { id: string }[] = [];
      for (let i = 0; i < 10; i++) deps.push(await createParallel(db.sql, root.id, `d${i}`));
      // an earlier aggregator over the same tasks: completions then also touch its counters and row
      const earlier = await createAggregator(db.sql, root.id, deps.map((d) => d.id), 'earlier');
      await db.sql`select taskweave.claim_task(id, 'w') from unnest(${deps.map((d) => d.id)}::uuid[]) as id`;
      const [created] = await Promise.all([
        clients[11]`select * from taskweave.create_aggregator_task(${root.id}, ${deps.map((d) => d.id)}::uuid[], 'later', 'x')`,
        ...deps.map((d, i) => clients[i]`select taskweave.complete_task(${d.id}, 'w', '{}')`),
      ]);
      expect(await activationCount(db.sql, earlier.id)).toBe(1);
      const later = await getTask(db.sql, (created as unknown as { id: string }[])[0].id);
      expect(later.status).toBe('pending');
    }
  });
});

describe('release without progress', () => {
  it('is bounded: past taskweave.max_idle_releases the task fails with category timeout; rate-limit releases do not count', async () => {
    const root = await createRoot(db.sql, 'slow model');
    for (let i = 0; i < 3; i++) {
      await claim(db.sql, root.id, 'w');
      await db.sql`select taskweave.release_task(${root.id}, 'w', 0, true)`; // waiting for a rate limit
      await claim(db.sql, root.id, 'w');
      const [released] = await db.sql`select status, idle_releases from taskweave.release_task(${root.id}, 'w', 0)`;
      expect(released).toEqual({ status: 'pending', idle_releases: i + 1 });
    }
    await claim(db.sql, root.id, 'w');
    const [failed] = await db.sql`select status, last_error from taskweave.release_task(${root.id}, 'w', 0)`;
    expect(failed.status).toBe('failed');
    expect(failed.last_error).toMatchObject({ category: 'timeout', releases: 4 });

    // a saved model step is progress: the count starts again
    const other = await createRoot(db.sql, 'progress');
    await claim(db.sql, other.id, 'w');
    await db.sql`select taskweave.release_task(${other.id}, 'w', 0)`;
    await claim(db.sql, other.id, 'w');
    await db.sql`select taskweave.append_task_message(${other.id}, 'w', 'assistant', '"thinking"')`;
    const [again] = await db.sql`select idle_releases from taskweave.release_task(${other.id}, 'w', 0)`;
    expect(again.idle_releases).toBe(1);
  });

  it('a parallel task that keeps being released goes to review, as any failure', async () => {
    const root = await createRoot(db.sql, 'parent');
    const child = await createParallel(db.sql, root.id, 'slow child');
    for (let i = 0; i < 4; i++) {
      await claim(db.sql, child.id, 'w');
      await db.sql`select taskweave.release_task(${child.id}, 'w', 0)`;
    }
    expect((await getTask(db.sql, child.id)).status).toBe('needs_human_review');
    await complete(db.sql, root.id, 'w').catch(() => {});
  });
});
