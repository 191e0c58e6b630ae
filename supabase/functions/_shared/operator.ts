// What an operator does, written once for both front doors: the web app (Node, src/features) and the MCP
// endpoint (Deno, supabase/functions/mcp). Listing reviews by filter, resolving one, resolving every one
// that matches a filter, cancelling with the count the cancel itself reports, and where a run stands.
//
// The rules live in SQL (migrations 20261206003000..003200): which actions a kind takes, what a filter
// means, how a resolution moves a task, the run-state rule. This module calls those functions and shapes
// their rows; it re-implements none of them.
//
// Its one port is the database, as postgres.js (npm `postgres`, which both runtimes load):
// - read functions take `Sql`, a connection or a transaction the caller already opened as the viewer
//   (the web app: inside withClaims; MCP: its pool, or its per-user transaction);
// - write functions take `Transact`, which runs a callback in one transaction as the acting operator, so
//   a bulk resolve can take one transaction per batch. The web app passes
//   `(fn) => withClaims(sql, claims, fn)`; the MCP endpoint `(fn) => sql.begin(fn)` (or its per-user form).
import type postgres from 'postgres';
import { aggregatorProgress, type AggregatorProgressRow } from './aggregator-progress.ts';
import type { Database, Json } from './database.types.ts';
import { encodeKeysetCursor, type KeysetCursor } from './keyset-cursor.ts';
import { schemaIssues, type JsonSchema } from './json-schema.ts';

export type Sql = postgres.Sql<Record<string, unknown>> | postgres.TransactionSql<Record<string, unknown>>;
export type Transact = <T>(fn: (tx: Sql) => Promise<T>) => Promise<T>;

type TaskStatus = Database['taskweave']['Enums']['task_status'];
type RunRow = Database['taskweave']['Tables']['runs']['Row'];

// ---------------------------------------------------------------------------------------------
// kinds, actions, filters

export const REVIEW_KINDS = ['failure', 'approval', 'question', 'interrupted_call'] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

