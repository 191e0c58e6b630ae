// npm run bench:dispatch — wide fan-outs through the real dispatcher and the real process-task under Deno,
// against a local OpenAI-protocol model server that answers after 1 s and enforces its own requests-per-
// minute limit (429 with Retry-After beyond it).
//
// Setup: a fresh clone of the migrated template with taskweave.max_running = BENCH_CAP (50) and
// taskweave.set_model_limits(model, BENCH_RPM) matching the model server's limit (300 requests/minute).
// The dispatcher (scripts/lib/dispatcher.ts) follows the cap; process-task runs with LLM_PROVIDER=openai
// and OPENAI_BASE_URL pointing at the model server.
//
// A fan-out of width N: the root's first model step calls create_parallel_task N times, its second
// create_aggregator_task over them (one aggregator per 200: the tool's limit), its third answers; every
// child and aggregator answers in one step.
// While it runs, 20 single-task runs are started one by one, and how long each waited to start
// (started_at - created_at) is recorded. Every 50 ms the tasks running at once are counted.
//
// The bound: the shortest wall time the cap and the rate limit allow with 1 s per model request.
//   cap:  1 s (root's first step) + ceil(tasks / cap) s (children and probes, one 1 s step each) + 1 s (aggregators)
//   rate: the k-th request can go at floor((k - 1) / rpm) minutes at the earliest (a sliding one-minute
//         window), so the last of all requests ends at floor((requests - 1) / rpm) * 60 s + 1 s
// Targets: wall time <= 1.25x the bound; no review; the most running <= the cap; a new run starts within
// 2 s at p99.
import postgres from 'postgres';
import { databaseUrl, usesEmbeddedDatabase } from './lib/local-config.ts';
import { adminClient, bootstrapSupabaseRoles, createDatabaseFromTemplate, ensureTemplateDatabase, hasSupabaseRoles } from './lib/database-setup.ts';
import { startLocalPostgres } from './lib/local-postgres.ts';
import { startFunctionServer } from './lib/function-server.ts';
import { startDispatcher } from './lib/dispatcher.ts';
import { startFakeOpenAI, taskOf, toolResultsOf, type ChatRequest, type ScriptedReply } from '../tests/process-task/fake-openai-server.ts';

const CAP = Number(process.env.BENCH_CAP || 50);
const RPM = Number(process.env.BENCH_RPM || 300);
const WIDTHS = (process.env.BENCH_WIDTHS ?? '50,500').split(',').map(Number);
const PROBES = Number(process.env.BENCH_PROBES || 20);
const MODEL_LATENCY_MS = Number(process.env.BENCH_MODEL_LATENCY_MS || 1000);
const MODEL = 'bench-model';
/** create_aggregator_task takes at most 200 dependencies (the tool's schema), so a wider fan-out gets one aggregator per 200 */
const AGGREGATOR_WIDTH = 200;

type Sql = postgres.Sql<Record<string, unknown>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The model server's own limit: a sliding one-minute window of admitted requests. */
function rateLimiter(rpm: number) {
  const admitted: number[] = [];
  let refused = 0;
  return {
    get refused() {
      return refused;
    },
    get admitted() {
      return admitted.length;
    },
    /** null when admitted, else the Retry-After seconds */
    take(now = Date.now()): number | null {
      let live = admitted.length;
      // count the admitted requests of the last minute (admitted is in time order)
      let first = admitted.length;
      while (first > 0 && admitted[first - 1] > now - 60_000) first--;
      live = admitted.length - first;
      if (live < rpm) {
        admitted.push(now);
        return null;
      }
      refused++;
      return Math.max(1, Math.ceil((admitted[first] + 60_000 - now) / 1000));
    },
  };
}

function percentile(values: number[], p: number) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface Result {
  width: number;
  wallS: number;
  boundS: number;
  capBoundS: number;
  rateBoundS: number;
  requests: number;
  refused: number;
  reviews: number;
  rateLimitReviews: number;
  maxRunning: number;
  waitP50: number;
  waitP99: number;
  finished: boolean;
  statuses: string;
}

