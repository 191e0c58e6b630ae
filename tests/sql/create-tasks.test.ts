import { describe, expect, it } from 'vitest';
import { setSettings, useTestDatabase } from '../helpers/database.ts';
import { createAggregator, createParallel, createRoot, finish, getTask, rejection } from '../helpers/tasks.ts';

const db = useTestDatabase();

async function taskCount() {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks`;
  return row.n;
}

describe('create_task', () => {
  it('creates a pending root that is its own root, at depth 0, with a created event', async () => {
    const root = await createRoot(db.sql, 'research', { topic: 'tides' });
    expect(root).toMatchObject({ status: 'pending', root_task_id: root.id, parent_task_id: null, depth: 0, is_parallel_task: false, attempt: 0 });
    const events = await db.sql`select event, to_status from taskweave.task_events where task_id = ${root.id}`;
    expect(events).toEqual([{ event: 'created', to_status: 'pending' }]);
  });

  it('rejects an empty title and a non-object input with 22023, creating nothing', async () => {
    const before = await taskCount();
    expect(await rejection(db.sql`select taskweave.create_task('   ', 'x')`)).toEqual({ code: '22023', message: 'p_title must not be empty' });
    expect(await rejection(db.sql`select taskweave.create_task('t', 'x', '[1,2]'::jsonb)`)).toEqual({
      code: '22023',
      message: 'p_input must be a JSON object (got array)',
    });
    expect(await rejection(db.sql`select taskweave.create_task('t', null)`)).toEqual({ code: '22023', message: 'p_instructions must not be null' });
    expect(await taskCount()).toBe(before);
  });
});

describe('create_parallel_task', () => {
  it('creates a pending parallel child in the same root, one level deeper', async () => {
    const root = await createRoot(db.sql);
    const child = await createParallel(db.sql, root.id, 'part');
    expect(child).toMatchObject({ status: 'pending', parent_task_id: root.id, root_task_id: root.id, is_parallel_task: true, depth: 1 });
    const grandchild = await createParallel(db.sql, child.id, 'sub-part');
    expect(grandchild).toMatchObject({ parent_task_id: child.id, root_task_id: root.id, depth: 2 });
  });

  it('returns the existing task for the same (parent, tool_call_id) and arguments; other arguments are TW006', async () => {
    const root = await createRoot(db.sql);
    const first = await createParallel(db.sql, root.id, 'part', 'call_1');
    const again = await createParallel(db.sql, root.id, 'part', 'call_1');
    expect(again.id).toBe(first.id);
    expect(again.title).toBe('part');
    expect(await rejection(createParallel(db.sql, root.id, 'part (other arguments)', 'call_1'))).toEqual({
      code: 'TW006',
      message: `tool call call_1 of task ${root.id} already created task ${first.id} with other arguments`,
    });
    const other = await createParallel(db.sql, root.id, 'part', 'call_2');
    expect(other.id).not.toBe(first.id);
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks where parent_task_id = ${root.id}`;
    expect(row.n).toBe(2);
  });

  it('is idempotent under concurrency: 20 connections replaying one tool call create one task', async () => {
    const root = await createRoot(db.sql);
    const clients = Array.from({ length: 20 }, () => db.client(1));
    const ids = await Promise.all(
      clients.map(async (c) => (await createParallel(c, root.id, 'part', 'call_same')).id),
    );
    expect(new Set(ids).size).toBe(1);
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks where parent_task_id = ${root.id}`;
    expect(row.n).toBe(1);
  });

  it('rejects an unknown parent (P0002) and a parent that has ended (55000)', async () => {
    const missing = '00000000-0000-4000-8000-000000000001';
    expect(await rejection(createParallel(db.sql, missing))).toEqual({ code: 'P0002', message: `parent task ${missing} not found` });
    const root = await createRoot(db.sql);
    await finish(db.sql, root.id);
    expect(await rejection(createParallel(db.sql, root.id))).toEqual({
      code: '55000',
      message: `parent task ${root.id} has already ended (status completed); it cannot start new tasks`,
    });
  });

  it('enforces the children-per-task and depth limits with clear errors', async () => {
    const root = await createRoot(db.sql);
    // a session parameter is no setting: only set_settings changes a limit
    const limited = db.client(1);
    await limited`set taskweave.max_children_per_task = 1`;
    await setSettings(db.sql, { max_children_per_task: 2 });
    await createParallel(limited, root.id, 'a');
    await createParallel(limited, root.id, 'b');
    expect(await rejection(createParallel(limited, root.id, 'c'))).toEqual({
      code: '22023',
      message: `task ${root.id} already has 2 child tasks, the most one task may create; combine the work into fewer tasks`,
    });
    const deepRoot = await createRoot(db.sql);
    const level1 = await createParallel(db.sql, deepRoot.id, 'l1');
    await setSettings(db.sql, { max_depth: 1 });
    expect(await rejection(createParallel(limited, level1.id, 'l2'))).toEqual({
      code: '22023',
      message: `nesting too deep: task ${level1.id} is at depth 1, and tasks may nest at most 1 levels; do this work in the task itself`,
    });
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks where parent_task_id in (${root.id}, ${level1.id})`;
    expect(row.n).toBe(2);
    await setSettings(db.sql, { max_children_per_task: null, max_depth: null });
  });
});

