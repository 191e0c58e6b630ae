import 'server-only';
// Tasks as operators see them: one task with its run, fan-out group, transcript and history, and the
// overview's counts. Reads only; every state change goes through the SQL API (service.ts). Rows are the
// generated types' rows (`Tables<'tasks'>`), as the pool returns them.
import { workStates, type TaskWork } from '../../../supabase/functions/_shared/operator';
import { toolCallsOf, type ToolCallRow } from '../agents/queries';
import { withClaims, type Claims, type Sql, type Tx } from '../../lib/db/identity';
import { ENDED_STATUSES, TASK_STATUSES, type TaskStatus, type Tables } from '../../lib/db/types';

export type Task = Tables<'tasks'>;
export type RunRow = Tables<'runs'>;

/** A task as a node of the fan-out picture. */
export type TaskNode = Pick<Task, 'id' | 'title' | 'status' | 'is_parallel_task' | 'dependent_task_ids' | 'attempt'> & { child_count: number };
export type TaskMessage = Pick<Tables<'task_messages'>, 'seq' | 'role' | 'content' | 'usage' | 'created_at'>;
export type TaskEvent = Tables<'task_events'>;
export type TaskReview = Tables<'human_reviews'>;

export interface TaskDetail {
  task: Task;
  /** The run this task belongs to: its root's budget and usage (null for rows made before runs existed). */
  run: RunRow | null;
  parent: TaskNode | null;
  root: TaskNode | null;
  /** The fan-out this task belongs to: its parent (or itself, for a root) and that task's children. */
  group: { parent: TaskNode; children: TaskNode[] } | null;
  /** This task's own children when the group shown is its siblings' */
  children: TaskNode[];
  messages: TaskMessage[];
  events: TaskEvent[];
  reviews: TaskReview[];
  /** The task's calls of registered tools (taskweave.tool_calls), oldest first, texts cut to a preview */
  toolCalls: ToolCallRow[];
  /**
   * Where the work under this task stands (for a root: the run) and its answer once it completed: the
   * operator module's one rule, taskweave.task_states, which MCP get_task reports too.
   */
  work: TaskWork | null;
  /** tasks.model_wait_until while it is in the future: the task waits on its model's rate limit (no room in the window) */
  waitingForModelUntil: string | null;
  /** How many tasks Cancel would stop: this one and its descendants that have not ended. */
  cancellable: number;
  /** true when the transcript or timeline was cut to the most recent rows */
  truncated: { messages: boolean; events: boolean };
}

const TIMELINE_LIMIT = 500;
const GROUP_LIMIT = 500;

const nodeColumns = (tx: Tx) => tx`
  n.id, n.title, n.status, n.is_parallel_task, n.dependent_task_ids, n.attempt,
  (select count(*)::int from taskweave.tasks c where c.parent_task_id = n.id) as child_count`;

/** Whether a task exists for this viewer: the cheap check a page makes before it starts streaming. */
export async function taskExists(sql: Sql, claims: Claims, taskId: string): Promise<boolean> {
  return withClaims(sql, claims, async (tx) => {
    const rows = await tx`select 1 from taskweave.tasks where id = ${taskId}`;
    return rows.length > 0;
  });
}

/** How many tasks cancelling this one stops: the task and every descendant that has not ended. */
export async function countCancellable(tx: Tx, taskId: string): Promise<number> {
  const [{ n }] = await tx<{ n: number }[]>`
    with recursive tree as (
      select t.id, t.status from taskweave.tasks t where t.id = ${taskId}
      union all
      select c.id, c.status from taskweave.tasks c join tree on c.parent_task_id = tree.id
    )
    select count(*)::int as n from tree where status <> all (${ENDED_STATUSES as unknown as string[]}::taskweave.task_status[])`;
  return n;
}

