// A check shaped like Supabase: on hosted Supabase and under `supabase start`, migrations run as `postgres`,
// which is NOT a superuser: it may create roles and databases, bypasses RLS, is a member of anon,
// authenticated and service_role, and owns the database; auth.uid()/auth.jwt() were made before by GoTrue
// (supabase_auth_admin). Here a login role with exactly those powers applies the migrations and the seed
// with the real Supabase CLI, then changes settings and runs a fan-out to completion through the SQL API,
// and the Security Advisor (`supabase db advisors --type security --fail-on warn`) passes on the result.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bootstrapSupabaseRoles, runSupabaseCli } from '../../scripts/lib/database-setup.ts';
import { withDatabase } from '../../scripts/lib/local-config.ts';
import { connect, type Sql } from '../helpers/database.ts';
import { rejection, setSettings } from '../helpers/tasks.ts';

const suffix = crypto.randomBytes(4).toString('hex');
const role = `supabase_like_${suffix}`;
const password = crypto.randomBytes(12).toString('hex');
const database = `taskweave_supabase_like_${suffix}`;
const serverUrl = inject('serverUrl');
let url: string;
let sql: Sql;

function asRole(base: string): string {
  const u = new URL(withDatabase(base, database));
  u.username = role;
  u.password = password;
  return u.toString();
}

beforeAll(async () => {
  const admin = connect(serverUrl, 1);
  try {
    await admin.unsafe(`create role ${role} login password '${password}' nosuperuser createrole createdb bypassrls inherit`);
    await admin.unsafe(`grant anon, authenticated, service_role to ${role}`);
    // Roles belong to the whole server, and the template's migrations (run as a superuser) already made
    // Taskweave's two roles here. On a fresh project the migrating role makes them itself and so holds ADMIN
    // on them; it is given that here, as it would have it.
    await admin.unsafe(`grant taskweave_web, taskweave_sql_tool to ${role} with admin option`);
    await admin.unsafe(`create database ${database} owner ${role}`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  // what GoTrue and the image make before any migration: schema auth (supabase_admin's) with auth.uid()/jwt()
  await bootstrapSupabaseRoles(withDatabase(serverUrl, database));
  url = asRole(serverUrl);
  // the migrations and the seed, applied by that role with the real CLI
  await runSupabaseCli(['db', 'reset', `--remote=${url}`, '--yes'], url);
  sql = connect(url, 4);
}, 240_000);

afterAll(async () => {
  await sql?.end({ timeout: 2 });
  const admin = connect(serverUrl, 1);
  try {
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.unsafe(`drop role if exists ${role}`);
  } finally {
    await admin.end({ timeout: 2 });
  }
});

describe('Taskweave on a database shaped like Supabase (migrations by a non-superuser owner)', () => {
  it('the migrating role is what Supabase gives: no superuser, and no `alter database … set` of a custom parameter', async () => {
    const [me] = await sql`
      select r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls,
             pg_has_role(current_user, 'anon', 'member') and pg_has_role(current_user, 'authenticated', 'member')
               and pg_has_role(current_user, 'service_role', 'member') as api_member,
             (select datdba = r.oid from pg_database where datname = current_database()) as owns_database,
             (select nspowner <> r.oid from pg_namespace where nspname = 'auth') as auth_made_by_someone_else
        from pg_roles r where r.rolname = current_user`;
    expect(me).toEqual({
      rolsuper: false, rolcreaterole: true, rolcreatedb: true, rolbypassrls: true,
      api_member: true, owns_database: true, auth_made_by_someone_else: true,
    });
    expect(await rejection(sql.unsafe(`alter database ${database} set taskweave.max_running = 5`))).toMatchObject({
      code: '42501',
      message: 'permission denied to set parameter "taskweave.max_running"',
    });
    // the seed ran too
    expect((await sql`select count(*)::int as n from taskweave.tasks`)[0].n).toBeGreaterThan(0);
  });

  it('changes settings with set_settings', async () => {
    const settings = await setSettings(sql, { max_running: 5, max_children_per_task: 3 });
    expect(settings).toMatchObject({ max_running: 5, max_children_per_task: 3 });
    expect((await sql`select taskweave_private.setting_int('max_running', 100) as n`)[0].n).toBe(5);
  });

  it('runs a fan-out to completion through the SQL API', async () => {
    const [root] = await sql`select * from taskweave.create_task('supabase-shaped', 'fan out', '{}'::jsonb)`;
    await sql`select taskweave.claim_task(${root.id}, 'worker')`;
    const children = [];
    for (const n of [1, 2, 3]) {
      const [child] = await sql`select * from taskweave.create_parallel_task(${root.id}, ${'part ' + n}, 'x', '{}'::jsonb, ${'call-' + n}, 'worker')`;
      children.push(child);
    }
    // the fourth is over max_children_per_task = 3 (set above): the setting holds for this role
    expect((await rejection(sql`select taskweave.create_parallel_task(${root.id}, 'part 4', 'x', '{}'::jsonb, 'call-4', 'worker')`)).code).toBe('22023');
    await setSettings(sql, { max_children_per_task: null });
    const [aggregator] = await sql`
      select * from taskweave.create_aggregator_task(${root.id}, ${children.map((c) => c.id)}::uuid[], 'combine', 'x', 'call-agg', 'worker')`;
    expect(aggregator.status).toBe('queued');
    await sql`select taskweave.complete_task(${root.id}, 'worker', '{"source": "model", "text": "delegated", "model": "m", "steps": 1}')`;
    for (const child of children) {
      await sql`select taskweave.claim_task(${child.id}, 'worker')`;
      await sql`select taskweave.complete_task(${child.id}, 'worker', ${sql.json({ source: 'model', text: `result ${child.title}`, model: 'm', steps: 1 })})`;
    }
    const [activated] = await sql`select status from taskweave.tasks where id = ${aggregator.id}`;
    expect(activated.status).toBe('pending');
    await sql`select taskweave.claim_task(${aggregator.id}, 'worker')`;
    const results = await sql`select title, output ->> 'text' as text from taskweave.get_dependency_results(${aggregator.id})`;
    expect(results).toEqual(children.map((c) => ({ title: c.title, text: `result ${c.title}` })));
    await sql`select taskweave.complete_task(${aggregator.id}, 'worker', '{"source": "model", "text": "combined", "model": "m", "steps": 1}')`;
    const statuses = await sql`select status, count(*)::int as n from taskweave.tasks where root_task_id = ${root.id} group by status`;
    expect(statuses).toEqual([{ status: 'completed', n: 5 }]);
  });

  it('passes the Security Advisor with --fail-on warn, and the same check fails on a warning', async () => {
    const args = ['db', 'advisors', '--type', 'security', '--fail-on', 'warn', '--output-format', 'json', `--remote=${url}`];
    const clean = await runSupabaseCli(args, url);
    expect(clean).not.toMatch(/"level":\s*"(WARN|ERROR)"/);
    await sql.unsafe(`create function taskweave_private.advisor_probe() returns int language sql as 'select 1'`);
    try {
      const failed = await rejection(runSupabaseCli(args, url));
      expect(failed.message).toMatch(/function_search_path_mutable/);
      expect(failed.message).toMatch(/taskweave_private\.advisor_probe/);
    } finally {
      await sql.unsafe('drop function taskweave_private.advisor_probe()');
    }
  });
});
