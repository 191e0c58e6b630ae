// `npm run db:reset` tells the Supabase CLI a port for its own database that is not the URL's. It used to be
// the URL's port + 10000, which past 55535 is no port at all: with TASKWEAVE_DB_PORT=61xxx the CLI stopped
// with "Invalid SUPABASE_DB_PORT". Reproduced for real: the database is reached through a TCP forwarder
// on a port above 61000.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { cliDatabasePort } from '../../scripts/lib/database-setup.ts';

const run = promisify(execFile);
const db = useTestDatabase();
let forwarder: net.Server | undefined;
afterAll(() => new Promise<void>((resolve) => (forwarder ? forwarder.close(() => resolve()) : resolve())));

/** A TCP forwarder to the test server on a free port above 61000 (above Linux's ephemeral range). */
async function forwardHigh(target: number): Promise<number> {
  for (;;) {
    const port = 61_000 + Math.floor(Math.random() * 4_500);
    const server = net.createServer((socket) => {
      const upstream = net.connect(target, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      forwarder = server;
      return port;
    }
  }
}

describe('the CLI database port', () => {
  it('is never the URL’s, and always a port', () => {
    expect(cliDatabasePort(54322, 54322)).toBe(64322);
    expect(cliDatabasePort(55535, 55535)).toBe(65535);
    expect(cliDatabasePort(55536, 55536)).toBe(45536);
    expect(cliDatabasePort(65535, 65535)).toBe(55535);
    expect(cliDatabasePort(5432, 54322)).toBe(54322);
  });

  it('lets npm run db:reset work with TASKWEAVE_DB_PORT above 55535', async () => {
    const target = Number(new URL(db.url).port);
    const port = await forwardHigh(target);
    const url = new URL(db.url);
    url.port = String(port);
    const { stdout, stderr } = await run('npm', ['run', 'db:reset', '--', '--force', '--no-seed'], {
      cwd: process.cwd(),
      env: { ...process.env, TASKWEAVE_DB_PORT: String(port), DATABASE_URL: url.toString() },
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(`${stdout}${stderr}`).not.toContain('Invalid SUPABASE_DB_PORT');
    expect(stdout).toContain('db: reset done');
    const [row] = await db.sql`select count(*)::int as n from pg_proc where pronamespace = 'taskweave'::regnamespace and proname = 'claim_tasks'`;
    expect(row.n).toBe(1);
  }, 180_000);
});
