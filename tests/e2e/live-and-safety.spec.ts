// Live updates between two operators, inert model output, and who may not come in.
import { expect, reviewCard, saveScreenshot, seedFanOut, signIn, taskStatus, test, waitForLive } from './support/fixtures.ts';

test('a second operator’s resolution, a new review and a status change arrive without a reload', async ({ page, browser, sql, localUrl, hostedUrl }) => {
  // two app servers and two browsers on a small machine: allow for slow steps, but not for slow pushes
  test.slow();
  const fanOut = await seedFanOut(sql, { title: 'E2E live fan-out', complete: [0], fail: [1] });
  await page.goto(`${localUrl}/reviews`);
  await waitForLive(page);
  const card = reviewCard(page, fanOut.failed[0].taskId);
  await expect(card).toBeVisible();
  // a marker that survives only if the page is never reloaded
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));

  // Grace, another operator, signs in on the Supabase Auth deployment and resolves it by hand
  const graceContext = await browser.newContext();
  const grace = await graceContext.newPage();
  await signIn(grace, hostedUrl, 'grace@example.com');
  await expect(grace).toHaveURL(`${hostedUrl}/reviews`, { timeout: 20_000 });
  await reviewCard(grace, fanOut.failed[0].taskId).getByRole('button', { name: 'Manual…' }).click();
  await grace.getByRole('textbox', { name: 'Output' }).fill('Vendor 2 costs $12/month (checked by hand).');
  await grace.getByRole('button', { name: 'Save output' }).click();
  await expect(grace.getByTestId('action-result')).toContainText('Saved your output', { timeout: 30_000 });
  const resolvedAt = Date.now();

  // the first operator's queue drops the card and says who resolved it (typically well within a
  // second; the bound leaves room for a loaded CI machine)
  await expect(card).toHaveCount(0, { timeout: 5_000 });
  console.log(`[live] the other operator's page dropped the resolved review ${Date.now() - resolvedAt} ms after the resolution was confirmed`);
  await expect(page.getByRole('status').filter({ hasText: 'grace@example.com resolved a review (manual).' })).toBeVisible();

  // a new failure appears by itself
  const next = await seedFanOut(sql, { title: 'E2E live second fan-out', complete: [], fail: [0] });
  const seededAt = Date.now();
  await expect(reviewCard(page, next.failed[0].taskId)).toBeVisible({ timeout: 5_000 });
  console.log(`[live] a new review appeared ${Date.now() - seededAt} ms after it was opened`);

  // a task page follows status changes too
  await page.goto(`${localUrl}/tasks/${next.childIds[1]}`);
  await waitForLive(page);
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
  await expect(page.locator('header [data-status="pending"]')).toBeVisible();
  await sql`select taskweave.claim_task(${next.childIds[1]}, 'e2e-worker', 300)`;
  const claimedAt = Date.now();
  await expect(page.locator('header [data-status="running"]')).toBeVisible({ timeout: 5_000 });
  console.log(`[live] the task page showed "running" ${Date.now() - claimedAt} ms after the claim`);
  expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

  // and if the first operator now acts on a stale view, the database's answer is shown in words
  expect(await taskStatus(sql, fanOut.failed[0].taskId)).toBe('completed');
  await graceContext.close();
});

test('a live feed that says catch_up makes the page re-read once: changes made before the server watched show up', async ({ page, sql, localUrl }) => {
  // The server sends catch_up when it only now took its task_changed lease (tests/web covers when):
  // changes before that were never announced. Here the test plays the feed, so it decides what the
  // browser hears: the first ready only after the change, and nothing else (no reconnect for 10 minutes).
  const pages: { catchUp: boolean; status: 'pending' | 'running' }[] = [
    { catchUp: false, status: 'pending' }, // a plain first ready: the page stays as it was rendered
    { catchUp: true, status: 'running' },
  ];
  for (const { catchUp, status } of pages) {
    const [task] = await sql<{ id: string }[]>`select id from taskweave.create_task(${`E2E catch-up ${catchUp}`}, 'i')`;
    let changed!: () => void;
    const changeMade = new Promise<void>((resolve) => (changed = resolve));
    await page.route('**/api/live', async (route) => {
      await changeMade;
      const body = `retry: 600000\nevent: ready\ndata: ${JSON.stringify(catchUp ? { catch_up: true } : {})}\n\n`;
      await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }, body });
    });
    await page.goto(`${localUrl}/tasks/${task.id}`);
    await expect(page.locator('header [data-status="pending"]')).toBeVisible();
    await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
    await sql`select taskweave.claim_task(${task.id}, 'e2e-worker', 300)`;
    changed();
    await expect(page.locator('[data-live="live"], [data-live="reconnecting"]')).toBeVisible();
    if (status === 'pending') await page.waitForTimeout(2_000); // time enough for a refresh that should not come
    await expect(page.locator(`header [data-status="${status}"]`)).toBeVisible({ timeout: 5_000 });
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
    await page.unroute('**/api/live');
  }
});

