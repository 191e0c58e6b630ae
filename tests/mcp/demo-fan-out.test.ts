// The demo tour driven from MCP clients: the real process-task and mcp functions under Deno (one port,
// as `npm run functions:serve`), the dispatcher, the offline `demo` model. A root fans out over three
// topics, one fails on purpose into review; the client waits, lists the review, resolves it by hand,
// waits again and reads the final output. Then cancel, and `npm run task` over the same endpoint.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDispatcher, type Dispatcher } from '../../scripts/lib/dispatcher.ts';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { TaskweaveClient, TaskweaveConnectionError, TaskweaveToolError } from '../../src/client/index.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { countRows, sdkClient, startFunctions, textOf, type Functions } from './support.ts';

const run = promisify(execFile);
const db = useTestDatabase();
let fn: Functions;
let dispatcher: Dispatcher;
let tw: TaskweaveClient;

beforeAll(async () => {
  fn = await startFunctions(db.url);
  dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: fn.url, secret: fn.secret, concurrency: 3, sweepIntervalMs: 300, log: () => {} });
  tw = await TaskweaveClient.connect({ url: fn.mcpUrl, secret: fn.secret, clientName: 'vitest-typed' });
});

afterAll(async () => {
  await tw?.close();
  await dispatcher?.stop();
  await fn?.stop();
});

const MANUAL = 'SQLite: one file, no server; fine for a desktop app. (written over MCP)';

