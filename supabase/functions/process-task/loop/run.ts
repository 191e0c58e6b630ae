// What every part of one run shares: the claimed task, the worker that holds its lease, the
// invocation's deadline, the ports, the model it asks, and a logger that tags each line with the task.
import type { AgentDeps, ResolvedModel } from '../ports.ts';
import type { Task } from '../types.ts';

export interface Run {
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
}

/** The invocation's time left, in ms. */
export const remainingMs = (run: Run) => run.deadline - run.deps.clock.now();
