// Small builders over the SQL API for tests and benchmarks: they call the real functions, nothing else.
import type postgres from 'postgres';
import type { Sql } from './database.ts';

export interface TaskRow {
  id: string;
  parent_task_id: string | null;
  root_task_id: string;
  title: string;
  status: string;
  is_parallel_task: boolean;
  dependent_task_ids: string[];
  output: unknown;
  last_error: Record<string, unknown> | null;
  attempt: number;
  max_attempts: number;
  run_after: Date;
  leased_by: string | null;
  lease_expires_at: Date | null;
  depth: number;
}

export async function createRoot(sql: Sql, title = 'root', input: Record<string, unknown> = {}): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`select * from taskweave.create_task(${title}, ${'instructions for ' + title}, ${sql.json(input as never)})`;
  return row;
}

export async function createParallel(sql: Sql, parentId: string, title = 'child', toolCallId: string | null = null): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`
    select * from taskweave.create_parallel_task(${parentId}, ${title}, ${'do ' + title}, '{}'::jsonb, ${toolCallId})`;
  return row;
}

export async function createAggregator(sql: Sql, parentId: string, deps: string[], title = 'aggregate', toolCallId: string | null = null): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`
    select * from taskweave.create_aggregator_task(${parentId}, ${deps}::uuid[], ${title}, 'combine the results', ${toolCallId})`;
  return row;
}

/** A root with n parallel children and one aggregator over them (the children limit is lifted for this). */
export async function createFanOut(sql: Sql, n: number, title = 'fan-out') {
  const root = await createRoot(sql, title);
  const children = (await withSettings(sql, { max_children_per_task: n + 10 }, async (tx) => {
    return tx<TaskRow[]>`
      select t.* from generate_series(1, ${n}::int) as i
      cross join lateral taskweave.create_parallel_task(${root.id}, ${title} || ' part ' || i, 'do part ' || i) as t
      order by i`;
  })) as unknown as TaskRow[];
  const aggregator = (await withSettings(sql, { max_children_per_task: n + 10 }, async (tx) => {
    return createAggregator(tx as unknown as Sql, root.id, children.map((c) => c.id), `${title} summary`);
  })) as unknown as TaskRow;
  return { root, children, aggregator };
}

export async function claim(sql: Sql, taskId: string, worker = 'worker-1', leaseSeconds = 300): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`select * from taskweave.claim_task(${taskId}, ${worker}, ${leaseSeconds})`;
  return row;
}

export async function complete(sql: Sql, taskId: string, worker = 'worker-1', output: unknown = { ok: true }): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`select * from taskweave.complete_task(${taskId}, ${worker}, ${sql.json(output as never)})`;
  return row;
}

export async function fail(sql: Sql, taskId: string, worker = 'worker-1', retryable = true, error: Record<string, unknown> = { category: 'model', message: 'boom' }): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`select * from taskweave.fail_task(${taskId}, ${worker}, ${sql.json(error as never)}, ${retryable})`;
  return row;
}

/** Claim and complete in one go. */
export async function finish(sql: Sql, taskId: string, output: unknown = { ok: true }, worker = 'worker-1'): Promise<TaskRow> {
  await claim(sql, taskId, worker);
  return complete(sql, taskId, worker, output);
}

/** Claim and fail without retry: a parallel task lands in needs_human_review. Returns the open review id. */
export async function failToReview(sql: Sql, taskId: string, error: Record<string, unknown> = { category: 'model', message: 'provider said 500' }): Promise<string> {
  await claim(sql, taskId, 'worker-f');
  await fail(sql, taskId, 'worker-f', false, error);
  const [review] = await sql<{ id: string }[]>`select id from taskweave.human_reviews where task_id = ${taskId} and status = 'open'`;
  return review.id;
}

export async function getTask(sql: Sql, id: string): Promise<TaskRow> {
  const [row] = await sql<TaskRow[]>`select * from taskweave.tasks where id = ${id}`;
  return row;
}

export async function activationCount(sql: Sql, aggregatorId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from taskweave.task_events
     where task_id = ${aggregatorId} and from_status = 'queued' and to_status in ('pending', 'cancelled')`;
  return row.n;
}

/** The SQLSTATE and message of a rejected call, for exact assertions. */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { code: e.code ?? '', message: e.message };
  }
  throw new Error('expected the call to be rejected, but it succeeded');
}

/** Sets Taskweave settings with taskweave.set_settings (a value of null puts the default back); returns them all. */
export async function setSettings(sql: Sql | postgres.TransactionSql, settings: Record<string, number | null>): Promise<Record<string, number>> {
  const [row] = await (sql as Sql)`select taskweave.set_settings(${(sql as Sql).json(settings)}) as settings`;
  return row.settings as Record<string, number>;
}

/**
 * Runs fn in one transaction with the given settings, and puts the previous values back before it commits:
 * no other transaction ever sees them (what `set local` did while settings were Postgres parameters).
 */
export async function withSettings<T>(sql: Sql, settings: Record<string, number>, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return (await sql.begin(async (tx) => {
    const [{ before }] = await (tx as unknown as Sql)<{ before: Record<string, number> }[]>`select taskweave.get_settings() as before`;
    await setSettings(tx, settings);
    const result = await fn(tx);
    await setSettings(tx, Object.fromEntries(Object.keys(settings).map((name) => [name, before[name]])));
    return result;
  })) as T;
}
