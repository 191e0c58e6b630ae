import 'server-only';
import postgres from 'postgres';
import type { Sql } from './identity';

// Same default as scripts/lib/local-config.ts (the local stack's database, DESIGN §5); duplicated so
// the bundled server does not pull the scripts' filesystem helpers in.
const LOCAL_DATABASE_URL = 'postgresql://postgres:postgres@127.0.0.1:54322/postgres';

export function databaseUrl(): string {
  return process.env.DATABASE_URL || LOCAL_DATABASE_URL;
}

// One pool per server process. Kept on globalThis so `next dev` module reloads do not leak pools.
const globalForPool = globalThis as unknown as { taskweavePool?: Sql };

export function pool(): Sql {
  if (!globalForPool.taskweavePool) {
    globalForPool.taskweavePool = postgres(databaseUrl(), {
      max: Number(process.env.TASKWEAVE_DB_POOL_SIZE || 10),
      idle_timeout: 30,
      connect_timeout: 10,
      onnotice: () => {},
      // pgbouncer/Supavisor in transaction mode cannot keep prepared statements across transactions
      prepare: !/pooler\.supabase\.com|:6543\b/.test(databaseUrl()),
    }) as Sql;
  }
  return globalForPool.taskweavePool;
}
