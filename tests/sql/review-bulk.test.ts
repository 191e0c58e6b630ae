// Open reviews by filter: list_reviews / count_reviews (the page) and resolve_reviews (Select all that
// match) read one filter the same way; a bulk resolution resolves only open reviews, audits each as a
// single one would be, locks only what matches, and runs beside single resolves without a double decision.
import { describe, expect, it } from 'vitest';
import { asIdentity, operator, plainUser, useTestDatabase, type Sql } from '../helpers/database.ts';
import { claim, createFanOut, createParallel, createRoot, getTask, rejection } from '../helpers/tasks.ts';
import { openApprovalsForChildren, waitForPerson } from './support/waiting-reviews.ts';

const db = useTestDatabase({ settings: { max_children_per_task: 1000 } });

const bulk = (sql: Sql, filter: Record<string, unknown>, action: string, note: string | null = null, who = 'ada@example.com') =>
  asIdentity(sql, operator(who), async (tx) => {
    const [row] = await tx<{ r: { resolved: number; skipped: number } }[]>`
      select taskweave.resolve_reviews(${tx.json(filter as never)}, ${action}, ${note}) as r`;
    return row.r;
  });

const list = (filter: Record<string, unknown>, limit = 100) =>
  asIdentity(db.sql, operator(), (tx) => tx<{ id: string; kind: string }[]>`select id, kind from taskweave.list_reviews(${tx.json(filter as never)}, ${limit})`);

const count = (filter: Record<string, unknown>) =>
  asIdentity(db.sql, operator(), async (tx) => (await tx<{ n: number }[]>`select taskweave.count_reviews(${tx.json(filter as never)}) as n`)[0].n);

/** One run with reviews of every kind and a variety of categories, agents and tools. */
async function mixedRun() {
  const root = await createRoot(db.sql, 'mixed');
  const make = async (title: string, kind: 'failure' | 'approval' | 'question' | 'interrupted_call', request: Record<string, unknown> = {}, error?: Record<string, unknown>, agent?: string) => {
    const task = await createParallel(db.sql, root.id, title);
    if (agent) await db.sql`update taskweave.tasks set agent = ${agent} where id = ${task.id}`;
    const reviewId = await waitForPerson(db.sql, task.id, kind, request, { error });
    return { task, reviewId };
  };
  return {
    root,
    modelOutage: await make('a', 'failure', {}, { category: 'model', message: 'Provider said 503 Service Unavailable' }, 'researcher'),
    modelOutage2: await make('b', 'failure', {}, { category: 'model', message: 'provider said 503 again' }),
    budget: await make('c', 'failure', {}, { category: 'budget', message: 'max_tokens reached (100%_of budget)' }),
    email: await make('d', 'approval', { tool_call_id: 'c1', tool: 'send_email', arguments: { to: 'x' }, reason: 'notify' }, undefined, 'researcher'),
    charge: await make('e', 'approval', { tool_call_id: 'c2', tool: 'charge_card', arguments: { amount: 5 } }),
    question: await make('f', 'question', { tool_call_id: 'c3', question: 'Which SERVICE tier?', options: ['a', 'b'] }),
    interrupted: await make('g', 'interrupted_call', { tool_call_id: 'c4', tool: 'charge_card', arguments: { amount: 7 } }),
  };
}

