// An operator (local operator mode) resolves failed parallel tasks through the reviews page.
import { expect, reviewCard, saveScreenshot, seedFanOut, taskStatus, test, waitForLive } from './support/fixtures.ts';

test('Retry puts the failed task back to pending', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E retry fan-out', complete: [0], fail: [1] });
  await page.goto(`${localUrl}/reviews`);
  const card = reviewCard(page, fanOut.failed[0].taskId);
  await expect(card).toBeVisible();
  await expect(card.getByText('parallel task')).toBeVisible();
  await expect(card.getByText('The model returned 429 Too Many Requests three times in a row.')).toBeVisible();
  await expect(card.getByText('1 of 3 dependencies done, waiting on this one and 1 other')).toBeVisible();
  await expect(card.getByRole('link', { name: 'E2E retry fan-out' })).toBeVisible();
  await saveScreenshot(page, 'reviews');

  await card.getByRole('button', { name: 'Retry' }).click();
  await expect(page.getByTestId('action-result')).toHaveText(
    'Retried “Research vendor 2”: it is pending again and a worker will pick it up. Its aggregator “Combine the vendor research” still waits for 2 tasks.',
  );
  await expect(card).toHaveCount(0);
  expect(await taskStatus(sql, fanOut.failed[0].taskId)).toBe('pending');
});

test('Abort asks first, then activates the aggregator with partial results', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E abort fan-out', complete: [0, 2], fail: [1] });
  await page.goto(`${localUrl}/reviews`);
  const card = reviewCard(page, fanOut.failed[0].taskId);
  await card.getByRole('button', { name: 'Abort…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Abort “Research vendor 2”?' });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('“Combine the vendor research” then starts with partial results: 2 of 3 completed, this one missing.');
  // changing one's mind changes nothing
  await dialog.getByRole('button', { name: 'Keep it' }).click();
  await expect(dialog).toBeHidden();
  expect(await taskStatus(sql, fanOut.failed[0].taskId)).toBe('needs_human_review');

  await card.getByRole('button', { name: 'Abort…' }).click();
  await dialog.getByLabel('Note (optional)').fill('vendor 2 is out of scope');
  await dialog.getByRole('button', { name: 'Abort task' }).click();
  await expect(page.getByTestId('action-result')).toContainText(
    'Aborted “Research vendor 2”: it is cancelled. Its aggregator “Combine the vendor research” is now pending with partial results (2 of 3 completed).',
  );
  expect(await taskStatus(sql, fanOut.aggregatorId)).toBe('pending');

  await page.goto(`${localUrl}/tasks/${fanOut.aggregatorId}`);
  await expect(page.getByTestId('task-title')).toHaveText('Combine the vendor research');
  await expect(page.locator('header [data-status="pending"]')).toBeVisible();
});

test('Manual output through the dialog: invalid JSON is caught, then the aggregator is activated', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E manual fan-out', complete: [0, 2], fail: [1] });
  await page.goto(`${localUrl}/reviews`);
  const card = reviewCard(page, fanOut.failed[0].taskId);
  await card.getByRole('button', { name: 'Manual…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Write the output of “Research vendor 2”' });
  await dialog.getByLabel('JSON').check();
  await dialog.getByLabel('Output').fill('{"vendor": 2, "price": ');
  await dialog.getByRole('button', { name: 'Save output' }).click();
  await expect(dialog.getByTestId('manual-error')).toContainText('This is not valid JSON');
  expect(await taskStatus(sql, fanOut.failed[0].taskId)).toBe('needs_human_review');

  await dialog.getByLabel('Output').fill('{"vendor": 2, "price": "$12/month"}');
  await dialog.getByRole('button', { name: 'Save output' }).click();
  await expect(page.getByTestId('action-result')).toContainText(
    'Saved your output for “Research vendor 2”: it is completed. Its aggregator “Combine the vendor research” has all 3 results and is now pending.',
  );

  // the task page shows the output as written by an operator, and the fan-out with the aggregator activated
  await page.goto(`${localUrl}/tasks/${fanOut.failed[0].taskId}`);
  await expect(page.getByTestId('task-output')).toContainText('written by an operator');
  await expect(page.getByTestId('task-output')).toContainText('"price": "$12/month"');
  const diagram = page.getByTestId('fan-out');
  await expect(diagram.locator(`[data-node-id="${fanOut.aggregatorId}"]`)).toHaveAttribute('data-node-status', 'pending');
  await expect(diagram.locator(`[data-node-id="${fanOut.failed[0].taskId}"]`)).toHaveAttribute('data-node-status', 'completed');
  await expect(page.getByTestId('fan-out-progress')).toHaveText('3 of 3 fanned-out tasks ended; aggregator “Combine the vendor research” is pending.');
  await expect(page.getByTestId('timeline')).toContainText('needs_human_review → completed');
  await saveScreenshot(page, 'task');

  await page.goto(`${localUrl}/tasks/${fanOut.aggregatorId}`);
  await expect(page.locator('header [data-status="pending"]')).toBeVisible();
});

