// The local dispatcher against a real database and a stand-in function (it claims and completes the
// task through the SQL API, as process-task would): NOTIFY task_ready becomes an invocation, the sweep
// finds expired leases, and concurrency stays bounded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { startDispatcher, type Dispatcher } from '../../scripts/lib/dispatcher.ts';
import { waitFor } from './support.ts';

const db = useTestDatabase();
const received: { body: { max_tasks?: number }; auth: string | undefined; status: number }[] = [];
let inFlight = 0;
let maxInFlight = 0;
let server: http.Server;
let dispatcher: Dispatcher;

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { max_tasks?: number };
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let status = 200;
    const results: { task_id: string; status: string; outcome: string }[] = [];
    try {
      await new Promise((r) => setTimeout(r, 100));
      // claim mode, as the dispatcher invokes it: SQL picks the task
      for (const { id } of await db.sql<{ id: string }[]>`select id from taskweave.claim_tasks('stand-in', ${body.max_tasks ?? 1}, 30)`) {
        await db.sql`select taskweave.complete_task(${id}, 'stand-in', '{"source":"model","text":"ok","model":"stand-in","steps":0}'::jsonb)`;
        results.push({ task_id: id, status: 'completed', outcome: 'completed' });
      }
    } catch {
      status = 500;
    } finally {
      inFlight--;
    }
    received.push({ body, auth: req.headers.authorization, status });
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status === 200 ? { results } : { error: { code: 'internal', message: 'x' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/functions/v1/process-task`;
  dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: url, secret: 'k', concurrency: 2, sweepIntervalMs: 200, log: () => {} });
});

afterAll(async () => {
  await dispatcher?.stop();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('dispatcher', () => {
  it('invokes the function in claim mode for each ready task, at most `concurrency` at a time, with the key', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await db.sql`select id from taskweave.create_task(${'t' + i}, 'x')`)[0].id as string);
    await waitFor('six tasks completed', async () => {
      const rows = await db.sql`select count(*)::int as n from taskweave.tasks where id in ${db.sql(ids)} and status = 'completed'`;
      return rows[0].n === 6;
    }, 10_000, 50);
    expect(maxInFlight).toBeLessThanOrEqual(2);
    expect(received.every((r) => r.auth === 'Bearer k' && r.body.max_tasks === 1)).toBe(true);
    expect(dispatcher.stats.completed).toBeGreaterThanOrEqual(6);
  });

  it('sweeps up a task whose worker died, once its lease expires', async () => {
    // created and claimed by a worker that dies at once, holding a 1 s lease
    const [t] = await db.sql.begin(async (tx) => {
      const [created] = await tx`select id from taskweave.create_task('orphan', 'x')`;
      return tx`select id, lease_expires_at from taskweave.claim_task(${created.id}, 'dead-worker', 1)`;
    });
    const done = await waitFor('the orphan completed by the stand-in', async () => {
      const [row] = await db.sql`select status, completed_at from taskweave.tasks where id = ${t.id}`;
      return row.status === 'completed' ? row : undefined;
    }, 8_000, 50);
    // claim_tasks leaves a live lease alone, so it can only have been claimed after expiry
    expect((done.completed_at as Date).getTime()).toBeGreaterThanOrEqual((t.lease_expires_at as Date).getTime());
    const [event] = await db.sql`select actor from taskweave.task_events where task_id = ${t.id} and to_status = 'completed'`;
    expect(event.actor).toBe('stand-in');
  });
});
