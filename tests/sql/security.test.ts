// The security audit's SQL findings (issue 21): forged operator claims, size caps, a counter that
// overflowed, history and finished tasks that could be rewritten, and an empty hint. Each test failed
// on the code before the fix.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, connect, operator, serviceRole, useTestDatabase, type Sql } from '../helpers/database.ts';
import { claim, complete, createFanOut, createParallel, createRoot, failToReview, finish, getTask, rejection } from '../helpers/tasks.ts';

const db = useTestDatabase();

async function eventCount(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from taskweave.task_events`;
  return row.n;
}

describe('finding 1: an operator claim counts only from a trusted front door', () => {
  const forger = `tw_forger_${crypto.randomBytes(4).toString('hex')}`;
  const password = crypto.randomBytes(12).toString('hex');
  let forgerSql: Sql | undefined;

  beforeAll(async () => {
    // a direct database login that is merely a member of authenticated, as the audit made one
    await db.sql.unsafe(`create role ${forger} login password '${password}' in role authenticated`);
    const url = new URL(db.url);
    url.username = forger;
    url.password = password;
    forgerSql = connect(url.toString(), 1);
  });
  afterAll(async () => {
    await forgerSql?.end({ timeout: 2 });
    await db.sql.unsafe(`drop role if exists ${forger}`);
  });

  const forgedClaims = JSON.stringify({ email: 'forged@nowhere', sub: '00000000-0000-4000-8000-00000000f0f0', role: 'authenticated', app_metadata: { role: 'operator' } });

  it.each([
    ['as its own login role', null],
    ['after set role authenticated', 'authenticated'],
  ])('a login in role authenticated that writes an operator claim cannot cancel a task (%s): 42501, nothing changed', async (_how, role) => {
    const root = await createRoot(db.sql, `forged ${role ?? 'login'}`);
    const before = await eventCount(db.sql);
    const denied = await rejection(
      forgerSql!.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${forgedClaims}, true)`;
        if (role) await tx.unsafe(`set local role ${role}`);
        const [check] = await tx`select taskweave_private.is_operator() as op`;
        expect(check.op).toBe(false);
        return tx`select taskweave.cancel_task(${root.id}, 'forged')`;
      }),
    );
    expect(denied.code).toBe('42501');
    expect((await getTask(db.sql, root.id)).status).toBe('pending');
    expect(await eventCount(db.sql)).toBe(before);
    const [forged] = await db.sql`select count(*)::int as n from taskweave.task_events where actor = 'forged@nowhere'`;
    expect(forged.n).toBe(0);
  });

  it('claims set by the functions\' own connection (operator power) still make an operator, recorded by email', async () => {
    const root = await createRoot(db.sql, 'trusted');
    await asIdentity(db.sql, operator('grace@example.com'), (tx) => tx`select taskweave.cancel_task(${root.id}, 'trusted door')`);
    const [event] = await db.sql`select actor from taskweave.task_events where task_id = ${root.id} and to_status = 'cancelled'`;
    expect(event.actor).toBe('grace@example.com');
  });
});

