// /agents and the task page's agent, tool calls and cost, read through the web app's data access
// against a real, migrated database, as an operator and as a signed-in user who is not one.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { operator, plainUser, useTestDatabase } from '../helpers/database.ts';
import type { Claims } from '../../src/lib/db/identity.ts';
import { useAppPool } from './fixtures/app-pool.ts';
import { seedAgentsAndTools, seedToolCall, setTaskAgent } from './fixtures/agents.ts';
import { seedFanOut, type SeededFanOut } from './fixtures/seed.ts';

vi.mock('server-only', () => ({}));
const { getAgentsAndTools, CALL_TEXT_PREVIEW_CHARS } = await import('../../src/features/agents/queries.ts');
const { getTaskDetail } = await import('../../src/features/tasks/queries.ts');
const { dataApiTypes } = await import('../../src/lib/server/db.ts');
const { taskUsage } = await import('../../src/lib/db/types.ts');
const { formatUsd } = await import('../../src/lib/format.ts');

const db = useTestDatabase();
const app = useAppPool(db, dataApiTypes);
const ada = operator().claims as Claims;
const bob = plainUser().claims as Claims;

describe('agents and tools', () => {
  let fanOut: SeededFanOut;
  beforeAll(async () => {
    await seedAgentsAndTools(db.sql);
    fanOut = await seedFanOut(db.sql, { title: 'Agents fan-out', children: 2, complete: [], fail: [] });
    await setTaskAgent(db.sql, fanOut.childIds[0], 'researcher');
    await seedToolCall(db.sql, { taskId: fanOut.childIds[0], toolCallId: 'call-1', tool: 'web-search', arguments: { query: 'vendor 1 pricing' }, status: 'succeeded', result: { hits: ['a', 'b'] }, durationMs: 412, startedSecondsAgo: 60 });
    await seedToolCall(db.sql, { taskId: fanOut.childIds[0], toolCallId: 'call-2', tool: 'web-search', arguments: { query: 'vendor 1 limits' }, status: 'failed', error: 'HTTP 503 from search.example.com', durationMs: 20_000, startedSecondsAgo: 30 });
    await seedToolCall(db.sql, { taskId: fanOut.childIds[0], toolCallId: 'call-3', tool: 'pricing-db', arguments: { vendor: 1 }, status: 'succeeded', result: 'x'.repeat(5_000), durationMs: 3, startedSecondsAgo: 10 });
    // a call from two days ago counts in the recent list, not in the last 24 hours
    await seedToolCall(db.sql, { taskId: fanOut.childIds[1], toolCallId: 'call-old', tool: 'web-search', status: 'failed', error: 'timeout', durationMs: 20_000, startedSecondsAgo: 2 * 86_400 });
  });

  it('lists the agents with their model and tools, in the definition order', async () => {
    const { agents } = await getAgentsAndTools(app(), ada);
    expect(agents.map((a) => a.slug)).toEqual(['mailer', 'researcher']);
    const researcher = agents.find((a) => a.slug === 'researcher')!;
    expect(researcher).toMatchObject({ name: 'Researcher', model: 'openai:gpt-4.1-mini', tools: ['web-search', 'pricing-db'], unfinished_tasks: 1, max_output_tokens: 4000 });
    expect(agents.find((a) => a.slug === 'mailer')).toMatchObject({ model: null, tools: ['send-email'], unfinished_tasks: 0 });
  });

  it('lists each tool with its flags, recent calls newest first and the errors of the last 24 hours', async () => {
    const { tools } = await getAgentsAndTools(app(), ada);
    const search = tools.find((t) => t.slug === 'web-search')!;
    expect(search).toMatchObject({ kind: 'http', idempotent: true, requires_approval: false, target: 'https://search.example.com/v1/search', secrets: ['SEARCH_KEY'], agents: ['researcher'], calls_24h: 2, failed_24h: 1 });
    expect(search.recent_calls.map((c) => c.tool_call_id)).toEqual(['call-2', 'call-1', 'call-old']);
    expect(search.recent_calls[0]).toMatchObject({ status: 'failed', error: 'HTTP 503 from search.example.com', duration_ms: 20_000, task_title: 'Research vendor 1', result_text: null });
    // the page never receives a tool's headers (a credential may be written there)
    expect(JSON.stringify(tools)).not.toContain('{{SEARCH_KEY}}');
    expect(tools.find((t) => t.slug === 'send-email')).toMatchObject({ requires_approval: true, idempotent: false, calls_24h: 0, recent_calls: [] });
  });

  it('shows the task page the task’s agent and its tool calls, with long results cut to a preview', async () => {
    const detail = (await getTaskDetail(app(), ada, fanOut.childIds[0]))!;
    expect(detail.task.agent).toBe('researcher');
    expect(detail.toolCalls.map((c) => [c.tool_call_id, c.status, c.duration_ms])).toEqual([
      ['call-1', 'succeeded', 412],
      ['call-2', 'failed', 20_000],
      ['call-3', 'succeeded', 3],
    ]);
    expect(JSON.parse(detail.toolCalls[0].arguments_text)).toEqual({ query: 'vendor 1 pricing' });
    expect(JSON.parse(detail.toolCalls[0].result_text!)).toEqual({ hits: ['a', 'b'] });
    const long = detail.toolCalls[2];
    expect(long.result_text).toHaveLength(CALL_TEXT_PREVIEW_CHARS);
    expect(long.result_chars).toBe(5_000);
    expect((await getTaskDetail(app(), ada, fanOut.childIds[1]))!.toolCalls.map((c) => c.tool_call_id)).toEqual(['call-old']);
  });

  it('shows nothing to a signed-in user who is not an operator', async () => {
    const { agents, tools } = await getAgentsAndTools(app(), bob);
    expect(agents).toEqual([]);
    expect(tools).toEqual([]);
  });
});

describe('cost in dollars', () => {
  it('reads a task’s cost_usd from its usage and a run’s cost and limit from the run', async () => {
    const fanOut = await seedFanOut(db.sql, { title: 'Costly run', children: 1, complete: [], fail: [] });
    await db.sql`update taskweave.runs set cost_usd = 0.0421, max_cost_usd = 2 where root_task_id = ${fanOut.rootId}`;
    await db.sql`update taskweave.tasks set usage = ${db.sql.json({ input_tokens: 1200, output_tokens: 300, model_steps: 2, cost_usd: 0.0042134 })} where id = ${fanOut.childIds[0]}`;
    const detail = (await getTaskDetail(app(), ada, fanOut.childIds[0]))!;
    expect(taskUsage(detail.task.usage)).toEqual({ input_tokens: 1200, output_tokens: 300, model_steps: 2, cost_usd: 0.0042134 });
    expect(Number(detail.run!.cost_usd)).toBeCloseTo(0.0421);
    expect(Number(detail.run!.max_cost_usd)).toBe(2);
    // a task whose steps had no price has no cost, which is not the same as $0
    expect(taskUsage({ input_tokens: 5, output_tokens: 1, model_steps: 1 }).cost_usd).toBeNull();
    expect([formatUsd(0.0042134), formatUsd(0.5), formatUsd(2), formatUsd('1234.5'), formatUsd(0)]).toEqual(['$0.004213', '$0.50', '$2.00', '$1,234.50', '$0.00']);
  });
});
