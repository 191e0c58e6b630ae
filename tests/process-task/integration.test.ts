// The core against the real SQL API (Postgres from the migrations): tools, result injection, resuming
// after a crash, stale workers, escalation to review and the wall-clock release.
import { APICallError } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import type { LanguageModelV3CallOptions, LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, operator, useTestDatabase } from '../helpers/database.ts';
import { postgresTaskStore } from '../../supabase/functions/process-task/store-postgres.ts';
import { executeToolCall } from '../../supabase/functions/process-task/loop/tool-step.ts';
import { buildTaskContext, TRUNCATION_MARKER } from '../../supabase/functions/process-task/context.ts';
import { DEFAULT_SETTINGS, silentLogger, systemClock, type AgentDeps, type AgentSettings, type TaskStore } from '../../supabase/functions/process-task/ports.ts';
import { processTaskById } from '../../supabase/functions/process-task/processor.ts';
import type { Task } from '../../supabase/functions/process-task/types.ts';
import { waitFor } from './support.ts';

const db = useTestDatabase();
let store: TaskStore;
const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } };
const say = (text: string): LanguageModelV3GenerateResult => ({ content: [{ type: 'text', text }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] });

beforeAll(() => {
  store = postgresTaskStore(db.sql as unknown as postgres.Sql<Record<string, unknown>>);
});

function deps(doGenerate: (o: LanguageModelV3CallOptions) => Promise<LanguageModelV3GenerateResult>, settings: Partial<AgentSettings> = {}): AgentDeps {
  const model = new MockLanguageModelV3({ provider: 'mock', modelId: 'm', doGenerate });
  return { store, clock: systemClock, logger: silentLogger, models: { label: 'mock:m', model: () => model }, settings: { ...DEFAULT_SETTINGS, heartbeatMs: 60_000, ...settings } };
}

async function root(title = 'Root', input: Record<string, unknown> = {}): Promise<Task> {
  const [row] = await db.sql`select * from taskweave.create_task(${title}, 'instructions', ${db.sql.json(input as postgres.JSONValue)})`;
  return store.getTask(row.id as string) as Promise<Task>;
}

async function claimed(taskId: string, worker = 'test-worker', lease = 300): Promise<Task> {
  return store.claimTask(taskId, worker, lease);
}

async function finish(taskId: string, text: string) {
  const t = await claimed(taskId, 'finisher');
  await store.complete(t.id, 'finisher', { source: 'model', text, model: 'x', steps: 1 });
}

describe('built-in tools against the SQL API', () => {
  it('create_parallel_task is idempotent on the tool call id', async () => {
    const r = await claimed((await root()).id);
    const call = { toolCallId: 'call_same', toolName: 'create_parallel_task', input: { title: 'Child', instructions: 'do', input: { k: 1 } } };
    const first = await executeToolCall(call, { task: r, worker: 'test-worker', store });
    const again = await executeToolCall(call, { task: r, worker: 'test-worker', store });
    expect(first.type).toBe('json');
    expect(again).toEqual(first);
    const children = await db.sql`select title, input, is_parallel_task, depth, root_task_id, tool_call_id from taskweave.tasks where parent_task_id = ${r.id}`;
    expect(children).toEqual([{ title: 'Child', input: { k: 1 }, is_parallel_task: true, depth: 1, root_task_id: r.id, tool_call_id: 'call_same' }]);
  });

  it('turns the SQL API rejections into tool errors the model can act on', async () => {
    const r = await claimed((await root()).id);
    const other = await root('Other root');
    const [foreign] = await db.sql`select * from taskweave.create_parallel_task(${other.id}, 'foreign', 'x')`;
    const agg = (ids: string[], id: string) => executeToolCall({ toolCallId: id, toolName: 'create_aggregator_task', input: { title: 'J', instructions: 'j', dependent_task_ids: ids } }, { task: r, worker: 'test-worker', store });
    const unknown = await agg(['3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11'], 'a1');
    expect(unknown).toEqual({ type: 'error-text', value: expect.stringMatching(/create_aggregator_task was rejected: dependency 3f1c1f52-\S+ does not exist/) });
    const cross = await agg([foreign.id as string], 'a2');
    expect(cross.value).toMatch(/belongs to root task/);
    const notParallel = await agg([other.id], 'a3');
    expect(notParallel.value).toMatch(/is not a parallel task/);
    const [{ count }] = await db.sql`select count(*)::int as count from taskweave.tasks where parent_task_id = ${r.id}`;
    expect(count).toBe(0);
  });

  it('create_aggregator_task passes min_completed and wait_seconds to SQL', async () => {
    const r = await claimed((await root()).id);
    const child = async (id: string) => (await executeToolCall({ toolCallId: id, toolName: 'create_parallel_task', input: { title: id, instructions: 'x' } }, { task: r, worker: 'test-worker', store })).value as { task_id: string };
    const ids = [(await child('p1')).task_id, (await child('p2')).task_id];
    const out = await executeToolCall(
      { toolCallId: 'join', toolName: 'create_aggregator_task', input: { title: 'Join', instructions: 'j', dependent_task_ids: ids, min_completed: 1, wait_seconds: 60 } },
      { task: r, worker: 'test-worker', store },
    );
    expect(out).toMatchObject({ type: 'json', value: { status: 'queued', dependent_task_ids: ids, min_completed: 1, wait_until: expect.any(String) } });
    const [row] = await db.sql`select min_completed, wait_until between now() + interval '55 seconds' and now() + interval '65 seconds' as in_a_minute from taskweave.tasks where id = ${(out.value as { task_id: string }).task_id}`;
    expect(row).toEqual({ min_completed: 1, in_a_minute: true });
    const bad = await executeToolCall(
      { toolCallId: 'join2', toolName: 'create_aggregator_task', input: { title: 'Join', instructions: 'j', dependent_task_ids: ids, min_completed: 3 } },
      { task: r, worker: 'test-worker', store },
    );
    expect(bad).toEqual({ type: 'error-text', value: expect.stringMatching(/^create_aggregator_task was rejected: .*min_completed/) });
  });

  it('a worker that lost its lease creates nothing: TW001 ends the run instead of a tool error', async () => {
    const r = await claimed((await root()).id);
    const call = { toolCallId: 'late', toolName: 'create_parallel_task', input: { title: 'x', instructions: 'y' } };
    await expect(executeToolCall(call, { task: r, worker: 'someone-else', store })).rejects.toMatchObject({ code: 'TW001' });
    expect(await db.sql`select id from taskweave.tasks where parent_task_id = ${r.id}`).toHaveLength(0);
  });
});

