// The agent loop with a mock model (ai/test) and an in-memory store: what is saved when, resumption,
// tool errors the model can correct, retries, limits, the budget and a lost lease.
import { APICallError } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import type { LanguageModelV3CallOptions, LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { unansweredToolCalls } from '../../../supabase/functions/process-task/agent-loop.ts';
import { SqlApiError } from '../../../supabase/functions/process-task/errors.ts';
import { DEFAULT_SETTINGS, silentLogger, type AgentDeps, type AgentSettings, type Clock } from '../../../supabase/functions/process-task/ports.ts';
import { processDueTasks, processTaskById } from '../../../supabase/functions/process-task/processor.ts';
import { MemoryStore } from '../memory-store.ts';

const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } };
const say = (text: string): LanguageModelV3GenerateResult => ({ content: [{ type: 'text', text }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] });
const call = (...calls: { id: string; name: string; input: unknown }[]): LanguageModelV3GenerateResult => ({
  content: calls.map((c) => ({ type: 'tool-call' as const, toolCallId: c.id, toolName: c.name, input: typeof c.input === 'string' ? c.input : JSON.stringify(c.input) })),
  finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
  usage,
  warnings: [],
});
const apiError = (status: number, headers: Record<string, string> = {}) =>
  new APICallError({
    message: `HTTP ${status}`,
    url: 'https://api.example.test/v1/chat/completions?key=secret',
    requestBodyValues: {},
    statusCode: status,
    responseHeaders: headers,
    responseBody: JSON.stringify({ error: { message: `status ${status} from provider` } }),
    isRetryable: status === 429 || status >= 500,
  });

