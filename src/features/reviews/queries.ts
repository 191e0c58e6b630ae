import 'server-only';
// Reviews: the operator's triage queue, read as the viewer. Listing, counting and the meaning of a filter
// belong to the operator module the MCP endpoint uses too (supabase/functions/_shared/operator.ts, over
// taskweave.list_reviews and count_reviews); this file adds what only the page shows: the input schema an
// approval's edited arguments are checked against, where each review's run stands, the filter
// suggestions, and the resolved list.
import {
  countReviews,
  listReviews,
  workStates,
  type ReviewFilter,
  type ReviewItem,
  type TaskWork,
} from '../../../supabase/functions/_shared/operator';
import { decodeCursor, encodeCursor, type Cursor } from '../../lib/db/cursor';
import { withClaims, type Claims, type Sql, type Tx } from '../../lib/db/identity';
import type { Json, Tables } from '../../lib/db/types';
import type { JsonSchema } from '../../../supabase/functions/_shared/json-schema';
import { parseFilters, type FilterParam, type FilterValues, type SearchParams } from './filters';
import type { JsonValue, ReviewAction, ReviewKind } from './schema';

export type { AggregatorProgress, ReviewError, ReviewRequest, TaskWork } from '../../../supabase/functions/_shared/operator';
export type RunRow = Tables<'runs'>;
type Task = Tables<'tasks'>;

export interface OpenReview extends ReviewItem {
  /** approval: the JSON Schema edited arguments must fit (the request's, else the http tool's); null when none is known */
  input_schema: JsonSchema | null;
  /** where the review's run stands (taskweave.task_states of its root); its answer only when asked for */
  run_state: TaskWork | null;
  /** the run's root task, to name the run */
  root: { id: string; title: string } | null;
}

