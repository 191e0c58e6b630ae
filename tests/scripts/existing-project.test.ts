// Adding Taskweave to a project that already has data, as a user would: the scripts run as child processes
// with DATABASE_URL pointing at a database that has never seen Taskweave. Every object, row and grant of
// the user's survives `npm run db:migrate`, `npm run dev`'s database step and a refused `npm run db:reset`,
// and Taskweave works beside them afterwards.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabaseFromTemplate } from '../../scripts/lib/database-setup.ts';
import { foreignObjects, prepareDevDatabase } from '../../scripts/lib/existing-database.ts';
import { repoRoot, withDatabase } from '../../scripts/lib/local-config.ts';
import { asIdentity, connect, plainUser, type Sql } from '../helpers/database.ts';

const run = promisify(execFile);
const serverUrl = inject('serverUrl');
const created: string[] = [];
const clients: Sql[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end({ timeout: 2 })));
  const admin = connect(serverUrl, 1);
  for (const name of created) await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});

/** A new, empty database on the test server (not a clone of Taskweave's template). */
async function emptyDatabase(label: string): Promise<{ url: string; sql: Sql }> {
  const name = `taskweave_${label}_${crypto.randomBytes(4).toString('hex')}`;
  const admin = connect(serverUrl, 1);
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  created.push(name);
  const url = withDatabase(serverUrl, name);
  const sql = connect(url, 2);
  clients.push(sql);
  return { url, sql };
}

/** `npm run <script>` as a user types it, against this database. */
async function npmRun(script: string, url: string, args: string[] = []): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', script, ...(args.length ? ['--', ...args] : [])], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: url, NO_COLOR: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, out: `${stdout}${stderr}` };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const OWN = ['taskweave', 'taskweave_private', 'supabase_migrations'];

/**
 * Everything outside Taskweave's own schemas: schemas, relations, routines (with their source), policies,
 * triggers, ACLs, default privileges, extensions, and the user's rows.
 */
async function snapshot(sql: Sql, skipSchemas: string[] = []) {
  const skip = [...OWN, ...skipSchemas, 'pg_catalog', 'information_schema', 'pg_toast'];
  return {
    schemas: await sql`
      select nspname, nspowner::regrole::text as owner, nspacl::text as acl from pg_namespace
      where nspname <> all (${skip}::text[]) and nspname not like 'pg\\_temp%' and nspname not like 'pg\\_toast\\_temp%' order by 1`,
    relations: await sql`
      select n.nspname, c.relname, c.relkind, c.relowner::regrole::text as owner, c.relacl::text as acl, c.relrowsecurity,
             (select count(*)::int from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname <> all (${skip}::text[]) and n.nspname not like 'pg\\_%' order by 1, 2`,
    routines: await sql`
      select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) as args, p.proowner::regrole::text as owner,
             p.proacl::text as acl, p.prosecdef, p.proconfig::text as config, md5(p.prosrc) as source
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname <> all (${skip}::text[]) and n.nspname not like 'pg\\_%' order by 1, 2, 3`,
    policies: await sql`select schemaname, tablename, policyname, roles::text, cmd, qual, with_check from pg_policies where schemaname <> all (${skip}::text[]) order by 1, 2, 3`,
    triggers: await sql`
      select c.relname, t.tgname, t.tgenabled from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where not t.tgisinternal and n.nspname <> all (${skip}::text[]) order by 1, 2`,
    defaultPrivileges: await sql`select defaclrole::regrole::text as role, defaclnamespace, defaclobjtype, defaclacl::text as acl from pg_default_acl order by 1, 2, 3`,
    extensions: await sql`select extname, extversion, extnamespace::regnamespace::text as schema from pg_extension order by 1`,
    eventTriggers: await sql`select evtname from pg_event_trigger order by 1`,
    rows: await sql`select * from public.tasks order by id`,
  };
}

