// The functions on the Deno line Supabase's edge runtime vendors (2.1, npm alias `deno-2-1`), set up the
// way `supabase functions serve` sets them up: no PROCESS_TASK_SECRET, the stack's keys in
// SUPABASE_SERVICE_ROLE_KEY and SUPABASE_SECRET_KEYS, SUPABASE_URL=http://kong:8000. The dispatcher's and
// `npm run task`'s default key must open them there.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { denoBinary, denoEnv, EDGE_DENO_VERSION } from '../../scripts/lib/deno-binaries.ts';
import { startFunctionServer, DEFAULT_LOCAL_SECRET, type FunctionServer } from '../../scripts/lib/function-server.ts';
import { candidateKeys, chooseProcessTaskKey, SUPABASE_CLI_LOCAL_SECRET_KEY } from '../../scripts/lib/function-endpoint.ts';
import { startDispatcher, type Dispatcher } from '../../scripts/lib/dispatcher.ts';
import { sdkClient, textOf } from '../mcp/support.ts';
import { waitFor } from './support.ts';

const run = promisify(execFile);
const db = useTestDatabase();
let server: FunctionServer | undefined;
let dispatcher: Dispatcher | undefined;
afterAll(async () => {
  await dispatcher?.stop();
  await server?.stop();
});

/** The local stack's legacy service-role JWT shape (any value works: the function compares keys, it does not verify JWTs). */
const LEGACY_SERVICE_ROLE_JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSJ9.local';

describe('Deno 2.1, the edge runtime’s line', () => {
  it('is installed beside the current Deno, each found by its package', async () => {
    const edge = await run(denoBinary('edge'), ['--version']);
    const current = await run(denoBinary('current'), ['--version']);
    expect(edge.stdout).toMatch(new RegExp(`^deno ${EDGE_DENO_VERSION.replace(/\./g, '\\.')} `));
    expect(current.stdout).not.toMatch(/^deno 2\.1\./);
  });

  it('reads the committed locks: both are lockfile version 4 (Deno 2.1 reads no other)', () => {
    for (const name of ['process-task', 'mcp']) {
      const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'supabase', 'functions', name, 'deno.lock'), 'utf8'));
      expect(lock.version, name).toBe('4');
    }
  });

  it('type-checks process-task with the pinned import map and the frozen lock', async () => {
    const { stdout, stderr } = await run(denoBinary('edge'), ['check', '--frozen', 'index.ts'], {
      cwd: path.join(repoRoot, 'supabase', 'functions', 'process-task'),
      env: { ...process.env, ...denoEnv('edge'), NO_COLOR: '1' },
    });
    // a fresh cache prints package downloads such as `es-errors`: look for Deno's own error lines
    expect(`${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, '')).not.toMatch(/^error:|\[ERROR\]/m);
  }, 180_000);

  it('serves both functions as `supabase functions serve` does; the default keys open them, a publishable key does not', async () => {
    server = await startFunctionServer({
      databaseUrl: db.url,
      port: 0,
      secret: null,
      deno: 'edge',
      env: {
        LLM_PROVIDER: 'demo',
        SUPABASE_URL: 'http://kong:8000',
        SUPABASE_SERVICE_ROLE_KEY: LEGACY_SERVICE_ROLE_JWT,
        SUPABASE_SECRET_KEYS: JSON.stringify({ default: SUPABASE_CLI_LOCAL_SECRET_KEY }),
        SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: 'sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH' }),
        PROCESS_TASK_SECRET: undefined,
        TASKWEAVE_WEB_URL: 'http://127.0.0.1:3999',
      },
      readyTimeoutMs: 120_000,
    });
    expect(server.secret).toBe('');
    const invoke = (key: string) =>
      fetch(server!.url, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: '{"max_tasks": 0}' }).then((r) => r.status);
    expect(await invoke(DEFAULT_LOCAL_SECRET)).toBe(401);
    expect(await invoke('sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH')).toBe(401);
    expect(await invoke(SUPABASE_CLI_LOCAL_SECRET_KEY)).toBe(400); // accepted; the body is bad
    expect(await invoke(LEGACY_SERVICE_ROLE_JWT)).toBe(400);

    // the dispatcher's default: no PROCESS_TASK_SECRET, a loopback endpoint -> the key the function accepts
    const key = await chooseProcessTaskKey(server.url, candidateKeys(server.url, undefined));
    expect(key).toBe(SUPABASE_CLI_LOCAL_SECRET_KEY);
    dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: server.url, secret: key!, concurrency: 2, sweepIntervalMs: 300, log: () => {} });

    // end to end under 2.1: an MCP client submits a demo run, the dispatcher runs it through process-task
    const client = await sdkClient(server.urls.mcp!, key);
    try {
      const created = await client.callTool({ name: 'create_task', arguments: { title: 'On Deno 2.1', instructions: 'Compare two things.', input: { topics: ['Alpha', 'Beta'] } } });
      const taskId = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(textOf(created))![0];
      const aggregator = await waitFor('the demo run to complete on Deno 2.1', async () => {
        const [row] = await db.sql`select status, output from taskweave.tasks where root_task_id = ${taskId} and cardinality(dependent_task_ids) > 0`;
        return row?.status === 'completed' ? row : undefined;
      }, 90_000, 250);
      expect(JSON.stringify(aggregator.output)).toContain('Alpha');
      const view = await client.callTool({ name: 'get_task', arguments: { task_id: taskId } });
      expect(textOf(view)).toContain('completed');
    } finally {
      await client.close();
    }
  }, 240_000);
});
