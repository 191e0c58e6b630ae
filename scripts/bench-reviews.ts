// npm run bench:reviews — the reviews page and a bulk Retry with 10,000 open reviews.
//
// Fills a fresh database (cloned from the migrated template; embedded Postgres unless DATABASE_URL) with
// 10,000 open reviews across 20 runs: failures of several categories (through the real fail_task),
// approvals of ten tools and questions, tasks of three agents. Then, as an operator (role authenticated
// with the operator claim, as the web app's withClaims sets it):
//   - the page: the operator module's listReviews (supabase/functions/_shared/operator.ts; the reviews page
//     and MCP list_reviews call it): a page of 20 with the total that match and each row's task, parent,
//     run and aggregators, for a set of filters and a second page by cursor. Its time is the data time of
//     the page's server render; p50/p95 over BENCH_PAGE_RUNS runs (default 30) after a warm-up.
//   - a bulk Retry of 1,000 failures picked by a filter (resolveReviews: resolve_reviews in batches of 500,
//     one transaction each), BENCH_BULK_RUNS times (default 3), each time with 10,000 reviews open.
// Targets: page p95 < 300 ms, bulk Retry of 1,000 < 5 s. This machine is shared: beside wall time each
// table gives the CPU the operator's Postgres backend spent (from /proc, when the server is local), which
// other processes' load does not inflate.
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { databaseUrl, usesEmbeddedDatabase } from './lib/local-config.ts';
import { bootstrapSupabaseRoles, createDatabaseFromTemplate, ensureTemplateDatabase, hasSupabaseRoles } from './lib/database-setup.ts';
import { startLocalPostgres } from './lib/local-postgres.ts';
import { listReviews, resolveReviews, type ReviewFilter, type Sql as OperatorSql, type Transact } from '../supabase/functions/_shared/operator.ts';

type Sql = postgres.Sql<Record<string, unknown>>;

const OPEN = 10_000;
const RUNS = 20;
const BULK = 1_000;
const PAGE_RUNS = Number(process.env.BENCH_PAGE_RUNS || 30);
const BULK_RUNS = Number(process.env.BENCH_BULK_RUNS || 3);
// BENCH_KEEP=1 keeps the filled database afterwards (to EXPLAIN a query on it), and names it
const TOOLS = ['send_email', 'charge_card', 'create_issue', 'post_message', 'delete_rows', 'deploy', 'refund', 'book_meeting', 'upload_file', 'call_api'];
const CATEGORIES = ['model', 'model', 'model', 'tool', 'timeout', 'internal', 'budget', 'rate_limit'];
const AGENTS = ['researcher', 'writer', 'reviewer'];

const connect = (url: string, max = 1): Sql => postgres(url, { max, onnotice: () => {}, idle_timeout: 5 }) as Sql;

const operatorClaims = { sub: '00000000-0000-4000-8000-0000000be4c4', email: 'bench@example.com', role: 'authenticated', app_metadata: { role: 'operator' } };

