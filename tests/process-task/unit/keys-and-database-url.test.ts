// What both functions take from their environment the same way: the database URL (TASKWEAVE_DB_URL, else
// the platform's SUPABASE_DB_URL: hosted secrets may not start with SUPABASE_) and the bearer keys
// (PROCESS_TASK_SECRET, the legacy service-role JWT, the new sb_secret_… keys of SUPABASE_SECRET_KEYS).
import { describe, expect, it } from 'vitest';
import { acceptedKeys, authorized, PUBLISHED_LOCAL_SECRET } from '../../../supabase/functions/_shared/bearer.ts';
import { readConfig as readTaskConfig } from '../../../supabase/functions/process-task/config.ts';
import { readConfig as readMcpConfig } from '../../../supabase/functions/mcp/config.ts';

const hostedUrl = 'https://abcd.supabase.co';

describe('the database URL', () => {
  it('is TASKWEAVE_DB_URL, else SUPABASE_DB_URL, in both functions', () => {
    const both = { TASKWEAVE_DB_URL: 'postgres://pooler:6543/postgres', SUPABASE_DB_URL: 'postgres://direct:5432/postgres', PROCESS_TASK_SECRET: 'k' };
    expect(readTaskConfig(both).databaseUrl).toBe('postgres://pooler:6543/postgres');
    expect(readMcpConfig(both).databaseUrl).toBe('postgres://pooler:6543/postgres');
    const platformOnly = { SUPABASE_DB_URL: 'postgres://direct:5432/postgres', PROCESS_TASK_SECRET: 'k' };
    expect(readTaskConfig(platformOnly).databaseUrl).toBe('postgres://direct:5432/postgres');
    expect(readMcpConfig(platformOnly).databaseUrl).toBe('postgres://direct:5432/postgres');
    expect(() => readTaskConfig({ PROCESS_TASK_SECRET: 'k' })).toThrow(/TASKWEAVE_DB_URL is not set/);
    expect(readMcpConfig({ PROCESS_TASK_SECRET: 'k' }).notConfigured).toMatch(/TASKWEAVE_DB_URL is not set/);
  });
});

describe('the accepted keys', () => {
  const legacy = 'eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig';
  const secretKeys = JSON.stringify({ default: 'sb_secret_one', rotated: 'sb_secret_two' });

  it('are PROCESS_TASK_SECRET, the legacy service-role JWT and every named sb_secret key; never a publishable key', () => {
    const env = {
      PROCESS_TASK_SECRET: 'mine',
      SUPABASE_SERVICE_ROLE_KEY: legacy,
      SUPABASE_SECRET_KEYS: secretKeys,
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: 'sb_publishable_x' }),
    };
    expect(acceptedKeys(env, { hosted: true })).toEqual({ keys: ['mine', legacy, 'sb_secret_one', 'sb_secret_two'], problems: [] });
    expect(acceptedKeys({ SUPABASE_SECRET_KEYS: JSON.stringify({ default: 'sb_publishable_misplaced' }) }, { hosted: false }).keys).toEqual([]);
    const keys = readTaskConfig({ TASKWEAVE_DB_URL: 'postgres://x', ...env }).secrets;
    for (const key of ['mine', legacy, 'sb_secret_two']) expect(authorized(`Bearer ${key}`, keys)).toBe(true);
    expect(authorized('Bearer sb_publishable_x', keys)).toBe(false);
    expect(readMcpConfig({ TASKWEAVE_DB_URL: 'postgres://x', ...env }).secrets).toEqual(keys);
  });

  it('fail closed on an unreadable SUPABASE_SECRET_KEYS, naming it, and keep the other keys', () => {
    expect(acceptedKeys({ SUPABASE_SERVICE_ROLE_KEY: legacy, SUPABASE_SECRET_KEYS: 'sb_secret_bare' }, { hosted: true })).toEqual({
      keys: [legacy],
      problems: [expect.stringContaining('SUPABASE_SECRET_KEYS is not a JSON object')],
    });
    expect(() => readTaskConfig({ TASKWEAVE_DB_URL: 'postgres://x', SUPABASE_SECRET_KEYS: '["sb_secret_x"]' })).toThrow(/SUPABASE_SECRET_KEYS is not a JSON object/);
  });

  it('refuse the published local key hosted, and keep it locally', () => {
    const local = { TASKWEAVE_DB_URL: 'postgres://x', PROCESS_TASK_SECRET: PUBLISHED_LOCAL_SECRET };
    expect(readTaskConfig(local).secrets).toEqual([PUBLISHED_LOCAL_SECRET]);
    expect(readTaskConfig({ ...local, SUPABASE_URL: 'http://kong:8000' }).secrets).toEqual([PUBLISHED_LOCAL_SECRET]);
    const hosted = { ...local, SUPABASE_URL: hostedUrl, SUPABASE_SERVICE_ROLE_KEY: legacy, LLM_PROVIDER: 'demo' };
    const config = readTaskConfig(hosted);
    expect(config.secrets).toEqual([legacy]);
    expect(config.warnings).toEqual([expect.stringContaining('published local default')]);
    expect(readMcpConfig(hosted).secrets).toEqual([legacy]);
    // with no other key, the function does not start hosted rather than open with a published key
    expect(() => readTaskConfig({ ...local, SUPABASE_URL: hostedUrl })).toThrow(/published local default/);
  });
});
