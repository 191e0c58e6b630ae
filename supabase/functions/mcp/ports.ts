// What the endpoint's core needs from the outside, passed in by index.ts (and by tests): the database,
// a clock, the stream of task changes, a logger. The core never reads the environment.
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
  /** Subscribe to the `task_changed` notifications of one run; resolves once the listener is live. */
  subscribe(rootTaskId: string): Promise<RunSubscription>;
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
}

/**
 * `task_changed` notifications (payload {"id","root_task_id",…}) fanned out to per-run subscribers over
 * one LISTEN connection, opened on first use. postgres.js re-listens by itself after a reconnect.
 */
export function listenTaskChanges(sql: Sql, logger?: Logger): TaskChanges {
  const subscribers = new Map<string, Set<() => void>>();
  let listening: Promise<unknown> | undefined;
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
      const close = () => {
        set.delete(wake);
        if (set.size === 0 && subscribers.get(rootTaskId) === set) subscribers.delete(rootTaskId);
      };
      try {
        await ensureListening();
      } catch (error) {
        close();
        throw error;
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
