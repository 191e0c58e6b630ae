// The reviews page's data access and server actions for every kind of review, the URL's filters, and
// Select all that match, against a real database through the operator module the MCP endpoint uses too.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { operator, plainUser, useTestDatabase } from '../helpers/database.ts';
import type { Claims } from '../../src/lib/db/identity.ts';
import { useAppPool } from './fixtures/app-pool.ts';
import { seedAgentsAndTools } from './fixtures/agents.ts';
import { pauseTask, seedPausedTask, type PausedTask } from './fixtures/reviews.ts';
import { seedFanOut } from './fixtures/seed.ts';

vi.mock('server-only', () => ({}));
const { listOpenReviews } = await import('../../src/features/reviews/queries.ts');
const { decideFromForm, bulkFromForm } = await import('../../src/features/reviews/service.ts');
const { parseFilters, reviewsHref } = await import('../../src/features/reviews/filters.ts');
const { dataApiTypes } = await import('../../src/lib/server/db.ts');

const db = useTestDatabase();
const app = useAppPool(db, dataApiTypes);
const ada = operator().claims as Claims;
type Viewer = Parameters<typeof decideFromForm>[0] extends { viewer: () => Promise<infer V> } ? V : never;
const asAda: Viewer = { kind: 'operator', claims: ada, name: 'ada@example.com', mode: 'supabase' };

function deps(viewer: Viewer = asAda) {
  const revalidate = vi.fn();
  return { ctx: { viewer: async () => viewer, sql: app, revalidate, log: vi.fn() }, revalidate };
}
const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};
async function review(id: string) {
  const [row] = await db.sql<{ status: string; action: string | null; manual_output: unknown; note: string | null; resolved_by: string | null }[]>`
    select status, action, manual_output, note, resolved_by from taskweave.human_reviews where id = ${id}`;
  return row;
}
async function taskStatus(id: string) {
  const [row] = await db.sql<{ status: string }[]>`select status::text from taskweave.tasks where id = ${id}`;
  return row.status;
}

const emailArgs = { to: 'cfo@example.com', subject: 'Vendor shortlist', body: 'See attached.' };

