import { describe, expect, it } from 'vitest';
import { setSettings, useTestDatabase } from '../helpers/database.ts';
import { claim, complete, createParallel, createRoot, fail, getTask, rejection, type TaskRow } from '../helpers/tasks.ts';

// hundreds of tasks run at once here; the running cap has its own tests
const db = useTestDatabase({ settings: { max_running: 0 } });

/** Expire a lease now, as the passing of time would. */
async function expireLease(id: string) {
  await db.sql`update taskweave.tasks set lease_expires_at = now() - interval '1 second' where id = ${id}`;
}

describe('claim_tasks', () => {
  it('hands out due pending tasks oldest first, skips future run_after, and marks them running with a lease', async () => {
    const a = await createRoot(db.sql, 'first');
    const b = await createRoot(db.sql, 'second');
    const later = await createRoot(db.sql, 'later');
    await db.sql`update taskweave.tasks set run_after = now() + interval '1 hour' where id = ${later.id}`;
    const claimed = await db.sql<TaskRow[]>`select * from taskweave.claim_tasks('w-1', 10, 60)`;
    expect(claimed.map((t) => t.id)).toEqual([a.id, b.id]);
    for (const t of claimed) {
      expect(t).toMatchObject({ status: 'running', attempt: 1, leased_by: 'w-1' });
      const seconds = (t.lease_expires_at!.getTime() - Date.now()) / 1000;
      expect(seconds).toBeGreaterThan(50);
      expect(seconds).toBeLessThan(70);
    }
    expect((await db.sql`select * from taskweave.claim_tasks('w-2', 10)`).length).toBe(0);
    expect((await getTask(db.sql, later.id)).status).toBe('pending');
  });

  it('never gives one task to two workers: 10 workers claiming 100 tasks at once get disjoint sets', async () => {
    const roots = await db.sql<{ id: string }[]>`
      select (taskweave.create_task('bulk ' || i, 'x')).id from generate_series(1, 100) i`;
    const workers = Array.from({ length: 10 }, (_, i) => ({ name: `w-${i}`, sql: db.client(1) }));
    const results = await Promise.all(
      workers.map(({ name, sql }) => sql<{ id: string }[]>`select id from taskweave.claim_tasks(${name}, 15)`),
    );
    const all = results.flat().map((r) => r.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(100);
    expect(new Set(all)).toEqual(new Set(roots.map((r) => r.id)));
  });

  it('rejects bad arguments with 22023', async () => {
    expect(await rejection(db.sql`select * from taskweave.claim_tasks('', 1)`)).toEqual({
      code: '22023',
      message: 'p_worker must be a non-empty name of at most 200 characters',
    });
    expect(await rejection(db.sql`select * from taskweave.claim_tasks('w', 0)`)).toEqual({ code: '22023', message: 'p_limit must be between 1 and 1000 (got 0)' });
    expect(await rejection(db.sql`select * from taskweave.claim_tasks('w', 1, 0)`)).toEqual({
      code: '22023',
      message: 'p_lease_seconds must be between 1 and 86400 (got 0)',
    });
  });

  it('reclaims a task whose lease expired, and the dead worker can no longer complete it', async () => {
    const root = await createRoot(db.sql);
    await claim(db.sql, root.id, 'dead-worker');
    await expireLease(root.id);
    const [again] = await db.sql<TaskRow[]>`select * from taskweave.claim_tasks('live-worker', 1)`;
    expect(again).toMatchObject({ id: root.id, status: 'running', attempt: 2, leased_by: 'live-worker' });
    const stale = await rejection(complete(db.sql, root.id, 'dead-worker', { late: true }));
    expect(stale.code).toBe('TW001');
    expect(stale.message).toBe(`task ${root.id} is not leased to worker "dead-worker" (status running, leased by "live-worker")`);
    const done = await complete(db.sql, root.id, 'live-worker', { fresh: true });
    expect(done).toMatchObject({ status: 'completed', output: { fresh: true }, leased_by: null });
  });

  it('escalates instead of reclaiming when the dead worker held the last attempt', async () => {
    const root = await createRoot(db.sql);
    const child = await createParallel(db.sql, root.id, 'fragile');
    await db.sql`update taskweave.tasks set max_attempts = 1 where id = ${child.id}`;
    await claim(db.sql, child.id, 'dead-worker');
    await expireLease(child.id);
    await db.sql`select * from taskweave.claim_tasks('sweeper', 10)`;
    const task = await getTask(db.sql, child.id);
    expect(task.status).toBe('needs_human_review');
    expect(task.last_error).toMatchObject({ category: 'timeout', message: 'worker "dead-worker" stopped renewing its lease on attempt 1 of 1' });
    const reviews = await db.sql`select status from taskweave.human_reviews where task_id = ${child.id}`;
    expect(reviews).toEqual([{ status: 'open' }]);
  });
});

describe('claim_task', () => {
  it('claims one given task, and refuses (55000) a task that is not claimable', async () => {
    const root = await createRoot(db.sql);
    const claimed = await claim(db.sql, root.id, 'w');
    expect(claimed).toMatchObject({ status: 'running', leased_by: 'w', attempt: 1 });
    const refused = await rejection(claim(db.sql, root.id, 'w2'));
    expect(refused.code).toBe('55000');
    expect(refused.message).toMatch(new RegExp(`^task ${root.id} is not claimable \\(status running, leased to "w" until `));
    const missing = '00000000-0000-4000-8000-000000000abc';
    expect(await rejection(claim(db.sql, missing, 'w'))).toEqual({ code: 'P0002', message: `task ${missing} not found` });
  });
});

describe('heartbeat, complete and fail by the lease holder only', () => {
  it('extends the lease for the holder; a stranger gets TW001 and changes nothing', async () => {
    const root = await createRoot(db.sql);
    const claimed = await claim(db.sql, root.id, 'holder', 30);
    const [beat] = await db.sql<TaskRow[]>`select * from taskweave.heartbeat_task(${root.id}, 'holder', 600)`;
    expect(beat.lease_expires_at!.getTime()).toBeGreaterThan(claimed.lease_expires_at!.getTime() + 500_000);
    const before = await getTask(db.sql, root.id);
    for (const call of [
      db.sql`select taskweave.heartbeat_task(${root.id}, 'stranger')`,
      db.sql`select taskweave.complete_task(${root.id}, 'stranger', '{"x":1}')`,
      db.sql`select taskweave.fail_task(${root.id}, 'stranger', '{"category":"model","message":"x"}')`,
      db.sql`select taskweave.release_task(${root.id}, 'stranger')`,
      db.sql`select taskweave.append_task_message(${root.id}, 'stranger', 'assistant', '{"text":"x"}')`,
    ]) {
      expect((await rejection(call)).code).toBe('TW001');
    }
    expect(await getTask(db.sql, root.id)).toEqual(before);
  });

  it('refuses to complete a task that already completed (a late duplicate result)', async () => {
    const root = await createRoot(db.sql);
    await claim(db.sql, root.id, 'w');
    await complete(db.sql, root.id, 'w', { first: true });
    const late = await rejection(complete(db.sql, root.id, 'w', { second: true }));
    expect(late).toEqual({ code: 'TW001', message: `task ${root.id} is not leased to worker "w" (status completed, leased by nobody)` });
    expect((await getTask(db.sql, root.id)).output).toEqual({ first: true });
  });

  it('rejects malformed results with 22023 and keeps the lease', async () => {
    const root = await createRoot(db.sql);
    await claim(db.sql, root.id, 'w');
    expect(await rejection(db.sql`select taskweave.complete_task(${root.id}, 'w', null)`)).toEqual({ code: '22023', message: 'p_output must not be null' });
    expect(await rejection(db.sql`select taskweave.fail_task(${root.id}, 'w', '"text"'::jsonb)`)).toEqual({
      code: '22023',
      message: 'p_error must be a JSON object such as {"category": "model", "message": "..."} (got string)',
    });
    expect((await getTask(db.sql, root.id)).status).toBe('running');
  });
});

describe('fail_task', () => {
  it('retries with exponential backoff while attempts remain', async () => {
    const root = await createRoot(db.sql);
    const c = db.client(1);
    await setSettings(db.sql, { retry_base_seconds: 10 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      await db.sql`update taskweave.tasks set run_after = now() where id = ${root.id}`;
      await claim(c, root.id, 'w');
      const failed = await fail(c, root.id, 'w', true, { category: 'model', message: `429 on attempt ${attempt}` });
      expect(failed).toMatchObject({ status: 'pending', attempt, leased_by: null, last_error: { category: 'model', message: `429 on attempt ${attempt}` } });
      delays.push(Math.round((failed.run_after.getTime() - Date.now()) / 1000));
    }
    expect(delays[0]).toBeGreaterThanOrEqual(9);
    expect(delays[0]).toBeLessThanOrEqual(10);
    expect(delays[1]).toBeGreaterThanOrEqual(19);
    expect(delays[1]).toBeLessThanOrEqual(20);
    // the third attempt is the last: a root task fails for good
    await db.sql`update taskweave.tasks set run_after = now() where id = ${root.id}`;
    await claim(c, root.id, 'w');
    const last = await fail(c, root.id, 'w', true);
    expect(last.status).toBe('failed');
    expect(last.last_error).toMatchObject({ category: 'model', attempt: 3, max_attempts: 3 });
  });

  it('sends a parallel task that cannot be retried to needs_human_review with exactly one open review', async () => {
    const root = await createRoot(db.sql);
    const child = await createParallel(db.sql, root.id, 'part');
    await claim(db.sql, child.id, 'w');
    const failed = await fail(db.sql, child.id, 'w', false, { category: 'tool', message: 'bad tool arguments' });
    expect(failed).toMatchObject({ status: 'needs_human_review', leased_by: null });
    const reviews = await db.sql`select status, error from taskweave.human_reviews where task_id = ${child.id}`;
    expect(reviews).toEqual([{ status: 'open', error: { category: 'tool', message: 'bad tool arguments', attempt: 1, max_attempts: 3 } }]);
    const [event] = await db.sql`
      select from_status, to_status, actor from taskweave.task_events where task_id = ${child.id} order by id desc limit 1`;
    expect(event).toEqual({ from_status: 'running', to_status: 'needs_human_review', actor: 'w' });
  });

  it('sends a root task that cannot be retried to failed, with no review', async () => {
    const root = await createRoot(db.sql);
    await claim(db.sql, root.id, 'w');
    expect((await fail(db.sql, root.id, 'w', false)).status).toBe('failed');
    expect(await db.sql`select 1 from taskweave.human_reviews where task_id = ${root.id}`).toHaveLength(0);
  });
});

describe('release_task and the transcript', () => {
  it('hands a task back without using an attempt, and numbers transcript messages in order', async () => {
    const root = await createRoot(db.sql);
    await claim(db.sql, root.id, 'w');
    for (const text of ['plan', 'tool result', 'answer']) {
      await db.sql`select taskweave.append_task_message(${root.id}, 'w', 'assistant', ${db.sql.json({ text })})`;
    }
    const released = (await db.sql<TaskRow[]>`select * from taskweave.release_task(${root.id}, 'w')`)[0];
    expect(released).toMatchObject({ status: 'pending', attempt: 0, leased_by: null });
    const messages = await db.sql`select seq, content from taskweave.task_messages where task_id = ${root.id} order by seq`;
    expect(messages).toEqual([
      { seq: 1, content: { text: 'plan' } },
      { seq: 2, content: { text: 'tool result' } },
      { seq: 3, content: { text: 'answer' } },
    ]);
    expect(await rejection(db.sql`select taskweave.append_task_message(${root.id}, 'w', 'robot', '{}')`)).toEqual({
      code: '22023',
      message: 'p_role must be system, user, assistant or tool (got robot)',
    });
  });
});