export const REVIEW_ACTIONS = ['retry', 'abort', 'manual', 'approve', 'reject', 'answer'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

/**
 * The actions each kind takes, in the order a page offers them. SQL decides (taskweave_private.review_actions,
 * which tests/sql/operator-module.test.ts compares with this); the front doors use it to offer only those.
 */
export const ACTIONS_BY_KIND: { readonly [K in ReviewKind]: readonly ReviewAction[] } = {
  failure: ['retry', 'abort', 'manual'],
  approval: ['approve', 'reject', 'abort'],
  question: ['answer', 'abort'],
  interrupted_call: ['retry', 'manual', 'abort'],
};

/** What resolve_reviews does in bulk: answer and manual need a value per review. */
export const BULK_ACTIONS = ['retry', 'abort', 'approve', 'reject'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** Reviews per transaction of a bulk resolve: the locks of one batch are held only while it runs. */
export const BULK_BATCH_SIZE = 500;

/** A filter over open reviews (taskweave_private.review_filter_predicate says what each key means). */
export interface ReviewFilter {
  kind?: ReviewKind | ReviewKind[];
  /** the error's category (failure reviews): model, tool, timeout, internal, budget, rate_limit */
  category?: string;
  /** the run: its root task's id */
  root_task_id?: string;
  /** tasks.agent */
  agent?: string;
  /** the tool of an approval or interrupted call (request.tool) */
  tool?: string;
  /** only reviews at least this old */
  older_than_seconds?: number;
  /** a case-insensitive substring of the error message or the question */
  text?: string;
}
export const REVIEW_FILTER_KEYS = ['kind', 'category', 'root_task_id', 'agent', 'tool', 'older_than_seconds', 'text'] as const satisfies readonly (keyof ReviewFilter)[];

/** The filter as SQL takes it: absent and empty values dropped. */
export function filterJson(filter: ReviewFilter = {}): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const key of REVIEW_FILTER_KEYS) {
    const value = filter[key];
    if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    out[key] = value as Json;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// listing

/** What fail_task recorded (human_reviews.error): {category, message, ...}; {} for the other kinds. */
export interface ReviewError {
  category?: string;
  message?: string;
  [key: string]: Json | undefined;
}

/**
 * What the person is asked (human_reviews.request), by kind. approval: {tool_call_id, tool, arguments,
 * reason}; question: {tool_call_id, question, options}; interrupted_call: {tool_call_id, tool, arguments,
 * started_at}; failure: {}.
 */
export interface ReviewRequest {
  tool_call_id?: string;
  tool?: string;
  arguments?: { [key: string]: Json | undefined };
  reason?: string;
  question?: string;
  options?: string[];
  started_at?: string;
  [key: string]: Json | undefined;
}

/** An aggregator's join progress (aggregator-progress.ts), without its dependency list. */
export type AggregatorProgress = Omit<AggregatorProgressRow, 'dependent_task_ids'>;

export interface ReviewItem {
  id: string;
  kind: ReviewKind;
  /** ISO 8601 */
  created_at: string;
  /** this row as a cursor: pass it as `after` to continue after it, as `before` to go back from it */
  cursor: KeysetCursor;
  /** a failure's error; null for the other kinds */
  error: ReviewError | null;
  request: ReviewRequest;
  task: {
    id: string;
    title: string;
    instructions: string;
    status: TaskStatus;
    is_parallel_task: boolean;
    attempt: number;
    max_attempts: number;
    root_task_id: string;
    parent_task_id: string | null;
    agent: string | null;
  };
  parent: { id: string; title: string; status: TaskStatus } | null;
  /** the run's limits and usage, to show a budget stop against them */
  run: RunRow | null;
  /** the aggregators that wait for this task */
  aggregators: AggregatorProgress[];
}

export interface ReviewPage {
  items: ReviewItem[];
  /** open reviews that match the filter, all pages together */
  total: number;
  /** cursor (encoded) of the page after this one, if any */
  next?: string;
  /** cursor (encoded) of the page before this one, if any */
  previous?: string;
}

export const REVIEWS_PAGE_MAX = 100;

interface ReviewItemRow extends Omit<ReviewItem, 'cursor' | 'created_at' | 'aggregators'> {
  created_at: Date | string;
  cursor_at: string;
}

const iso = (d: Date | string) => new Date(d).toISOString();

/**
 * One page of open reviews that match the filter, oldest first (keyset pagination on (created_at, id):
 * page 500 costs what page 1 costs), with each task, its parent, its run and its aggregators; and how
 * many match in all. `after` continues forwards from a row; `before` goes back from one. Raises the SQL
 * API's 22023 for a bad filter and 42501 for a caller who is not an operator.
 */
export async function listReviews(
  sql: Sql,
  options: { filter?: ReviewFilter; after?: KeysetCursor; before?: KeysetCursor; limit?: number; withTotal?: boolean } = {},
): Promise<ReviewPage> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 20), 1), REVIEWS_PAGE_MAX);
  const filter = sql.json(filterJson(options.filter) as postgres.JSONValue);
  const backwards = !options.after && !!options.before;
  const cursor = options.after ?? options.before;
  const q = sql as postgres.Sql<Record<string, unknown>>;
  // the count goes out with the page (postgres.js pipelines both on the connection): one round trip less
  const counting = options.withTotal === false ? Promise.resolve(-1) : countReviews(sql, options.filter);
  counting.catch(() => undefined); // awaited below; if the page fails first, its error is the one reported
  const rows = await q<ReviewItemRow[]>`
    select p.id, p.kind, p.created_at, p.created_at::text as cursor_at,
           case when p.kind = 'failure' then p.error end as error, p.request,
           jsonb_build_object('id', t.id, 'title', t.title, 'instructions', t.instructions, 'status', t.status,
             'is_parallel_task', t.is_parallel_task, 'attempt', t.attempt, 'max_attempts', t.max_attempts,
             'root_task_id', t.root_task_id, 'parent_task_id', t.parent_task_id, 'agent', t.agent) as task,
           case when parent.id is null then null
                else jsonb_build_object('id', parent.id, 'title', parent.title, 'status', parent.status) end as parent,
           to_jsonb(run) as run
      from taskweave.list_reviews(${filter}, ${limit + 1},
             ${cursor ? cursor.at : null}::text::timestamptz, ${cursor ? cursor.id : null}::uuid, ${backwards}) p
      join taskweave.tasks t on t.id = p.task_id
      left join taskweave.tasks parent on parent.id = t.parent_task_id
      left join taskweave.runs run on run.root_task_id = t.root_task_id
     order by p.created_at, p.id`;
  const hasMore = rows.length > limit;
  // list_reviews returns oldest first either way; going backwards the extra row is the first
  const pageRows = hasMore ? (backwards ? rows.slice(1) : rows.slice(0, limit)) : rows;
  const [total, aggregators] = await Promise.all([counting, aggregatorProgress(sql, { waitingFor: pageRows.map((r) => r.task.id) })]);
  const first = pageRows[0];
  const last = pageRows.at(-1);
  const fromStart = !options.after && !options.before;
  return {
    total,
    items: pageRows.map(({ cursor_at, created_at, ...row }) => ({
      ...row,
      created_at: iso(created_at),
      cursor: { at: cursor_at, id: row.id },
      request: (row.request ?? {}) as ReviewRequest,
      aggregators: aggregators
        .filter((a) => a.dependent_task_ids.includes(row.task.id))
        .map(({ dependent_task_ids: _deps, ...progress }) => ({ ...progress, activated_by: progress.activated_by ?? null })),
    })),
    next: last && (backwards || hasMore) ? encodeKeysetCursor({ at: last.cursor_at, id: last.id }) : undefined,
    previous: first && !fromStart && (!backwards || hasMore) ? encodeKeysetCursor({ at: first.cursor_at, id: first.id }) : undefined,
  };
}

