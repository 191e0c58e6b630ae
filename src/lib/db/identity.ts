// Every query the web app runs carries the viewer's identity the way PostgREST does for a request:
// the JWT claims in `request.jwt.claims` and `role` switched to `authenticated`, both local to one
// transaction. Row-level security and the SQL functions then decide what the viewer may see and do;
// the app never connects as a role that bypasses them for reads or writes.
import type postgres from 'postgres';
import { actAsUser } from '../../../supabase/functions/_shared/user-transaction';

export type Sql = postgres.Sql<Record<string, unknown>>;
export type Tx = postgres.TransactionSql<Record<string, unknown>>;

/** The JWT claims the database sees (what `auth.jwt()` returns inside the transaction). */
export interface Claims {
  sub: string;
  email?: string;
  role: 'authenticated';
  app_metadata?: { role?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export async function withClaims<T>(sql: Sql, claims: Claims, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return (await sql.begin(async (tx) => {
    // one round trip, all transaction-local like PostgREST's per-request preamble (the rule the MCP
    // endpoint shares). Custom plans: the driver prepares statements, and a generic plan cannot see that
    // a keyset cursor or an id list is selective enough for an index.
    await actAsUser(tx, claims, { customPlans: true });
    return fn(tx);
  })) as T;
}

/** Who the database records as the resolver: the operator's email, else the subject id (as resolve_review does). */
export function displayName(claims: Claims): string {
  return claims.email || claims.sub;
}
