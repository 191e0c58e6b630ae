// What `npm run doctor` checks on any database URL (local, a `supabase start` stack, a hosted project): each
// check says what is wrong in words a user can act on, and the command or dashboard step that fixes it.
// The facts come from the database itself (its migration history, taskweave.get_settings(),
// taskweave.hosted_dispatch_status()), so the doctor repeats no rule of the SQL API.
import fs from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import { repoRoot } from './local-config.ts';

type Sql = postgres.Sql<Record<string, unknown>>;

export interface Finding {
  ok: boolean;
  /** what was checked, or what is wrong */
  message: string;
  /** how to fix it (problems only) */
  fix?: string;
  /** true for a note that is not a problem (e.g. hosted dispatch off on a local database) */
  info?: boolean;
}

export interface DoctorOptions {
  /** check hosted dispatch as a problem even on a loopback address */
  hosted: boolean;
  /** connections each process-task invocation holds (PROCESS_TASK_DB_POOL) */
  functionPool: number;
  /** connections of the web app (TASKWEAVE_DB_POOL_SIZE) plus its LISTEN connection */
  webPool: number;
}

/** Connections besides the functions': the web app's pool and LISTEN, and the dispatcher's two. */
const DISPATCHER_CONNECTIONS = 2;

export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function migrationVersions(dir = path.join(repoRoot, 'supabase', 'migrations')): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{14}_.*\.sql$/.test(f))
    .map((f) => f.slice(0, 14))
    .sort();
}

const migrateFix = (url: string) =>
  isLoopback(url)
    ? `DATABASE_URL='<this url>' npm run db:migrate   (a project with its own migrations: copy supabase/migrations/*.sql into it, then npx supabase migration up)`
    : `npx supabase db push --remote   (from this checkout, linked with npx supabase link --project-ref <ref>; or DATABASE_URL='<this url>' npm run db:migrate)`;

async function exists(sql: Sql, query: string): Promise<boolean> {
  const [row] = await sql.unsafe<{ ok: boolean }[]>(query);
  return Boolean(row?.ok);
}

