// What every part of one loop run shares (the agent loop working one claimed task within one invocation;
// a run of taskweave.runs, a root and its tree, is another thing): the claimed task, the worker that holds
// its lease, the invocation's deadline, the ports, the model it asks, and a logger that tags each line
// with the task.
import type { AgentDeps, ResolvedModel } from '../ports.ts';
import type { Task } from '../types.ts';

export interface LoopRun {
  readonly task: Task;
  readonly worker: string;
  /** epoch ms at which this invocation must have saved and released the task */
  readonly deadline: number;
  readonly deps: AgentDeps;
  /** aborted when the lease is found lost (by the heartbeat or by a refused call) */
  readonly lease: AbortSignal;
  /** the model this run asks: the task's agent's, else the environment's (set once the agent is loaded) */
  model: ResolvedModel;
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
  /** set by a lane that runs task after task: the completion may claim the lane's next task in its transaction */
  readonly next?: NextTaskHandOff;
}

/** How a lane takes its next task from the completion of the current one (complete_and_claim). */
export interface NextTaskHandOff {
  /** asked when the task completes: whether the lane may start another task now (reserves it when so) */
  wanted(): boolean;
  /** the task claimed with the completion, or null when none was due or it could not be claimed */
  take(next: Task | null): void;
}

/** The invocation's time left, in ms. */
export const remainingMs = (run: LoopRun) => run.deadline - run.deps.clock.now();
