import 'server-only';
// Reviews: the operator's triage queue and the one mutation the web app makes, `resolve_review`.
// Every function takes the pool and the viewer's claims, so tests run it against a real database as
// any identity and the app passes the signed-in operator.
import type postgres from 'postgres';
import type { JsonValue, ResolveReviewInput, ReviewAction } from '../review-schemas';
import { encodeCursor, type Cursor } from './cursor';
import { withClaims, type Claims, type Sql, type Tx } from './identity';
import type { TaskStatus } from './tasks';

export interface ReviewError {
  category?: string;
  message?: string;
  provider?: Record<string, JsonValue>;
  step?: number;
  [key: string]: JsonValue | undefined;
}

export interface AggregatorProgress {
  id: string;
  title: string;
  status: TaskStatus;
  total: number;
  /** dependencies that ended (completed or cancelled) */
  ended: number;
  completed: number;
}

export interface OpenReview {
  id: string;
  createdAt: Date;
  error: ReviewError | null;
  task: {
    id: string;
    title: string;
    instructions: string;
    status: TaskStatus;
    isParallelTask: boolean;
    attempt: number;
    maxAttempts: number;
    rootTaskId: string;
  };
  parent: { id: string; title: string; status: TaskStatus } | null;
  aggregators: AggregatorProgress[];
}

export interface ResolvedReview {
  id: string;
  createdAt: Date;
  resolvedAt: Date;
  resolvedBy: string | null;
  action: ReviewAction;
  note: string | null;
  manualOutput: JsonValue | null;
  error: ReviewError | null;
  task: { id: string; title: string; status: TaskStatus };
}

export interface Page<T> {
  items: T[];
  /** cursor for the page after this one, if any */
  next?: string;
  /** cursor for the page before this one, if any */
  previous?: string;
}

export const REVIEWS_PAGE_SIZE = 20;

interface OpenReviewRow {
  id: string;
  created_at: Date;
  cursor_at: string;
  error: ReviewError | null;
  task_id: string;
  title: string;
  instructions: string;
  task_status: TaskStatus;
  is_parallel_task: boolean;
  attempt: number;
  max_attempts: number;
  root_task_id: string;
  parent_id: string | null;
  parent_title: string | null;
  parent_status: TaskStatus | null;
  aggregators: AggregatorProgress[];
}

/**
 * Open reviews, oldest first, one page at a time. Keyset pagination on (created_at, id): each page is
 * an index range scan of the open-reviews index, so page 500 costs what page 1 costs.
 * `after` continues forwards from a row; `before` goes back from one.
 */
export async function listOpenReviews(
  sql: Sql,
  claims: Claims,
  options: { after?: Cursor; before?: Cursor; limit?: number } = {},
): Promise<Page<OpenReview> & { total: number }> {
  const limit = Math.min(Math.max(options.limit ?? REVIEWS_PAGE_SIZE, 1), 100);
  return withClaims(sql, claims, async (tx) => {
    const backwards = !options.after && !!options.before;
    const rows = await tx<OpenReviewRow[]>`
      with page as (
        select r.id, r.task_id, r.error, r.created_at
        from taskweave.human_reviews r
        where r.status = 'open'
        ${
          options.after
            ? tx`and r.created_at >= ${options.after.at}::text::timestamptz and (r.created_at, r.id) > (${options.after.at}::text::timestamptz, ${options.after.id}::uuid)`
            : options.before
              ? tx`and r.created_at <= ${options.before.at}::text::timestamptz and (r.created_at, r.id) < (${options.before.at}::text::timestamptz, ${options.before.id}::uuid)`
              : tx``
        }
        order by ${backwards ? tx`r.created_at desc, r.id desc` : tx`r.created_at, r.id`}
        limit ${limit + 1}
      )
      select page.id, page.created_at, page.created_at::text as cursor_at, page.error,
             t.id as task_id, t.title, t.instructions, t.status as task_status, t.is_parallel_task,
             t.attempt, t.max_attempts, t.root_task_id,
             p.id as parent_id, p.title as parent_title, p.status as parent_status
      from page
      join taskweave.tasks t on t.id = page.task_id
      left join taskweave.tasks p on p.id = t.parent_task_id
      order by ${backwards ? tx`page.created_at desc, page.id desc` : tx`page.created_at, page.id`}`;
    const [{ total }] = await tx<{ total: number }[]>`
      select count(*)::int as total from taskweave.human_reviews where status = 'open'`;

    const hasMore = rows.length > limit;
    let pageRows = rows.slice(0, limit);
    const aggregators = await aggregatorsOf(tx, pageRows.map((r) => r.task_id));
    for (const row of pageRows) row.aggregators = aggregators.filter((a) => a.dependentTaskIds.includes(row.task_id)).map(stripDeps);
    if (backwards) pageRows = pageRows.reverse();
    const first = pageRows[0];
    const last = pageRows[pageRows.length - 1];
    const fromStart = !options.after && !options.before;
    return {
      total,
      items: pageRows.map(toOpenReview),
      next: last && (backwards || hasMore) ? encodeCursor({ at: last.cursor_at, id: last.id }) : undefined,
      previous: first && !fromStart && (!backwards || hasMore) ? encodeCursor({ at: first.cursor_at, id: first.id }) : undefined,
    };
  });
}

