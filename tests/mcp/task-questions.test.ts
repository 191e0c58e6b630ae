// npm run task while a run waits on a question or an approval: it prints what is asked and resolves the
// person's decisions over the real MCP endpoint (under Deno), here given with --respond as a script would.
// No dispatcher runs, so what a decision resumed stays pending and the follow ends at its --timeout.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { claim, complete, createFanOut, getTask } from '../helpers/tasks.ts';
import { waitForPerson } from '../sql/support/waiting-reviews.ts';
import { startFunctions, type Functions } from './support.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');
const db = useTestDatabase();
let fn: Functions;

beforeAll(async () => {
  fn = await startFunctions(db.url);
});

afterAll(async () => {
  await fn?.stop();
});

const task = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'task.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, TASKWEAVE_MCP_URL: fn.mcpUrl, TASKWEAVE_MCP_KEY: fn.secret, NO_COLOR: '1' },
    timeout: 90_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

async function runWaitingOnPeople() {
  const { root, children } = await createFanOut(db.sql, 3, 'asks people');
  await claim(db.sql, root.id, 'w-root');
  await complete(db.sql, root.id, 'w-root', { planned: true });
  const approval = await waitForPerson(db.sql, children[0].id, 'approval', { tool_call_id: 'c1', tool: 'send_email', arguments: { to: 'a@example.com' }, reason: 'to tell the customer' });
  const question = await waitForPerson(db.sql, children[1].id, 'question', { tool_call_id: 'q1', question: 'Which region should we use?', options: ['eu', 'us'] });
  const second = await waitForPerson(db.sql, children[2].id, 'approval', { tool_call_id: 'c2', tool: 'delete_rows', arguments: { table: 'users' } });
  return { root, children, ids: { approval, question, second } };
}

const decisions = async (ids: string[]) =>
  db.sql<{ id: string; action: string | null; manual_output: unknown; note: string | null }[]>`
    select id, action, manual_output, note from taskweave.human_reviews where id = any (${ids}::uuid[])`;

describe('npm run task and the people a run waits on', () => {
  it('prints each question and approval and resolves the decisions given: edited approval, an option, a rejection with its reason', async () => {
    const { root, children, ids } = await runWaitingOnPeople();
    const out = await task(['--follow', root.id, '--timeout', '3', '--respond', 'approve:{"to": "b@example.com"}', '--respond', '2', '--respond', 'reject:never delete users']);
    expect(out.stdout).toContain('? “asks people part 1” wants to call send_email — to tell the customer');
    expect(out.stdout).toContain('    arguments: {"to":"a@example.com"}');
    expect(out.stdout).toContain('? “asks people part 2” asks: Which region should we use?');
    expect(out.stdout).toContain('    2. us');
    expect(out.stdout).toContain('Approved the call of “asks people part 1”');
    expect(out.stdout).toContain('Answered “asks people part 2”');
    expect(out.stdout).toContain('Rejected the call of “asks people part 3”');
    // resumed, and nothing runs them here: the follow ends at its timeout
    expect(out.code, out.stderr).toBe(4);
    const rows = new Map((await decisions(Object.values(ids))).map((r) => [r.id, r]));
    expect(rows.get(ids.approval)).toMatchObject({ action: 'approve', manual_output: { arguments: { to: 'b@example.com' } } });
    expect(rows.get(ids.question)).toMatchObject({ action: 'answer', manual_output: { answer: 'us' } });
    expect(rows.get(ids.second)).toMatchObject({ action: 'reject', note: 'never delete users' });
    for (const c of children) expect((await getTask(db.sql, c.id)).status).toBe('pending');
  }, 120_000);

  it('skips what it is told to, and without anyone to ask shows the questions and stops like at any review (exit 3)', async () => {
    const { root, ids } = await runWaitingOnPeople();
    const skipped = await task(['--follow', root.id, '--timeout', '3', '--no-ask', '--respond', 'skip']);
    expect(skipped.code, skipped.stderr).toBe(3);
    // all three are shown, none decided
    expect(skipped.stdout).toContain('wants to call send_email');
    expect(skipped.stdout).toContain('asks: Which region should we use?');
    expect(skipped.stdout).toContain('wants to call delete_rows');
    expect(skipped.stdout).toContain('waiting for an operator');
    expect((await decisions(Object.values(ids))).map((r) => r.action)).toEqual([null, null, null]);
    // a decision that does not fit is refused before anything is sent
    const wrong = await task(['--follow', root.id, '--timeout', '3', '--no-ask', '--respond', 'answer:yes']);
    expect(wrong.code).toBe(3);
    expect(wrong.stdout).toContain('an approval takes approve');
    expect((await decisions([ids.approval]))[0].action).toBeNull();
  }, 120_000);
});
