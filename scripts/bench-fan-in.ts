// npm run bench:fan-in — what one completing dependency costs, as the fan-in grows.
//
// For N = 100, 1,000 and 10,000 dependencies of one aggregator, 8 connections complete them through
// taskweave.complete_task. Compared with:
//   - the seed design: a trigger that, for every completion, scans all of the aggregator's dependencies
//     with bool_and (built here in a scratch schema, bench_seed, with the same table, lease check and
//     event trigger, so only the fan-in differs);
//   - the floor: the same number of completions of tasks that feed no aggregator.
// It also times create_aggregator_task itself at each N (the aggregator over all N dependencies).
// Dependencies are made in batches of 1,000, each its own transaction, as a fan-out made by workers would be;
// above 10,000 they are the children of parallel "part" tasks of 1,000 each (one task may create at most
// taskweave.max_children_per_task children, and counting a parent's children is a scan of them).
// BENCH_JOINS (none,plain,seed,half,all) picks the workloads; the scanning seed design is O(N²) and runs only
// up to BENCH_SEED_MAX (10,000) dependencies.
// Runs against a fresh database cloned from the migrated template (embedded Postgres unless DATABASE_URL).
import postgres from 'postgres';
import { databaseUrl, usesEmbeddedDatabase } from './lib/local-config.ts';
import { bootstrapSupabaseRoles, createDatabaseFromTemplate, ensureTemplateDatabase, hasSupabaseRoles } from './lib/database-setup.ts';
import { startLocalPostgres } from './lib/local-postgres.ts';

const CONNECTIONS = 8;
const REPEAT = Number(process.env.BENCH_REPEAT || 3);
const SIZES = (process.env.BENCH_SIZES ?? '100,1000,10000').split(',').map(Number);
/** Small fan-ins are repeated so every row of the table measures about the same number of completions. */
const roundsFor = (n: number) => Math.max(1, Math.round(Math.min(Math.max(...SIZES), 10_000) / n / 5));
const JOINS = new Set((process.env.BENCH_JOINS ?? 'none,plain,seed,half,all').split(','));
const SEED_MAX = Number(process.env.BENCH_SEED_MAX || 10_000);
/** dependencies per parent above 10,000: a "part" task per 1,000 */
const PART_SIZE = 1000;

type Sql = postgres.Sql<Record<string, unknown>>;
/**
 * synchronous_commit: 'off' (default) measures the work each design does per completion; 'on' adds this
 * machine's disk flush to every commit, the same for all three, which hides that work (BENCH_SYNC_COMMIT=on).
 */
const SYNC_COMMIT = process.env.BENCH_SYNC_COMMIT === 'on' ? 'on' : 'off';
const connect = (url: string, max = 1): Sql =>
  postgres(url, { max, onnotice: () => {}, idle_timeout: 5, connection: { synchronous_commit: SYNC_COMMIT } }) as Sql;

