// A task's shape and size caps hold for every write, whichever path it takes (0.3.1 moved five CHECK
// constraints that Postgres parsed on every update into a trigger that fires only when their columns are
// written, and the output/error caps of a status change into the guard trigger).
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { claim, createRoot, getTask, rejection } from '../helpers/tasks.ts';

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
