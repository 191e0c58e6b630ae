// Runs the edge functions under Deno (npm `deno`), as `supabase functions serve` would:
// http://<host>:<port>/functions/v1/<name> for process-task and mcp. Each function is its own Deno
// process on a private port; a small Node proxy on the public port routes by name. Each runs as it
// deploys: its own deno.json and deno.lock (--frozen: a lock out of date is an error, not a silent
// re-resolve), npm packages fetched by Deno into its cache, never the repo's node_modules.
// Used by `npm run functions:serve`, the dev script and tests.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { FUNCTIONS_PORT, repoRoot } from './local-config.ts';
import { denoBinary, denoEnv, type DenoLine } from './deno-binaries.ts';
import { PUBLISHED_LOCAL_SECRET } from '../../supabase/functions/_shared/bearer.ts';

export const FUNCTIONS_DIR = path.join(repoRoot, 'supabase', 'functions');
export const FUNCTION_ENTRY = path.join(FUNCTIONS_DIR, 'process-task', 'index.ts');
export const FUNCTION_NAMES = ['process-task', 'mcp'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];
/** The key local servers use when PROCESS_TASK_SECRET is not set; published, so loopback only (see functions-serve.ts). */
export const DEFAULT_LOCAL_SECRET = PUBLISHED_LOCAL_SECRET;

export interface FunctionServerOptions {
  databaseUrl: string;
  port?: number; // 0 = a free port
  host?: string;
  /** PROCESS_TASK_SECRET; callers send it as the bearer key. null: none (the functions then take the keys of `env`, as under `supabase functions serve`) */
  secret?: string | null;
  /** extra env for the function: LLM_PROVIDER, OPENAI_BASE_URL, PROCESS_TASK_* knobs … */
  env?: Record<string, string | undefined>;
  onLog?: (line: string) => void;
  /** how long to wait for the server to answer */
  readyTimeoutMs?: number;
  /** which functions to serve (default: all of FUNCTION_NAMES) */
  functions?: readonly FunctionName[];
  /** a copy of supabase/functions to run instead of the repo's (the deploy-copy test) */
  functionsDir?: string;
  /** DENO_DIR for Deno's cache of npm packages (default: Deno's own) */
  denoDir?: string;
  /** which Deno runs the functions: `current` (default) or `edge`, the 2.1 line of Supabase's edge runtime */
  deno?: DenoLine;
}

export interface FunctionServer {
  readonly url: string; // …/functions/v1/process-task
  /** every served function's URL, e.g. urls.mcp = …/functions/v1/mcp */
  readonly urls: Partial<Record<FunctionName, string>>;
  readonly port: number;
  /** the key the servers were given ('' when none: they take the keys of their env) */
  readonly secret: string;
  /** process-task's Deno process (the first served function's when process-task is not served) */
  readonly process: ChildProcess;
  readonly processes: Partial<Record<FunctionName, ChildProcess>>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const isLoopbackHost = (host: string) => {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return /^127(\.\d{1,3}){3}$/.test(h) || h === '::1' || h === 'localhost';
};

/**
 * The key to serve with. PROCESS_TASK_SECRET when set; else the published local key, but only on a loopback
 * host: anyone who can reach another interface (0.0.0.0, a LAN address) could read that key in this repo.
 */
export function serveSecret(host: string, secret: string | undefined): { secret: string; published: boolean } | { refused: string } {
  const published = !secret || secret === DEFAULT_LOCAL_SECRET;
  if (published && !isLoopbackHost(host)) {
    return {
      refused:
        `FUNCTIONS_HOST=${host} serves other machines, and ${secret ? 'PROCESS_TASK_SECRET is' : 'without PROCESS_TASK_SECRET the functions would take'} ` +
        'the published local key, which anyone can read. Set PROCESS_TASK_SECRET to a long random string (e.g. `openssl rand -hex 32`), or serve on 127.0.0.1.',
    };
  }
  return { secret: secret || DEFAULT_LOCAL_SECRET, published };
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startFunctionServer(options: FunctionServerOptions): Promise<FunctionServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port === 0 ? await freePort(host) : (options.port ?? FUNCTIONS_PORT);
  const secret = options.secret === null ? '' : (options.secret ?? DEFAULT_LOCAL_SECRET);
  const names = options.functions ?? FUNCTION_NAMES;
  const started: Started[] = [];
  try {
    for (const name of names) started.push(await startDeno(name, options, secret, await freePort('127.0.0.1')));
  } catch (error) {
    await Promise.all(started.map((f) => f.stop('SIGKILL')));
    throw error;
  }
  const proxy = await startProxy(host, port, new Map(started.map((f) => [f.name, f.port])));
  const base = `http://${host}:${port}/functions/v1`;
  const urls = Object.fromEntries(started.map((f) => [f.name, `${base}/${f.name}`])) as Partial<Record<FunctionName, string>>;
  const main = started.find((f) => f.name === 'process-task') ?? started[0];
  return {
    url: `${base}/${main.name}`,
    urls,
    port,
    secret,
    process: main.process,
    processes: Object.fromEntries(started.map((f) => [f.name, f.process])) as Partial<Record<FunctionName, ChildProcess>>,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const closed = new Promise<void>((resolve) => proxy.close(() => resolve()));
      proxy.closeAllConnections();
      await Promise.all([...started.map((f) => f.stop(signal)), closed]);
    },
  };
}

