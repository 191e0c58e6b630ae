// The offline demo as a newcomer meets it: `npm run dev` on a new database, the seeded research brief
// fans out, its failing topic lands on /reviews, the operator writes its result in the browser, and the
// root task's page then shows the run's answer. Ctrl-C (SIGINT to the process group) ends the stack.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import postgres from 'postgres';
import { withDatabase } from '../../scripts/lib/local-config.ts';
import { freePort } from '../../scripts/lib/function-server.ts';
import { expect, reviewCard, saveScreenshot, test } from './support/fixtures.ts';

test('the offline demo through npm run dev: the failing topic is resolved in the browser and the run shows its answer', async ({ page }) => {
  test.setTimeout(300_000);
  const serverUrl = withDatabase(process.env.E2E_DATABASE_URL!, 'postgres');
  const dbName = `taskweave_e2e_dev_${crypto.randomBytes(4).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const databaseUrl = withDatabase(serverUrl, dbName);
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const [functionsPort, webPort] = [await freePort(), await freePort()];
  let child: ChildProcess | undefined;
  let output = '';
  try {
    child = spawn('npm', ['run', 'dev'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DATABASE_URL: databaseUrl, FUNCTIONS_PORT: String(functionsPort), WEB_PORT: String(webPort), LLM_PROVIDER: '', OPENAI_API_KEY: '', OPENAI_BASE_URL: '', ANTHROPIC_API_KEY: '', NO_COLOR: '1' },
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    await expect.poll(() => output, { timeout: 180_000, message: 'npm run dev prints its ready line' }).toContain('Taskweave is ready');
    const webUrl = `http://127.0.0.1:${webPort}`;

    // the seeded failure waits for an operator
    await expect
      .poll(async () => (await sql`select count(*)::int as n from taskweave.human_reviews where status = 'open'`)[0].n, { timeout: 90_000 })
      .toBe(1);
    const [failed] = await sql<{ id: string; root_task_id: string }[]>`
      select t.id, t.root_task_id from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id where r.status = 'open'`;

    await page.goto(`${webUrl}/reviews`);
    const card = reviewCard(page, failed.id);
    await expect(card).toContainText('Employee wellbeing and retention outcomes');
    await expect(card).toContainText('simulated failure requested by the task input');
    await saveScreenshot(page, 'demo-reviews');
    await card.getByRole('button', { name: 'Manual…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Write the output of “Employee wellbeing and retention outcomes”' });
    await dialog.getByLabel('Output').fill('Retention improved in every trial we read; sick days fell by a third.');
    await dialog.getByRole('button', { name: 'Save output' }).click();
    await expect(page.getByTestId('action-result')).toContainText('Saved your output for “Employee wellbeing and retention outcomes”');

    // the aggregator runs with all three results; the root's page leads with the answer
    await page.goto(`${webUrl}/tasks/${failed.root_task_id}`);
    await expect(page.getByTestId('fan-in-result')).toContainText('Summary of 3 results (3 completed)', { timeout: 60_000 });
    await expect(page.getByTestId('fan-in-result')).toContainText('written by a human operator');
    await expect(page.getByTestId('fan-in-result')).toContainText('Costs, customer coverage and operational risks');
    await saveScreenshot(page, 'demo-root');
  } finally {
    if (child?.pid && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      process.kill(-child.pid, 'SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    }
    await sql.end({ timeout: 2 });
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end({ timeout: 2 });
  }
  expect(output).toContain('web     │ stopped');
});
