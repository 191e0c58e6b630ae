import 'server-only';
// Reviews: the operator's triage queue, read as the viewer. Every function takes the pool and the
// viewer's claims, so tests run it against a real database as any identity and the app passes the
// signed-in operator.
import { aggregatorProgress } from '../../../supabase/functions/_shared/aggregator-progress';
import { encodeCursor, type Cursor } from '../../lib/db/cursor';
import { withClaims, type Claims, type Sql, type Tx } from '../../lib/db/identity';
import type { Tables, TaskStatus } from '../../lib/db/types';
import type { JsonValue, ReviewAction } from './schema';

/** What fail_task recorded (tasks.last_error, human_reviews.error): {category, message, ...}. */
export interface ReviewError {
  category?: string;
  message?: string;
  provider?: Record<string, JsonValue | undefined>;
  step?: number;
  [key: string]: JsonValue | undefined;
}

export type Run = Tables<'runs'>;

export interface AggregatorProgress {
  id: string;
  title: string;
  status: TaskStatus;
  total: number;
  /** dependencies that ended (completed or cancelled) */
  ended: number;
  completed: number;
}

type Task = Tables<'tasks'>;

export interface OpenReview {
  id: string;
  created_at: string;
  error: ReviewError | null;
  task: Pick<Task, 'id' | 'title' | 'instructions' | 'status' | 'is_parallel_task' | 'attempt' | 'max_attempts' | 'root_task_id'>;
  parent: Pick<Task, 'id' | 'title' | 'status'> | null;
  /** the run's budget and usage, to show a budget stop against its limits */
  run: Run | null;
  aggregators: AggregatorProgress[];
}

export interface ResolvedReview {
  id: string;
  created_at: string;
  resolved_at: string;
  resolved_by: string | null;
  action: ReviewAction;
  note: string | null;
  manual_output: JsonValue | null;
  error: ReviewError | null;
  task: Pick<Task, 'id' | 'title' | 'status'>;
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
  created_at: string;
  cursor_at: string;
  error: ReviewError | null;
  task: OpenReview['task'];
  parent: OpenReview['parent'];
  run: Run | null;
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
             jsonb_build_object('id', t.id, 'title', t.title, 'instructions', t.instructions, 'status', t.status,
               'is_parallel_task', t.is_parallel_task, 'attempt', t.attempt, 'max_attempts', t.max_attempts,
               'root_task_id', t.root_task_id) as task,
             case when p.id is null then null else jsonb_build_object('id', p.id, 'title', p.title, 'status', p.status) end as parent,
             to_jsonb(run) as run
      from page
      join taskweave.tasks t on t.id = page.task_id
      left join taskweave.tasks p on p.id = t.parent_task_id
      left join taskweave.runs run on run.root_task_id = t.root_task_id
      order by ${backwards ? tx`page.created_at desc, page.id desc` : tx`page.created_at, page.id`}`;
    const [{ total }] = await tx<{ total: number }[]>`
      select count(*)::int as total from taskweave.human_reviews where status = 'open'`;

    const hasMore = rows.length > limit;
    let pageRows = rows.slice(0, limit);
    const aggregators = await aggregatorsOf(tx, pageRows.map((r) => r.task.id));
    if (backwards) pageRows = pageRows.reverse();
    const first = pageRows[0];
    const last = pageRows[pageRows.length - 1];
    const fromStart = !options.after && !options.before;
    return {
      total,
      items: pageRows.map(({ cursor_at: _cursor, ...row }) => ({
        ...row,
        aggregators: aggregators.filter((a) => a.dependentTaskIds.includes(row.task.id)).map(stripDeps),
      })),
      next: last && (backwards || hasMore) ? encodeCursor({ at: last.cursor_at, id: last.id }) : undefined,
      previous: first && !fromStart && (!backwards || hasMore) ? encodeCursor({ at: first.cursor_at, id: first.id }) : undefined,
    };
  });
}

/** Resolved reviews, most recent first, keyset-paginated on (resolved_at, id) going back in time. */
export async function listResolvedReviews(
  sql: Sql,
  claims: Claims,
  options: { before?: Cursor; limit?: number } = {},
): Promise<Page<ResolvedReview>> {
  const limit = Math.min(Math.max(options.limit ?? REVIEWS_PAGE_SIZE, 1), 100);
  return withClaims(sql, claims, async (tx) => {
    const rows = await tx<(ResolvedReview & { cursor_at: string })[]>`
      select r.id, r.created_at, r.resolved_at, r.resolved_at::text as cursor_at, r.resolved_by, r.action,
             r.note, r.manual_output, r.error, jsonb_build_object('id', t.id, 'title', t.title, 'status', t.status) as task
      from taskweave.human_reviews r
      join taskweave.tasks t on t.id = r.task_id
      where r.status = 'resolved'
      ${options.before ? tx`and (r.resolved_at, r.id) < (${options.before.at}::text::timestamptz, ${options.before.id}::uuid)` : tx``}
      order by r.resolved_at desc, r.id desc
      limit ${limit + 1}`;
    const pageRows = rows.slice(0, limit);
    const last = pageRows[pageRows.length - 1];
    return {
      items: pageRows.map(({ cursor_at: _cursor, ...row }) => row),
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

/** The aggregators that wait for any of these tasks, with their progress (one query for a whole page). */
export async function aggregatorsOf(tx: Tx, taskIds: string[]): Promise<(AggregatorProgress & { dependentTaskIds: string[] })[]> {
  const rows = await aggregatorProgress(tx, { waitingFor: taskIds });
  return rows.map(({ id, title, status, total, ended, completed, dependent_task_ids }) => ({
    id,
    title,
    status,
    total,
    ended,
    completed,
    dependentTaskIds: dependent_task_ids,
  }));
}

export function stripDeps({ dependentTaskIds: _deps, ...progress }: AggregatorProgress & { dependentTaskIds: string[] }): AggregatorProgress {
  return progress;
}