describe('finding 7: every text and jsonb input has a cap, 22023 naming the argument', () => {
  const big = (bytes: number) => ({ blob: 'x'.repeat(bytes) });

  it('a 12,800-character tool_call_id is refused clearly (it used to fail inside an index with 54000)', async () => {
    const root = await createRoot(db.sql, 'long id');
    const denied = await rejection(createParallel(db.sql, root.id, 'child', 'c'.repeat(12_800)));
    expect(denied).toEqual({ code: '22023', message: 'p_tool_call_id must be 1 to 200 characters (got 12800)' });
    const [row] = await db.sql`select count(*)::int as n from taskweave.tasks where parent_task_id = ${root.id}`;
    expect(row.n).toBe(0);
  });

  it('an input past 1 MiB is refused and creates nothing', async () => {
    const before = await eventCount(db.sql);
    const denied = await rejection(db.sql`select taskweave.create_task('big', 'i', ${db.sql.json(big(2 * 1024 * 1024))})`);
    expect(denied.code).toBe('22023');
    expect(denied.message).toMatch(/^p_input is too large: \d+ bytes, the cap is 1048576 bytes$/);
    expect(await eventCount(db.sql)).toBe(before);
  });

  it('output, message content, p_error and a manual output past their caps are refused; the task is unchanged', async () => {
    const root = await createRoot(db.sql, 'outputs');
    await claim(db.sql, root.id, 'w');
    expect((await rejection(complete(db.sql, root.id, 'w', big(2 * 1024 * 1024)))).message).toMatch(/^p_output is too large/);
    expect(
      (await rejection(db.sql`select taskweave.append_task_message(${root.id}, 'w', 'assistant', ${db.sql.json(big(3 * 1024 * 1024))})`)).message,
    ).toMatch(/^p_content is too large/);
    const failed = await rejection(db.sql`select taskweave.fail_task(${root.id}, 'w', ${db.sql.json({ category: 'model', message: 'x'.repeat(100_000) })}, true)`);
    expect(failed).toMatchObject({ code: '22023' });
    expect(failed.message).toMatch(/^p_error is too large/);
    expect(await getTask(db.sql, root.id)).toMatchObject({ status: 'running', output: null, last_error: null });

    const { children } = await createFanOut(db.sql, 1, 'manual');
    const review = await failToReview(db.sql, children[0].id);
    const manual = await rejection(db.sql`select taskweave.resolve_review(${review}, 'manual', ${db.sql.json(big(2 * 1024 * 1024))})`);
    expect(manual.code).toBe('22023');
    expect(manual.message).toMatch(/^p_(manual_)?output is too large/);
    expect((await getTask(db.sql, children[0].id)).status).toBe('needs_human_review');
  });

  it('p_error is stored once: the task and its review hold it, the history keeps only its category and message head', async () => {
    const { children } = await createFanOut(db.sql, 1, 'stored once');
    const error = { category: 'model', message: 'provider said 500: ' + 'y'.repeat(500), provider: { response_body: 'z'.repeat(20_000) } };
    const review = await failToReview(db.sql, children[0].id, error);
    const [row] = await db.sql`select error from taskweave.human_reviews where id = ${review}`;
    expect(row.error).toMatchObject(error);
    expect((await getTask(db.sql, children[0].id)).last_error).toMatchObject(error);
    const [event] = await db.sql`
      select detail from taskweave.task_events where task_id = ${children[0].id} and to_status = 'needs_human_review'`;
    expect(event.detail.error).toEqual({ category: 'model', message: error.message.slice(0, 200), stored_in: 'tasks.last_error' });
    expect(JSON.stringify(event.detail)).not.toContain('zzzz');
  });
});

describe('finding 8: counters that cannot overflow', () => {
  it('a model request whose tokens pass 2^31 - 1 is counted in bigint', async () => {
    await db.sql`select taskweave.set_model_limits('overflow-model', 1000, null)`;
    const root = await createRoot(db.sql, 'tokens');
    await claim(db.sql, root.id, 'w');
    await db.sql`select taskweave.begin_model_step(${root.id}, 'w', 'overflow-model')`;
    await db.sql`update taskweave_private.model_requests set tokens = 2147483000 where task_id = ${root.id}`;
    await db.sql`select taskweave.append_task_message(${root.id}, 'w', 'assistant', '{"text":"hi"}', '{"input_tokens": 1000, "output_tokens": 0}')`;
    const [row] = await db.sql`select tokens::text as tokens from taskweave_private.model_requests where task_id = ${root.id}`;
    expect(row.tokens).toBe('2147484000');
  });
});

