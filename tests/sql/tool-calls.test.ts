// The worker's side of tool calls (exactly once, or a person decides) and of pausing a running task for a
// person: start_tool_call, finish_tool_call, request_human, get_tool_call_review.
// Operators' decisions are written here the way resolve_review records them (that function is the
// operator side's and is tested there): the review resolved with its action, the task back to pending.
import { describe, expect, it } from 'vitest';
import { useTestDatabase, type Sql } from '../helpers/database.ts';
import { claim, createRoot, getTask, rejection } from '../helpers/tasks.ts';
import { httpTool, raceBehindLock, upsertTool } from './agent-support.ts';

const db = useTestDatabase();

type ToolCall = { id: number; status: string; arguments: unknown; result: unknown; error: string | null; started_at: Date; ended_at: Date | null; duration_ms: number | null; tool_slug: string | null; tool_name: string };
type Review = { id: string; kind: string; status: string; action: string | null; request: Record<string, unknown>; manual_output: unknown; note: string | null };

const start = async (sql: Sql, taskId: string, worker: string, callId: string, slug: string | null, name: string, args: unknown) =>
  (await sql<ToolCall[]>`select * from taskweave.start_tool_call(${taskId}, ${worker}, ${callId}, ${slug}, ${name}, ${sql.json(args as never)})`)[0];
const finishCall = async (sql: Sql, taskId: string, worker: string, callId: string, result: unknown, error: string | null = null) =>
  (await sql<ToolCall[]>`select * from taskweave.finish_tool_call(${taskId}, ${worker}, ${callId}, ${result === null ? null : sql.json(result as never)}, ${error})`)[0];
const requestHuman = async (sql: Sql, taskId: string, worker: string, kind: string, request: unknown) =>
  (await sql<Review[]>`select * from taskweave.request_human(${taskId}, ${worker}, ${kind}, ${sql.json(request as never)})`)[0];
const reviewOf = async (taskId: string, callId: string) =>
  (await db.sql<Review[]>`select * from taskweave.get_tool_call_review(${taskId}, ${callId})`)[0];
const callRow = async (taskId: string, callId: string) =>
  (await db.sql<ToolCall[]>`select * from taskweave.tool_calls where task_id = ${taskId} and tool_call_id = ${callId}`)[0];

/** What resolve_review does for the new kinds: the review resolved with the action, the task back to pending. */
async function decide(reviewId: string, action: string, manualOutput: unknown = null, note: string | null = null) {
  await db.sql.begin(async (tx) => {
    const [review] = await tx<{ task_id: string }[]>`
      update taskweave.human_reviews set status = 'resolved', action = ${action}, manual_output = ${manualOutput === null ? null : tx.json(manualOutput as never)},
             note = ${note}, resolved_by = 'ada@example.com', resolved_at = clock_timestamp()
       where id = ${reviewId} returning task_id`;
    await tx`update taskweave.tasks set status = 'pending', run_after = now() where id = ${review.task_id}`;
  });
}

async function runningTask(title: string, worker = 'w1') {
  const root = await createRoot(db.sql, title);
  await claim(db.sql, root.id, worker);
  return root.id;
}

