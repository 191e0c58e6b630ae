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
    const offA = await subscribe((n) => a.push(n));
    const offB = await subscribe((n) => b.push(n));

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
});