interface Started {
  name: FunctionName;
  port: number;
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** One function under Deno on a private loopback port; resolves once it answers HTTP. */
async function startDeno(name: FunctionName, options: FunctionServerOptions, secret: string, port: number): Promise<Started> {
  const host = '127.0.0.1';
  const entry = path.join(options.functionsDir ?? FUNCTIONS_DIR, name, 'index.ts');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v;
  const line = options.deno ?? 'current';
  Object.assign(env, denoEnv(line, env as NodeJS.ProcessEnv), {
    // the name a user sets (hosted secrets may not start with SUPABASE_); it wins over an inherited SUPABASE_DB_URL
    TASKWEAVE_DB_URL: options.databaseUrl,
    FUNCTIONS_PORT: String(port),
    FUNCTIONS_HOST: host,
    NO_COLOR: '1',
  });
  if (secret) env.PROCESS_TASK_SECRET = secret;
  else delete env.PROCESS_TASK_SECRET;
  env.LLM_PROVIDER ??= 'demo';
  if (options.denoDir) env.DENO_DIR = options.denoDir;
  const child = spawn(
    denoBinary(line),
    ['run', '--frozen', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', '--no-prompt', entry],
    { cwd: path.dirname(entry), env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = options.onLog ?? (() => {});
  let exited: number | null | undefined;
  let output = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-8_000);
    for (const line of text.split('\n')) if (line.trim()) log(line);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = code), resolve())));
  // never leave a Deno server behind when the process that started it ends
  const killChild = () => {
    if (exited === undefined) child.kill('SIGKILL');
  };
  process.once('exit', killChild);
  child.once('exit', () => process.removeListener('exit', killChild));

  const url = `http://${host}:${port}/functions/v1/${name}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`${name} exited (code ${exited}) before it listened:\n${output}`);
    try {
      // any answer of the function's own (405 for GET) means it listens
      const res = await fetch(url, { method: 'GET' });
      await res.arrayBuffer();
      if (res.status === 405) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not listen on ${url} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name,
    port,
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited !== undefined) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

/**
 * The public port: /functions/v1/<name>[/…] goes to that function's Deno process, byte for byte both
 * ways (streamed, so a long wait or an event stream passes); anything else is a 404 of the proxy's own.
 */
async function startProxy(host: string, port: number, targets: Map<FunctionName, number>): Promise<http.Server> {
  const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
  const without = (raw: string[]) => raw.filter((_, i) => i % 2 === 0).flatMap((k, i) => (hopByHop.has(k.toLowerCase()) ? [] : [k, raw[2 * i + 1]]));
  const json = (res: http.ServerResponse, status: number, code: string, message: string) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ error: { code, message } }));
  };
  const server = http.createServer((req, res) => {
    const name = /^\/functions\/v1\/([^/?#]+)/.exec(req.url ?? '')?.[1];
    const target = name ? targets.get(name as FunctionName) : undefined;
    if (!target) {
      req.resume();
      return json(res, 404, 'not_found', `no function at ${(req.url ?? '').split('?')[0].slice(0, 200)}`);
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: without(req.rawHeaders) },
      (answer) => {
        const headers = without(answer.rawHeaders);
        // answered before the caller finished sending (a 413, say): this connection cannot be reused
        if (!req.complete) headers.push('Connection', 'close');
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
        answer.on('aborted', () => res.destroy()); // cut off mid-answer: so is the caller
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      // the function stopped reading (it answered early, e.g. 413) or died: drain what the caller still sends
      req.unpipe(upstream);
      req.resume();
      // an answer that has begun stands (its own stream ends it); before any answer, a function that
      // died takes the caller's connection with it, as it would without the proxy in between
      if (!res.headersSent) res.destroy();
    });
    // a caller that hangs up ends the function's request too (its req.signal aborts)
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.requestTimeout = 0; // a tool may wait up to 50 s; the functions bound their own requests
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => (server.off('error', reject), resolve()));
  });
  return server;
}
