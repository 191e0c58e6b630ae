// The local dispatcher against a real database and a stand-in function: NOTIFY task_ready becomes an
// invocation, the sweep finds expired leases and due retries, and concurrency stays bounded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { startDispatcher, type Dispatcher } from '../../scripts/lib/dispatcher.ts';
import { waitFor } from './support.ts';

const db = useTestDatabase();
const received: { taskId: string; auth: string | undefined }[] = [];
let inFlight = 0;
let maxInFlight = 0;
let server: http.Server;
let url: string;
let dispatcher: Dispatcher;

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const { task_id } = JSON.parse(Buffer.concat(chunks).toString());
    received.push({ taskId: task_id, auth: req.headers.authorization });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 150));
    inFlight--;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results: [{ task_id, status: 'completed', outcome: 'completed' }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/functions/v1/process-task`;
  dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: url, secret: 'k', concurrency: 2, sweepIntervalMs: 200, log: () => {} });
});

afterAll(async () => {
  await dispatcher?.stop();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('dispatcher', () => {
  it('invokes the function for each ready task, at most `concurrency` at a time, with the key', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await db.sql`select id from public.create_task(${'t' + i}, 'x')`)[0].id as string);
    await waitFor('six invocations', async () => ids.every((id) => received.some((r) => r.taskId === id)), 10_000, 50);
    expect(maxInFlight).toBeLessThanOrEqual(2);
    expect(received.every((r) => r.auth === 'Bearer k')).toBe(true);
  });

  it('sweeps up a task whose worker died once its lease expires', async () => {
    const [t] = await db.sql`select id from public.create_task('orphan', 'x')`;
    await waitFor('first invocation', async () => received.some((r) => r.taskId === t.id), 5_000, 50);
    // the stand-in does not claim; a worker claims and dies holding a 1 s lease
    await db.sql`select public.claim_task(${t.id}, 'dead-worker', 1)`;
    const before = received.filter((r) => r.taskId === t.id).length;
    await waitFor('a sweep invocation after lease expiry', async () => received.filter((r) => r.taskId === t.id).length > before, 5_000, 50);
    const [row] = await db.sql`select lease_expires_at <= now() as expired from public.tasks where id = ${t.id}`;
    expect(row.expired).toBe(true);
  });
});