function toOpenReview(row: OpenReviewRow): OpenReview {
  return {
    id: row.id,
    createdAt: row.created_at,
    error: row.error,
    task: {
      id: row.task_id,
      title: row.title,
      instructions: row.instructions,
      status: row.task_status,
      isParallelTask: row.is_parallel_task,
      attempt: row.attempt,
      maxAttempts: row.max_attempts,
      rootTaskId: row.root_task_id,
    },
    parent: row.parent_id ? { id: row.parent_id, title: row.parent_title ?? '', status: row.parent_status! } : null,
    aggregators: row.aggregators,
  };
}

interface ResolvedReviewRow {
  id: string;
  created_at: Date;
  resolved_at: Date;
  cursor_at: string;
  resolved_by: string | null;
  action: ReviewAction;
  note: string | null;
  manual_output: JsonValue | null;
  error: ReviewError | null;
  task_id: string;
  title: string;
  task_status: TaskStatus;
}

/** Resolved reviews, most recent first, keyset-paginated on (resolved_at, id) going back in time. */
export async function listResolvedReviews(
  sql: Sql,
  claims: Claims,
  options: { before?: Cursor; limit?: number } = {},
): Promise<Page<ResolvedReview>> {
  const limit = Math.min(Math.max(options.limit ?? REVIEWS_PAGE_SIZE, 1), 100);
  return withClaims(sql, claims, async (tx) => {
    const rows = await tx<ResolvedReviewRow[]>`
      select r.id, r.created_at, r.resolved_at, r.resolved_at::text as cursor_at, r.resolved_by, r.action,
             r.note, r.manual_output, r.error, t.id as task_id, t.title, t.status as task_status
      from taskweave.human_reviews r
      join taskweave.tasks t on t.id = r.task_id
      where r.status = 'resolved'
      ${options.before ? tx`and (r.resolved_at, r.id) < (${options.before.at}::text::timestamptz, ${options.before.id}::uuid)` : tx``}
      order by r.resolved_at desc, r.id desc
      limit ${limit + 1}`;
    const pageRows = rows.slice(0, limit);
    const last = pageRows[pageRows.length - 1];
    return {
      items: pageRows.map((row) => ({
        id: row.id,
        createdAt: row.created_at,
        resolvedAt: row.resolved_at,
        resolvedBy: row.resolved_by,
        action: row.action,
        note: row.note,
        manualOutput: row.manual_output,
        error: row.error,
        task: { id: row.task_id, title: row.title, status: row.task_status },
      })),
      next: rows.length > limit && last ? encodeCursor({ at: last.cursor_at, id: last.id }) : undefined,
    };
  });
}

export async function countOpenReviews(sql: Sql, claims: Claims): Promise<number> {
  return withClaims(sql, claims, async (tx) => {
    const [{ total }] = await tx<{ total: number }[]>`select count(*)::int as total from taskweave.human_reviews where status = 'open'`;
    return total;
  });
}

/** Why resolve_review refused, in categories the UI words for an operator (SQLSTATEs from DESIGN §3). */
export type ResolveFailureKind = 'already-resolved' | 'conflict' | 'not-found' | 'not-operator' | 'invalid' | 'unexpected';

export type ResolveOutcome =
  | {
      ok: true;
      review: { id: string; action: ReviewAction; resolvedBy: string | null; resolvedAt: Date };
      task: { id: string; title: string; status: TaskStatus };
      aggregators: AggregatorProgress[];
    }
  | {
      ok: false;
      kind: ResolveFailureKind;
      /** the database's own message */
      detail: string;
      /** for already-resolved: who resolved it, how and when */
      resolved?: { action: ReviewAction | null; resolvedBy: string | null; resolvedAt: Date | null; taskTitle: string };
    };