describe('the demo fan-out over MCP', () => {
  it('create, wait, list the review, resolve it manually, wait, and read the final output', async () => {
    const created = await tw.createTask({
      title: 'Compare embedded databases',
      instructions: 'Compare three databases for a desktop app.',
      input: { topics: ['Postgres', 'SQLite [simulate-failure]', 'DuckDB'] },
      limits: { max_tasks: 20, max_tokens: 1_000_000, deadline_seconds: 600 },
    });
    expect(created.task_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.url).toBe(`http://127.0.0.1:3999/tasks/${created.task_id}`);
    expect(created.run?.limits.max_tasks).toBe(20);
    expect(created.run?.limits.max_tokens).toBe(1_000_000);
    expect(created.run?.limits.deadline_at).not.toBeNull();

    // the fan-out runs; the SQLite topic fails for good and waits for an operator
    const blocked = await waitUntil(created.task_id, (r) => r.reason !== 'timed_out' && r.reason !== 'changed');
    expect(blocked.reason).toBe('needs_operator');
    expect(blocked.task.state).toBe('needs_operator');
    expect(blocked.task.open_reviews).toHaveLength(1);
    expect(blocked.task.open_reviews[0].task_title).toBe('SQLite');
    const aggregator = blocked.task.children.find((c) => c.kind === 'aggregator')!;
    expect(aggregator.status).toBe('queued');
    expect(aggregator.progress).toMatchObject({ total: 3, ended: 2, completed: 2 });
    expect(blocked.task.children.filter((c) => c.kind === 'parallel').map((c) => [c.title, c.status])).toEqual([
      ['Postgres', 'completed'],
      ['SQLite', 'needs_human_review'],
      ['DuckDB', 'completed'],
    ]);

    // a task below the root is read the same way: its own subtree, its run's usage
    const sqlite = await tw.getTask(blocked.task.children.find((c) => c.title === 'SQLite')!.id);
    expect(sqlite).toMatchObject({ kind: 'parallel', status: 'needs_human_review', state: 'needs_operator', parent_task_id: created.task_id, root_task_id: created.task_id, children: [] });
    expect(sqlite.last_error).toMatchObject({ category: 'model' });
    expect(sqlite.open_reviews).toHaveLength(1);
    expect(sqlite.run?.root_task_id).toBe(created.task_id);
    const agg = await tw.getTask(aggregator.id);
    expect(agg).toMatchObject({ kind: 'aggregator', status: 'queued', progress: { total: 3, ended: 2, completed: 2, activated_by: null } });

    // an outside agent sees the review with its error and the aggregator that waits on it
    const page = await tw.listReviews({ root_task_id: created.task_id });
    expect(page.total).toBe(1);
    expect(page.next_cursor).toBeNull();
    const [review] = page.reviews;
    expect(review.review_id).toBe(blocked.task.open_reviews[0].review_id);
    expect(review.task.title).toBe('SQLite');
    expect(review.error).toMatchObject({ category: 'model' });
    expect(review.aggregators).toEqual([expect.objectContaining({ id: aggregator.id, total: 3, ended: 2, completed: 2, status: 'queued' })]);

    const resolved = await tw.resolveReview({ review_id: review.review_id, action: 'manual', manual_output: MANUAL, note: 'resolved by the MCP test' });
    expect(resolved.task).toMatchObject({ title: 'SQLite', status: 'completed' });
    expect(resolved.message).toMatch(/^Saved your output for “SQLite”: it is completed\. Its aggregator “.+” has all 3 results and is now (pending|running)\.$/);

    // a second resolution is refused with the web app's words, naming who resolved it
    const again = await tw.resolveReview({ review_id: review.review_id, action: 'retry' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(TaskweaveToolError);
    expect((again as Error).message).toMatch(/^Nothing changed: “SQLite” was already resolved by .+ at \d\d:\d\d UTC \(given a manual output\)\./);

    const done = await waitUntil(created.task_id, (r) => r.reason === 'ended');
    expect(done.task.state).toBe('completed');
    expect(done.task.answer?.task_id).toBe(aggregator.id);
    const text = (done.task.answer?.output as { text: string }).text;
    expect(text).toContain('Summary of 3 results (3 completed):');
    expect(text).toContain(`- SQLite (written by a human operator): ${MANUAL}`);
    expect(done.task.open_reviews).toEqual([]);
    expect(done.task.run?.task_count).toBe(5);
    const [{ n }] = await db.sql`select count(*)::int as n from taskweave.tasks where root_task_id = ${created.task_id} and status = 'completed'`;
    expect(n).toBe(5);
    expect((await tw.listReviews({ root_task_id: created.task_id })).total).toBe(0);
  });

  it('wait_for_task holds while nothing changes and is woken by NOTIFY, not by its timeout', async () => {
    await dispatcher.stop();
    try {
      const root = await tw.createTask({ title: 'One quick topic', instructions: 'Research it.', input: { topics: ['Redis'] } });
      const view = await tw.getTask(root.task_id);
      expect(view.state).toBe('running'); // pending, nobody runs it yet
      let t0 = Date.now();
      const idle = await tw.waitForTask({ task_id: root.task_id, timeout_seconds: 2, changed_since: view.version });
      expect(idle).toMatchObject({ reason: 'timed_out', timed_out: true });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);
      expect(idle.task.version).toBe(view.version);

      // the worker claims the root 300 ms into a 40 s wait: the wait returns at that change (the
      // safety re-read is every 5 s, so under 3 s means the notification woke it)
      t0 = Date.now();
      const waiting = tw.waitForTask({ task_id: root.task_id, timeout_seconds: 40, changed_since: view.version });
      // many waiters on one run share the function's one LISTEN connection: every one of them is woken
      const crowd = Array.from({ length: 12 }, () => tw.waitForTask({ task_id: root.task_id, timeout_seconds: 40, changed_since: view.version }));
      await new Promise((r) => setTimeout(r, 300));
      await db.sql`select id from taskweave.claim_task(${root.task_id}, 'test-worker', 60)`;
      const changed = await waiting;
      expect(changed.reason).toBe('changed');
      expect((await Promise.all(crowd)).map((r) => r.reason)).toEqual(Array(12).fill('changed'));
      expect(changed.task.status).toBe('running');
      expect(Date.now() - t0).toBeLessThan(3_000);
      await tw.cancelTask(root.task_id, 'test cleanup');
    } finally {
      dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: fn.url, secret: fn.secret, concurrency: 3, sweepIntervalMs: 300, log: () => {} });
    }
  });

  it('wait_for_task holds a task_changed lease while it waits, and returns as soon as the task ends', async () => {
    await dispatcher.stop();
    try {
      const root = await tw.createTask({ title: 'Ends while watched', instructions: 'Research it.', input: { topics: ['Redis'] } });
      await db.sql`select id from taskweave.claim_task(${root.task_id}, 'test-worker', 60)`;
      const waiting = tw.waitForTask({ task_id: root.task_id, timeout_seconds: 40 });
      // the function asks Postgres for task_changed while a wait listens (and for a few seconds after)
      await expect
        .poll(async () => (await db.sql`select watcher from taskweave_private.change_watchers where expires_at > now()`).map((r) => r.watcher as string))
        .toEqual([expect.stringMatching(/^mcp:/)]);
      await new Promise((r) => setTimeout(r, 300));
      const endedAt = Date.now();
      await db.sql`select id from taskweave.complete_task(${root.task_id}, 'test-worker', '{"text":"done by hand"}'::jsonb)`;
      const ended = await waiting;
      expect(ended).toMatchObject({ reason: 'ended', timed_out: false, task: { status: 'completed', state: 'completed' } });
      // the safety re-read is every 5 s: under 3 s after the change means the notification woke it
      expect(Date.now() - endedAt).toBeLessThan(3_000);
    } finally {
      dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: fn.url, secret: fn.secret, concurrency: 3, sweepIntervalMs: 300, log: () => {} });
    }
  });

  it('pages through reviews with a cursor', async () => {
    const a = await tw.createTask({ title: 'Two failures', instructions: 'Compare.', input: { topics: ['A [simulate-failure]', 'B [simulate-failure]'] } });
    await waitUntil(a.task_id, (r) => r.reason === 'needs_operator');
    const first = await tw.listReviews({ root_task_id: a.task_id, limit: 1 });
    expect(first.total).toBe(2);
    expect(first.reviews).toHaveLength(1);
    expect(first.next_cursor).not.toBeNull();
    const second = await tw.listReviews({ root_task_id: a.task_id, limit: 1, cursor: first.next_cursor! });
    expect(second.reviews).toHaveLength(1);
    expect(second.next_cursor).toBeNull();
    expect(new Set([first.reviews[0].task.title, second.reviews[0].task.title])).toEqual(new Set(['A', 'B']));
    // leave nothing open for the next test
    await tw.cancelTask(a.task_id, 'test cleanup');
  });
});

