// npm run bench:engine — Taskweave's SQL API as a job engine, next to graphile-worker, on one Postgres.
//
// Both engines run on the same server (the embedded Postgres 17 unless DATABASE_URL), each in a fresh
// database: Taskweave in a clone of the migrated template, graphile-worker in an empty database that
// it migrates itself. Two measurements:
//
//  1. Throughput of no-op jobs, claim -> complete, from 8 workers on 8 connections. The queue is filled
//     before the clock starts (N = 5,000 and 50,000 queued), then BENCH_JOBS (default 5,000) jobs are
//     taken from it: at N = 5,000 that drains the queue, at N = 50,000 it measures the same work with ten
//     times as many rows waiting. The clock stops when they are all completed in the database.
//     - Taskweave: roots from taskweave.create_task; each worker claims k tasks with
//       taskweave.claim_tasks(worker, k) when it holds none (k = 1 and k = 10) and completes each with
//       taskweave.complete_and_claim, which claims its next task in the same transaction (the worker path),
//       or, for comparison, with taskweave.complete_task (claiming again only when its hand is empty);
//       with the running cap at its default (taskweave.max_running = 100) unless BENCH_CAPS says more.
//     - The running cap's size: the same workload (k = 1, complete_and_claim, 5,000 queued) at
//       max_running = 100, 1,000 and 10,000 (BENCH_CAP_SIZES), which must claim at the same speed.
//     - graphile-worker: its runner with concurrency 8 and a no-op task, default settings.
//  2. Enqueue -> start latency, one job at a time while the workers wait: Taskweave workers sleep until a
//     LISTEN task_ready notification (no polling); graphile-worker uses its own LISTEN. From just before
//     the enqueue call to the moment the worker holds the job (claim_tasks returned it / the task
//     function was entered).
//
// Env: BENCH_REPEAT (3): each throughput row is measured that many times, engines in rotating order,
// and the median is shown. BENCH_JOBS (5000). BENCH_SIZES (5000,50000). BENCH_LATENCY_SAMPLES (200).
// BENCH_SYNC_COMMIT: off (default) or on (every commit waits for the disk flush). BENCH_WARMUP (0): jobs each
// throughput run completes on its connections before the clock starts, both engines alike (steady state).
// With the embedded server, each throughput row also shows the CPU all Postgres processes spent per job
// (from /proc), which says how much of the gap is work in the database rather than the client.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { run as runGraphile, runMigrations, makeWorkerUtils, Logger, type Runner } from 'graphile-worker';
import { databaseUrl, repoRoot, usesEmbeddedDatabase, withDatabase } from './lib/local-config.ts';
import { bootstrapSupabaseRoles, createDatabaseFromTemplate, ensureTemplateDatabase, hasSupabaseRoles, adminClient } from './lib/database-setup.ts';
import { startLocalPostgres } from './lib/local-postgres.ts';

type Sql = postgres.Sql<Record<string, unknown>>;

const WORKERS = 8;
const REPEAT = Number(process.env.BENCH_REPEAT || 3);
const JOBS = Number(process.env.BENCH_JOBS || 5000);
const SIZES = (process.env.BENCH_SIZES ?? '5000,50000').split(',').map(Number);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES || 200);
/**
 * synchronous_commit for both engines' connections: 'off' (default) measures the work each engine does per job;
 * 'on' (BENCH_SYNC_COMMIT=on) adds this machine's disk flush to every commit, which on a disk shared with
 * other work mostly measures the disk (and serialises every transaction that sends a NOTIFY, see README).
 */
