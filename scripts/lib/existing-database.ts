// Taskweave lives inside someone else's database. This module decides what the scripts may do to one:
// which objects in it are not Taskweave's (so `db:reset` must refuse and `dev` must not reset), and how
// pending migrations are applied without dropping anything (`db:migrate`, `dev`).
import fs from 'node:fs';
import path from 'node:path';
import { adminClient, bootstrapSupabaseRoles, hasSupabaseRoles, supabaseDbReset, supabaseMigrationUp } from './database-setup.ts';
import { repoRoot } from './local-config.ts';

/** Schemas Taskweave's migrations create, plus the CLI's migration history. */
// taskweave_demo: the offline demo's own data, made by supabase/seed.sql on a local database only
export const TASKWEAVE_SCHEMAS = ['taskweave', 'taskweave_private', 'taskweave_demo', 'supabase_migrations'] as const;

/** Schemas Supabase's image, its services or the local bootstrap provide; never the user's to lose here. */
export const SUPABASE_SCHEMAS = [
  'auth', 'extensions', 'storage', 'graphql', 'graphql_public', 'realtime', '_realtime', 'vault', 'net', 'cron',
  'pgsodium', 'pgsodium_masks', 'supabase_functions', 'pgbouncer', '_analytics', '_supavisor', 'pgtle',
  'information_schema', 'pg_catalog', 'pg_toast',
] as const;

/**
 * Extensions that Supabase's image enables, or that Taskweave's migrations may enable (pg_net, pg_cron for
 * hosted dispatch). `supabase db reset` keeps most of these and drops every other extension with cascade.
 */
export const SUPABASE_EXTENSIONS = [
  'plpgsql', 'pg_graphql', 'pg_net', 'pg_stat_statements', 'pgcrypto', 'pgjwt', 'pgsodium', 'supabase_vault',
  'uuid-ossp', 'pg_cron',
] as const;

export interface ForeignObject {
  /** e.g. `public.customers` */
  name: string;
  /** e.g. `table`, `function`, `schema`, `rows` */
  kind: string;
}

export const describeObject = (o: ForeignObject) => `${o.name} (${o.kind})`;

/**
 * Everything in the database that Taskweave did not make and Supabase does not provide: what a
 * `supabase db reset` would drop or empty. An empty list means the database holds only Taskweave's
 * objects and Supabase's own, so resetting it costs nobody anything.
 */