/** One task and everything the task page shows, or null when it does not exist (or RLS hides it). */
export async function getTaskDetail(sql: Sql, claims: Claims, taskId: string): Promise<TaskDetail | null> {
  return withClaims(sql, claims, async (tx) => {
    const [task] = await tx<Task[]>`select * from taskweave.tasks where id = ${taskId}`;
    if (!task) return null;

    const groupParentId = task.parent_task_id ?? task.id;
    const [runRows, parentRows, rootRows, groupParentRows, siblingRows, childRows, messages, events, reviews, toolCalls, work, cancellable] = await Promise.all([
      tx<RunRow[]>`select * from taskweave.runs where root_task_id = ${task.root_task_id}`,
      task.parent_task_id ? tx<TaskNode[]>`select ${nodeColumns(tx)} from taskweave.tasks n where n.id = ${task.parent_task_id}` : [],
      task.root_task_id !== task.id && task.root_task_id !== task.parent_task_id
        ? tx<TaskNode[]>`select ${nodeColumns(tx)} from taskweave.tasks n where n.id = ${task.root_task_id}`
        : [],
      tx<TaskNode[]>`select ${nodeColumns(tx)} from taskweave.tasks n where n.id = ${groupParentId}`,
      tx<TaskNode[]>`
        select ${nodeColumns(tx)} from taskweave.tasks n
        where n.parent_task_id = ${groupParentId} order by n.created_at, n.id limit ${GROUP_LIMIT}`,
      task.parent_task_id
        ? tx<TaskNode[]>`
            select ${nodeColumns(tx)} from taskweave.tasks n
            where n.parent_task_id = ${task.id} order by n.created_at, n.id limit ${GROUP_LIMIT}`
        : [],
      tx<TaskMessage[]>`
        select seq, role, content, usage, created_at from (
          select seq, role, content, usage, created_at from taskweave.task_messages
          where task_id = ${task.id} order by seq desc limit ${TIMELINE_LIMIT + 1}
        ) m order by seq`,
      tx<TaskEvent[]>`
        select * from (
          select * from taskweave.task_events where task_id = ${task.id} order by id desc limit ${TIMELINE_LIMIT + 1}
        ) e order by id`,
      tx<TaskReview[]>`select * from taskweave.human_reviews where task_id = ${task.id} order by created_at desc`,
      toolCallsOf(tx, task.id),
      workStates(tx, [task.id]),
      countCancellable(tx, task.id),
    ]);

    return {
      task,
      run: runRows[0] ?? null,
      parent: parentRows[0] ?? null,
      root: rootRows[0] ?? null,
      group: groupParentRows[0] && siblingRows.length > 0 ? { parent: groupParentRows[0], children: siblingRows } : null,
      children: childRows,
      messages: messages.slice(-TIMELINE_LIMIT),
      events: events.slice(-TIMELINE_LIMIT),
      reviews,
      toolCalls,
      work: work.get(task.id) ?? null,
      cancellable,
      waitingForModelUntil: task.model_wait_until && Date.parse(task.model_wait_until) > Date.now() ? task.model_wait_until : null,
      truncated: { messages: messages.length > TIMELINE_LIMIT, events: events.length > TIMELINE_LIMIT },
    };
  });
}

export interface RootTaskSummary extends Pick<Task, 'id' | 'title' | 'status' | 'created_at' | 'usage'> {
  /** the run's budget and usage */
  run: RunRow | null;
  descendants: number;
  /** descendants by status */
  by_status: Partial<Record<TaskStatus, number>>;
  /** where the run stands and its answer (the operator module's one rule) */
  work: TaskWork | null;
}

export interface Overview {
  counts: Record<TaskStatus, number>;
  openReviews: number;
  oldestOpenReviewAt: string | null;
  recentRoots: RootTaskSummary[];
}

export async function getOverview(sql: Sql, claims: Claims, recentLimit = 15): Promise<Overview> {
  return withClaims(sql, claims, async (tx) => {
    const [statusRows, [reviews], roots] = await Promise.all([
      tx<{ status: TaskStatus; n: number }[]>`select status, count(*)::int as n from taskweave.tasks group by status`,
      tx<{ open: number; oldest: string | null }[]>`
        select count(*)::int as open, min(created_at) as oldest from taskweave.human_reviews where status = 'open'`,
      tx<(Omit<RootTaskSummary, 'descendants' | 'by_status' | 'work'> & { by_status: RootTaskSummary['by_status'] | null })[]>`
        select r.id, r.title, r.status, r.created_at, r.usage,
               (select to_jsonb(run) from taskweave.runs run where run.root_task_id = r.id) as run,
               (select json_object_agg(s.status, s.n) from (
                  select d.status, count(*)::int as n from taskweave.tasks d
                  where d.root_task_id = r.id and d.id <> r.id group by d.status
               ) s) as by_status
        from taskweave.tasks r
        where r.parent_task_id is null
        order by r.created_at desc
        limit ${recentLimit}`,
    ]);
    const work = await workStates(tx, roots.map((r) => r.id));
    const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const row of statusRows) counts[row.status] = row.n;
    return {
      counts,
      openReviews: reviews.open,
      oldestOpenReviewAt: reviews.oldest,
      recentRoots: roots.map((r) => {
        const byStatus = r.by_status ?? {};
        return { ...r, by_status: byStatus, descendants: Object.values(byStatus).reduce((a, b) => a + (b ?? 0), 0), work: work.get(r.id) ?? null };
      }),
    };
  });
}
