// Runs the process-task edge function under Deno (npm `deno`), as `supabase functions serve` would:
// http://<host>:<port>/functions/v1/process-task. Used by `npm run functions:serve`, the dev script and tests.
// The function runs as it deploys: its own deno.json and deno.lock (--frozen: a lock out of date is an
// error, not a silent re-resolve), npm packages fetched by Deno into its cache, never the repo's node_modules.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { FUNCTIONS_PORT, repoRoot } from './local-config.ts';

export const FUNCTIONS_DIR = path.join(repoRoot, 'supabase', 'functions');
export const FUNCTION_ENTRY = path.join(FUNCTIONS_DIR, 'process-task', 'index.ts');
export const DEFAULT_LOCAL_SECRET = 'taskweave-local-process-task-secret';
const denoBin = path.join(repoRoot, 'node_modules', '.bin', 'deno');

export interface FunctionServerOptions {
  databaseUrl: string;
  port?: number; // 0 = a free port
  host?: string;
  /** PROCESS_TASK_SECRET; callers send it as the bearer key */
  secret?: string;
  /** extra env for the function: LLM_PROVIDER, OPENAI_BASE_URL, PROCESS_TASK_* knobs … */
  env?: Record<string, string | undefined>;
  onLog?: (line: string) => void;
  /** how long to wait for the server to answer */
  readyTimeoutMs?: number;
  /** a copy of supabase/functions to run instead of the repo's (the deploy-copy test) */
  functionsDir?: string;
  /** DENO_DIR for Deno's cache of npm packages (default: Deno's own) */
  denoDir?: string;
}

export interface FunctionServer {
  readonly url: string; // …/functions/v1/process-task
  readonly port: number;
  readonly secret: string;
  readonly process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
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
  const secret = options.secret ?? DEFAULT_LOCAL_SECRET;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...options.env })) if (v !== undefined) env[k] = v;
  Object.assign(env, {
    SUPABASE_DB_URL: options.databaseUrl,
    PROCESS_TASK_SECRET: secret,
    FUNCTIONS_PORT: String(port),
    FUNCTIONS_HOST: host,
    NO_COLOR: '1',
  });
  env.LLM_PROVIDER ??= 'demo';
  if (options.denoDir) env.DENO_DIR = options.denoDir;
  const entry = options.functionsDir ? path.join(options.functionsDir, 'process-task', 'index.ts') : FUNCTION_ENTRY;
  const child = spawn(
    denoBin,
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

  const url = `http://${host}:${port}/functions/v1/process-task`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`process-task exited (code ${exited}) before it listened:\n${output}`);
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
      throw new Error(`process-task did not listen on ${url} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    secret,
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