const SYNC_COMMIT: 'on' | 'off' = process.env.BENCH_SYNC_COMMIT === 'on' ? 'on' : 'off';
const ONLY = process.env.BENCH_ONLY; // 'taskweave' | 'graphile' (for profiling one side)
const KS = (process.env.BENCH_K ?? '1,10').split(',').map(Number);
const CAPS = (process.env.BENCH_CAPS ?? 'default').split(',').map((c) => (c === 'default' ? null : Number(c)));
type Completion = 'complete_and_claim' | 'complete_task';
const COMPLETIONS = (process.env.BENCH_COMPLETIONS ?? 'complete_and_claim,complete_task').split(',') as Completion[];
/** max_running values whose claims must cost the same (an empty BENCH_CAP_SIZES skips that table) */
const CAP_SIZES = (process.env.BENCH_CAP_SIZES ?? '100,1000,10000').split(',').filter(Boolean).map(Number);
/**
 * Jobs each throughput run completes on the same connections before its clock starts (both engines). A worker
 * connection lives long, and a new Postgres backend's first thousands of jobs cost it more (it faults in the
 * shared buffers and WAL buffers it touches, and fills its caches); 0 measures connections from cold.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0);
const SKIP_LATENCY = process.env.BENCH_LATENCY_SAMPLES === '0';

const connection = { synchronous_commit: SYNC_COMMIT };
const connect = (url: string, max = 1): Sql =>
  postgres(url, { max, onnotice: () => {}, idle_timeout: 0, connect_timeout: 30, connection }) as Sql;
const pgConnectionString = (url: string) => {
  const u = new URL(url);
  u.searchParams.set('options', `-c synchronous_commit=${SYNC_COMMIT}`);
  return u.toString();
};

const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error') console.error(`graphile-worker: ${message}`);
});

interface Throughput {
  jobs: number;
  ms: number;
  perSecond: number;
  /** CPU of every Postgres process on this machine during the timed run, per job (null: server not local) */
  postgresCpuUs: number | null;
}

