// The model step: take a request of the model's rate-limit window from SQL (begin_model_step: the lease,
// the run's limits and the model's shared rate limit are checked there), make one model request, and hand back the assistant message
// with its token usage. Retries stay inside the step: a provider's rate limit (429, or 503 with
// Retry-After) waits and asks again without using an attempt, and releases the task with a delay when
// the wait would pass the invocation's budget; other transient failures get a few bounded retries.
import { APICallError, asSchema, generateText, type ModelMessage, type ToolSet } from 'ai';
import { estimateTokens } from '../context.ts';
import { isRetryableModelCallError, LeaseLostSignal, ModelTimeoutError, ReleaseSignal, RunError } from '../errors.ts';
import type { ModelStepUsage } from '../types.ts';
import { remainingMs, type LoopRun } from './run.ts';
import { textOf, toolCallsOf, type Transcript } from './transcript.ts';

export interface ModelStepResult {
  assistant: ModelMessage & { role: 'assistant' };
  usage: ModelStepUsage;
}

/**
 * The name a model's shared rate limits are set under (set_model_limits): the model as configured
 * (LLM_MODEL), without the provider prefix of the label ("openai:gpt-4o-mini" -> "gpt-4o-mini").
 */
export function rateLimitName(label: string): string {
  const colon = label.indexOf(':');
  return colon < 0 ? label : label.slice(colon + 1);
}

/**
 * About how many tokens a request will send: the system prompt, the messages and the tools' schemas, at
 * about four characters a token. SQL refuses a step whose estimate would take the run past max_tokens.
 */
export async function estimatePromptTokens(transcript: Pick<Transcript, 'system' | 'messages'>, tools: ToolSet): Promise<number> {
  const schemas = await Promise.all(
    Object.entries(tools).map(async ([name, t]) => ({ name, description: t.description, schema: t.inputSchema ? await asSchema(t.inputSchema).jsonSchema : undefined })),
  );
  return estimateTokens(transcript.system) + estimateTokens(JSON.stringify(transcript.messages)) + estimateTokens(JSON.stringify(schemas));
}

/** Ask SQL for a request of the model's rate-limit window until one is free; release the task when none frees within the budget. */
export async function takeModelRequest(run: LoopRun, promptTokens?: number): Promise<void> {
  const { store, clock, settings } = run.deps;
  for (;;) {
    if (run.lease.aborted) throw new LeaseLostSignal();
    // TW001 (lease lost or cancelled) and TW004 (run limit, or a prompt that would pass max_tokens) are thrown from here: no request follows
    const { waitMs } = await store.beginModelStep(run.task.id, run.worker, rateLimitName(run.model.label), promptTokens);
    if (waitMs <= 0) return;
    // a long wait in place would hold a place under the running cap: hand the task back instead
    if (waitMs > settings.maxRateLimitWaitMs || remainingMs(run) - waitMs < settings.minStepMs) throw new ReleaseSignal('rate_limit', waitMs);
    run.log('info', 'waiting for room in the rate-limit window of the model', { wait_ms: waitMs });
    await clock.sleep(waitMs, run.lease);
  }
}

/** A provider telling us to slow down: waiting is the cure, so it never costs an attempt. */
export function isRateLimited(error: unknown): boolean {
  if (!APICallError.isInstance(error)) return false;
  if (error.statusCode === 429) return true;
  return error.statusCode === 503 && hintedDelayMs(error) !== undefined;
}

