// A listener's lease on `task_changed` (migration 20261129000100_change_watchers.sql): Postgres sends
// task_changed only while some lease is live, because every notifying transaction serialises on the
// notify queue's lock through its commit. The web app's live feed and the mcp function's wait_for_task
// each hold one lease per process while something of theirs listens, counted here, renewed well before
// it runs out, and dropped when the last holder lets go (or left to expire if the process dies).
import type postgres from 'postgres';

type Sql = postgres.Sql<Record<string, unknown>>;

export interface ChangeWatchOptions {
  /** this process's watcher id, e.g. web:<host>:<pid>:<random> or mcp:<uuid> (at most 200 characters) */
  watcher: string;
  /** length of the lease; a process that dies keeps Postgres notifying for at most this long */
  leaseSeconds?: number;
  /** how often a held lease is renewed: well under leaseSeconds, so one failed renewal costs nothing */
  renewMs?: number;
  /** how long the lease is kept after the last holder lets go, so a holder that comes straight back (a page reload, the next wait) finds it live */
  lingerMs?: number;
  /** at most this long, acquire() waits for the transactions in flight when the lease committed (see drain) */
  drainMs?: number;
  /** a renewal, wait for transactions in flight or unwatch that failed (acquire() throws only when the lease could not be taken) */
  onError?: (what: 'renew' | 'drain' | 'unwatch', error: unknown) => void;
}

export interface ChangeWatch {
  readonly watcher: string;
  /**
   * Hold the lease; resolves once it is in place. True when the lease was not already live and settled
   * when this call began: changes made before then were not notified, so the caller re-reads once.
   */
  acquire(): Promise<boolean>;
  /** Let go of one hold; the last one ends the lease (after lingerMs). */
  release(): void;
  /** End the lease now, whoever holds it (shutdown, tests). */
  stop(): Promise<void>;
}

export const DEFAULT_LEASE_SECONDS = 60;
export const DEFAULT_RENEW_MS = 20_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A Node timer must not keep a finished process alive; Deno's timers are plain numbers. */
function unref<T>(timer: T): T {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

export function changeWatch(sql: Sql, options: ChangeWatchOptions): ChangeWatch {
  const { watcher, leaseSeconds = DEFAULT_LEASE_SECONDS, renewMs = DEFAULT_RENEW_MS, lingerMs = 0, drainMs = 1_000 } = options;
  let holders = 0;
  let watching = false; // our lease is committed and renewed
  let settled = false; // ...and every transition that ran before it has committed (or drainMs passed)
  let generation = 0; // counts leases taken, so acquire() can tell that the lease it found was replaced
  let renewTimer: ReturnType<typeof setInterval> | undefined;
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;

  // one database call at a time, in order: a renewal or an unwatch never overtakes a registration
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(step: () => Promise<T>): Promise<T> => {
    const result = queue.then(step);
    queue = result.catch(() => undefined);
    return result;
  };

  const watchOnce = () => sql`select taskweave_private.watch_changes(${watcher}, ${leaseSeconds})`;

  // A transition whose trigger ran before our lease committed sent no task_changed, and its transaction
  // may commit only after the caller's first read. Wait until every transaction in flight when the lease
  // committed has ended, so one read after acquire() sees them all. Bounded: a long transaction elsewhere
  // in the cluster must not hold a listener up.
  async function drain() {
    const [{ xmax }] = await sql<{ xmax: string }[]>`select pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text as xmax`;
    const until = Date.now() + drainMs;
    for (;;) {
      const [{ done }] = await sql<{ done: boolean }[]>`
        select pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) >= ${xmax}::pg_catalog.xid8 as done`;
      if (done || Date.now() >= until) return;
      await sleep(5);
    }
  }

  async function start() {
    await watchOnce();
    generation++;
    watching = true;
    renewTimer = unref(
      setInterval(() => {
        serial(async () => {
          if (watching) await watchOnce();
        }).catch((error) => options.onError?.('renew', error));
      }, renewMs),
    );
    try {
      await drain();
    } catch (error) {
      options.onError?.('drain', error); // the lease holds; only the wait for stragglers was cut short
    }
    settled = true;
  }

  async function end(force: boolean) {
    if (!watching || (holders > 0 && !force)) return;
    watching = false;
    settled = false;
    clearInterval(renewTimer);
    renewTimer = undefined;
    await sql`select taskweave_private.unwatch_changes(${watcher})`;
  }

  const cancelLinger = () => {
    if (lingerTimer !== undefined) clearTimeout(lingerTimer);
    lingerTimer = undefined;
  };

  return {
    watcher,
    async acquire() {
      holders++;
      cancelLinger();
      const found = settled ? generation : -1;
      try {
        await serial(async () => {
          if (!watching && holders > 0) await start();
        });
      } catch (error) {
        holders--;
        throw error;
      }
      return generation !== found;
    },
    release() {
      if (holders === 0) return;
      holders--;
      if (holders > 0) return;
      cancelLinger();
      const finish = () => {
        lingerTimer = undefined;
        serial(() => end(false)).catch((error) => options.onError?.('unwatch', error));
      };
      if (lingerMs > 0) lingerTimer = unref(setTimeout(finish, lingerMs));
      else finish();
    },
    stop() {
      holders = 0;
      cancelLinger();
      return serial(() => end(true));
    },
  };
}
