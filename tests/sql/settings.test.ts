// Settings live in taskweave_private.settings (docs/contracts.md §2): operators change them with set_settings and
// read them with get_settings; no Postgres parameter, set by a session or a database, changes a limit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDatabaseFromTemplate, bootstrapSupabaseRoles, runSupabaseCli } from '../../scripts/lib/database-setup.ts';
import { repoRoot, withDatabase } from '../../scripts/lib/local-config.ts';
import { anon, asIdentity, connect, operator, plainUser, serviceRole, useTestDatabase } from '../helpers/database.ts';
import { createRoot, rejection, setSettings } from '../helpers/tasks.ts';
import { inject } from 'vitest';

const db = useTestDatabase();

const DEFAULTS = {
  max_running: 100,
  max_aggregator_dependencies: 10000,
  max_children_per_task: 100,
  max_depth: 5,
  retry_base_seconds: 10,
  retry_max_seconds: 600,
  default_max_attempts: 3,
  default_max_tasks: 1000,
  default_max_tokens: 2000000,
  default_deadline_seconds: 86400,
  max_idle_releases: 3,
  dependency_output_chars: 16384,
  dependency_total_chars: 262144,
};

const getSettings = async () => (await db.sql`select taskweave.get_settings() as s`)[0].s as Record<string, number>;

