// Helpers for running the agent loop in-process against the real SQL API (a test database cloned
// from the migrations): a scripted AI SDK model, a clock the test can move, and a store that records
// the calls it passes on to Postgres. Nothing here re-implements a rule of the SQL API.
import { APICallError } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import type { LanguageModelV3CallOptions, LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import type postgres from 'postgres';
import { postgresTaskStore } from '../../supabase/functions/process-task/store-postgres.ts';
import { DEFAULT_SETTINGS, silentLogger, type AgentDeps, type AgentSettings, type Clock, type TaskStore } from '../../supabase/functions/process-task/ports.ts';
import type { Task } from '../../supabase/functions/process-task/types.ts';
import type { Sql } from '../helpers/database.ts';

export const usage = (input = 1, output = 1) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});

export const say = (text: string, tokens: [number, number] = [1, 1]): LanguageModelV3GenerateResult => ({
  content: [{ type: 'text', text }],
  finishReason: { unified: 'stop', raw: 'stop' },
  usage: usage(...tokens),
  warnings: [],
});

export const call = (...calls: { id: string; name: string; input: unknown }[]): LanguageModelV3GenerateResult => ({
  content: calls.map((c) => ({ type: 'tool-call' as const, toolCallId: c.id, toolName: c.name, input: typeof c.input === 'string' ? c.input : JSON.stringify(c.input) })),
  finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
  usage: usage(),
  warnings: [],
});

export const apiError = (status: number, headers: Record<string, string> = {}) =>
  new APICallError({
    message: `HTTP ${status}`,
    url: 'https://api.example.test/v1/chat/completions?key=secret',
    requestBodyValues: {},
    statusCode: status,
    responseHeaders: headers,
    responseBody: JSON.stringify({ error: { message: `status ${status} from provider` } }),
    isRetryable: status === 429 || status >= 500,
  });

/** A clock the test moves: sleeps return at once and move it forward. */
export function fakeClock(start = 1_000_000): Clock & { sleeps: number[]; advance(ms: number): void } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    advance: (ms) => void (now += ms),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

export type StoreCall = { fn: string; args: unknown[] };

/** The real store, with every call it passes on recorded (callTaskFunction is recorded by the API function's name). */
export function recording(store: TaskStore): TaskStore & { calls: StoreCall[] } {
  const calls: StoreCall[] = [];
  const wrapped = new Proxy(store, {
    get(target, key) {
      const value = target[key as keyof TaskStore];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(key === 'callTaskFunction' ? { fn: String(args[0]), args: args.slice(1) } : { fn: String(key), args });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return Object.assign(wrapped, { calls });
}

export type Script = (options: LanguageModelV3CallOptions, index: number) => LanguageModelV3GenerateResult | Promise<LanguageModelV3GenerateResult>;

export interface LoopHarness {
  store: TaskStore & { calls: StoreCall[] };
  clock: ReturnType<typeof fakeClock>;
  deps: AgentDeps;
  prompts: LanguageModelV3CallOptions[];
}

/** The loop's ports over the test database, with a scripted model (label mock:mock-1). */
export function harness(sql: Sql, script: Script, settings: Partial<AgentSettings> = {}, worker = 'worker-1'): LoopHarness {
  const store = recording(postgresTaskStore(sql as unknown as postgres.Sql<Record<string, unknown>>));
  const clock = fakeClock();
  const prompts: LanguageModelV3CallOptions[] = [];
  let index = 0;
  const model = new MockLanguageModelV3({
    provider: 'mock',
    modelId: 'mock-1',
    doGenerate: async (options) => {
      prompts.push(options);
      return script(options, index++);
    },
  });
  const deps: AgentDeps = {
    store,
    clock,
    logger: silentLogger,
    models: { label: 'mock:mock-1', resolve: () => ({ label: 'mock:mock-1', model }) },
    settings: { ...DEFAULT_SETTINGS, heartbeatMs: 60_000, retryBaseDelayMs: 100, retryMaxDelayMs: 400, ...settings },
    newWorkerId: () => worker,
  };
  return { store, clock, deps, prompts };
}

/** The harness's scripted model under another name (rate limits and prices are set by model name). */
export function relabel(h: LoopHarness, label: string): void {
  const { model } = h.deps.models.resolve(null);
  h.deps.models = { label, resolve: () => ({ label, model }) };
}

/** A new root task (a new run), as `create_task` makes it. */
export async function createRoot(sql: Sql, title = 'Root', input: Record<string, unknown> = {}, limits: Record<string, unknown> = {}): Promise<Task> {
  const [row] = await sql`select id from taskweave.create_task(${title}, 'Do it.', ${sql.json(input as postgres.JSONValue)}, ${sql.json(limits as postgres.JSONValue)})`;
  const store = postgresTaskStore(sql as unknown as postgres.Sql<Record<string, unknown>>);
  return (await store.getTask(row.id as string))!;
}

/** A parallel child of `parentId`, made directly through the SQL API. */
export async function createChild(sql: Sql, parentId: string, title = 'Child', input: Record<string, unknown> = {}): Promise<string> {
  const [row] = await sql`select id from taskweave.create_parallel_task(${parentId}, ${title}, 'Do the part.', ${sql.json(input as postgres.JSONValue)}, ${'tc_' + title + '_' + Math.random().toString(36).slice(2)})`;
  return row.id as string;
}

export async function statusOf(sql: Sql, taskId: string): Promise<Record<string, unknown>> {
  const [row] = await sql`select status, attempt, leased_by, last_error, usage, output from taskweave.tasks where id = ${taskId}`;
  return row;
}

export interface SavedMessage {
  seq: number;
  role: string;
  content: any;
  usage: { input_tokens: number; output_tokens: number } | null;
}

export async function messagesOf(sql: Sql, taskId: string): Promise<SavedMessage[]> {
  return (await sql`select seq, role, content, usage from taskweave.task_messages where task_id = ${taskId} order by seq`) as unknown as SavedMessage[];
}

/** Tool results saved in a transcript, in order. */
export function toolOutputs(rows: readonly SavedMessage[]): { type: string; value: any }[] {
  return rows.filter((m) => m.role === 'tool').flatMap((m) => (m.content as { output: { type: string; value: unknown } }[]).map((p) => p.output));
}