async function runFanOut(serverUrl: string, template: string, width: number): Promise<Result> {
  const db = await createDatabaseFromTemplate(serverUrl, template, 'taskweave_bench_dispatch');
  const admin = adminClient(db.url);
  // the root's children are the N parallel tasks and the aggregator
  await admin`select taskweave.set_settings(${admin.json({ max_running: CAP, max_children_per_task: Math.max(100, width + 10), default_max_tasks: width + 100 })})`;
  await admin.end({ timeout: 2 });
  const sql = postgres(db.url, { max: 2, onnotice: () => {} }) as Sql;
  const sampler = postgres(db.url, { max: 1, onnotice: () => {} }) as Sql;
  await sql`select taskweave.set_model_limits(${MODEL}, ${RPM})`;

  const aggregators = Math.ceil(width / AGGREGATOR_WIDTH);
  const limiter = rateLimiter(RPM);
  const script = async (req: ChatRequest): Promise<ScriptedReply> => {
    const retryAfter = limiter.take();
    if (retryAfter !== null) {
      return {
        status: 429,
        headers: { 'retry-after': String(retryAfter) },
        body: { error: { message: `Rate limit reached for ${MODEL}: ${RPM} requests per minute`, type: 'requests', code: 'rate_limit_exceeded' } },
      };
    }
    await sleep(MODEL_LATENCY_MS);
    const task = taskOf(req);
    if (task.kind === 'root' && !task.input.probe) {
      const results = toolResultsOf(req);
      if (!req.messages.some((m) => m.role === 'assistant')) {
        return {
          tool_calls: Array.from({ length: width }, (_, i) => ({
            id: `call_part_${i}`,
            name: 'create_parallel_task',
            arguments: { title: `Part ${i}`, instructions: `Do part ${i}.`, input: { part: i } },
          })),
        };
      }
      if (!results.some((r) => r.tool_call_id.startsWith('call_aggregate'))) {
        const ids = results.map((r) => (r.value as { task_id?: string }).task_id).filter((id): id is string => !!id);
        // the tool takes at most 200 dependencies: one aggregator per 200 parts
        return {
          tool_calls: Array.from({ length: aggregators }, (_, j) => ({
            id: `call_aggregate_${j}`,
            name: 'create_aggregator_task',
            arguments: { title: `Combine parts ${j * AGGREGATOR_WIDTH}-${Math.min(width, (j + 1) * AGGREGATOR_WIDTH) - 1}`, instructions: 'Combine.', dependent_task_ids: ids.slice(j * AGGREGATOR_WIDTH, (j + 1) * AGGREGATOR_WIDTH) },
          })),
        };
      }
      return { content: 'Fanned out and aggregated.' };
    }
    return { content: `Done: ${JSON.stringify(task.input).slice(0, 50)}` };
  };
  const fake = await startFakeOpenAI(script);
  const fnLogs: string[] = [];
  const fn = await startFunctionServer({
    databaseUrl: db.url,
    port: 0,
    secret: 'bench-secret',
    env: {
      LLM_PROVIDER: 'openai',
      LLM_MODEL: MODEL,
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-bench',
      PROCESS_TASK_MAX_CHILDREN: String(Math.max(100, width + 10)),
    },
    onLog: (line) => fnLogs.push(line),
  });
  const dispatcher = await startDispatcher({ databaseUrl: db.url, functionUrl: fn.url, secret: fn.secret, sweepIntervalMs: 1000, log: () => {} });

  let maxRunning = 0;
  let sampling = true;
  const samplerLoop = (async () => {
    while (sampling) {
      const [row] = await sampler<{ n: number }[]>`select count(*)::int as n from taskweave.tasks where status = 'running'`;
      maxRunning = Math.max(maxRunning, row.n);
      await sleep(50);
    }
  })();

  const capBoundS = 1 + Math.ceil((width + PROBES) / CAP) + 1;
  const requests = width + 3 + aggregators + PROBES; // root: 3 steps, children, aggregators, probes
  const rateBoundS = Math.floor((requests - 1) / RPM) * 60 + MODEL_LATENCY_MS / 1000;
  const boundS = Math.max(capBoundS, rateBoundS);
  const timeoutS = Math.max(60, boundS * 3);

  const t0 = Date.now();
  const [root] = await sql<{ id: string }[]>`select (taskweave.create_task(${`Fan out ${width}`}, 'Split the work, then combine it.')).id`;
  // probes: single-task runs started while the wide run holds the cap, spread over its first part
  const probeIds: string[] = [];
  const probeEvery = Math.max(100, Math.min(1500, ((boundS - 1) * 1000) / (PROBES + 2)));
  const probes = (async () => {
    await sleep(1200);
    for (let i = 0; i < PROBES; i++) {
      const [p] = await sql<{ id: string }[]>`select (taskweave.create_task(${`Probe ${i}`}, 'Answer at once.', ${sql.json({ probe: true, n: i })})).id`;
      probeIds.push(p.id);
      await sleep(probeEvery);
    }
  })();

  let finished = false;
  let wallS = 0;
  for (;;) {
    const [row] = await sql<{ open: number; root: string }[]>`
      select count(*) filter (where status in ('pending', 'queued', 'running'))::int as open,
             (select status::text from taskweave.tasks where id = ${root.id}) as root
        from taskweave.tasks where root_task_id = ${root.id}`;
    const [agg] = await sql<{ n: number }[]>`
      select count(*)::int as n from taskweave.tasks where root_task_id = ${root.id} and cardinality(dependent_task_ids) > 0 and status = 'completed'`;
    if (row.root === 'completed' && agg.n === aggregators && row.open === 0) {
      wallS = (Date.now() - t0) / 1000;
      finished = true;
      break;
    }
    // stuck: nothing left that can move (a child in review holds the aggregator)
    if ((Date.now() - t0) / 1000 > timeoutS) {
      wallS = (Date.now() - t0) / 1000;
      break;
    }
    await sleep(100);
  }
  await probes;
  // the probes finish too
  const probeDeadline = Date.now() + 120_000;
  while (Date.now() < probeDeadline) {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks where id = any (${probeIds}::uuid[]) and started_at is null`;
    if (row.n === 0) break;
    await sleep(200);
  }
  sampling = false;
  await samplerLoop;
  const waits = (
    await sql<{ ms: number }[]>`
      select extract(epoch from (started_at - created_at)) * 1000 as ms from taskweave.tasks where id = any (${probeIds}::uuid[]) and started_at is not null`
  ).map((r) => Number(r.ms));
  const [reviews] = await sql<{ all: number; rate: number }[]>`
    select count(*)::int as all,
           count(*) filter (where error ->> 'category' = 'rate_limit' or error::text ilike '%429%' or error::text ilike '%rate limit%')::int as rate
      from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id where t.root_task_id = ${root.id} or t.id = any (${probeIds}::uuid[])`;
  const statuses = (
    await sql<{ status: string; n: number }[]>`
      select status::text, count(*)::int as n from taskweave.tasks where root_task_id = ${root.id} group by 1 order by 1`
  )
    .map((r) => `${r.status} ${r.n}`)
    .join(', ');

  await dispatcher.stop();
  await fn.stop();
  await fake.close();
  await Promise.all([sql.end({ timeout: 2 }), sampler.end({ timeout: 2 })]);
  await db.drop();
  if (process.env.BENCH_VERBOSE) console.log(fnLogs.slice(-40).join('\n'));
  return {
    width,
    wallS,
    boundS,
    capBoundS,
    rateBoundS,
    requests: limiter.admitted,
    refused: limiter.refused,
    reviews: reviews.all,
    rateLimitReviews: reviews.rate,
    maxRunning,
    waitP50: waits.length ? percentile(waits, 50) : NaN,
    waitP99: waits.length ? percentile(waits, 99) : NaN,
    finished,
    statuses,
  };
}

async function main() {
  const serverUrl = databaseUrl();
  if (usesEmbeddedDatabase()) await startLocalPostgres((line) => console.log(`db: ${line}`));
  if (usesEmbeddedDatabase() || !(await hasSupabaseRoles(serverUrl))) await bootstrapSupabaseRoles(serverUrl);
  const template = await ensureTemplateDatabase(serverUrl);
  console.log(`\ndispatch benchmark: max_running = ${CAP}, model server ${RPM} requests/minute (set_model_limits the same), ` +
    `${MODEL_LATENCY_MS} ms per answer, ${PROBES} single-task runs started during each fan-out`);
  const results: Result[] = [];
  for (const width of WIDTHS) {
    console.log(`fan-out of ${width}…`);
    const r = await runFanOut(serverUrl, template, width);
    console.log(`  ${r.finished ? 'done' : 'NOT DONE'} in ${r.wallS.toFixed(1)} s (bound ${r.boundS.toFixed(1)} s); tasks: ${r.statuses}`);
    results.push(r);
  }
  console.log('\n| width | wall s | bound s (cap / rate) | wall ÷ bound | model requests answered | refused (429) | reviews (rate-limit) | most running (cap) | new run waited p50 ms | p99 ms |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.width} | ${r.finished ? r.wallS.toFixed(1) : `> ${r.wallS.toFixed(0)} (not done)`} | ${r.boundS.toFixed(0)} (${r.capBoundS.toFixed(0)} / ${r.rateBoundS.toFixed(0)}) | ` +
        `${(r.wallS / r.boundS).toFixed(2)}x | ${r.requests} | ${r.refused} | ${r.reviews} (${r.rateLimitReviews}) | ${r.maxRunning} (${CAP}) | ` +
        `${r.waitP50.toFixed(0)} | ${r.waitP99.toFixed(0)} |`,
    );
  }
  console.log('\ntargets:');
  let ok = true;
  for (const r of results) {
    const checks: [string, boolean][] = [
      [`width ${r.width}: wall time <= 1.25x the bound (${(r.wallS / r.boundS).toFixed(2)}x)`, r.finished && r.wallS <= 1.25 * r.boundS],
      [`width ${r.width}: no review (${r.reviews})`, r.reviews === 0],
      [`width ${r.width}: most running <= cap (${r.maxRunning} <= ${CAP})`, r.maxRunning <= CAP],
      [`width ${r.width}: a new run starts within 2 s at p99 (${r.waitP99.toFixed(0)} ms)`, r.waitP99 <= 2000],
    ];
    for (const [label, pass] of checks) {
      console.log(`  ${pass ? 'met    ' : 'MISSED '} ${label}`);
      ok &&= pass;
    }
  }
  if (!ok) process.exitCode = 1;
}

await main();
