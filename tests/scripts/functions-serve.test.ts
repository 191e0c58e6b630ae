// `npm run functions:serve` as a user runs it (issue 21, finding 9): it never prints a key, and it does not
// serve another machine with the published local key. Also the endpoint file it leaves for `npm run task`.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { DEFAULT_LOCAL_SECRET, freePort, serveSecret } from '../../scripts/lib/function-server.ts';
import { endpointFile } from '../../scripts/lib/function-endpoint.ts';

const db = useTestDatabase();
const children: ChildProcess[] = [];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskweave-serve-'));

afterAll(() => {
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // its group is gone
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function serve(env: Record<string, string | undefined>): Served {
  let output = '';
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, TASKWEAVE_DATA_DIR: dataDir, NO_COLOR: '1', ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const child = spawn('npm', ['run', 'functions:serve'], { cwd: process.cwd(), detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
  children.push(child);
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(what: string, served: Served, pattern: RegExp, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(served.output())) {
    if (served.child.exitCode !== null) throw new Error(`functions:serve exited before ${what}:\n${served.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${served.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stop(served: Served): Promise<void> {
  process.kill(-served.child.pid!, 'SIGINT');
  await served.exited;
}

describe('the key functions:serve takes', () => {
  it('is PROCESS_TASK_SECRET when set, the published key only on a loopback host, and refused on any other', () => {
    expect(serveSecret('127.0.0.1', undefined)).toEqual({ secret: DEFAULT_LOCAL_SECRET, published: true });
    expect(serveSecret('localhost', '')).toEqual({ secret: DEFAULT_LOCAL_SECRET, published: true });
    expect(serveSecret('::1', 'mine')).toEqual({ secret: 'mine', published: false });
    expect(serveSecret('0.0.0.0', 'a-long-random-one')).toEqual({ secret: 'a-long-random-one', published: false });
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'my-laptop.local']) {
      expect(serveSecret(host, undefined)).toMatchObject({ refused: expect.stringContaining('PROCESS_TASK_SECRET') });
      expect(serveSecret(host, DEFAULT_LOCAL_SECRET)).toMatchObject({ refused: expect.stringContaining('published local key') });
    }
  });
});

describe('npm run functions:serve', () => {
  it('on 0.0.0.0 without PROCESS_TASK_SECRET refuses to start, and nothing listens', async () => {
    const port = await freePort();
    const served = serve({ FUNCTIONS_HOST: '0.0.0.0', FUNCTIONS_PORT: String(port), PROCESS_TASK_SECRET: undefined });
    const code = await served.exited;
    expect(code).not.toBe(0);
    expect(served.output()).toContain('functions:serve refused: FUNCTIONS_HOST=0.0.0.0 serves other machines');
    expect(served.output()).not.toContain(DEFAULT_LOCAL_SECRET);
    await expect(fetch(`http://127.0.0.1:${port}/functions/v1/process-task`, { method: 'POST' })).rejects.toThrow();
  }, 60_000);

  it('on 0.0.0.0 with a secret of its own serves, and never prints that secret', async () => {
    const port = await freePort();
    const secret = `s-${crypto.randomBytes(16).toString('hex')}`;
    const served = serve({ FUNCTIONS_HOST: '0.0.0.0', FUNCTIONS_PORT: String(port), PROCESS_TASK_SECRET: secret });
    await until('the curl hint', served, /functions: try {2}curl/);
    const res = await fetch(`http://127.0.0.1:${port}/functions/v1/process-task`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
      body: '{"max_tasks": 1}',
    });
    expect(res.status).toBe(200);
    expect(served.output()).toContain('Authorization: Bearer $PROCESS_TASK_SECRET');
    expect(served.output()).not.toContain(secret);
    await stop(served);
    expect(served.output()).not.toContain(secret);
  }, 120_000);

  it('on loopback with the published key prints no key either, and leaves the endpoint file only while it runs', async () => {
    const port = await freePort();
    const served = serve({ FUNCTIONS_PORT: String(port), PROCESS_TASK_SECRET: undefined });
    await until('the curl hint', served, /functions: try {2}curl/);
    expect(served.output()).not.toContain(DEFAULT_LOCAL_SECRET);
    expect(served.output()).toContain('Bearer $TASKWEAVE_LOCAL_KEY');
    const file = JSON.parse(fs.readFileSync(endpointFile(dataDir), 'utf8'));
    expect(file).toMatchObject({
      processTask: `http://127.0.0.1:${port}/functions/v1/process-task`,
      mcp: `http://127.0.0.1:${port}/functions/v1/mcp`,
      publishedKey: true,
    });
    await stop(served);
    expect(fs.existsSync(endpointFile(dataDir))).toBe(false);
  }, 120_000);
});
