// npm run dev — the whole local stack in one command, with no Docker and no keys:
//   database (embedded Postgres, or DATABASE_URL, or a `supabase start` stack's) -> migrations (+ seed when
//   the database is new) -> process-task and mcp under Deno -> dispatcher -> Next.js web app.
// Next to a running `supabase start` stack (its API gateway holds 54321, its Postgres 54322) it uses that
// stack's database and serves our functions on a free port, which it prints and writes to the endpoint file
// (<data dir>/functions.json) where `npm run task` and `npm run dispatcher` find it.
// Ctrl-C stops everything it started (and the embedded database, if it started it), in reverse order.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import {
  FUNCTIONS_PORT,
  LOCAL_DB_URL,
  WEB_PORT,
  databaseUrl,
  redactUrl,
  repoRoot,
  usesEmbeddedDatabase,
} from './lib/local-config.ts';
import { removeEndpointFile, writeEndpointFile } from './lib/function-endpoint.ts';
import { isSupabaseStackDatabase, supabaseGatewayAt } from './lib/supabase-stack.ts';
import { prepareDevDatabase, summarizeObjects, UnsafeDatabaseError } from './lib/existing-database.ts';
import { LocalDatabaseError, probeLocalPort, startLocalPostgres, stopLocalPostgres } from './lib/local-postgres.ts';
import { DEFAULT_LOCAL_SECRET, freePort, startFunctionServer, type FunctionServer } from './lib/function-server.ts';
import { startDispatcher, type Dispatcher } from './lib/dispatcher.ts';

const started = performance.now();
let functionsPort = Number(process.env.FUNCTIONS_PORT || FUNCTIONS_PORT);
const webPort = Number(process.env.WEB_PORT || process.env.PORT || WEB_PORT);
let dbUrl = databaseUrl();
/** the embedded server is ours to start; a `supabase start` stack found on its port is not */
let embedded = usesEmbeddedDatabase();
const secret = process.env.PROCESS_TASK_SECRET || DEFAULT_LOCAL_SECRET;

const colors = { dev: 36, db: 34, fn: 35, dispatch: 33, web: 32 } as const;
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
function log(part: keyof typeof colors, line: string) {
  const label = part.padEnd(8);
  console.log(useColor ? `\x1b[${colors[part]}m${label}\x1b[0m│ ${line}` : `${label}│ ${line}`);
}
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;

/** Which model the function uses: a configured provider, else the offline demo model. */
function chooseModel(): { provider: string; why: string } {
  if (process.env.LLM_PROVIDER) return { provider: process.env.LLM_PROVIDER, why: 'LLM_PROVIDER is set' };
  if (process.env.OPENAI_API_KEY || process.env.OPENAI_BASE_URL) return { provider: 'openai', why: 'OPENAI_API_KEY/OPENAI_BASE_URL is set' };
  if (process.env.ANTHROPIC_API_KEY) return { provider: 'anthropic', why: 'ANTHROPIC_API_KEY is set' };
  return { provider: 'demo', why: 'no API key is set: the offline demo model' };
}

async function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

class StartupError extends Error {}

