// wait_for_task's change stream (listenTaskChanges, the same module the mcp function runs under Deno)
// against a real database: it holds a task_changed lease while any wait is subscribed, so Postgres
// notifies and a wait wakes at the change, not at its periodic re-read; the lease is renewed, shared,
// and ended when the last wait lets go.
import { afterAll, describe, expect, it } from 'vitest';
import { listenTaskChanges, type TaskChanges } from '../../supabase/functions/mcp/ports.ts';
import type { Sql as McpSql } from '../../supabase/functions/mcp/store.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { claim, complete, createRoot } from '../helpers/tasks.ts';

const db = useTestDatabase();
const streams: TaskChanges[] = [];
afterAll(async () => {
  await Promise.all(streams.map((s) => s.close().catch(() => undefined)));
});

function changes(options: Parameters<typeof listenTaskChanges>[2] = {}) {
  const errors: string[] = [];
  const stream = listenTaskChanges(db.client(2) as unknown as McpSql, { info: () => {}, error: (m) => errors.push(m) }, options);
  streams.push(stream);
  return { stream, errors };
}

const leases = () => db.sql<{ watcher: string; live: boolean }[]>`
  select watcher, expires_at > now() as live from taskweave_private.change_watchers order by watcher`;

async function eventually(check: () => Promise<boolean>, ms = 3_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('listenTaskChanges', () => {
  it('takes a lease before the first read, wakes a wait promptly when its task ends, and lets go after the last wait', async () => {
    const { stream, errors } = changes({ lingerMs: 0 });
    const root = await createRoot(db.sql, 'watched run');
    await claim(db.sql, root.id, 'w');
    expect(await leases()).toEqual([]);

    const wait = await stream.subscribe(root.id);
    const [lease] = await leases();
    expect(lease).toEqual({ watcher: expect.stringMatching(/^mcp:[0-9a-f-]{36}$/), live: true });
    const other = await stream.subscribe(root.id);
    expect(await leases()).toEqual([lease]); // one lease per instance, however many waits

    const t0 = Date.now();
    const woke = wait.next(30_000);
    setTimeout(() => void complete(db.sql, root.id, 'w'), 200);
    expect(await woke).toBe('changed');
    // far below the 30 s this wait would otherwise sleep (and the endpoint's 5 s re-read)
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(await other.next(0)).toBe('changed');

    wait.close();
    expect(await leases()).toEqual([lease]);
    other.close();
    other.close(); // twice is harmless
    await eventually(async () => (await leases()).length === 0);
    expect(errors).toEqual([]);
  });

  it('renews the lease while a wait holds it, and keeps it lingerMs after the last wait', async () => {
    const { stream, errors } = changes({ leaseSeconds: 1, renewMs: 200, lingerMs: 1_500 });
    const root = await createRoot(db.sql, 'long wait');
    const wait = await stream.subscribe(root.id);
    await new Promise((r) => setTimeout(r, 1_500)); // longer than the lease: only renewals keep it
    expect((await leases()).map((l) => l.live)).toEqual([true]);
    wait.close();
    await new Promise((r) => setTimeout(r, 600));
    expect((await leases()).map((l) => l.live)).toEqual([true]);
    // the next wait finds it live
    const next = await stream.subscribe(root.id);
    next.close();
    await eventually(async () => (await leases()).length === 0, 4_000);
    expect(errors).toEqual([]);
  });

  it('a change whose transaction was in flight when the lease was taken is in the first read after subscribe', async () => {
    const { stream } = changes({ lingerMs: 0 });
    const writer = db.client(1);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let created = '';
    // the trigger runs now, before any lease: this transition sends no task_changed
    const tx = writer.begin(async (t) => {
      const [row] = await t<{ id: string }[]>`select id from taskweave.create_task('in flight', 'i')`;
      created = row.id;
      await held;
    });
    await eventually(async () => created !== '');
    setTimeout(release, 300);
    const wait = await stream.subscribe(created);
    // subscribe waited for the transaction to end, so the read that follows it sees the task
    const [{ n }] = await db.sql`select count(*)::int as n from taskweave.tasks where id = ${created}`;
    expect(n).toBe(1);
    await tx;
    wait.close();
  });

  it('close() ends the lease at once, and a later wait takes it again', async () => {
    const { stream } = changes({ lingerMs: 60_000 });
    const root = await createRoot(db.sql, 'shutdown');
    const wait = await stream.subscribe(root.id);
    wait.close();
    expect(await leases()).toHaveLength(1); // lingering
    await stream.close();
    expect(await leases()).toEqual([]);
    const again = await stream.subscribe(root.id);
    expect(await leases()).toHaveLength(1);
    again.close();
    await stream.close();
    expect(await leases()).toEqual([]);
  });
});
