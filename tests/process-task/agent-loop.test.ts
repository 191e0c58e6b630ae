// The agent loop in-process with a scripted model (ai/test) against the real SQL API: what is saved
// when, resuming, tool errors the model can correct, SQL's limits as tool errors, retries, the budget,
// a lost lease and a cancel.
import { describe, expect, it } from 'vitest';
import { serviceRole, asIdentity, setSettings, useTestDatabase } from '../helpers/database.ts';
import { unansweredToolCalls } from '../../supabase/functions/process-task/agent-loop.ts';
import { processDueTasks, processTaskById } from '../../supabase/functions/process-task/processor.ts';
import { apiError, call, createChild, createRoot, harness, messagesOf, relabel, say, statusOf, toolOutputs } from './loop-support.ts';
import { waitFor } from './support.ts';

const db = useTestDatabase();

/** Save a transcript as a worker that then died: claimed with a 1 s lease that is left to expire. */
async function deadWorkerTranscript(taskId: string, messages: [string, unknown][]) {
  await db.sql`select taskweave.claim_task(${taskId}, 'dead', 1)`;
  for (const [role, content] of messages) await db.sql`select taskweave.append_task_message(${taskId}, 'dead', ${role}, ${db.sql.json(content as never)})`;
  await waitFor('the dead worker’s lease to expire', async () => (await db.sql`select lease_expires_at <= now() as e from taskweave.tasks where id = ${taskId}`)[0].e, 5_000, 50);
}