test('a double click resolves once and the page says so once', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E double click' });
  await page.goto(`${localUrl}/reviews`);
  await waitForLive(page);
  const retry = reviewCard(page, fanOut.failed[0].taskId).getByRole('button', { name: 'Retry' });
  await retry.dblclick();
  await expect(page.getByTestId('action-result')).toHaveAttribute('data-result', 'success');
  const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from taskweave.task_events where task_id = ${fanOut.failed[0].taskId} and to_status = 'pending' and from_status = 'needs_human_review'`;
  expect(n).toBe(1);
});

test('acting on a stale page shows who resolved the review first', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E stale view' });
  // no live feed for this page: it keeps showing the review after another operator resolved it
  await page.route('**/api/live', (route) => route.abort());
  await page.goto(`${localUrl}/reviews`);
  const card = reviewCard(page, fanOut.failed[0].taskId);
  await expect(card).toBeVisible();

  await sql.begin(async (tx) => {
    const grace = { sub: '00000000-0000-4000-8000-00000000a0a1', email: 'grace@example.com', role: 'authenticated', app_metadata: { role: 'operator' } };
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(grace)}, true), set_config('role', 'authenticated', true)`;
    await tx`select taskweave.resolve_review(${fanOut.failed[0].reviewId}, 'manual', ${tx.json('done by hand')}, null)`;
  });

  await card.getByRole('button', { name: 'Retry' }).click();
  await expect(page.getByTestId('action-result')).toHaveText(
    /^Nothing changed: “Research vendor 2” was already resolved by grace@example\.com at \d\d:\d\d UTC \(given a manual output\)\.$/,
  );
  await expect(page.getByTestId('action-result')).toHaveAttribute('data-result', 'error');
  // and the queue shows the truth now
  await expect(card).toHaveCount(0);
  expect(await taskStatus(sql, fanOut.failed[0].taskId)).toBe('completed');
});

test('the overview and the resolved list show who decided what', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E overview fan-out', children: 4, complete: [0], fail: [1, 2] });
  await sql.begin(async (tx) => {
    const local = { sub: '10ca1000-0000-4000-8000-000000000001', email: 'local-operator@localhost', role: 'authenticated', app_metadata: { role: 'operator' } };
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(local)}, true), set_config('role', 'authenticated', true)`;
    await tx`select taskweave.resolve_review(${fanOut.failed[1].reviewId}, 'manual', ${tx.json({ summary: 'Vendor 3 checked by hand' })}, 'their API was down')`;
  });
  await page.goto(`${localUrl}/`);
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('open-reviews-card')).toContainText('Open reviews');
  await expect(page.getByRole('link', { name: 'E2E overview fan-out' })).toBeVisible();
  await saveScreenshot(page, 'overview');

  await page.goto(`${localUrl}/reviews?tab=resolved`);
  const rows = page.locator('tbody tr');
  await expect(rows.first()).toBeVisible();
  await expect(page.locator('tbody')).toContainText('local-operator@localhost');
  await expect(page.locator('tbody')).toContainText('Manual output');
  await saveScreenshot(page, 'reviews-resolved');
});