// CPU ticks (utime + stime) of every process named postgres, from /proc: the server's share of a run,
// robust against the shared machine's other load, unlike wall time. Backends that start during the run
// count from zero. Only when the server runs here (the embedded Postgres).
function postgresTicks(): Map<number, number> | null {
  if (!usesEmbeddedDatabase() || !fs.existsSync('/proc/self/stat')) return null;
  const ticks = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes(' (postgres) ')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks;
}
const TICK_US = 1_000_000 / 100; // USER_HZ
function postgresCpuUsPerJob(before: Map<number, number> | null, jobs: number, after = postgresTicks()): number | null {
  if (!before || !after || jobs === 0) return null;
  let total = 0;
  for (const [pid, t] of after) total += t - (before.get(pid) ?? 0);
  return (total * TICK_US) / jobs;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// databases

let serverUrl = '';
let template = '';

/**
 * A database per run, cloned from a filled queue: the first run of each engine and size fills a queue once
 * (Taskweave: roots from create_task; graphile-worker: add_job) and keeps it as a template, so every run
 * starts from the same N queued jobs, vacuumed and analysed, without paying to fill 50,000 each time.
 */
const queueTemplates = new Map<string, string>();

async function cloneOf(source: string, prefix: string) {
  const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
  const admin = adminClient(serverUrl);
  try {
    await admin.unsafe(`create database ${name} template ${source}`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  return {
    name,
    url: withDatabase(serverUrl, name),
    async drop() {
      const a = adminClient(serverUrl);
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end({ timeout: 2 });
      }
    },
  };
}

async function keepAsTemplate(name: string) {
  const admin = adminClient(serverUrl);
  try {
    await admin.unsafe(`alter database ${name} is_template true`);
  } finally {
    await admin.end({ timeout: 2 });
  }
}

async function dropQueueTemplates() {
  const admin = adminClient(serverUrl);
  try {
    for (const name of queueTemplates.values()) {
      await admin.unsafe(`alter database ${name} is_template false`);
      await admin.unsafe(`drop database if exists ${name} with (force)`);
    }
  } finally {
    await admin.end({ timeout: 2 });
  }
}

async function taskweaveDatabase(queued: number, maxRunning: number | null) {
  let source = queueTemplates.get(`taskweave-${queued}`);
  if (!source) {
    const filled = await createDatabaseFromTemplate(serverUrl, template, `taskweave_bench_queue_${queued}`);
    const admin = adminClient(filled.url);
    try {
      // experiments: SQL applied before the queue is filled (a trigger off, …)
      if (process.env.BENCH_TASKWEAVE_SQL) await admin.unsafe(process.env.BENCH_TASKWEAVE_SQL);
      // roots, as an application would start them; in slices so no one transaction gets huge
      for (let done = 0; done < queued; done += 5000) {
        const n = Math.min(5000, queued - done);
        await admin.unsafe(`select count(taskweave.create_task('bench job ' || i, 'no-op', '{}'::jsonb)) from generate_series(1, ${n}) i`);
      }
      await admin.unsafe('vacuum analyze');
    } finally {
      await admin.end({ timeout: 2 });
    }
    await keepAsTemplate(filled.name);
    source = filled.name;
    queueTemplates.set(`taskweave-${queued}`, source);
  }
  const db = await cloneOf(source, 'taskweave_bench_engine');
  if (maxRunning !== null) {
    const admin = adminClient(db.url);
    try {
      await admin`select taskweave.set_settings(${admin.json({ max_running: maxRunning })})`;
    } finally {
      await admin.end({ timeout: 2 });
    }
  }
  return db;
}

async function graphileDatabase(queued: number) {
  let source = queueTemplates.get(`graphile-${queued}`);
  if (!source) {
    const name = `graphile_bench_queue_${queued}_${crypto.randomBytes(5).toString('hex')}`;
    const admin = adminClient(serverUrl);
    await admin.unsafe(`create database ${name}`);
    await admin.end({ timeout: 2 });
    const url = withDatabase(serverUrl, name);
    // an empty database that graphile-worker migrates itself
    await runMigrations({ connectionString: url, logger: quietLogger });
    const sql = adminClient(url);
    try {
      for (let done = 0; done < queued; done += 5000) {
        const n = Math.min(5000, queued - done);
        await sql.unsafe(`select count(graphile_worker.add_job('noop', json_build_object('i', i))) from generate_series(1, ${n}) i`);
      }
      await sql.unsafe('vacuum analyze');
    } finally {
      await sql.end({ timeout: 2 });
    }
    await keepAsTemplate(name);
    source = name;
    queueTemplates.set(`graphile-${queued}`, source);
  }
  return cloneOf(source, 'graphile_bench');
}

// ------------------------------------------------------------------------------------------------
// throughput

async function taskweaveThroughput(queued: number, k: number, maxRunning: number | null, completion: Completion): Promise<Throughput> {
  const db = await taskweaveDatabase(queued + WARMUP, maxRunning);
  const clients = Array.from({ length: WORKERS }, () => connect(db.url));
  try {
    await Promise.all(clients.map((c) => c`select 1`));
    // the warm-up's jobs are the oldest in the queue, so the clock starts with `queued` still waiting
    const target = WARMUP + Math.min(JOBS, queued);
    let completed = 0;
    const seen = new Set<string>();
    let duplicates = 0;
    let cpuBefore = postgresTicks();
    let started = performance.now();
    await Promise.all(
      clients.map(async (c, w) => {
        const worker = `bench-${w}`;
        const held: string[] = [];
        const take = (ids: { id: string }[]) => {
          for (const { id } of ids) {
            if (seen.has(id)) duplicates++;
            seen.add(id);
            held.push(id);
          }
        };
        while (completed < target || held.length > 0) {
          if (held.length === 0) {
            take(await c.unsafe<{ id: string }[]>('select t.id from taskweave.claim_tasks($1, $2) t', [worker, k], { prepare: true }));
            if (held.length === 0) {
              if (completed >= target) break;
              await sleep(1); // the cap is full or the queue is empty: only while the others finish
              continue;
            }
          }
          const id = held.shift()!;
          if (completion === 'complete_and_claim' && completed + held.length + 1 < target) {
            // the next task comes with the completion, in the same transaction
            take(await c.unsafe<{ id: string }[]>(`select t.id from taskweave.complete_and_claim($1, $2, '{}'::jsonb) t`, [id, worker], { prepare: true }));
          } else {
            await c.unsafe(`select 1 from taskweave.complete_task($1, $2, '{}'::jsonb)`, [id, worker], { prepare: true });
          }
          if (++completed === WARMUP) {
            cpuBefore = postgresTicks();
            started = performance.now();
          }
        }
      }),
    );
    const ms = performance.now() - started;
    const timed = completed - WARMUP;
    const postgresCpuUs = postgresCpuUsPerJob(cpuBefore, timed);
    const [check] = await clients[0]<{ done: number; events: number; claims: number }[]>`
      select (select count(*)::int from taskweave.tasks where status = 'completed') as done,
             (select count(*)::int from taskweave.task_events where to_status = 'completed') as events,
             (select count(*)::int from taskweave.task_events where to_status = 'running') as claims`;
    if (duplicates > 0 || check.done !== completed || check.events !== completed || check.claims !== completed) {
      throw new Error(`Taskweave broke exactly-once: ${duplicates} duplicate claims, ${completed} completions counted, ` +
        `${check.done} completed in the database, ${check.events} completion events, ${check.claims} claim events`);
    }
    return { jobs: timed, ms, perSecond: (timed * 1000) / ms, postgresCpuUs };
  } finally {
    await Promise.all(clients.map((c) => c.end({ timeout: 2 })));
    await db.drop();
  }
}

async function graphileThroughput(queued: number): Promise<Throughput> {
  const db = await graphileDatabase(queued + WARMUP);
  const target = WARMUP + Math.min(JOBS, queued);
  let started = 0;
  let runner: Runner | undefined;
  try {
    let reached!: () => void;
    const enough = new Promise<void>((r) => (reached = r));
    let clockStart = 0;
    let cpuBefore: Map<number, number> | null = null;
    runner = await runGraphile({
      connectionString: pgConnectionString(db.url),
      concurrency: WORKERS,
      maxPoolSize: WORKERS + 1, // 8 workers and the LISTEN connection
      noHandleSignals: true,
      pollInterval: 2000,
      logger: quietLogger,
      taskList: {
        noop: async () => {
          if (clockStart === 0 && started === WARMUP) {
            cpuBefore = postgresTicks();
            clockStart = performance.now();
          }
          if (++started === target) reached();
        },
      },
    });
    await enough;
    await runner.stop(); // waits for the jobs in hand and their completion in the database
    runner = undefined;
    const ms = performance.now() - clockStart;
    const cpuAfter = postgresTicks();
    const sql = adminClient(db.url);
    const [row] = await sql<{ left: number }[]>`select count(*)::int as left from graphile_worker._private_jobs`;
    await sql.end({ timeout: 2 });
    const jobs = queued - row.left; // of the queued + WARMUP jobs, those done after the warm-up
    return { jobs, ms, perSecond: (jobs * 1000) / ms, postgresCpuUs: postgresCpuUsPerJob(cpuBefore, jobs, cpuAfter) };
  } finally {
    await runner?.stop().catch(() => {});
    await db.drop();
  }
}

// ------------------------------------------------------------------------------------------------
// latency

function percentile(values: number[], p: number) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function taskweaveLatency(maxRunning: number | null): Promise<number[]> {
  const db = await taskweaveDatabase(0, maxRunning);
  const clients = Array.from({ length: WORKERS }, () => connect(db.url));
  const listener = connect(db.url);
  const producer = connect(db.url);
  const startedAt = new Map<string, number>();
  let stopping = false;
  // LISTEN-driven workers: asleep until a task_ready notification wakes one; it claims until none is left
  const sleepers: (() => void)[] = [];
  let pendingWakeups = 0;
  const wakeOne = () => {
    const s = sleepers.shift();
    if (s) s();
    else pendingWakeups++;
  };
  try {
    await Promise.all([...clients, producer].map((c) => c`select 1`));
    const subscription = await listener.listen('task_ready', () => wakeOne());
    const loops = clients.map(async (c, w) => {
      const worker = `bench-${w}`;
      while (!stopping) {
        if (pendingWakeups > 0) pendingWakeups--;
        else await new Promise<void>((r) => sleepers.push(r));
        if (stopping) break;
        // claim, then complete_and_claim until nothing is due: the worker path
        let rows = await c.unsafe<{ id: string }[]>('select t.id from taskweave.claim_tasks($1, 1) t', [worker], { prepare: true });
        while (rows.length > 0) {
          startedAt.set(rows[0].id, performance.now());
          rows = await c.unsafe<{ id: string }[]>(`select t.id from taskweave.complete_and_claim($1, $2, '{}'::jsonb) t`, [rows[0].id, worker], { prepare: true });
        }
      }
    });
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES + 10; i++) {
      const t0 = performance.now();
      const [row] = await producer.unsafe<{ id: string }[]>(`select (taskweave.create_task('latency ' || $1::text, 'no-op')).id`, [i], { prepare: true });
      const deadline = performance.now() + 5000;
      while (!startedAt.has(row.id) && performance.now() < deadline) await sleep(0.5);
      if (!startedAt.has(row.id)) throw new Error(`Taskweave: task ${row.id} did not start within 5 s`);
      if (i >= 10) samples.push(startedAt.get(row.id)! - t0); // the first ten warm up
      await sleep(5 + Math.random() * 10);
    }
    stopping = true;
    sleepers.splice(0).forEach((s) => s());
    await Promise.all(loops);
    await subscription.unlisten();
    return samples;
  } finally {
    await Promise.all([...clients, listener, producer].map((c) => c.end({ timeout: 2 })));
    await db.drop();
  }
}

async function graphileLatency(): Promise<number[]> {
  const db = await graphileDatabase(0);
  const startedAt = new Map<number, number>();
  let runner: Runner | undefined;
  const utils = await makeWorkerUtils({ connectionString: pgConnectionString(db.url), logger: quietLogger });
  try {
    runner = await runGraphile({
      connectionString: pgConnectionString(db.url),
      concurrency: WORKERS,
      maxPoolSize: WORKERS + 1,
      noHandleSignals: true,
      pollInterval: 2000,
      logger: quietLogger,
      taskList: {
        noop: async (payload) => {
          startedAt.set((payload as { i: number }).i, performance.now());
        },
      },
    });
    await sleep(500);
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES + 10; i++) {
      const t0 = performance.now();
      await utils.addJob('noop', { i });
      const deadline = performance.now() + 5000;
      while (!startedAt.has(i) && performance.now() < deadline) await sleep(0.5);
      if (!startedAt.has(i)) throw new Error(`graphile-worker: job ${i} did not start within 5 s`);
      if (i >= 10) samples.push(startedAt.get(i)! - t0);
      await sleep(5 + Math.random() * 10);
    }
    return samples;
  } finally {
    await runner?.stop().catch(() => {});
    await utils.release();
    await db.drop();
  }
}

