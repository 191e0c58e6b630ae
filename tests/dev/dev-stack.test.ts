// `npm run dev` as a newcomer runs it: a child process on a fresh database, driven through the demo to
// its end via the function and the SQL API, then Ctrl-C (SIGINT to its process group) leaves nothing behind.
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '../../scripts/lib/local-config.ts';
import { freePort, DEFAULT_LOCAL_SECRET } from '../../scripts/lib/function-server.ts';
import { endpointFile } from '../../scripts/lib/function-endpoint.ts';
import { connect, useTestDatabase, type Sql } from '../helpers/database.ts';

const serverUrl = inject('serverUrl');
const dbName = `taskweave_dev_${crypto.randomBytes(4).toString('hex')}`;
let sql: Sql | undefined;
let child: ChildProcess | undefined;

const stackDb = useTestDatabase();
const stackDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskweave-dev-stack-'));
let gateway: http.Server | undefined;
const others: ChildProcess[] = [];

afterAll(async () => {
  for (const other of others) {
    try {
      process.kill(-other.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await new Promise<void>((resolve) => (gateway ? gateway.close(() => resolve()) : resolve()));
  fs.rmSync(stackDataDir, { recursive: true, force: true });
  if (child?.pid && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await sql?.end({ timeout: 2 });
  const admin = connect(serverUrl, 1);
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.end();
});

function descendants(pid: number): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' });
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      found.push(c);
      walk(c);
    }
  };
  walk(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('npm run dev', () => {
  it('brings the stack up on a new database, runs the demo to the reviews page and through it, and stops cleanly on Ctrl-C', async () => {
    const admin = connect(serverUrl, 1);
    await admin.unsafe(`create database ${dbName}`);
    await admin.end();
    const databaseUrl = withDatabase(serverUrl, dbName);
    const [functionsPort, webPort] = [await freePort(), await freePort()];

    let output = '';
    const startedAt = Date.now();
    child = spawn('npm', ['run', 'dev'], {
      cwd: process.cwd(),
      detached: true, // its own process group, as a terminal session has
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        FUNCTIONS_PORT: String(functionsPort),
        WEB_PORT: String(webPort),
        LLM_PROVIDER: '',
        OPENAI_API_KEY: '',
        OPENAI_BASE_URL: '',
        ANTHROPIC_API_KEY: '',
        NO_COLOR: '1',
      },
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<string>((resolve) => child!.once('exit', (code, signal) => resolve(`${code}/${signal}`)));

    const readyLine = await waitFor('the ready line', async () => /Taskweave is ready in ([\d.]+)s/.exec(output) ?? (child!.exitCode !== null ? Promise.reject(new Error(`npm run dev exited early:\n${output}`)) : undefined), 240_000);
    const readySeconds = Number(readyLine[1]);
    console.log(`npm run dev: ready in ${readySeconds}s (wall ${((Date.now() - startedAt) / 1000).toFixed(1)}s including npm and tsx)`);
    expect(output).toContain('new database: applying migrations and the demo seed');
    expect(output).toContain('LLM_PROVIDER=demo');
    for (const prefix of ['db      │', 'fn      │', 'dispatch│', 'web     │', 'dev     │']) expect(output).toContain(prefix);

    sql = connect(databaseUrl, 2);
    // the seeded demo fans out; its failing topic lands in review
    const review = await waitFor('the demo review', async () => {
      const [row] = await sql!<{ id: string; title: string }[]>`
        select r.id, t.title from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id where r.status = 'open'`;
      return row;
    }, 90_000);
    expect(review.title).toBe('Employee wellbeing and retention outcomes');

    const reviewsPage = await fetch(`http://127.0.0.1:${webPort}/reviews`);
    expect(reviewsPage.status).toBe(200);
    expect(await reviewsPage.text()).toContain('Employee wellbeing and retention outcomes');

    // the function answers a curl-style call with the local key
    const invoke = await fetch(`http://127.0.0.1:${functionsPort}/functions/v1/process-task`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEFAULT_LOCAL_SECRET}`, 'content-type': 'application/json' },
      body: '{"max_tasks": 1}',
    });
    expect(invoke.status).toBe(200);
    expect(await invoke.json()).toHaveProperty('results');

    // the operator writes the missing result; the aggregator runs with all three and the run completes
    await sql`select taskweave.resolve_review(${review.id}, 'manual', ${sql.json({ text: 'Retention improved in every trial we read.' })})`;
    const aggregator = await waitFor('the aggregator to complete', async () => {
      const [row] = await sql!<{ status: string; output: { text?: string } }[]>`
        select status, output from taskweave.tasks where cardinality(dependent_task_ids) > 0 and status = 'completed'`;
      return row;
    }, 90_000);
    const summary = JSON.stringify(aggregator.output);
    for (const topic of ['Productivity evidence from four-day-week trials', 'Employee wellbeing and retention outcomes', 'Costs, customer coverage and operational risks']) {
      expect(summary).toContain(topic);
    }
    expect(summary).toContain('human operator');
    const [root] = await sql<{ status: string }[]>`select status from taskweave.tasks where parent_task_id is null`;
    expect(root.status).toBe('completed');

    // Ctrl-C: every process it started is gone
    const pids = [child.pid!, ...descendants(child.pid!)];
    expect(pids.length).toBeGreaterThanOrEqual(5); // npm, sh, tsx, node, deno, next…
    process.kill(-child.pid!, 'SIGINT');
    const ended = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    // npm itself ends by the same SIGINT, as in a terminal; dev.ts exits 0 after its orderly shutdown
    expect(['0/null', 'null/SIGINT', '130/null']).toContain(ended);
    await waitFor('every child process to exit', async () => pids.every((p) => !alive(p)), 10_000);
    expect(pids.filter(alive)).toEqual([]);
    expect(output).toContain('fn      │ stopped');
    expect(output).toContain('web     │ stopped');
  }, 420_000);
});

/** A stand-in for a `supabase start` stack's API gateway: Kong, as it answers a route it does not know. */
async function startFakeKong(): Promise<{ port: number; requests: string[] }> {
  const requests: string[] = [];
  gateway = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(404, { 'Content-Type': 'application/json; charset=utf-8', Server: 'kong/2.8.1' });
    res.end(JSON.stringify({ message: 'no Route matched with those values' }));
  });
  const port = await new Promise<number>((resolve) => gateway!.listen(0, '127.0.0.1', () => resolve((gateway!.address() as { port: number }).port)));
  return { port, requests };
}

describe('npm run dev next to a running `supabase start` stack', () => {
  it('serves the functions on a free port beside the stack’s gateway, and npm run task and the dispatcher find them', async () => {
    const kong = await startFakeKong();
    const webPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: stackDb.url,
      FUNCTIONS_PORT: String(kong.port), // the port the stack's gateway holds (54321 for a real one)
      WEB_PORT: String(webPort),
      TASKWEAVE_DATA_DIR: stackDataDir,
      LLM_PROVIDER: '',
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
      ANTHROPIC_API_KEY: '',
      NO_COLOR: '1',
    };
    delete env.PROCESS_TASK_SECRET;
    delete env.TASKWEAVE_MCP_URL;
    delete env.FUNCTIONS_URL;
    let output = '';
    const dev = spawn('npm', ['run', 'dev'], { cwd: process.cwd(), detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    others.push(dev);
    dev.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    dev.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<string>((resolve) => dev.once('exit', (code, signal) => resolve(`${code}/${signal}`)));
    await waitFor('the ready line', async () => /Taskweave is ready in/.test(output) || (dev.exitCode !== null ? Promise.reject(new Error(`npm run dev exited early:\n${output}`)) : undefined), 240_000);

    const moved = /API gateway holds port (\d+) \(kong\/2\.8\.1\): serving our functions on port (\d+) instead/.exec(output);
    expect(moved, output).not.toBeNull();
    expect(Number(moved![1])).toBe(kong.port);
    const ours = Number(moved![2]);
    expect(ours).not.toBe(kong.port);
    expect(output).toContain(`process-task http://127.0.0.1:${ours}/functions/v1/process-task`);
    expect(output).not.toContain(DEFAULT_LOCAL_SECRET);
    expect(JSON.parse(fs.readFileSync(endpointFile(stackDataDir), 'utf8'))).toMatchObject({
      processTask: `http://127.0.0.1:${ours}/functions/v1/process-task`,
      mcp: `http://127.0.0.1:${ours}/functions/v1/mcp`,
    });

    // npm run task, with no URL and no key set, reaches our endpoint, not the gateway; dev's dispatcher runs the task
    const task = await promisify(execFile)('npm', ['run', 'task', '--', '--no-follow', '--topics', 'Alpha,Beta', 'Compare two things'], { cwd: process.cwd(), env });
    expect(task.stdout).toContain(`via http://127.0.0.1:${ours}/functions/v1/mcp`);
    const rootId = /created root task ([0-9a-f-]{36})/.exec(task.stdout)![1];
    await waitFor('the run to complete', async () => {
      const [row] = await stackDb.sql<{ status: string }[]>`select status from taskweave.tasks where id = ${rootId}`;
      return row?.status === 'completed';
    }, 90_000);

    // so does a separate npm run dispatcher, with the key the functions accept
    let dispatcherOutput = '';
    const dispatcher = spawn('npm', ['run', 'dispatcher'], { cwd: process.cwd(), detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    others.push(dispatcher);
    dispatcher.stdout!.on('data', (c: Buffer) => (dispatcherOutput += c.toString()));
    dispatcher.stderr!.on('data', (c: Buffer) => (dispatcherOutput += c.toString()));
    await waitFor('the dispatcher to start', async () => dispatcherOutput.includes('dispatcher: listening'), 60_000);
    expect(dispatcherOutput).toContain(`invoking http://127.0.0.1:${ours}/functions/v1/process-task (from the running npm run dev / functions:serve)`);
    process.kill(-dispatcher.pid!, 'SIGINT');

    // the gateway was only asked who it is
    expect(kong.requests.every((r) => r === 'GET /')).toBe(true);

    process.kill(-dev.pid!, 'SIGINT');
    expect(['0/null', 'null/SIGINT', '130/null']).toContain(await exited);
    expect(fs.existsSync(endpointFile(stackDataDir))).toBe(false);
  }, 420_000);
});
