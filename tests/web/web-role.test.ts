// Finding 11: the web tier logs in as taskweave_web, a role with least privilege. Outside withClaims it
// sees nothing and changes nothing; inside, the viewer's claims (trusted: taskweave_web is a front door)
// decide, and the history names the operator.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import postgres from 'postgres';
import { operator, plainUser, useTestDatabase } from '../helpers/database.ts';
import { createRoot, getTask, rejection } from '../helpers/tasks.ts';
import type { Claims, Sql } from '../../src/lib/db/identity.ts';

vi.mock('server-only', () => ({}));
const { parseServerEnv } = await import('../../src/lib/server/config.ts');
const { withClaims } = await import('../../src/lib/db/identity.ts');

const db = useTestDatabase();
let web: Sql;
beforeAll(() => {
  // exactly the URL the app's pool logs in with (src/lib/server/db.ts) for this DATABASE_URL
  const { loginUrl } = parseServerEnv({ DATABASE_URL: db.url }).database;
  expect(new URL(loginUrl).username).toBe('taskweave_web');
  web = postgres(loginUrl, { max: 2, onnotice: () => {} }) as unknown as Sql;
});
afterAll(async () => {
  await web?.end({ timeout: 2 });
});

describe('the web tier\'s login role', () => {
  it('is not a superuser, not the owner, cannot bypass RLS and is a member of authenticated only', async () => {
    const [role] = await db.sql`
      select r.rolsuper, r.rolinherit, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
             r.oid = (select nspowner from pg_namespace where nspname = 'taskweave') as owner,
             array(select g.rolname::text from pg_auth_members m join pg_roles g on g.oid = m.roleid where m.member = r.oid order by 1) as member_of
        from pg_roles r where r.rolname = 'taskweave_web'`;
    expect(role).toEqual({ rolsuper: false, rolinherit: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, owner: false, member_of: ['authenticated'] });
  });

  it('outside withClaims sees nothing and can change nothing', async () => {
    const root = await createRoot(db.sql, 'outside withClaims');
    for (const statement of [
      'select count(*) from taskweave.tasks',
      'select count(*) from taskweave.human_reviews',
      `select taskweave.cancel_task('${root.id}')`,
      `update taskweave.tasks set title = 'changed' where id = '${root.id}'`,
      `select taskweave.create_task('x', 'y')`,
      'select * from taskweave_private.model_limits',
    ]) {
      expect((await rejection(web.unsafe(statement))).code, statement).toBe('42501');
    }
    // and it cannot become anything but authenticated
    for (const role of ['service_role', 'postgres', 'anon']) {
      expect((await rejection(web.begin((tx) => tx.unsafe(`set local role ${role}`)))).code, role).toBe('42501');
    }
    expect((await getTask(db.sql, root.id)).status).toBe('pending');
  });

  it('inside withClaims, an operator reads and cancels, recorded by email; a plain user sees nothing', async () => {
    const root = await createRoot(db.sql, 'inside withClaims');
    const bob = plainUser().claims as Claims;
    expect(await withClaims(web, bob, (tx) => tx`select count(*)::int as n from taskweave.tasks`.then(([r]) => r.n))).toBe(0);
    const ada = operator('ada@example.com').claims as Claims;
    const [seen] = await withClaims(web, ada, (tx) => tx`select id from taskweave.tasks where id = ${root.id}`);
    expect(seen.id).toBe(root.id);
    await withClaims(web, ada, (tx) => tx`select taskweave.cancel_task(${root.id}, 'from the web')`);
    const [event] = await db.sql`select actor from taskweave.task_events where task_id = ${root.id} and to_status = 'cancelled'`;
    expect(event.actor).toBe('ada@example.com');
  });

  it('holds its own live-view lease (web:…) and no one else\'s', async () => {
    await web`select taskweave_private.watch_changes('web:test', 60)`;
    await web`select taskweave_private.unwatch_changes('web:test')`;
    expect((await rejection(web`select taskweave_private.watch_changes('mcp:someone', 60)`)).code).toBe('42501');
  });
});

describe('the web app\'s login URL (src/lib/server/config.ts)', () => {
  it('is DATABASE_URL as taskweave_web: the local password on loopback, the given one elsewhere, the pooler\'s project suffix kept', () => {
    const local = parseServerEnv({ DATABASE_URL: 'postgresql://postgres:postgres@127.0.0.1:54322/postgres' }).database;
    expect(local.url).toBe('postgresql://postgres:postgres@127.0.0.1:54322/postgres');
    expect(local.loginUrl).toBe('postgresql://taskweave_web:taskweave-web-local@127.0.0.1:54322/postgres');
    const pooled = parseServerEnv({ DATABASE_URL: 'postgresql://postgres.abcd:pw@aws-0-eu.pooler.supabase.com:5432/postgres', TASKWEAVE_WEB_DB_PASSWORD: 's3cret' }).database;
    expect(pooled.loginUrl).toBe('postgresql://taskweave_web.abcd:s3cret@aws-0-eu.pooler.supabase.com:5432/postgres');
    const given = 'postgresql://taskweave_web.abcd:x@db.example.com:5432/postgres';
    expect(parseServerEnv({ DATABASE_URL: 'postgresql://postgres:pw@db.example.com:5432/postgres', TASKWEAVE_WEB_DATABASE_URL: given }).database.loginUrl).toBe(given);
  });

  it('refuses a non-loopback database without the role\'s credentials instead of logging in as the owner', () => {
    expect(() => parseServerEnv({ DATABASE_URL: 'postgresql://postgres:pw@db.example.com:5432/postgres' })).toThrow(/TASKWEAVE_WEB_DATABASE_URL: the web app logs in as taskweave_web/);
  });
});

