import 'server-only';
// The web app's one Postgres pool. Every page, action and route asks for it here; the live-updates
// hub LISTENs through it too (postgres.js runs LISTEN on one dedicated connection that it opens from
// this pool's settings and re-issues after a reconnect, since a pooled connection is handed to other
// queries between transactions and would drop the subscription).
import postgres from 'postgres';
import type { Sql } from '../db/identity';
import { serverConfig } from './config';

/**
 * Values as the Data API returns them, so rows match the generated types (database.types.ts)
 * exactly: timestamps as ISO 8601 strings with their microseconds (a JS Date would drop them), and
 * bigint counters as numbers (token counts stay far below 2^53).
 */
export const dataApiTypes = {
  timestamp: {
    to: 1184,
    from: [1082, 1114, 1184],
    serialize: (value: unknown) => (value instanceof Date ? value.toISOString() : String(value)),
    parse: (value: string) => toIsoTimestamp(value),
  },
  bigint: { to: 20, from: [20], serialize: (value: unknown) => String(value), parse: (value: string) => Number(value) },
};

/** Postgres's text form ("2026-11-28 18:00:07.123456+00") -> ISO 8601 ("2026-11-28T18:00:07.123456+00:00"). */
export function toIsoTimestamp(value: string): string {
  return value.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00');
}

// One pool per server process, kept on globalThis so `next dev` module reloads do not leak pools.
const globalForPool = globalThis as unknown as { taskweavePool?: Sql };

export function db(): Sql {
  if (!globalForPool.taskweavePool) {
    const { database } = serverConfig();
    // as taskweave_web, never the owner: only withClaims (src/lib/db/identity.ts) reaches Taskweave
    globalForPool.taskweavePool = postgres(database.loginUrl, {
      max: database.poolSize,
      idle_timeout: 30,
      connect_timeout: 10,
      onnotice: () => {},
      prepare: database.prepare,
      types: dataApiTypes,
    }) as unknown as Sql;
  }
  return globalForPool.taskweavePool;
}

/** Close the pool and its LISTEN connection (tests, graceful shutdown); the next db() opens a new one. */
export async function closeDb(): Promise<void> {
  const sql = globalForPool.taskweavePool;
  globalForPool.taskweavePool = undefined;
  await sql?.end({ timeout: 2 });
}