describe('cancel over MCP', () => {
  it('cancels a run that waits for an operator: its tasks, its open review, and says how many it stopped', async () => {
    const root = await tw.createTask({ title: 'To be cancelled', instructions: 'Compare.', input: { topics: ['X', 'Y [simulate-failure]'] } });
    const blocked = await waitUntil(root.task_id, (r) => r.reason === 'needs_operator');
    const openUnder = blocked.task.children.filter((c) => !['completed', 'failed', 'cancelled'].includes(c.status)).length;
    expect(openUnder).toBe(2); // Y in review, the aggregator queued

    const cancelled = await tw.cancelTask(root.task_id, 'no longer needed');
    expect(cancelled.stopped).toBe(2);
    expect(cancelled.message).toContain('2 tasks stopped');

    const after = await tw.getTask(root.task_id);
    expect(after.state).toBe('cancelled');
    expect(after.open_reviews).toEqual([]);
    expect(after.children.map((c) => c.status).sort()).toEqual(['cancelled', 'cancelled', 'completed']);
    expect((await tw.listReviews({ root_task_id: root.task_id })).total).toBe(0);

    const twice = await tw.cancelTask(root.task_id);
    expect(twice.stopped).toBe(0);
    expect(twice.message).toMatch(/^Nothing to stop/);
  });

  it('cancels a root before it ran (dispatcher or not, it never starts)', async () => {
    await dispatcher.stop();
    try {
      const root = await tw.createTask({ title: 'Never runs', instructions: 'Nothing.' });
      const result = await tw.cancelTask(root.task_id);
      expect(result).toMatchObject({ task_id: root.task_id, status: 'cancelled', stopped: 1 });
      const waited = await tw.waitForTask({ task_id: root.task_id, timeout_seconds: 5 });
      expect(waited).toMatchObject({ reason: 'ended', timed_out: false, task: { state: 'cancelled', status: 'cancelled' } });
    } finally {
      dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: fn.url, secret: fn.secret, concurrency: 3, sweepIntervalMs: 300, log: () => {} });
    }
  });
});

describe('the raw SDK client', () => {
  it('reads structuredContent and a text fallback from every tool', async () => {
    const client = await sdkClient(fn.mcpUrl, fn.secret, 'vitest-raw');
    try {
      const created = await client.callTool({ name: 'create_task', arguments: { title: 'Raw client', instructions: 'Say hi.' } });
      expect(created.isError).toBeFalsy();
      const id = (created.structuredContent as { task_id: string }).task_id;
      expect(textOf(created)).toContain(id);
      const got = await client.callTool({ name: 'get_task', arguments: { task_id: id } });
      expect((got.structuredContent as { id: string }).id).toBe(id);
      const waited = await client.callTool({ name: 'wait_for_task', arguments: { task_id: id, timeout_seconds: 30 } });
      expect((waited.structuredContent as { reason: string }).reason).toBe('ended');
    } finally {
      await client.close();
    }
  });
});