describe('create_aggregator_task', () => {
  it('starts queued while a dependency is open', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    const b = await createParallel(db.sql, root.id, 'b');
    const agg = await createAggregator(db.sql, root.id, [a.id, b.id]);
    expect(agg).toMatchObject({ status: 'queued', dependent_task_ids: [a.id, b.id], is_parallel_task: true, depth: 1 });
  });

  it('starts pending at once when every dependency has already ended', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    const b = await createParallel(db.sql, root.id, 'b');
    await finish(db.sql, a.id);
    await finish(db.sql, b.id);
    const agg = await createAggregator(db.sql, root.id, [a.id, b.id]);
    expect(agg.status).toBe('pending');
  });

  it('rejects bad dependency lists, naming the bad id, and creates nothing', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    const otherRoot = await createRoot(db.sql, 'other');
    const foreign = await createParallel(db.sql, otherRoot.id, 'foreign');
    const missing = '00000000-0000-4000-8000-0000000000ff';
    const before = await taskCount();

    expect(await rejection(createAggregator(db.sql, root.id, []))).toEqual({ code: '22023', message: 'p_dependent_task_ids must not be empty' });
    expect(await rejection(db.sql`select taskweave.create_aggregator_task(${root.id}, null, 't', 'i')`)).toEqual({
      code: '22023',
      message: 'p_dependent_task_ids must not be empty',
    });
    expect(await rejection(createAggregator(db.sql, root.id, [a.id, a.id]))).toEqual({
      code: '22023',
      message: `dependency ${a.id} is listed more than once`,
    });
    expect(await rejection(createAggregator(db.sql, root.id, [a.id, missing]))).toEqual({
      code: '22023',
      message: `dependency ${missing} does not exist`,
    });
    expect(await rejection(createAggregator(db.sql, root.id, [a.id, root.id]))).toEqual({
      code: '22023',
      message: `dependency ${root.id} is not a parallel task`,
    });
    expect(await rejection(createAggregator(db.sql, root.id, [a.id, foreign.id]))).toEqual({
      code: '22023',
      message: `dependency ${foreign.id} belongs to root task ${otherRoot.id}, not to root task ${root.id}`,
    });
    expect(await rejection(db.sql`select taskweave.create_aggregator_task(${root.id}, array[${a.id}::uuid, null], 't', 'i')`)).toEqual({
      code: '22023',
      message: 'p_dependent_task_ids must not contain null',
    });
    await setSettings(db.sql, { max_aggregator_dependencies: 1 });
    expect(await rejection(createAggregator(db.sql, root.id, [a.id, foreign.id]))).toEqual({
      code: '22023',
      message: 'an aggregator may wait for at most 1 tasks (got 2)',
    });
    await setSettings(db.sql, { max_aggregator_dependencies: null });
    expect(await taskCount()).toBe(before);
  });

  it('is idempotent on (parent, tool_call_id)', async () => {
    const root = await createRoot(db.sql);
    const a = await createParallel(db.sql, root.id, 'a');
    const first = await createAggregator(db.sql, root.id, [a.id], 'sum', 'call_agg');
    const again = await createAggregator(db.sql, root.id, [a.id], 'sum', 'call_agg');
    expect(again.id).toBe(first.id);
    const b = await createParallel(db.sql, root.id, 'b');
    expect(await rejection(createAggregator(db.sql, root.id, [a.id, b.id], 'sum', 'call_agg'))).toEqual({
      code: 'TW006',
      message: `tool call call_agg of task ${root.id} already created task ${first.id} with other arguments`,
    });
    expect((await getTask(db.sql, first.id)).dependent_task_ids).toEqual([a.id]);
  });
});
