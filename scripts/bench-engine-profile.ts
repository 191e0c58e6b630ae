// npx tsx scripts/bench-engine-profile.ts — where a claim -> complete costs its time, one variant at a time.
//
// For each variant (a change applied to a scratch clone of the migrated template: a trigger disabled, an
// index dropped, the cap off …) one connection claims and completes BENCH_JOBS no-op roots in a procedure
// that commits after every call, so there is no client round trip in the figure. Measured per job:
//   - CPU µs of that Postgres backend (utime + stime from /proc/<pid>/stat): robust against other load on a
//     shared machine, unlike wall time;
//   - WAL bytes (pg_current_wal_lsn before and after; nothing else writes on this server meanwhile);
//   - task rows and index entries that scans of taskweave.tasks read (idx_tup_read of its indexes plus its
//     seq_tup_read): what a claim walks past, independent of the machine's speed;
//   - wall µs, for reference.
// Variants run in rotating order BENCH_REPEAT times; the median CPU figure is shown. Needs the server on
// this machine (/proc), i.e. the embedded Postgres. BENCH_RUNNING=N first has another worker hold N tasks
// running (max_running raised above them).
import fs from 'node:fs';
import postgres from 'postgres';
import { databaseUrl, usesEmbeddedDatabase } from './lib/local-config.ts';
import { adminClient, bootstrapSupabaseRoles, createDatabaseFromTemplate, ensureTemplateDatabase, hasSupabaseRoles } from './lib/database-setup.ts';
import { startLocalPostgres } from './lib/local-postgres.ts';

const JOBS = Number(process.env.BENCH_JOBS || 3000);
/**
 * BENCH_RUNNING: tasks another worker holds running the whole time (max_running is raised above them), as
 * when long model calls run: what a claim or completion reads must not grow with them.
 */
const RUNNING = Number(process.env.BENCH_RUNNING || 0);
const REPEAT = Number(process.env.BENCH_REPEAT || 3);
const K = Number(process.env.BENCH_K || 1);
/** BENCH_COMPLETION=complete_and_claim: claim once, then complete_and_claim (the worker path) instead of claims of K + complete_task */
const COMPLETE_AND_CLAIM = process.env.BENCH_COMPLETION === 'complete_and_claim';

const loopProcedure = `
create schema bench_profile;
create procedure bench_profile.loop_complete_and_claim(p_n int) language plpgsql as $$
declare v_id uuid; v_done int := 0;
begin
  select t.id into v_id from taskweave.claim_tasks('w', 1) t;
  commit;
  while v_id is not null and v_done < p_n loop
    select t.id into v_id from taskweave.complete_and_claim(v_id, 'w', '{}'::jsonb) t;
    commit;
    v_done := v_done + 1;
  end loop;
end $$;
create procedure bench_profile.loop(p_n int, p_k int) language plpgsql as $$
declare v_ids uuid[]; v_id uuid; v_done int := 0;
begin
  while v_done < p_n loop
    select array_agg(t.id) into v_ids from taskweave.claim_tasks('w', p_k) t;
    commit;
    exit when v_ids is null;
    foreach v_id in array v_ids loop
      perform taskweave.complete_task(v_id, 'w', '{}'::jsonb);
      commit;
      v_done := v_done + 1;
    end loop;
  end loop;
end $$;`;

/** A function as an earlier migration defined it (the variants that put an older version back). */
function definitionIn(migration: string, signatureStart: string) {
  const text = fs.readFileSync(new URL(`../supabase/migrations/${migration}`, import.meta.url), 'utf8');
  const start = text.indexOf(`create or replace function ${signatureStart}`);
  const end = text.indexOf('\n$$;', start);
  if (start < 0 || end < 0) throw new Error(`${signatureStart} not found in ${migration}`);
  return text.slice(start, end + 4);
}