const seedSchema = `
create schema bench_seed;
create table bench_seed.tasks (like taskweave.tasks including all);
create table bench_seed.task_events (like taskweave.task_events including all);

create function bench_seed.record_transition() returns trigger language plpgsql set search_path = '' as $$
begin
  insert into bench_seed.task_events (task_id, event, from_status, to_status, actor, detail)
  values (new.id, 'status_changed', old.status, new.status, current_setting('taskweave.actor', true), jsonb_build_object('attempt', new.attempt));
  perform pg_notify('bench_task_changed', new.id::text);
  return null;
end $$;
create trigger record_transition after update of status on bench_seed.tasks
  for each row when (old.status is distinct from new.status) execute function bench_seed.record_transition();

-- the seed design: every ending dependency rescans all of its aggregator's dependencies
create function bench_seed.check_aggregator_dependencies() returns trigger language plpgsql set search_path = '' as $$
declare v_agg record;
begin
  for v_agg in select a.id, a.dependent_task_ids from bench_seed.tasks a
                where a.dependent_task_ids @> array[new.id] and a.status = 'queued' loop
    if (select bool_and(t.status in ('completed', 'cancelled')) from bench_seed.tasks t where t.id = any (v_agg.dependent_task_ids)) then
      update bench_seed.tasks set status = 'pending' where id = v_agg.id and status = 'queued';
    end if;
  end loop;
  return null;
end $$;
create trigger check_aggregator_dependencies after update of status on bench_seed.tasks
  for each row when (new.status in ('completed', 'cancelled') and old.status is distinct from new.status)
  execute function bench_seed.check_aggregator_dependencies();

-- the server-side driver: one transaction per completion (COMMIT after each), no client in the loop
create procedure bench_seed.complete_each(p_ids uuid[], p_function text) language plpgsql as $$
declare v_id uuid;
begin
  foreach v_id in array p_ids loop
    if p_function = 'taskweave.complete_task' then
      perform taskweave.complete_task(v_id, 'bench', '{"ok": true}'::jsonb);
    else
      perform bench_seed.complete_task(v_id, 'bench', '{"ok": true}'::jsonb);
    end if;
    commit;
  end loop;
end $$;

-- the same driver for quorum joins: once the quorum activated the aggregator, the dependencies still open
-- are cancelled (their worker lost the lease: TW001), so a completion may find its task gone; it counts on
create procedure bench_seed.complete_each_tolerant(p_ids uuid[], inout p_refused integer default 0) language plpgsql as $$
declare v_id uuid;
begin
  p_refused := 0;
  foreach v_id in array p_ids loop
    begin
      perform taskweave.complete_task(v_id, 'bench', '{"ok": true}'::jsonb);
    exception when sqlstate 'TW001' then
      p_refused := p_refused + 1;
    end;
    commit;
  end loop;
end $$;

create function bench_seed.complete_task(p_task_id uuid, p_worker text, p_output jsonb) returns bench_seed.tasks
language plpgsql set search_path = '' as $$
declare v_task bench_seed.tasks;
begin
  select * into v_task from bench_seed.tasks where id = p_task_id for no key update;
  if v_task.status <> 'running' or v_task.leased_by is distinct from p_worker then
    raise exception 'not leased' using errcode = 'TW001';
  end if;
  perform set_config('taskweave.actor', p_worker, true);
  update bench_seed.tasks set status = 'completed', output = p_output, leased_by = null, lease_expires_at = null,
         completed_at = now(), updated_at = now() where id = p_task_id returning * into v_task;
  return v_task;
end $$;
`;

interface Measurement {
  completions: number;
  /** create_aggregator_task's own time, the slowest round (null: no aggregator) */
  createMs: number | null;
  wallMs: number;
  meanCallMs: number;
  activationDelayMs: number | null;
  activations: number;
  /** quorum N/2: completions that found their task already cancelled by the early activation */
  refused?: number;
}

/**
 * How the 8 connections drive the completions:
 *  - 'server' (default): each connection CALLs bench_seed.complete_each, a procedure that completes its
 *    share one by one and COMMITs after each, so every completion is still its own transaction, racing the
 *    other seven, but no client round trip or client CPU (which shares this machine's two cores) is counted;
 *  - 'client': one statement per completion from Node, round trips included (BENCH_DRIVER=client).
 */
const DRIVER = process.env.BENCH_DRIVER === 'client' ? 'client' : 'server';

/** Complete the given running tasks from CONNECTIONS connections; measure wall time and each completion. */
async function completeAll(clients: Sql[], ids: string[], fn: 'taskweave.complete_task' | 'bench_seed.complete_task', tolerant = false) {
  const started = performance.now();
  let callMs = 0;
  let lastReturn = 0;
  let refused = 0;
  if (DRIVER === 'server') {
    const shares = clients.map((_, i) => ids.filter((_, j) => j % clients.length === i));
    await Promise.all(
      clients.map(async (c, i) => {
        if (tolerant) {
          const [row] = await c.unsafe<{ p_refused: number }[]>('call bench_seed.complete_each_tolerant($1::uuid[])', [shares[i]]);
          refused += row.p_refused;
        } else await c.unsafe('call bench_seed.complete_each($1::uuid[], $2)', [shares[i], fn]);
        lastReturn = Math.max(lastReturn, performance.now());
      }),
    );
    const wallMs = performance.now() - started;
    return { wallMs, callMs: (wallMs * clients.length), lastReturn, refused };
  }
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < ids.length) {
        const id = ids[next++];
        const t0 = performance.now();
        try {
          await c.unsafe(`select 1 from ${fn}($1, 'bench', '{"ok": true}'::jsonb)`, [id], { prepare: true });
        } catch (error) {
          if (!tolerant || (error as { code?: string }).code !== 'TW001') throw error;
          refused++;
        }
        const t1 = performance.now();
        callMs += t1 - t0;
        lastReturn = Math.max(lastReturn, t1);
      }
    }),
  );
  return { wallMs: performance.now() - started, callMs, lastReturn, refused };
}

/** none: the floor; plain: waits for all; half / all: a quorum aggregator with p_min_completed = N/2 or N */
type Join = 'none' | 'plain' | 'half' | 'all';

