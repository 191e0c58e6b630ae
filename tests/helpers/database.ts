// Each test file gets its own database cloned from the migrated template: real Postgres, no mocks,
// and files can run in parallel without seeing each other's rows.
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDatabaseFromTemplate } from '../../scripts/lib/database-setup.ts';

export { setSettings, withSettings } from './tasks.ts';

export type Sql = postgres.Sql<Record<string, unknown>>;

export interface TestDatabase {
  /** URL of this file's database (superuser `postgres`, as SUPABASE_DB_URL is in edge functions). */
  readonly url: string;
  /** A pool of connections to it as `postgres`. */
  readonly sql: Sql;
  /** A fresh client with its own pool, for tests that need many separate connections. */
  client(max?: number): Sql;
}

export function connect(url: string, max = 4): Sql {
  return postgres(url, { max, onnotice: () => {}, connect_timeout: 10, idle_timeout: 5 }) as Sql;
}

/**
 * settings: Taskweave settings for this file's database (taskweave.set_settings), e.g. { max_running: 0 } for
 * files that keep hundreds of tasks running at once and are not about the cap.
 */
export function useTestDatabase(options: { settings?: Record<string, number> } = {}): TestDatabase {
  let db: Awaited<ReturnType<typeof createDatabaseFromTemplate>> | undefined;
  let sql: Sql | undefined;
  const clients: Sql[] = [];
  beforeAll(async () => {
    db = await createDatabaseFromTemplate(inject('serverUrl'), inject('templateDatabase'));
    if (options.settings) {
      const admin = connect(db.url, 1);
      try {
        await admin`select taskweave.set_settings(${admin.json(options.settings)})`;
      } finally {
        await admin.end({ timeout: 2 });
      }
    }
    sql = connect(db.url, 8);
  });
  afterAll(async () => {
    await Promise.all([sql, ...clients].map((c) => c?.end({ timeout: 2 })));
    await db?.drop();
  });
  return {
    get url() {
      if (!db) throw new Error('useTestDatabase: the database exists only inside tests and hooks');
      return db.url;
    },
    get sql() {
      if (!sql) throw new Error('useTestDatabase: the database exists only inside tests and hooks');
      return sql;
    },
    client(max = 1) {
      const c = connect(this.url, max);
      clients.push(c);
      return c;
    },
  };
}

export interface Identity {
  role: 'anon' | 'authenticated' | 'service_role';
  claims?: Record<string, unknown>;
}

export const operator = (email = 'ada@example.com', sub = '00000000-0000-4000-8000-00000000a0a0'): Identity => ({
  role: 'authenticated',
  claims: { sub, email, role: 'authenticated', app_metadata: { role: 'operator' } },
});
export const plainUser = (sub = '00000000-0000-4000-8000-0000000000b1'): Identity => ({
  role: 'authenticated',
  claims: { sub, email: 'bob@example.com', role: 'authenticated', app_metadata: {} },
});
export const anon: Identity = { role: 'anon', claims: { role: 'anon' } };
export const serviceRole: Identity = { role: 'service_role', claims: { role: 'service_role' } };

/** Run fn in one transaction as PostgREST would for a request: `set local role` and the JWT claims. */
export async function asIdentity<T>(sql: Sql, identity: Identity, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return (await sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(identity.claims ?? { role: identity.role })}, true)`;
    await tx.unsafe(`set local role ${identity.role}`);
    return fn(tx);
  })) as T;
}

