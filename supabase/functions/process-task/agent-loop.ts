// The agent loop for one claimed task: one model step at a time, each assistant step and each tool
// result saved through append_task_message before the next step. A run that dies anywhere resumes
// from the transcript: tool calls of the last saved step that have no saved result are run (with the
// same tool_call_id, so the SQL API returns what an earlier run already created) and the loop goes on.
import { generateText, type ModelMessage } from 'ai';
import type { AgentDeps } from './ports.ts';
import { buildInitialMessages, buildTaskContext, transcriptToMessages } from './context.ts';
import { classifyError, isLeaseLost, isRetryableModelCallError, ModelTimeoutError, RunError } from './errors.ts';
import { executeToolCall, toolDeclarations } from './tools.ts';
import type { ModelOutput, Task, TaskMessage, TaskRunResult } from './types.ts';

class LeaseLostSignal extends Error {
  constructor() {
    super('the lease on this task was lost');
  }
}
class BudgetExhausted extends Error {
  constructor() {
    super('the wall-clock budget of this invocation is used up');
  }
}

type ToolCallPart = { type: 'tool-call'; toolCallId: string; toolName: string; input: unknown };

function partsOf(message: { content: unknown }): Record<string, unknown>[] {
  return Array.isArray(message.content) ? (message.content as Record<string, unknown>[]) : [];
}

export function toolCallsOf(message: { role: string; content: unknown }): ToolCallPart[] {
  if (message.role !== 'assistant') return [];
  return partsOf(message).filter((p) => p.type === 'tool-call' && !p.providerExecuted) as unknown as ToolCallPart[];
}

export function textOf(message: { content: unknown }): string {
  if (typeof message.content === 'string') return message.content;
  return partsOf(message)
    .filter((p) => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text as string)
    .join('');
}

/** Tool calls of the last assistant step that have no saved result yet. */
export function unansweredToolCalls(messages: { role: string; content: unknown }[]): ToolCallPart[] {
  let lastAssistant = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'assistant') {
      lastAssistant = i;
      break;
    }
  }
  if (lastAssistant < 0) return [];
  const answered = new Set<string>();
  for (const m of messages.slice(lastAssistant + 1)) {
    if (m.role !== 'tool') continue;
    for (const p of partsOf(m)) if (p.type === 'tool-result') answered.add(String(p.toolCallId));
  }
  return toolCallsOf(messages[lastAssistant]).filter((c) => !answered.has(c.toolCallId));
}

/**
 * Run a task this worker has just claimed (status running, lease held) until it completes, fails,
 * or the invocation's budget ends (then it is released to continue later). Never throws.
 */