describe('result injection against the SQL API', () => {
  it('gives the aggregator every dependency: model output (capped), operator output marked human, cancelled', async () => {
    const r = await claimed((await root('Fan out')).id);
    const mk = async (title: string) => ((await db.sql`select * from taskweave.create_parallel_task(${r.id}, ${title}, 'x', '{}'::jsonb, ${'tc_' + title})`)[0].id as string);
    const [a, b, c] = [await mk('long'), await mk('manual'), await mk('aborted')];
    const [aggRow] = await db.sql`select * from taskweave.create_aggregator_task(${r.id}, ${[a, b, c]}::uuid[], 'Join', 'combine', 'tc_join')`;
    expect(aggRow.status).toBe('queued');

    await finish(a, 'L'.repeat(10_000));
    for (const id of [b, c]) {
      await claimed(id, 'w');
      await store.fail(id, 'w', { category: 'model', message: 'no' }, false);
      expect((await store.getTask(id))!.status).toBe('needs_human_review');
    }
    const reviews = await db.sql`select id, task_id from taskweave.human_reviews where status = 'open'`;
    const reviewOf = (id: string) => reviews.find((x) => x.task_id === id)!.id;
    await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.resolve_review(${reviewOf(b)}, 'manual', ${db.sql.json({ verdict: 'by hand' })}, null)`);
    await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.resolve_review(${reviewOf(c)}, 'abort', null, null)`);
    const aggregator = await waitFor('aggregator pending', async () => {
      const t = await store.getTask(aggRow.id as string);
      return t!.status === 'pending' ? t : undefined;
    });

    const context = await buildTaskContext(aggregator, store, { ...DEFAULT_SETTINGS, dependencyOutputChars: 1_000 });
    expect(context.kind).toBe('aggregator');
    expect(context.parent).toEqual({ id: r.id, title: 'Fan out' });
    expect(context.dependencies.map((d) => [d.task_id, d.status, d.completed_by, d.truncated])).toEqual([
      [a, 'completed', 'model', true],
      [b, 'completed', 'operator', false],
      [c, 'cancelled', 'none', false],
    ]);
    expect(context.dependencies[0].output!.length).toBeLessThanOrEqual(1_000);
    expect(context.dependencies[1]).toMatchObject({ output: '{"verdict":"by hand"}', resolved_by: 'ada@example.com' });

    // and the model really receives it
    let prompt = '';
    const result = await processTaskById(aggregator.id, deps(async (o) => {
      prompt = JSON.stringify(o.prompt);
      return say('combined');
    }, { dependencyOutputChars: 1_000 }));
    expect(result[0]).toMatchObject({ status: 'completed', outcome: 'completed' });
    expect(prompt).toContain(TRUNCATION_MARKER);
    expect(prompt).toContain('by hand');
    expect(prompt).toContain('\\"completed_by\\": \\"operator\\"');
    expect(prompt).toContain('\\"status\\": \\"cancelled\\"');
  });
});

