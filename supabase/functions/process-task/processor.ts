// One invocation's work: claim the named task, or up to n due tasks, and run each through the agent
// loop within the invocation's wall-clock budget.
import type { AgentDeps } from './ports.ts';
import { runClaimedTask } from './agent-loop.ts';
import type { TaskRunResult } from './types.ts';

export function defaultWorkerId(): string {
  return `process-task:${crypto.randomUUID()}`;
}

/** Claim and run one task by id. claim_task raises 55000 (not claimable) or P0002 (unknown): let it through. */
export async function processTaskById(taskId: string, deps: AgentDeps): Promise<TaskRunResult[]> {
  const startedAt = deps.clock.now();
  const worker = (deps.newWorkerId ?? defaultWorkerId)();
  const task = await deps.store.claimTask(taskId, worker, deps.settings.leaseSeconds);
  return [await runClaimedTask(task, worker, startedAt + deps.settings.budgetMs, deps)];
}

/**
 * Claim and run up to maxTasks due tasks, a few at a time. Tasks are claimed only when a slot is free,
 * so no claimed task waits with its lease ticking, and claiming stops when the budget is nearly used.
 */
export async function processDueTasks(maxTasks: number, deps: AgentDeps): Promise<TaskRunResult[]> {
  const startedAt = deps.clock.now();
  const deadline = startedAt + deps.settings.budgetMs;
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