describe('review filters', () => {
  it('each key narrows the list, the count agrees with it, and keys combine', async () => {
    const run = await mixedRun();
    const ids = async (filter: Record<string, unknown>) => (await list({ root_task_id: run.root.id, ...filter })).map((r) => r.id).sort();
    const sorted = (...xs: { reviewId: string }[]) => xs.map((x) => x.reviewId).sort();
    expect(await ids({})).toHaveLength(7);
    expect(await ids({ kind: 'approval' })).toEqual(sorted(run.email, run.charge));
    expect(await ids({ kind: ['question', 'interrupted_call'] })).toEqual(sorted(run.question, run.interrupted));
    expect(await ids({ category: 'model' })).toEqual(sorted(run.modelOutage, run.modelOutage2));
    expect(await ids({ agent: 'researcher' })).toEqual(sorted(run.modelOutage, run.email));
    expect(await ids({ tool: 'charge_card' })).toEqual(sorted(run.charge, run.interrupted));
    expect(await ids({ tool: 'charge_card', kind: 'approval' })).toEqual(sorted(run.charge));
    // text: case-insensitive, over the error message and the question; LIKE wildcards are literal
    expect(await ids({ text: 'SERVICE' })).toEqual(sorted(run.modelOutage, run.question));
    expect(await ids({ text: '%_of' })).toEqual(sorted(run.budget));
    expect(await ids({ text: '%' })).toEqual(sorted(run.budget));
    expect(await ids({ older_than_seconds: 0 })).toHaveLength(7);
    expect(await ids({ older_than_seconds: 3600 })).toEqual([]);
    // null means no filter
    expect(await ids({ kind: null, text: null })).toHaveLength(7);
    for (const filter of [{}, { kind: 'approval' }, { category: 'model' }, { text: 'service' }]) {
      expect(await count({ root_task_id: run.root.id, ...filter })).toBe((await ids(filter)).length);
    }
  });

  it('refuses an unknown key or a bad value with 22023 naming it', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ colour: 'red' }, 'p_filter has an unknown key "colour"; the keys are kind, category, root_task_id, agent, tool, older_than_seconds and text'],
      [{ kind: 'bogus' }, 'p_filter.kind must be failure, approval, question or interrupted_call (got "bogus")'],
      [{ kind: [] }, 'p_filter.kind must be a review kind or a non-empty array of them'],
      [{ kind: 3 }, 'p_filter.kind must be a review kind or a non-empty array of them'],
      [{ root_task_id: 'nope' }, 'p_filter.root_task_id must be a task id (uuid)'],
      [{ older_than_seconds: '10' }, 'p_filter.older_than_seconds must be a number of seconds'],
      [{ older_than_seconds: -1 }, 'p_filter.older_than_seconds must be between 0 and 315360000 (got -1)'],
      [{ text: '  ' }, 'p_filter.text must be a non-empty string of at most 500 characters'],
      [{ tool: '' }, 'p_filter.tool must be a non-empty string of at most 200 characters'],
      [{ agent: ['a'] }, 'p_filter.agent must be a non-empty string of at most 200 characters'],
    ];
    for (const [filter, message] of cases) {
      expect(await rejection(list(filter))).toEqual({ code: '22023', message });
      expect(await rejection(count(filter))).toEqual({ code: '22023', message });
      expect(await rejection(bulk(db.sql, filter, 'abort'))).toEqual({ code: '22023', message });
    }
    expect(await rejection(asIdentity(db.sql, operator(), (tx) => tx`select * from taskweave.list_reviews('[]'::jsonb)`))).toEqual({
      code: '22023', message: 'p_filter must be a JSON object (got array)',
    });
  });

  it('a plain user may not list, count or resolve in bulk (42501), and changes nothing', async () => {
    const run = await mixedRun();
    expect(await rejection(asIdentity(db.sql, plainUser(), (tx) => tx`select id from taskweave.list_reviews(${tx.json({ root_task_id: run.root.id })})`))).toEqual({
      code: '42501', message: 'only operators may list reviews',
    });
    expect(await rejection(asIdentity(db.sql, plainUser(), (tx) => tx`select taskweave.count_reviews('{}'::jsonb)`))).toEqual({
      code: '42501', message: 'only operators may count reviews',
    });
    expect(await rejection(asIdentity(db.sql, plainUser(), (tx) => tx`select taskweave.resolve_reviews(${tx.json({ root_task_id: run.root.id })}, 'abort')`))).toEqual({
      code: '42501', message: 'only operators may resolve reviews',
    });
    expect(await count({ root_task_id: run.root.id })).toBe(7);
  });
});