// ------------------------------------------------------------------------------------------------

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

interface Config {
  key: string;
  label: string;
  engine: 'taskweave' | 'graphile';
  queued: number;
  run: () => Promise<Throughput>;
}

async function main() {
  serverUrl = databaseUrl();
  if (usesEmbeddedDatabase()) await startLocalPostgres((line) => console.log(`db: ${line}`));
  if (usesEmbeddedDatabase() || !(await hasSupabaseRoles(serverUrl))) await bootstrapSupabaseRoles(serverUrl);
  template = await ensureTemplateDatabase(serverUrl);

  const probe = connect(serverUrl);
  const [server] = await probe<{ v: string; sc: string }[]>`select current_setting('server_version') as v, current_setting('synchronous_commit') as sc`; // the session's, set like the workers'
  await probe.end({ timeout: 2 });
  const gwVersion = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', 'graphile-worker', 'package.json'), 'utf8')) as { version: string }).version;
  console.log(`\nengine benchmark: Postgres ${server.v}, ${WORKERS} workers, synchronous_commit=${server.sc}, ` +
    `${JOBS} jobs per throughput run${WARMUP ? ` after ${WARMUP} warm-up jobs on the same connections` : ""}, median of ${REPEAT}, graphile-worker ${gwVersion}`);

  const capLabel = (cap: number | null) => (cap === null ? '100 (default)' : cap === 0 ? '0 (no cap)' : fmt(cap));
  const configs: Config[] = [];
  for (const queued of SIZES) {
    for (const cap of CAPS) {
      for (const completion of COMPLETIONS) {
        for (const k of KS) {
          configs.push({
            key: `tw-${queued}-${k}-${cap}-${completion}`,
            label: `Taskweave: \`claim_tasks(…, ${k})\` + \`${completion}\`, max_running = ${capLabel(cap)}`,
            engine: 'taskweave',
            queued,
            run: () => taskweaveThroughput(queued, k, cap, completion),
          });
        }
      }
    }
    configs.push({
      key: `gw-${queued}`,
      label: `graphile-worker ${gwVersion}, concurrency ${WORKERS}`,
      engine: 'graphile',
      queued,
      run: () => graphileThroughput(queued),
    });
  }
  // the running cap's size: the same claims at max_running = 100, 1,000 and 10,000, in the same rotation
  const capQueued = SIZES[0];
  for (const cap of CAP_SIZES) {
    configs.push({
      key: `cap-${cap}`,
      label: `Taskweave: \`claim_tasks(…, 1)\` + \`complete_and_claim\`, max_running = ${fmt(cap)}`,
      engine: 'taskweave',
      queued: capQueued,
      run: () => taskweaveThroughput(capQueued, 1, cap, 'complete_and_claim'),
    });
  }
  const active = configs.filter((c) => !ONLY || c.engine === ONLY);
  const samples = new Map<string, Throughput[]>();
  for (let rep = 0; rep < REPEAT; rep++) {
    // rotate the order, so drift of this shared machine's load does not favour one engine
    const order = active.map((_, i) => active[(i + rep * 3) % active.length]);
    for (const c of order) {
      const t = await c.run();
      const cpu = t.postgresCpuUs === null ? '' : `, Postgres CPU ${fmt(t.postgresCpuUs)} µs/job`;
      console.log(`  run ${rep + 1}/${REPEAT}: ${c.label}, ${fmt(c.queued)} queued: ${fmt(t.jobs)} jobs in ${fmt(t.ms)} ms = ${fmt(t.perSecond)} jobs/s${cpu}`);
      samples.set(c.key, [...(samples.get(c.key) ?? []), t]);
    }
  }
  const median = (key: string) => {
    const list = [...(samples.get(key) ?? [])].sort((a, b) => a.perSecond - b.perSecond);
    return list[Math.floor(list.length / 2)];
  };

  console.log(`\n### Throughput: no-op jobs, ${WORKERS} workers, ${fmt(JOBS)} jobs taken from the queue (median of ${REPEAT})\n`);
  console.log(`| engine | ${SIZES.map((n) => `${fmt(n)} queued, jobs/s`).join(' | ')} | vs graphile-worker (${SIZES.map((n) => fmt(n)).join(' / ')}) | change ${fmt(SIZES[0])} → ${fmt(SIZES[SIZES.length - 1])} | Postgres CPU µs/job (${SIZES.map((n) => fmt(n)).join(' / ')}) |`);
  console.log(`|---|${SIZES.map(() => '---:').join('|')}|---:|---:|---:|`);
  const main = active.filter((c) => !c.key.startsWith('cap-'));
  const labels = [...new Set(main.map((c) => c.label))];
  for (const label of labels) {
    const keys = SIZES.map((n) => main.find((c) => c.label === label && c.queued === n)!.key);
    const values = keys.map((k) => median(k).perSecond);
    const gw = SIZES.map((n) => (samples.has(`gw-${n}`) ? median(`gw-${n}`).perSecond : NaN));
    const cpu = keys.map((k) => median(k).postgresCpuUs).map((c) => (c === null ? 'n/a' : fmt(c))).join(' / ');
    console.log(`| ${label} | ${values.map((v) => fmt(v)).join(' | ')} | ${values.map((v, i) => `${(v / gw[i]).toFixed(2)}x`).join(' / ')} | ${(((values[values.length - 1] - values[0]) / values[0]) * 100).toFixed(1)}% | ${cpu} |`);
  }

  const capRows = active.filter((c) => c.key.startsWith('cap-'));
  if (capRows.length > 0) {
    console.log(`\n### The running cap's size: \`claim_tasks(…, 1)\` + \`complete_and_claim\`, ${WORKERS} workers, ${fmt(capQueued)} queued (median of ${REPEAT})\n`);
    console.log('| max_running | jobs/s | vs max_running = ' + fmt(CAP_SIZES[0]) + ' | Postgres CPU µs/job |');
    console.log('|---:|---:|---:|---:|');
    const base = median(capRows[0].key).perSecond;
    for (const c of capRows) {
      const m = median(c.key);
      console.log(`| ${c.label.replace(/^.*max_running = /, '')} | ${fmt(m.perSecond)} | ${(m.perSecond / base).toFixed(2)}x | ${m.postgresCpuUs === null ? 'n/a' : fmt(m.postgresCpuUs)} |`);
    }
  }

  if (!SKIP_LATENCY) {
    console.log(`\n### Enqueue → start latency, one job at a time, ${WORKERS} idle workers (${LATENCY_SAMPLES} samples)\n`);
    console.log('| engine | p50 ms | p99 ms |');
    console.log('|---|---:|---:|');
  }
  const latencyRuns: [string, () => Promise<number[]>, Config['engine']][] = [
    ['Taskweave (LISTEN task_ready, claim_tasks(…, 1), then complete_and_claim), max_running = 100 (default)', () => taskweaveLatency(null), 'taskweave'],
    [`graphile-worker ${gwVersion} (its own LISTEN)`, () => graphileLatency(), 'graphile'],
  ];
  const p50s = new Map<Config['engine'], number>();
  for (const [label, fn, engine] of latencyRuns) {
    if ((ONLY && engine !== ONLY) || SKIP_LATENCY) continue;
    const s = await fn();
    p50s.set(engine, percentile(s, 50));
    console.log(`| ${label} | ${percentile(s, 50).toFixed(2)} | ${percentile(s, 99).toFixed(2)} |`);
  }

  await dropQueueTemplates();

  if (!ONLY) {
    console.log('\ntargets:');
    const last = SIZES[SIZES.length - 1];
    const line = (ok: boolean, text: string) => console.log(`  ${ok ? 'met    ' : 'MISSED '} ${text}`);
    for (const cap of CAPS) {
      for (const k of KS) {
        for (const completion of COMPLETIONS) {
          const key = (n: number) => `tw-${n}-${k}-${cap}-${completion}`;
          if (!samples.has(key(SIZES[0]))) continue;
          const v = SIZES.map((n) => median(key(n)).perSecond);
          const gw = SIZES.map((n) => median(`gw-${n}`).perSecond);
          const name = `k = ${k} with ${completion}, max_running = ${capLabel(cap)}`;
          const want = k === 1 ? 0.9 : 1.0;
          line(v.every((x, i) => x >= want * gw[i]), `${name}: >= ${want.toFixed(1)}x graphile-worker (${v.map((x, i) => (x / gw[i]).toFixed(2) + 'x').join(', ')})`);
          line(v[v.length - 1] >= v[0] * 0.9, `${name}: no drop of more than 10% from ${fmt(SIZES[0])} to ${fmt(last)} queued (${(((v[v.length - 1] - v[0]) / v[0]) * 100).toFixed(1)}%)`);
        }
      }
    }
    if (capRows.length > 1) {
      const rates = capRows.map((c) => median(c.key).perSecond);
      const spread = Math.max(...rates) / Math.min(...rates);
      line(spread <= 1.1, `max_running = ${CAP_SIZES.map((c) => fmt(c)).join(', ')} claim at the same speed within 10% (fastest ÷ slowest ${spread.toFixed(2)})`);
    }
    if (p50s.has('taskweave') && p50s.has('graphile')) {
      line(p50s.get('taskweave')! <= p50s.get('graphile')!, `enqueue → start p50 <= graphile-worker's (${p50s.get('taskweave')!.toFixed(2)} ms vs ${p50s.get('graphile')!.toFixed(2)} ms)`);
    }
  }
}

await main();