function fakeClock(start = 1_000_000): Clock & { sleeps: number[]; advance(ms: number): void } {
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

function setup(script: (options: LanguageModelV3CallOptions, index: number) => LanguageModelV3GenerateResult | Promise<LanguageModelV3GenerateResult>, overrides: Partial<AgentSettings> = {}) {
  const store = new MemoryStore();
  const clock = fakeClock();
  let index = 0;
  const prompts: LanguageModelV3CallOptions[] = [];
  const model = new MockLanguageModelV3({
    provider: 'mock',
    modelId: 'mock-1',
    doGenerate: async (options) => {
      prompts.push(options);
      // what the model sees must already be saved: the store's transcript ends where the prompt ends
      return script(options, index++);
    },
  });
  const deps: AgentDeps = {
    store,
    clock,
    logger: silentLogger,
    models: { label: 'mock:mock-1', model: () => model },
    settings: { ...DEFAULT_SETTINGS, heartbeatMs: 60_000, retryBaseDelayMs: 100, retryMaxDelayMs: 400, ...overrides },
    newWorkerId: () => 'worker-1',
  };
  return { store, clock, deps, prompts, model };
}

describe('agent loop', () => {
  it('saves each step and each tool result before the next step, then completes with the final answer', async () => {
    const { store, deps, prompts } = setup((options, i) => {
      if (i === 0) return call({ id: 'c1', name: 'create_parallel_task', input: { title: 'A', instructions: 'do A' } }, { id: 'c2', name: 'create_parallel_task', input: { title: 'B', instructions: 'do B' } });
      if (i === 1) {
        const ids = options.prompt.flatMap((m) => (m.role === 'tool' ? m.content.map((p) => (p.type === 'tool-result' && p.output.type === 'json' ? (p.output.value as { task_id: string }).task_id : '')) : []));
        return call({ id: 'c3', name: 'create_aggregator_task', input: { title: 'Join', instructions: 'join', dependent_task_ids: ids } });
      }
      return say('done: delegated');
    });
    const root = store.addTask({ title: 'Root', instructions: 'split it' });
    const [result] = await processTaskById(root.id, deps);
    expect(result).toMatchObject({ task_id: root.id, status: 'completed', outcome: 'completed', steps: 3, attempt: 1 });
    expect(store.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'assistant', 'tool', 'assistant']);
    // the order of writes: a step is saved, its tool calls run and their results are saved, then the next model call
    const writes = store.calls.filter((c) => ['appendMessage', 'createParallelTask', 'createAggregatorTask', 'complete'].includes(c.fn)).map((c) => (c.fn === 'appendMessage' ? `append:${c.args[2]}` : c.fn));
    expect(writes).toEqual([
      'append:system', 'append:user', 'append:assistant', 'createParallelTask', 'append:tool', 'createParallelTask', 'append:tool',
      'append:assistant', 'createAggregatorTask', 'append:tool', 'append:assistant', 'complete',
    ]);
    // the second model call saw the first step and both results
    // (the AI SDK merges consecutive tool messages into one provider message)
    expect(prompts[1].prompt.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect((prompts[1].prompt[3].content as { toolCallId: string }[]).map((p) => p.toolCallId)).toEqual(['c1', 'c2']);
    expect(prompts[0].tools?.map((t) => t.name)).toEqual(['create_parallel_task', 'create_aggregator_task']);
    const children = [...store.tasks.values()].filter((t) => t.parent_task_id === root.id);
    expect(children.map((c) => [c.title, c.tool_call_id])).toEqual([['A', 'c1'], ['B', 'c2'], ['Join', 'c3']]);
    expect(store.tasks.get(root.id)!.output).toEqual({ source: 'model', text: 'done: delegated', model: 'mock:mock-1', steps: 3 });
  });

  it('resumes from a saved transcript: runs only the unanswered tool calls, never a model step twice', async () => {
    const { store, deps, prompts } = setup(() => say('finished after resuming'));
    const root = store.addTask({ title: 'Root' });
    // a previous run saved a step with two calls and made the first child, then died before saving its result
    store.tasks.set(root.id, { ...root, status: 'running', leased_by: 'dead', attempt: 1 });
    await store.appendMessage(root.id, 'dead', 'system', 'sys');
    await store.appendMessage(root.id, 'dead', 'user', 'go');
    await store.appendMessage(root.id, 'dead', 'assistant', [
      { type: 'tool-call', toolCallId: 'c1', toolName: 'create_parallel_task', input: { title: 'A', instructions: 'a' } },
      { type: 'tool-call', toolCallId: 'c2', toolName: 'create_parallel_task', input: { title: 'B', instructions: 'b' } },
    ]);
    const made = await store.createParallelTask({ parentTaskId: root.id, title: 'A', instructions: 'a', input: {}, toolCallId: 'c1' });
    store.tasks.set(root.id, { ...store.tasks.get(root.id)!, status: 'pending', leased_by: null });
    store.calls = [];

    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('completed');
    expect(prompts).toHaveLength(1); // only the step after the tool results
    const children = [...store.tasks.values()].filter((t) => t.parent_task_id === root.id);
    expect(children.map((c) => c.tool_call_id)).toEqual(['c1', 'c2']);
    const results = store.messages.filter((m) => m.role === 'tool').map((m) => (m.content as { toolCallId: string; output: { value: { task_id: string } } }[])[0]);
    expect(results.map((r) => r.toolCallId)).toEqual(['c1', 'c2']);
    expect(results[0].output.value.task_id).toBe(made.id); // the existing child, not a new one
  });

  it('completes from a saved final answer without calling the model again', async () => {
    const { store, deps, prompts } = setup(() => say('should not be asked'));
    const root = store.addTask({ title: 'Root', status: 'running', leased_by: 'dead', attempt: 1 });
    await store.appendMessage(root.id, 'dead', 'system', 'sys');
    await store.appendMessage(root.id, 'dead', 'user', 'go');
    await store.appendMessage(root.id, 'dead', 'assistant', [{ type: 'text', text: 'the saved answer' }]);
    store.tasks.set(root.id, { ...store.tasks.get(root.id)!, status: 'pending', leased_by: null });
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('completed');
    expect(prompts).toHaveLength(0);
    expect((store.tasks.get(root.id)!.output as { text: string }).text).toBe('the saved answer');
  });

  it('returns invalid arguments and unknown tools to the model as tool errors it can correct', async () => {
    const { store, deps, prompts } = setup((_, i) => {
      if (i === 0) return call({ id: 'bad1', name: 'create_parallel_task', input: { title: '' } }, { id: 'bad2', name: 'delete_everything', input: {} }, { id: 'bad3', name: 'create_aggregator_task', input: '{not json' });
      if (i === 1) return call({ id: 'bad4', name: 'create_aggregator_task', input: { title: 'J', instructions: 'j', dependent_task_ids: ['3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11'] } });
      return say('gave up on tools');
    });
    const root = store.addTask({});
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('completed');
    const errors = store.messages.filter((m) => m.role === 'tool').map((m) => (m.content as { output: { type: string; value: string } }[])[0].output);
    expect(errors.every((e) => e.type === 'error-text')).toBe(true);
    expect(errors[0].value).toMatch(/invalid arguments for create_parallel_task: title: title must not be empty; instructions: /);
    expect(errors[1].value).toMatch(/unknown tool "delete_everything"/);
    expect(errors[2].value).toMatch(/invalid arguments for create_aggregator_task/);
    expect(errors[3].value).toMatch(/create_aggregator_task was rejected: dependency 3f1c1f52-.* does not exist/);
    // the model was shown the errors
    const toolParts = prompts[1].prompt.filter((m) => m.role === 'tool').flatMap((m) => m.content);
    expect(toolParts).toHaveLength(3);
    expect([...store.tasks.values()].filter((t) => t.parent_task_id === root.id)).toHaveLength(0);
  });

  it('enforces the nesting depth and children limits with clear tool errors', async () => {
    const { store, deps } = setup((_, i) =>
      i === 0
        ? call(...[1, 2, 3].map((n) => ({ id: `c${n}`, name: 'create_parallel_task', input: { title: `T${n}`, instructions: 'x' } })))
        : say('ok'),
      { maxChildrenPerTask: 2, maxDepth: 2 },
    );
    const root = store.addTask({});
    await processTaskById(root.id, deps);
    const outputs = store.messages.filter((m) => m.role === 'tool').map((m) => (m.content as { output: { type: string; value: unknown } }[])[0].output);
    expect(outputs.map((o) => o.type)).toEqual(['json', 'json', 'error-text']);
    expect(outputs[2].value).toMatch(/already has 2 child tasks, the maximum is 2/);

    const deep = setup((_, i) => (i === 0 ? call({ id: 'd1', name: 'create_parallel_task', input: { title: 'deeper', instructions: 'x' } }) : say('ok')), { maxDepth: 2 });
    const nested = deep.store.addTask({ depth: 2, is_parallel_task: true, parent_task_id: 'p', root_task_id: 'r' });
    await processTaskById(nested.id, deep.deps);
    const out = (deep.store.messages.find((m) => m.role === 'tool')!.content as { output: { value: string } }[])[0].output;
    expect(out.value).toMatch(/at nesting depth 2, the maximum is 2: it cannot create child tasks/);
    expect(deep.store.messages.find((m) => m.role === 'system')!.content).toMatch(/cannot create child tasks/);
  });

  it('fails a task that runs out of steps, not retryable, and counts steps afresh after a failure', async () => {
    const { store, deps } = setup((_, i) => call({ id: `loop${i}`, name: 'unknown_tool', input: {} }), { maxSteps: 3 });
    const root = store.addTask({});
    const [result] = await processTaskById(root.id, deps);
    expect(result).toMatchObject({ outcome: 'failed', status: 'failed', error: { category: 'model', message: 'the model did not finish within 3 steps' } });
    expect(store.failures[0]).toMatchObject({ retryable: false, error: { category: 'model', step: 3 } });
    expect(store.messages.filter((m) => m.role === 'assistant')).toHaveLength(3);
  });

  it('retries 429 and 5xx with bounded backoff that honours retry-after, then succeeds', async () => {
    const { store, deps, clock } = setup((_, i) => {
      if (i === 0) throw apiError(429, { 'retry-after': '0.25' });
      if (i === 1) throw apiError(503);
      return say('third time lucky');
    }, { modelMaxRetries: 2 });
    const root = store.addTask({});
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('completed');
    expect(clock.sleeps[0]).toBe(250);
    expect(clock.sleeps[1]).toBeGreaterThan(0);
    expect(clock.sleeps[1]).toBeLessThanOrEqual(400); // the cap
  });

  it('fails with the provider error kept: 401 is not retryable, exhausted 5xx is', async () => {
    const perm = setup(() => { throw apiError(401); }, { modelMaxRetries: 3 });
    const t1 = perm.store.addTask({ is_parallel_task: true, parent_task_id: 'p', root_task_id: 'r' });
    const [r1] = await processTaskById(t1.id, perm.deps);
    expect(r1).toMatchObject({ outcome: 'needs_human_review', status: 'needs_human_review' });
    expect(perm.store.failures[0].retryable).toBe(false);
    expect(perm.store.failures[0].error).toMatchObject({
      category: 'model',
      provider: { name: 'mock', model: 'mock-1', status_code: 401, is_retryable: false, url: 'https://api.example.test/v1/chat/completions' },
    });
    expect(perm.store.failures[0].error.provider!.response_body).toContain('status 401 from provider');
    expect(perm.clock.sleeps).toEqual([]); // no retry of a 401

    const transient = setup(() => { throw apiError(502); }, { modelMaxRetries: 1 });
    const t2 = transient.store.addTask({});
    const [r2] = await processTaskById(t2.id, transient.deps);
    expect(r2).toMatchObject({ outcome: 'retry_scheduled', status: 'pending' });
    expect(transient.store.failures[0]).toMatchObject({ retryable: true, error: { category: 'model', provider: { status_code: 502 } } });
    expect(transient.clock.sleeps).toHaveLength(1);
  });

  it('times out a model call that does not answer: category timeout, retryable', async () => {
    const { store, deps } = setup(
      (options) => new Promise((_, reject) => options.abortSignal?.addEventListener('abort', () => reject(options.abortSignal!.reason))),
      { modelTimeoutMs: 30, modelMaxRetries: 0 },
    );
    deps.clock = { now: () => Date.now(), sleep: async () => {} };
    const root = store.addTask({});
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('retry_scheduled');
    expect(store.failures[0]).toMatchObject({ retryable: true, error: { category: 'timeout' } });
    expect(store.failures[0].error.message).toMatch(/did not answer within/);
  });

  it('saves and releases the task when the wall-clock budget is used up, without using an attempt', async () => {
    const { store, deps, clock } = setup((_, i) => {
      clock.advance(40_000); // each step takes 40 s of a 100 s budget
      return call({ id: `c${i}`, name: 'create_parallel_task', input: { title: `T${i}`, instructions: 'x' } });
    }, { budgetMs: 100_000, minStepMs: 25_000 });
    const root = store.addTask({});
    const [result] = await processTaskById(root.id, deps);
    expect(result).toMatchObject({ outcome: 'released', status: 'pending', steps: 2 });
    expect(store.calls.some((c) => c.fn === 'release')).toBe(true);
    expect(store.tasks.get(root.id)!.attempt).toBe(0);
    expect(store.failures).toHaveLength(0);
    // the next invocation continues where this one stopped
    const [next] = await processTaskById(root.id, deps);
    expect(next.outcome).toBe('released');
    expect(store.messages.filter((m) => m.role === 'assistant')).toHaveLength(4);
  });

  it('stops without writing when the lease is lost (another worker took the task)', async () => {
    const { store, deps } = setup(() => call({ id: 'c1', name: 'create_parallel_task', input: { title: 'A', instructions: 'a' } }));
    const root = store.addTask({});
    store.failNext.appendMessage = new SqlApiError('TW001', 'not leased to worker-1', 'append_task_message');
    const [result] = await processTaskById(root.id, deps);
    expect(result).toMatchObject({ outcome: 'lease_lost', status: 'unknown' });
    expect(store.calls.filter((c) => c.fn === 'fail' || c.fn === 'complete' || c.fn === 'release')).toHaveLength(0);
  });

  it('renews the lease while a slow step runs, and stops when a heartbeat finds it lost', async () => {
    const { store, deps } = setup(
      (options) => new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(say('slow answer')), 400);
        options.abortSignal?.addEventListener('abort', () => (clearTimeout(timer), reject(options.abortSignal!.reason)));
      }),
      { heartbeatMs: 20 },
    );
    deps.clock = { now: () => Date.now(), sleep: async () => {} };
    const root = store.addTask({});
    const [ok] = await processTaskById(root.id, deps);
    expect(ok.outcome).toBe('completed');
    expect(store.calls.filter((c) => c.fn === 'heartbeat').length).toBeGreaterThanOrEqual(2);

    const lost = setup((options) => new Promise((_, reject) => options.abortSignal?.addEventListener('abort', () => reject(options.abortSignal!.reason))), { heartbeatMs: 20 });
    lost.deps.clock = { now: () => Date.now(), sleep: async () => {} };
    const t = lost.store.addTask({});
    lost.store.failNext.heartbeat = new SqlApiError('TW001', 'lease expired and reclaimed', 'heartbeat_task');
    const [r] = await processTaskById(t.id, lost.deps);
    expect(r.outcome).toBe('lease_lost');
    expect(lost.store.failures).toHaveLength(0);
  });

  it('refuses an empty model answer as a retryable model error instead of completing with nothing', async () => {
    const { store, deps } = setup(() => say('   '));
    const root = store.addTask({});
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('retry_scheduled');
    expect(store.failures[0].error.message).toMatch(/empty answer/);
    expect(store.messages.filter((m) => m.role === 'assistant')).toHaveLength(0);
  });

  it('claims and runs several due tasks in max_tasks mode, a few at a time', async () => {
    const { store, deps } = setup(() => say('ok'), { concurrency: 2 });
    const ids = [1, 2, 3, 4, 5].map(() => store.addTask({}).id);
    const results = await processDueTasks(3, deps);
    expect(results).toHaveLength(3);
    expect(results.every((r) => r.outcome === 'completed')).toBe(true);
    expect(ids.filter((id) => store.tasks.get(id)!.status === 'pending')).toHaveLength(2);
    expect(await processDueTasks(50, deps)).toHaveLength(2);
    expect(await processDueTasks(50, deps)).toEqual([]);
  });
});

describe('unansweredToolCalls', () => {
  it('lists the calls of the last assistant step that have no result yet', () => {
    const messages = [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'a', toolName: 't', input: {} }, { type: 'tool-call', toolCallId: 'b', toolName: 't', input: {} }] },
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'a', toolName: 't', output: { type: 'json', value: {} } }] },
    ];
    expect(unansweredToolCalls(messages).map((c) => c.toolCallId)).toEqual(['b']);
    expect(unansweredToolCalls([{ role: 'user', content: 'x' }])).toEqual([]);
    expect(unansweredToolCalls([...messages, { role: 'assistant', content: [{ type: 'text', text: 'done' }] }])).toEqual([]);
  });
});
