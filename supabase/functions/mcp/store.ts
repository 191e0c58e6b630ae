// The endpoint's reads and its calls of the SQL API (schema taskweave). It changes data only through
// the API functions (create_task, resolve_review, cancel_task), which own every transition; the rest
// are reads shaped for the tools.
import type postgres from 'postgres';
import type { TaskStatus } from './schemas.ts';
import { aggregatorProgress } from '../_shared/aggregator-progress.ts';

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
  deadline_at: Date | null;
  task_count: number;
  input_tokens: string | number;
  output_tokens: string | number;
  model_steps: number;
}

export interface ProgressRow {
  id: string;
  title: string;
  status: TaskStatus;
  total: number;
  ended: number;
  completed: number;
  activated_by: string | null;
}

export interface OpenReviewRow {
  id: string;
  task_id: string;
  error: Record<string, unknown> | null;
  created_at: Date;
  cursor_at: string;
  title: string;
  instructions: string;
  task_status: TaskStatus;
  attempt: number;
  max_attempts: number;
  root_task_id: string;
}

const TASK_COLUMNS = 'id, parent_task_id, root_task_id, title, status, is_parallel_task, dependent_task_ids, attempt, max_attempts, usage, last_error, activated_by, wait_until, created_at, updated_at';

export async function createTask(sql: Sql, args: { title: string; instructions: string; input: Record<string, unknown>; limits: Record<string, number | null> }) {
  const [task] = await sql<{ id: string; title: string; status: TaskStatus }[]>`
    select id, title, status from taskweave.create_task(${args.title}, ${args.instructions}, ${sql.json(args.input as Json)}, ${sql.json(args.limits as Json)})`;
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

export async function loadOutput(sql: Sql, id: string): Promise<unknown> {
  const [row] = await sql<{ output: unknown }[]>`select output from taskweave.tasks where id = ${id}`;
  return row?.output ?? null;
}

export async function loadRun(sql: Sql, rootTaskId: string): Promise<RunRow | undefined> {
  const [run] = await sql<RunRow[]>`
    select root_task_id, max_tasks, max_tokens, deadline_at, task_count, input_tokens, output_tokens, model_steps
      from taskweave.runs where root_task_id = ${rootTaskId}`;
  return run;
}

/** Join progress of these aggregators: one query, dependencies counted by status. */
export async function loadProgress(sql: Sql, aggregatorIds: string[]): Promise<ProgressRow[]> {
  return aggregatorProgress(sql, { ids: aggregatorIds });
}

/** Aggregators that wait for any of these tasks, with their progress. */
export async function loadAggregatorsOf(sql: Sql, taskIds: string[]): Promise<(ProgressRow & { dependent_task_ids: string[] })[]> {
  return aggregatorProgress(sql, { waitingFor: taskIds });
}

export async function openReviewsFor(sql: Sql, taskIds: string[]): Promise<{ id: string; task_id: string; error: Record<string, unknown> | null }[]> {
  if (taskIds.length === 0) return [];
  return sql<{ id: string; task_id: string; error: Record<string, unknown> | null }[]>`
    select id, task_id, error from taskweave.human_reviews
     where status = 'open' and task_id = any (${taskIds}::uuid[])
     order by created_at, id`;
}

/** Open reviews, oldest first, keyset-paginated on (created_at, id) like the reviews page. */
export async function listOpenReviews(
  sql: Sql,
  options: { after?: { at: string; id: string }; limit: number; rootTaskId?: string },
): Promise<{ rows: OpenReviewRow[]; hasMore: boolean; total: number }> {
  const root = options.rootTaskId ? sql`and t.root_task_id = ${options.rootTaskId}` : sql``;
  const after = options.after
    ? sql`and (r.created_at, r.id) > (${options.after.at}::text::timestamptz, ${options.after.id}::uuid)`
    : sql``;
  const rows = await sql<OpenReviewRow[]>`
    select r.id, r.task_id, r.error, r.created_at, r.created_at::text as cursor_at,
           t.title, t.instructions, t.status as task_status, t.attempt, t.max_attempts, t.root_task_id
      from taskweave.human_reviews r
      join taskweave.tasks t on t.id = r.task_id
     where r.status = 'open' ${root} ${after}
     order by r.created_at, r.id
     limit ${options.limit + 1}`;
  const [{ total }] = await sql<{ total: number }[]>`
    select count(*)::int as total
      from taskweave.human_reviews r ${options.rootTaskId ? sql`join taskweave.tasks t on t.id = r.task_id` : sql``}
     where r.status = 'open' ${root}`;
  return { rows: rows.slice(0, options.limit), hasMore: rows.length > options.limit, total };
}

export async function resolveReview(sql: Sql, args: { reviewId: string; action: string; manualOutput: unknown; note: string | null }) {
  return sql.begin(async (tx) => {
    const [review] = await tx<{ id: string; task_id: string; action: 'retry' | 'abort' | 'manual' }[]>`
      select id, task_id, action from taskweave.resolve_review(
        ${args.reviewId}::uuid, ${args.action},
        ${args.manualOutput === undefined ? null : tx.json(args.manualOutput as Json)}::jsonb,
        ${args.note})`;
    const [task] = await tx<{ id: string; title: string; status: TaskStatus }[]>`select id, title, status from taskweave.tasks where id = ${review.task_id}`;
    const aggregators = await loadAggregatorsOf(tx as unknown as Sql, [review.task_id]);
    return { review, task, aggregators };
  });
}

export async function reviewState(sql: Sql, reviewId: string) {
  const [row] = await sql<{ status: string; action: 'retry' | 'abort' | 'manual' | null; resolved_by: string | null; resolved_at: Date | null; title: string }[]>`
    select r.status, r.action, r.resolved_by, r.resolved_at, t.title
      from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id
     where r.id = ${reviewId}`;
  return row;
}

/** cancel_task, and how many tasks it stopped: those under the task that had not ended, counted in the same transaction. */
export async function cancelTask(sql: Sql, taskId: string, note: string | null) {
  return sql.begin(async (tx) => {
    const open = await tx<{ id: string }[]>`
      with recursive sub as (
        select id, status from taskweave.tasks where id = ${taskId}
        union all
        select t.id, t.status from taskweave.tasks t join sub on t.parent_task_id = sub.id
      )
      select id from sub where status not in ('completed', 'failed', 'cancelled')`;
    const [task] = await tx<{ id: string; title: string; status: TaskStatus }[]>`
      select id, title, status from taskweave.cancel_task(${taskId}::uuid, ${note})`;
    const [{ stopped }] = await tx<{ stopped: number }[]>`
      select count(*)::int as stopped from taskweave.tasks where id = any (${open.map((o) => o.id)}::uuid[]) and status = 'cancelled'`;
    return { task, stopped };
  });
}
