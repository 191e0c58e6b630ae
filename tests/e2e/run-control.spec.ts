// Run control in the browser: Cancel with its confirmation, a run's usage against its limits, a budget
// stop in the review queue, and a task waiting on its model's rate limit.
import { expect, reviewCard, saveScreenshot, seedFanOut, taskStatus, test } from './support/fixtures.ts';

test('Cancel says how many tasks it stops, asks first, then the run shows cancelled', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E cancel fan-out', complete: [0], fail: [1] });
  await page.goto(`${localUrl}/tasks/${fanOut.rootId}`);
  await page.getByRole('button', { name: 'Cancel…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Cancel “E2E cancel fan-out”?' });
  await expect(dialog).toBeVisible();
  // the root, the task waiting for review, the pending one and the queued aggregator; not the completed one
  await expect(dialog.getByTestId('cancel-count')).toHaveText('This stops 4 tasks: this one and 3 tasks under it that have not ended.');
  await saveScreenshot(page, 'cancel-dialog');

  // changing one's mind changes nothing
  await dialog.getByRole('button', { name: 'Keep running' }).click();
  await expect(dialog).toBeHidden();
  expect(await taskStatus(sql, fanOut.rootId)).toBe('pending');

  await page.getByRole('button', { name: 'Cancel…' }).click();
  await dialog.getByLabel('Why (optional, kept in the history)').fill('the brief was wrong');
  await dialog.getByRole('button', { name: 'Stop 4 tasks' }).click();
  await expect(page.getByTestId('cancel-result')).toHaveText('Cancelled “E2E cancel fan-out”: 4 tasks stopped, this one and 3 tasks under it.');
  await expect(page.locator('header [data-status="cancelled"]')).toBeVisible();
  // an ended task offers no Cancel
  await expect(page.getByRole('button', { name: 'Cancel…' })).toHaveCount(0);
  await expect(page.getByTestId('fan-out-progress')).toContainText('3 of 3 fanned-out tasks ended');
  await saveScreenshot(page, 'cancelled-run');

  for (const id of [fanOut.rootId, fanOut.childIds[1], fanOut.childIds[2], fanOut.aggregatorId]) expect(await taskStatus(sql, id)).toBe('cancelled');
  expect(await taskStatus(sql, fanOut.childIds[0])).toBe('completed');
  // the review the cancel resolved has left the queue
  await page.goto(`${localUrl}/reviews`);
  await expect(reviewCard(page, fanOut.failed[0].taskId)).toHaveCount(0);
});

test('a budget stop is shown as such, with the run’s usage against its limits, on the reviews page, the task page and the overview', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E budget run', complete: [], fail: [], limits: { max_tokens: 1000, max_tasks: 10 } });
  const stopped = fanOut.childIds[0];
  // one model step that used more than the run allows, then the worker's budget failure
  await sql`select taskweave.claim_task(${stopped}, 'e2e-worker', 300)`;
  await sql`
    select taskweave.append_task_message(${stopped}, 'e2e-worker', 'assistant', ${sql.json([{ type: 'text', text: 'Searching…' }])},
      ${sql.json({ input_tokens: 1200, output_tokens: 300 })})`;
  await sql`
    select taskweave.fail_task(${stopped}, 'e2e-worker',
      ${sql.json({ category: 'budget', message: 'Run limit reached: max_tokens 1,000 (1,500 used).' })}, false)`;

  await page.goto(`${localUrl}/reviews`);
  const card = reviewCard(page, stopped);
  await expect(card.getByText('budget stop', { exact: true })).toBeVisible();
  const budget = card.getByTestId('budget-stop');
  await expect(budget).toContainText("Budget stop: this task's run reached one of its limits");
  await expect(budget.getByTestId('run-tokens')).toContainText('1,500 of 1,000 tokens');
  await expect(budget.getByTestId('run-tasks')).toContainText('5 of 10 tasks');
  await expect(budget.getByTestId('run-usage')).toHaveAttribute('data-limits-reached', 'tokens');
  await saveScreenshot(page, 'budget-stop');

  await page.goto(`${localUrl}/tasks/${stopped}`);
  await expect(page.getByTestId('task-usage')).toHaveText('1,500 tokens (1,200 in, 300 out) over 1 model step');
  await expect(page.getByTestId('run-tokens')).toContainText('1,500 of 1,000 tokens');

  await page.goto(`${localUrl}/`);
  const run = page.locator(`[data-run-id="${fanOut.rootId}"]`);
  await expect(run.getByTestId('run-tokens')).toContainText('1,500 of 1,000 tokens');
  await expect(run.getByTestId('run-tasks')).toContainText('5 of 10 tasks');
});

test('a task waiting on its model\'s rate limit says so', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E rate-limited run', complete: [], fail: [] });
  const model = `e2e-model-${Date.now()}`;
  await sql`select taskweave.set_model_limits(${model}, 1)`;
  const [first, second] = fanOut.childIds;
  await sql`select taskweave.claim_task(${first}, 'w1', 300)`;
  await sql`select taskweave.claim_task(${second}, 'w2', 300)`;
  await sql`select taskweave.begin_model_step(${first}, 'w1', ${model})`;
  const [{ step }] = await sql<{ step: { wait_ms: number } }[]>`select taskweave.begin_model_step(${second}, 'w2', ${model}) as step`;
  expect(step.wait_ms).toBeGreaterThan(0);

  await page.goto(`${localUrl}/tasks/${second}`);
  await expect(page.getByTestId('model-wait')).toContainText('Waiting on the model\'s rate limit until');
  await page.goto(`${localUrl}/tasks/${first}`);
  await expect(page.getByTestId('model-wait')).toHaveCount(0);
});