describe('finding 12: history and finished tasks are immutable, and only the SQL API moves a task', () => {
  it('no role deletes, updates or truncates task_events: service_role, and the superuser owner too', async () => {
    const root = await createRoot(db.sql, 'history');
    const before = await eventCount(db.sql);
    for (const statement of [
      `delete from taskweave.task_events where task_id = '${root.id}'`,
      `update taskweave.task_events set actor = 'someone else' where task_id = '${root.id}'`,
      'truncate taskweave.task_events cascade',
    ]) {
      expect((await rejection(asIdentity(db.sql, serviceRole, (tx) => tx.unsafe(statement)))).code, statement).toBe('42501');
      expect((await rejection(db.sql.unsafe(statement))).code, `${statement} as postgres`).toBe('42501');
    }
    expect(await eventCount(db.sql)).toBe(before);
    expect((await rejection(db.sql`delete from taskweave.tasks where id = ${root.id}`)).code).toBe('42501');
  });

  it('a completed task\'s row never changes, for service_role and the owner alike', async () => {
    const root = await createRoot(db.sql, 'finished');
    await finish(db.sql, root.id, { answer: 42 });
    const statement = `update taskweave.tasks set output = '{"answer": 0}' where id = '${root.id}'`;
    expect((await rejection(asIdentity(db.sql, serviceRole, (tx) => tx.unsafe(statement)))).code).toBe('42501');
    expect(await rejection(db.sql.unsafe(statement))).toEqual({ code: '55000', message: `task ${root.id} is completed: a finished task's row never changes` });
    expect((await getTask(db.sql, root.id)).output).toEqual({ answer: 42 });
  });

  it('service_role cannot move a queued aggregator to pending, nor any task, by writing the table', async () => {
    const { root, aggregator } = await createFanOut(db.sql, 2, 'past the join');
    const before = await eventCount(db.sql);
    for (const statement of [
      `update taskweave.tasks set status = 'pending' where id = '${aggregator.id}'`,
      `update taskweave.tasks set status = 'cancelled' where id = '${root.id}'`,
      `insert into taskweave.task_events (task_id, event, actor) values ('${root.id}', 'forged', 'someone')`,
    ]) {
      const denied = await rejection(asIdentity(db.sql, serviceRole, (tx) => tx.unsafe(statement)));
      expect(denied.code, statement).toBe('42501');
    }
    // from a DO block or a function of its own: the outermost caller is not the API
    const block = await rejection(
      asIdentity(db.sql, serviceRole, (tx) =>
        tx.unsafe(`do $$ begin execute 'update taskweave.tasks set status = ''pending'' where id = ''${aggregator.id}'' /*' || chr(10) ||
          'PL/pgSQL function taskweave.complete_task(uuid,text,jsonb) line 9 at SQL statement*/'; end $$`),
      ),
    );
    expect(block.code).toBe('42501');
    // refused for coming from outside the API before its values are looked at (the guard fires before the
    // creation-time rules), and a heartbeat-like write of a running task's lease as well
    for (const statement of [
      `insert into taskweave.tasks (id, root_task_id, title, instructions) values ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-0000000000c1', '   ', 'x')`,
      `update taskweave.tasks set title = '' where id = '${root.id}'`,
      `update taskweave.tasks set lease_expires_at = now() + interval '1 hour' where id = '${root.id}'`,
      `delete from taskweave.tasks where id = '${root.id}'`,
    ]) {
      expect(await rejection(asIdentity(db.sql, serviceRole, (tx) => tx.unsafe(statement))), statement).toMatchObject({ code: '42501' });
    }
    expect(await getTask(db.sql, aggregator.id)).toMatchObject({ status: 'queued' });
    expect(await getTask(db.sql, root.id)).toMatchObject({ status: 'pending' });
    expect(await eventCount(db.sql)).toBe(before);
  });

  it('even code inside the API cannot activate an aggregator before its join rule holds (every role but a superuser)', async () => {
    const { aggregator } = await createFanOut(db.sql, 2, 'join rule');
    await db.sql.unsafe(`create function taskweave_private.tw_test_force_activation(p_id uuid) returns void language plpgsql set search_path = '' as
      $$ begin update taskweave.tasks set status = 'pending' where id = p_id; end $$`);
    await db.sql.unsafe('grant execute on function taskweave_private.tw_test_force_activation(uuid) to service_role');
    try {
      const denied = await rejection(asIdentity(db.sql, serviceRole, (tx) => tx`select taskweave_private.tw_test_force_activation(${aggregator.id})`));
      expect(denied).toEqual({ code: '55000', message: `aggregator ${aggregator.id} cannot leave queued: its join rule does not hold (2 of 2 dependencies still open, 0 completed)` });
    } finally {
      await db.sql.unsafe('drop function taskweave_private.tw_test_force_activation(uuid)');
    }
    expect((await getTask(db.sql, aggregator.id)).status).toBe('queued');
  });

  it('the SQL API still works for service_role: create, claim, fail to review, resolve, complete, and the join activates', async () => {
    const as = <T,>(fn: (tx: Sql) => Promise<T>) => asIdentity(db.sql, serviceRole, (tx) => fn(tx as unknown as Sql));
    const root = await as((tx) => createRoot(tx, 'as service_role'));
    const first = await as((tx) => createParallel(tx, root.id, 'first'));
    const second = await as((tx) => createParallel(tx, root.id, 'second'));
    const [aggregator] = await as((tx) => tx<{ id: string }[]>`
      select id from taskweave.create_aggregator_task(${root.id}, ${[first.id, second.id]}::uuid[], 'join', 'combine')`);
    const review = await as((tx) => failToReview(tx, first.id));
    await as((tx) => tx`select taskweave.resolve_review(${review}, 'manual', '{"by": "hand"}')`);
    await as((tx) => claim(tx, second.id, 'w'));
    await as((tx) => complete(tx, second.id, 'w'));
    expect((await getTask(db.sql, aggregator.id)).status).toBe('pending');
    const [event] = await db.sql`select actor from taskweave.task_events where task_id = ${first.id} and to_status = 'completed'`;
    expect(event.actor).toBe('service_role');
  });
});

describe('finding 13: the hint for a move out of a finished status', () => {
  it.each(['completed', 'cancelled'])('says that %s is final and what to do instead', async (status) => {
    const root = await createRoot(db.sql, `final ${status}`);
    if (status === 'completed') await finish(db.sql, root.id);
    else await db.sql`select taskweave.cancel_task(${root.id})`;
    const error = await db.sql`update taskweave.tasks set status = 'pending' where id = ${root.id}`.then(
      () => undefined,
      (e: { code: string; hint?: string }) => e,
    );
    expect(error?.code).toBe('55000');
    expect(error?.hint).toBe(`${status} is final: a finished task never moves again. To do the work again, create a new task.`);
  });
});