describe('each kind on the page', () => {
  let approval: PausedTask;
  let question: PausedTask;
  let interrupted: PausedTask;
  beforeAll(async () => {
    await seedAgentsAndTools(db.sql);
    approval = await seedPausedTask(db.sql, { kind: 'approval', tool: 'send-email', arguments: emailArgs, reason: 'The user asked for the shortlist by email.' }, { title: 'Kinds approval', agent: 'mailer' });
    question = await seedPausedTask(db.sql, { kind: 'question', question: 'Which region should the comparison cover?', options: ['EU', 'US'] }, { title: 'Kinds question' });
    interrupted = await seedPausedTask(db.sql, { kind: 'interrupted_call', tool: 'send-email', arguments: emailArgs }, { title: 'Kinds interrupted' });
  });

  it('lists each review with its kind, request, run state and, for an approval, the tool’s input schema', async () => {
    const page = await listOpenReviews(app(), ada, { filter: { root_task_id: approval.rootId } });
    expect(page.total).toBe(1);
    const [item] = page.items;
    expect(item).toMatchObject({
      id: approval.reviewId,
      kind: 'approval',
      error: null,
      request: { tool: 'send-email', arguments: emailArgs, reason: 'The user asked for the shortlist by email.' },
      task: { id: approval.taskId, agent: 'mailer', status: 'needs_human_review' },
      root: { id: approval.rootId, title: 'Kinds approval' },
    });
    // the root itself is still pending, so the run is running, with one review open
    expect(item.run_state).toMatchObject({ state: 'running', open_reviews: 1 });
    expect(item.input_schema).toMatchObject({ required: ['to', 'subject'] });

    const q = (await listOpenReviews(app(), ada, { filter: { root_task_id: question.rootId } })).items[0];
    expect(q).toMatchObject({ kind: 'question', request: { question: 'Which region should the comparison cover?', options: ['EU', 'US'] }, input_schema: null });
    const i = (await listOpenReviews(app(), ada, { filter: { root_task_id: interrupted.rootId } })).items[0];
    expect(i).toMatchObject({ kind: 'interrupted_call', request: { tool: 'send-email', arguments: emailArgs } });
    expect(i.request.started_at).toBeTruthy();
  });

  it('edit-and-approve: arguments that break the tool’s schema come back as field errors and change nothing', async () => {
    const { ctx, revalidate } = deps();
    const bad = await decideFromForm(ctx, form({ reviewId: approval.reviewId, action: 'approve', arguments: JSON.stringify({ subject: 42, cc: 'x' }) }));
    expect(bad.status).toBe('error');
    expect(bad.message).toMatch(/do not fit the tool’s input schema/);
    expect(bad.errors.arguments).toEqual(['arguments.to is required', 'arguments.subject must be a string (got integer)']);
    const notJson = await decideFromForm(ctx, form({ reviewId: approval.reviewId, action: 'approve', arguments: '{"to": ' }));
    expect(notJson.errors.arguments?.[0]).toMatch(/not valid JSON/);
    const notObject = await decideFromForm(ctx, form({ reviewId: approval.reviewId, action: 'approve', arguments: '["to"]' }));
    expect(notObject.errors.arguments?.[0]).toMatch(/must be a JSON object/);
    expect(revalidate).not.toHaveBeenCalled();
    expect(await review(approval.reviewId)).toMatchObject({ status: 'open' });
    expect(await taskStatus(approval.taskId)).toBe('needs_human_review');
  });

  it('edit-and-approve: the edited arguments are recorded and the task resumes', async () => {
    const { ctx, revalidate } = deps();
    const edited = { ...emailArgs, to: 'finance@example.com' };
    const state = await decideFromForm(ctx, form({ reviewId: approval.reviewId, action: 'approve', arguments: JSON.stringify(edited) }));
    expect(state).toMatchObject({ status: 'success', action: 'approve', errors: {} });
    expect(state.message).toMatch(/^Approved the call of “Research vendor 1”: it is pending again/);
    expect(revalidate).toHaveBeenCalledWith(approval.taskId);
    expect(await review(approval.reviewId)).toMatchObject({ status: 'resolved', action: 'approve', manual_output: { arguments: edited }, resolved_by: 'ada@example.com' });
    expect(await taskStatus(approval.taskId)).toBe('pending');
    const [event] = await db.sql<{ detail: Record<string, unknown> }[]>`
      select detail from taskweave.task_events where task_id = ${approval.taskId} and event = 'review_resolved'`;
    expect(event.detail).toMatchObject({ action: 'approve', edited: true, arguments: edited, requested_arguments: emailArgs });
  });

  it('answers a question with one of its options, or in the person’s own words', async () => {
    const { ctx } = deps();
    const empty = await decideFromForm(ctx, form({ reviewId: question.reviewId, action: 'answer', answer: '   ' }));
    expect(empty).toMatchObject({ status: 'error', errors: { answer: ['Choose one of the options or write an answer.'] } });
    const state = await decideFromForm(ctx, form({ reviewId: question.reviewId, action: 'answer', option: 'EU' }));
    expect(state).toMatchObject({ status: 'success', action: 'answer' });
    expect(state.message).toMatch(/^Answered “Research vendor 1”: it is pending again/);
    expect(await review(question.reviewId)).toMatchObject({ action: 'answer', manual_output: { answer: 'EU' } });

    const other = await seedPausedTask(db.sql, { kind: 'question', question: 'Budget?', options: ['low', 'high'] });
    await decideFromForm(ctx, form({ reviewId: other.reviewId, action: 'answer', option: 'low', answer: 'Around 20k, no more' }));
    expect(await review(other.reviewId)).toMatchObject({ manual_output: { answer: 'Around 20k, no more' } });
  });

  it('settles an interrupted call by hand: the result is what the model gets', async () => {
    const { ctx } = deps();
    const state = await decideFromForm(ctx, form({ reviewId: interrupted.reviewId, action: 'manual', manualFormat: 'json', manualOutput: '{"sent": true}' }));
    expect(state).toMatchObject({ status: 'success', action: 'manual' });
    expect(await review(interrupted.reviewId)).toMatchObject({ action: 'manual', manual_output: { sent: true } });
    expect(await taskStatus(interrupted.taskId)).toBe('pending');
  });

  it('rejects with a reason, and not without one', async () => {
    const paused = await seedPausedTask(db.sql, { kind: 'approval', tool: 'send-email', arguments: emailArgs });
    const { ctx } = deps();
    const none = await decideFromForm(ctx, form({ reviewId: paused.reviewId, action: 'reject', note: ' ' }));
    expect(none).toMatchObject({ status: 'error', message: 'Check the reason: nothing was saved.' });
    expect(none.errors.note?.[0]).toMatch(/Say why/);
    const state = await decideFromForm(ctx, form({ reviewId: paused.reviewId, action: 'reject', note: 'Do not email the CFO directly.' }));
    expect(state).toMatchObject({ status: 'success', action: 'reject' });
    expect(await review(paused.reviewId)).toMatchObject({ action: 'reject', note: 'Do not email the CFO directly.', manual_output: null });
  });

  it('offers a kind only its own actions: the database refuses the others in words', async () => {
    const paused = await seedPausedTask(db.sql, { kind: 'question', question: 'Proceed?' });
    const { ctx } = deps();
    const state = await decideFromForm(ctx, form({ reviewId: paused.reviewId, action: 'retry' }));
    expect(state.status).toBe('error');
    expect(state.message).toMatch(/^The database rejected this request: p_action must be answer or abort for a question review/);
    expect(await review(paused.reviewId)).toMatchObject({ status: 'open' });
  });
});

