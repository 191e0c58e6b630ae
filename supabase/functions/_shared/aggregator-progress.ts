// Join progress of aggregators, counted from their dependencies' statuses in one query. The web app's
// review pages and the mcp function (get_task, list_reviews, resolve_review) both show it, so it is
// written once here. `&&` on an array of ids lets the planner use the (partial, aggregators-only) GIN
// index on dependent_task_ids; a correlated `@> array[t.id]` per row was planned as a sequential scan.
import type postgres from 'postgres';
import type { Database } from './database.types.ts';

type Sql = postgres.Sql<Record<string, unknown>> | postgres.TransactionSql<Record<string, unknown>>;

export interface AggregatorProgressRow {
  id: string;
  title: string;
  status: Database['taskweave']['Enums']['task_status'];
  /** what activated it: 'dependencies', 'quorum' or 'deadline'; null while it waits */
  activated_by: string | null;
  dependent_task_ids: string[];
  /** its dependencies */
  total: number;
  /** dependencies that ended (completed or cancelled) */
  ended: number;
  completed: number;
}

/** These aggregators (`{ ids }`), or the aggregators that wait for any of these tasks (`{ waitingFor }`), oldest first. */
export async function aggregatorProgress(sql: Sql, of: { ids: string[] } | { waitingFor: string[] }): Promise<AggregatorProgressRow[]> {
  const ids = 'ids' in of ? of.ids : of.waitingFor;
  if (ids.length === 0) return [];
  const which =
    'ids' in of
      ? sql`a.id = any (${ids}::uuid[])`
      : sql`cardinality(a.dependent_task_ids) > 0 and a.dependent_task_ids && ${ids}::uuid[]`;
  return (sql as postgres.Sql<Record<string, unknown>>)<AggregatorProgressRow[]>`
    select a.id, a.title, a.status, a.activated_by, a.dependent_task_ids, cardinality(a.dependent_task_ids) as total,
           deps.ended, deps.completed
      from taskweave.tasks a
      cross join lateral (
        select count(*) filter (where d.status in ('completed', 'cancelled'))::int as ended,
               count(*) filter (where d.status = 'completed')::int as completed
          from taskweave.tasks d where d.id = any (a.dependent_task_ids)
      ) deps
     where ${which}
     order by a.created_at, a.id`;
}
