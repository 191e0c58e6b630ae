// Finding 10: per-user MCP access. The endpoint under Deno accepts a Supabase Auth user's access token
// (locally an HS256 JWT signed with the CLI's published secret, GoTrue's claims) and acts as that user:
// RLS applies, operator tools need the operator claim, and the history records the user. Driven with the
// official MCP SDK client as an operator, as a non-operator and without a token.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { TaskweaveClient } from '../../src/client/index.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createFanOut, createRoot, failToReview, getTask } from '../helpers/tasks.ts';
import { LOCAL_JWT_SECRET, signHs256 } from '../../supabase/functions/_shared/user-token.ts';
import { countRows, sdkClient, startFunctions, textOf, type Functions } from './support.ts';

const db = useTestDatabase();
let fn: Functions;
beforeAll(async () => {
  fn = await startFunctions(db.url);
}, 120_000);
afterAll(async () => {
  await fn?.stop();
});

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;
const userToken = (claims: Record<string, unknown>, secret = LOCAL_JWT_SECRET) =>
  signHs256({ aud: 'authenticated', role: 'authenticated', exp: inAnHour(), ...claims }, secret);
const operatorToken = () =>
  userToken({ sub: '00000000-0000-4000-8000-00000000a0a0', email: 'ada@example.com', app_metadata: { provider: 'email', role: 'operator' } });
const plainToken = () => userToken({ sub: '00000000-0000-4000-8000-0000000000b1', email: 'bob@example.com', app_metadata: { provider: 'email' } });

describe('the MCP endpoint with a user access token', () => {
  it('as an operator: reads, resolves and cancels, and every action is recorded under the user', async () => {
    const { children } = await createFanOut(db.sql, 2, 'user token');
    const review = await failToReview(db.sql, children[0].id);
    const client = await sdkClient(fn.mcpUrl, await operatorToken());
    try {
      const task = await client.callTool({ name: 'get_task', arguments: { task_id: children[1].id } });
      expect(task.isError, textOf(task)).toBeFalsy();

      const reviews = await client.callTool({ name: 'list_reviews', arguments: {} });
      expect(reviews.isError, textOf(reviews)).toBeFalsy();
      expect(textOf(reviews)).toContain(review);

      const resolved = await client.callTool({ name: 'resolve_review', arguments: { review_id: review, action: 'retry' } });
      expect(resolved.isError, textOf(resolved)).toBeFalsy();
      const [row] = await db.sql`select resolved_by from taskweave.human_reviews where id = ${review}`;
      expect(row.resolved_by).toBe('ada@example.com');

      const cancelled = await client.callTool({ name: 'cancel_task', arguments: { task_id: children[1].id, note: 'not needed' } });
      expect(cancelled.isError, textOf(cancelled)).toBeFalsy();
      const [event] = await db.sql`select actor from taskweave.task_events where task_id = ${children[1].id} and to_status = 'cancelled'`;
      expect(event.actor).toBe('ada@example.com');
    } finally {
      await client.close();
    }
  });

  it('as a signed-in non-operator: sees no task, may resolve and cancel nothing; nothing changes', async () => {
    const { children } = await createFanOut(db.sql, 1, 'not an operator');
    const review = await failToReview(db.sql, children[0].id);
    const root = await createRoot(db.sql, 'still pending');
    const before = await countRows(db.sql);
    const client = await sdkClient(fn.mcpUrl, await plainToken());
    try {
      const task = await client.callTool({ name: 'get_task', arguments: { task_id: root.id } });
      expect(task.isError).toBe(true);
      expect(textOf(task)).toMatch(/No task with id/);
      const reviews = await client.callTool({ name: 'list_reviews', arguments: {} });
      expect(textOf(reviews)).not.toContain(review);
      const resolve = await client.callTool({ name: 'resolve_review', arguments: { review_id: review, action: 'abort' } });
      expect(resolve.isError).toBe(true);
      const cancel = await client.callTool({ name: 'cancel_task', arguments: { task_id: root.id } });
      expect(cancel.isError).toBe(true);
    } finally {
      await client.close();
    }
    expect(await countRows(db.sql)).toEqual(before);
    expect((await getTask(db.sql, root.id)).status).toBe('pending');
    expect((await getTask(db.sql, children[0].id)).status).toBe('needs_human_review');
  });

  it('without a token, or with one that is expired, forged, or not a user\'s: 401, nothing reached', async () => {
    const before = await countRows(db.sql);
    await expect(sdkClient(fn.mcpUrl, undefined)).rejects.toMatchObject({ code: 401 });
    const refused = [
      await userToken({ sub: '00000000-0000-4000-8000-00000000a0a0', app_metadata: { role: 'operator' }, exp: Math.floor(Date.now() / 1000) - 120 }),
      await userToken({ sub: '00000000-0000-4000-8000-00000000a0a0', app_metadata: { role: 'operator' } }, 'another-secret-of-at-least-thirty-two-characters'),
      await signHs256({ role: 'anon', exp: inAnHour() }, LOCAL_JWT_SECRET),
      await signHs256({ role: 'service_role', exp: inAnHour() }, LOCAL_JWT_SECRET),
    ];
    for (const token of refused) await expect(sdkClient(fn.mcpUrl, token)).rejects.toMatchObject({ code: 401 });
    expect(await countRows(db.sql)).toEqual(before);
  });
});

describe('the typed client and npm run task with a user token', () => {
  it('TaskweaveClient.connect({ accessToken }) acts as the user', async () => {
    const root = await createRoot(db.sql, 'typed client');
    const client = await TaskweaveClient.connect({ url: fn.mcpUrl, accessToken: await operatorToken() });
    try {
      await client.cancelTask(root.id, 'from the typed client');
    } finally {
      await client.close();
    }
    const [event] = await db.sql`select actor from taskweave.task_events where task_id = ${root.id} and to_status = 'cancelled'`;
    expect(event.actor).toBe('ada@example.com');
  });

  it('npm run task -- --token acts as the user; TASKWEAVE_ACCESS_TOKEN of a non-operator is refused by the database', async () => {
    const run = (args: string[], env: Record<string, string>) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'task.ts'), ...args], {
        cwd: repoRoot,
        env: { ...process.env, TASKWEAVE_MCP_URL: fn.mcpUrl, TASKWEAVE_MCP_KEY: 'not-the-key', NO_COLOR: '1', ...env },
        timeout: 60_000,
      }).then(
        () => 0,
        (e: { code: number }) => e.code,
      );
    const root = await createRoot(db.sql, 'npm run task');
    expect(await run(['--cancel', root.id], { TASKWEAVE_ACCESS_TOKEN: await plainToken() })).not.toBe(0);
    expect((await getTask(db.sql, root.id)).status).toBe('pending');
    expect(await run(['--token', await operatorToken(), '--cancel', root.id], {})).toBe(0);
    const [event] = await db.sql`select actor from taskweave.task_events where task_id = ${root.id} and to_status = 'cancelled'`;
    expect(event.actor).toBe('ada@example.com');
  });
});