const failureKinds: Record<string, ResolveFailureKind> = {
  '55000': 'already-resolved',
  P0002: 'not-found',
  '42501': 'not-operator',
  '22023': 'invalid',
  '22P02': 'invalid',
};

/**
 * Resolve a review through `resolve_review`, which owns the transition (and, through the trigger, the
 * aggregator's). Reports what the task and the aggregators it feeds look like afterwards, read in the
 * same transaction, so the operator is told what their click did.
 */
export async function resolveReview(sql: Sql, claims: Claims, input: ResolveReviewInput): Promise<ResolveOutcome> {
  const manualOutput = input.action === 'manual' ? input.manualOutput : null;
  try {
    return await withClaims(sql, claims, async (tx) => {
      const [review] = await tx<{ id: string; task_id: string; action: ReviewAction; resolved_by: string | null; resolved_at: Date }[]>`
        select id, task_id, action, resolved_by, resolved_at
        from taskweave.resolve_review(
          ${input.reviewId}::uuid,
          ${input.action},
          ${manualOutput === null ? null : tx.json(manualOutput as postgres.JSONValue)}::jsonb,
          ${input.note ?? null}
        )`;
      const [task] = await tx<{ id: string; title: string; status: TaskStatus }[]>`
        select id, title, status from taskweave.tasks where id = ${review.task_id}`;
      const aggregators = (await aggregatorsOf(tx, [review.task_id])).map(stripDeps);
      return {
        ok: true as const,
        review: { id: review.id, action: review.action, resolvedBy: review.resolved_by, resolvedAt: review.resolved_at },
        task,
        aggregators,
      };
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    const detail = (error as Error).message ?? String(error);
    const kind = failureKinds[code] ?? 'unexpected';
    if (kind !== 'already-resolved') return { ok: false, kind, detail };
    // the row says who won the race, in a fresh transaction (the failed one is gone)
    const resolved = await withClaims(sql, claims, async (tx) => {
      const [row] = await tx<{ status: string; action: ReviewAction | null; resolved_by: string | null; resolved_at: Date | null; title: string }[]>`
        select r.status, r.action, r.resolved_by, r.resolved_at, t.title
        from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id
        where r.id = ${input.reviewId}`;
      return row;
    }).catch(() => undefined);
    // 55000 on a review still open: its task moved on by another path and no longer waits
    if (resolved && resolved.status !== 'resolved') return { ok: false, kind: 'conflict', detail };
    return {
      ok: false,
      kind,
      detail,
      resolved: resolved
        ? { action: resolved.action, resolvedBy: resolved.resolved_by, resolvedAt: resolved.resolved_at, taskTitle: resolved.title }
        : undefined,
    };
  }
}

/**
 * The aggregators that wait for any of these tasks, with their progress. One query for a whole page:
 * `&&` on an array of ids lets the planner use the (partial, aggregators-only) GIN index on
 * dependent_task_ids; a correlated `@> array[t.id]` per row was planned as a sequential scan per row.
 */
async function aggregatorsOf(tx: Tx, taskIds: string[]): Promise<(AggregatorProgress & { dependentTaskIds: string[] })[]> {
  if (taskIds.length === 0) return [];
  const rows = await tx<(AggregatorProgress & { dependent_task_ids: string[] })[]>`
    select a.id, a.title, a.status, a.dependent_task_ids, cardinality(a.dependent_task_ids) as total, deps.ended, deps.completed
    from taskweave.tasks a
    cross join lateral (
      select count(*) filter (where d.status in ('completed', 'cancelled'))::int as ended,
             count(*) filter (where d.status = 'completed')::int as completed
      from taskweave.tasks d where d.id = any (a.dependent_task_ids)
    ) deps
    where cardinality(a.dependent_task_ids) > 0 and a.dependent_task_ids && ${taskIds}::uuid[]
    order by a.created_at, a.id`;
  return rows.map(({ dependent_task_ids, ...rest }) => ({ ...rest, dependentTaskIds: dependent_task_ids }));
}

function stripDeps({ dependentTaskIds: _deps, ...progress }: AggregatorProgress & { dependentTaskIds: string[] }): AggregatorProgress {
  return progress;
}
