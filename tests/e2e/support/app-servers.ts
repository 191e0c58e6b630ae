// Starts what the browser tests run against: a fresh database cloned from the migrated template, a
// production build of the web app (`next build`, skipped when up to date), and two `next start`
// servers on free loopback ports — one in local operator mode, one signing in through Supabase Auth
// (a fake GoTrue) — so both auth paths are exercised.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { bootstrapSupabaseRoles, createDatabaseFromTemplate, enableLocalWebLogin, ensureTemplateDatabase, hasSupabaseRoles } from '../../../scripts/lib/database-setup.ts';
import { databaseUrl, repoRoot, usesEmbeddedDatabase } from '../../../scripts/lib/local-config.ts';
import { startLocalPostgres } from '../../../scripts/lib/local-postgres.ts';
import { startFakeAuth } from './fake-auth.ts';

const nextBin = path.join(repoRoot, 'node_modules', 'next', 'dist', 'bin', 'next');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** `next build` unless .next holds a build newer than every source file (E2E_REBUILD=1 forces one). */
export async function ensureBuild(log: (line: string) => void): Promise<void> {
  const buildId = path.join(repoRoot, '.next', 'BUILD_ID');
  // the web app imports supabase/functions/_shared (review words, the task_changed lease) as well as src/
  const inputs = [path.join(repoRoot, 'src'), path.join(repoRoot, 'supabase', 'functions', '_shared'), path.join(repoRoot, 'next.config.js'), path.join(repoRoot, 'postcss.config.mjs'), path.join(repoRoot, 'package-lock.json')];
  const newestInput = Math.max(...inputs.map((p) => (fs.statSync(p).isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs)));
  if (process.env.E2E_REBUILD !== '1' && fs.existsSync(buildId) && fs.statSync(buildId).mtimeMs > newestInput) {
    log('reusing the existing production build (.next is newer than src/)');
    return;
  }
  log('building the web app (next build)…');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [nextBin, 'build'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`next build failed (${code}):\n${output}`))));
  });
}

export interface AppServer {
  url: string;
  process: ChildProcess;
  output: () => string;
}

export async function startNextServer(env: Record<string, string>): Promise<AppServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [nextBin, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', ...env },
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`next start exited (${child.exitCode}):\n${output}`);
    try {
      const response = await fetch(`${url}/sign-in`, { redirect: 'manual' });
      if (response.status < 500) return { url, process: child, output: () => output };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGTERM');
  throw new Error(`next start did not answer on ${url} within 60 s:\n${output}`);
}

export async function startTestStack(log: (line: string) => void = (line) => console.log(`[e2e] ${line}`)) {
  const serverUrl = databaseUrl();
  if (usesEmbeddedDatabase()) await startLocalPostgres(log);
  if (usesEmbeddedDatabase() || !(await hasSupabaseRoles(serverUrl))) await bootstrapSupabaseRoles(serverUrl);
  const template = await ensureTemplateDatabase(serverUrl);
  await enableLocalWebLogin(serverUrl);
  const database = await createDatabaseFromTemplate(serverUrl, template, 'taskweave_e2e');
  log(`fresh database ${database.name}`);
  const servers: AppServer[] = [];
  let auth: Awaited<ReturnType<typeof startFakeAuth>> | undefined;
  try {
    await ensureBuild(log);
    auth = await startFakeAuth();
    const [local, hosted] = await Promise.all([
      startNextServer({ DATABASE_URL: database.url, TASKWEAVE_LOCAL_OPERATOR: '1', TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION: '1' }),
      startNextServer({ DATABASE_URL: database.url, TASKWEAVE_LOCAL_OPERATOR: '0', NEXT_PUBLIC_SUPABASE_URL: auth.url, NEXT_PUBLIC_SUPABASE_ANON_KEY: 'e2e-anon-key' }),
    ]);
    servers.push(local, hosted);
    log(`local-operator app on ${local.url}, Supabase-Auth app on ${hosted.url}`);
    return {
      databaseUrl: database.url,
      localUrl: local.url,
      hostedUrl: hosted.url,
      async stop() {
        for (const server of servers) server.process.kill('SIGTERM');
        await auth?.close();
        await database.drop();
      },
    };
  } catch (error) {
    for (const server of servers) server.process.kill('SIGTERM');
    await auth?.close();
    await database.drop();
    throw error;
  }
}