describe('filters in the URL', () => {
  it('keeps the values a filter takes, names the others, and builds links that carry them', () => {
    const parsed = parseFilters({ kind: 'approval', tool: 'send-email', age: '1h', q: '  refund  ', run: 'not-a-uuid', agent: 'Bad Agent', category: '' });
    expect(parsed.values).toEqual({ kind: 'approval', tool: 'send-email', age: '1h', q: 'refund' });
    expect(parsed.filter).toEqual({ kind: 'approval', tool: 'send-email', older_than_seconds: 3600, text: 'refund' });
    expect(parsed.ignored).toEqual(['run', 'agent']);
    expect(parseFilters({ kind: 'everything', age: '99999999999d' }).ignored).toEqual(['kind', 'age']);
    expect(reviewsHref(parsed.values, { after: 'abc' })).toBe('/reviews?kind=approval&tool=send-email&age=1h&q=refund&after=abc');
  });

  it('lists only what matches: kind, category, run, agent, tool, age and text', async () => {
    const failures = await seedFanOut(db.sql, { title: 'Filter failures', children: 3, complete: [], fail: [0, 1, 2], error: { category: 'tool', message: 'Search API returned 503 for vendor pricing' } });
    const model = await seedFanOut(db.sql, { title: 'Filter model', children: 1, complete: [], fail: [0], error: { category: 'model', message: 'context length exceeded' } });
    const asked = await seedPausedTask(db.sql, { kind: 'question', question: 'Should refunds over 500 EUR be escalated?' }, { agent: 'researcher' });
    const ids = async (filter: Parameters<typeof listOpenReviews>[2] extends infer O ? O extends { filter?: infer F } ? F : never : never) =>
      (await listOpenReviews(app(), ada, { filter, limit: 100 })).items.map((r) => r.id).sort();

    expect(await ids({ root_task_id: failures.rootId })).toEqual(failures.failed.map((f) => f.reviewId).sort());
    expect(await ids({ root_task_id: model.rootId, category: 'model' })).toEqual([model.failed[0].reviewId]);
    expect(await ids({ root_task_id: model.rootId, category: 'tool' })).toEqual([]);
    expect(await ids({ text: 'VENDOR PRICING' })).toEqual(failures.failed.map((f) => f.reviewId).sort());
    expect(await ids({ text: 'refunds over 500' })).toEqual([asked.reviewId]);
    expect(await ids({ agent: 'researcher', kind: 'question' })).toEqual([asked.reviewId]);
    expect(await ids({ root_task_id: failures.rootId, older_than_seconds: 3600 })).toEqual([]);
    const page = await listOpenReviews(app(), ada, { filter: { root_task_id: failures.rootId }, limit: 2 });
    expect(page.total).toBe(3);
    expect(page.items).toHaveLength(2);
    expect(page.next).toBeDefined();
  });

  it('refuses a user who is not an operator, whatever the filter', async () => {
    await expect(listOpenReviews(app(), plainUser().claims as Claims, { filter: { kind: 'failure' } })).rejects.toMatchObject({ code: '42501' });
  });
});

