// The core against the real SQL API (Postgres from the migrations): tools, result injection, resuming
// after a crash, stale workers, escalation to review and the wall-clock release.
import { APICallError } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import type { LanguageModelV3CallOptions, LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import postgres from 'postgres';
import { beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, operator, useTestDatabase } from '../helpers/database.ts';
import { postgresTaskStore } from '../../supabase/functions/process-task/store-postgres.ts';
import { executeToolCall } from '../../supabase/functions/process-task/tools.ts';
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
    const first = await executeToolCall(r, call, store, DEFAULT_SETTINGS);
    const again = await executeToolCall(r, call, store, DEFAULT_SETTINGS);
    expect(first.type).toBe('json');
    expect(again).toEqual(first);
    const children = await db.sql`select title, input, is_parallel_task, depth, root_task_id, tool_call_id from taskweave.tasks where parent_task_id = ${r.id}`;
    expect(children).toEqual([{ title: 'Child', input: { k: 1 }, is_parallel_task: true, depth: 1, root_task_id: r.id, tool_call_id: 'call_same' }]);
  });

  it('turns the SQL API rejections into tool errors the model can act on', async () => {
    const r = await claimed((await root()).id);
    const other = await root('Other root');
    const [foreign] = await db.sql`select * from taskweave.create_parallel_task(${other.id}, 'foreign', 'x')`;
    const agg = (ids: string[], id: string) => executeToolCall(r, { toolCallId: id, toolName: 'create_aggregator_task', input: { title: 'J', instructions: 'j', dependent_task_ids: ids } }, store, DEFAULT_SETTINGS);
    const unknown = await agg(['3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11'], 'a1');
    expect(unknown).toEqual({ type: 'error-text', value: expect.stringMatching(/create_aggregator_task was rejected: dependency 3f1c1f52-\S+ does not exist/) });
    const cross = await agg([foreign.id as string], 'a2');
    expect(cross.value).toMatch(/belongs to root task/);
    const notParallel = await agg([other.id], 'a3');
    expect(notParallel.value).toMatch(/is not a parallel task/);
    const [{ count }] = await db.sql`select count(*)::int as count from taskweave.tasks where parent_task_id = ${r.id}`;
    expect(count).toBe(0);
  });

  it('reports the SQL depth limit as a tool error', async () => {
    const sql = db.client(1);
    await sql`select set_config('taskweave.max_depth', '0', false)`;
    const local = postgresTaskStore(sql as unknown as postgres.Sql<Record<string, unknown>>);
    const r = await local.claimTask((await root()).id, 'w', 300);
    const out = await executeToolCall(r, { toolCallId: 'deep', toolName: 'create_parallel_task', input: { title: 'x', instructions: 'y' } }, local, { maxChildrenPerTask: 20, maxDepth: 10 });
    expect(out).toEqual({ type: 'error-text', value: expect.stringMatching(/create_parallel_task was rejected: nesting too deep/) });
  });
});

describe('result injection against the SQL API', () => {
  it('gives the aggregator every dependency: model output (capped), operator output marked human, cancelled', async () => {
    const r = await claimed((await root('Fan out')).id);
    const mk = async (title: string) => ((await db.sql`select * from taskweave.create_parallel_task(${r.id}, ${title}, 'x', '{}'::jsonb, ${'tc_' + title})`)[0].id as string);
    const [a, b, c] = [await mk('long'), await mk('manual'), await mk('aborted')];
    const [aggRow] = await db.sql`select * from taskweave.create_aggregator_task(${r.id}, ${db.sql.array([a, b, c])}::uuid[], 'Join', 'combine', 'tc_join')`;
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
    await store.createParallelTask({ parentTaskId: r.id, title: 'one', instructions: 'x', input: {}, toolCallId: 'c1' });
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