export async function runClaimedTask(task: Task, worker: string, deadline: number, deps: AgentDeps): Promise<TaskRunResult> {
  const { store, clock, logger, settings } = deps;
  const log = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}) =>
    logger[level](message, { task_id: task.id, worker, attempt: task.attempt, ...fields });

  const lease = new AbortController();
  let leaseLost = false;
  let heartbeatRunning = false;
  let finished = false; // a heartbeat still in flight when the run ends must not report a lost lease
  const heartbeat = setInterval(async () => {
    if (heartbeatRunning || leaseLost || finished) return;
    heartbeatRunning = true;
    try {
      await store.heartbeat(task.id, worker, settings.leaseSeconds);
    } catch (error) {
      if (finished) return;
      if (isLeaseLost(error) || (error as { code?: string }).code === '55000') {
        leaseLost = true;
        lease.abort(new LeaseLostSignal());
        log('warn', 'lease lost; stopping this run', { error: (error as Error).message });
      } else {
        // a missed heartbeat is not fatal: the lease still has time, the next one may get through
        log('warn', 'heartbeat failed', { error: (error as Error).message });
      }
    } finally {
      heartbeatRunning = false;
    }
  }, settings.heartbeatMs);

  let steps = 0;
  let stepsBefore = 0;
  const totalSteps = () => stepsBefore + steps;
  const label = deps.models.label;
  const [providerName, ...modelParts] = label.split(':');
  const result = (status: TaskRunResult['status'], outcome: TaskRunResult['outcome'], extra: Partial<TaskRunResult> = {}): TaskRunResult => ({
    task_id: task.id,
    status,
    outcome,
    attempt: task.attempt,
    steps,
    ...extra,
  });

  const append = (role: TaskMessage['role'], content: unknown): Promise<TaskMessage> => {
    if (leaseLost) return Promise.reject(new LeaseLostSignal());
    return store.appendMessage(task.id, worker, role, content);
  };

  try {
    // ---- transcript: load, or start it with the task's context ----
    let rows = await store.listMessages(task.id);
    if (!rows.some((r) => r.role === 'user')) {
      const context = await buildTaskContext(task, store, settings);
      const initial = buildInitialMessages(context);
      if (!rows.some((r) => r.role === 'system')) rows = [...rows, await append('system', initial.system)];
      rows = [...rows, await append('user', initial.user)];
    }
    const system = rows.filter((r) => r.role === 'system').map((r) => textOf(r)).join('\n\n');
    const messages: ModelMessage[] = transcriptToMessages(rows.filter((r) => r.role !== 'system'));
    stepsBefore = rows.filter((r) => r.role === 'assistant').length;
    // maxSteps counts from the last failure (fail_task records the step count in last_error), so a retry
    // (automatic, or an operator's after a review) gets a fresh allowance; a release keeps counting
    const stepsAtLastFailure = Number((task.last_error as { step?: unknown } | null)?.step ?? 0) || 0;
    const stepLimit = Math.min(stepsAtLastFailure, stepsBefore) + settings.maxSteps;
    const model = deps.models.model(task);
    const tools = toolDeclarations();

    for (;;) {
      if (leaseLost) throw new LeaseLostSignal();

      // ---- 1. tool calls of the last saved step that have no result yet ----
      for (const call of unansweredToolCalls(messages)) {
        if (leaseLost) throw new LeaseLostSignal();
        let output;
        try {
          output = await executeToolCall(task, call, store, settings);
        } catch (error) {
          if (isLeaseLost(error)) throw error;
          throw new RunError('tool', `${call.toolName} failed: ${(error as Error).message}`, true, { step: stepsBefore + steps });
        }
        const content = [{ type: 'tool-result', toolCallId: call.toolCallId, toolName: call.toolName, output }];
        await append('tool', content);
        messages.push({ role: 'tool', content } as ModelMessage);
        log('info', 'tool call done', { tool: call.toolName, tool_call_id: call.toolCallId, ok: output.type === 'json' });
      }

      // ---- 2. a saved final answer completes the task ----
      const last = messages[messages.length - 1];
      if (last?.role === 'assistant' && toolCallsOf(last).length === 0) {
        const output: ModelOutput = { source: 'model', text: textOf(last), model: label, steps: stepsBefore + steps };
        const done = await store.complete(task.id, worker, output);
        log('info', 'task completed', { steps: stepsBefore + steps });
        return result(done.status, 'completed');
      }

      // ---- 3. limits: steps, then the wall-clock budget ----
      if (stepsBefore + steps >= stepLimit) {
        throw new RunError('model', `the model did not finish within ${settings.maxSteps} steps`, false, { step: stepsBefore + steps });
      }
      if (deadline - clock.now() < settings.minStepMs) throw new BudgetExhausted();

      // ---- 4. one model step ----
      const response = await callModel({ model, system, messages, tools, deadline, deps, lease: lease.signal });
      const assistant = response.response.messages.find((m) => m.role === 'assistant');
      const hasToolCalls = assistant ? toolCallsOf(assistant).length > 0 : false;
      if (!assistant || (!hasToolCalls && textOf(assistant).trim() === '')) {
        throw new RunError('model', `the model returned an empty answer (finish reason: ${response.finishReason})`, true, {
          step: stepsBefore + steps + 1,
          provider: { name: providerName, model: modelParts.join(':') },
        });
      }
      await append('assistant', assistant.content);
      messages.push(assistant);
      steps++;
      log('info', 'model step saved', { step: stepsBefore + steps, tool_calls: hasToolCalls ? toolCallsOf(assistant).length : 0 });
    }
  } catch (error) {
    if (error instanceof LeaseLostSignal || isLeaseLost(error) || leaseLost) {
      log('warn', 'stopped: lease lost, another worker owns this task now');
      return result('unknown', 'lease_lost');
    }
    if (error instanceof BudgetExhausted) {
      try {
        const released = await store.release(task.id, worker, 0);
        log('info', 'budget used up; task saved and released', { steps });
        return result(released.status, 'released');
      } catch (releaseError) {
        if (isLeaseLost(releaseError)) return result('unknown', 'lease_lost');
        // the lease expires on its own and the task is claimed again
        log('error', 'release_task failed; the lease will expire', { error: (releaseError as Error).message });
        return result('running', 'released');
      }
    }
    const { error: taskError, retryable } = classifyError(error, {
      provider: providerName,
      model: modelParts.join(':'),
      step: totalSteps(),
      attempt: task.attempt,
      worker,
    });
    log('warn', 'task failed', { category: taskError.category, retryable, error: taskError.message });
    try {
      const failed = await store.fail(task.id, worker, taskError, retryable);
      const outcome = failed.status === 'pending' ? 'retry_scheduled' : failed.status === 'needs_human_review' ? 'needs_human_review' : 'failed';
      return result(failed.status, outcome, { error: { category: taskError.category, message: taskError.message } });
    } catch (failError) {
      if (isLeaseLost(failError)) return result('unknown', 'lease_lost');
      log('error', 'fail_task failed; the lease will expire and the task will be claimed again', { error: (failError as Error).message });
      return result('running', 'failed', { error: { category: taskError.category, message: taskError.message } });
    }
  } finally {
    finished = true;
    clearInterval(heartbeat);
  }
}

