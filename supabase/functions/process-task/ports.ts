// The ports the core runs against. index.ts wires real adapters (Postgres, AI SDK providers, the system
// clock, a JSON logger); tests pass fakes. Nothing behind these interfaces reads the environment.
import type { LanguageModel } from 'ai';
import type { ApiFunctions, MessageRole, Task, TaskError, TaskMessage, TokenUsage } from './types.ts';

/**
 * The SQL API of DESIGN §3. The agent's lifecycle calls are methods; the built-in tools call their own
 * API function through `callTaskFunction`, typed by the generated types, so a new tool adds no method
 * here. Limits, idempotency and every transition live in SQL; errors keep their SQLSTATE.
 */
export interface TaskStore {
  claimTask(taskId: string, worker: string, leaseSeconds: number): Promise<Task>;
  claimTasks(worker: string, limit: number, leaseSeconds: number): Promise<Task[]>;
  heartbeat(taskId: string, worker: string, leaseSeconds: number): Promise<Task>;
  /** right before every model request: TW001 (lease lost, cancelled), TW004 (run limit), or how long to wait for a rate-limit slot */
  beginModelStep(taskId: string, worker: string, model: string): Promise<{ waitMs: number }>;
  complete(taskId: string, worker: string, output: unknown): Promise<Task>;
  /** completes as `complete` does and claims the worker's next due task in the same transaction: that task, or null */
  completeAndClaim(taskId: string, worker: string, output: unknown, leaseSeconds: number): Promise<Task | null>;
  fail(taskId: string, worker: string, error: TaskError, retryable: boolean): Promise<Task>;
  /** back to pending without using an attempt; a rate-limited release does not count toward SQL's bound on releases without progress */
  release(taskId: string, worker: string, delaySeconds: number, rateLimited?: boolean): Promise<Task>;
  appendMessage(taskId: string, worker: string, role: MessageRole, content: unknown, usage?: TokenUsage | null): Promise<TaskMessage>;
  /** An API function that returns one task row (create_parallel_task, create_aggregator_task, …), by name with its named arguments. */
  callTaskFunction<F extends keyof ApiFunctions & string>(fn: F, args: ApiFunctions[F]['Args']): Promise<Task>;
  dependencyResults(taskId: string): Promise<Task[]>;
  // plain reads
  getTask(taskId: string): Promise<Task | null>;
  listMessages(taskId: string): Promise<TaskMessage[]>;
}

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Chooses the language model for a task (one provider and model per deployment, in practice). */
export interface ModelProvider {
  /** e.g. "openai:gpt-4o-mini", recorded in outputs and errors */
  readonly label: string;
  model(task: Task): LanguageModel;
}

export interface AgentSettings {
  leaseSeconds: number;
  /** how often the lease is renewed while a task runs */
  heartbeatMs: number;
  /** model steps one attempt may take before the task fails */
  maxSteps: number;
  /** per model call */
  modelTimeoutMs: number;
  /** retries of one model call on 5xx/network errors, with bounded exponential backoff (a 429 waits apart from these) */
  modelMaxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** wall-clock budget of one invocation; after it the task is saved and released */
  budgetMs: number;
  /**
   * how long before its worker's end (AgentDeps.worker) an invocation stops, to save and release in time:
   * the same margin budgetMs keeps under the platform's 150 s, so the first request of a worker gets budgetMs
   */
  workerReserveMs: number;
  /** a model step is not started with less than this left of the budget */
  minStepMs: number;
  /**
   * the longest wait for a shared rate-limit slot spent in place; a longer one releases the task with the
   * delay, so a waiting task does not hold a place under the running cap that another run could use
   */
  maxSlotWaitMs: number;
  /** result injection: cap per dependency output and for all of them together, in characters */
  dependencyOutputChars: number;
  dependencyBudgetChars: number;
  maxOutputTokens?: number;
  /** tasks run at once in `max_tasks` mode */
  concurrency: number;
}

export const DEFAULT_SETTINGS: AgentSettings = {
  leaseSeconds: 120,
  heartbeatMs: 20_000,
  maxSteps: 12,
  modelTimeoutMs: 60_000,
  modelMaxRetries: 2,
  retryBaseDelayMs: 1_000,
  retryMaxDelayMs: 8_000,
  budgetMs: 110_000,
  workerReserveMs: 40_000,
  minStepMs: 5_000,
  maxSlotWaitMs: 2_000,
  dependencyOutputChars: 4_000,
  dependencyBudgetChars: 24_000,
  maxOutputTokens: undefined,
  concurrency: 4,
};

/**
 * The worker this code runs in, where its life is bounded: an Edge Functions worker serves several requests
 * and is stopped a fixed wall-clock time after it started (150 s, 400 s on paid plans), whatever it is doing.
 */
export interface WorkerLife {
  /** epoch ms at which the worker started (the composition root's module load) */
  startedAt: number;
  lifetimeMs: number;
}

export interface AgentDeps {
  store: TaskStore;
  models: ModelProvider;
  clock: Clock;
  logger: Logger;
  settings: AgentSettings;
  /** absent: the worker lives as long as it is needed (a plain Deno server); then only budgetMs bounds an invocation */
  worker?: WorkerLife;
  /** makes worker ids; injectable so tests are deterministic */
  newWorkerId?: () => string;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export function jsonLogger(write: (line: string) => void = (l) => console.log(l), base: Record<string, unknown> = {}): Logger {
  const emit = (level: string) => (message: string, fields: Record<string, unknown> = {}) =>
    write(JSON.stringify({ level, message, ...base, ...fields, at: new Date().toISOString() }));
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
