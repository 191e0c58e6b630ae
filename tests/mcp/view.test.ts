// When a piece of work counts as ended, blocked or running, and what its answer is: the rule behind
// get_task's `state`/`answer` and wait_for_task's return, on rows shaped as the store reads them.
import { describe, expect, it } from 'vitest';
import type { TaskRow } from '../../supabase/functions/mcp/store.ts';
import { kindOf, stateOf, usageOf, versionOf } from '../../supabase/functions/mcp/view.ts';

let clock = 0;
function row(id: string, status: TaskRow['status'], extra: Partial<TaskRow> = {}): TaskRow {
  return {
    id, status, parent_task_id: null, root_task_id: 'root', title: id, is_parallel_task: false, dependent_task_ids: [],
    attempt: 1, max_attempts: 3, usage: {}, last_error: null, activated_by: null, wait_until: null,
    created_at: new Date(++clock * 1000), updated_at: new Date(clock * 1000), ...extra,
  };
}
const child = (id: string, status: TaskRow['status'], parent = 'root') => row(id, status, { parent_task_id: parent, is_parallel_task: true });
const aggregator = (id: string, status: TaskRow['status'], deps: string[], parent = 'root') => row(id, status, { parent_task_id: parent, dependent_task_ids: deps });

describe('the state of a task and everything under it', () => {
  it('is running while anything can move', () => {
    const root = row('root', 'completed');
    const tree = [root, child('a', 'completed'), child('b', 'running'), aggregator('agg', 'queued', ['a', 'b'])];
    expect(stateOf(root, tree).state).toBe('running');
    expect(stateOf(root, [row('root', 'pending')]).state).toBe('running');
  });

  it('needs an operator when what is left waits on a review', () => {
    const root = row('root', 'completed');
    const tree = [root, child('a', 'completed'), child('b', 'needs_human_review'), aggregator('agg', 'queued', ['a', 'b'])];
    expect(stateOf(root, tree).state).toBe('needs_operator');
    // …but not while another task still runs, or while a join deadline will start the aggregator anyway
    expect(stateOf(root, [...tree, child('c', 'pending')]).state).toBe('running');
    const deadlineJoin = tree.map((t) => (t.id === 'agg' ? { ...t, wait_until: new Date(Date.now() + 60_000) } : t));
    expect(stateOf(root, deadlineJoin).state).toBe('running');
  });

  it('has ended as its final aggregator ended, followed down a second fan-out', () => {
    const root = row('root', 'completed');
    const flat = [root, child('a', 'completed'), aggregator('agg', 'completed', ['a'])];
    expect(stateOf(root, flat)).toMatchObject({ state: 'completed', final: { id: 'agg' } });
    const nested = [...flat.slice(0, 2), aggregator('agg', 'completed', ['a']), child('x', 'completed', 'agg'), aggregator('agg2', 'completed', ['x'], 'agg')];
    expect(stateOf(root, nested)).toMatchObject({ state: 'completed', final: { id: 'agg2' } });
    const cancelledJoin = [root, child('a', 'cancelled'), aggregator('agg', 'cancelled', ['a'])];
    expect(stateOf(root, cancelledJoin).state).toBe('cancelled');
  });

  it('ends with the task itself when it did not fan out, or did not complete', () => {
    expect(stateOf(row('root', 'completed'), [row('root', 'completed')])).toMatchObject({ state: 'completed', final: { id: 'root' } });
    const failed = row('root', 'failed');
    expect(stateOf(failed, [failed, child('a', 'cancelled')])).toMatchObject({ state: 'failed', final: { id: 'root' } });
  });
});

describe('small pieces', () => {
  it('names kinds, reads usage whatever its shape, and versions what a follower sees', async () => {
    expect(kindOf(row('r', 'pending'))).toBe('root');
    expect(kindOf(child('c', 'pending'))).toBe('parallel');
    expect(kindOf(aggregator('g', 'queued', ['c']))).toBe('aggregator');
    expect(usageOf({ input_tokens: '12', output_tokens: 3 })).toEqual({ input_tokens: 12, output_tokens: 3, model_steps: 0 });
    expect(usageOf(null)).toEqual({ input_tokens: 0, output_tokens: 0, model_steps: 0 });
    const a = [row('root', 'running'), child('a', 'pending')];
    const same = await versionOf(a);
    expect(await versionOf([...a])).toBe(same);
    expect(await versionOf([a[0], { ...a[1], status: 'running' }])).not.toBe(same);
    expect(await versionOf([a[0], { ...a[1], usage: { input_tokens: 5 } }])).not.toBe(same);
  });
});
