// Reviews of every kind over MCP, as an outside agent meets them: the real mcp function under Deno, the
// official SDK client, a real database. list_reviews with its kinds and filters, resolve_review for each
// kind's actions, resolve_reviews in bulk, and get_task's run state and cost.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolOutput } from '../../supabase/functions/mcp/schemas.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { claim, complete, createFanOut, createParallel, getTask } from '../helpers/tasks.ts';
import { waitForPerson } from '../sql/support/waiting-reviews.ts';
import { countRows, sdkClient, startFunctions, textOf, type Functions } from './support.ts';

const db = useTestDatabase({ settings: { max_children_per_task: 500 } });
let fn: Functions;
let client: Client;

beforeAll(async () => {
  fn = await startFunctions(db.url);
  client = await sdkClient(fn.mcpUrl, fn.secret);
});

afterAll(async () => {
  await client?.close();
  await fn?.stop();
});

async function call<K extends 'listReviews' | 'resolveReview' | 'resolveReviews' | 'getTask' | 'cancelTask'>(_key: K, name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError, `${name}: ${textOf(result)}`).toBeFalsy();
  return { out: result.structuredContent as ToolOutput<K>, text: textOf(result) };
}

async function refusal(name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError, `${name} should have been refused: ${textOf(result)}`).toBe(true);
  return textOf(result);
}

/** A run of four parallel tasks, one waiting for a person of each kind. */
async function runOfEveryKind() {
  const { root, children, aggregator } = await createFanOut(db.sql, 4, 'every kind');
  await claim(db.sql, root.id, 'w-root');
  await complete(db.sql, root.id, 'w-root', { planned: true });
  const [failure, approval, question, interrupted] = children;
  await db.sql`update taskweave.tasks set agent = 'mailer' where id = ${approval.id}`;
  const ids = {
    failure: await waitForPerson(db.sql, failure.id, 'failure', {}, { error: { category: 'model', message: 'Provider said 503' } }),
    approval: await waitForPerson(db.sql, approval.id, 'approval', { tool_call_id: 'call-1', tool: 'send_email', arguments: { to: 'a@example.com' }, reason: 'to tell them' }),
    question: await waitForPerson(db.sql, question.id, 'question', { tool_call_id: 'ask-1', question: 'Which region?', options: ['eu', 'us'] }),
    interrupted: await waitForPerson(db.sql, interrupted.id, 'interrupted_call', { tool_call_id: 'call-2', tool: 'charge_card', arguments: { amount: 3 }, started_at: '2026-12-06T09:00:00Z' }),
  };
  return { root, aggregator, tasks: { failure, approval, question, interrupted }, ids };
}

describe('list_reviews', () => {
  it('shows each kind with what the person is asked and the actions that fit, filtered as asked', async () => {
    const run = await runOfEveryKind();
    const { out } = await call('listReviews', 'list_reviews', { root_task_id: run.root.id });
    expect(out.total).toBe(4);
    const byKind = Object.fromEntries(out.reviews.map((r) => [r.kind, r]));
    expect(byKind.failure).toMatchObject({ review_id: run.ids.failure, error: { category: 'model', message: 'Provider said 503' }, request: {}, actions: ['retry', 'abort', 'manual'] });
    expect(byKind.approval).toMatchObject({
      review_id: run.ids.approval,
      error: null,
      request: { tool_call_id: 'call-1', tool: 'send_email', arguments: { to: 'a@example.com' }, reason: 'to tell them' },
      actions: ['approve', 'reject', 'abort'],
      task: { id: run.tasks.approval.id, agent: 'mailer', status: 'needs_human_review', root_task_id: run.root.id },
      aggregators: [{ id: run.aggregator.id, status: 'queued', total: 4, ended: 0 }],
    });
    expect(byKind.question).toMatchObject({ request: { question: 'Which region?', options: ['eu', 'us'] }, actions: ['answer', 'abort'] });
    expect(byKind.interrupted_call).toMatchObject({ request: { tool: 'charge_card', started_at: '2026-12-06T09:00:00Z' }, actions: ['retry', 'manual', 'abort'] });

    const ids = async (filter: Record<string, unknown>) =>
      (await call('listReviews', 'list_reviews', { root_task_id: run.root.id, ...filter })).out.reviews.map((r) => r.review_id).sort();
    expect(await ids({ kind: 'question' })).toEqual([run.ids.question]);
    expect(await ids({ kind: ['approval', 'interrupted_call'] })).toEqual([run.ids.approval, run.ids.interrupted].sort());
    expect(await ids({ tool: 'charge_card' })).toEqual([run.ids.interrupted]);
    expect(await ids({ agent: 'mailer' })).toEqual([run.ids.approval]);
    expect(await ids({ category: 'model' })).toEqual([run.ids.failure]);
    expect(await ids({ text: 'REGION' })).toEqual([run.ids.question]);
    expect(await ids({ older_than_seconds: 86_400 })).toEqual([]);

    const first = await call('listReviews', 'list_reviews', { root_task_id: run.root.id, limit: 3 });
    expect(first.out.next_cursor).not.toBeNull();
    const rest = await call('listReviews', 'list_reviews', { root_task_id: run.root.id, limit: 3, cursor: first.out.next_cursor });
    expect([...first.out.reviews, ...rest.out.reviews].map((r) => r.review_id).sort()).toEqual(Object.values(run.ids).sort());
    expect(rest.out.next_cursor).toBeNull();
  });
});