export async function foreignObjects(url: string): Promise<ForeignObject[]> {
  const sql = adminClient(url);
  const skip = [...TASKWEAVE_SCHEMAS, ...SUPABASE_SCHEMAS];
  try {
    const rows = await sql<ForeignObject[]>`
      with skip as (select unnest(${skip}::text[]) as nspname),
      members as (select classid, objid from pg_depend where deptype = 'e'),
      schemas as (
        select n.oid, n.nspname from pg_namespace n
        where n.nspname not in (select nspname from skip) and n.nspname not like 'pg\\_%'
      )
      select quote_ident(n.nspname) as name, 'schema' as kind, 1 as ord
      from schemas n
      where n.nspname <> 'public'
        and not exists (select 1 from members m where m.classid = 'pg_namespace'::regclass and m.objid = n.oid)
      union all
      select format('%I.%I', n.nspname, c.relname),
             case c.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'S' then 'sequence'
                            when 'f' then 'foreign table' else 'table' end, 0
      from pg_class c join schemas n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        and not exists (select 1 from members m where m.classid = 'pg_class'::regclass and m.objid = c.oid)
        -- a serial/identity column's sequence goes with its table
        and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')))
      union all
      select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
             case p.prokind when 'p' then 'procedure' when 'a' then 'aggregate' when 'w' then 'window function' else 'function' end, 2
      from pg_proc p join schemas n on n.oid = p.pronamespace
      where not exists (select 1 from members m where m.classid = 'pg_proc'::regclass and m.objid = p.oid)
      union all
      select format('%I.%I', n.nspname, t.typname),
             case t.typtype when 'e' then 'enum type' when 'd' then 'domain' when 'r' then 'range type' when 'm' then 'multirange type' else 'type' end, 3
      from pg_type t join schemas n on n.oid = t.typnamespace
      where t.typtype in ('c', 'd', 'e', 'r', 'b')
        and (t.typrelid = 0 or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
        and not exists (select 1 from pg_type a where a.typarray = t.oid)
        and not exists (select 1 from members m where m.classid = 'pg_type'::regclass and m.objid = t.oid)
      union all
      select quote_ident(e.extname), 'extension', 4
      from pg_extension e where e.extname <> all (${[...SUPABASE_EXTENSIONS]}::text[])
      union all
      -- the CLI's reset drops policies; Taskweave's are on its own tables
      select format('%I on %I.%I', p.polname, n.nspname, c.relname), 'policy', 5
      from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname not in (select unnest(${[...TASKWEAVE_SCHEMAS]}::text[]))
      union all
      select quote_ident(p.pubname), 'publication', 6
      from pg_publication p where p.pubname not like 'supabase\\_realtime%' and p.pubname not like 'realtime\\_messages%'
      order by ord, name`;
    const data: ForeignObject[] = [];
    // rows that a reset empties: signed-up users (auth tables are truncated), someone else's cron jobs
    const [probe] = await sql<{ users: boolean; cron: boolean }[]>`
      select to_regclass('auth.users') is not null as users, to_regclass('cron.job') is not null as cron`;
    if (probe.users) {
      const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from auth.users`;
      if (n > 0) data.push({ name: 'auth.users', kind: `${n} row${n === 1 ? '' : 's'}` });
    }
    if (probe.cron) {
      const jobs = await sql<{ jobname: string | null; jobid: number }[]>`
        select jobname, jobid::int from cron.job where coalesce(jobname, '') not like 'taskweave%' order by jobid`;
      for (const j of jobs) data.push({ name: `cron job ${j.jobname ?? `#${j.jobid}`}`, kind: 'pg_cron schedule' });
    }
    return [...rows.map(({ name, kind }) => ({ name, kind })), ...data];
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** "public.customers (table), private (schema), … and 4 more" */
export function summarizeObjects(objects: ForeignObject[], max = 6): string {
  const shown = objects.slice(0, max).map(describeObject).join(', ');
  return objects.length > max ? `${shown} and ${objects.length - max} more` : shown;
}

const migrationsDir = path.join(repoRoot, 'supabase', 'migrations');

/** The migration files in supabase/migrations, by version (the digits before the first `_`). */
export function localMigrations(): { version: string; file: string }[] {
  return fs
    .readdirSync(migrationsDir)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .sort()
    .map((file) => ({ version: file.slice(0, file.indexOf('_')), file }));
}

/** Versions recorded in supabase_migrations.schema_migrations; [] where the CLI never migrated this database. */
export async function appliedMigrations(url: string): Promise<string[]> {
  const sql = adminClient(url);
  try {
    const [{ exists }] = await sql<{ exists: boolean }[]>`select to_regclass('supabase_migrations.schema_migrations') is not null as exists`;
    if (!exists) return [];
    const rows = await sql<{ version: string }[]>`select version::text from supabase_migrations.schema_migrations order by version`;
    return rows.map((r) => r.version);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export class UnsafeDatabaseError extends Error {}

/**
 * Supabase roles and auth helpers where they are missing (a plain Postgres): returns what it created.
 * A real `supabase start` stack or hosted project already has them and is left alone.
 */
export async function ensureSupabaseBasics(url: string): Promise<string[]> {
  if (await hasSupabaseRoles(url)) return [];
  return bootstrapSupabaseRoles(url);
}

export interface MigrateOutcome {
  /** what the bootstrap created (empty on a Supabase database) */
  bootstrapped: string[];
  /** migration files applied now, in order */
  applied: string[];
}

/**
 * Applies the migrations this database has not had with `supabase migration up` (never a reset, never a
 * drop). Refuses, changing nothing, a database whose migration history holds versions that are not
 * Taskweave's: it belongs to a Supabase project of its own, whose history must stay its own.
 */
export async function migrateDatabase(url: string, options: { embedded?: boolean } = {}): Promise<MigrateOutcome> {
  const local = localMigrations();
  const known = new Set(local.map((m) => m.version));
  const applied = await appliedMigrations(url);
  const unknown = applied.filter((v) => !known.has(v));
  if (unknown.length) {
    const list = `${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`;
    throw new UnsafeDatabaseError(
      options.embedded
        ? `the embedded database has migrations this checkout does not have (${list}): another version of Taskweave made it. ` +
            'Rebuild it with `npm run db:reset -- --force` (its data is lost), or point DATABASE_URL elsewhere.'
        : `this database's migration history (supabase_migrations.schema_migrations) holds migrations that are not Taskweave's ` +
            `(${list}): it is managed by a Supabase project of its own, and applying Taskweave from here would split that history. ` +
            'Add Taskweave to that project instead: copy supabase/migrations/*.sql into its supabase/migrations folder, then run ' +
            '`supabase migration up` (local stack) or `supabase db push` (hosted). Nothing was changed.',
    );
  }
  const bootstrapped = await ensureSupabaseBasics(url);
  const pending = local.filter((m) => !applied.includes(m.version)).map((m) => m.file);
  if (pending.length) await supabaseMigrationUp(url);
  const after = new Set(await appliedMigrations(url));
  const missing = local.filter((m) => !after.has(m.version));
  if (missing.length) throw new Error(`supabase migration up left ${missing.map((m) => m.file).join(', ')} unapplied`);
  return { bootstrapped, applied: pending };
}

export type DevDatabaseOutcome =
  | { action: 'reset'; bootstrapped: string[] }
  | { action: 'migrated'; bootstrapped: string[]; applied: string[]; foreign: ForeignObject[] };

/**
 * `npm run dev`'s database step. A database that holds nothing (no Taskweave, nothing of anyone else's) is
 * built with `supabase db reset` and the demo seed; any other is only migrated, so its data stays.
 */
export async function prepareDevDatabase(
  url: string,
  options: { embedded?: boolean; log?: (line: string) => void } = {},
): Promise<DevDatabaseOutcome> {
  const [applied, foreign] = await Promise.all([appliedMigrations(url), foreignObjects(url)]);
  if (applied.length === 0 && foreign.length === 0 && !(await hasTaskweaveSchema(url))) {
    const bootstrapped = await ensureSupabaseBasics(url);
    options.log?.('new database: applying migrations and the demo seed (supabase db reset)…');
    await supabaseDbReset(url);
    return { action: 'reset', bootstrapped };
  }
  const outcome = await migrateDatabase(url, options);
  return { action: 'migrated', ...outcome, foreign };
}

async function hasTaskweaveSchema(url: string): Promise<boolean> {
  const sql = adminClient(url);
  try {
    const [{ ok }] = await sql<{ ok: boolean }[]>`select exists (select 1 from pg_namespace where nspname in ('taskweave', 'taskweave_private')) as ok`;
    return ok;
  } finally {
    await sql.end({ timeout: 2 });
  }
}
