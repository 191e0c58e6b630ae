// `npm run doctor` against the test database, as a user runs it: a child process given the database URL.
// A healthy database passes; each thing that breaks is named with its fix, and the exit code says so.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { migrationVersions } from '../../scripts/lib/doctor.ts';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { installHostedStandIns } from '../helpers/hosted-stand-ins.ts';
import { setSettings } from '../helpers/tasks.ts';

const db = useTestDatabase();
const run = promisify(execFile);

async function doctor(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(path.join(repoRoot, 'node_modules', '.bin', 'tsx'), ['scripts/doctor.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, DATABASE_URL: '' },
    });
    return { code: 0, out: stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('npm run doctor', () => {
  it('passes a fully migrated database, and notes that hosted dispatch is off locally', async () => {
    const { code, out } = await doctor(db.url);
    expect(out).toContain(`ok   all ${migrationVersions().length} Taskweave migrations applied`);
    expect(out).toContain('ok   max_running = 100 fits the connection budget');
    expect(out).toContain('note hosted dispatch is off');
    expect(out).toContain('No problems found.');
    expect(code).toBe(0);
  });

  it('names a missing migration, an uncapped or oversized max_running, and open RLS, each with its fix', async () => {
    const last = migrationVersions().at(-1)!;
    await db.sql`delete from supabase_migrations.schema_migrations where version = ${last}`;
    await setSettings(db.sql, { max_running: 0, retry_base_seconds: 900 });
    await db.sql`create table taskweave.scratch (id int)`;
    const { code, out } = await doctor(db.url);
    expect(code).toBe(1);
    expect(out).toContain(`FAIL 1 of ${migrationVersions().length} Taskweave migrations are not applied: ${last}`);
    expect(out).toMatch(/fix: DATABASE_URL='<this url>' npm run db:migrate/);
    expect(out).toMatch(/FAIL max_running is 0 \(no cap\)[^\n]*\n\s+fix: select taskweave\.set_settings\('\{"max_running": \d+\}'\);/);
    expect(out).toMatch(/FAIL retry_base_seconds \(900\) is above retry_max_seconds \(600\)/);
    expect(out).toMatch(/FAIL row level security is off on taskweave\.scratch\n\s+fix: alter table taskweave\.scratch enable row level security;/);
    expect(out).toContain('4 problems found.');

    // a cap the connections cannot carry: 1,000 invocations × 2 connections
    await setSettings(db.sql, { max_running: 1000, retry_base_seconds: null });
    const over = await doctor(db.url);
    expect(over.out).toMatch(/FAIL max_running = 1000 needs up to 1000 × 2 \(PROCESS_TASK_DB_POOL\) \+ 13 \(web app, dispatcher\) = 2013 connections; this database allows \d+/);
    expect(over.out).toMatch(/TASKWEAVE_DB_URL=postgres:\/\/postgres\.<ref>/);

    await db.sql`drop table taskweave.scratch`;
    await setSettings(db.sql, { max_running: null });
    await db.sql`insert into supabase_migrations.schema_migrations (version, name) values (${last}, 'restored')`;
    expect((await doctor(db.url)).code).toBe(0);
  });

  it('checks hosted dispatch with --hosted: what is missing, then a failing function call', async () => {
    const off = await doctor(db.url, '--hosted');
    expect(off.code).toBe(1);
    expect(off.out).toMatch(/FAIL hosted dispatch: pg_net is not enabled[^\n]*\n\s+fix: Dashboard -> Database -> Extensions -> enable pg_net/);

    await installHostedStandIns(db.sql);
    const unscheduled = await doctor(db.url, '--hosted');
    expect(unscheduled.out).toMatch(/FAIL hosted dispatch: the tick is not scheduled\n\s+fix: run: select taskweave\.enable_hosted_dispatch\(\);/);
    await db.sql`select taskweave.enable_hosted_dispatch()`;
    const on = await doctor(db.url, '--hosted');
    expect(on.out).toContain('ok   hosted dispatch is on');
    expect(on.code).toBe(0);

    await db.sql`select taskweave.create_task('dispatched', 'x')`;
    await db.sql`insert into net._http_response (id, status_code, content) select id, 401, '{}' from net.calls`;
    const refused = await doctor(db.url, '--hosted');
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/FAIL hosted dispatch: a recent call to process-task failed \(401\)\n\s+fix: the Vault secret process_task_secret must equal/);
  });

  it('says how to fix a database it cannot reach', async () => {
    const { code, out } = await doctor('postgresql://postgres:postgres@127.0.0.1:9/postgres');
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL cannot check the database: .*\n\s+fix: check the URL and password/);
  });
});
