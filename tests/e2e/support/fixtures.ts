// Shared pieces of the browser tests: the database the app servers use, seeding through the SQL API,
// the two app URLs, signing in through the fake Supabase Auth, and screenshots kept as artifacts.
import { test as base, expect, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { repoRoot } from '../../../scripts/lib/local-config.ts';
import { seedFanOut } from '../../web/fixtures/seed.ts';

type Sql = postgres.Sql<Record<string, unknown>>;

export const screenshotDir = path.join(repoRoot, 'test-results', 'screenshots');

export const test = base.extend<{ sql: Sql; localUrl: string; hostedUrl: string }>({
  sql: async ({}, use) => {
    const sql = postgres(process.env.E2E_DATABASE_URL!, { max: 2, onnotice: () => {} }) as Sql;
    await use(sql);
    await sql.end({ timeout: 2 });
  },
  localUrl: async ({}, use) => use(process.env.E2E_LOCAL_URL!),
  hostedUrl: async ({}, use) => use(process.env.E2E_HOSTED_URL!),
});

export { expect, seedFanOut };

export async function saveScreenshot(page: Page, name: string) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export async function signIn(page: Page, baseUrl: string, email: string, password = 'correct horse') {
  await page.goto(`${baseUrl}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The card of one review on /reviews, found by its task. */
export function reviewCard(page: Page, taskId: string) {
  return page.locator(`article[data-task-id="${taskId}"]`);
}

/** Wait until the page's live-updates stream is connected, so later changes are pushed, not polled. */
export async function waitForLive(page: Page) {
  await expect(page.locator('[data-live="live"]')).toBeVisible();
}

export async function taskStatus(sql: Sql, id: string): Promise<string> {
  const [row] = await sql<{ status: string }[]>`select status from taskweave.tasks where id = ${id}`;
  return row.status;
}