describe('Select all that match', () => {
  it('asks before acting on more than 20, then retries every failure that matches and nothing else', async () => {
    const many = await seedFanOut(db.sql, { title: 'Outage', children: 26, complete: [], fail: Array.from({ length: 25 }, (_, i) => i), error: { category: 'model', message: 'provider outage' } });
    // a question in the same run: Retry does not apply to it, so it is neither counted nor touched
    const askedId = await pauseTask(db.sql, many.childIds[25], { kind: 'question', question: 'Still there?' });
    const { ctx, revalidate } = deps();
    const filters = { run: many.rootId };

    const ask = await bulkFromForm(ctx, form({ ...filters, action: 'retry' }));
    expect(ask).toMatchObject({ status: 'confirm', action: 'retry', count: 25, message: 'Retry 25 reviews that match?' });
    expect(revalidate).not.toHaveBeenCalled();
    const [{ open }] = await db.sql<{ open: number }[]>`
      select count(*)::int as open from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id where t.root_task_id = ${many.rootId} and r.status = 'open'`;
    expect(open).toBe(26);

    const done = await bulkFromForm(ctx, form({ ...filters, action: 'retry', confirmed: '25' }));
    expect(done).toMatchObject({ status: 'success', resolved: 25, skipped: 0, message: 'Retried 25 reviews.' });
    expect(revalidate).toHaveBeenCalled();
    const statuses = await db.sql<{ status: string; n: number }[]>`
      select status::text, count(*)::int as n from taskweave.tasks where id = any (${many.childIds.slice(0, 25)}::uuid[]) group by status`;
    expect(statuses).toEqual([{ status: 'pending', n: 25 }]);
    // each one audited as a single resolve would be
    const [{ audited }] = await db.sql<{ audited: number }[]>`
      select count(*)::int as audited from taskweave.task_events
       where task_id = any (${many.childIds.slice(0, 25)}::uuid[]) and event = 'review_resolved' and actor = 'ada@example.com'`;
    expect(audited).toBe(25);
    expect(await review(askedId)).toMatchObject({ status: 'open' });

    const again = await bulkFromForm(ctx, form({ ...filters, action: 'retry', confirmed: '25' }));
    expect(again).toMatchObject({ status: 'error', message: 'Nothing changed: no open review matches these filters any more.' });
  });

  it('acts at once on 20 or fewer; approve and reject only approvals, reject only with a reason', async () => {
    const a = await seedPausedTask(db.sql, { kind: 'approval', tool: 'send-email', arguments: emailArgs }, { title: 'Bulk approvals' });
    const b = await seedPausedTask(db.sql, { kind: 'approval', tool: 'send-email', arguments: { ...emailArgs, to: 'ops@example.com' } }, { title: 'Bulk approvals 2' });
    const { ctx } = deps();
    const noReason = await bulkFromForm(ctx, form({ kind: 'approval', tool: 'send-email', action: 'reject' }));
    expect(noReason).toMatchObject({ status: 'error', message: 'Check the reason: nothing was resolved.' });
    const wrongKind = await bulkFromForm(ctx, form({ kind: 'question', action: 'approve' }));
    expect(wrongKind).toMatchObject({ status: 'error', message: 'Nothing was resolved: approve does not apply to reviews of this kind.' });
    const rejected = await bulkFromForm(ctx, form({ kind: 'approval', tool: 'send-email', action: 'reject', note: 'No emails this week.' }));
    expect(rejected).toMatchObject({ status: 'success', message: 'Rejected 2 reviews.' });
    for (const paused of [a, b]) expect(await review(paused.reviewId)).toMatchObject({ action: 'reject', note: 'No emails this week.' });
  });

  it('refuses a filter it cannot read and a viewer who is not an operator', async () => {
    const { ctx } = deps();
    expect(await bulkFromForm(ctx, form({ run: 'nope', action: 'abort' }))).toMatchObject({ status: 'error', message: 'Nothing was resolved: the filter run is not valid. Reload the page.' });
    const sql = vi.fn(app);
    const refused = await bulkFromForm({ viewer: async () => ({ kind: 'not-operator', name: 'bob' }), sql, revalidate: vi.fn() }, form({ action: 'abort' }));
    expect(refused).toMatchObject({ status: 'error', message: 'The database refused: your account is not an operator.' });
    expect(sql).not.toHaveBeenCalled();
    const forged = await bulkFromForm({ viewer: async () => ({ kind: 'operator', claims: plainUser().claims as Claims, name: 'bob', mode: 'supabase' }), sql: app, revalidate: vi.fn() }, form({ action: 'abort' }));
    // if one got through anyway, the database itself refuses a plain user
    expect(forged).toMatchObject({ status: 'error', message: 'The database refused: your account is not an operator.' });
  });
});
