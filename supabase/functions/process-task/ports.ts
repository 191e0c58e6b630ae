// The ports the core runs against. index.ts wires real adapters (Postgres, AI SDK providers, the system
// clock, a JSON logger); tests pass fakes. Nothing behind these interfaces reads the environment.
import type { LanguageModel } from 'ai';
import type { AgentDefinition, AgentSummary, ApiFunctions, HumanRequest, MessageRole, ModelStepUsage, Task, TaskError, TaskMessage, ToolCallRecord, ToolCallReview } from './types.ts';
import type { ToolDefinition } from './tool-kinds/kind.ts';

/**
 * The SQL API of docs/contracts.md §2. The agent's lifecycle calls are methods; the built-in tools call their own
 * API function through `callTaskFunction`, typed by the generated types, so a new tool adds no method
 * here. Limits, idempotency and every transition live in SQL; errors keep their SQLSTATE.
 */
export interface TaskStore {
  claimTask(taskId: string, worker: string, leaseSeconds: number): Promise<Task>;
  claimTasks(worker: string, limit: number, leaseSeconds: number): Promise<Task[]>;
  heartbeat(taskId: string, worker: string, leaseSeconds: number): Promise<Task>;
  /**
   * right before every model request: TW001 (lease lost, cancelled), TW004 (run limit, including a prompt
   * of `promptTokens` that would pass max_tokens), or how long to wait for room in the model's rate-limit window
   */
  beginModelStep(taskId: string, worker: string, model: string, promptTokens?: number): Promise<{ waitMs: number }>;
  complete(taskId: string, worker: string, output: unknown): Promise<Task>;
  /** completes as `complete` does and claims the worker's next due task in the same transaction: that task, or null */
  completeAndClaim(taskId: string, worker: string, output: unknown, leaseSeconds: number): Promise<Task | null>;
  fail(taskId: string, worker: string, error: TaskError, retryable: boolean): Promise<Task>;
  /** back to pending without using an attempt; a rate-limited release does not count toward SQL's bound on releases without progress */
  release(taskId: string, worker: string, delaySeconds: number, rateLimited?: boolean): Promise<Task>;
  /** `model` (provider:model) with a step's usage: SQL prices the step (model_prices) into tasks.usage.cost_usd and the run */
  appendMessage(taskId: string, worker: string, role: MessageRole, content: unknown, usage?: ModelStepUsage | null, model?: string | null): Promise<TaskMessage>;
  /** the agent a task runs as, with its tools in order; null when no agent has the slug */
  getAgent(slug: string): Promise<AgentDefinition | null>;
  /** the agents a model may delegate to (create_parallel_task's `agent`) */
  listAgents(): Promise<AgentSummary[]>;
  /** the started/result record of a registry tool's call, by the model's tool call id */
  getToolCall(taskId: string, toolCallId: string): Promise<ToolCallRecord | null>;
  /** saved before the external call is made */
  startToolCall(taskId: string, worker: string, call: { toolCallId: string; tool: ToolDefinition; toolName: string; arguments: Record<string, unknown> }): Promise<ToolCallRecord>;
  /** saved after it: a result for the model, or the error it got */
  finishToolCall(taskId: string, worker: string, toolCallId: string, outcome: { result: unknown; error?: string | null }): Promise<ToolCallRecord>;
  /** the task stops for a person (an open review of the kind, the task needs_human_review, the lease let go); returns the task */
  requestHuman(taskId: string, worker: string, request: HumanRequest): Promise<Task>;
  /** the newest review about this tool call (with the operator's decision once resolved); null when there is none to act on */
  toolCallReview(taskId: string, toolCallId: string): Promise<ToolCallReview | null>;
  /** a started call of a sql tool: run by SQL under its timeout and recorded in the same transaction (call_sql_tool) */
  callSqlTool(taskId: string, worker: string, toolCallId: string, timeoutSeconds: number): Promise<ToolCallRecord>;
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

export interface ResolvedModel {
  /** provider:model, e.g. "openai:gpt-4o-mini": recorded in outputs, errors and each step's price */
  readonly label: string;
  readonly model: LanguageModel;
}

/** The language models tasks run on: the environment's, or an agent's by `provider:model`. */
export interface ModelProvider {
  /** the environment's model (LLM_PROVIDER, LLM_MODEL) */
  readonly label: string;
  /** null: the environment's model; a name of a provider this function cannot run throws ConfigError */
  resolve(name: string | null): ResolvedModel;
}

/** What registry tools need from outside: HTTP, and secrets by name from the function's environment. */
export interface ToolEnvironment {
  fetch: typeof fetch;
  secret(name: string): string | undefined;
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
   * the longest rate-limit wait (the model's shared window, or a provider's Retry-After) spent in place; a longer one releases the task with the
   * delay, so a waiting task does not hold a place under the running cap that another run could use
   */
  maxRateLimitWaitMs: number;
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
  maxRateLimitWaitMs: 2_000,
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
  /** absent: registry tools get the global fetch and no secrets */
  tools?: ToolEnvironment;
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