async function runOurs(admin: Sql, clients: Sql[], listener: Sql, n: number, join: Join | boolean): Promise<Measurement> {
  if (typeof join === 'boolean') join = join ? 'plain' : 'none';
  const withAggregator = join !== 'none';
  const minCompleted = join === 'half' ? Math.max(1, Math.floor(n / 2)) : join === 'all' ? n : null;
  const rounds = roundsFor(n);
  let wallMs = 0;
  let callMs = 0;
  let delay = 0;
  let activations = 0;
  let refused = 0;
  let createMs = 0;
  for (let r = 0; r < rounds; r++) {
    const [root] = await admin`select (taskweave.create_task('bench root', 'bench')).id`;
    const parents: string[] = [];
    if (n > 10_000) {
      const parts = await admin<{ id: string }[]>`
        select (taskweave.create_parallel_task(${root.id}, 'part ' || i, 'bench')).id from generate_series(1, ${Math.ceil(n / PART_SIZE)}::int) i`;
      parents.push(...parts.map((p) => p.id));
    }
    const ids: string[] = [];
    for (let made = 0; made < n; made += PART_SIZE) {
      const parent = parents.length > 0 ? parents[made / PART_SIZE] : root.id;
      const batch = await admin<{ id: string }[]>`
        select (taskweave.create_parallel_task(${parent}, 'dep ' || i, 'bench')).id from generate_series(1, ${Math.min(PART_SIZE, n - made)}::int) i`;
      ids.push(...batch.map((c) => c.id));
    }
    let aggregatorId: string | null = null;
    if (withAggregator) {
      const t0 = performance.now();
      const [agg] = await admin`
        select (taskweave.create_aggregator_task(${root.id}, ${ids}::uuid[], 'bench aggregate', 'bench', p_min_completed => ${minCompleted}::int)).id`;
      createMs = Math.max(createMs, performance.now() - t0);
      aggregatorId = agg.id as string;
    }
    for (let i = 0; i < ids.length; i += 10_000) {
      await admin`select count(taskweave.claim_task(id, 'bench', 3600)) from unnest(${ids.slice(i, i + 10_000)}::uuid[]) as id`;
    }
    let notifiedAt = 0;
    const subscription = aggregatorId
      ? await listener.listen('task_ready', (payload) => {
          if (payload === aggregatorId) notifiedAt = performance.now();
        })
      : null;
    const result = await completeAll(clients, ids, 'taskweave.complete_task', join === 'half');
    wallMs += result.wallMs;
    callMs += result.callMs;
    refused += result.refused;
    if (aggregatorId) {
      const deadline = performance.now() + 10_000;
      while (!notifiedAt && performance.now() < deadline) await new Promise((res) => setTimeout(res, 1));
      delay = Math.max(delay, notifiedAt - result.lastReturn);
      const [row] = await admin`select count(*)::int as n from taskweave.task_events where task_id = ${aggregatorId} and to_status = 'pending'`;
      activations += row.n as number;
      await subscription!.unlisten();
    }
  }
  return { completions: n * rounds, createMs: withAggregator ? createMs : null, wallMs, meanCallMs: callMs / (n * rounds), activationDelayMs: withAggregator ? delay : null, activations, refused };
}

async function runSeed(admin: Sql, clients: Sql[], n: number): Promise<Measurement> {
  const rounds = roundsFor(n);
  let wallMs = 0;
  let callMs = 0;
  let activations = 0;
  for (let r = 0; r < rounds; r++) {
    const [root] = await admin`
      insert into bench_seed.tasks (id, root_task_id, title, instructions, status)
      select id, id, 'bench root', 'bench', 'completed' from (select gen_random_uuid() as id) g returning id`;
    const children = await admin<{ id: string }[]>`
      insert into bench_seed.tasks (parent_task_id, root_task_id, title, instructions, status, is_parallel_task, attempt, leased_by, lease_expires_at)
      select ${root.id}, ${root.id}, 'dep ' || i, 'bench', 'running', true, 1, 'bench', now() + interval '1 hour'
        from generate_series(1, ${n}::int) i returning id`;
    const ids = children.map((c) => c.id);
    const [agg] = await admin`
      insert into bench_seed.tasks (parent_task_id, root_task_id, title, instructions, status, is_parallel_task, dependent_task_ids)
      values (${root.id}, ${root.id}, 'bench aggregate', 'bench', 'queued', true, ${ids}::uuid[]) returning id`;
    const result = await completeAll(clients, ids, 'bench_seed.complete_task');
    wallMs += result.wallMs;
    callMs += result.callMs;
    const [row] = await admin`select count(*)::int as n from bench_seed.task_events where task_id = ${agg.id} and to_status = 'pending'`;
    activations += row.n as number;
  }
  return { completions: n * rounds, createMs: null, wallMs, meanCallMs: callMs / (n * rounds), activationDelayMs: null, activations };
}