export interface ResolvedReview {
  id: string;
  kind: ReviewKind;
  created_at: string;
  resolved_at: string;
  resolved_by: string | null;
  action: ReviewAction;
  note: string | null;
  manual_output: JsonValue | null;
  error: Json | null;
  request: Json;
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

/**
 * Open reviews that match the filter, oldest first, one page at a time (keyset pagination: page 500 costs
 * what page 1 costs), with how many match in all and where each review's run stands.
 */
export async function listOpenReviews(
  sql: Sql,
  claims: Claims,
  options: { filter?: ReviewFilter; after?: Cursor; before?: Cursor; limit?: number; withAnswers?: boolean } = {},
): Promise<Page<OpenReview> & { total: number }> {
  // the count runs beside the page on a second connection: at 10,000 open reviews each costs tens of
  // milliseconds, and the page's server time is their maximum rather than their sum
  const [page, total] = await Promise.all([
    withClaims(sql, claims, async (tx) => {
      const page = await listReviews(tx, { filter: options.filter, after: options.after, before: options.before, limit: options.limit ?? REVIEWS_PAGE_SIZE, withTotal: false });
      const rootIds = [...new Set(page.items.map((item) => item.task.root_task_id))];
      const [schemas, roots] = await Promise.all([
        toolSchemas(tx, page.items),
        rootIds.length === 0 ? [] : tx<{ id: string; title: string }[]>`select id, title from taskweave.tasks where id = any (${rootIds}::uuid[])`,
      ]);
      return { page, rootIds, schemas, roots };
    }).then(async (listed) => ({ ...listed, states: await withClaims(sql, claims, (tx) => workStates(tx, listed.rootIds, { withAnswer: options.withAnswers === true })) })),
    withClaims(sql, claims, (tx) => countReviews(tx, options.filter)),
  ]);
  const states = page.states;
  const rootById = new Map(page.roots.map((root) => [root.id, root]));
  return {
    ...page.page,
    total,
    items: page.page.items.map((item) => ({
      ...item,
      input_schema: item.kind === 'approval' ? inputSchemaOf(item, page.schemas) : null,
      run_state: states.get(item.task.root_task_id) ?? null,
      root: rootById.get(item.task.root_task_id) ?? null,
    })),
  };
}

/** Input schemas of the http tools a page's approvals name (an MCP tool's comes with its request). */
async function toolSchemas(tx: Tx, items: ReviewItem[]): Promise<Map<string, JsonSchema>> {
  const slugs = [...new Set(items.filter((i) => i.kind === 'approval' && i.request.tool && !i.request.input_schema).map((i) => toolSlug(i.request.tool!)))];
  if (slugs.length === 0) return new Map();
  const rows = await tx<{ slug: string; schema: JsonSchema }[]>`
    select slug, config -> 'input_schema' as schema from taskweave.tools
     where slug = any (${slugs}::text[]) and jsonb_typeof(config -> 'input_schema') = 'object'`;
  return new Map(rows.map((row) => [row.slug, row.schema]));
}

/** A model calls an MCP server's tool as <tool slug>__<name>; the registry knows the slug. */
export function toolSlug(toolName: string): string {
  return toolName.split('__')[0];
}

function inputSchemaOf(item: ReviewItem, schemas: Map<string, JsonSchema>): JsonSchema | null {
  const own = item.request.input_schema;
  if (own && typeof own === 'object' && !Array.isArray(own)) return own as JsonSchema;
  return item.request.tool ? (schemas.get(toolSlug(item.request.tool)) ?? null) : null;
}

/** One open review with what checking an approval's edited arguments needs, or null when it is gone. */
export async function reviewForDecision(
  tx: Tx,
  reviewId: string,
): Promise<{ kind: ReviewKind; tool?: string; input_schema: JsonSchema | null; options: string[] } | null> {
  const [row] = await tx<{ kind: ReviewKind; request: ReviewItem['request']; tool_schema: JsonSchema | null }[]>`
    select r.kind, r.request,
           (select tl.config -> 'input_schema' from taskweave.tools tl
             where tl.slug = split_part(r.request ->> 'tool', '__', 1) and jsonb_typeof(tl.config -> 'input_schema') = 'object') as tool_schema
      from taskweave.human_reviews r where r.id = ${reviewId}`;
  if (!row) return null;
  const own = row.request.input_schema;
  return {
    kind: row.kind,
    tool: typeof row.request.tool === 'string' ? row.request.tool : undefined,
    input_schema: own && typeof own === 'object' && !Array.isArray(own) ? (own as JsonSchema) : row.tool_schema,
    options: Array.isArray(row.request.options) ? row.request.options : [],
  };
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
      select r.id, r.kind, r.created_at, r.resolved_at, r.resolved_at::text as cursor_at, r.resolved_by, r.action,
             r.note, r.manual_output, r.error, r.request, jsonb_build_object('id', t.id, 'title', t.title, 'status', t.status) as task
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

export async function countOpenReviews(sql: Sql, claims: Claims, filter: ReviewFilter = {}): Promise<number> {
  return withClaims(sql, claims, (tx) => countReviews(tx, filter));
}

/** What the filter form suggests: the agents and tools in the registry, and the error categories of open reviews. */
export async function filterSuggestions(sql: Sql, claims: Claims): Promise<{ agents: string[]; tools: string[]; categories: string[] }> {
  return withClaims(sql, claims, async (tx) => {
    const [[row]] = await Promise.all([
      tx<{ agents: string[]; tools: string[]; categories: string[] }[]>`
        select coalesce((select array_agg(slug order by slug) from taskweave.agents), '{}') as agents,
               coalesce((select array_agg(slug order by slug) from taskweave.tools), '{}') as tools,
               coalesce((select array_agg(c order by c) from (
                 select distinct r.error ->> 'category' as c from taskweave.human_reviews r
                  where r.status = 'open' and r.kind = 'failure' and r.error ? 'category' limit 50) cs), '{}') as categories`,
    ]);
    return row;
  });
}

/** Where these runs stand, with their answers (taskweave.task_states of each root: the one rule). */
export async function runStates(sql: Sql, claims: Claims, rootIds: string[], options: { withAnswer?: boolean } = {}): Promise<Map<string, TaskWork>> {
  return withClaims(sql, claims, (tx) => workStates(tx, rootIds, options));
}

export interface OpenReviewsPage {
  values: FilterValues;
  ignored: FilterParam[];
  page: Page<OpenReview> & { total: number };
  suggestions: { agents: string[]; tools: string[]; categories: string[] };
  /** with a run filter: where that run stands, and its answer */
  run: TaskWork | null;
}

/**
 * Everything /reviews (the Open tab) shows for these URL parameters, read at once: the page of reviews
 * with its count, the filter suggestions and the filtered run's state run side by side on their own
 * connections. What the page's server time is made of, so the scale test times exactly this.
 */
export async function getOpenReviewsPage(sql: Sql, claims: Claims, params: SearchParams): Promise<OpenReviewsPage> {
  const { values, filter, ignored } = parseFilters(params);
  const after = decodeCursor(params.after);
  const before = after ? undefined : decodeCursor(params.before);
  // a run filter's state comes with the page's own (one task_states of that root, with its answer), and
  // is read on its own only when no review of the run is left to carry it
  const [page, suggestions] = await Promise.all([listOpenReviews(sql, claims, { filter, after, before, withAnswers: !!values.run }), filterSuggestions(sql, claims)]);
  let run: TaskWork | null = null;
  if (values.run) {
    run = page.items.find((item) => item.task.root_task_id === values.run)?.run_state ?? null;
    if (!run) run = (await runStates(sql, claims, [values.run])).get(values.run) ?? null;
  }
  return { values, ignored, page, suggestions, run };
}
