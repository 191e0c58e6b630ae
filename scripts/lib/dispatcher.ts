// The local dispatcher: Postgres says a task is ready (NOTIFY task_ready), the dispatcher invokes
// process-task for it over HTTP, at most `concurrency` at a time. A periodic sweep finds what
// notifications cannot announce: retries whose backoff (run_after) has passed, leases that expired
// because a worker died, and anything missed while the dispatcher was down.
import postgres from 'postgres';

export interface DispatcherOptions {
  databaseUrl: string;
  /** …/functions/v1/process-task */
  functionUrl: string;
  secret: string;
  concurrency?: number;
  sweepIntervalMs?: number;
  /** per invocation; process-task's own budget is shorter */
  requestTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface Dispatcher {
  stop(): Promise<void>;
  /** resolves when nothing is queued or in flight */
  idle(): Promise<void>;
  /** run a sweep now (tests, and right after start) */
  sweep(): Promise<number>;
  readonly stats: { invoked: number; completed: number; conflicts: number; errors: number };
}

export async function startDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const sweepIntervalMs = options.sweepIntervalMs ?? 5_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 180_000;
  const log = options.log ?? ((line: string) => console.log(`dispatcher: ${line}`));
  const sql = postgres(options.databaseUrl, { max: 2, onnotice: () => {}, idle_timeout: 0, connect_timeout: 10 });

  const queue: string[] = [];
  const queued = new Set<string>();
  const inFlight = new Set<string>();
  const stats = { invoked: 0, completed: 0, conflicts: 0, errors: 0 };
  let stopped = false;
  let idleWaiters: (() => void)[] = [];

  const checkIdle = () => {
    if (queue.length === 0 && inFlight.size === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((w) => w());
    }
  };

  const enqueue = (taskId: string) => {
    if (stopped || queued.has(taskId) || inFlight.has(taskId)) return;
    if (!/^[0-9a-f-]{36}$/i.test(taskId)) return;
    queued.add(taskId);
    queue.push(taskId);
    pump();
  };

  function pump() {
    while (!stopped && inFlight.size < concurrency && queue.length > 0) {
      const taskId = queue.shift()!;
      queued.delete(taskId);
      inFlight.add(taskId);
      void invoke(taskId).finally(() => {
        inFlight.delete(taskId);
        pump();
        checkIdle();
      });
    }
  }

  async function invoke(taskId: string) {
    stats.invoked++;
    try {
      const res = await fetch(options.functionUrl, {
        method: 'POST',
        headers: { Authorization: `Bearer ${options.secret}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ task_id: taskId }),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      const text = await res.text();
      if (res.status === 200) {
        stats.completed++;
        const results = (JSON.parse(text) as { results: { task_id: string; status: string; outcome: string }[] }).results;
        for (const r of results) log(`${r.task_id} -> ${r.status} (${r.outcome})`);
      } else if (res.status === 409 || res.status === 404) {
        // someone else claimed it, it is not due yet (a backoff: the sweep finds it when it is), or it is gone
        stats.conflicts++;
      } else {
        stats.errors++;
        log(`${taskId}: process-task answered ${res.status}: ${text.slice(0, 300)}`);
      }
    } catch (error) {
      stats.errors++;
      log(`${taskId}: process-task could not be reached: ${(error as Error).message}`);
    }
  }

  async function sweep(): Promise<number> {
    if (stopped) return 0;
    try {
      const rows = await sql<{ id: string }[]>`
        select id from public.tasks
         where (status = 'pending' and run_after <= now())
            or (status = 'running' and lease_expires_at <= now())
         order by coalesce(lease_expires_at, run_after)
         limit ${concurrency * 25}`;
      for (const { id } of rows) enqueue(id);
      return rows.length;
    } catch (error) {
      log(`sweep failed: ${(error as Error).message}`);
      return 0;
    }
  }

  const listener = await sql.listen('task_ready', (payload) => enqueue(payload.trim()), () => void sweep());
  const timer = setInterval(() => void sweep(), sweepIntervalMs);
  await sweep();

  return {
    stats,
    sweep,
    idle: () =>
      new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        checkIdle();
      }),
    async stop() {
      stopped = true;
      clearInterval(timer);
      queue.length = 0;
      queued.clear();
      await listener.unlisten().catch(() => {});
      const deadline = Date.now() + 10_000;
      while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await sql.end({ timeout: 2 });
      checkIdle();
    },
  };
}