export async function runChecks(sql: Sql, url: string, options: DoctorOptions): Promise<Finding[]> {
  const findings: Finding[] = [];
  const hosted = options.hosted || !isLoopback(url);

  const [who] = await sql<{ version: string; login: string; superuser: boolean }[]>`
    select current_setting('server_version') as version, session_user as login,
           (select rolsuper from pg_roles where rolname = session_user) as superuser`;
  findings.push({ ok: true, message: `connected to Postgres ${who.version} as ${who.login}${who.superuser ? ' (superuser)' : ''}` });

  // Supabase's roles and auth helpers: the migrations grant to them and the policies call them
  const [roles] = await sql<{ missing: string[] }[]>`
    select array_remove(array[
      case when not exists (select 1 from pg_roles where rolname = 'anon') then 'role anon' end,
      case when not exists (select 1 from pg_roles where rolname = 'authenticated') then 'role authenticated' end,
      case when not exists (select 1 from pg_roles where rolname = 'service_role') then 'role service_role' end,
      case when to_regprocedure('auth.uid()') is null then 'function auth.uid()' end,
      case when to_regprocedure('auth.jwt()') is null then 'function auth.jwt()' end], null) as missing`;
  if (roles.missing.length > 0) {
    findings.push({
      ok: false,
      message: `what Supabase provides is missing: ${roles.missing.join(', ')}`,
      fix: `a plain Postgres: DATABASE_URL='<this url>' npm run db:migrate creates them first (scripts/sql/supabase-bootstrap.sql); on Supabase they always exist`,
    });
  } else {
    findings.push({ ok: true, message: 'Supabase roles (anon, authenticated, service_role) and auth.uid()/auth.jwt()' });
  }

  // migrations
  const expected = migrationVersions();
  if (!(await exists(sql, `select to_regclass('supabase_migrations.schema_migrations') is not null as ok`))) {
    findings.push({ ok: false, message: 'no migration history (supabase_migrations.schema_migrations): Taskweave is not installed here', fix: migrateFix(url) });
    return findings;
  }
  const applied = new Set((await sql<{ version: string }[]>`select version from supabase_migrations.schema_migrations`).map((r) => r.version));
  const missing = expected.filter((v) => !applied.has(v));
  if (missing.length > 0) {
    findings.push({
      ok: false,
      message: `${missing.length} of ${expected.length} Taskweave migrations are not applied: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
      fix: migrateFix(url),
    });
  } else {
    findings.push({ ok: true, message: `all ${expected.length} Taskweave migrations applied` });
  }
  if (!(await exists(sql, `select to_regprocedure('taskweave.get_settings()') is not null as ok`))) {
    findings.push({ ok: false, message: 'taskweave.get_settings() is missing: the database predates settings in a table (0.3.0)', fix: migrateFix(url) });
    return findings;
  }

  // settings: this login must be an operator to read them (the project's postgres role is)
  let settings: Record<string, number>;
  try {
    [{ settings }] = await sql<{ settings: Record<string, number> }[]>`select taskweave.get_settings() as settings`;
  } catch (error) {
    findings.push({
      ok: false,
      message: `cannot read the settings as ${who.login}: ${(error as Error).message}`,
      fix: 'connect as the role that ran the migrations (postgres on Supabase: Dashboard -> Connect -> session pooler or direct connection)',
    });
    return findings;
  }
  const [limits] = await sql<{ max_connections: number; reserved: number }[]>`
    select current_setting('max_connections')::int as max_connections,
           current_setting('superuser_reserved_connections')::int + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) as reserved`;
  const available = limits.max_connections - limits.reserved;
  const others = options.webPool + DISPATCHER_CONNECTIONS;
  const fitting = Math.max(1, Math.floor((available - others) / options.functionPool));
  if (settings.max_running === 0) {
    findings.push({
      ok: false,
      message: `max_running is 0 (no cap): invocations are unbounded and each holds up to ${options.functionPool} of the ${available} connections`,
      fix: `select taskweave.set_settings('{"max_running": ${fitting}}');`,
    });
  } else if (settings.max_running * options.functionPool + others > available) {
    findings.push({
      ok: false,
      message:
        `max_running = ${settings.max_running} needs up to ${settings.max_running} × ${options.functionPool} (PROCESS_TASK_DB_POOL) + ${others} (web app, dispatcher) = ` +
        `${settings.max_running * options.functionPool + others} connections; this database allows ${available}`,
      fix:
        `select taskweave.set_settings('{"max_running": ${fitting}}');   (or point the function at the transaction pooler, port 6543: ` +
        `npx supabase secrets set TASKWEAVE_DB_URL=postgres://postgres.<ref>:<password>@aws-0-<region>.pooler.supabase.com:6543/postgres)`,
    });
  } else {
    findings.push({ ok: true, message: `max_running = ${settings.max_running} fits the connection budget (${settings.max_running * options.functionPool + others} of ${available})` });
  }
  if (settings.retry_base_seconds > settings.retry_max_seconds) {
    findings.push({
      ok: false,
      message: `retry_base_seconds (${settings.retry_base_seconds}) is above retry_max_seconds (${settings.retry_max_seconds}): every retry waits retry_max_seconds`,
      fix: `select taskweave.set_settings('{"retry_base_seconds": ${settings.retry_max_seconds}}');`,
    });
  }

  // row level security on every Taskweave table
  const open = await sql<{ name: string }[]>`
    select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('taskweave', 'taskweave_private') and c.relkind in ('r', 'p') and not c.relrowsecurity order by 1`;
  if (open.length > 0) {
    findings.push({
      ok: false,
      message: `row level security is off on ${open.map((r) => r.name).join(', ')}`,
      fix: open.map((r) => `alter table ${r.name} enable row level security;`).join(' '),
    });
  } else {
    findings.push({ ok: true, message: 'row level security on every Taskweave table' });
  }

  // hosted dispatch
  const [{ status }] = await sql<{ status: HostedDispatchStatus }[]>`select taskweave.hosted_dispatch_status() as status`;
  if (status.ready && status.problems.length === 0) {
    findings.push({ ok: true, message: `hosted dispatch is on (${status.in_flight} of ${status.max_running} requests in flight)` });
  } else if (!hosted) {
    findings.push({
      ok: true,
      info: true,
      message: 'hosted dispatch is off (pg_net/pg_cron/Vault): locally `npm run dev` or `npm run dispatcher` does its job (--hosted checks it as for a hosted project)',
    });
  } else {
    for (const problem of status.problems) findings.push({ ok: false, message: `hosted dispatch: ${problem.problem}`, fix: problem.fix });
  }
  for (const failure of status.recent_failures.slice(0, 3)) {
    const code = failure.status_code;
    findings.push({
      ok: false,
      message: `hosted dispatch: a recent call to process-task failed (${code ?? (failure.timed_out ? 'timed out' : 'no answer')}${failure.error ? `: ${failure.error}` : ''})`,
      fix:
        code === 401
          ? 'the Vault secret process_task_secret must equal the function secret PROCESS_TASK_SECRET (npx supabase secrets set PROCESS_TASK_SECRET=…)'
          : code === 404
            ? 'deploy the function (npx supabase functions deploy process-task --no-verify-jwt) and check the Vault secret process_task_url'
            : code === 503
              ? 'set the function secret LLM_PROVIDER (npx supabase secrets set LLM_PROVIDER=openai OPENAI_API_KEY=…)'
              : 'read the function logs: Dashboard -> Edge Functions -> process-task -> Logs',
    });
  }
  return findings;
}

export interface HostedDispatchStatus {
  ready: boolean;
  in_flight: number;
  max_running: number;
  problems: { problem: string; fix: string }[];
  recent_failures: { status_code: number | null; timed_out: boolean | null; error: string | null }[];
}

export function formatFindings(findings: Finding[]): string {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.ok ? (f.info ? '  note' : '  ok  ') : '  FAIL'} ${f.message}`);
    if (!f.ok && f.fix) lines.push(`       fix: ${f.fix}`);
  }
  const problems = findings.filter((f) => !f.ok).length;
  lines.push('', problems === 0 ? 'No problems found.' : `${problems} problem${problems === 1 ? '' : 's'} found.`);
  return lines.join('\n');
}