describe('resolve_reviews', () => {
  it('retries only what matches, among the kinds the action applies to; each is audited as a single resolve', async () => {
    const run = await mixedRun();
    const result = await bulk(db.sql, { root_task_id: run.root.id, tool: 'charge_card' }, 'retry', 'provider is back');
    // charge_card: an approval (retry does not apply) and an interrupted call
    expect(result).toEqual({ resolved: 1, skipped: 0 });
    const [review] = await db.sql`select status, action, note, resolved_by from taskweave.human_reviews where id = ${run.interrupted.reviewId}`;
    expect(review).toEqual({ status: 'resolved', action: 'retry', note: 'provider is back', resolved_by: 'ada@example.com' });
    expect(await getTask(db.sql, run.interrupted.task.id)).toMatchObject({ status: 'pending', attempt: 0 });
    const events = await db.sql`select event, actor, detail from taskweave.task_events where task_id = ${run.interrupted.task.id} and event = 'review_resolved'`;
    expect(events).toEqual([{ event: 'review_resolved', actor: 'ada@example.com', detail: { review_id: run.interrupted.reviewId, kind: 'interrupted_call', action: 'retry', tool_call_id: 'c4', note: 'provider is back' } }]);
    expect(await count({ root_task_id: run.root.id })).toBe(6);

    expect(await bulk(db.sql, { root_task_id: run.root.id, category: 'model' }, 'retry')).toEqual({ resolved: 2, skipped: 0 });
    expect(await bulk(db.sql, { root_task_id: run.root.id, category: 'model' }, 'retry')).toEqual({ resolved: 0, skipped: 0 });
    expect(await bulk(db.sql, { root_task_id: run.root.id }, 'reject', 'not today')).toEqual({ resolved: 2, skipped: 0 });
    const rejected = await db.sql`select note from taskweave.human_reviews where id in (${run.email.reviewId}, ${run.charge.reviewId}) and action = 'reject'`;
    expect(rejected).toEqual([{ note: 'not today' }, { note: 'not today' }]);
    expect(await bulk(db.sql, { root_task_id: run.root.id }, 'abort')).toEqual({ resolved: 2, skipped: 0 });
    expect(await count({ root_task_id: run.root.id })).toBe(0);
  });

  it('refuses what a bulk action cannot do, changing nothing', async () => {
    const run = await mixedRun();
    const f = { root_task_id: run.root.id };
    expect(await rejection(bulk(db.sql, f, 'answer'))).toEqual({
      code: '22023',
      message: 'p_action must be retry, abort, approve or reject for a bulk resolution (got answer); answer and manual need an answer or output per review: use resolve_review',
    });
    expect((await rejection(bulk(db.sql, f, 'manual'))).code).toBe('22023');
    expect(await rejection(bulk(db.sql, f, 'reject'))).toEqual({ code: '22023', message: "a reject needs p_note: the reason the model is given instead of the tool's result" });
    expect(await rejection(bulk(db.sql, { ...f, kind: 'failure' }, 'approve'))).toEqual({
      code: '22023', message: 'p_action approve does not apply to "failure" reviews; it applies to approval',
    });
    for (const limit of [0, 1001, 1.5, '10']) {
      expect(await rejection(bulk(db.sql, { ...f, limit }, 'abort'))).toEqual({ code: '22023', message: 'p_filter.limit must be a whole number from 1 to 1000' });
    }
    expect(await count(f)).toBe(7);
  });

  it('limit takes the oldest matching reviews first, so a caller can work through a large set in batches', async () => {
    const { reviewIds } = await openApprovalsForChildren(db.sql, 12);
    const [{ root_task_id: root }] = await db.sql`select t.root_task_id from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id where r.id = ${reviewIds[0]}`;
    expect(await bulk(db.sql, { root_task_id: root, limit: 5 }, 'approve')).toEqual({ resolved: 5, skipped: 0 });
    const firstFive = await db.sql<{ id: string }[]>`select id from taskweave.human_reviews where id = any (${reviewIds}::uuid[]) and status = 'resolved'`;
    expect(firstFive.map((r) => r.id).sort()).toEqual(reviewIds.slice(0, 5).sort());
    expect(await bulk(db.sql, { root_task_id: root, limit: 5 }, 'approve')).toEqual({ resolved: 5, skipped: 0 });
    expect(await bulk(db.sql, { root_task_id: root, limit: 5 }, 'approve')).toEqual({ resolved: 2, skipped: 0 });
  });

  it('abort in bulk cancels each task\'s subtree; a review under another one is resolved on its own first', async () => {
    const { root, children } = await createFanOut(db.sql, 2, 'nested');
    await claim(db.sql, children[0].id, 'w-parent');
    const child = await createParallel(db.sql, children[0].id, 'nested child');
    const pendingChild = await createParallel(db.sql, children[0].id, 'pending nested child');
    const childReview = await waitForPerson(db.sql, child.id, 'question', { tool_call_id: 'q', question: 'deep?' });
    const parentReview = await waitForPerson(db.sql, children[0].id, 'approval', { tool_call_id: 'a', tool: 't' }, { alreadyRunning: true });
    expect(await bulk(db.sql, { root_task_id: root.id }, 'abort', 'stop it')).toEqual({ resolved: 2, skipped: 0 });
    for (const id of [children[0].id, child.id, pendingChild.id]) expect((await getTask(db.sql, id)).status).toBe('cancelled');
    expect((await getTask(db.sql, children[1].id)).status).toBe('pending');
    const audited = await db.sql`select detail->>'review_id' as review_id from taskweave.task_events where event = 'review_resolved' and task_id in (${child.id}, ${children[0].id}) order by id`;
    expect(audited.map((r) => r.review_id)).toEqual([childReview, parentReview]);
  });

  it('runs beside single resolves: every review is decided once, the bulk counts what it lost as skipped', async () => {
    for (let round = 0; round < 3; round++) {
      const { children, reviewIds } = await openApprovalsForChildren(db.sql, 60);
      const [{ root_task_id: root }] = await db.sql`select root_task_id from taskweave.tasks where id = ${children[0].id}`;
      const singles = db.client(6);
      const bulkClient = db.client(2);
      const singleResults = Promise.all(
        [...reviewIds].reverse().filter((_, i) => i % 2 === 0).map((id) =>
          asIdentity(singles, operator('grace@example.com'), (tx) => tx`select * from taskweave.resolve_review(${id}, 'reject', null, 'one by one')`).then(
            () => 'ok',
            (e: { code: string }) => e.code,
          ),
        ),
      );
      const bulkResults = Promise.all([bulk(bulkClient, { root_task_id: root, limit: 20 }, 'approve'), bulk(bulkClient, { root_task_id: root }, 'approve')]);
      const [singles_, [b1, b2]] = await Promise.all([singleResults, bulkResults]);
      const singleWins = singles_.filter((r) => r === 'ok').length;
      // a single resolve either won or was told TW002 (the bulk took it first)
      expect(singles_.every((r) => r === 'ok' || r === 'TW002')).toBe(true);
      const [{ open, approved, rejected }] = await db.sql<{ open: number; approved: number; rejected: number }[]>`
        select count(*) filter (where status = 'open')::int as open,
               count(*) filter (where action = 'approve')::int as approved,
               count(*) filter (where action = 'reject')::int as rejected
          from taskweave.human_reviews where id = any (${reviewIds}::uuid[])`;
      expect(rejected).toBe(singleWins);
      expect(approved).toBe(b1.resolved + b2.resolved);
      // what the bulk calls left was taken by a single resolve that was in flight (skipped), or is still open
      expect(approved + rejected + open).toBe(60);
      const [{ n }] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from taskweave.task_events
         where task_id = any (${children.map((c) => c.id)}::uuid[]) and event = 'status_changed' and from_status = 'needs_human_review'`;
      expect(n).toBe(approved + rejected);
      const [{ m }] = await db.sql<{ m: number }[]>`
        select count(*)::int as m from taskweave.task_events where task_id = any (${children.map((c) => c.id)}::uuid[]) and event = 'review_resolved'`;
      expect(m).toBe(approved + rejected);
      await Promise.all([singles.end(), bulkClient.end()]);
    }
  });

  it('locks only the rows that match: a review held by someone else does not make the bulk wait', async () => {
    const run = await mixedRun();
    const holder = db.client(1);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holding = holder.begin(async (tx) => {
      await tx`select 1 from taskweave.tasks where id = ${run.email.task.id} for no key update`;
      locked();
      await held;
    });
    await isLocked;
    const started = Date.now();
    expect(await bulk(db.sql, { root_task_id: run.root.id, kind: 'approval' }, 'approve')).toEqual({ resolved: 1, skipped: 1 });
    expect(Date.now() - started).toBeLessThan(5_000);
    release();
    await holding;
    expect(await bulk(db.sql, { root_task_id: run.root.id, kind: 'approval' }, 'approve')).toEqual({ resolved: 1, skipped: 0 });
  });
});
