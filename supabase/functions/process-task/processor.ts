// One invocation's work: claim the named task, or up to n due tasks, and run each through the agent
// loop within the invocation's wall-clock budget, which ends before the worker does.
import type { AgentDeps } from './ports.ts';
import { WorkerEndingError } from './errors.ts';
import { runClaimedTask } from './agent-loop.ts';
import type { TaskRunResult } from './types.ts';

export function defaultWorkerId(): string {
  return `process-task:${crypto.randomUUID()}`;
}

/**
 * When an invocation that starts now must have saved and released its tasks: budgetMs after its start, and
 * workerReserveMs before its worker is stopped. The worker's clock counts from the worker's start, not the
 * request's: a request served late in a worker's life gets only what is left of it, so its run releases
 * (release_task, no attempt used) instead of being killed mid-step (which would cost an attempt).
 */
export function invocationDeadline(deps: AgentDeps, startedAt: number): number {
  const byRequest = startedAt + deps.settings.budgetMs;
  if (!deps.worker) return byRequest;
  return Math.min(byRequest, deps.worker.startedAt + deps.worker.lifetimeMs - deps.settings.workerReserveMs);
}

/**
 * Claim and run one task by id. claim_task raises 55000 (not claimable) or P0002 (unknown): let it through.
 * A worker too near its end claims nothing (WorkerEndingError): the task stays pending for the next invocation.
 */
export async function processTaskById(taskId: string, deps: AgentDeps): Promise<TaskRunResult[]> {
  const deadline = invocationDeadline(deps, deps.clock.now());
  // only a bounded worker refuses: without one, a budget shorter than a step is the caller's choice, as before
  if (deps.worker && deadline - deps.clock.now() <= deps.settings.minStepMs) throw new WorkerEndingError();
  const worker = (deps.newWorkerId ?? defaultWorkerId)();
  const task = await deps.store.claimTask(taskId, worker, deps.settings.leaseSeconds);
  return [await runClaimedTask(task, worker, deadline, deps)];
}

/**
 * Claim and run up to maxTasks due tasks, a few at a time. Tasks are claimed only when a slot is free,
 * so no claimed task waits with its lease ticking, and claiming stops when the budget is nearly used.
 */
export async function processDueTasks(maxTasks: number, deps: AgentDeps): Promise<TaskRunResult[]> {
  const deadline = invocationDeadline(deps, deps.clock.now());
  const results: TaskRunResult[] = [];
  let claimed = 0;
  let drained = false;
  const slot = async () => {
    const worker = (deps.newWorkerId ?? defaultWorkerId)();
    while (!drained && claimed < maxTasks && deadline - deps.clock.now() > deps.settings.minStepMs) {
      claimed++;
      const [task] = await deps.store.claimTasks(worker, 1, deps.settings.leaseSeconds);
      if (!task) {
        claimed--;
        drained = true;
        return;
      }
      results.push(await runClaimedTask(task, worker, deadline, deps));
    }
  };
  const slots = Math.max(1, Math.min(deps.settings.concurrency, maxTasks));
  await Promise.all(Array.from({ length: slots }, slot));
  return results;
}