/** How many open reviews match the filter: what "select all that match" acts on. */
export async function countReviews(sql: Sql, filter: ReviewFilter = {}): Promise<number> {
  const [row] = await (sql as postgres.Sql<Record<string, unknown>>)<{ n: number }[]>`
    select taskweave.count_reviews(${sql.json(filterJson(filter) as postgres.JSONValue)}) as n`;
  return row.n;
}

/** The open reviews of these tasks (e.g. every task under a run that waits for a person). */
export async function openReviewsOf(sql: Sql, taskIds: string[]): Promise<{ id: string; task_id: string; kind: ReviewKind; error: ReviewError | null; request: ReviewRequest }[]> {
  if (taskIds.length === 0) return [];
  return (sql as postgres.Sql<Record<string, unknown>>)<{ id: string; task_id: string; kind: ReviewKind; error: ReviewError | null; request: ReviewRequest }[]>`
    select id, task_id, kind, case when kind = 'failure' then error end as error, request
      from taskweave.human_reviews
     where status = 'open' and task_id = any (${taskIds}::uuid[])
     order by created_at, id`;
}

// ---------------------------------------------------------------------------------------------
// resolving

/** Why the SQL API refused, in categories each front door words for its reader. */
export type OperatorFailureKind = 'already-resolved' | 'conflict' | 'not-found' | 'not-operator' | 'invalid' | 'unexpected';

/** SQLSTATEs of the SQL API (22023 bad argument, P0002 unknown id, 42501 not an operator, TW002/TW003/55000). */
export function failureKindOf(error: unknown): OperatorFailureKind {
  const code = (error as { code?: unknown })?.code;
  switch (code) {
    case 'TW002':
      return 'already-resolved';
    case 'TW003':
    case '55000':
      return 'conflict';
    case 'P0002':
      return 'not-found';
    case '42501':
      return 'not-operator';
    case '22023':
    case '22P02':
      return 'invalid';
    default:
      return 'unexpected';
  }
}

export interface ResolvedReviewRow {
  id: string;
  kind: ReviewKind;
  action: ReviewAction;
  manual_output: Json | null;
  note: string | null;
  resolved_by: string | null;
  resolved_at: string;
}

export type ResolveOutcome =
  | {
      ok: true;
      review: ResolvedReviewRow;
      /** the task after the decision, read in the same transaction */
      task: { id: string; title: string; status: TaskStatus };
      aggregators: AggregatorProgress[];
    }
  | {
      ok: false;
      kind: OperatorFailureKind;
      /** the database's own message */
      detail: string;
      code?: string;
      /** for already-resolved: who resolved it, how and when */
      resolved?: { action: ReviewAction | null; resolvedBy: string | null; resolvedAt: string | null; taskTitle: string };
    };

export interface ResolveRequest {
  reviewId: string;
  action: ReviewAction;
  /**
   * manual (failure: the output; interrupted_call: the call's result), answer ({"answer": ...}), approve
   * ({"arguments": {...}} to edit them); absent otherwise
   */
  manualOutput?: Json | null;
  /** reject: the reason the model is given (required); otherwise optional, kept with the review */
  note?: string | null;
}