describe('set_settings and get_settings', () => {
  it('get_settings returns every setting in force; set_settings merges and returns them all', async () => {
    expect(await getSettings()).toEqual(DEFAULTS);
    const after = await setSettings(db.sql, { max_running: 20, max_depth: 3 });
    expect(after).toEqual({ ...DEFAULTS, max_running: 20, max_depth: 3 });
    expect(await getSettings()).toEqual(after);
    const [row] = await db.sql`select taskweave_private.setting_int('max_running', 100) as cap, taskweave_private.setting_int('max_depth', 5) as depth`;
    expect(row).toEqual({ cap: 20, depth: 3 });
    // null puts the default back
    expect(await setSettings(db.sql, { max_running: null, max_depth: null })).toEqual(DEFAULTS);
  });

  it.each([
    ['an unknown key', { max_runing: 5 }, /unknown setting "max_runing"; the settings are .*max_running/],
    ['a string', { max_running: '5' }, /setting "max_running" must be a whole number from 0 to 1000000 \(got "5"\)/],
    ['a fraction', { retry_base_seconds: 1.5 }, /setting "retry_base_seconds" must be a whole number from 0 to 86400 \(got 1.5\)/],
    ['a boolean', { max_depth: true }, /setting "max_depth" must be a whole number from 0 to 1000 \(got true\)/],
    ['a value out of range', { default_max_attempts: 0 }, /setting "default_max_attempts" must be a whole number from 1 to 100 \(got 0\)/],
    ['a value past int4', { default_max_tokens: 1e12 }, /setting "default_max_tokens" must be a whole number/],
    ['one bad key among good ones', { max_running: 7, max_depth: -1 }, /setting "max_depth"/],
  ])('refuses %s with 22023 naming the key, and changes nothing', async (_, settings, message) => {
    const before = await getSettings();
    const error = await rejection(db.sql`select taskweave.set_settings(${db.sql.json(settings as never)})`);
    expect(error.code).toBe('22023');
    expect(error.message).toMatch(message);
    expect(await getSettings()).toEqual(before);
  });

  it('refuses what is not an object', async () => {
    for (const bad of [[1], 5, 'max_running']) {
      const error = await rejection(db.sql`select taskweave.set_settings(${db.sql.json(bad as never)})`);
      expect(error).toMatchObject({ code: '22023', message: expect.stringMatching(/p_settings must be a JSON object/) });
    }
    expect((await rejection(db.sql`select taskweave.set_settings(null)`)).code).toBe('22023');
  });

  it('is for operators only; the table itself is closed to every API role', async () => {
    for (const who of [plainUser(), anon]) {
      expect((await rejection(asIdentity(db.sql, who, (tx) => tx`select taskweave.get_settings()`))).code).toBe('42501');
      expect((await rejection(asIdentity(db.sql, who, (tx) => tx`select taskweave.set_settings('{"max_running": 0}')`))).code).toBe('42501');
    }
    const [{ s }] = await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.set_settings('{"max_running": 42}') as s`);
    expect(s.max_running).toBe(42);
    const [{ by }] = await db.sql`select updated_by as by from taskweave_private.settings where name = 'max_running'`;
    expect(by).toBe('ada@example.com');
    expect((await asIdentity(db.sql, serviceRole, (tx) => tx`select taskweave.get_settings() as s`))[0].s.max_running).toBe(42);
    for (const who of [operator(), serviceRole]) {
      expect((await rejection(asIdentity(db.sql, who, (tx) => tx`select * from taskweave_private.settings`))).code).toBe('42501');
      expect((await rejection(asIdentity(db.sql, who, (tx) => tx`update taskweave_private.settings set value = 0`))).code).toBe('42501');
    }
    await setSettings(db.sql, { max_running: null });
  });

  it('a session parameter changes nothing: `set taskweave.max_running = 0` does not lift the cap', async () => {
    await setSettings(db.sql, { max_running: 1 });
    const session = db.client(1);
    await session`set taskweave.max_running = 0`;
    await session`set taskweave.max_depth = 100`;
    await createRoot(db.sql, 'one');
    await createRoot(db.sql, 'two');
    expect(await session`select id from taskweave.claim_tasks('w', 2)`).toHaveLength(1);
    expect((await session`select taskweave_private.setting_int('max_depth', 5) as d`)[0].d).toBe(5);
    await db.sql`update taskweave.tasks set status = 'cancelled' where status in ('pending', 'running')`;
    await setSettings(db.sql, { max_running: null });
  });
});

describe('a database migrated from 0.2.0', () => {
  it('keeps what it had set with `alter database … set taskweave.*`; a bad value keeps the default', async () => {
    // a new database at the 0.2.0 migrations (the 20261128 baseline), applied by the real CLI from a
    // folder that holds only those; then the database parameters a 0.2.0 user set; then `migration up`
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'taskweave-020-'));
    fs.mkdirSync(path.join(work, 'supabase', 'migrations'), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, 'supabase', 'config.toml'), path.join(work, 'supabase', 'config.toml'));
    for (const file of fs.readdirSync(path.join(repoRoot, 'supabase', 'migrations')).filter((f) => f.startsWith('20261128'))) {
      fs.copyFileSync(path.join(repoRoot, 'supabase', 'migrations', file), path.join(work, 'supabase', 'migrations', file));
    }
    const server = inject('serverUrl');
    const admin = connect(server, 1);
    const name = `taskweave_upgrade_${Date.now()}`;
    await admin.unsafe(`create database ${name}`);
    const url = withDatabase(server, name);
    try {
      await bootstrapSupabaseRoles(url);
      await runSupabaseCli(['migration', 'up', `--remote=${url}`, '--yes', '--workdir', work], url);
      const old = connect(url, 1);
      expect((await old`select to_regclass('taskweave_private.settings') as t`)[0].t).toBeNull();
      await old.unsafe(`alter database ${name} set taskweave.max_running = 7`);
      await old.unsafe(`alter database ${name} set taskweave.retry_base_seconds = 0`);
      await old.unsafe(`alter database ${name} set taskweave.max_depth = 'deep'`);
      await old.end({ timeout: 2 });
      const output = await runSupabaseCli(['migration', 'up', `--remote=${url}`, '--yes'], url);
      expect(output).toContain('20261206001000_settings_table.sql');
      const migrated = connect(url, 1);
      const [{ s }] = await migrated`select taskweave.get_settings() as s`;
      expect(s).toEqual({ ...DEFAULTS, max_running: 7, retry_base_seconds: 0 });
      // and from now on the parameter does nothing
      await migrated`set taskweave.max_running = 3`;
      expect((await migrated`select taskweave_private.setting_int('max_running', 100) as n`)[0].n).toBe(7);
      await migrated.end({ timeout: 2 });
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 2 });
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('a fresh clone is not touched by the copy (no parameter set: every default)', async () => {
    const server = inject('serverUrl');
    const clone = await createDatabaseFromTemplate(server, inject('templateDatabase'));
    const sql = connect(clone.url, 1);
    try {
      expect((await sql`select taskweave.get_settings() as s`)[0].s).toEqual(DEFAULTS);
    } finally {
      await sql.end({ timeout: 2 });
      await clone.drop();
    }
  });
});