/** A project's own schema, much as Supabase projects have them: a `tasks` table, RLS helpers in `private`, an RPC. */
const USER_SCHEMA = `
  create table public.tasks (id bigint generated always as identity primary key, owner uuid not null, title text not null, done boolean not null default false);
  alter table public.tasks enable row level security;
  insert into public.tasks (owner, title) values
    ('00000000-0000-4000-8000-0000000000b1', 'water the plants'),
    ('00000000-0000-4000-8000-0000000000b1', 'file taxes'),
    ('00000000-0000-4000-8000-0000000000c2', 'someone else''s task');
  create schema private;
  create function private.owns_task(p_owner uuid) returns boolean
    language sql stable security definer set search_path = ''
    as $$ select p_owner = auth.uid() $$;
  revoke execute on function private.owns_task(uuid) from public;
  grant usage on schema private to authenticated;
  grant execute on function private.owns_task(uuid) to authenticated;
  create policy "owners read their tasks" on public.tasks for select to authenticated using (private.owns_task(owner));
  grant select on public.tasks to authenticated;
  create function public.open_task_titles() returns setof text
    language sql stable set search_path = ''
    as $$ select title from public.tasks where not done order by id $$;
  revoke execute on function public.open_task_titles() from public;
  grant execute on function public.open_task_titles() to authenticated;
`;

describe('adding Taskweave to an existing Supabase project', () => {
  let db: { url: string; sql: Sql };
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    db = await emptyDatabase('existing');
    // what the project's database already has from Supabase (roles, auth.uid()), then the user's own schema
    await db.sql.unsafe(fs.readFileSync(path.join(repoRoot, 'scripts', 'sql', 'supabase-bootstrap.sql'), 'utf8'));
    await db.sql.unsafe(USER_SCHEMA);
    before = await snapshot(db.sql);
    expect(before.rows).toHaveLength(3);
  });

  it('npm run db:migrate adds Taskweave and changes nothing of the project', async () => {
    const { code, out } = await npmRun('db:migrate', db.url);
    expect(code, out).toBe(0);
    expect(out).toMatch(/applied \d+ migrations?:/);
    expect(out).not.toContain('created role'); // a Supabase database: no bootstrap
    expect(await snapshot(db.sql)).toEqual(before);
    const [{ tables }] = await db.sql<{ tables: number }[]>`select count(*)::int as tables from pg_tables where schemaname = 'taskweave'`;
    expect(tables).toBeGreaterThan(0);

    const again = await npmRun('db:migrate', db.url);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('already up to date');
  });

  it("npm run dev's database step migrates, and neither resets nor seeds, a database with data", async () => {
    const [{ n: tasksBefore }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks`;
    const outcome = await prepareDevDatabase(db.url);
    expect(outcome.action).toBe('migrated');
    if (outcome.action === 'migrated') {
      expect(outcome.applied).toEqual([]);
      expect(outcome.foreign.map((o) => `${o.name} (${o.kind})`)).toEqual(
        expect.arrayContaining(['public.tasks (table)', 'private (schema)', 'private.owns_task(p_owner uuid) (function)', 'public.open_task_titles() (function)']),
      );
    }
    expect(await snapshot(db.sql)).toEqual(before);
    const [{ n: tasksAfter }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks`;
    expect(tasksAfter).toBe(tasksBefore); // no demo seed in someone's project
  });

  it('npm run db:reset refuses, naming what it would drop, and changes nothing', async () => {
    const [{ n: migrationsBefore }] = await db.sql<{ n: number }[]>`select count(*)::int as n from supabase_migrations.schema_migrations`;
    const { code, out } = await npmRun('db:reset', db.url);
    expect(code, out).toBe(1);
    expect(out).toContain('db:reset refused');
    expect(out).toContain('public.tasks (table)');
    expect(out).toContain('private (schema)');
    expect(out).toContain('--force');
    expect(out).not.toContain('supabase db reset --remote');
    expect(await snapshot(db.sql)).toEqual(before);
    const [{ n: migrationsAfter }] = await db.sql<{ n: number }[]>`select count(*)::int as n from supabase_migrations.schema_migrations`;
    expect(migrationsAfter).toBe(migrationsBefore);
  });

  it('Taskweave works beside the project, and the project works as before', async () => {
    const [task] = await db.sql<{ id: string; status: string }[]>`select * from taskweave.create_task('t', 'i')`;
    expect(task.status).toBe('pending');
    const claimed = await db.sql<{ id: string; status: string }[]>`select * from taskweave.claim_tasks('existing-project-worker')`;
    expect(claimed.map((t) => [t.id, t.status])).toEqual([[task.id, 'running']]);
    const [done] = await db.sql<{ status: string; output: unknown }[]>`
      select * from taskweave.complete_task(${task.id}, 'existing-project-worker', ${db.sql.json({ text: 'ok' })})`;
    expect(done).toMatchObject({ status: 'completed', output: { text: 'ok' } });

    // the project's RPC and RLS helper still answer its signed-in users
    const titles = await asIdentity(db.sql, plainUser(), (tx) => tx<{ title: string }[]>`select public.open_task_titles() as title`);
    expect(titles.map((r) => r.title)).toEqual(['water the plants', 'file taxes']); // RLS through private.owns_task
    const mine = await asIdentity(db.sql, plainUser(), (tx) => tx<{ title: string }[]>`select title from public.tasks order by id`);
    expect(mine.map((r) => r.title)).toEqual(['water the plants', 'file taxes']);
    const [grants] = await db.sql<{ rpc: boolean; anon_rpc: boolean; helper: boolean }[]>`
      select has_function_privilege('authenticated', 'public.open_task_titles()', 'execute') as rpc,
             has_function_privilege('anon', 'public.open_task_titles()', 'execute') as anon_rpc,
             has_function_privilege('authenticated', 'private.owns_task(uuid)', 'execute') as helper`;
    expect(grants).toEqual({ rpc: true, anon_rpc: false, helper: true });
  });
});