describe('an aggregator activated early', () => {
  it('is told which dependencies the quorum cancelled, and why', async () => {
    const r = await claimed((await root('Quorum')).id);
    const mk = async (title: string) => ((await db.sql`select * from taskweave.create_parallel_task(${r.id}, ${title}, 'x', '{}'::jsonb, ${'tc_' + title})`)[0].id as string);
    const [a, b, c] = [await mk('fast'), await mk('slow 1'), await mk('slow 2')];
    const [aggRow] = await db.sql`select * from taskweave.create_aggregator_task(${r.id}, ${[a, b, c]}::uuid[], 'Join', 'combine', 'tc_join', null, 1, null)`;
    expect(aggRow.status).toBe('queued');
    await finish(a, 'the fast answer');
    const aggregator = await waitFor('aggregator pending', async () => {
      const t = await store.getTask(aggRow.id as string);
      return t!.status === 'pending' ? t : undefined;
    });
    expect(aggregator.activated_by).toBe('quorum');
    const context = await buildTaskContext(aggregator, store, DEFAULT_SETTINGS);
    expect(context.join).toMatchObject({ activated_by: 'quorum', min_completed: 1 });
    expect(context.dependencies.map((d) => [d.title, d.status])).toEqual([['fast', 'completed'], ['slow 1', 'cancelled'], ['slow 2', 'cancelled']]);
    expect(context.dependencies[1].cancel_reason).toBeTruthy();

    let prompt = '';
    const [result] = await processTaskById(aggregator.id, deps(async (o) => {
      prompt = JSON.stringify(o.prompt);
      return say('combined what there is');
    }));
    expect(result).toMatchObject({ outcome: 'completed' });
    expect(prompt).toContain('started early: 1 of the tasks had completed');
    expect(prompt).toContain(`\\"slow 1\\" (${b}, cancel_reason: `);
    expect(prompt).toContain(`\\"slow 2\\" (${c}, cancel_reason: `);
  });
});

describe('an aggregator activated by its wait deadline', () => {
  it('is told the deadline passed and which dependency was cancelled, even one that was running', async () => {
    const r = await claimed((await root('Deadline')).id);
    const mk = async (title: string) => ((await db.sql`select * from taskweave.create_parallel_task(${r.id}, ${title}, 'x', '{}'::jsonb, ${'tc_' + title})`)[0].id as string);
    const [done, busy] = [await mk('done'), await mk('busy')];
    const [aggRow] = await db.sql`select * from taskweave.create_aggregator_task(${r.id}, ${[done, busy]}::uuid[], 'Join', 'combine', 'tc_join', null, null, 1)`;
    await finish(done, 'in time');
    await claimed(busy, 'slow-worker');
    await waitFor('the join deadline', async () => (await db.sql`select wait_until <= now() as passed from taskweave.tasks where id = ${aggRow.id}`)[0].passed, 5_000, 50);
    await db.sql`select taskweave_private.sweep()`; // as the dispatcher (or pg_cron) does
    const aggregator = (await store.getTask(aggRow.id as string))!;
    expect(aggregator).toMatchObject({ status: 'pending', activated_by: 'deadline' });
    // the worker still running the cancelled dependency can save nothing more
    await expect(store.appendMessage(busy, 'slow-worker', 'assistant', 'late')).rejects.toMatchObject({ code: 'TW001' });

    let prompt = '';
    const [result] = await processTaskById(aggregator.id, deps(async (o) => {
      prompt = JSON.stringify(o.prompt);
      return say('combined the one result');
    }));
    expect(result).toMatchObject({ outcome: 'completed' });
    expect(prompt).toContain('its wait deadline (');
    expect(prompt).toContain(`\\"busy\\" (${busy}, cancel_reason: not needed: aggregator ${aggregator.id} activated by its deadline`);
  });
});