const VARIANTS: Record<string, string> = {
  baseline: '',
  "complete_and_claim's cap check as in 0.3.2 (exists … running_slot > cap or running_slot is null: reads every running task)":
    definitionIn('20261206010000_engine_hot_path.sql', 'taskweave.complete_and_claim('),
  'tasks_claimable_idx with posting lists (deduplicate_items on, as in 0.3.2)': `
    alter index taskweave.tasks_claimable_idx set (deduplicate_items = on); reindex index taskweave.tasks_claimable_idx;`,
  'max_running = 0': `select taskweave.set_settings('{"max_running": 0}')`,
  'settings read from a Postgres parameter (as in 0.2.0), not the settings table': `
    create or replace function taskweave_private.setting_int(p_name text, p_default integer) returns integer language sql stable as $f$
      select coalesce(nullif(pg_catalog.current_setting('taskweave.' || p_name, true), '')::pg_catalog.int4, p_default) $f$;`,
  'no search_path on the hot-path functions (as before the Security Advisor fix)': [
    'taskweave_private.guard_task_transition()', 'taskweave_private.current_actor(text)', 'taskweave_private.caller_role()',
    'taskweave_private.require_lease(taskweave.tasks, uuid, text)', 'taskweave_private.take_running_slots(integer)',
    'taskweave_private.claim_locked(taskweave.tasks, text, integer)', 'taskweave.claim_tasks(text, integer, integer)',
    'taskweave.complete_task(uuid, text, jsonb)', 'taskweave.complete_and_claim(uuid, text, jsonb, integer)',
  ].map((f) => `alter function ${f} reset search_path;`).join('\n'),
  'a task_changed watcher is listening (every transition notifies, as in 0.2.0)':
    "insert into taskweave_private.change_watchers (watcher, expires_at) values ('bench-profile', now() + interval '1 hour')",
  'claim_tasks planned per call (plan_cache_mode auto, as in 0.2.0)':
    'alter function taskweave.claim_tasks(text, integer, integer) reset plan_cache_mode',
  'complete_and_claim as in 0.3.0 (complete_task, then claim_tasks: no hand-over of the running slot)': `
    create or replace function taskweave.complete_and_claim(p_task_id uuid, p_worker text, p_output jsonb, p_lease_seconds integer default 300)
    returns setof taskweave.tasks language plpgsql set search_path = '' as $f$
    begin
      perform taskweave.complete_task(p_task_id, p_worker, p_output);
      return query select * from taskweave.claim_tasks(p_worker, 1, p_lease_seconds);
    end $f$;`,
  'no hosted-dispatch trigger': 'alter table taskweave.tasks disable trigger tasks_dispatch_ready',
  'guard trigger: bookkeeping only (no transition check, no task_events row, no notification)': `
    create or replace function taskweave_private.guard_task_transition() returns trigger language plpgsql as $f$
    begin
      if tg_op = 'UPDATE' and new.status = old.status then return new; end if;
      new.updated_at := now();
      if new.status <> 'running' then new.leased_by := null; new.lease_expires_at := null; new.running_slot := null;
      else new.started_at := coalesce(new.started_at, now()); end if;
      if new.status in ('completed', 'failed', 'cancelled') then new.completed_at := now(); new.model_wait_until := null;
      else new.completed_at := null; end if;
      return new;
    end $f$;`,
  'no parent/root/roots_recent indexes': `
    drop index taskweave.tasks_parent_task_id_idx; drop index taskweave.tasks_root_task_id_idx; drop index taskweave.tasks_roots_recent_idx;`,
  'a backend whose memory is not settled (as before 0.3.2: glibc trims the heap after every job)': `
    create or replace function taskweave_private.settle_backend_memory() returns void language plpgsql set search_path = '' as $f$
    begin perform pg_catalog.set_config('taskweave.backend_memory_settled', 'on', false); end $f$;`,
  'task_events.task_id with its foreign key back (as before 0.3.2)': `
    alter table taskweave.task_events add constraint task_events_task_id_fkey foreign key (task_id)
      references taskweave.tasks (id) on delete cascade deferrable initially deferred`,
  'the four state rules back as CHECK constraints (as before 0.3.2)': `
    alter table taskweave.tasks
      add constraint tasks_attempts_check check (attempt >= 0 and max_attempts between 1 and 100),
      add constraint tasks_lease_check check ((status = 'running') = (leased_by is not null and lease_expires_at is not null)),
      add constraint tasks_queued_is_aggregator check (status <> 'queued' or cardinality(dependent_task_ids) > 0),
      add constraint tasks_activated_by_check check (activated_by in ('dependencies', 'quorum', 'deadline'))`,
  'the five creation-time constraints back as CHECK constraints (as before 0.3.1)': `
    alter table taskweave.tasks
      add constraint tasks_title_check check (char_length(btrim(title)) between 1 and 500),
      add constraint tasks_instructions_check check (char_length(instructions) <= 200000),
      add constraint tasks_input_is_object check (jsonb_typeof(input) = 'object'),
      add constraint tasks_root_check check ((parent_task_id is null) = (root_task_id = id)),
      add constraint tasks_min_completed_check check (min_completed is null or min_completed between 1 and cardinality(dependent_task_ids))`,
};

type Sql = postgres.Sql<Record<string, unknown>>;

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the whole line)
}
const TICK_US = 1_000_000 / 100; // USER_HZ

/**
 * What scans of taskweave.tasks read so far in this database: index entries (idx_tup_read of its indexes) plus
 * rows read by sequential scans (seq_tup_read). This backend's counts are flushed first.
 */
