// What the endpoint's core needs from the outside, passed in by index.ts (and by tests): the database,
// a clock, the stream of task changes, a logger. The core never reads the environment.
import { changeWatch, type ChangeWatchOptions } from '../_shared/change-watch.ts';
import type { Transact } from '../_shared/operator.ts';
import type { Sql } from './store.ts';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A subscription to one run's status changes: next() resolves at the first change since the last call. */
export interface RunSubscription {
  next(ms: number, signal?: AbortSignal): Promise<'changed' | 'timeout'>;
  close(): void;
}

export interface TaskChanges {
  /** Subscribe to the `task_changed` notifications of one run; resolves once the listener and its lease are live. */
  subscribe(rootTaskId: string): Promise<RunSubscription>;
  /** End the lease on task_changed now (shutdown); later subscribers take it again. */
  close(): Promise<void>;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(write: (line: string) => void, base: Record<string, unknown> = {}): Logger {
  const emit = (level: string, message: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ level, message, ...base, ...fields, time: new Date().toISOString() }));
  return { info: (m, f) => emit('info', m, f), error: (m, f) => emit('error', m, f) };
}

export interface McpDeps {
  sql: Sql;
  clock: Clock;
  changes: TaskChanges;
  logger: Logger;
  /** where the web app's pages are, for task URLs */
  webUrl: string;
  /** how often a wait re-reads the run even without a notification (a safety net, not the wake-up) */
  recheckMs?: number;
  /** runs an operator write in one transaction as the caller (default: a transaction on `sql`) */
  transact?: Transact;
}

/**
 * `task_changed` notifications (payload {"id","root_task_id",…}) fanned out to per-run subscribers over
 * one LISTEN connection, opened on first use. postgres.js re-listens by itself after a reconnect.
 *
 * Postgres sends task_changed only while some listener holds a lease (taskweave_private.change_watchers):
 * this instance holds one while any wait is subscribed (and `lingerMs` after, since a client that
 * follows a run calls wait_for_task again at once), renewed in the background; if the function dies
 * the lease runs out by itself. A lease that cannot be taken is logged, and the waits fall back on their
 * periodic re-read.
 */
export function listenTaskChanges(
  sql: Sql,
  logger?: Logger,
  watch: Partial<Omit<ChangeWatchOptions, 'onError'>> = {},
): TaskChanges {
  const subscribers = new Map<string, Set<() => void>>();
  let listening: Promise<unknown> | undefined;
  const lease = changeWatch(sql, {
    watcher: `mcp:${crypto.randomUUID()}`,
    lingerMs: 10_000,
    ...watch,
    onError: (what, error) => logger?.error(`task_changed lease: ${what} failed`, { error: (error as Error).message }),
  });
  const ensureListening = () => {
    listening ??= sql
      .listen('task_changed', (payload) => {
        let root: unknown;
        try {
          root = (JSON.parse(payload) as { root_task_id?: unknown }).root_task_id;
        } catch {
          return;
        }
        if (typeof root !== 'string') return;
        for (const wake of subscribers.get(root) ?? []) wake();
      })
      .catch((error) => {
        listening = undefined; // the next subscriber tries again
        logger?.error('LISTEN task_changed failed', { error: (error as Error).message });
        throw error;
      });
    return listening;
  };
  return {
    close: () => lease.stop(),
    async subscribe(rootTaskId) {
      let dirty = false;
      let waiter: (() => void) | undefined;
      const wake = () => {
        dirty = true;
        waiter?.();
      };
      const set = subscribers.get(rootTaskId) ?? new Set();
      set.add(wake);
      subscribers.set(rootTaskId, set);
      let holdsLease = false;
      const close = () => {
        set.delete(wake);
        if (set.size === 0 && subscribers.get(rootTaskId) === set) subscribers.delete(rootTaskId);
        if (holdsLease) {
          holdsLease = false;
          lease.release();
        }
      };
      try {
        await ensureListening();
      } catch (error) {
        close();
        throw error;
      }
      try {
        // the caller reads the run only after this: whatever committed before the lease is in that read
        await lease.acquire();
        holdsLease = true;
      } catch (error) {
        logger?.error('task_changed lease could not be taken; waits re-read on their own schedule', { error: (error as Error).message });
      }
      return {
        close,
        next(ms, signal) {
          if (dirty) {
            dirty = false;
            return Promise.resolve('changed' as const);
          }
          return new Promise((resolve) => {
            const finish = (how: 'changed' | 'timeout') => {
              clearTimeout(timer);
              signal?.removeEventListener('abort', onAbort);
              waiter = undefined;
              if (how === 'changed') dirty = false;
              resolve(how);
            };
            const onAbort = () => finish('timeout');
            const timer = setTimeout(() => finish('timeout'), Math.max(0, ms));
            waiter = () => finish('changed');
            signal?.addEventListener('abort', onAbort, { once: true });
          });
        },
      };
    },
  };
}
