import 'server-only';
// Tasks as operators see them: one task with its fan-out group, transcript and history, and the
// overview's counts. Reads only; every state change goes through the SQL API.
import type { JsonValue, ReviewAction } from '../review-schemas';
import { withClaims, type Claims, type Sql, type Tx } from './identity';
import type { ReviewError } from './reviews';

export const TASK_STATUSES = ['pending', 'queued', 'running', 'needs_human_review', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface Task {
  id: string;
  parentTaskId: string | null;
  rootTaskId: string;
  title: string;
  instructions: string;
  input: JsonValue;
  status: TaskStatus;
  isParallelTask: boolean;
  dependentTaskIds: string[];
  output: JsonValue | null;
  lastError: ReviewError | null;
  attempt: number;
  maxAttempts: number;
  runAfter: Date;
  leasedBy: string | null;
  leaseExpiresAt: Date | null;
  toolCallId: string | null;
  depth: number;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

export interface TaskNode {
  id: string;
  title: string;
  status: TaskStatus;
  isParallelTask: boolean;
  dependentTaskIds: string[];
  attempt: number;
  childCount: number;
}

export interface TaskMessage {
  seq: number;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: JsonValue;
  createdAt: Date;
}

export interface TaskEvent {
  id: string;
  event: string;
  fromStatus: string | null;
  toStatus: string | null;
  actor: string | null;
  detail: JsonValue;
  createdAt: Date;
}

export interface TaskReview {
  id: string;
  status: 'open' | 'resolved';
  error: ReviewError | null;
  action: ReviewAction | null;
  manualOutput: JsonValue | null;
  note: string | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  createdAt: Date;
}

export interface TaskDetail {
  task: Task;
  parent: TaskNode | null;
  root: TaskNode | null;
  /** The fan-out this task belongs to: its parent (or itself, for a root) and that task's children. */
  group: { parent: TaskNode; children: TaskNode[] } | null;
  /** This task's own children when the group shown is its siblings' */
  children: TaskNode[];
  messages: TaskMessage[];
  events: TaskEvent[];
  reviews: TaskReview[];
  /** The run's answer when this task fanned out: the output of its most recently completed aggregator. */
  fanInResult: { aggregatorId: string; title: string; output: JsonValue; completedAt: Date | null } | null;
  /** true when the transcript or timeline was cut to the most recent rows */
  truncated: { messages: boolean; events: boolean };
}

const TIMELINE_LIMIT = 500;
const GROUP_LIMIT = 500;

const nodeColumns = (tx: Tx) => tx`
  n.id, n.title, n.status, n.is_parallel_task, n.dependent_task_ids, n.attempt,
  (select count(*)::int from taskweave.tasks c where c.parent_task_id = n.id) as child_count`;

interface NodeRow {
  id: string;
  title: string;
  status: TaskStatus;
  is_parallel_task: boolean;
  dependent_task_ids: string[];
  attempt: number;
  child_count: number;
}

const toNode = (row: NodeRow): TaskNode => ({
  id: row.id,
  title: row.title,
  status: row.status,
  isParallelTask: row.is_parallel_task,
  dependentTaskIds: row.dependent_task_ids,
  attempt: row.attempt,
  childCount: row.child_count,
});

/** One task and everything the task page shows, or null when it does not exist (or RLS hides it). */
export async function getTaskDetail(sql: Sql, claims: Claims, taskId: string): Promise<TaskDetail | null> {
  return withClaims(sql, claims, async (tx) => {
    const [row] = await tx`
      select id, parent_task_id, root_task_id, title, instructions, input, status, is_parallel_task,
             dependent_task_ids, output, last_error, attempt, max_attempts, run_after, leased_by,
             lease_expires_at, tool_call_id, depth, created_at, updated_at, completed_at
      from taskweave.tasks where id = ${taskId}`;
    if (!row) return null;
    const task: Task = {
      id: row.id as string,
      parentTaskId: row.parent_task_id as string | null,
      rootTaskId: row.root_task_id as string,
      title: row.title as string,
      instructions: row.instructions as string,
      input: row.input as JsonValue,
      status: row.status as TaskStatus,
      isParallelTask: row.is_parallel_task as boolean,
      dependentTaskIds: row.dependent_task_ids as string[],
      output: row.output as JsonValue | null,
      lastError: row.last_error as ReviewError | null,
      attempt: row.attempt as number,
      maxAttempts: row.max_attempts as number,
      runAfter: row.run_after as Date,
      leasedBy: row.leased_by as string | null,
      leaseExpiresAt: row.lease_expires_at as Date | null,
      toolCallId: row.tool_call_id as string | null,
      depth: row.depth as number,
      createdAt: row.created_at as Date,
      updatedAt: row.updated_at as Date,
      completedAt: row.completed_at as Date | null,
    };

    const groupParentId = task.parentTaskId ?? task.id;
    const [parentRows, rootRows, groupParentRows, siblingRows, childRows, messages, events, reviews, fanIn] = await Promise.all([
      task.parentTaskId ? tx<NodeRow[]>`select ${nodeColumns(tx)} from taskweave.tasks n where n.id = ${task.parentTaskId}` : [],
      task.rootTaskId !== task.id && task.rootTaskId !== task.parentTaskId
        ? tx<NodeRow[]>`select ${nodeColumns(tx)} from taskweave.tasks n where n.id = ${task.rootTaskId}`
        : [],
      tx<NodeRow[]>`select ${nodeColumns(tx)} from taskweave.tasks n where n.id = ${groupParentId}`,
      tx<NodeRow[]>`
        select ${nodeColumns(tx)} from taskweave.tasks n
        where n.parent_task_id = ${groupParentId} order by n.created_at, n.id limit ${GROUP_LIMIT}`,
      task.parentTaskId
        ? tx<NodeRow[]>`
            select ${nodeColumns(tx)} from taskweave.tasks n
            where n.parent_task_id = ${task.id} order by n.created_at, n.id limit ${GROUP_LIMIT}`
        : [],
      tx<{ seq: number; role: TaskMessage['role']; content: JsonValue; created_at: Date }[]>`
        select seq, role, content, created_at from (
          select seq, role, content, created_at from taskweave.task_messages
          where task_id = ${task.id} order by seq desc limit ${TIMELINE_LIMIT + 1}
        ) m order by seq`,
      tx<{ id: string; event: string; from_status: string | null; to_status: string | null; actor: string | null; detail: JsonValue; created_at: Date }[]>`
        select id::text, event, from_status, to_status, actor, detail, created_at from (
          select * from taskweave.task_events where task_id = ${task.id} order by id desc limit ${TIMELINE_LIMIT + 1}
        ) e order by id`,
      tx<{ id: string; status: 'open' | 'resolved'; error: ReviewError | null; action: ReviewAction | null; manual_output: JsonValue | null; note: string | null; resolved_by: string | null; resolved_at: Date | null; created_at: Date }[]>`
        select id, status, error, action, manual_output, note, resolved_by, resolved_at, created_at
        from taskweave.human_reviews where task_id = ${task.id} order by created_at desc`,
      tx<{ id: string; title: string; output: JsonValue; completed_at: Date | null }[]>`
        select id, title, output, completed_at from taskweave.tasks
        where parent_task_id = ${task.id} and status = 'completed' and cardinality(dependent_task_ids) > 0
        order by completed_at desc nulls last limit 1`,
    ]);

    return {
      task,
      parent: parentRows[0] ? toNode(parentRows[0]) : null,
      root: rootRows[0] ? toNode(rootRows[0]) : null,
      group: groupParentRows[0] && siblingRows.length > 0 ? { parent: toNode(groupParentRows[0]), children: siblingRows.map(toNode) } : null,
      children: childRows.map(toNode),
      messages: messages.slice(-TIMELINE_LIMIT).map((m) => ({ seq: m.seq, role: m.role, content: m.content, createdAt: m.created_at })),
      events: events.slice(-TIMELINE_LIMIT).map((e) => ({
        id: e.id,
        event: e.event,
        fromStatus: e.from_status,
        toStatus: e.to_status,
        actor: e.actor,
        detail: e.detail,
        createdAt: e.created_at,
      })),
      reviews: reviews.map((r) => ({
        id: r.id,
        status: r.status,
        error: r.error,
        action: r.action,
        manualOutput: r.manual_output,
        note: r.note,
        resolvedBy: r.resolved_by,
        resolvedAt: r.resolved_at,
        createdAt: r.created_at,
      })),
      fanInResult: fanIn[0] ? { aggregatorId: fanIn[0].id, title: fanIn[0].title, output: fanIn[0].output, completedAt: fanIn[0].completed_at } : null,
      truncated: { messages: messages.length > TIMELINE_LIMIT, events: events.length > TIMELINE_LIMIT },
    };
  });
}

export interface RootTaskSummary {
  id: string;
  title: string;
  status: TaskStatus;
  createdAt: Date;
  descendants: number;
  /** descendants by status */
  byStatus: Partial<Record<TaskStatus, number>>;
}

export interface Overview {
  counts: Record<TaskStatus, number>;
  openReviews: number;
  oldestOpenReviewAt: Date | null;
  recentRoots: RootTaskSummary[];
}

export async function getOverview(sql: Sql, claims: Claims, recentLimit = 15): Promise<Overview> {
  return withClaims(sql, claims, async (tx) => {
    const [statusRows, [reviews], roots] = await Promise.all([
      tx<{ status: TaskStatus; n: number }[]>`select status, count(*)::int as n from taskweave.tasks group by status`,
      tx<{ open: number; oldest: Date | null }[]>`
        select count(*)::int as open, min(created_at) as oldest from taskweave.human_reviews where status = 'open'`,
      tx<{ id: string; title: string; status: TaskStatus; created_at: Date; by_status: Partial<Record<TaskStatus, number>> | null }[]>`
        select r.id, r.title, r.status, r.created_at,
               (select json_object_agg(s.status, s.n) from (
                  select d.status, count(*)::int as n from taskweave.tasks d
                  where d.root_task_id = r.id and d.id <> r.id group by d.status
               ) s) as by_status
        from taskweave.tasks r
        where r.parent_task_id is null
        order by r.created_at desc
        limit ${recentLimit}`,
    ]);
    const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const row of statusRows) counts[row.status] = row.n;
    return {
      counts,
      openReviews: reviews.open,
      oldestOpenReviewAt: reviews.oldest,
      recentRoots: roots.map((r) => {
        const byStatus = r.by_status ?? {};
        return {
          id: r.id,
          title: r.title,
          status: r.status,
          createdAt: r.created_at,
          byStatus,
          descendants: Object.values(byStatus).reduce((a, b) => a + (b ?? 0), 0),
        };
      }),
    };
  });
}
