// Error vocabulary: what the SQL API raises (by SQLSTATE) and how any failure of a run becomes the
// `p_error` + `p_retryable` pair of fail_task, kept truthful: only what may succeed later is retryable.
import { APICallError, RetryError } from 'ai';
import type { Task, TaskError } from './types.ts';

/** SQLSTATEs of the SQL API (docs/contracts.md §2). */
export const SQLSTATE = {
  badArgument: '22023',
  invalidText: '22P02',
  notFound: 'P0002',
  wrongState: '55000',
  notAllowed: '42501',
  /** the worker does not hold the lease: it expired and another worker took the task, or the task was cancelled */
  leaseNotHeld: 'TW001',
  /** a run limit (max_tasks, max_tokens, deadline) is reached: no new model step, no new task */
  runLimitReached: 'TW004',
  /** the running cap (taskweave.max_running) is reached: nothing more may start now */
  runningCapReached: 'TW005',
  /** a tool call id was reused with other arguments */
  toolCallReused: 'TW006',
} as const;

export class SqlApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly fn: string,
  ) {
    super(message);
    this.name = 'SqlApiError';
  }
}

export function sqlStateOf(error: unknown): string | undefined {
  if (error instanceof SqlApiError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The caller's lease is gone (it expired and another worker claimed the task): stop, write nothing. */
export function isLeaseLost(error: unknown): boolean {
  return sqlStateOf(error) === SQLSTATE.leaseNotHeld;
}

/** The run is at one of its limits (docs/contracts.md §2 run limits). */
export function isRunLimit(error: unknown): boolean {
  return sqlStateOf(error) === SQLSTATE.runLimitReached;
}

/** An SQL API rejection of the arguments a model chose: goes back to the model as a tool error. */
export function isArgumentRejection(error: unknown): boolean {
  const code = sqlStateOf(error);
  return (
    code === SQLSTATE.badArgument ||
    code === SQLSTATE.invalidText ||
    code === SQLSTATE.notFound ||
    code === SQLSTATE.wrongState ||
    code === SQLSTATE.notAllowed ||
    code === SQLSTATE.toolCallReused ||
    code === '23503' || // foreign key: a referenced task does not exist
    code === '23514' // check constraint
  );
}

/** Failures of the run itself (not of a single model call) raised by the loop. */
export class RunError extends Error {
  constructor(
    readonly category: TaskError['category'],
    message: string,
    readonly retryable: boolean,
    readonly detail: Partial<TaskError> = {},
  ) {
    super(message);
    this.name = 'RunError';
  }
}

/**
 * Signals of the loop that are not failures of the task: they end the run in a release, a budget stop
 * or silence (the lease is gone), never in fail_task's retry or review path.
 */
export class LeaseLostSignal extends Error {
  constructor() {
    super('the lease on this task was lost');
    this.name = 'LeaseLostSignal';
  }
}

/** Stop and release the task: the invocation's budget is used up, or the model is not available before it ends. */
export class ReleaseSignal extends Error {
  constructor(
    readonly reason: 'budget' | 'rate_limit',
    /** when the task may run again */
    readonly delayMs = 0,
  ) {
    super(reason === 'budget' ? 'the wall-clock budget of this invocation is used up' : `the model is rate limited for ${Math.ceil(delayMs / 1000)} s more`);
    this.name = 'ReleaseSignal';
  }
}

/**
 * The run stopped for a person: request_human moved the task to needs_human_review (an approval, a
 * question, an interrupted call) and let its lease go. Not a failure: the loop goes on after the resolve.
 */
export class HumanPauseSignal extends Error {
  constructor(
    readonly task: Task,
    readonly kind: string,
  ) {
    super(`waiting for a person (${kind})`);
    this.name = 'HumanPauseSignal';
  }
}

/** Too little is left of this worker's life to run a task: claim nothing, so the task waits for another worker. */
export class WorkerEndingError extends Error {
  constructor() {
    super('this worker is near the end of its wall-clock life and takes no new task; try again');
    this.name = 'WorkerEndingError';
  }
}

/** A model call ran past its timeout. */
export class ModelTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the model did not answer within ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'ModelTimeoutError';
  }
}

