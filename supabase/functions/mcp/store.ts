// The endpoint's reads of tasks and runs, and create_task. Reviews, cancels and the run-state rule are
// the operator module's (../_shared/operator.ts), which the web app uses too; every change goes through
// an API function, which owns the transition.
import type postgres from 'postgres';
import type { TaskStatus } from './schemas.ts';
import { aggregatorProgress, type AggregatorProgressRow } from '../_shared/aggregator-progress.ts';

export type Sql = postgres.Sql<Record<string, unknown>>;
type Json = postgres.JSONValue;

export interface TaskRow {
  id: string;
  parent_task_id: string | null;
  root_task_id: string;
  title: string;
  status: TaskStatus;
  is_parallel_task: boolean;
  dependent_task_ids: string[];
  attempt: number;
  max_attempts: number;
  usage: Record<string, unknown> | null;
  last_error: Record<string, unknown> | null;
  activated_by: string | null;
  /** an aggregator's join deadline: it activates then, review or not */
  wait_until: Date | null;
  created_at: Date;
  updated_at: Date;
  /** only loaded for the task asked about and the run's answer */
  output?: unknown;
}

export interface RunRow {
  root_task_id: string;
  max_tasks: number | null;
  max_tokens: string | number | null;
  max_cost_usd: string | number | null;
  cost_usd: string | number;
  deadline_at: Date | null;
  task_count: number;
  input_tokens: string | number;
  output_tokens: string | number;
  model_steps: number;
}

/** An aggregator's join progress, as the one query in _shared/aggregator-progress.ts reads it. */
export type ProgressRow = Omit<AggregatorProgressRow, 'dependent_task_ids'>;

const TASK_COLUMNS = 'id, parent_task_id, root_task_id, title, status, is_parallel_task, dependent_task_ids, attempt, max_attempts, usage, last_error, activated_by, wait_until, created_at, updated_at';

export async function createTask(
  sql: Sql,
  args: { title: string; instructions: string; input: Record<string, unknown>; limits: Record<string, number | null>; agent: string | null },
) {
  const [task] = await sql<{ id: string; title: string; status: TaskStatus }[]>`
    select id, title, status from taskweave.create_task(${args.title}, ${args.instructions}, ${sql.json(args.input as Json)}, ${sql.json(args.limits as Json)}, ${args.agent})`;
  return task;
}

/** The task, with its output. */
export async function loadTask(sql: Sql, id: string): Promise<(TaskRow & { output: unknown }) | undefined> {
  const [task] = await sql<(TaskRow & { output: unknown })[]>`select ${sql.unsafe(TASK_COLUMNS)}, output from taskweave.tasks where id = ${id}`;
  return task;
}

/**
 * The task and everything under it, without outputs (a wide run's outputs can be large). A root's
 * subtree is its run, read through the root_task_id index; another task's is walked down parent links.
 */
export async function loadSubtree(sql: Sql, task: { id: string; root_task_id: string }): Promise<TaskRow[]> {
  if (task.id === task.root_task_id) {
    return sql<TaskRow[]>`select ${sql.unsafe(TASK_COLUMNS)} from taskweave.tasks where root_task_id = ${task.id} order by created_at, id`;
  }
  return sql<TaskRow[]>`
    with recursive sub as (
      select * from taskweave.tasks where id = ${task.id}
      union all
      select t.* from taskweave.tasks t join sub on t.parent_task_id = sub.id
    )
    select ${sql.unsafe(TASK_COLUMNS)} from sub order by created_at, id`;
}

export async function loadRun(sql: Sql, rootTaskId: string): Promise<RunRow | undefined> {
  const [run] = await sql<RunRow[]>`
    select root_task_id, max_tasks, max_tokens, max_cost_usd, cost_usd, deadline_at, task_count, input_tokens, output_tokens, model_steps
      from taskweave.runs where root_task_id = ${rootTaskId}`;
  return run;
}

/** Join progress of these aggregators: one query, dependencies counted by status. */
export async function loadProgress(sql: Sql, aggregatorIds: string[]): Promise<ProgressRow[]> {
  return aggregatorProgress(sql, { ids: aggregatorIds });
}