/**
 * One decision through taskweave.resolve_review, and what the task and the aggregators it feeds look like
 * afterwards (read in the same transaction, so the operator is told what their decision did). Refusals
 * come back as `{ ok: false }`; a review someone else resolved first says who.
 */
/**
 * An approval's edited arguments must fit the tool's input schema (the one the model saw: the review's
 * request.input_schema, else an http or sql tool's config.input_schema). SQL only checks they are an
 * object; the schema check is here so the web app and the MCP endpoint both make it. Raises 22023.
 */
async function checkEditedArguments(q: postgres.Sql<Record<string, unknown>>, reviewId: string, manualOutput: unknown): Promise<void> {
  const edited = (manualOutput as { arguments?: unknown } | null)?.arguments;
  if (edited === undefined) return;
  const [row] = await q<{ schema: JsonSchema | null }[]>`
    select coalesce(r.request -> 'input_schema',
                    (select tl.config -> 'input_schema' from taskweave.tools tl
                      where tl.slug = split_part(r.request ->> 'tool', '__', 1) and jsonb_typeof(tl.config -> 'input_schema') = 'object')) as schema
      from taskweave.human_reviews r
     where r.id = ${reviewId}::uuid and r.kind = 'approval'`;
  const issues = schemaIssues(row?.schema ?? null, edited);
  if (issues.length > 0) {
    throw Object.assign(new Error(`the edited arguments do not fit the tool's input schema: ${issues.join('; ')}`), { code: '22023' });
  }
}

export async function resolveReview(transact: Transact, request: ResolveRequest): Promise<ResolveOutcome> {
  const manualOutput = request.manualOutput === undefined ? null : request.manualOutput;
  try {
    return await transact(async (tx) => {
      const q = tx as postgres.Sql<Record<string, unknown>>;
      if (request.action === 'approve') await checkEditedArguments(q, request.reviewId, manualOutput);
      const [review] = await q<(ResolvedReviewRow & { task_id: string })[]>`
        select id, task_id, kind, action, manual_output, note, resolved_by, resolved_at
          from taskweave.resolve_review(${request.reviewId}::uuid, ${request.action},
                 ${manualOutput === null ? null : tx.json(manualOutput as postgres.JSONValue)}::jsonb, ${request.note ?? null})`;
      const [task] = await q<{ id: string; title: string; status: TaskStatus }[]>`
        select id, title, status from taskweave.tasks where id = ${review.task_id}`;
      const aggregators = await aggregatorProgress(tx, { waitingFor: [review.task_id] });
      const { task_id: _taskId, ...row } = review;
      return {
        ok: true as const,
        review: { ...row, resolved_at: iso(row.resolved_at) },
        task,
        aggregators: aggregators.map(({ dependent_task_ids: _deps, ...a }) => ({ ...a, activated_by: a.activated_by ?? null })),
      };
    });
  } catch (error) {
    const kind = failureKindOf(error);
    const code = (error as { code?: string }).code;
    const detail = (error as Error)?.message ?? String(error);
    if (kind !== 'already-resolved' && kind !== 'conflict') return { ok: false, kind, detail, code };
    // TW002 already says what happened; the row adds who won the race, for the message
    const resolved = await transact(async (tx) => {
      const [row] = await (tx as postgres.Sql<Record<string, unknown>>)<
        { status: string; action: ReviewAction | null; resolved_by: string | null; resolved_at: Date | null; title: string }[]
      >`
        select r.status, r.action, r.resolved_by, r.resolved_at, t.title
          from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id
         where r.id = ${request.reviewId}`;
      return row;
    }).catch(() => undefined);
    if (!resolved || resolved.status !== 'resolved') return { ok: false, kind, detail, code };
    return {
      ok: false,
      kind: 'already-resolved',
      detail,
      code,
      resolved: {
        action: resolved.action,
        resolvedBy: resolved.resolved_by,
        resolvedAt: resolved.resolved_at ? iso(resolved.resolved_at) : null,
        taskTitle: resolved.title,
      },
    };
  }
}

export interface BulkOutcome {
  resolved: number;
  /** matched, but taken by a concurrent resolve or no longer waiting */
  skipped: number;
  /** transactions it took */
  batches: number;
}

