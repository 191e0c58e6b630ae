// A task's shape, state rules and size caps hold for every write, whichever path it takes. Postgres parses
// every CHECK constraint again for each UPDATE statement, so 0.3.1 moved the five creation-time rules into a
// trigger that fires only when their columns are written, and 0.3.2 moved the four state rules (attempts,
// lease, queued, activated_by) and "a finished row never changes" into the guard trigger. Each still raises
// 23514 naming the constraint it was.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { claim, createFanOut, createRoot, finish, getTask, rejection } from '../helpers/tasks.ts';

const db = useTestDatabase();

const big = (bytes: number) => ({ text: 'x'.repeat(bytes) });

describe('the creation-time rules of a task', () => {
  it('refuse a direct insert that breaks one, with 23514 naming the constraint it was', async () => {
    const id = '00000000-0000-4000-8000-0000000000a1';
    const cases: [string, string][] = [
      [`insert into taskweave.tasks (id, root_task_id, title, instructions) values ('${id}', '${id}', '   ', 'x')`, 'tasks_title_check'],
      [`insert into taskweave.tasks (id, root_task_id, title, instructions, input) values ('${id}', '${id}', 't', 'x', '[1]')`, 'tasks_input_is_object'],
      [`insert into taskweave.tasks (id, root_task_id, title, instructions) values ('${id}', gen_random_uuid(), 't', 'x')`, 'tasks_root_check'],
      [
        `insert into taskweave.tasks (id, root_task_id, title, instructions, dependent_task_ids, min_completed, status)
         values ('${id}', '${id}', 't', 'x', array[gen_random_uuid()], 2, 'queued')`,
        'tasks_min_completed_check',
      ],
    ];
    for (const [statement, constraint] of cases) {
      const error = await db.sql.unsafe(statement).then(
        () => null,
        (e: { code: string; constraint_name?: string; message: string }) => e,
      );
      expect(error, constraint).toMatchObject({ code: '23514', constraint_name: constraint });
      expect(error!.message).toBe(`new row for relation "tasks" violates check constraint "${constraint}"`);
    }
    const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks where id = ${id}`;
    expect(n).toBe(0);
  });

  it('refuse an update of one of those columns that breaks a rule, and of an instruction past its cap', async () => {
    const root = await createRoot(db.sql, 'shape');
    expect(await rejection(db.sql`update taskweave.tasks set title = '' where id = ${root.id}`)).toMatchObject({ code: '23514' });
    expect(await rejection(db.sql`update taskweave.tasks set input = '"text"' where id = ${root.id}`)).toMatchObject({ code: '23514' });
    expect(await rejection(db.sql`update taskweave.tasks set instructions = ${'i'.repeat(200_001)} where id = ${root.id}`)).toMatchObject({
      code: '22023',
      message: 'p_instructions is too long: 200001 characters, the cap is 200000 characters',
    });
    // a multibyte title of 500 characters is over 500 bytes but within the cap
    await db.sql`update taskweave.tasks set title = ${'é'.repeat(500)} where id = ${root.id}`;
    expect((await getTask(db.sql, root.id)).title).toBe('é'.repeat(500));
  });
});

describe('the state rules of a task', () => {
  const broken = async (statement: string) =>
    db.sql.unsafe(statement).then(
      () => null,
      (e: { code: string; constraint_name?: string; message: string }) => e,
    );

  it('refuse a direct write that breaks one, with 23514 naming the constraint it was, and change nothing', async () => {
    const pending = await createRoot(db.sql, 'pending');
    const running = await createRoot(db.sql, 'running');
    await claim(db.sql, running.id, 'w');
    const { aggregator } = await createFanOut(db.sql, 2, 'queued');
    const before = await db.sql`select id, status, attempt, max_attempts, leased_by, lease_expires_at, activated_by, dependent_task_ids, updated_at
                                  from taskweave.tasks order by id`;
    const [{ events }] = await db.sql<{ events: number }[]>`select count(*)::int as events from taskweave.task_events`;
    const cases: [string, string][] = [
      [`update taskweave.tasks set attempt = -1 where id = '${pending.id}'`, 'tasks_attempts_check'],
      [`update taskweave.tasks set max_attempts = 0 where id = '${pending.id}'`, 'tasks_attempts_check'],
      [`update taskweave.tasks set max_attempts = 101 where id = '${running.id}'`, 'tasks_attempts_check'],
      [`update taskweave.tasks set leased_by = null where id = '${running.id}'`, 'tasks_lease_check'],
      [`update taskweave.tasks set lease_expires_at = null where id = '${running.id}'`, 'tasks_lease_check'],
      [`update taskweave.tasks set leased_by = 'w', lease_expires_at = now() where id = '${pending.id}'`, 'tasks_lease_check'],
      // a move into running without a lease
      [`update taskweave.tasks set status = 'running' where id = '${pending.id}'`, 'tasks_lease_check'],
      [`update taskweave.tasks set activated_by = 'whim' where id = '${pending.id}'`, 'tasks_activated_by_check'],
      [`update taskweave.tasks set dependent_task_ids = '{}' where id = '${aggregator.id}'`, 'tasks_queued_is_aggregator'],
      [`insert into taskweave.tasks (id, root_task_id, title, instructions, status)
        values ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000b1', 't', 'x', 'queued')`, 'tasks_queued_is_aggregator'],
    ];
    for (const [statement, constraint] of cases) {
      const error = await broken(statement);
      expect(error, statement).toMatchObject({ code: '23514', constraint_name: constraint });
      expect(error!.message).toBe(`new row for relation "tasks" violates check constraint "${constraint}"`);
    }
    expect(await db.sql`select id, status, attempt, max_attempts, leased_by, lease_expires_at, activated_by, dependent_task_ids, updated_at
                          from taskweave.tasks order by id`).toEqual(before);
    const [{ after }] = await db.sql<{ after: number }[]>`select count(*)::int as after from taskweave.task_events`;
    expect(after).toBe(events);
  });

  it('let a write that keeps them pass, with or without a move', async () => {
    const root = await createRoot(db.sql, 'fine');
    await db.sql`update taskweave.tasks set max_attempts = 100, attempt = 2 where id = ${root.id}`;
    await claim(db.sql, root.id, 'w');
    // a heartbeat's write: the lease moves on, the status stays
    await db.sql`update taskweave.tasks set lease_expires_at = now() + interval '10 minutes' where id = ${root.id}`;
    expect(await getTask(db.sql, root.id)).toMatchObject({ status: 'running', attempt: 3, max_attempts: 100, leased_by: 'w' });
  });

  it('keep a finished task\'s row as it is, even with the status written again', async () => {
    const root = await createRoot(db.sql, 'done');
    await finish(db.sql, root.id, { answer: 1 });
    for (const statement of [
      `update taskweave.tasks set status = 'completed', output = '{"answer": 2}' where id = '${root.id}'`,
      `update taskweave.tasks set attempt = 9 where id = '${root.id}'`,
    ]) {
      expect(await rejection(db.sql.unsafe(statement)), statement).toEqual({
        code: '55000',
        message: `task ${root.id} is completed: a finished task's row never changes`,
      });
    }
    // writing what is already there changes nothing, so it passes
    await db.sql`update taskweave.tasks set status = 'completed' where id = ${root.id}`;
    expect(await getTask(db.sql, root.id)).toMatchObject({ status: 'completed', output: { answer: 1 }, attempt: 1 });
  });
});

describe('the size caps of what a move writes', () => {
  it('hold for complete_and_claim and for a direct write of output without a status change', async () => {
    const root = await createRoot(db.sql, 'caps');
    await createRoot(db.sql, 'next');
    await claim(db.sql, root.id, 'w');
    const denied = await rejection(db.sql`select * from taskweave.complete_and_claim(${root.id}, 'w', ${db.sql.json(big(2 * 1024 * 1024))})`);
    expect(denied.code).toBe('22023');
    expect(denied.message).toMatch(/^p_output is too large: \d+ bytes, the cap is 1048576 bytes$/);
    expect(await getTask(db.sql, root.id)).toMatchObject({ status: 'running', output: null });

    const written = await rejection(db.sql`update taskweave.tasks set output = ${db.sql.json(big(2 * 1024 * 1024))} where id = ${root.id}`);
    expect(written.message).toMatch(/^p_output is too large/);
    const reason = await rejection(db.sql`update taskweave.tasks set cancel_reason = ${'r'.repeat(10_001)} where id = ${root.id}`);
    expect(reason).toMatchObject({ code: '22023', message: 'p_note is too long: 10001 characters, the cap is 10000 characters' });
  });
});