describe('resolve_review, by kind', () => {
  it('edited arguments must fit the tool\'s input schema, checked for MCP as for the web app; nothing resolves until they do', async () => {
    const { root, children } = await createFanOut(db.sql, 1, 'schema check');
    await claim(db.sql, root.id, 'w-root');
    await complete(db.sql, root.id, 'w-root', { planned: true });
    const schema = { type: 'object', properties: { to: { type: 'string' } }, required: ['to'], additionalProperties: false };
    const reviewId = await waitForPerson(db.sql, children[0].id, 'approval', {
      tool_call_id: 'call-s', tool: 'send_email', arguments: { to: 'a@example.com' }, reason: 'to tell them', input_schema: schema,
    });
    const refused = await refusal('resolve_review', { review_id: reviewId, action: 'approve', arguments: { to: 42, cc: 'x' } });
    expect(refused).toMatch(/do not fit the tool's input schema/);
    const [still] = await db.sql`select status from taskweave.human_reviews where id = ${reviewId}`;
    expect(still.status).toBe('open');
    const approved = await call('resolveReview', 'resolve_review', { review_id: reviewId, action: 'approve', arguments: { to: 'b@example.com' } });
    expect(approved.out).toMatchObject({ action: 'approve', task: { status: 'pending' } });
  });

  it('approve with edited arguments, reject with a reason, answer, an interrupted call\'s result: each task resumes, each decision recorded', async () => {
    const run = await runOfEveryKind();
    const before = await getTask(db.sql, run.tasks.approval.id);
    expect(before.status).toBe('needs_human_review');

    const approved = await call('resolveReview', 'resolve_review', { review_id: run.ids.approval, action: 'approve', arguments: { to: 'b@example.com' } });
    expect(approved.out).toMatchObject({ review_id: run.ids.approval, kind: 'approval', action: 'approve', task: { id: run.tasks.approval.id, status: 'pending' } });
    expect(approved.out.message).toMatch(/^Approved the call of/);
    const answered = await call('resolveReview', 'resolve_review', { review_id: run.ids.question, action: 'answer', answer: 'eu' });
    expect(answered.out).toMatchObject({ kind: 'question', action: 'answer', task: { status: 'pending' } });
    const given = await call('resolveReview', 'resolve_review', { review_id: run.ids.interrupted, action: 'manual', manual_output: '{"charged": true}', manual_format: 'json' });
    expect(given.out).toMatchObject({ kind: 'interrupted_call', action: 'manual', task: { status: 'pending' } });

    const rows = await db.sql`select id, action, manual_output, note, resolved_by from taskweave.human_reviews where id in (${run.ids.approval}, ${run.ids.question}, ${run.ids.interrupted}) order by kind`;
    expect(rows).toEqual([
      { id: run.ids.approval, action: 'approve', manual_output: { arguments: { to: 'b@example.com' } }, note: null, resolved_by: 'postgres' },
      { id: run.ids.interrupted, action: 'manual', manual_output: { charged: true }, note: null, resolved_by: 'postgres' },
      { id: run.ids.question, action: 'answer', manual_output: { answer: 'eu' }, note: null, resolved_by: 'postgres' },
    ]);

    // the wrong action for the kind is the database's own 22023, naming it; nothing changes
    const before2 = await countRows(db.sql);
    expect(await refusal('resolve_review', { review_id: run.ids.failure, action: 'approve' })).toMatch(/p_action must be retry, abort or manual \(got approve\).*SQLSTATE 22023/);
    expect(await refusal('resolve_review', { review_id: run.ids.failure, action: 'answer', answer: 'x' })).toMatch(/got answer/);
    expect(await countRows(db.sql)).toEqual(before2);

    // a decision already taken: told who took it
    expect(await refusal('resolve_review', { review_id: run.ids.approval, action: 'reject', note: 'too late' })).toMatch(/already resolved by postgres .*\(approved\)/);
  });

  it('reject gives the model a reason; abort cancels the task and what it started', async () => {
    const { root, children } = await createFanOut(db.sql, 2, 'reject and abort');
    const rejectId = await waitForPerson(db.sql, children[0].id, 'approval', { tool_call_id: 'c', tool: 'delete_repo', arguments: {} });
    await claim(db.sql, children[1].id, 'w');
    const started = await createParallel(db.sql, children[1].id, 'started by it');
    const abortId = await waitForPerson(db.sql, children[1].id, 'question', { tool_call_id: 'q', question: 'go on?' }, { alreadyRunning: true });
    const rejected = await call('resolveReview', 'resolve_review', { review_id: rejectId, action: 'reject', note: 'never delete a repository' });
    expect(rejected.out).toMatchObject({ kind: 'approval', action: 'reject', task: { status: 'pending' } });
    const [row] = await db.sql`select note from taskweave.human_reviews where id = ${rejectId}`;
    expect(row.note).toBe('never delete a repository');
    const aborted = await call('resolveReview', 'resolve_review', { review_id: abortId, action: 'abort' });
    expect(aborted.out).toMatchObject({ kind: 'question', action: 'abort', task: { status: 'cancelled' } });
    expect((await getTask(db.sql, started.id)).status).toBe('cancelled');
    expect((await getTask(db.sql, root.id)).status).toBe('pending');
  });
});

describe('resolve_reviews', () => {
  it('approves every approval of a run at once, skipping the kinds approve does not fit', async () => {
    const { root, children } = await createFanOut(db.sql, 12, 'bulk');
    for (const [i, c] of children.entries()) {
      if (i < 10) await waitForPerson(db.sql, c.id, 'approval', { tool_call_id: `c${i}`, tool: 'send_email', arguments: { i } });
      else await waitForPerson(db.sql, c.id, 'failure');
    }
    const { out } = await call('resolveReviews', 'resolve_reviews', { root_task_id: root.id, action: 'approve' });
    expect(out).toMatchObject({ resolved: 10, skipped: 0, message: '10 reviews approved.' });
    const left = await call('listReviews', 'list_reviews', { root_task_id: root.id });
    expect(left.out.reviews.map((r) => r.kind)).toEqual(['failure', 'failure']);
    const retried = await call('resolveReviews', 'resolve_reviews', { root_task_id: root.id, kind: 'failure', action: 'retry', note: 'provider is back' });
    expect(retried.out).toMatchObject({ resolved: 2, skipped: 0 });
    const none = await call('resolveReviews', 'resolve_reviews', { root_task_id: root.id, action: 'abort' });
    expect(none.out).toMatchObject({ resolved: 0, skipped: 0 });
    expect(none.out.message).toMatch(/^Nothing matched/);
  });
});

describe('get_task and cancel_task', () => {
  it('shows the run waiting for a person (open reviews of each kind), its cost, and a cancel\'s own count', async () => {
    const run = await runOfEveryKind();
    // cost is the loop's to record (model prices); set here as the loop would leave it
    await db.sql`update taskweave.tasks set usage = usage || '{"cost_usd": 0.0123}'::jsonb where id = ${run.tasks.failure.id}`;
    await db.sql`update taskweave.runs set cost_usd = 0.0456, max_cost_usd = 2 where root_task_id = ${run.root.id}`;
    const { out } = await call('getTask', 'get_task', { task_id: run.root.id });
    expect(out.status).toBe('completed');
    expect(out.state).toBe('needs_operator');
    expect(out.answer).toBeNull();
    expect(out.open_reviews.map((r) => r.kind).sort()).toEqual(['approval', 'failure', 'interrupted_call', 'question']);
    expect(out.open_reviews.find((r) => r.kind === 'question')?.request).toMatchObject({ question: 'Which region?' });
    expect(out.run).toMatchObject({ usage: { cost_usd: 0.0456 }, limits: { max_cost_usd: 2 } });
    expect(out.children.find((c) => c.id === run.tasks.failure.id)?.usage.cost_usd).toBe(0.0123);
    expect(out.children.every((c) => c.kind === 'parallel' || c.kind === 'aggregator')).toBe(true);

    const cancelled = await call('cancelTask', 'cancel_task', { task_id: run.root.id, note: 'enough' });
    // the four waiting children and the aggregator; the root had already completed
    expect(cancelled.out).toMatchObject({ status: 'completed', stopped: 5 });
    const after = await call('getTask', 'get_task', { task_id: run.root.id });
    expect(after.out).toMatchObject({ state: 'cancelled', open_reviews: [] });
  });
});
