// A person in the middle of a run, through the real function under Deno with a model server: a tool that
// requires approval pauses the task before the call (approve, edit and approve, reject with a reason),
// and ask_human pauses it with a question. Each decision resumes the task exactly once, no model step is
// repeated, and the model's next request carries the result, the reason or the answer as the tool result.
// The decisions are made with resolve_review as an operator makes them (docs/contracts.md §2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, operator, useTestDatabase } from '../helpers/database.ts';
import { startHttpTestServer, type HttpTestServer } from '../helpers/http-test-server.ts';
import { startFakeOpenAI, taskOf, toolResultsOf, type FakeOpenAI } from './fake-openai-server.ts';
import { post, startFunction } from './support.ts';

const db = useTestDatabase();
let fake: FakeOpenAI;
let mail: HttpTestServer;
let fn: Awaited<ReturnType<typeof startFunction>>;

const REASON = 'The launch is tomorrow, so I will tell the team by email.';
const EMAIL = { to: 'team@example.com', subject: 'Launch tomorrow' };

beforeAll(async () => {
  fake = await startFakeOpenAI((req) => {
    const task = taskOf(req);
    if (!req.messages.some((m) => m.role === 'assistant')) {
      if (task.input.ask) return { content: 'I need a decision.', tool_calls: [{ id: 'ask_1', name: 'ask_human', arguments: task.input.ask }] };
      return { content: REASON, tool_calls: [{ id: 'mail_1', name: 'send_email', arguments: EMAIL }] };
    }
    return { content: `finished: ${JSON.stringify(toolResultsOf(req).map((r) => r.value))}` };
  });
  mail = await startHttpTestServer({ '/send': (r) => ({ json: { sent: true, to: JSON.parse(r.body).to } }) });
  fn = await startFunction(db.url, { LLM_PROVIDER: 'openai', LLM_MODEL: 'fake-default', OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' });
  await db.sql`select taskweave.upsert_tool('send_email', ${db.sql.json({
    kind: 'http',
    description: 'Send an email',
    config: {
      method: 'POST',
      url: `${mail.url}/send`,
      input_schema: { type: 'object', properties: { to: { type: 'string' }, subject: { type: 'string' } }, required: ['to', 'subject'], additionalProperties: false },
    },
    requires_approval: true,
  })})`;
  await db.sql`select taskweave.upsert_agent('mailer', ${db.sql.json({ name: 'Mailer', model: 'openai:fake-mailer', tools: ['send_email'] })})`;
});

afterAll(async () => {
  await fn?.stop();
  await Promise.all([fake?.close(), mail?.close()]);
});

const requestsOf = (taskId: string) => fake.requests.filter((r) => taskOf(r).id === taskId);

/** Start a task as the mailer and run it until it stops for a person; returns it and its open review. */
async function pausedTask(title: string, input: Record<string, unknown> = {}) {
  const [task] = await db.sql`select * from taskweave.create_task(${title}, 'Tell the team.', ${db.sql.json(input as never)}, '{}'::jsonb, 'mailer')`;
  const first = await post(fn, { task_id: task.id });
  expect(first.status).toBe(200);
  expect(first.json.results).toEqual([expect.objectContaining({ task_id: task.id, status: 'needs_human_review', outcome: 'needs_human_review' })]);
  const [row] = await db.sql`select status, leased_by, running_slot from taskweave.tasks where id = ${task.id}`;
  expect(row).toEqual({ status: 'needs_human_review', leased_by: null, running_slot: null }); // no lease, no place under the cap
  const reviews = await db.sql`select id, kind, status, request from taskweave.human_reviews where task_id = ${task.id}`;
  expect(reviews).toHaveLength(1);
  expect(requestsOf(task.id)).toHaveLength(1);
  return { id: task.id as string, review: reviews[0] };
}

async function resolve(reviewId: string, action: string, manualOutput: unknown, note: string | null) {
  await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.resolve_review(${reviewId}, ${action}, ${manualOutput === null ? null : tx.json(manualOutput as never)}, ${note})`);
}

/** Resume once: it completes with the second model step only, and a second resume finds nothing to claim. */
async function resumeOnce(taskId: string) {
  const resumed = await post(fn, { task_id: taskId });
  expect(resumed.status).toBe(200);
  expect(resumed.json.results).toEqual([expect.objectContaining({ task_id: taskId, status: 'completed', outcome: 'completed' })]);
  const again = await post(fn, { task_id: taskId });
  expect(again.status).toBe(409);
  const requests = requestsOf(taskId);
  expect(requests).toHaveLength(2); // step 1 before the pause, step 2 after it: none repeated
  const runs = await db.sql`select count(*)::int as n from taskweave.task_events where task_id = ${taskId} and to_status = 'running'`;
  expect(runs[0].n).toBe(2);
  const transcript = await db.sql`select role from taskweave.task_messages where task_id = ${taskId} order by seq`;
  expect(transcript.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant']);
  return toolResultsOf(requests[1]);
}

describe('a tool that requires approval', () => {
  it('pauses before the call with the tool, arguments, the reason and the schema; approve runs it as asked', async () => {
    const { id, review } = await pausedTask('Approve');
    expect(review).toMatchObject({ kind: 'approval', status: 'open' });
    expect(review.request).toEqual({
      tool_call_id: 'mail_1',
      tool: 'send_email',
      arguments: EMAIL,
      reason: REASON,
      input_schema: { type: 'object', properties: { to: { type: 'string' }, subject: { type: 'string' } }, required: ['to', 'subject'], additionalProperties: false },
    });
    const [call] = await db.sql`select status, arguments from taskweave.tool_calls where task_id = ${id}`;
    expect(call).toEqual({ status: 'awaiting_approval', arguments: EMAIL });
    expect(mail.hits('/send')).toHaveLength(0);

    await resolve(review.id, 'approve', null, null);
    const results = await resumeOnce(id);
    expect(mail.hits('/send').map((r) => JSON.parse(r.body))).toEqual([EMAIL]);
    expect(results).toEqual([{ tool_call_id: 'mail_1', value: { status: 200, body: { sent: true, to: 'team@example.com' }, truncated: false } }]);
    const [done] = await db.sql`select status, arguments from taskweave.tool_calls where task_id = ${id}`;
    expect(done).toEqual({ status: 'succeeded', arguments: EMAIL });
  });

  it('edit and approve: the call runs with the edited arguments, and the edit is recorded', async () => {
    const before = mail.hits('/send').length;
    const { id, review } = await pausedTask('Edit');
    const edited = { to: 'lead@example.com', subject: 'Launch tomorrow (leads only)' };
    await resolve(review.id, 'approve', { arguments: edited }, null);
    const results = await resumeOnce(id);
    const sent = mail.hits('/send').slice(before);
    expect(sent.map((r) => JSON.parse(r.body))).toEqual([edited]);
    expect(results).toEqual([
      { tool_call_id: 'mail_1', value: { status: 200, body: { sent: true, to: 'lead@example.com' }, truncated: false, operator_edited_arguments: edited } },
    ]);
    const [call] = await db.sql`select status, arguments, result from taskweave.tool_calls where task_id = ${id}`;
    expect(call).toMatchObject({ status: 'succeeded', arguments: edited, result: { operator_edited_arguments: edited } });
  });

  it('edited arguments that do not fit the schema are not sent: the model gets a tool error saying why', async () => {
    const before = mail.hits('/send').length;
    const { id, review } = await pausedTask('Bad edit');
    await resolve(review.id, 'approve', { arguments: { to: 'lead@example.com' } }, null);
    const results = await resumeOnce(id);
    expect(mail.hits('/send').length).toBe(before);
    expect(results).toEqual([{ tool_call_id: 'mail_1', value: expect.stringMatching(/^send_email was approved with edited arguments that do not fit its schema, so it was not called: .*subject/) }]);
    // the call ends failed, never started: it no longer waits for approval
    const [call] = await db.sql<{ status: string; error: string; ended_at: Date | null }[]>`select status, error, ended_at from taskweave.tool_calls where task_id = ${id}`;
    expect(call.status).toBe('failed');
    expect(call.error).toMatch(/^send_email was approved with edited arguments that do not fit its schema, so it was not called: .*subject/);
    expect(call.ended_at).not.toBeNull();
  });

  it('reject with a reason: the call is never made and the model gets the reason as its result', async () => {
    const before = mail.hits('/send').length;
    const { id, review } = await pausedTask('Reject');
    await resolve(review.id, 'reject', null, 'Do not email the whole team; post in the channel instead.');
    const results = await resumeOnce(id);
    expect(mail.hits('/send').length).toBe(before);
    expect(results).toEqual([{ tool_call_id: 'mail_1', value: { rejected: true, reason: 'Do not email the whole team; post in the channel instead.' } }]);
    const [call] = await db.sql`select status, error from taskweave.tool_calls where task_id = ${id}`;
    expect(call).toEqual({ status: 'rejected', error: 'Do not email the whole team; post in the channel instead.' });
    const [final] = await db.sql`select output from taskweave.tasks where id = ${id}`;
    expect(final.output.text).toContain('post in the channel instead');
  });
});

describe('ask_human', () => {
  it('pauses with the question and its options; the answer becomes the tool result', async () => {
    const { id, review } = await pausedTask('Question', { ask: { question: 'Which list should I email?', options: ['team', 'leads'] } });
    expect(review).toMatchObject({ kind: 'question', status: 'open', request: { tool_call_id: 'ask_1', question: 'Which list should I email?', options: ['team', 'leads'] } });
    await resolve(review.id, 'answer', { answer: 'leads, and cc me' }, null);
    const results = await resumeOnce(id);
    expect(results).toEqual([{ tool_call_id: 'ask_1', value: { answer: 'leads, and cc me' } }]);
  });
});

describe('many approvals at once', () => {
  it('twenty parallel children each wait for approval; resolved concurrently in any order, each resumes exactly once', async () => {
    const [root] = await db.sql`select * from taskweave.create_task('Many mails', 'Fan out.')`;
    const children: string[] = [];
    for (let i = 0; i < 20; i++) {
      const [child] = await db.sql`select * from taskweave.create_parallel_task(${root.id}, ${'Mail ' + i}, 'Tell the team.', '{}'::jsonb, ${'fan_' + i}, null, 'mailer')`;
      children.push(child.id);
    }
    const before = mail.hits('/send').length;
    const first = await Promise.all(children.map((id) => post(fn, { task_id: id })));
    expect(first.map((r) => r.json.results[0].status)).toEqual(children.map(() => 'needs_human_review'));
    const reviews = await db.sql`select id, task_id from taskweave.human_reviews where task_id in ${db.sql(children)} and status = 'open' and kind = 'approval'`;
    expect(reviews).toHaveLength(20);

    // every other one approved, the rest rejected; all at once, each on its own connection, in a shuffled order
    const decision = (taskId: string) => (children.indexOf(taskId) % 2 === 0 ? 'approve' : 'reject');
    const shuffled = [...reviews].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    const operators = Array.from({ length: 5 }, () => db.client(1));
    await Promise.all(
      shuffled.map((r, i) =>
        asIdentity(operators[i % operators.length], operator(), (tx) =>
          tx`select taskweave.resolve_review(${r.id}, ${decision(r.task_id)}, null, ${decision(r.task_id) === 'reject' ? 'not this one' : null})`,
        ),
      ),
    );
    const resumed = await Promise.all(children.map((id) => post(fn, { task_id: id })));
    expect(resumed.map((r) => r.json.results[0].status)).toEqual(children.map(() => 'completed'));
    const again = await Promise.all(children.map((id) => post(fn, { task_id: id })));
    expect(again.map((r) => r.status)).toEqual(children.map(() => 409));

    expect(mail.hits('/send').length - before).toBe(10); // the approved ones, once each
    for (const [i, id] of children.entries()) {
      expect(requestsOf(id)).toHaveLength(2);
      const [result] = toolResultsOf(requestsOf(id)[1]);
      if (i % 2 === 0) expect(result.value).toMatchObject({ status: 200, body: { sent: true } });
      else expect(result.value).toEqual({ rejected: true, reason: 'not this one' });
    }
    const runs = await db.sql`select task_id, count(*)::int as n from taskweave.task_events where task_id in ${db.sql(children)} and to_status = 'running' group by 1`;
    expect(runs.map((r) => r.n)).toEqual(children.map(() => 2));
  });
});