function hintedDelayMs(error: unknown): number | undefined {
  const headers = (error as { responseHeaders?: Record<string, string> } | null)?.responseHeaders;
  const afterMs = headers?.['retry-after-ms'];
  const after = headers?.['retry-after'];
  if (afterMs && !Number.isNaN(Number(afterMs))) return Math.max(0, Number(afterMs));
  if (after && !Number.isNaN(Number(after))) return Math.max(0, Number(after) * 1000);
  if (after) {
    const date = Date.parse(after); // Retry-After may be an HTTP date
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  return undefined;
}

/** Exponential backoff with jitter, honouring a provider's retry-after, never above the cap. */
export function retryDelay(error: unknown, retry: number, settings: { retryBaseDelayMs: number; retryMaxDelayMs: number }): number {
  const exponential = settings.retryBaseDelayMs * 2 ** retry * (0.75 + Math.random() * 0.5);
  return Math.max(0, Math.min(settings.retryMaxDelayMs, hintedDelayMs(error) ?? exponential));
}

/** How long to wait for a rate limit: the provider's hint in full (it knows), else our backoff. */
function rateLimitDelay(error: unknown, waits: number, settings: { retryBaseDelayMs: number; retryMaxDelayMs: number }): number {
  return hintedDelayMs(error) ?? retryDelay(undefined, waits, settings);
}

/** An agent's sampling settings; absent ones are the provider's defaults (output: PROCESS_TASK_MAX_OUTPUT_TOKENS). */
export interface StepOptions {
  temperature?: number;
  maxOutputTokens?: number;
}

export async function modelStep(run: LoopRun, transcript: Transcript, tools: ToolSet, options: StepOptions = {}): Promise<ModelStepResult> {
  const { clock, settings } = run.deps;
  const { model, label } = run.model;
  const [providerName, ...modelParts] = label.split(':');
  const promptTokens = await estimatePromptTokens(transcript, tools);
  let retries = 0;
  let rateLimitWaits = 0;
  for (;;) {
    await takeModelRequest(run, promptTokens);
    const remaining = remainingMs(run);
    if (remaining <= 0) throw new ReleaseSignal('budget');
    const timeoutMs = Math.min(settings.modelTimeoutMs, remaining);
    const budgetBound = remaining < settings.modelTimeoutMs;
    const call = new AbortController();
    const timer = setTimeout(() => call.abort(new ModelTimeoutError(timeoutMs)), timeoutMs);
    const onLease = () => call.abort(new LeaseLostSignal());
    run.lease.addEventListener('abort', onLease, { once: true });
    try {
      const response = await generateText({
        model,
        system: transcript.system,
        messages: transcript.messages,
        tools,
        toolChoice: 'auto',
        maxRetries: 0, // retried here, with a bound on the delay, the budget in view and a rate-limit request taken before each one
        abortSignal: call.signal,
        maxOutputTokens: options.maxOutputTokens ?? settings.maxOutputTokens,
        ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      });
      const assistant = response.response.messages.find((m) => m.role === 'assistant');
      if (!assistant || (toolCallsOf(assistant).length === 0 && textOf(assistant).trim() === '')) {
        throw new RunError('model', `the model returned an empty answer (finish reason: ${response.finishReason})`, true, {
          step: transcript.stepsBefore + transcript.stepsThisRun + 1,
          provider: { name: providerName, model: modelParts.join(':') },
        });
      }
      const usage = { input_tokens: response.usage.inputTokens ?? 0, output_tokens: response.usage.outputTokens ?? 0 };
      return { assistant, usage };
    } catch (raw) {
      if (raw instanceof RunError) throw raw;
      const reason = call.signal.aborted ? call.signal.reason : undefined;
      if (reason instanceof LeaseLostSignal) throw reason;
      if (reason instanceof ModelTimeoutError && budgetBound) throw new ReleaseSignal('budget');
      const error = reason instanceof ModelTimeoutError ? reason : raw;
      const left = remainingMs(run);
      if (isRateLimited(error)) {
        const delay = rateLimitDelay(error, rateLimitWaits++, settings);
        // as for the model's rate-limit window: a long wait in place would hold a place under the running cap, so hand the task back
        if (delay > settings.maxRateLimitWaitMs || left - delay < settings.minStepMs) throw new ReleaseSignal('rate_limit', delay);
        run.log('warn', 'the model provider is rate limiting; waiting', { wait_ms: delay, status: (error as APICallError).statusCode });
        await clock.sleep(delay, run.lease);
        continue;
      }
      const delay = retryDelay(error, retries, settings);
      if (!isRetryableModelCallError(error) || retries >= settings.modelMaxRetries || delay + settings.minStepMs > left) throw error;
      retries++;
      run.log('warn', 'model call failed; retrying', { retry: retries, delay_ms: delay, error: (error as Error).message });
      await clock.sleep(delay, run.lease);
    } finally {
      clearTimeout(timer);
      run.lease.removeEventListener('abort', onLease);
    }
  }
}