let functionServer: FunctionServer | undefined;
let dispatcher: Dispatcher | undefined;
let web: ChildProcess | undefined;
let startedDatabase = false;
let stopping = false;

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  log('dev', 'stopping…');
  if (web?.pid && web.exitCode === null) {
    // next dev runs workers of its own: signal the whole process group
    try {
      process.kill(-web.pid, 'SIGTERM');
    } catch {
      web.kill('SIGTERM');
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        try {
          process.kill(-web!.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
        resolve();
      }, 5_000);
      web!.once('exit', () => (clearTimeout(timer), resolve()));
    });
    log('web', 'stopped');
  }
  if (dispatcher) {
    await dispatcher.stop().catch(() => {});
    log('dispatch', 'stopped');
  }
  if (functionServer) {
    removeEndpointFile();
    await functionServer.stop().catch(() => {});
    log('fn', 'stopped');
  }
  if (startedDatabase) {
    await stopLocalPostgres().catch((e) => log('db', `could not stop cleanly: ${(e as Error).message}`));
    log('db', 'stopped (data kept in .data/postgres)');
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

async function main() {
  log('dev', `starting Taskweave (${process.platform}, node ${process.version})`);
  // a `supabase start` stack's Postgres on the local database port: use it, never start (or stop) our own there
  if (embedded) {
    const probe = await probeLocalPort();
    if (probe.kind === 'postgres' && (await isSupabaseStackDatabase(LOCAL_DB_URL).catch(() => false))) {
      embedded = false;
      dbUrl = LOCAL_DB_URL;
      log('db', `a \`supabase start\` stack's Postgres holds ${new URL(LOCAL_DB_URL).host}: using its database (set DATABASE_URL to choose another)`);
    }
  }
  if (!(await portIsFree(functionsPort))) {
    // the stack's API gateway (Kong) holds 54321 and routes /functions/v1 to its own edge runtime, not to ours
    const gateway = await supabaseGatewayAt(functionsPort);
    if (gateway) {
      const taken = functionsPort;
      functionsPort = await freePort();
      log('fn', `a \`supabase start\` stack's API gateway holds port ${taken} (${gateway}): serving our functions on port ${functionsPort} instead`);
    }
  }
  for (const [name, port] of [['process-task', functionsPort], ['web app', webPort]] as const) {
    if (!(await portIsFree(port))) {
      throw new StartupError(
        `port ${port} (${name}) is already in use. Stop what holds it (\`ss -ltnp | grep :${port}\`), or choose another port with ` +
          `${name === 'web app' ? 'WEB_PORT' : 'FUNCTIONS_PORT'}=<port> npm run dev.`,
      );
    }
  }

  // 1. database
  if (embedded) {
    const outcome = await startLocalPostgres((line) => log('db', line));
    startedDatabase = outcome === 'started';
    log('db', `${outcome === 'started' ? 'started' : 'already running (left running on exit)'}: ${redactUrl(dbUrl)} (${elapsed()})`);
  } else {
    log('db', `using DATABASE_URL ${redactUrl(dbUrl)}`);
  }
  // a database with anything in it is only migrated; only an empty one gets a reset and the demo seed
  const prepared = await prepareDevDatabase(dbUrl, { embedded, log: (line) => log('db', line) });
  for (const line of prepared.bootstrapped) log('db', `bootstrap: ${line}`);
  if (prepared.action === 'reset') {
    log('db', `migrated and seeded (${elapsed()})`);
  } else {
    if (prepared.foreign.length) log('db', `the database holds objects of its own (${summarizeObjects(prepared.foreign, 3)}): migrating only, no reset, no demo seed`);
    log('db', prepared.applied.length ? `applied ${prepared.applied.length} new migration(s): ${prepared.applied.join(', ')}; existing data kept` : 'migrations up to date; existing data kept');
  }

  // 2. process-task under Deno
  const model = chooseModel();
  log('fn', `starting process-task under Deno with LLM_PROVIDER=${model.provider} (${model.why})`);
  functionServer = await startFunctionServer({
    databaseUrl: dbUrl,
    port: functionsPort,
    secret,
    env: { LLM_PROVIDER: model.provider, TASKWEAVE_WEB_URL: process.env.TASKWEAVE_WEB_URL || `http://127.0.0.1:${webPort}` },
    onLog: (line) => log('fn', line),
  });
  const file = writeEndpointFile({ processTask: functionServer.url, mcp: functionServer.urls.mcp, pid: process.pid, publishedKey: secret === DEFAULT_LOCAL_SECRET });
  log('fn', `ready: ${functionServer.url} (${elapsed()}); npm run task and npm run dispatcher find it through ${path.relative(repoRoot, file) || file}`);

  // 3. dispatcher
  dispatcher = await startDispatcher({
    databaseUrl: dbUrl,
    functionUrl: functionServer.url,
    secret,
    concurrency: process.env.DISPATCHER_CONCURRENCY ? Number(process.env.DISPATCHER_CONCURRENCY) : undefined,
    sweepIntervalMs: Number(process.env.DISPATCHER_SWEEP_MS || 2_000),
    log: (line) => log('dispatch', line),
  });
  log('dispatch', `listening for task_ready (${elapsed()})`);

  // 4. web app
  const nextBin = path.join(repoRoot, 'node_modules', '.bin', 'next');
  web = spawn(nextBin, ['dev', '-H', '127.0.0.1', '-p', String(webPort)], {
    cwd: repoRoot,
    detached: true, // its own process group, so shutdown reaches next's workers too
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: dbUrl, TASKWEAVE_LOCAL_OPERATOR: process.env.TASKWEAVE_LOCAL_OPERATOR ?? '1', NEXT_TELEMETRY_DISABLED: '1' },
  });
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) log('web', line.trimEnd());
  };
  web.stdout!.on('data', forward);
  web.stderr!.on('data', forward);
  web.once('exit', (code) => {
    if (!stopping) {
      log('web', `exited (code ${code}); stopping the stack`);
      void shutdown(1);
    }
  });
  const webUrl = `http://127.0.0.1:${webPort}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`${webUrl}/reviews`, { redirect: 'manual' });
      await res.arrayBuffer();
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new StartupError(`the web app did not answer on ${webUrl} within 2 minutes`);
    await new Promise((r) => setTimeout(r, 250));
  }

  log('dev', '');
  log('dev', `Taskweave is ready in ${elapsed()}`);
  log('dev', `  reviews      ${webUrl}/reviews`);
  log('dev', `  overview     ${webUrl}/`);
  log('dev', `  process-task ${functionServer.url}  (Authorization: Bearer ${secret === DEFAULT_LOCAL_SECRET ? '<the local default key: README → Configuration>' : '$PROCESS_TASK_SECRET'})`);
  if (functionServer.urls.mcp) log('dev', `  mcp          ${functionServer.urls.mcp}  (MCP over streamable HTTP, the same bearer key)`);
  log('dev', `  database     ${redactUrl(dbUrl)}`);
  log('dev', `  model        ${model.provider}`);
  log('dev', '  submit a task: npm run task -- "Compare three note-taking apps"   ·   Ctrl-C stops everything');
  void dispatcher.sweep();
}

main().catch(async (error) => {
  const known = error instanceof StartupError || error instanceof LocalDatabaseError || error instanceof UnsafeDatabaseError;
  log('dev', `failed: ${known ? error.message : (error as Error).stack ?? error}`);
  await shutdown(1);
});
