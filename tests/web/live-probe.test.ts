// The live feed proves its LISTEN channel with a ping of its own. Through a transaction pooler LISTEN is
// accepted and nothing is ever delivered; here the database is reached through a proxy that speaks the
// Postgres protocol through unchanged but drops every NotificationResponse ('A' message) while `silent`
// is on: a LISTEN that never delivers. The hub must then refuse to call itself live, so the page polls.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';

vi.mock('server-only', () => ({}));

const db = useTestDatabase();
let proxy: net.Server;
let silent = true;
let live: typeof import('../../src/lib/live/notifications.ts');
let closeDb: typeof import('../../src/lib/server/db.ts').closeDb;

/** Forwards client bytes as they are; parses the server's messages and drops notifications while silent. */
function startProxy(target: number): Promise<number> {
  proxy = net.createServer((client) => {
    const server = net.connect(target, '127.0.0.1');
    client.pipe(server);
    let pending = Buffer.alloc(0);
    server.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      const out: Buffer[] = [];
      while (pending.length >= 5) {
        const length = pending.readInt32BE(1) + 1;
        if (pending.length < length) break;
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        if (!(silent && message[0] === 0x41)) out.push(message);
      }
      if (out.length) client.write(Buffer.concat(out));
    });
    const end = () => (client.destroy(), server.destroy());
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as net.AddressInfo).port)));
}

const previousUrl = process.env.DATABASE_URL;
beforeAll(async () => {
  const url = new URL(db.url);
  url.port = String(await startProxy(Number(url.port)));
  process.env.DATABASE_URL = url.toString(); // the app's pool, and so its LISTEN, goes through the proxy
  live = await import('../../src/lib/live/notifications.ts');
  ({ closeDb } = await import('../../src/lib/server/db.ts'));
  live.PROBE.timeoutMs = 1_000;
});
afterAll(async () => {
  await live.stopListening();
  await closeDb();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  if (previousUrl === undefined) delete process.env.DATABASE_URL;
  else process.env.DATABASE_URL = previousUrl;
});

describe('a LISTEN that never delivers', () => {
  it('is found out by the ping and refused, quickly for the next subscribers too', async () => {
    const seen: unknown[] = [];
    const started = Date.now();
    await expect(live.subscribe((n) => seen.push(n))).rejects.toBeInstanceOf(live.LiveUnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    // the next page load is told at once, without another ping
    const again = Date.now();
    await expect(live.subscribe(() => {})).rejects.toThrow(/port 6543|session-mode/);
    expect(Date.now() - again).toBeLessThan(500);
    // the changes really happen; they just never arrive
    await db.sql`select taskweave.create_task('unseen', 'i')`;
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
  });

  it('is live once notifications arrive, and ends every subscription when a later ping does not come back', async () => {
    silent = false;
    await live.stopListening(); // forget the silent verdict: the next subscriber pings again
    const seen: { channel: string; payload: unknown }[] = [];
    const ended: Error[] = [];
    const subscription = await live.subscribe((n) => seen.push(n), (error) => ended.push(error));
    const [task] = await db.sql`select id from taskweave.create_task('seen', 'i')`;
    await vi.waitFor(() => expect(seen.some((n) => n.channel === 'task_changed' && (n.payload as { id: string }).id === task.id)).toBe(true));
    // the probe's own pings never reach a subscriber
    expect(seen.every((n) => (live.LIVE_CHANNELS as readonly string[]).includes(n.channel))).toBe(true);

    silent = true; // the connection stops delivering (as after a reconnect through a pooler)
    await live.checkDelivery();
    expect(ended).toHaveLength(1);
    expect(ended[0]).toBeInstanceOf(live.LiveUnavailableError);
    subscription.unsubscribe(); // harmless after the end
    await expect(live.subscribe(() => {})).rejects.toBeInstanceOf(live.LiveUnavailableError);
  });
});