describe('start_tool_call and finish_tool_call', () => {
  it('records a call as started, then its result; the same call again returns the row unchanged', async () => {
    await upsertTool(db.sql, 'search', httpTool());
    const task = await runningTask('one call');
    const started = await start(db.sql, task, 'w1', 'call-1', 'search', 'search', { q: 'otters' });
    expect(started).toMatchObject({ status: 'started', tool_slug: 'search', tool_name: 'search', arguments: { q: 'otters' }, result: null, ended_at: null });
    const again = await start(db.sql, task, 'w1', 'call-1', 'search', 'search', { q: 'otters' });
    expect(again).toEqual(started);

    const finished = await finishCall(db.sql, task, 'w1', 'call-1', { hits: 3 });
    expect(finished).toMatchObject({ status: 'succeeded', result: { hits: 3 }, error: null });
    expect(finished.duration_ms).toBeGreaterThanOrEqual(0);
    expect(finished.ended_at).not.toBeNull();
    // a repeated finish with the same outcome changes nothing; another outcome is refused
    expect(await finishCall(db.sql, task, 'w1', 'call-1', { hits: 3 })).toEqual(finished);
    expect((await rejection(finishCall(db.sql, task, 'w1', 'call-1', { hits: 4 }))).code).toBe('55000');
    // on resume, starting it again hands back the saved result
    expect(await start(db.sql, task, 'w1', 'call-1', 'search', 'search', { q: 'otters' })).toEqual(finished);

    const failed = await finishCall(db.sql, task, 'w1', (await start(db.sql, task, 'w1', 'call-2', 'search', 'search', {})) && 'call-2', null, 'HTTP 502');
    expect(failed).toMatchObject({ status: 'failed', error: 'HTTP 502', result: null });
  });

  it('the same id with other arguments or another tool is TW006; MCP tools are named <slug>__<name>', async () => {
    await upsertTool(db.sql, 'search', httpTool());
    await upsertTool(db.sql, 'docs', { kind: 'mcp', config: { url: 'http://127.0.0.1:9/mcp' } });
    const task = await runningTask('reuse');
    await start(db.sql, task, 'w1', 'call-1', 'search', 'search', { q: 'a' });
    expect((await rejection(start(db.sql, task, 'w1', 'call-1', 'search', 'search', { q: 'b' }))).code).toBe('TW006');
    expect((await rejection(start(db.sql, task, 'w1', 'call-1', 'docs', 'docs__find', { q: 'a' }))).code).toBe('TW006');
    expect((await start(db.sql, task, 'w1', 'call-2', 'docs', 'docs__find', {})).tool_name).toBe('docs__find');
    for (const [slug, name] of [['docs', 'docs'], ['docs', 'docs__'], ['search', 'search__x'], ['nope', 'nope']]) {
      const error = await rejection(start(db.sql, task, 'w1', 'call-x', slug, name, {}));
      expect(error.code, `${slug} ${name}`).toBe('22023');
    }
    // a built-in tool has no slug
    expect((await start(db.sql, task, 'w1', 'call-3', null, 'ask_human', { question: '?' })).tool_slug).toBeNull();
  });

  it('refuses bad arguments with 22023 naming them', async () => {
    const task = await runningTask('bad args');
    const cases: [string | null, string, unknown, RegExp][] = [
      ['x'.repeat(201), 'search', {}, /^p_tool_call_id must be 1 to 200 characters/],
      ['', 'search', {}, /^p_tool_call_id must be 1 to 200 characters/],
      ['c', 'has space', {}, /^p_tool_name must be 1 to 200 letters/],
      ['c', 'search', [1, 2], /^p_arguments must be a JSON object \(got array\)/],
    ];
    for (const [id, name, args, message] of cases) {
      const error = await rejection(db.sql`select taskweave.start_tool_call(${task}, 'w1', ${id}, null, ${name}, ${db.sql.json(args as never)})`);
      expect(error.code).toBe('22023');
      expect(error.message).toMatch(message);
    }
    await start(db.sql, task, 'w1', 'c', null, 'search', {});
    const long = await rejection(finishCall(db.sql, task, 'w1', 'c', null, 'e'.repeat(10_001)));
    expect(long).toMatchObject({ code: '22023', message: 'p_error must be at most 10000 characters (got 10001)' });
    expect((await rejection(finishCall(db.sql, task, 'w1', 'never', {}))).code).toBe('P0002');
    expect((await callRow(task, 'c')).status).toBe('started');
  });

  it('only the lease holder records calls (TW001), and a cancelled task records nothing', async () => {
    const task = await runningTask('lease');
    expect((await rejection(start(db.sql, task, 'w2', 'c', null, 'search', {}))).code).toBe('TW001');
    await start(db.sql, task, 'w1', 'c', null, 'search', {});
    await db.sql`select taskweave.cancel_task(${task})`;
    expect((await rejection(finishCall(db.sql, task, 'w1', 'c', { late: true }))).code).toBe('TW001');
    expect((await callRow(task, 'c')).status).toBe('started');
    expect((await rejection(start(db.sql, task, 'w1', 'd', null, 'search', {}))).code).toBe('TW001');
    expect(await callRow(task, 'd')).toBeUndefined();
  });

  it('concurrent starts of one call: one row, every caller gets it; a stale worker racing them gets TW001', async () => {
    const connections = Array.from({ length: 8 }, () => db.client(1));
    for (let round = 0; round < 5; round++) {
      const task = await runningTask(`race ${round}`);
      const outcomes = await Promise.all(
        connections.map((c, i) =>
          start(c, task, i === 7 ? 'stale-worker' : 'w1', 'same-call', null, 'search', { round }).then(
            (row) => ({ ok: true as const, id: row.id }),
            (e: { code: string }) => ({ ok: false as const, code: e.code }),
          ),
        ),
      );
      expect(outcomes[7]).toEqual({ ok: false, code: 'TW001' });
      const ids = new Set(outcomes.slice(0, 7).map((o) => (o.ok ? o.id : o.code)));
      expect(ids.size).toBe(1);
      expect([...ids][0]).toBe((await callRow(task, 'same-call')).id);
      const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tool_calls where task_id = ${task}`;
      expect(n).toBe(1);
    }
  });
});

describe('request_human', () => {
  it('approval: the task waits without a lease; the call waits too; only the approved (edited) arguments start', async () => {
    await upsertTool(db.sql, 'pay', httpTool({ requires_approval: true }));
    const task = await runningTask('pay a bill');
    const before = await getTask(db.sql, task);
    const refused = await rejection(start(db.sql, task, 'w1', 'pay-1', 'pay', 'pay', { amount: 100 }));
    expect(refused.code).toBe('55000');
    expect(refused.message).toMatch(/^tool "pay" requires an operator's approval before each call/);

    const review = await requestHuman(db.sql, task, 'w1', 'approval', {
      tool_call_id: 'pay-1', tool: 'pay', arguments: { amount: 100 }, reason: 'moves money',
      input_schema: { type: 'object', properties: { amount: { type: 'number' } } },
    });
    expect(review).toMatchObject({
      kind: 'approval', status: 'open',
      request: { tool_call_id: 'pay-1', tool: 'pay', arguments: { amount: 100 }, reason: 'moves money', input_schema: { type: 'object' } },
    });
    const waiting = await getTask(db.sql, task);
    expect(waiting).toMatchObject({ status: 'needs_human_review', leased_by: null, lease_expires_at: null, attempt: before.attempt - 1 });
    const [{ running_slot }] = await db.sql`select running_slot from taskweave.tasks where id = ${task}`;
    expect(running_slot).toBeNull();
    expect((await callRow(task, 'pay-1')).status).toBe('awaiting_approval');
    const [event] = await db.sql`select from_status, to_status, actor from taskweave.task_events where task_id = ${task} order by id desc limit 1`;
    expect(event).toEqual({ from_status: 'running', to_status: 'needs_human_review', actor: 'w1' });

    await decide(review.id, 'approve', { arguments: { amount: 90 } });
    await claim(db.sql, task, 'w2');
    expect(await reviewOf(task, 'pay-1')).toMatchObject({ id: review.id, action: 'approve', manual_output: { arguments: { amount: 90 } } });
    expect((await rejection(start(db.sql, task, 'w2', 'pay-1', 'pay', 'pay', { amount: 100 }))).code).toBe('TW006');
    const started = await start(db.sql, task, 'w2', 'pay-1', 'pay', 'pay', { amount: 90 });
    expect(started).toMatchObject({ status: 'started', arguments: { amount: 90 } });
    expect((await finishCall(db.sql, task, 'w2', 'pay-1', { paid: 90 })).status).toBe('succeeded');
  });

  it('approval rejected: the call ends as rejected with the operator note, never started', async () => {
    await upsertTool(db.sql, 'wipe', httpTool({ requires_approval: true }));
    const task = await runningTask('wipe');
    const review = await requestHuman(db.sql, task, 'w1', 'approval', { tool_call_id: 'wipe-1', tool: 'wipe', arguments: { all: true } });
    expect(review.request.reason).toBe('tool "wipe" requires approval');
    await decide(review.id, 'reject', null, 'never wipe production');
    await claim(db.sql, task, 'w1');
    expect((await rejection(start(db.sql, task, 'w1', 'wipe-1', 'wipe', 'wipe', { all: true }))).code).toBe('55000');
    expect((await rejection(finishCall(db.sql, task, 'w1', 'wipe-1', { done: true }))).code).toBe('55000');
    const rejected = await finishCall(db.sql, task, 'w1', 'wipe-1', null);
    expect(rejected).toMatchObject({ status: 'rejected', error: 'never wipe production', result: null });
    // asking again about a decided call is refused
    expect((await rejection(requestHuman(db.sql, task, 'w1', 'approval', { tool_call_id: 'wipe-1', tool: 'wipe', arguments: { all: true } }))).code).toBe('55000');
  });

  it('approved but unable to start (edited arguments that do not fit): the call ends failed with the reason, never started', async () => {
    await upsertTool(db.sql, 'send', httpTool({ requires_approval: true }));
    const task = await runningTask('send');
    const review = await requestHuman(db.sql, task, 'w1', 'approval', { tool_call_id: 'send-1', tool: 'send', arguments: { to: 'a' } });
    // an ended call needs an outcome: before the decision, and with a result, it is refused
    expect((await rejection(finishCall(db.sql, task, 'w1', 'send-1', null, 'x'))).code).toBe('TW001');
    await decide(review.id, 'approve', { arguments: { too: 'many' } });
    await claim(db.sql, task, 'w1');
    expect((await rejection(finishCall(db.sql, task, 'w1', 'send-1', { sent: true }))).code).toBe('55000');
    expect((await rejection(finishCall(db.sql, task, 'w1', 'send-1', null))).code).toBe('55000');
    const failed = await finishCall(db.sql, task, 'w1', 'send-1', null, 'not called: the edited arguments do not fit');
    expect(failed).toMatchObject({ status: 'failed', error: 'not called: the edited arguments do not fit', result: null, duration_ms: 0 });
    expect(failed.ended_at).not.toBeNull();
    // read back as it is; it never starts afterwards
    expect(await finishCall(db.sql, task, 'w1', 'send-1', null, 'not called: the edited arguments do not fit')).toMatchObject({ id: failed.id, status: 'failed' });
    expect(await start(db.sql, task, 'w1', 'send-1', 'send', 'send', { to: 'a' })).toMatchObject({ id: failed.id, status: 'failed' });
  });

  it('question: ask_human waits for an answer the loop reads back by tool call id', async () => {
    const task = await runningTask('ask');
    const review = await requestHuman(db.sql, task, 'w1', 'question', { tool_call_id: 'ask-1', question: 'Which region?', options: ['eu', 'us'] });
    expect(review).toMatchObject({ kind: 'question', request: { tool_call_id: 'ask-1', question: 'Which region?', options: ['eu', 'us'] } });
    const plain = await requestHuman(db.sql, (await runningTask('ask plain')), 'w1', 'question', { tool_call_id: 'ask-2', question: 'Why?' });
    expect(plain.request.options).toEqual([]);
    await decide(review.id, 'answer', { answer: 'eu' });
    await claim(db.sql, task, 'w1');
    expect(await reviewOf(task, 'ask-1')).toMatchObject({ kind: 'question', action: 'answer', manual_output: { answer: 'eu' } });
    expect(await reviewOf(task, 'no-such-call')).toBeUndefined();
    expect((await rejection(requestHuman(db.sql, task, 'w1', 'question', { tool_call_id: 'ask-1', question: 'Which region?' }))).code).toBe('55000');
  });

  it('interrupted_call: the request is what was recorded; retry is spent by the start it allows; manual is finished with the typed result', async () => {
    await upsertTool(db.sql, 'mail', httpTool());
    const task = await runningTask('mail');
    const started = await start(db.sql, task, 'w1', 'mail-1', 'mail', 'mail', { to: 'x@example.com' });
    // the worker died here; the next one finds a started call of a tool that is not idempotent
    await db.sql`update taskweave.tasks set lease_expires_at = now() - interval '1 second' where id = ${task}`;
    await claim(db.sql, task, 'w2');
    expect((await rejection(requestHuman(db.sql, task, 'w2', 'interrupted_call', { tool_call_id: 'never-started' }))).code).toBe('55000');
    const review = await requestHuman(db.sql, task, 'w2', 'interrupted_call', { tool_call_id: 'mail-1', tool: 'lies', arguments: {} });
    const [{ recorded }] = await db.sql`select to_jsonb(started_at) #>> '{}' as recorded from taskweave.tool_calls where id = ${started.id}`;
    expect(review.request).toEqual({ tool_call_id: 'mail-1', tool: 'mail', arguments: { to: 'x@example.com' }, started_at: recorded });

    await decide(review.id, 'retry');
    await claim(db.sql, task, 'w3');
    expect(await reviewOf(task, 'mail-1')).toMatchObject({ kind: 'interrupted_call', action: 'retry' });
    const rerun = await start(db.sql, task, 'w3', 'mail-1', 'mail', 'mail', { to: 'x@example.com' });
    expect(rerun.started_at.getTime()).toBeGreaterThan(started.started_at.getTime());
    // the retry is used: the call dying again needs a new decision
    expect(await reviewOf(task, 'mail-1')).toBeUndefined();
    expect((await start(db.sql, task, 'w3', 'mail-1', 'mail', 'mail', { to: 'x@example.com' })).started_at).toEqual(rerun.started_at);

    const second = await requestHuman(db.sql, task, 'w3', 'interrupted_call', { tool_call_id: 'mail-1' });
    await decide(second.id, 'manual', { delivered: true });
    await claim(db.sql, task, 'w4');
    const decision = await reviewOf(task, 'mail-1');
    expect(decision).toMatchObject({ id: second.id, action: 'manual', manual_output: { delivered: true } });
    expect((await finishCall(db.sql, task, 'w4', 'mail-1', decision.manual_output)).status).toBe('succeeded');
  });

  it('racing cancel_task: a pause asked during a cancel gets TW001; a cancel during a pause cancels the task and aborts its review', async () => {
    const [a, b, observer] = [db.client(1), db.client(1), db.client(1)];
    const cancelledFirst = await runningTask('cancelled first');
    const lateAsk = await raceBehindLock(
      a, b,
      (tx) => tx`select taskweave.cancel_task(${cancelledFirst}, 'stop')`,
      (sql) => requestHuman(sql, cancelledFirst, 'w1', 'question', { tool_call_id: 'q', question: 'still there?' }),
      observer,
    );
    expect(lateAsk).toMatchObject({ ok: false, code: 'TW001' });
    expect((await getTask(db.sql, cancelledFirst)).status).toBe('cancelled');
    expect(await db.sql`select 1 from taskweave.human_reviews where task_id = ${cancelledFirst}`).toHaveLength(0);

    const askedFirst = await runningTask('asked first');
    const lateCancel = await raceBehindLock(
      a, b,
      (tx) => requestHuman(tx as unknown as Sql, askedFirst, 'w1', 'question', { tool_call_id: 'q', question: 'go on?' }),
      (sql) => sql`select taskweave.cancel_task(${askedFirst}, 'no longer needed')`,
      observer,
    );
    expect(lateCancel.ok).toBe(true);
    expect((await getTask(db.sql, askedFirst)).status).toBe('cancelled');
    const [review] = await db.sql<Review[]>`select * from taskweave.human_reviews where task_id = ${askedFirst}`;
    expect(review).toMatchObject({ kind: 'question', status: 'resolved', action: 'abort', note: 'no longer needed' });
  });

  it('refuses bad requests with 22023 naming the field, and a worker without the lease with TW001; nothing changes', async () => {
    await upsertTool(db.sql, 'search', httpTool());
    const task = await runningTask('bad requests');
    const cases: [string, unknown, RegExp][] = [
      ['failure', { tool_call_id: 'c' }, /^p_kind must be approval, question or interrupted_call/],
      ['question', [], /^p_request must be a JSON object/],
      ['question', { question: 'why?' }, /^p_request\.tool_call_id must be 1 to 200 characters/],
      ['question', { tool_call_id: 'c', question: '  ' }, /^p_request\.question must be a non-empty string/],
      ['question', { tool_call_id: 'c', question: 'why?', options: 'a' }, /^p_request\.options must be an array of strings/],
      ['question', { tool_call_id: 'c', question: 'why?', extra: 1 }, /^p_request has an unknown key "extra"/],
      ['approval', { tool_call_id: 'c', arguments: {} }, /^p_request\.tool is required/],
      ['approval', { tool_call_id: 'c', tool: 'search', arguments: 'x' }, /^p_request\.arguments must be a JSON object/],
      ['approval', { tool_call_id: 'c', tool: 'nope', arguments: {} }, /^p_request\.tool "nope" is not a registered tool's name/],
      ['interrupted_call', { tool_call_id: 'c', why: 1 }, /^p_request has an unknown key "why"/],
    ];
    for (const [kind, request, message] of cases) {
      const error = await rejection(requestHuman(db.sql, task, 'w1', kind, request));
      expect(error.code, JSON.stringify(request)).toBe('22023');
      expect(error.message).toMatch(message);
    }
    expect((await rejection(requestHuman(db.sql, task, 'w9', 'question', { tool_call_id: 'c', question: 'why?' }))).code).toBe('TW001');
    expect(await getTask(db.sql, task)).toMatchObject({ status: 'running', leased_by: 'w1' });
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.human_reviews where task_id = ${task}`;
    expect(n).toBe(0);
  });
});
