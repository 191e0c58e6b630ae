// The bootstrap that stands in for Supabase's image on a plain Postgres. Roles live in the cluster, which
// the test server shares with every other test file, so the test hides the existing ones by renaming them
// inside a transaction, runs the bootstrap there as on a server that never had them, and rolls back.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { repoRoot, withDatabase } from '../../scripts/lib/local-config.ts';
import { connect } from '../helpers/database.ts';

const serverUrl = inject('serverUrl');
const name = `taskweave_bootstrap_${crypto.randomBytes(4).toString('hex')}`;
const bootstrap = fs.readFileSync(path.join(repoRoot, 'scripts', 'sql', 'supabase-bootstrap.sql'), 'utf8');
const ROLES = ['anon', 'authenticated', 'service_role', 'authenticator', 'supabase_admin', 'supabase_auth_admin'];

afterAll(async () => {
  const admin = connect(serverUrl, 1);
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});

class Rollback extends Error {}

describe('scripts/sql/supabase-bootstrap.sql on a server without Supabase roles', () => {
  it('creates nologin roles, auth helpers only where missing, nothing in public, and says what it created', async () => {
    const admin = connect(serverUrl, 1);
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const notices: string[] = [];
    const sql = postgres(withDatabase(serverUrl, name), { max: 1, onnotice: (n) => notices.push(n.message) });
    // a function of the user's own in auth: the bootstrap must keep it, not replace it
    await sql.unsafe(`create schema auth; create function auth.uid() returns uuid language sql as $$ select '00000000-0000-4000-8000-000000000001'::uuid $$;`);
    const publicAcl = async (tx: postgres.TransactionSql) =>
      (await tx<{ acl: string | null }[]>`select nspacl::text as acl from pg_namespace where nspname = 'public'`)[0].acl;
    let checked = false;
    try {
      await sql.begin(async (tx) => {
        const suffix = crypto.randomBytes(3).toString('hex');
        for (const role of ROLES) {
          const [exists] = await tx`select 1 from pg_roles where rolname = ${role}`;
          if (exists) await tx.unsafe(`alter role ${role} rename to ${role}_hidden_${suffix}`);
        }
        const aclBefore = await publicAcl(tx);
        await tx.unsafe(bootstrap);

        const roles = await tx<{ rolname: string; rolcanlogin: boolean; rolsuper: boolean; has_password: boolean }[]>`
          select rolname, rolcanlogin, rolsuper, rolpassword is not null as has_password from pg_authid
          where rolname = any(${ROLES}) order by rolname`;
        expect(roles.map((r) => r.rolname)).toEqual([...ROLES].sort());
        for (const r of roles) expect(r, r.rolname).toMatchObject({ rolcanlogin: false, rolsuper: false, has_password: false });

        expect(notices).toEqual(
          expect.arrayContaining([
            'created role anon (nologin)',
            'created role authenticator (nologin)',
            'created schema extensions',
            'created function auth.role()',
            'created function auth.jwt()',
          ]),
        );
        expect(notices.join('\n')).not.toContain('auth.uid()'); // it existed: kept as it was
        const [{ uid }] = await tx<{ uid: string }[]>`select auth.uid()::text as uid`;
        expect(uid).toBe('00000000-0000-4000-8000-000000000001');

        // nothing in public: no grant on the schema, no default privileges anywhere
        expect(await publicAcl(tx)).toBe(aclBefore);
        const [{ n }] = await tx<{ n: number }[]>`select count(*)::int as n from pg_default_acl`;
        expect(n).toBe(0);

        // a second run finds everything and creates nothing
        notices.length = 0;
        await tx.unsafe(bootstrap);
        expect(notices.filter((m) => m.startsWith('created'))).toEqual([]);
        checked = true;
        throw new Rollback();
      });
    } catch (error) {
      if (!(error instanceof Rollback)) throw error;
    } finally {
      await sql.end({ timeout: 2 });
    }
    expect(checked).toBe(true);
    // the rollback gave every role its name back
    const check = connect(serverUrl, 1);
    const back = await check<{ rolname: string }[]>`select rolname from pg_roles where rolname = any(${ROLES})`;
    await check.end();
    expect(back.length).toBeGreaterThanOrEqual(3);
  });
});