describe('agent loop', () => {
  it('saves each step (with its tokens) and each tool result before the next step, then completes with the final answer', async () => {
    const { store, deps, prompts } = harness(db.sql, (options, i) => {
      if (i === 0) return call({ id: 'c1', name: 'create_parallel_task', input: { title: 'A', instructions: 'do A' } }, { id: 'c2', name: 'create_parallel_task', input: { title: 'B', instructions: 'do B' } });
      if (i === 1) {
        const ids = options.prompt.flatMap((m) => (m.role === 'tool' ? m.content.map((p) => (p.type === 'tool-result' && p.output.type === 'json' ? (p.output.value as { task_id: string }).task_id : '')) : []));
        return call({ id: 'c3', name: 'create_aggregator_task', input: { title: 'Join', instructions: 'join', dependent_task_ids: ids } });
      }
      return say('done: delegated', [120, 30]);
    });
    const root = await createRoot(db.sql, 'Root');
    const [result] = await processTaskById(root.id, deps);
    expect(result).toMatchObject({ task_id: root.id, status: 'completed', outcome: 'completed', steps: 3, attempt: 1 });
    const messages = await messagesOf(db.sql, root.id);
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'assistant', 'tool', 'assistant']);
    // each model step's tokens are saved with it, and summed on the task
    // with the model that answered, priced by SQL (no price set: 0)
    expect(messages.filter((m) => m.role === 'assistant').map((m) => m.usage)).toEqual([
      { input_tokens: 1, output_tokens: 1, model: 'mock:mock-1', cost_usd: 0 },
      { input_tokens: 1, output_tokens: 1, model: 'mock:mock-1', cost_usd: 0 },
      { input_tokens: 120, output_tokens: 30, model: 'mock:mock-1', cost_usd: 0 },
    ]);
    expect((await statusOf(db.sql, root.id)).usage).toMatchObject({ input_tokens: 122, output_tokens: 32 });
    // the order of writes: a rate-limit request, a step saved, its tool calls run and their results saved, then the next request
    const writes = store.calls
      .filter((c) => ['appendMessage', 'beginModelStep', 'create_parallel_task', 'create_aggregator_task', 'complete'].includes(c.fn))
      .map((c) => (c.fn === 'appendMessage' ? `append:${c.args[2]}` : c.fn));
    expect(writes).toEqual([
      'append:system', 'append:user', 'beginModelStep', 'append:assistant', 'create_parallel_task', 'append:tool', 'create_parallel_task', 'append:tool',
      'beginModelStep', 'append:assistant', 'create_aggregator_task', 'append:tool', 'beginModelStep', 'append:assistant', 'complete',
    ]);
    // the creating tools pass the worker, so a stale worker creates nothing
    expect(store.calls.find((c) => c.fn === 'create_parallel_task')!.args[0]).toMatchObject({ p_worker: 'worker-1', p_tool_call_id: 'c1' });
    // the second model call saw the first step and both results
    // (the AI SDK merges consecutive tool messages into one provider message)
    expect(prompts[1].prompt.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect((prompts[1].prompt[3].content as { toolCallId: string }[]).map((p) => p.toolCallId)).toEqual(['c1', 'c2']);
    expect(prompts[0].tools?.map((t) => t.name)).toEqual(['create_parallel_task', 'create_aggregator_task', 'ask_human']);
    const children = await db.sql`select title, tool_call_id, status from taskweave.tasks where parent_task_id = ${root.id} order by created_at, title`;
    expect(children.map((c) => [c.title, c.tool_call_id])).toEqual([['A', 'c1'], ['B', 'c2'], ['Join', 'c3']]);
    expect((await statusOf(db.sql, root.id)).output).toEqual({ source: 'model', text: 'done: delegated', model: 'mock:mock-1', steps: 3 });
  });

  it('resumes from a saved transcript: runs only the unanswered tool calls, answering with the child already made', async () => {
    const { deps, prompts } = harness(db.sql, () => say('finished after resuming'));
    const root = await createRoot(db.sql);
    const calls = [
      { type: 'tool-call', toolCallId: 'c1', toolName: 'create_parallel_task', input: { title: 'A', instructions: 'a' } },
      { type: 'tool-call', toolCallId: 'c2', toolName: 'create_parallel_task', input: { title: 'B', instructions: 'b' } },
    ];
    await deadWorkerTranscript(root.id, [['system', 'sys'], ['user', 'go'], ['assistant', calls]]);
    // the dead worker made the first child (same tool call id, same arguments) before it died
    const [made] = await db.sql`select id from taskweave.create_parallel_task(${root.id}, 'A', 'a', '{}'::jsonb, 'c1')`;

    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('completed');
    expect(prompts).toHaveLength(1); // only the step after the tool results
    const children = await db.sql`select id, tool_call_id from taskweave.tasks where parent_task_id = ${root.id} order by tool_call_id`;
    expect(children.map((c) => c.tool_call_id)).toEqual(['c1', 'c2']);
    const outputs = toolOutputs(await messagesOf(db.sql, root.id));
    expect(outputs.map((o) => o.type)).toEqual(['json', 'json']);
    expect(outputs[0].value.task_id).toBe(made.id); // the existing child, not a new one
  });

  it('completes from a saved final answer without calling the model again', async () => {
    const { deps, prompts } = harness(db.sql, () => say('should not be asked'));
    const root = await createRoot(db.sql);
    await deadWorkerTranscript(root.id, [['system', 'sys'], ['user', 'go'], ['assistant', [{ type: 'text', text: 'the saved answer' }]]]);
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('completed');
    expect(prompts).toHaveLength(0);
    expect(((await statusOf(db.sql, root.id)).output as { text: string }).text).toBe('the saved answer');
  });

  it('returns invalid arguments, unknown tools and SQL rejections to the model as tool errors it can correct', async () => {
    const { deps, prompts } = harness(db.sql, (_, i) => {
      if (i === 0) return call({ id: 'bad1', name: 'create_parallel_task', input: { title: '' } }, { id: 'bad2', name: 'delete_everything', input: {} }, { id: 'bad3', name: 'create_aggregator_task', input: '{not json' });
      if (i === 1) return call({ id: 'bad4', name: 'create_aggregator_task', input: { title: 'J', instructions: 'j', dependent_task_ids: ['3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11'] } });
      return say('gave up on tools');
    });
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('completed');
    const errors = toolOutputs(await messagesOf(db.sql, root.id));
    expect(errors.every((e) => e.type === 'error-text')).toBe(true);
    expect(errors[0].value).toMatch(/invalid arguments for create_parallel_task: title: title must not be empty; instructions: /);
    expect(errors[1].value).toMatch(/unknown tool "delete_everything"/);
    expect(errors[2].value).toMatch(/invalid arguments for create_aggregator_task/);
    expect(errors[3].value).toMatch(/create_aggregator_task was rejected: .*3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11/);
    // the model was shown the errors
    const toolParts = prompts[1].prompt.filter((m) => m.role === 'tool').flatMap((m) => m.content);
    expect(toolParts).toHaveLength(3);
    expect(await db.sql`select id from taskweave.tasks where parent_task_id = ${root.id}`).toHaveLength(0);
  });

  it('reports SQL’s children and depth limits (not a TypeScript copy) as tool errors', async () => {
    const sql = db.client(1);
    await setSettings(sql, { max_children_per_task: 2 });
    const { deps } = harness(sql, (_, i) =>
      i === 0 ? call(...[1, 2, 3].map((n) => ({ id: `c${n}`, name: 'create_parallel_task', input: { title: `T${n}`, instructions: 'x' } }))) : say('ok'),
    );
    const root = await createRoot(sql);
    await processTaskById(root.id, deps);
    const outputs = toolOutputs(await messagesOf(sql, root.id));
    expect(outputs.map((o) => o.type)).toEqual(['json', 'json', 'error-text']);
    expect(outputs[2].value).toMatch(/^create_parallel_task was rejected: .*2/);

    await setSettings(sql, { max_depth: 0 });
    const deep = harness(sql, (_, i) => (i === 0 ? call({ id: 'd1', name: 'create_parallel_task', input: { title: 'deeper', instructions: 'x' } }) : say('ok')));
    const other = await createRoot(sql);
    await processTaskById(other.id, deep.deps);
    const [out] = toolOutputs(await messagesOf(sql, other.id));
    expect(out).toEqual({ type: 'error-text', value: expect.stringMatching(/^create_parallel_task was rejected: .*dep/) });
    expect(await sql`select id from taskweave.tasks where parent_task_id = ${other.id}`).toHaveLength(0);
    await setSettings(sql, { max_children_per_task: null, max_depth: null });
  });

  it('a tool call id reused with other arguments is a tool error (TW006), the same arguments return the same child', async () => {
    const { deps } = harness(db.sql, (_, i) =>
      i === 0
        ? call({ id: 'same', name: 'create_parallel_task', input: { title: 'One', instructions: 'x' } })
        : i === 1
          ? call({ id: 'same', name: 'create_parallel_task', input: { title: 'One', instructions: 'x' } })
          : i === 2
            ? call({ id: 'same', name: 'create_parallel_task', input: { title: 'Other', instructions: 'y' } })
            : say('ok'),
    );
    const root = await createRoot(db.sql);
    await processTaskById(root.id, deps);
    const outputs = toolOutputs(await messagesOf(db.sql, root.id));
    expect(outputs.map((o) => o.type)).toEqual(['json', 'json', 'error-text']);
    expect(outputs[1].value.task_id).toBe(outputs[0].value.task_id);
    expect(outputs[2].value).toMatch(/^create_parallel_task was rejected: /);
    expect(await db.sql`select id from taskweave.tasks where parent_task_id = ${root.id}`).toHaveLength(1);
  });

  it('fails a task that runs out of steps, not retryable, and counts steps afresh after a failure', async () => {
    const { deps } = harness(db.sql, (_, i) => call({ id: `loop${i}`, name: 'unknown_tool', input: {} }), { maxSteps: 3 });
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, deps);
    expect(result).toMatchObject({ outcome: 'failed', status: 'failed', error: { category: 'model', message: 'the model did not finish within 3 steps' } });
    expect((await statusOf(db.sql, root.id)).last_error).toMatchObject({ category: 'model', step: 3 });
    expect((await messagesOf(db.sql, root.id)).filter((m) => m.role === 'assistant')).toHaveLength(3);
  });

  it('waits out a 429 (its retry-after, no retry used) and retries a 503 with bounded backoff, then succeeds', async () => {
    const { deps, clock, store } = harness(db.sql, (_, i) => {
      if (i === 0) throw apiError(429, { 'retry-after': '0.25' });
      if (i === 1) throw apiError(429, { 'retry-after': '0.25' });
      if (i === 2) throw apiError(503);
      return say('fourth time lucky');
    }, { modelMaxRetries: 1 });
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, deps);
    expect(result).toMatchObject({ outcome: 'completed', attempt: 1 });
    expect(clock.sleeps.slice(0, 2)).toEqual([250, 250]);
    expect(clock.sleeps[2]).toBeGreaterThan(0);
    expect(clock.sleeps[2]).toBeLessThanOrEqual(400); // the cap
    // a rate-limit request was taken before every one of the four model requests
    expect(store.calls.filter((c) => c.fn === 'beginModelStep')).toHaveLength(4);
  });

  it('releases with the provider’s delay, not a failure, when a 429 asks to wait past the budget', async () => {
    const { deps, store } = harness(db.sql, () => {
      throw apiError(429, { 'retry-after': '30' });
    }, { budgetMs: 20_000, minStepMs: 1_000, modelMaxRetries: 0 });
    const child = await createChild(db.sql, (await createRoot(db.sql)).id, 'rate limited');
    const [result] = await processTaskById(child, deps);
    expect(result).toMatchObject({ outcome: 'released', status: 'pending' });
    expect(store.calls.filter((c) => c.fn === 'fail')).toHaveLength(0);
    const [t] = await db.sql`select status, attempt, run_after > now() + interval '25 seconds' as later from taskweave.tasks where id = ${child}`;
    expect(t).toEqual({ status: 'pending', attempt: 0, later: true });
    expect(await db.sql`select id from taskweave.human_reviews where task_id = ${child}`).toHaveLength(0);
  });

  it('waits for room in a shared rate-limit window (begin_model_step), and releases with the delay when none frees within the budget', async () => {
    const h = harness(db.sql, (_, i) => (i === 0 ? call({ id: 'c1', name: 'create_parallel_task', input: { title: 'A', instructions: 'a' } }) : say('done')), { maxRateLimitWaitMs: 120_000 });
    relabel(h, 'mock:one-a-minute');
    await asIdentity(db.sql, serviceRole, (tx) => tx`select taskweave.set_model_limits('one-a-minute', 1)`);
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, h.deps);
    // the first step took the minute's only request; the second waited (the clock moved 60 s) and found none again
    expect(result).toMatchObject({ outcome: 'released', status: 'pending', steps: 1 });
    expect(h.clock.sleeps).toHaveLength(1);
    expect(h.clock.sleeps[0]).toBeGreaterThan(55_000);
    expect(h.store.calls.filter((c) => c.fn === 'beginModelStep')).toHaveLength(3);
    expect(h.store.calls.find((c) => c.fn === 'release')!.args.slice(2)).toEqual([expect.any(Number), true]); // rate-limited: not an idle release
    const [t] = await db.sql`select attempt, run_after > now() + interval '50 seconds' as later, model_wait_until is not null as waits from taskweave.tasks where id = ${root.id}`;
    expect(t).toEqual({ attempt: 0, later: true, waits: true });

    // by default a wait that long is not spent in place (it would hold a place under the running cap): released at once
    const quick = harness(db.sql, () => say('not asked'));
    relabel(quick, 'mock:one-a-minute');
    const other = await createRoot(db.sql);
    const [released] = await processTaskById(other.id, quick.deps);
    expect(released).toMatchObject({ outcome: 'released', status: 'pending', steps: 0 });
    expect(quick.clock.sleeps).toEqual([]);
    expect(quick.store.calls.filter((c) => c.fn === 'beginModelStep')).toHaveLength(1);
    await asIdentity(db.sql, serviceRole, (tx) => tx`select taskweave.set_model_limits('one-a-minute', null)`);
  });

  it('fails with the provider error kept: 401 is not retryable, exhausted 5xx is', async () => {
    const perm = harness(db.sql, () => {
      throw apiError(401);
    }, { modelMaxRetries: 3 });
    const child = await createChild(db.sql, (await createRoot(db.sql)).id, 'unauthorized');
    const [r1] = await processTaskById(child, perm.deps);
    expect(r1).toMatchObject({ outcome: 'needs_human_review', status: 'needs_human_review' });
    const [review] = await db.sql`select error from taskweave.human_reviews where task_id = ${child}`;
    expect(review.error).toMatchObject({
      category: 'model',
      provider: { name: 'mock', model: 'mock-1', status_code: 401, is_retryable: false, url: 'https://api.example.test/v1/chat/completions' },
    });
    expect(review.error.provider.response_body).toContain('status 401 from provider');
    expect(perm.clock.sleeps).toEqual([]); // no retry of a 401

    const transient = harness(db.sql, () => {
      throw apiError(502);
    }, { modelMaxRetries: 1 });
    const root = await createRoot(db.sql);
    const [r2] = await processTaskById(root.id, transient.deps);
    expect(r2).toMatchObject({ outcome: 'retry_scheduled', status: 'pending' });
    expect((await statusOf(db.sql, root.id)).last_error).toMatchObject({ category: 'model', provider: { status_code: 502 } });
    expect(transient.clock.sleeps).toHaveLength(1);
  });

  it('times out a model call that does not answer: category timeout, retryable', async () => {
    const { deps } = harness(
      db.sql,
      (options) => new Promise((_, reject) => options.abortSignal?.addEventListener('abort', () => reject(options.abortSignal!.reason))),
      { modelTimeoutMs: 30, modelMaxRetries: 0 },
    );
    deps.clock = { now: () => Date.now(), sleep: async () => {} };
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('retry_scheduled');
    expect((await statusOf(db.sql, root.id)).last_error).toMatchObject({ category: 'timeout', message: expect.stringMatching(/did not answer within/) });
  });

  it('saves and releases the task when the wall-clock budget is used up, without using an attempt', async () => {
    const h = harness(db.sql, (_, i) => {
      h.clock.advance(40_000); // each step takes 40 s of a 100 s budget
      return call({ id: `c${i}`, name: 'create_parallel_task', input: { title: `T${i}`, instructions: 'x' } });
    }, { budgetMs: 100_000, minStepMs: 25_000 });
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, h.deps);
    expect(result).toMatchObject({ outcome: 'released', status: 'pending', steps: 2 });
    expect(h.store.calls.some((c) => c.fn === 'release')).toBe(true);
    expect(h.store.calls.some((c) => c.fn === 'fail')).toBe(false);
    expect((await statusOf(db.sql, root.id)).attempt).toBe(0);
    // the next invocation continues where this one stopped
    const [next] = await processTaskById(root.id, h.deps);
    expect(next.outcome).toBe('released');
    expect((await messagesOf(db.sql, root.id)).filter((m) => m.role === 'assistant')).toHaveLength(4);
  });

  it('stops without writing when another worker took the task over (the lease expired)', async () => {
    const h = harness(db.sql, async () => {
      // the lease (1 s) runs out while the model thinks, and another worker claims the task
      await waitFor('the lease to expire', async () => (await db.sql`select lease_expires_at <= now() as e from taskweave.tasks where id = ${root.id}`)[0].e, 5_000, 50);
      await db.sql`select taskweave.claim_task(${root.id}, 'thief', 60)`;
      return call({ id: 'c1', name: 'create_parallel_task', input: { title: 'A', instructions: 'a' } });
    }, { leaseSeconds: 1 });
    h.deps.clock = { now: () => Date.now(), sleep: async () => {} };
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, h.deps);
    expect(result).toMatchObject({ outcome: 'lease_lost', status: 'unknown' });
    expect(h.store.calls.filter((c) => ['fail', 'complete', 'release', 'create_parallel_task'].includes(c.fn))).toHaveLength(0);
    expect((await messagesOf(db.sql, root.id)).map((m) => m.role)).toEqual(['system', 'user']);
    expect((await statusOf(db.sql, root.id)).leased_by).toBe('thief');
  });

  it('renews the lease while a slow step runs; a cancel stops the run in flight, with no model request after it', async () => {
    const slow = harness(db.sql, (options) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(say('slow answer')), 1_500);
        options.abortSignal?.addEventListener('abort', () => (clearTimeout(timer), reject(options.abortSignal!.reason)));
      }),
      { heartbeatMs: 200, leaseSeconds: 1 },
    );
    slow.deps.clock = { now: () => Date.now(), sleep: async () => {} };
    const root = await createRoot(db.sql);
    const [ok] = await processTaskById(root.id, slow.deps);
    expect(ok.outcome).toBe('completed'); // a 1 s lease outlived by a 1.5 s step: the heartbeat kept it
    expect(slow.store.calls.filter((c) => c.fn === 'heartbeat').length).toBeGreaterThanOrEqual(3);

    let cancelledAt = Infinity;
    const requestTimes: number[] = [];
    const cancelled = harness(db.sql, (options, i) => {
      requestTimes.push(Date.now());
      if (i === 0) return call({ id: 'c1', name: 'create_parallel_task', input: { title: 'A', instructions: 'a' } });
      // the second step hangs until the cancel takes the lease away
      void asIdentity(db.sql, serviceRole, (tx) => tx`select taskweave.cancel_task(${target.id}, 'stop this run')`).then(() => (cancelledAt = Date.now()));
      return new Promise((_, reject) => options.abortSignal?.addEventListener('abort', () => reject(options.abortSignal!.reason)));
    }, { heartbeatMs: 100 });
    cancelled.deps.clock = { now: () => Date.now(), sleep: async () => {} };
    const target = await createRoot(db.sql);
    const [r] = await processTaskById(target.id, cancelled.deps);
    expect(r).toMatchObject({ outcome: 'cancelled', status: 'cancelled' });
    expect(requestTimes).toHaveLength(2);
    expect(requestTimes.every((t) => t < cancelledAt)).toBe(true);
    expect(cancelled.store.calls.filter((c) => ['fail', 'complete', 'release'].includes(c.fn))).toHaveLength(0);
    const rows = await db.sql`select status from taskweave.tasks where root_task_id = ${target.id}`;
    expect(rows.map((x) => x.status)).toEqual(['cancelled', 'cancelled']); // the root and its child
  });

  it('refuses an empty model answer as a retryable model error instead of completing with nothing', async () => {
    const { deps } = harness(db.sql, () => say('   '));
    const root = await createRoot(db.sql);
    const [result] = await processTaskById(root.id, deps);
    expect(result.outcome).toBe('retry_scheduled');
    expect(((await statusOf(db.sql, root.id)).last_error as { message: string }).message).toMatch(/empty answer/);
    expect((await messagesOf(db.sql, root.id)).filter((m) => m.role === 'assistant')).toHaveLength(0);
  });
});

describe('max_tasks mode', () => {
  it('claims and runs several due tasks, a few at a time', async () => {
    // nothing else may be due in this file's database
    await db.sql`update taskweave.tasks set run_after = now() + interval '1 day' where status = 'pending'`;
    const { deps } = harness(db.sql, () => say('ok'), { concurrency: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createRoot(db.sql, `due ${i}`)).id);
    const results = await processDueTasks(3, deps);
    expect(results).toHaveLength(3);
    expect(results.every((r) => r.outcome === 'completed')).toBe(true);
    const pending = await db.sql`select id from taskweave.tasks where id in ${db.sql(ids)} and status = 'pending'`;
    expect(pending).toHaveLength(2);
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
