// An operator (local operator mode) works the reviews page at scale and for every kind of review: filters
// in the URL, Select all that match with a bulk Retry, an approval with edited arguments, an answer to a
// question, a run's state where the person looks first, and a cursor nobody gave out.
import { seedAgentsAndTools, seedToolCall } from '../web/fixtures/agents.ts';
import { pauseTask, seedPausedTask } from '../web/fixtures/reviews.ts';
import { expect, reviewCard, saveScreenshot, seedFanOut, taskStatus, test } from './support/fixtures.ts';

const emailArgs = { to: 'cfo@example.com', subject: 'Vendor shortlist', body: 'See attached.' };

test('filter, select all that match and bulk Retry, after asking first', async ({ page, sql, localUrl }) => {
  const outage = await seedFanOut(sql, {
    title: 'E2E outage run',
    children: 23,
    complete: [],
    fail: Array.from({ length: 23 }, (_, i) => i),
    error: { category: 'tool', message: 'E2E search outage: HTTP 503' },
  });
  const other = await seedFanOut(sql, { title: 'E2E other run', children: 1, complete: [], fail: [0], error: { category: 'model', message: 'E2E context too long' } });

  await page.goto(`${localUrl}/reviews`);
  const filters = page.getByTestId('review-filters');
  await filters.getByLabel('Kind').selectOption('failure');
  await filters.getByLabel('Error category').fill('tool');
  await filters.getByLabel('Text in the error or question').fill('e2e search outage');
  await filters.getByRole('button', { name: 'Apply filters' }).click();
  await expect(page).toHaveURL(/kind=failure/);
  await expect(page).toHaveURL(/category=tool/);
  await expect(page).toHaveURL(/q=e2e\+search\+outage/);
  await expect(page.getByTestId('open-count')).toContainText('23 open reviews match (kind failure, category tool, text “e2e search outage”)');
  await expect(page.locator('article[data-review-id]')).toHaveCount(20);
  await expect(reviewCard(page, other.failed[0].taskId)).toHaveCount(0);
  // the filters survive a reload: they live in the URL
  await page.reload();
  await expect(page.getByTestId('open-count')).toContainText('23 open reviews match');
  await expect(page.getByTestId('review-filters').getByLabel('Kind')).toHaveValue('failure');

  const bulk = page.getByTestId('bulk-actions');
  await bulk.getByLabel('Select all 23 reviews that match').check();
  await bulk.getByRole('button', { name: 'Retry all' }).click();
  const confirm = page.getByRole('dialog', { name: 'Retry 23 reviews that match?' });
  await expect(confirm).toBeVisible();
  expect(await taskStatus(sql, outage.failed[0].taskId)).toBe('needs_human_review');
  await saveScreenshot(page, 'reviews-bulk-confirm');
  await confirm.getByRole('button', { name: 'Retry 23 reviews' }).click();
  await expect(page.getByTestId('bulk-result')).toHaveText('Retried 23 reviews.');

  const statuses = await sql<{ status: string; n: number }[]>`
    select status::text, count(*)::int as n from taskweave.tasks where id = any (${outage.failed.map((f) => f.taskId)}::uuid[]) group by status`;
  expect(statuses).toEqual([{ status: 'pending', n: 23 }]);
  expect(await taskStatus(sql, other.failed[0].taskId)).toBe('needs_human_review');
  await expect(page.getByTestId('open-count')).toContainText('0 open reviews match');
});

