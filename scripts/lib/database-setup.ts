// Bringing a database to the current migrations: Supabase's roles on a plain Postgres, then the
// real Supabase CLI (`supabase db reset --remote=<url>`), plus per-test databases cloned from a template.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { LOCAL_DB_PORT, repoRoot, withDatabase } from './local-config.ts';

const run = promisify(execFile);
const supabaseBin = path.join(repoRoot, 'node_modules', '.bin', 'supabase');
const bootstrapFile = path.join(repoRoot, 'scripts', 'sql', 'supabase-bootstrap.sql');
const migrationsDir = path.join(repoRoot, 'supabase', 'migrations');

export function adminClient(url: string, max = 1) {
  return postgres(url, { max, onnotice: () => {}, connect_timeout: 10 });
}

/** Whether the database already has what Supabase's image provides (a real stack or hosted project). */
export async function hasSupabaseRoles(url: string): Promise<boolean> {
  const sql = adminClient(url);
  try {
    const [row] = await sql<{ ok: boolean }[]>`
      select exists (select 1 from pg_roles where rolname = 'anon')
         and exists (select 1 from pg_roles where rolname = 'authenticated')
         and exists (select 1 from pg_roles where rolname = 'service_role')
         and to_regprocedure('auth.jwt()') is not null
         and to_regprocedure('auth.uid()') is not null as ok`;
    return row.ok;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/**
 * Provide what Supabase's image has (API roles, schema auth with auth.uid()/role()/jwt()) where it is
 * missing, on a plain Postgres; returns what it created (empty where everything was there). Creates no
 * login role and touches nothing in public: see scripts/sql/supabase-bootstrap.sql.
 */
export async function bootstrapSupabaseRoles(url: string): Promise<string[]> {
  const created: string[] = [];
  const sql = postgres(url, {
    max: 1,
    connect_timeout: 10,
    onnotice: (notice) => {
      if (/^created /.test(notice.message ?? '')) created.push(notice.message);
    },
  });
  try {
    await sql.unsafe(fs.readFileSync(bootstrapFile, 'utf8'));
  } finally {
    await sql.end({ timeout: 2 });
  }
  return created;
}

/**
 * Runs the real Supabase CLI against a database URL. The CLI takes a URL whose port equals config.toml's
 * db.port for its own Docker database and asks Docker about it; there is no Docker stack here, so we move
 * the CLI's idea of that port out of the way and it talks to the URL directly, as for any remote.
 */
export async function runSupabaseCli(args: string[], url: string): Promise<string> {
  const { stdout, stderr } = await runSupabaseCliStreams(args, url);
  return `${stdout}${stderr}`;
}

/**
 * The port the CLI is told its own database has (SUPABASE_DB_PORT): any valid port but the URL's. Ours
 * (TASKWEAVE_DB_PORT) unless the URL is on it; then 10000 above, or below where above would pass 65535
 * (the CLI rejects such a port: "Invalid SUPABASE_DB_PORT").
 */
export function cliDatabasePort(urlPort: number, localPort = LOCAL_DB_PORT): number {
  if (urlPort !== localPort) return localPort;
  return urlPort + 10_000 <= 65_535 ? urlPort + 10_000 : urlPort - 10_000;
}

/** The environment in which the CLI talks to `url` directly (see runSupabaseCli). */
export function supabaseCliEnv(url: string): NodeJS.ProcessEnv {
  const { hostname, port } = new URL(url);
  const env: NodeJS.ProcessEnv = { ...process.env, SUPABASE_DB_PORT: String(cliDatabasePort(Number(port || 5432))) };
  // a loopback server has no TLS; say so instead of letting the CLI try and warn
  if (/^(127\.|localhost$|\[?::1\]?$)/.test(hostname) && !process.env.PGSSLMODE) env.PGSSLMODE = 'disable';
  return env;
}

/** Like runSupabaseCli, with the streams apart: the CLI prints its target and notices on stderr. */
export async function runSupabaseCliStreams(args: string[], url: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(supabaseBin, args, { cwd: repoRoot, env: supabaseCliEnv(url), maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`supabase ${args[0]} ${args[1] ?? ''} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** `supabase db reset --remote=<url> --yes`: drops what the migrations made, applies them all, then seed.sql unless noSeed. */
export function supabaseDbReset(url: string, options: { noSeed?: boolean } = {}): Promise<string> {
  return runSupabaseCli(['db', 'reset', `--remote=${url}`, '--yes', ...(options.noSeed ? ['--no-seed'] : [])], url);
}

/** `supabase migration up --remote=<url>`: applies only the migrations the database has not had; never wipes. */
export function supabaseMigrationUp(url: string): Promise<string> {
  return runSupabaseCli(['migration', 'up', `--remote=${url}`, '--yes'], url);
}

export const TYPES_HEADER = '// Generated by `npm run db:types` (supabase gen types) from the migrations. Do not edit by hand.\n';

/** The TypeScript types `supabase gen types` makes from the database's taskweave schema, with our header. */
export async function generateTypes(url: string): Promise<string> {
  const { stdout } = await runSupabaseCliStreams(['gen', 'types', '--lang=typescript', '--schema=taskweave', `--remote=${url}`], url);
  const start = stdout.indexOf('export type Json');
  if (start < 0 || !stdout.includes('export type Database')) throw new Error(`unexpected output from supabase gen types:\n${stdout.slice(0, 500)}`);
  return TYPES_HEADER + stdout.slice(start);
}

/** A digest of everything that shapes a fresh database: changes to it make a new test template. */
export function schemaDigest(): string {
  const hash = crypto.createHash('sha256');
  hash.update(fs.readFileSync(bootstrapFile));
  for (const file of fs.readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort()) {
    hash.update(file);
    hash.update(fs.readFileSync(path.join(migrationsDir, file)));
  }
  return hash.digest('hex').slice(0, 12);
}

/**
 * A template database at the current migrations (no seed), made once per schema digest with the real
 * `supabase db reset`, so each test file can clone a fresh database from it in milliseconds.
 */
export async function ensureTemplateDatabase(serverUrl: string): Promise<string> {
  const name = `taskweave_template_${schemaDigest()}`;
  const sql = adminClient(serverUrl);
  try {
    // one process at a time builds the template (several vitest runs may start together)
    await sql`select pg_advisory_lock(hashtext('taskweave_template'))`;
    const [existing] = await sql<{ datname: string; datistemplate: boolean }[]>`
      select datname, datistemplate from pg_database where datname = ${name}`;
    if (existing?.datistemplate) return name;
    if (existing) await sql.unsafe(`drop database ${name} with (force)`);
    const stale = await sql<{ datname: string }[]>`
      select datname from pg_database where datname like 'taskweave_template_%' and datname <> ${name}`;
    for (const { datname } of stale) {
      await sql.unsafe(`alter database ${datname} is_template false`);
      await sql.unsafe(`drop database ${datname} with (force)`);
    }
    await sql.unsafe(`create database ${name}`);
    // auth helpers and schemas live per database, so a new database needs them even where the roles exist
    await bootstrapSupabaseRoles(withDatabase(serverUrl, name));
    await supabaseDbReset(withDatabase(serverUrl, name), { noSeed: true });
    await sql.unsafe(`alter database ${name} is_template true allow_connections false`);
    return name;
  } finally {
    await sql`select pg_advisory_unlock(hashtext('taskweave_template'))`.catch(() => {});
    await sql.end({ timeout: 2 });
  }
}

/** A new database cloned from the template; returns its URL and a function that drops it. */
export async function createDatabaseFromTemplate(serverUrl: string, template: string, prefix = 'taskweave_test') {
  const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
  const sql = adminClient(serverUrl);
  try {
    // CREATE DATABASE ... TEMPLATE fails if another session is cloning the same template at once
    for (let attempt = 0; ; attempt++) {
      try {
        await sql.unsafe(`create database ${name} template ${template}`);
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt > 50) throw error;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await sql.end({ timeout: 2 });
  }
  return {
    name,
    url: withDatabase(serverUrl, name),
    async drop() {
      const admin = adminClient(serverUrl);
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end({ timeout: 2 });
      }
    },
  };
}
