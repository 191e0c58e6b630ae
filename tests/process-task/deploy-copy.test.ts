// The function deploys as it is: `supabase functions deploy` bundles supabase/functions/ alone, with no
// node_modules anywhere near it. Here that folder is copied alone into an empty temp folder and run under
// Deno with a fresh DENO_DIR (so every npm: package comes from the registry, pinned by deno.lock), then
// driven over HTTP against a real database. And hosted without LLM_PROVIDER it runs nothing: a 503.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FUNCTIONS_DIR, startFunctionServer, type FunctionServer } from '../../scripts/lib/function-server.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { post } from './support.ts';

const db = useTestDatabase();
const servers: FunctionServer[] = [];
const tempDirs: string[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

const HOSTED_URL = 'https://abcdefghijklmnop.supabase.co';

function hasNodeModulesAbove(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'node_modules'))) return path.join(d, 'node_modules');
    if (path.dirname(d) === d) return undefined;
  }
}

describe('process-task as deployed', () => {
  it('has a plain import map and a committed lock file', () => {
    const denoJson = JSON.parse(fs.readFileSync(path.join(FUNCTIONS_DIR, 'process-task', 'deno.json'), 'utf8'));
    expect(denoJson).not.toHaveProperty('nodeModulesDir');
    for (const [name, target] of Object.entries(denoJson.imports as Record<string, string>)) {
      expect(target, name).toMatch(/^npm:(@[^/@]+\/)?[^/@]+@\d+\.\d+\.\d+(\/.*)?$/); // bare name -> pinned npm: specifier
    }
    const lock = JSON.parse(fs.readFileSync(path.join(FUNCTIONS_DIR, 'process-task', 'deno.lock'), 'utf8'));
    for (const target of Object.values(denoJson.imports as Record<string, string>)) {
      expect(Object.keys(lock.specifiers)).toContain(target.replace(/(npm:(@[^/@]+\/)?[^/@]+@[^/]+).*/, '$1'));
    }
  });

  it('runs from a copy of supabase/functions alone, with a fresh DENO_DIR and no node_modules, and completes a task', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'taskweave-deploy-'));
    tempDirs.push(root);
    const functionsDir = path.join(root, 'functions');
    fs.cpSync(FUNCTIONS_DIR, functionsDir, { recursive: true });
    const denoDir = path.join(root, 'deno-dir');
    fs.mkdirSync(denoDir);
    expect(hasNodeModulesAbove(functionsDir)).toBeUndefined();

    const logs: string[] = [];
    const server = await startFunctionServer({
      databaseUrl: db.url,
      port: 0,
      secret: 'deploy-copy-secret',
      functionsDir,
      denoDir,
      // as hosted: a non-loopback SUPABASE_URL, with the provider set explicitly
      env: { SUPABASE_URL: HOSTED_URL, LLM_PROVIDER: 'demo' },
      onLog: (line) => logs.push(line),
      readyTimeoutMs: 180_000,
    });
    servers.push(server);
    // Deno fetched the packages into the fresh cache itself, and made no node_modules
    expect(fs.existsSync(path.join(denoDir, 'npm'))).toBe(true);
    expect(hasNodeModulesAbove(path.join(functionsDir, 'process-task'))).toBeUndefined();

    const [task] = await db.sql<{ id: string }[]>`
      select id from taskweave.create_task('Deploy check', 'Compare two options.', ${db.sql.json({ topics: ['Option A', 'Option B'] })})`;
    const res = await post(server, { task_id: task.id });
    expect(res.status, `${res.text}\n${logs.join('\n')}`).toBe(200);
    expect(res.json.results).toMatchObject([{ task_id: task.id, status: 'completed' }]);
    const [row] = await db.sql<{ status: string; attempt: number }[]>`select status, attempt from taskweave.tasks where id = ${task.id}`;
    expect(row).toEqual({ status: 'completed', attempt: 1 });
    // the demo model fanned out through the tools: the function reached the database's SQL API
    const children = await db.sql<{ title: string }[]>`select title from taskweave.tasks where parent_task_id = ${task.id} order by title`;
    expect(children.map((c) => c.title)).toEqual(expect.arrayContaining(['Option A', 'Option B']));
  }, 240_000);

  it('hosted without LLM_PROVIDER: runs no task and answers 503 naming the variable', async () => {
    const server = await startFunctionServer({
      databaseUrl: db.url,
      port: 0,
      secret: 'hosted-secret',
      env: { SUPABASE_URL: HOSTED_URL, LLM_PROVIDER: '' },
    });
    servers.push(server);
    const [task] = await db.sql<{ id: string }[]>`select id from taskweave.create_task('Hosted check', 'Say hello.')`;
    for (const body of [{ task_id: task.id }, {}, { max_tasks: 5 }]) {
      const res = await post(server, body);
      expect(res.status, JSON.stringify(body)).toBe(503);
      expect(res.json.error.code).toBe('not_configured');
      expect(res.json.error.message).toContain('LLM_PROVIDER');
    }
    // the key is still checked first: a stranger learns nothing
    expect((await post({ url: server.url, secret: 'wrong' }, {})).status).toBe(401);
    const [row] = await db.sql<{ status: string; attempt: number }[]>`select status, attempt from taskweave.tasks where id = ${task.id}`;
    expect(row).toEqual({ status: 'pending', attempt: 0 });
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.task_messages where task_id = ${task.id}`;
    expect(n).toBe(0);
  }, 120_000);
});
