// The endpoint's settings: the same keys as process-task, where task pages live, who may call from a browser.
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../supabase/functions/mcp/config.ts';

describe('mcp config', () => {
  it('takes the bearer keys, the web URL and the LISTEN URL', () => {
    const config = readConfig({
      SUPABASE_DB_URL: 'postgres://a@pooler:6543/postgres',
      MCP_LISTEN_DB_URL: 'postgres://a@db:5432/postgres',
      PROCESS_TASK_SECRET: 'one',
      SUPABASE_SERVICE_ROLE_KEY: 'two',
      TASKWEAVE_WEB_URL: 'https://ops.example.com/',
      MCP_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    });
    expect(config).toMatchObject({
      secrets: ['one', 'two'],
      webUrl: 'https://ops.example.com',
      allowedOrigins: ['https://ops.example.com', 'https://a.example', 'https://b.example'],
      listenDatabaseUrl: 'postgres://a@db:5432/postgres',
      dbPoolSize: 2,
      notConfigured: undefined,
    });
  });

  it('defaults to the local web app and LISTENs on the main URL', () => {
    const config = readConfig({ SUPABASE_DB_URL: 'postgres://x', PROCESS_TASK_SECRET: 's' });
    expect(config.webUrl).toBe('http://127.0.0.1:3000');
    expect(config.allowedOrigins).toEqual(['http://127.0.0.1:3000']);
    expect(config.listenDatabaseUrl).toBe('postgres://x');
  });

  it('names what is missing instead of crashing, and has no key when none is set', () => {
    const config = readConfig({ TASKWEAVE_WEB_URL: 'not a url' });
    expect(config.secrets).toEqual([]);
    expect(config.notConfigured).toContain('SUPABASE_DB_URL is not set');
    expect(config.notConfigured).toContain('TASKWEAVE_WEB_URL is not a URL');
  });
});
