// Recognising a running `supabase start` stack from the outside, without Docker: its Postgres by what only
// Supabase's image has, its API gateway by how Kong answers.
import postgres from 'postgres';

/**
 * Whether the database is a Supabase stack's (or a hosted project's): GoTrue's `auth.users` and the image's
 * `supabase_admin` login. Our bootstrap of a plain Postgres makes neither (its supabase_admin is NOLOGIN).
 */
export async function isSupabaseStackDatabase(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [row] = await sql<{ ok: boolean }[]>`
      select to_regclass('auth.users') is not null
         and exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_admin' and rolcanlogin) as ok`;
    return row.ok;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * What answers HTTP on 127.0.0.1:port, when it is a Supabase API gateway: Kong names itself in `Server`
 * (its own answers) or `Via` (proxied ones), and answers an unknown route with "no Route matched". Returns
 * a short description, or undefined for anything else (another program, or nothing).
 */
export async function supabaseGatewayAt(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(3_000) });
    const body = (await res.text()).slice(0, 500);
    const server = res.headers.get('server') ?? res.headers.get('via') ?? '';
    if (/kong/i.test(server)) return server;
    if (/no Route matched/i.test(body)) return 'Kong';
    return undefined;
  } catch {
    return undefined;
  }
}
