// Keeps the lease while a task runs. When the lease is found gone (it expired and another worker took
// the task, or an operator cancelled it: TW001), the run's lease signal aborts, which cancels a model
// call in flight and stops the loop before its next write.
import { isLeaseLost, LeaseLostSignal } from '../errors.ts';
import type { AgentDeps } from '../ports.ts';
import type { Task } from '../types.ts';

export interface Heartbeat {
  /** aborted when a heartbeat finds the lease gone */
  readonly signal: AbortSignal;
  stop(): void;
}

export function startHeartbeat(task: Task, worker: string, deps: AgentDeps, log: (level: 'warn', message: string, fields?: Record<string, unknown>) => void): Heartbeat {
  const { store, settings } = deps;
  const lease = new AbortController();
  let running = false;
  let stopped = false; // a heartbeat still in flight when the run ends must not report a lost lease
  const timer = setInterval(async () => {
    if (running || stopped || lease.signal.aborted) return;
    running = true;
    try {
      await store.heartbeat(task.id, worker, settings.leaseSeconds);
    } catch (error) {
      if (stopped) return;
      if (isLeaseLost(error)) {
        lease.abort(new LeaseLostSignal());
        log('warn', 'lease lost; stopping this run', { error: (error as Error).message });
      } else {
        // a missed heartbeat is not fatal: the lease still has time, the next one may get through
        log('warn', 'heartbeat failed', { error: (error as Error).message });
      }
    } finally {
      running = false;
    }
  }, settings.heartbeatMs);
  return {
    signal: lease.signal,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