test('approve with edited arguments: the schema is checked first, then the run goes on', async ({ page, sql, localUrl }) => {
  await seedAgentsAndTools(sql);
  const paused = await seedPausedTask(sql, { kind: 'approval', tool: 'send-email', arguments: emailArgs, reason: 'The user asked for the shortlist by email.' }, { title: 'E2E approval run', agent: 'mailer' });
  // the root finished planning: nothing in the run moves until a person decides
  await sql`select taskweave.claim_task(${paused.rootId}, 'e2e-worker', 300)`;
  await sql`select taskweave.complete_task(${paused.rootId}, 'e2e-worker', '{"text": "planned"}')`;

  await page.goto(`${localUrl}/tasks/${paused.rootId}`);
  await expect(page.getByTestId('run-state-panel')).toContainText('waiting for a person (1)');
  await page.getByTestId('run-reviews-link').click();
  await expect(page).toHaveURL(new RegExp(`/reviews\\?run=${paused.rootId}`));
  await expect(page.getByTestId('run-state-panel')).toContainText('waiting for a person (1)');

  const card = reviewCard(page, paused.taskId);
  await expect(card.getByTestId('review-kind')).toHaveText('approval');
  await expect(card.getByTestId('approval-tool')).toHaveText('send-email');
  await expect(card.getByTestId('approval-reason')).toContainText('The user asked for the shortlist by email.');
  await expect(card).toContainText('"to": "cfo@example.com"');

  await card.getByRole('button', { name: 'Edit and approve…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Edit the arguments of send-email' });
  const editor = dialog.getByLabel('Arguments (JSON)');
  await editor.fill(JSON.stringify({ subject: 7 }));
  await dialog.getByRole('button', { name: 'Approve with these arguments' }).click();
  await expect(dialog.getByTestId('arguments-error')).toContainText('arguments.to is required');
  await expect(dialog.getByTestId('arguments-error')).toContainText('arguments.subject must be a string (got integer)');
  await saveScreenshot(page, 'reviews-approval-schema-error');
  expect(await taskStatus(sql, paused.taskId)).toBe('needs_human_review');

  const edited = { ...emailArgs, to: 'finance@example.com' };
  await editor.fill(JSON.stringify(edited, null, 2));
  await dialog.getByRole('button', { name: 'Approve with these arguments' }).click();
  await expect(page.getByTestId('action-result')).toContainText('Approved the call of “Research vendor 1”: it is pending again');
  const [review] = await sql<{ action: string; manual_output: unknown }[]>`select action, manual_output from taskweave.human_reviews where id = ${paused.reviewId}`;
  expect(review).toEqual({ action: 'approve', manual_output: { arguments: edited } });
  expect(await taskStatus(sql, paused.taskId)).toBe('pending');

  await page.goto(`${localUrl}/tasks/${paused.rootId}`);
  await expect(page.getByTestId('run-state-panel')).toContainText('running');
});

test('answer a question with one of its options', async ({ page, sql, localUrl }) => {
  const paused = await seedPausedTask(sql, { kind: 'question', question: 'Which region should the comparison cover?', options: ['EU', 'US'] }, { title: 'E2E question run' });
  await page.goto(`${localUrl}/reviews?kind=question&run=${paused.rootId}`);
  const card = reviewCard(page, paused.taskId);
  await expect(card).toContainText('Which region should the comparison cover?');
  // nothing chosen, nothing written: said before the round trip
  await card.getByRole('button', { name: 'Send answer' }).click();
  await expect(card.getByTestId('answer-error')).toHaveText('Choose one of the options or write an answer.');
  await card.getByLabel('EU').check();
  await card.getByRole('button', { name: 'Send answer' }).click();
  await expect(page.getByTestId('action-result')).toContainText('Answered “Research vendor 1”: it is pending again');
  const [review] = await sql<{ action: string; manual_output: unknown }[]>`select action, manual_output from taskweave.human_reviews where id = ${paused.reviewId}`;
  expect(review).toEqual({ action: 'answer', manual_output: { answer: 'EU' } });
  await expect(card).toHaveCount(0);
});

test('a cursor nobody gave out, or one naming an impossible moment, shows the list from the start', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E cursor run' });
  const forged = (at: string) => Buffer.from(JSON.stringify([at, '7d4b7f2e-2d53-4e38-9d6a-0b1c2d3e4f50'])).toString('base64url');
  for (const query of [`after=${forged('2026-13-01 10:42:00+00')}`, `before=${forged('2026-02-30 10:42:00+00')}`, 'after=%%%garbage', `after=${forged('2026-11-25 10:42:00+25')}&run=not-a-uuid`]) {
    const response = await page.goto(`${localUrl}/reviews?${query}`);
    expect(response?.status(), query).toBe(200);
    await expect(page.getByRole('heading', { name: 'Reviews' })).toBeVisible();
    await expect(reviewCard(page, fanOut.failed[0].taskId)).toBeVisible();
  }
  await expect(page.getByTestId('ignored-filters')).toContainText('“run”');
});

