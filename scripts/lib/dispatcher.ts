// The local dispatcher: Postgres says a task is ready (NOTIFY task_ready), the dispatcher invokes
// process-task in claim mode ({"max_tasks": 1}) so that SQL, not the order notifications arrived in,
// decides which task runs next: claim_tasks takes runs in turn and holds taskweave.max_running.
// A periodic sweep runs taskweave_private.sweep() (join deadlines, leftover cancellations) and finds
// what notifications cannot announce: retries whose backoff passed, leases that expired because a
// worker died, and anything missed while the dispatcher was down.
import postgres from 'postgres';

export interface DispatcherOptions {
  databaseUrl: string;
  /** …/functions/v1/process-task */
  functionUrl: string;
  secret: string;
  /** invocations in flight at once; by default the database's running cap (taskweave.max_running) */
  concurrency?: number;
  sweepIntervalMs?: number;
  /** per invocation; process-task's own budget is shorter */
  requestTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface Dispatcher {
  stop(): Promise<void>;
  /** resolves when nothing is wanted or in flight */
  idle(): Promise<void>;
  /** run a sweep now (tests, and right after start) */
  sweep(): Promise<number>;
  readonly stats: { invoked: number; completed: number; empty: number; errors: number };
  /** the concurrency in force (follows taskweave.max_running unless given) */
  readonly concurrency: number;
}

/** With no cap (max_running = 0) the dispatcher still bounds itself; the database's connections are the real limit. */
const UNCAPPED_CONCURRENCY = 100;

export async function startDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const sweepIntervalMs = options.sweepIntervalMs ?? 5_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 180_000;
  const log = options.log ?? ((line: string) => console.log(`dispatcher: ${line}`));
  const sql = postgres(options.databaseUrl, { max: 2, onnotice: () => {}, idle_timeout: 0, connect_timeout: 10 });

  let concurrency = Math.max(1, options.concurrency ?? UNCAPPED_CONCURRENCY);
  // invocations still wanted: one per task_ready, or the due count a sweep found
  let wanted = 0;
  let inFlight = 0;
  const stats = { invoked: 0, completed: 0, empty: 0, errors: 0 };
  let stopped = false;
  let idleWaiters: (() => void)[] = [];

  const checkIdle = () => {
    if (wanted === 0 && inFlight === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((w) => w());
    }
  };

  function pump() {
    while (!stopped && inFlight < concurrency && wanted > 0) {
      wanted--;
      inFlight++;
      void invoke().finally(() => {
        inFlight--;
        pump();
        checkIdle();
      });
    }
  }

  async function invoke() {
    stats.invoked++;
    try {
      const res = await fetch(options.functionUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${options.secret}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ max_tasks: 1 }),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      const text = await res.text();
      if (res.status === 200) {
        const results = (JSON.parse(text) as { results: { task_id: string; status: string; outcome: string }[] }).results;
        if (results.length === 0) {
          // nothing claimable now (claimed elsewhere, or the cap is full): the next notification, the next
          // task that ends, or the sweep says when
          stats.empty++;
          wanted = 0;
        } else {
          stats.completed++;
          // the task that just ran left its place under the cap: claim again at once, or a due task (a new
          // run's first, say) would wait for the next notification or sweep
          wanted = Math.max(wanted, 1);
        }
        for (const r of results) log(`${r.task_id} -> ${r.status} (${r.outcome})`);
      } else {
        stats.errors++;
        log(`process-task answered ${res.status}: ${text.slice(0, 300)}`);
      }
    } catch (error) {
      stats.errors++;
      log(`process-task could not be reached: ${(error as Error).message}`);
    }
  }

  const want = (n: number) => {
    if (stopped) return;
    wanted = Math.max(wanted, 0) + n;
    pump();
  };

  async function sweep(): Promise<number> {
    if (stopped) return 0;
    try {
      await sql`select taskweave_private.sweep()`;
      const [row] = await sql<{ due: number; cap: number }[]>`
        select (select count(*)::int from (
                  select 1 from taskweave.tasks t
                   where t.status in ('pending', 'running') and taskweave_private.is_due(t.status, t.run_after, t.lease_expires_at)
                   limit 1000) d) as due,
               taskweave_private.setting_int('max_running', 100) as cap`;
      if (options.concurrency === undefined) concurrency = row.cap > 0 ? row.cap : UNCAPPED_CONCURRENCY;
      // every due task wants an invocation; the invocations in flight are running tasks, not claims, so
      // they are not subtracted (an empty claim sets wanted back to 0)
      wanted = Math.max(wanted, row.due);
      pump();
      checkIdle();
      return row.due;
    } catch (error) {
      log(`sweep failed: ${(error as Error).message}`);
      return 0;
    }
  }

  const listener = await sql.listen('task_ready', () => want(1), () => void sweep());
  const timer = setInterval(() => void sweep(), sweepIntervalMs);
  await sweep();

  return {
    stats,
    sweep,
    get concurrency() {
      return concurrency;
    },
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      }),
    async stop() {
      stopped = true;
      clearInterval(timer);
      wanted = 0;
      await listener.unlisten().catch(() => {});
      const deadline = Date.now() + 10_000;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await sql.end({ timeout: 2 });
      checkIdle();
    },
  };
}