/** One transaction as the operator, as the web app's withClaims opens it. */
const asOperator =
  (sql: Sql): Transact =>
  (fn) =>
    sql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${JSON.stringify(operatorClaims)}, true),
                      set_config('role', 'authenticated', true),
                      set_config('plan_cache_mode', 'force_custom_plan', true)`;
      return fn(tx as unknown as OperatorSql);
    }) as never;

/**
 * A run of `size` parallel children that each stop for a person: a share through fail_task (a failure with
 * a category and a message), the rest moved to needs_human_review as the loop's pause does, with an
 * approval or a question review. `category` forces every child to be a failure of that category.
 */
async function addRun(sql: Sql, runNo: number, size: number, category?: string): Promise<string> {
  const [root] = await sql<{ id: string }[]>`select (taskweave.create_task(${`bench run ${runNo}`}, 'bench')).id`;
  const children = await sql<{ id: string; i: number }[]>`
    select (taskweave.create_parallel_task(${root.id}, 'part ' || i, 'bench part ' || i)).id, i
      from generate_series(1, ${size}::int) i`;
  await sql`update taskweave.tasks set agent = (${AGENTS}::text[])[1 + (claim_rank % 3)] where root_task_id = ${root.id} and claim_rank % 4 <> 0 and id <> ${root.id}`;
  await sql`select count(taskweave.claim_task(c.id, 'bench', 3600)) from unnest(${children.map((c) => c.id)}::uuid[]) c(id)`;
  const kindOf = (i: number) => (category ? 'failure' : i % 20 < 12 ? 'failure' : i % 20 < 17 ? 'approval' : 'question');
  const failures = children.filter((c) => kindOf(c.i) === 'failure');
  await sql`
    select count(taskweave.fail_task(f.id, 'bench',
             jsonb_build_object('category', coalesce(${category ?? null}::text, (${CATEGORIES}::text[])[1 + f.n % ${CATEGORIES.length}]),
                                'message', case f.n % 5 when 0 then 'Provider said 503 Service Unavailable'
                                                      when 1 then 'the tool timed out after 30 s'
                                                      when 2 then 'rate limited: retry after 20 s'
                                                      when 3 then 'max_tokens reached for this run'
                                                      else 'model returned an invalid tool call (' || f.n || ')' end),
             false))
      from unnest(${failures.map((c) => c.id)}::uuid[], ${failures.map((c) => c.i)}::int[]) f(id, n)`;
  const asks = children.filter((c) => kindOf(c.i) !== 'failure');
  if (asks.length) {
    // the loop's own pause function is not on main yet: move the tasks and write the reviews as it would
    await sql.begin(async (tx) => {
      await tx`update taskweave.tasks set status = 'needs_human_review' where id = any (${asks.map((c) => c.id)}::uuid[])`;
      await tx`
        insert into taskweave.human_reviews (task_id, kind, request)
        select a.id, case when a.n % 20 < 17 then 'approval' else 'question' end,
               case when a.n % 20 < 17
                    then jsonb_build_object('tool_call_id', 'call-' || a.n, 'tool', (${TOOLS}::text[])[1 + (a.n / 20) % 10],
                                            'arguments', jsonb_build_object('n', a.n), 'reason', 'step ' || a.n)
                    else jsonb_build_object('tool_call_id', 'ask-' || a.n, 'question', 'Which option for part ' || a.n || '?',
                                            'options', jsonb_build_array('a', 'b')) end
          from unnest(${asks.map((c) => c.id)}::uuid[], ${asks.map((c) => c.i)}::int[]) a(id, n)`;
    });
  }
  return root.id;
}

/** CPU (user + system) a local backend has used so far, in ms; NaN when the server is not on this machine. */
function backendCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const fmt = (ms: number) => ms.toFixed(1);

async function main() {
  const serverUrl = databaseUrl();
  if (usesEmbeddedDatabase()) await startLocalPostgres((line) => console.log(`db: ${line}`));
  if (usesEmbeddedDatabase() || !(await hasSupabaseRoles(serverUrl))) await bootstrapSupabaseRoles(serverUrl);
  const template = await ensureTemplateDatabase(serverUrl);
  const database = await createDatabaseFromTemplate(serverUrl, template, 'taskweave_bench');
  try {
    const setup = connect(database.url, 1);
    for (const [key, value] of [['max_children_per_task', 100000], ['default_max_tasks', 0], ['max_running', 0]] as const) {
      await setup.unsafe(`alter database ${database.name} set taskweave.${key} = '${value}'`);
    }
    await setup.end();
    const admin = connect(database.url, 2);
    const [server] = await admin`select current_setting('server_version') as v`;
    console.log(`\nreviews benchmark: Postgres ${server.v}; filling ${OPEN.toLocaleString('en-US')} open reviews in ${RUNS} runs…`);
    const started = performance.now();
    const roots: string[] = [];
    for (let r = 0; r < RUNS - 2; r++) roots.push(await addRun(admin, r, (OPEN - BULK) / (RUNS - 2)));
    await admin`analyze taskweave.tasks`;
    await admin`analyze taskweave.human_reviews`;
    console.log(`  filled in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // one connection: every statement of the operator runs in one backend, whose CPU is read from /proc
    // (kept open: a new connection would be a new backend, and the CPU read would lose it)
    const operatorSql = postgres(database.url, { max: 1, onnotice: () => {}, idle_timeout: 0 }) as Sql;
    const transact = asOperator(operatorSql);
    const [{ pid }] = await operatorSql<{ pid: number }[]>`select pg_backend_pid() as pid`;

    // the bulk target of the first repetition is open too: the page is measured at 10,000
    let bulkRun = 0;
    const addBulkTarget = async () => addRun(admin, RUNS + bulkRun, BULK, `bulk_target_${++bulkRun}`);
    await addBulkTarget();
    await admin`analyze taskweave.human_reviews`;
    const [{ open }] = await admin<{ open: number }[]>`select count(*)::int as open from taskweave.human_reviews where status = 'open'`;

    const filters: [string, ReviewFilter, boolean?][] = [
      ['no filter (page 1)', {}],
      ['no filter, page 2 (cursor)', {}, true],
      ['kind = approval', { kind: 'approval' }],
      ['kind = question', { kind: 'question' }],
      ['category = model', { category: 'model' }],
      ['category = budget, kind = failure', { category: 'budget', kind: 'failure' }],
      ['tool = charge_card', { tool: 'charge_card' }],
      ['run (root_task_id)', { root_task_id: roots[7] }],
      ['agent = writer', { agent: 'writer' }],
      ['older than 1 s', { older_than_seconds: 1 }],
      ['text "503"', { text: '503' }],
      ['text matching nothing', { text: 'no review says this' }],
      ['agent + kind + tool', { agent: 'researcher', kind: 'approval', tool: 'send_email' }],
    ];
    const pageRows: { label: string; p50: number; p95: number; max: number; cpu: number; shown: number; total: number }[] = [];
    for (const [label, filter, secondPage] of filters) {
      let after: Awaited<ReturnType<typeof listReviews>>['items'][number]['cursor'] | undefined;
      if (secondPage) {
        const first = await transact((tx) => listReviews(tx, { filter, limit: 20 }));
        after = first.items.at(-1)?.cursor;
      }
      const times: number[] = [];
      let last: Awaited<ReturnType<typeof listReviews>> | undefined;
      let cpuFrom = 0;
      for (let i = 0; i < PAGE_RUNS + 3; i++) {
        if (i === 3) cpuFrom = backendCpuMs(pid);
        const t0 = performance.now();
        last = await transact((tx) => listReviews(tx, { filter, after, limit: 20 }));
        if (i >= 3) times.push(performance.now() - t0); // three warm-up runs
      }
      const cpu = (backendCpuMs(pid) - cpuFrom) / PAGE_RUNS;
      pageRows.push({ label, p50: percentile(times, 50), p95: percentile(times, 95), max: Math.max(...times), cpu, shown: last!.items.length, total: last!.total });
    }

    const bulkRows: { run: number; ms: number; cpu: number; resolved: number; skipped: number; batches: number; openBefore: number }[] = [];
    for (let rep = 0; rep < BULK_RUNS; rep++) {
      if (rep > 0) {
        await addBulkTarget();
        await admin`analyze taskweave.human_reviews`;
      }
      const [{ openBefore }] = await admin<{ openBefore: number }[]>`select count(*)::int as "openBefore" from taskweave.human_reviews where status = 'open'`;
      const cpu0 = backendCpuMs(pid);
      const t0 = performance.now();
      const outcome = await resolveReviews(transact, { filter: { category: `bulk_target_${bulkRun}` }, action: 'retry', note: 'provider is back' });
      bulkRows.push({ run: rep + 1, ms: performance.now() - t0, cpu: backendCpuMs(pid) - cpu0, ...outcome, openBefore });
    }

    console.log(`\nthe reviews page (operator module listReviews: 20 rows + total + aggregators), ${open.toLocaleString('en-US')} open reviews, ${PAGE_RUNS} runs each:\n`);
    let load = '?';
    try {
      load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    } catch {
      // not Linux
    }
    console.log(`(load average now: ${load})\n`);
    console.log('| filter | rows shown | matching | p50 ms | p95 ms | max ms | backend CPU ms per page |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of pageRows) console.log(`| ${r.label} | ${r.shown} | ${r.total.toLocaleString('en-US')} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.max)} | ${fmt(r.cpu)} |`);
    console.log(`\nbulk Retry of ${BULK.toLocaleString('en-US')} failures by filter (resolveReviews, batches of 500, one transaction each):\n`);
    console.log('| run | open before | resolved | skipped | transactions | ms | backend CPU ms |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of bulkRows) console.log(`| ${r.run} | ${r.openBefore.toLocaleString('en-US')} | ${r.resolved} | ${r.skipped} | ${r.batches} | ${fmt(r.ms)} | ${fmt(r.cpu)} |`);

    const worstPage = Math.max(...pageRows.map((r) => r.p95));
    const worstBulk = Math.max(...bulkRows.map((r) => r.ms));
    const checks = [
      [`every filtered page p95 under 300 ms (worst ${fmt(worstPage)} ms)`, worstPage < 300],
      [`bulk Retry of ${BULK} under 5 s (worst ${fmt(worstBulk)} ms)`, worstBulk < 5000],
      [`every bulk run resolved all ${BULK}`, bulkRows.every((r) => r.resolved === BULK && r.skipped === 0)],
      [`the page was measured with ${OPEN.toLocaleString('en-US')} open reviews`, open === OPEN],
    ] as const;
    console.log('\ntargets:');
    for (const [label, ok] of checks) console.log(`  ${ok ? 'met    ' : 'MISSED '} ${label}`);
    await Promise.all([admin.end({ timeout: 2 }), operatorSql.end({ timeout: 2 })]);
    if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
  } finally {
    if (process.env.BENCH_KEEP === '1') console.log(`\nkept the database (BENCH_KEEP=1): ${database.name}`);
    else await database.drop();
  }
}

await main();
