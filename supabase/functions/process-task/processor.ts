// One invocation's work: claim the named task, or up to n due tasks, and run each through the agent
// loop within the invocation's wall-clock budget, which ends before the worker does.
import type { AgentDeps } from './ports.ts';
import { WorkerEndingError } from './errors.ts';
import { runClaimedTask } from './agent-loop.ts';
import type { NextTaskHandOff } from './loop/run.ts';
import type { Task, TaskRunResult } from './types.ts';

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
 * A task whose last worker died on its last attempt comes back escalated (needs_human_review or failed),
 * not running: there is nothing to run, and the answer says where it went.
 */
export async function processTaskById(taskId: string, deps: AgentDeps): Promise<TaskRunResult[]> {
  const deadline = invocationDeadline(deps, deps.clock.now());
  // only a bounded worker refuses: without one, a budget shorter than a step is the caller's choice, as before
  if (deps.worker && deadline - deps.clock.now() <= deps.settings.minStepMs) throw new WorkerEndingError();
  const worker = (deps.newWorkerId ?? defaultWorkerId)();
  const task = await deps.store.claimTask(taskId, worker, deps.settings.leaseSeconds);
  if (task.status !== 'running') {
    const outcome = task.status === 'needs_human_review' ? 'needs_human_review' : 'failed';
    return [{ task_id: task.id, status: task.status, outcome, attempt: task.attempt, steps: 0 }];
  }
  return [await runClaimedTask(task, worker, deadline, deps)];
}

/**
 * Claim and run up to maxTasks due tasks in a few lanes at once. A lane claims a task only when it is
 * free, so no claimed task waits with its lease ticking, and claiming stops when the budget is nearly
 * used. A lane whose task completes while it may go on gets its next task from the same transaction
 * (complete_and_claim). A lane whose claim fails stops, and only that lane: the others run to the end and
 * the answer lists every task that ran; the error is the answer only when no task ran at all.
 */
export async function processDueTasks(maxTasks: number, deps: AgentDeps): Promise<TaskRunResult[]> {
  const deadline = invocationDeadline(deps, deps.clock.now());
  const results: TaskRunResult[] = [];
  const laneErrors: unknown[] = [];
  let claimed = 0;
  let drained = false;
  /** Reserves one more claim when the invocation may start another task. */
  const reserveClaim = () => {
    if (drained || claimed >= maxTasks || deadline - deps.clock.now() <= deps.settings.minStepMs) return false;
    claimed++;
    return true;
  };
  const lane = async () => {
    const worker = (deps.newWorkerId ?? defaultWorkerId)();
    let next: Task | null = null;
    try {
      for (;;) {
        let task: Task | null | undefined = next;
        next = null;
        if (!task) {
          if (!reserveClaim()) return;
          [task] = await deps.store.claimTasks(worker, 1, deps.settings.leaseSeconds).catch((error: unknown) => {
            claimed--;
            throw error;
          });
          if (!task) {
            claimed--;
            drained = true;
            return;
          }
        }
        const handOff: NextTaskHandOff = {
          wanted: reserveClaim,
          take(following) {
            if (following) next = following;
            else {
              // reserved but none was due (or the claim failed): give the reservation back
              claimed--;
              drained = true;
            }
          },
        };
        results.push(await runClaimedTask(task, worker, deadline, deps, handOff));
      }
    } catch (error) {
      laneErrors.push(error);
      deps.logger.error('a lane stopped: its claim failed; the other lanes go on', { worker, error: (error as Error).message });
    }
  };
  const lanes = Math.max(1, Math.min(deps.settings.concurrency, maxTasks));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (results.length === 0 && laneErrors.length > 0) throw laneErrors[0];
  return results;
}