test('/agents lists agents and tools with recent calls, and the task page shows its agent and tool calls', async ({ page, sql, localUrl }) => {
  await seedAgentsAndTools(sql);
  const fanOut = await seedFanOut(sql, { title: 'E2E tool calls', children: 2, complete: [], fail: [] });
  await sql`update taskweave.tasks set agent = 'researcher', usage = ${sql.json({ input_tokens: 1200, output_tokens: 300, model_steps: 2, cost_usd: 0.0042134 })} where id = ${fanOut.childIds[0]}`;
  await seedToolCall(sql, { taskId: fanOut.childIds[0], toolCallId: 'e2e-call-1', tool: 'web-search', arguments: { query: 'vendor pricing' }, status: 'succeeded', result: { hits: ['E2E hit'] }, durationMs: 412 });
  await seedToolCall(sql, { taskId: fanOut.childIds[0], toolCallId: 'e2e-call-2', tool: 'web-search', arguments: { query: 'vendor limits' }, status: 'failed', error: 'E2E HTTP 503 from search', durationMs: 20_000 });
  // a question paused on the other child is no tool call of the first
  await pauseTask(sql, fanOut.childIds[1], { kind: 'question', question: 'unrelated?' });

  await page.goto(`${localUrl}/agents`);
  const researcher = page.locator('tr[data-agent="researcher"]');
  await expect(researcher).toContainText('openai:gpt-4.1-mini');
  await expect(researcher).toContainText('web-search');
  const search = page.locator('li[data-tool="web-search"]');
  await expect(search).toContainText('http');
  await expect(search).toContainText('idempotent');
  await expect(search.getByTestId('tool-stats')).toHaveText('2 calls in 24 h, 1 error');
  await expect(search.getByTestId('tool-call-error')).toHaveText('E2E HTTP 503 from search');
  await expect(page.locator('body')).not.toContainText('{{SEARCH_KEY}}');
  await saveScreenshot(page, 'agents');

  await page.goto(`${localUrl}/tasks/${fanOut.childIds[0]}`);
  await expect(page.getByTestId('task-agent')).toHaveText('researcher');
  await expect(page.getByTestId('task-cost')).toHaveText('$0.004213');
  const calls = page.getByTestId('tool-call');
  await expect(calls).toHaveCount(2);
  await expect(calls.first()).toContainText('E2E hit');
  await expect(calls.first().getByTestId('tool-call-duration')).toHaveText('412 ms');
  await expect(calls.nth(1).getByTestId('tool-call-error')).toHaveText('E2E HTTP 503 from search');
});

test('another operator’s bulk resolve is announced once, with its count', async ({ page, sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E bulk elsewhere', children: 5, complete: [], fail: [0, 1, 2, 3, 4], error: { category: 'model', message: 'E2E burst' } });
  await page.goto(`${localUrl}/reviews?run=${fanOut.rootId}`);
  await expect(page.locator('[data-live="live"]')).toBeVisible();
  await expect(page.locator('article[data-review-id]')).toHaveCount(5);
  await sql.begin(async (tx) => {
    const grace = { sub: '00000000-0000-4000-8000-00000000a0a1', email: 'grace@example.com', role: 'authenticated', app_metadata: { role: 'operator' } };
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(grace)}, true), set_config('role', 'authenticated', true)`;
    await tx`select taskweave.resolve_reviews(${tx.json({ root_task_id: fanOut.rootId })}, 'retry', null)`;
  });
  await expect(page.getByRole('status').filter({ hasText: 'grace@example.com resolved 5 reviews (retry).' })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'resolved a review' })).toHaveCount(0);
  await expect(page.locator('article[data-review-id]')).toHaveCount(0);
});