/**
 * Every open review that matches the filter, with one action (taskweave.resolve_reviews), one transaction
 * per batch of at most `batchSize` (BULK_BATCH_SIZE): each batch locks only its own rows, for as long as
 * it runs. Stops when a batch finds fewer than a full batch, or resolves none (what is left is someone
 * else's right now). A review that stays locked by a concurrent resolve across batches is counted as
 * skipped once per batch that met it. Raises the SQL API's errors (22023 bad filter or action, 42501).
 */
export async function resolveReviews(
  transact: Transact,
  request: { filter: ReviewFilter; action: BulkAction; note?: string | null; batchSize?: number; maxBatches?: number },
): Promise<BulkOutcome> {
  const batchSize = Math.min(Math.max(Math.trunc(request.batchSize ?? BULK_BATCH_SIZE), 1), 1000);
  const maxBatches = request.maxBatches ?? 1000;
  const filter = { ...filterJson(request.filter), limit: batchSize };
  const total: BulkOutcome = { resolved: 0, skipped: 0, batches: 0 };
  while (total.batches < maxBatches) {
    const result = await transact(async (tx) => {
      const [row] = await (tx as postgres.Sql<Record<string, unknown>>)<{ result: { resolved: number; skipped: number } }[]>`
        select taskweave.resolve_reviews(${tx.json(filter as postgres.JSONValue)}, ${request.action}, ${request.note ?? null}) as result`;
      return row.result;
    });
    total.batches += 1;
    total.resolved += result.resolved;
    total.skipped += result.skipped;
    if (result.resolved + result.skipped < batchSize || result.resolved === 0) break;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// cancelling

export interface CancelOutcome {
  task: { id: string; title: string; status: TaskStatus };
  /** tasks this cancel moved to cancelled (the task and what it started that had not ended), counted by the cancel itself */
  stopped: number;
}

/** taskweave.cancel_task_counted. Raises the SQL API's errors (P0002 unknown task, 42501, 22023). */
export async function cancelTask(transact: Transact, request: { taskId: string; note?: string | null }): Promise<CancelOutcome> {
  return transact(async (tx) => {
    const [row] = await (tx as postgres.Sql<Record<string, unknown>>)<{ task_id: string; title: string; status: TaskStatus; stopped: number }[]>`
      select task_id, title, status, stopped from taskweave.cancel_task_counted(${request.taskId}::uuid, ${request.note ?? null})`;
    return { task: { id: row.task_id, title: row.title, status: row.status }, stopped: row.stopped };
  });
}

// ---------------------------------------------------------------------------------------------
// where a run stands

export const WORK_STATES = ['running', 'needs_operator', 'completed', 'failed', 'cancelled'] as const;
export type WorkState = (typeof WORK_STATES)[number];

export interface TaskWork {
  task_id: string;
  /**
   * running (work remains), needs_operator (nothing can move until a person resolves a review), or once all
   * of it ended: completed, failed or cancelled
   */
  state: WorkState;
  /** reviews open under the task (they wait for a person), whatever the state */
  open_reviews: number;
  /** when state is completed: the last aggregator's output (followed down), else the task's own */
  answer: { task_id: string; title: string; output: Json } | null;
}

/**
 * Where each task's work stands, counting everything under it (taskweave.task_states, the one rule), with
 * the answer's output when it completed. A task the caller may not see is absent from the map.
 */
export async function workStates(sql: Sql, taskIds: string[], options: { withAnswer?: boolean } = {}): Promise<Map<string, TaskWork>> {
  if (taskIds.length === 0) return new Map();
  const withAnswer = options.withAnswer !== false;
  const rows = await (sql as postgres.Sql<Record<string, unknown>>)<
    { task_id: string; state: WorkState; open_reviews: number; answer_task_id: string | null; answer_title: string | null; answer_output: Json | null }[]
  >`
    select s.task_id, s.state, s.open_reviews, s.answer_task_id, a.title as answer_title,
           ${withAnswer ? sql`a.output` : sql`null::jsonb`} as answer_output
      from taskweave.task_states(${taskIds}::uuid[]) s
      left join taskweave.tasks a on a.id = s.answer_task_id`;
  return new Map(
    rows.map((r) => [
      r.task_id,
      {
        task_id: r.task_id,
        state: r.state,
        open_reviews: r.open_reviews,
        answer: r.answer_task_id ? { task_id: r.answer_task_id, title: r.answer_title ?? '', output: r.answer_output ?? null } : null,
      },
    ]),
  );
}