const BODY_EXCERPT = 2_000;
const excerpt = (s: unknown) => {
  if (s == null) return undefined;
  const text = typeof s === 'string' ? s : JSON.stringify(s);
  return text.length > BODY_EXCERPT ? `${text.slice(0, BODY_EXCERPT)}… [${text.length - BODY_EXCERPT} more characters]` : text;
};

/** Transient network failures talking to a provider or the database. */
function isTransientNetworkError(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e) return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', 'CONNECTION_DESTROYED'].includes(code)) return true;
  // Postgres: connection exceptions, operator intervention (shutdown), serialization/deadlock, too many connections
  if (/^(08|57P|40001|40P01|53300)/.test(code)) return true;
  if (e.name === 'TypeError' && typeof e.message === 'string' && /fetch failed|network|connection/i.test(e.message)) return true;
  return e.cause != null && e.cause !== error && isTransientNetworkError(e.cause);
}

/** Whether one model call may be tried again right away (inside the same attempt). */
export function isRetryableModelCallError(error: unknown): boolean {
  if (APICallError.isInstance(error)) return error.isRetryable;
  if (error instanceof ModelTimeoutError) return true;
  return isTransientNetworkError(error);
}

export interface ClassifiedError {
  error: TaskError;
  retryable: boolean;
}

/**
 * Any failure of a run -> the fail_task payload. `providerInfo` names the provider and model for
 * model errors, so the reviews page shows what answered and how.
 */
export function classifyError(error: unknown, context: { provider?: string; model?: string; step?: number; attempt?: number; worker?: string }): ClassifiedError {
  const base = { step: context.step, attempt: context.attempt, worker: context.worker };
  const providerBase = { name: context.provider, model: context.model };
  if (error instanceof RunError) {
    return { error: { category: error.category, message: error.message, ...base, ...error.detail }, retryable: error.retryable };
  }
  if (isRunLimit(error)) {
    // waiting does not lift a run limit: only an operator can (set_run_limits, then Retry)
    return { error: { category: 'budget', message: (error as Error).message, ...base }, retryable: false };
  }
  if (RetryError.isInstance(error)) return classifyError(error.lastError, context);
  if (error instanceof ModelTimeoutError) {
    return { error: { category: 'timeout', message: error.message, provider: providerBase, ...base }, retryable: true };
  }
  if (APICallError.isInstance(error)) {
    const status = error.statusCode;
    return {
      error: {
        category: 'model',
        message: `${context.provider ?? 'model provider'} answered ${status ?? 'without a status'}: ${error.message}`,
        provider: {
          ...providerBase,
          status_code: status,
          url: redactUrl(error.url),
          response_body: excerpt(error.responseBody),
          is_retryable: error.isRetryable,
        },
        ...base,
      },
      // 429, 5xx, 408 and 409 are worth another attempt later; 400/401/403/404 will not change by waiting
      retryable: error.isRetryable,
    };
  }
  const name = (error as { name?: string } | null)?.name ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'AbortError' || name === 'TimeoutError') {
    return { error: { category: 'timeout', message: `a call was aborted: ${message}`, ...base }, retryable: true };
  }
  // The AI SDK's own errors about what the model produced (empty answer, unparsable response, …)
  if (name.startsWith('AI_')) {
    return {
      error: { category: 'model', message: `${name}: ${message}`, provider: providerBase, ...base },
      retryable: name !== 'AI_LoadAPIKeyError' && name !== 'AI_NoSuchModelError' && name !== 'AI_InvalidPromptError',
    };
  }
  if (isTransientNetworkError(error)) {
    return { error: { category: 'internal', message: `transient failure: ${message}`, ...base }, retryable: true };
  }
  // A programming error will fail the same way next time; do not burn attempts on it.
  const programming = error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError || error instanceof RangeError;
  return { error: { category: 'internal', message: `${name || 'Error'}: ${message}`, ...base }, retryable: !programming };
}

function redactUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    u.search = '';
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return undefined;
  }
}