describe('runs against the SQL API', () => {
  it('resumes after a crash between creating a child and saving its result, without a duplicate', async () => {
    const r = await root('Crashy');
    const dead = await store.claimTask(r.id, 'dead-worker', 1);
    await store.appendMessage(dead.id, 'dead-worker', 'system', 'sys');
    await store.appendMessage(dead.id, 'dead-worker', 'user', 'go');
    await store.appendMessage(dead.id, 'dead-worker', 'assistant', [
      { type: 'tool-call', toolCallId: 'c1', toolName: 'create_parallel_task', input: { title: 'one', instructions: 'x' } },
      { type: 'tool-call', toolCallId: 'c2', toolName: 'create_parallel_task', input: { title: 'two', instructions: 'x' } },
    ]);
    await db.sql`select taskweave.create_parallel_task(${r.id}, 'one', 'x', '{}'::jsonb, 'c1', 'dead-worker')`;
    await waitFor('the lease to expire', async () => (await db.sql`select lease_expires_at <= now() as e from taskweave.tasks where id = ${r.id}`)[0].e, 5_000, 50);

    let calls = 0;
    const [result] = await processTaskById(r.id, deps(async () => (calls++, say('resumed and done'))));
    expect(result).toMatchObject({ outcome: 'completed', attempt: 2 });
    expect(calls).toBe(1);
    const children = await db.sql`select tool_call_id from taskweave.tasks where parent_task_id = ${r.id} order by tool_call_id`;
    expect(children.map((c) => c.tool_call_id)).toEqual(['c1', 'c2']);
    const roles = await db.sql`select role from taskweave.task_messages where task_id = ${r.id} order by seq`;
    expect(roles.map((x) => x.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'assistant']);
    // the dead worker, had it woken up, can change nothing
    await expect(store.complete(r.id, 'dead-worker', { late: true })).rejects.toMatchObject({ code: 'TW001' });
    await expect(store.appendMessage(r.id, 'dead-worker', 'assistant', 'late')).rejects.toMatchObject({ code: 'TW001' });
  });

  it('escalates a parallel task with a permanent provider error to review with the provider details', async () => {
    const r = await root();
    const [child] = await db.sql`select * from taskweave.create_parallel_task(${r.id}, 'will fail', 'x')`;
    const [result] = await processTaskById(child.id as string, deps(async () => {
      throw new APICallError({ message: 'Invalid model', url: 'https://api.test/v1/chat', requestBodyValues: {}, statusCode: 404, responseBody: '{"error":"model not found"}', isRetryable: false });
    }));
    expect(result).toMatchObject({ status: 'needs_human_review', outcome: 'needs_human_review', error: { category: 'model' } });
    const [review] = await db.sql`select status, error from taskweave.human_reviews where task_id = ${child.id}`;
    expect(review.status).toBe('open');
    expect(review.error).toMatchObject({ category: 'model', attempt: 1, provider: { name: 'mock', model: 'm', status_code: 404, response_body: '{"error":"model not found"}', is_retryable: false } });
    const [t] = await db.sql`select status, leased_by, lease_expires_at from taskweave.tasks where id = ${child.id}`;
    expect(t).toEqual({ status: 'needs_human_review', leased_by: null, lease_expires_at: null });
  });

  it('schedules a retry for a transient failure, and releases at the budget without using an attempt', async () => {
    const r = await root();
    const [result] = await processTaskById(r.id, deps(async () => {
      throw new APICallError({ message: 'overloaded', url: 'https://api.test', requestBodyValues: {}, statusCode: 529, isRetryable: true });
    }, { modelMaxRetries: 0 }));
    expect(result).toMatchObject({ status: 'pending', outcome: 'retry_scheduled' });
    const [t] = await db.sql`select attempt, run_after > now() as later, last_error from taskweave.tasks where id = ${r.id}`;
    expect(t.attempt).toBe(1);
    expect(t.later).toBe(true);
    expect(t.last_error.category).toBe('model');

    const r2 = await root();
    const slow = deps(async () => {
      await new Promise((res) => setTimeout(res, 300));
      return { ...say(''), content: [{ type: 'tool-call', toolCallId: `c${Math.random()}`, toolName: 'create_parallel_task', input: '{"title":"x","instructions":"y"}' }], finishReason: { unified: 'tool-calls', raw: 'tool_calls' } };
    }, { budgetMs: 1_000, minStepMs: 500 });
    const [released] = await processTaskById(r2.id, slow);
    expect(released).toMatchObject({ outcome: 'released', status: 'pending' });
    const [t2] = await db.sql`select status, attempt, leased_by from taskweave.tasks where id = ${r2.id}`;
    expect(t2).toEqual({ status: 'pending', attempt: 0, leased_by: null });
    const events = await db.sql`select to_status from taskweave.task_events where task_id = ${r2.id} order by id`;
    expect(events.map((e) => e.to_status)).toEqual(['pending', 'running', 'pending']);
  });
});