describe('npm run dev on a plain Postgres with data and no Taskweave yet', () => {
  it('migrates it (no reset, no seed), adds only what Supabase would, and keeps every object and row', async () => {
    const db = await emptyDatabase('plain');
    await db.sql.unsafe(`
      create table public.customers (id serial primary key, name text);
      insert into public.customers (name) values ('Ada');
      create table public.tasks (id serial primary key, title text);
      insert into public.tasks (title) values ('mine');
      create function public.count_tasks() returns bigint language sql as $$ select count(*) from public.tasks $$;
    `);
    // auth and extensions are what the bootstrap adds; everything else must be as it was
    const before = await snapshot(db.sql, ['auth', 'extensions']);
    const outcome = await prepareDevDatabase(db.url);
    expect(outcome.action).toBe('migrated');
    expect(outcome.bootstrapped).toContain('created function auth.uid()');
    if (outcome.action === 'migrated') expect(outcome.applied.length).toBeGreaterThan(0);
    expect(await snapshot(db.sql, ['auth', 'extensions'])).toEqual(before);
    const [{ name }] = await db.sql<{ name: string }[]>`select name from public.customers`;
    expect(name).toBe('Ada');
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks`;
    expect(n).toBe(0); // no demo seed in someone's database

    const { code, out } = await npmRun('db:migrate', db.url);
    expect(code, out).toBe(0);
    expect(out).toContain('already up to date');
    const [task] = await db.sql<{ status: string }[]>`select * from taskweave.create_task('t', 'i')`;
    expect(task.status).toBe('pending');
  });
});

describe('a database managed by a Supabase project of its own', () => {
  it('db:migrate refuses to write Taskweave into another project\'s migration history, changing nothing', async () => {
    const db = await emptyDatabase('history');
    await db.sql.unsafe(fs.readFileSync(path.join(repoRoot, 'scripts', 'sql', 'supabase-bootstrap.sql'), 'utf8'));
    await db.sql.unsafe(`
      create schema supabase_migrations;
      create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text);
      insert into supabase_migrations.schema_migrations values ('20240101000000', '{}', 'profiles');
      create table public.tasks (id int primary key);
    `);
    const before = await snapshot(db.sql);
    const { code, out } = await npmRun('db:migrate', db.url);
    expect(code, out).toBe(1);
    expect(out).toContain('20240101000000');
    expect(out).toContain('supabase db push');
    expect(await snapshot(db.sql)).toEqual(before);
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from pg_namespace where nspname like 'taskweave%'`;
    expect(n).toBe(0);
  });
});

describe('a database that holds only Taskweave', () => {
  it('has no foreign objects, and db:reset rebuilds it', async () => {
    const clone = await createDatabaseFromTemplate(serverUrl, inject('templateDatabase'), 'taskweave_resettable');
    created.push(clone.name);
    expect(await foreignObjects(clone.url)).toEqual([]);
    const { code, out } = await npmRun('db:reset', clone.url, ['--no-seed']);
    expect(code, out).toBe(0);
    expect(out).toContain('reset done');
  });
});