/**
 * One model call, with its own timeout, bounded retries of 429/5xx/network failures, and the
 * invocation's deadline and lease as hard stops.
 */
async function callModel(args: {
  model: ReturnType<AgentDeps['models']['model']>;
  system: string;
  messages: ModelMessage[];
  tools: ReturnType<typeof toolDeclarations>;
  deadline: number;
  deps: AgentDeps;
  lease: AbortSignal;
}) {
  const { deps, deadline, lease } = args;
  const { clock, settings, logger } = deps;
  for (let retry = 0; ; retry++) {
    const remaining = deadline - clock.now();
    if (remaining <= 0) throw new BudgetExhausted();
    const timeoutMs = Math.min(settings.modelTimeoutMs, remaining);
    const budgetBound = remaining < settings.modelTimeoutMs;
    const call = new AbortController();
    const timer = setTimeout(() => call.abort(new ModelTimeoutError(timeoutMs)), timeoutMs);
    const onLease = () => call.abort(new LeaseLostSignal());
    lease.addEventListener('abort', onLease, { once: true });
    try {
      return await generateText({
        model: args.model,
        system: args.system,
        messages: args.messages,
        tools: args.tools,
        toolChoice: 'auto',
        maxRetries: 0, // retried here, with a bound on the delay and the budget in view
        abortSignal: call.signal,
        maxOutputTokens: settings.maxOutputTokens,
      });
    } catch (raw) {
      const reason = call.signal.aborted ? call.signal.reason : undefined;
      if (reason instanceof LeaseLostSignal) throw reason;
      if (reason instanceof ModelTimeoutError && budgetBound) throw new BudgetExhausted();
      const error = reason instanceof ModelTimeoutError ? reason : raw;
      const left = deadline - clock.now();
      const delay = retryDelay(error, retry, settings);
      if (!isRetryableModelCallError(error) || retry >= settings.modelMaxRetries || delay + settings.minStepMs > left) throw error;
      logger.warn('model call failed; retrying', { retry: retry + 1, delay_ms: delay, error: (error as Error).message });
      await clock.sleep(delay, lease);
    } finally {
      clearTimeout(timer);
      lease.removeEventListener('abort', onLease);
    }
  }
}

/** Exponential backoff with jitter, honouring a provider's retry-after, never above the cap. */
export function retryDelay(error: unknown, retry: number, settings: { retryBaseDelayMs: number; retryMaxDelayMs: number }): number {
  const headers = (error as { responseHeaders?: Record<string, string> } | null)?.responseHeaders;
  let hinted: number | undefined;
  const afterMs = headers?.['retry-after-ms'];
  const after = headers?.['retry-after'];
  if (afterMs && !Number.isNaN(Number(afterMs))) hinted = Number(afterMs);
  else if (after && !Number.isNaN(Number(after))) hinted = Number(after) * 1000;
  const exponential = settings.retryBaseDelayMs * 2 ** retry * (0.75 + Math.random() * 0.5);
  return Math.max(0, Math.min(settings.retryMaxDelayMs, hinted ?? exponential));
}
