import type { FullConfig } from '@playwright/test';
import { startTestStack } from './support/app-servers.ts';

// Playwright workers inherit process.env set here: that is how the tests learn the URLs.
export default async function globalSetup(_config: FullConfig) {
  const stack = await startTestStack();
  process.env.E2E_DATABASE_URL = stack.databaseUrl;
  process.env.E2E_LOCAL_URL = stack.localUrl;
  process.env.E2E_HOSTED_URL = stack.hostedUrl;
  return async () => {
    await stack.stop();
  };
}