async function indexReads(sql: Sql) {
  await sql`select pg_stat_force_next_flush()`; // flushed when the backend next goes idle, i.e. now
  const [{ n }] = await sql<{ n: string }[]>`
    select (coalesce((select sum(idx_tup_read) from pg_stat_user_indexes where schemaname = 'taskweave' and relname = 'tasks'), 0)
            + coalesce((select seq_tup_read from pg_stat_user_tables where schemaname = 'taskweave' and relname = 'tasks'), 0))::text as n`;
  return Number(n);
}

async function measure(serverUrl: string, template: string, variant: string) {
  const db = await createDatabaseFromTemplate(serverUrl, template, 'taskweave_bench_profile');
  const admin = adminClient(db.url);
  try {
    if (VARIANTS[variant]) await admin.unsafe(VARIANTS[variant].replaceAll(':db', db.name));
    await admin.unsafe(loopProcedure);
    await admin.unsafe(`select count(taskweave.create_task('bench job ' || i, 'no-op', '{}'::jsonb)) from generate_series(1, ${JOBS + 100 + RUNNING}) i`);
    if (RUNNING > 0) {
      const [{ cap }] = await admin<{ cap: number }[]>`select coalesce((taskweave.get_settings() ->> 'max_running')::int, 100) as cap`;
      if (cap > 0) await admin`select taskweave.set_settings(${admin.json({ max_running: Math.max(cap, RUNNING + 100) })})`;
      for (let held = 0; held < RUNNING; held += 1000) {
        await admin`select count(*) from taskweave.claim_tasks('someone else', ${Math.min(1000, RUNNING - held)}, 86400)`;
      }
    }
    await admin.unsafe('vacuum analyze');
  } finally {
    await admin.end({ timeout: 2 });
  }
  const sql = postgres(db.url, { max: 1, onnotice: () => {}, connection: { synchronous_commit: 'off' } }) as Sql;
  try {
    const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const [{ lsn: lsn0 }] = await sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
    const reads0 = await indexReads(sql);
    const cpu0 = cpuTicks(pid);
    const t0 = performance.now();
    await sql.unsafe(COMPLETE_AND_CLAIM ? `call bench_profile.loop_complete_and_claim(${JOBS})` : `call bench_profile.loop(${JOBS}, ${K})`);
    const wall = performance.now() - t0;
    const cpu1 = cpuTicks(pid);
    const [{ bytes }] = await sql<{ bytes: string }[]>`select pg_current_wal_lsn() - ${lsn0}::pg_lsn as bytes`;
    const reads = (await indexReads(sql)) - reads0;
    return { cpuUs: ((cpu1 - cpu0) * TICK_US) / JOBS, wallUs: (wall * 1000) / JOBS, walBytes: Number(bytes) / JOBS, indexReads: reads / JOBS };
  } finally {
    await sql.end({ timeout: 2 });
    await db.drop();
  }
}

async function main() {
  const serverUrl = databaseUrl();
  if (usesEmbeddedDatabase()) await startLocalPostgres(() => {});
  if (usesEmbeddedDatabase() || !(await hasSupabaseRoles(serverUrl))) await bootstrapSupabaseRoles(serverUrl);
  const template = await ensureTemplateDatabase(serverUrl);
  const names = (process.env.BENCH_VARIANTS ? process.env.BENCH_VARIANTS.split('|') : Object.keys(VARIANTS)).filter((n) => n in VARIANTS);
  const results = new Map<string, { cpuUs: number; wallUs: number; walBytes: number; indexReads: number }[]>();
  for (let rep = 0; rep < REPEAT; rep++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + rep) % names.length];
      const r = await measure(serverUrl, template, name);
      console.log(`  ${rep + 1}/${REPEAT} ${name}: ${r.cpuUs.toFixed(0)} µs CPU, ${r.wallUs.toFixed(0)} µs wall, ${r.walBytes.toFixed(0)} WAL bytes, ${r.indexReads.toFixed(1)} task rows or index entries read per job`);
      results.set(name, [...(results.get(name) ?? []), r]);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = med(results.get(names[0])!.map((r) => r.cpuUs));
  const held = RUNNING ? `, ${RUNNING} held running by another worker` : '';
  console.log(`\n| variant (${COMPLETE_AND_CLAIM ? 'complete_and_claim' : `k = ${K}`}, ${JOBS} jobs, one connection${held}) | backend CPU µs/job | vs ${names[0]} | WAL bytes/job | task rows + index entries read/job | wall µs/job |`);
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const name of names) {
    const rs = results.get(name)!;
    const cpu = med(rs.map((r) => r.cpuUs));
    console.log(`| ${name} | ${cpu.toFixed(0)} | ${(cpu / base).toFixed(2)}x | ${med(rs.map((r) => r.walBytes)).toFixed(0)} | ${med(rs.map((r) => r.indexReads)).toFixed(1)} | ${med(rs.map((r) => r.wallUs)).toFixed(0)} |`);
  }
}

await main();
