// Helpers for the agents-and-tools SQL tests: definitions through the real SQL API, and a way to hold one
// transaction open while another one runs into its locks.
import type postgres from 'postgres';
import type { Sql } from '../helpers/database.ts';

/** A definition as an object, or as JSON text for what JavaScript cannot write (1.0). */
type Definition = Record<string, unknown> | string;
const asJson = (definition: Definition) =>
  typeof definition === 'string' ? definition : JSON.stringify(definition);

/** the file's pool or a transaction of it (postgres.js types the two apart; both run a query the same way) */
export type Queryable = Sql | postgres.TransactionSql<Record<string, unknown>>;

export async function upsertTool(queryable: Queryable, slug: string, definition: Definition) {
  const sql = queryable as Sql;
  const [row] = await sql<Record<string, unknown>[]>`select * from taskweave.upsert_tool(${slug}, ${asJson(definition)}::text::jsonb)`;
  return row;
}

export async function upsertAgent(queryable: Queryable, slug: string, definition: Definition) {
  const sql = queryable as Sql;
  const [row] = await sql<Record<string, unknown>[]>`select * from taskweave.upsert_agent(${slug}, ${asJson(definition)}::text::jsonb)`;
  return row;
}

export const httpTool = (extra: Record<string, unknown> = {}) => ({
  kind: 'http',
  description: 'looks things up',
  config: { url: 'https://api.example.com/search', headers: { Authorization: 'Bearer {{SEARCH_KEY}}' } },
  secrets: ['SEARCH_KEY'],
  ...extra,
});

/**
 * Runs `first` in a transaction on connection a and keeps it open; then starts `second` on connection b,
 * waits until Postgres shows b waiting for a lock, commits a, and returns what b ended with.
 */
export async function raceBehindLock(
  a: Sql,
  b: Sql,
  first: (tx: postgres.TransactionSql) => Promise<unknown>,
  second: (sql: Sql) => Promise<unknown>,
  observer: Sql,
): Promise<{ ok: true; value: unknown } | { ok: false; code: string; message: string }> {
  let firstDone!: () => void;
  const firstReady = new Promise<void>((resolve) => (firstDone = resolve));
  let commit!: () => void;
  const gate = new Promise<void>((resolve) => (commit = resolve));
  const holder = a.begin(async (tx) => {
    await first(tx);
    firstDone();
    await gate;
  });
  await firstReady;
  const [{ pid }] = await b<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const outcome = second(b).then(
    (value) => ({ ok: true as const, value }),
    (e: { code?: string; message: string }) => ({ ok: false as const, code: e.code ?? '', message: e.message }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [row] = await observer<{ waiting: boolean }[]>`
      select coalesce(wait_event_type = 'Lock', false) as waiting from pg_stat_activity where pid = ${pid}`;
    if (row?.waiting) break;
    if (Date.now() > deadline) throw new Error('the second transaction never waited for the first one');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  commit();
  await holder;
  return outcome;
}