/** a workload left out (BENCH_JOINS, BENCH_SEED_MAX): its figures print as NaN and its checks are skipped */
const NOT_RUN: Measurement = { completions: 0, createMs: null, wallMs: NaN, meanCallMs: NaN, activationDelayMs: null, activations: NaN };
const perCompletionUs = (m: Measurement) => (m.wallMs * 1000) / m.completions;
const fmt = (value: number, digits = 1) => value.toFixed(digits);

async function main() {
  const serverUrl = databaseUrl();
  if (usesEmbeddedDatabase()) await startLocalPostgres((line) => console.log(`db: ${line}`));
  if (usesEmbeddedDatabase() || !(await hasSupabaseRoles(serverUrl))) await bootstrapSupabaseRoles(serverUrl);
  const template = await ensureTemplateDatabase(serverUrl);
  const database = await createDatabaseFromTemplate(serverUrl, template, 'taskweave_bench');
  const admin = connect(database.url, 4);
  try {
    // every dependency is claimed up front, so the running cap (100 by default) is off here, and a run may
    // hold the widest fan-in (default_max_tasks is 1,000)
    await admin`select taskweave.set_settings(${admin.json({ max_children_per_task: 100000, max_aggregator_dependencies: 100000, max_running: 0, default_max_tasks: 0 })})`;
    await admin.end();
    const admin2 = connect(database.url, 4);
    await admin2.unsafe(seedSchema);
    const clients = Array.from({ length: CONNECTIONS }, () => connect(database.url));
    const listener = connect(database.url);
    await Promise.all(clients.map((c) => c`select 1`));

    const [server] = await admin2`select current_setting('server_version') as v, current_setting('synchronous_commit') as sc`;
    console.log(`\nfan-in benchmark: Postgres ${server.v}, ${CONNECTIONS} connections, synchronous_commit=${server.sc}, driver=${DRIVER}`);
    console.log('warming up…');
    await runOurs(admin2, clients, listener, 200, true);

    const rows: { n: number; ours: Measurement; seed: Measurement; floor: Measurement; half: Measurement; all: Measurement }[] = [];
    // This machine's timings drift by tens of percent from run to run: each size is measured REPEAT times,
    // the three workloads in a rotating order, and the run with the median time per completion is reported.
    const median = (ms: Measurement[]) => [...ms].sort((a, b) => perCompletionUs(a) - perCompletionUs(b))[Math.floor(ms.length / 2)];
    for (const n of SIZES) {
      const samples = { floor: [] as Measurement[], ours: [] as Measurement[], seed: [] as Measurement[], half: [] as Measurement[], all: [] as Measurement[] };
      for (let rep = 0; rep < REPEAT; rep++) {
        console.log(`N = ${n}: repetition ${rep + 1}/${REPEAT}, ${roundsFor(n)} round(s) each…`);
        const order = (['floor', 'ours', 'seed', 'half', 'all'] as const).map((_, i, all) => all[(i + rep) % all.length]);
        const wanted = { floor: 'none', ours: 'plain', seed: 'seed', half: 'half', all: 'all' } as const;
        for (const kind of order) {
          if (!JOINS.has(wanted[kind]) || (kind === 'seed' && n > SEED_MAX)) continue;
          if (kind === 'floor') samples.floor.push(await runOurs(admin2, clients, listener, n, 'none'));
          else if (kind === 'ours') samples.ours.push(await runOurs(admin2, clients, listener, n, 'plain'));
          else if (kind === 'half') samples.half.push(await runOurs(admin2, clients, listener, n, 'half'));
          else if (kind === 'all') samples.all.push(await runOurs(admin2, clients, listener, n, 'all'));
          else samples.seed.push(await runSeed(admin2, clients, n));
        }
      }
      const pick = (ms: Measurement[]) => {
        if (ms.length === 0) return NOT_RUN;
        const m = median(ms);
        // every repetition's activations, not only the median's
        return { ...m, activations: ms.reduce((sum, x) => sum + x.activations, 0) / REPEAT };
      };
      rows.push({ n, ours: pick(samples.ours), seed: pick(samples.seed), floor: pick(samples.floor), half: pick(samples.half), all: pick(samples.all) });
    }

    const base = perCompletionUs(rows[0].ours);
    console.log('\n| N | rounds | completions | create_aggregator_task ms | Taskweave µs/completion | mean ms per completion per connection | activation delay ms | activations/rounds | floor µs/completion | vs floor | seed (bool_and scan) µs/completion | seed ÷ Taskweave | vs N=' + SIZES[0] + ' |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const { n, ours, seed, floor } of rows) {
      console.log(
        `| ${n} | ${roundsFor(n)} | ${ours.completions} | ${ours.createMs === null ? 'n/a' : fmt(ours.createMs, 0)} | ${fmt(perCompletionUs(ours))} | ${fmt(ours.meanCallMs, 2)} | ${fmt(ours.activationDelayMs ?? 0, 2)} | ${ours.activations}/${roundsFor(n)} | ${fmt(perCompletionUs(floor))} | ${fmt(perCompletionUs(ours) / perCompletionUs(floor), 2)}x | ${fmt(perCompletionUs(seed))} | ${fmt(perCompletionUs(seed) / perCompletionUs(ours), 1)}x | ${fmt(perCompletionUs(ours) / base, 2)}x |`,
      );
    }
    console.log('\nquorum aggregators (p_min_completed) beside plain ones; µs per dependency = wall time ÷ N, each dependency completed from 8 connections:\n');
    console.log('| N | plain µs/dependency | quorum N/2 µs/dependency | quorum N µs/dependency | floor µs | quorum N/2 ÷ plain | quorum N ÷ plain | activations plain / N/2 / N per round | completions refused after the N/2 quorum (cancelled) | activation delay ms plain / N/2 / N |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const { n, ours, floor, half, all } of rows) {
      const r = roundsFor(n);
      console.log(
        `| ${n} | ${fmt(perCompletionUs(ours))} | ${fmt(perCompletionUs(half))} | ${fmt(perCompletionUs(all))} | ${fmt(perCompletionUs(floor))} | ` +
          `${fmt(perCompletionUs(half) / perCompletionUs(ours), 2)}x | ${fmt(perCompletionUs(all) / perCompletionUs(ours), 2)}x | ` +
          `${ours.activations / r} / ${half.activations / r} / ${all.activations / r} | ${fmt((half.refused ?? 0) / r, 0)} of ${n} | ` +
          `${fmt(ours.activationDelayMs ?? 0, 2)} / ${fmt(half.activationDelayMs ?? 0, 2)} / ${fmt(all.activationDelayMs ?? 0, 2)} |`,
      );
    }
    const last = rows[rows.length - 1];
    const lastSeed = [...rows].reverse().find((r) => !Number.isNaN(perCompletionUs(r.seed)));
    const ran = (m: Measurement) => m !== NOT_RUN;
    const checks = [
      [`time per completion at N=${last.n} within 2x of N=${rows[0].n}`, perCompletionUs(last.ours) / base <= 2, ran(last.ours)],
      [`time per completion at N=${last.n} within 1.2x of the floor`, perCompletionUs(last.ours) / perCompletionUs(last.floor) <= 1.2, ran(last.ours) && ran(last.floor)],
      [`an aggregator over N=${last.n} dependencies created in under 5 s (${fmt((last.ours.createMs ?? NaN) / 1000, 2)} s)`, (last.ours.createMs ?? Infinity) < 5000, ran(last.ours)],
      [`at least 10x faster than the scanning trigger at N=${lastSeed?.n}`, !!lastSeed && perCompletionUs(lastSeed.seed) / perCompletionUs(lastSeed.ours) >= 10, !!lastSeed && ran(lastSeed.ours)],
      ['exactly one activation per aggregator', rows.every((r) => r.ours.activations === roundsFor(r.n)), rows.every((r) => ran(r.ours))],
      ['exactly one activation per quorum aggregator', rows.every((r) => r.half.activations === roundsFor(r.n) && r.all.activations === roundsFor(r.n)), rows.every((r) => ran(r.half) && ran(r.all))],
      [`quorum N: time per dependency at N=${last.n} within 2x of a plain aggregator`, perCompletionUs(last.all) / perCompletionUs(last.ours) <= 2, ran(last.all) && ran(last.ours)],
    ].filter(([, , measured]) => measured) as [string, boolean, boolean][];
    console.log('\ntargets:');
    for (const [label, ok] of checks) console.log(`  ${ok ? 'met    ' : 'MISSED '} ${label}`);
    console.log('\nactivation delay: from the return of the last complete_task call to the aggregator\'s task_ready notification at a listener;');
    console.log('the activation itself commits in the same transaction as the last completion (negative: the notification came first).');
    await Promise.all([...clients, listener, admin2].map((c) => c.end({ timeout: 2 })));
    if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
  } finally {
    await database.drop();
  }
}

await main();
