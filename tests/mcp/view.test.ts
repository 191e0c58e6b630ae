// The small pieces of get_task's view, on rows shaped as the store reads them. When a piece of work counts
// as ended, blocked or running, and what its answer is, is SQL's rule now (taskweave.task_states), tested
// against a real database in tests/sql/task-states.test.ts.
import { describe, expect, it } from 'vitest';
import type { TaskRow } from '../../supabase/functions/mcp/store.ts';
import { kindOf, usageOf, versionOf } from '../../supabase/functions/mcp/view.ts';

let clock = 0;
function row(id: string, status: TaskRow['status'], extra: Partial<TaskRow> = {}): TaskRow {
  return {
    id, status, parent_task_id: null, root_task_id: 'root', title: id, is_parallel_task: false, dependent_task_ids: [],
    attempt: 1, max_attempts: 3, usage: {}, last_error: null, activated_by: null, wait_until: null,
    created_at: new Date(++clock * 1000), updated_at: new Date(clock * 1000), ...extra,
  };
}
const child = (id: string, status: TaskRow['status'], parent = 'root') => row(id, status, { parent_task_id: parent, is_parallel_task: true });
const aggregator = (id: string, status: TaskRow['status'], deps: string[], parent = 'root') => row(id, status, { parent_task_id: parent, dependent_task_ids: deps, is_parallel_task: true });

describe('small pieces', () => {
  it('names kinds, reads usage whatever its shape, and versions what a follower sees', async () => {
    expect(kindOf(row('r', 'pending'))).toBe('root');
    expect(kindOf(child('c', 'pending'))).toBe('parallel');
    expect(kindOf(aggregator('g', 'queued', ['c']))).toBe('aggregator');
    expect(usageOf({ input_tokens: '12', output_tokens: 3, cost_usd: '0.0042' })).toEqual({ input_tokens: 12, output_tokens: 3, model_steps: 0, cost_usd: 0.0042 });
    expect(usageOf(null)).toEqual({ input_tokens: 0, output_tokens: 0, model_steps: 0, cost_usd: 0 });
    const a = [row('root', 'running'), child('a', 'pending')];
    const same = await versionOf(a);
    expect(await versionOf([...a])).toBe(same);
    expect(await versionOf([a[0], { ...a[1], status: 'running' }])).not.toBe(same);
    expect(await versionOf([a[0], { ...a[1], usage: { input_tokens: 5 } }])).not.toBe(same);
  });
});
