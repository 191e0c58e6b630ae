// The live-updates hub: one LISTEN connection fans Postgres notifications out to every subscriber.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { seedFanOut } from './fixtures/seed.ts';

vi.mock('server-only', () => ({}));

const db = useTestDatabase();
let subscribe: typeof import('../../src/lib/live/notifications.ts').subscribe;
let stopListening: typeof import('../../src/lib/live/notifications.ts').stopListening;
let closeDb: typeof import('../../src/lib/server/db.ts').closeDb;

const previousUrl = process.env.DATABASE_URL;
beforeAll(async () => {
  process.env.DATABASE_URL = db.url; // the hub connects where the app's pool would
  ({ subscribe, stopListening } = await import('../../src/lib/live/notifications.ts'));
  ({ closeDb } = await import('../../src/lib/server/db.ts'));
});
afterAll(async () => {
  await stopListening();
  await closeDb();
  if (previousUrl === undefined) delete process.env.DATABASE_URL;
  else process.env.DATABASE_URL = previousUrl;
});

describe('live notifications', () => {
  it('delivers task and review changes to every subscriber, and stops after unsubscribe', async () => {
    const a: { channel: string; payload: unknown }[] = [];
    const b: { channel: string; payload: unknown }[] = [];
    const { unsubscribe: offA } = await subscribe((n) => a.push(n));
    const { unsubscribe: offB } = await subscribe((n) => b.push(n));

    const fanOut = await seedFanOut(db.sql, { title: 'Live hub' });
    await vi.waitFor(() => {
      expect(a.some((n) => n.channel === 'review_changed' && (n.payload as { status: string }).status === 'open')).toBe(true);
      expect(a.some((n) => n.channel === 'task_changed' && (n.payload as { id: string; status: string }).id === fanOut.failed[0].taskId)).toBe(true);
      expect(a.some((n) => n.channel === 'task_ready')).toBe(true);
    });
    expect(b.length).toBe(a.length);

    offA();
    const before = a.length;
    await db.sql`select taskweave.claim_task(${fanOut.childIds[2]}, 'w', 60)`;
    await vi.waitFor(() => expect(b.some((n) => n.channel === 'task_changed' && (n.payload as { status: string }).status === 'running')).toBe(true));
    expect(a.length).toBe(before);
    offB();
  });

  it('holds a task_changed lease while it listens, asks the first subscriber to catch up, and ends the lease on stopListening', async () => {
    await stopListening();
    const leases = () => db.sql<{ watcher: string; live: boolean }[]>`
      select watcher, expires_at > now() as live from taskweave_private.change_watchers`;
    expect(await leases()).toEqual([]);

    // nobody watched: a change now sends no task_changed, so the first subscriber must re-read once
    const missed = await db.sql`select id from taskweave.create_task('before anyone watched', 'i')`;
    const seen: { channel: string; payload: unknown }[] = [];
    const first = await subscribe((n) => seen.push(n));
    expect(first.catchUp).toBe(true);
    const [lease] = await leases();
    expect(lease).toEqual({ watcher: expect.stringMatching(/^web:.+:\d+:[0-9a-f]{8}$/), live: true });
    expect(lease.watcher).toContain(`:${process.pid}:`);

    // while the lease is live, a later subscriber has nothing to catch up on, and changes are announced
    const second = await subscribe(() => {});
    expect(second.catchUp).toBe(false);
    expect(await leases()).toEqual([lease]);
    const [task] = await db.sql`select id from taskweave.create_task('while watched', 'i')`;
    await vi.waitFor(() => expect(seen.some((n) => n.channel === 'task_changed' && (n.payload as { id: string }).id === task.id)).toBe(true));
    expect(seen.some((n) => n.channel === 'task_changed' && (n.payload as { id: string }).id === missed[0].id)).toBe(false);

    // the lease is kept a little after the last browser leaves (a reload finds it live) ...
    second.unsubscribe();
    first.unsubscribe();
    expect(await leases()).toEqual([lease]);
    const again = await subscribe(() => {});
    expect(again.catchUp).toBe(false);
    again.unsubscribe();

    // ... and ends with stopListening: Postgres stops sending task_changed at once
    await stopListening();
    expect(await leases()).toEqual([]);
    const next = await subscribe(() => {});
    expect(next.catchUp).toBe(true);
    expect((await leases()).map((l) => l.watcher)).toEqual([lease.watcher]);
    await stopListening();
    expect(await leases()).toEqual([]);
  });
});
