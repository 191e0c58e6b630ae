// Hosted (a non-loopback SUPABASE_URL) the function must not fall back to the demo model: without an
// explicit LLM_PROVIDER it is "not configured". Locally (no SUPABASE_URL, loopback, the local stack's
// `kong` gateway) the demo model stays the default, as `npm run dev` relies on.
import { describe, expect, it } from 'vitest';
import { isLocalSupabaseUrl, readConfig } from '../../../supabase/functions/process-task/config.ts';
import { createHandler } from '../../../supabase/functions/process-task/http-handler.ts';

const base = { SUPABASE_DB_URL: 'postgres://x', PROCESS_TASK_SECRET: 'k' };

describe('hosted without LLM_PROVIDER', () => {
  it('tells loopback and the local stack from a hosted project', () => {
    for (const url of ['http://127.0.0.1:54321', 'http://localhost:54321', 'http://[::1]:54321', 'http://kong:8000', 'http://api.localhost']) {
      expect(isLocalSupabaseUrl(url), url).toBe(true);
    }
    for (const url of ['https://abc.supabase.co', 'http://10.0.0.5:8000', 'https://127.0.0.1.example.com', 'not a url']) {
      expect(isLocalSupabaseUrl(url), url).toBe(false);
    }
  });

  it('is not configured only when hosted and LLM_PROVIDER is unset or empty', () => {
    expect(readConfig(base).notConfigured).toBeUndefined();
    expect(readConfig({ ...base, SUPABASE_URL: 'http://127.0.0.1:54321' }).notConfigured).toBeUndefined();
    expect(readConfig({ ...base, SUPABASE_URL: 'http://kong:8000' }).notConfigured).toBeUndefined();
    expect(readConfig({ ...base, SUPABASE_URL: 'https://abc.supabase.co' }).notConfigured).toMatch(/LLM_PROVIDER/);
    expect(readConfig({ ...base, SUPABASE_URL: 'https://abc.supabase.co', LLM_PROVIDER: '' }).notConfigured).toMatch(/LLM_PROVIDER/);
    expect(readConfig({ ...base, SUPABASE_URL: 'https://abc.supabase.co', LLM_PROVIDER: 'demo' }).notConfigured).toBeUndefined();
    expect(readConfig({ ...base, SUPABASE_URL: 'https://abc.supabase.co', LLM_PROVIDER: 'openai', OPENAI_API_KEY: 'sk' }).notConfigured).toBeUndefined();
  });

  it('answers 503 without touching the store, after the key check', async () => {
    const untouchable = new Proxy({}, { get: () => () => { throw new Error('the store must not be used'); } });
    const handler = createHandler({ secrets: ['k'], notConfigured: 'LLM_PROVIDER is not set', agent: { store: untouchable } as never });
    const call = (auth?: string) =>
      handler(new Request('http://localhost/functions/v1/process-task', { method: 'POST', headers: auth ? { Authorization: auth } : {}, body: '{}' }));
    expect((await call()).status).toBe(401);
    const res = await call('Bearer k');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: 'not_configured', message: 'LLM_PROVIDER is not set' } });
  });
});