test('model output and errors are shown as text: markup stays inert', async ({ page, sql, localUrl }) => {
  const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
  const fanOut = await seedFanOut(sql, {
    title: 'E2E <b>xss</b> fan-out',
    complete: [0],
    fail: [1],
    childTitle: (i) => (i === 1 ? `<script>window.__xss=3</script> vendor ${i + 1}` : `Vendor ${i + 1}`),
    error: { category: 'tool', message: `Tool said: ${payload}`, provider: { name: '<svg onload="window.__xss=4">' } },
    output: () => ({ text: payload }),
  });
  const visit = async (path: string) => {
    await page.goto(`${localUrl}${path}`);
    await expect(page.locator('main')).toBeVisible();
  };
  await visit('/reviews');
  const card = reviewCard(page, fanOut.failed[0].taskId);
  await expect(card.getByText(`Tool said: ${payload}`)).toBeVisible();
  await expect(card.getByRole('link', { name: '<script>window.__xss=3</script> vendor 2' })).toBeVisible();
  await expect(card.locator('img, script, svg[onload]')).toHaveCount(0);

  // a transcript in the shape the worker saves (AI SDK messages), with the payload in every part
  const transcriptTask = fanOut.childIds[2];
  await sql`select taskweave.claim_task(${transcriptTask}, 'e2e-worker', 300)`;
  const messages = [
    ['user', [{ type: 'text', text: `Research this: ${payload}` }]],
    ['assistant', [{ type: 'text', text: 'I will look it up.' }, { type: 'tool-call', toolCallId: 'c1', toolName: 'web_search', input: { query: payload } }]],
    ['tool', [{ type: 'tool-result', toolCallId: 'c1', toolName: 'web_search', output: { type: 'text', value: `Result: ${payload}` } }]],
    ['assistant', [{ type: 'text', text: `Done: ${payload}` }]],
  ] as const;
  for (const [role, content] of messages) {
    await sql`select taskweave.append_task_message(${transcriptTask}, 'e2e-worker', ${role}, ${sql.json(content as never)})`;
  }
  await visit(`/tasks/${transcriptTask}`);
  const transcript = page.getByRole('list', { name: 'Transcript' });
  await expect(transcript).toContainText('calls web_search');
  await expect(transcript).toContainText('result of web_search');
  await expect(transcript.getByText(`Result: ${payload}`)).toBeVisible();
  await expect(transcript.getByText(`Done: ${payload}`)).toBeVisible();
  await saveScreenshot(page, 'task-transcript');
  await expect(page.locator('main img, main script')).toHaveCount(0);

  await visit(`/tasks/${fanOut.childIds[0]}`);
  // a model answer ({text}) is shown as its text, character for character
  await expect(page.getByTestId('task-output')).toContainText(payload);
  await visit(`/tasks/${fanOut.failed[0].taskId}`);
  await expect(page.getByText(`Tool said: ${payload}`).first()).toBeVisible();
  await expect(page.locator('main img, main script')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
});

test('a signed-in user who is not an operator is refused, and so is a visitor', async ({ page, request, hostedUrl }) => {
  // signed out: every page leads to sign-in, the live feed answers 401
  await page.goto(`${hostedUrl}/reviews`);
  await expect(page).toHaveURL(`${hostedUrl}/sign-in`);
  expect((await request.get(`${hostedUrl}/api/live`)).status()).toBe(401);

  await signIn(page, hostedUrl, 'bob@example.com', 'wrong password');
  await expect(page.getByRole('alert').filter({ hasText: 'do not match' })).toHaveText('That email and password do not match an account.');

  await signIn(page, hostedUrl, 'bob@example.com');
  await expect(page).toHaveURL(`${hostedUrl}/not-an-operator`);
  await expect(page.getByRole('heading', { name: 'You are not an operator' })).toBeVisible();
  await expect(page.getByText('You are signed in as bob@example.com')).toBeVisible();

  for (const path of ['/reviews', '/', '/reviews?tab=resolved']) {
    await page.goto(`${hostedUrl}${path}`);
    await expect(page).toHaveURL(`${hostedUrl}/not-an-operator`);
  }
  const live = await page.request.get(`${hostedUrl}/api/live`);
  expect(live.status()).toBe(403);

  await page.getByRole('button', { name: 'Sign out and use another account' }).click();
  await expect(page).toHaveURL(`${hostedUrl}/sign-in`);
});