describe('npm run task over the endpoint', () => {
  const task = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'task.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, TASKWEAVE_MCP_URL: fn.mcpUrl, TASKWEAVE_MCP_KEY: fn.secret, DATABASE_URL: 'postgresql://nobody:wrong@127.0.0.1:1/none', NO_COLOR: '1', ...env },
      timeout: 90_000,
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('submits with limits, follows the fan-out with per-run usage, and stops at the review (exit 3)', async () => {
    const out = await task(['--topics', 'Obsidian,Notion [simulate-failure],Logseq', '--max-tasks', '12', '--max-tokens', '500000', '--deadline', '15m', 'Compare note-taking apps']);
    expect(out.code, out.stderr).toBe(3);
    const id = /created root task ([0-9a-f-]{36})/.exec(out.stdout)![1];
    expect(out.stdout).toContain(`http://127.0.0.1:3999/tasks/${id}`);
    expect(out.stdout).toMatch(/⚠ Notion {2}needs_human_review/);
    expect(out.stdout).toMatch(/dependencies done/);
    expect(out.stdout).toMatch(/^run: [\d,]+ in \/ [\d,]+ out tokens, \d+ model steps · \d+\/12 tasks, [\d,]+\/500,000 tokens, deadline in 1[45] min$/m);
    expect(out.stdout).toContain('waiting for an operator');
    const [run] = await db.sql`select max_tasks, max_tokens::int as max_tokens from taskweave.runs where root_task_id = ${id}`;
    expect(run).toEqual({ max_tasks: 12, max_tokens: 500_000 });

    const cancelled = await task(['--cancel', id, '--note', 'from the terminal']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toMatch(/Cancelled “.+”: 2 tasks stopped/);
    const followed = await task(['--follow', id, '--timeout', '20']);
    expect(followed.code).toBe(1);
    expect(followed.stdout).toContain('✗ the run ended');
  }, 120_000);

  it('completes a run and prints the final output (exit 0)', async () => {
    const out = await task(['--topics', 'Vim,Emacs', 'Compare editors']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('✔ done. Final output');
    expect(out.stdout).toContain('Summary of 2 results (2 completed):');
  }, 120_000);

  it('refuses bad usage (exit 2), a wrong key (exit 5), and a missing endpoint (exit 5), creating nothing', async () => {
    const before = await countRows(db.sql);
    const bad = await task(['--max-tasks', '0', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-tasks takes a whole number of at least 1');
    const deadline = await task(['--deadline', 'soon', 'x']);
    expect(deadline.code).toBe(2);
    const key = await task(['hello'], { TASKWEAVE_MCP_KEY: 'wrong' });
    expect(key.code).toBe(5);
    expect(key.stderr).toContain('refused the key (401)');
    const nowhere = await task(['hello'], { TASKWEAVE_MCP_URL: 'http://127.0.0.1:1/functions/v1/mcp' });
    expect(nowhere.code).toBe(5);
    expect(nowhere.stderr).toContain('no MCP endpoint answers at http://127.0.0.1:1/functions/v1/mcp');
    expect(nowhere.stderr).toContain('npm run dev');
    expect(await countRows(db.sql)).toEqual(before);
  }, 120_000);

  it('still works straight against a database with --database-url (no endpoint)', async () => {
    const out = await task(['--database-url', db.url, '--topics', 'Tea,Coffee', 'Compare drinks'], { TASKWEAVE_MCP_URL: 'http://127.0.0.1:1/functions/v1/mcp' });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('Summary of 2 results (2 completed):');
  }, 120_000);

  it('the typed client reports an unreachable endpoint as such', async () => {
    await expect(TaskweaveClient.connect({ url: 'http://127.0.0.1:1/functions/v1/mcp', secret: 'x' })).rejects.toBeInstanceOf(TaskweaveConnectionError);
  });
});

/** wait_for_task until the predicate holds, following changes (each call at most `seconds`). */
async function waitUntil(taskId: string, done: (r: Awaited<ReturnType<TaskweaveClient['waitForTask']>>) => boolean, seconds = 20) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await tw.waitForTask({ task_id: taskId, timeout_seconds: seconds });
    if (done(result)) return result;
    if (Date.now() > deadline) throw new Error(`gave up waiting on ${taskId}: last ${result.reason} ${result.task.state}`);
  }
}
