// What both functions read from their environment the same way: where the database is, and whether they
// run hosted. Pure: each composition root (index.ts) passes Deno.env.toObject(); tests pass objects.

/**
 * The database: TASKWEAVE_DB_URL, else the platform's own SUPABASE_DB_URL. Hosted, a user cannot set a
 * secret whose name starts with SUPABASE_ (the CLI skips it), so pointing the functions at the pooler
 * takes a name of our own.
 */
export function databaseUrlOf(env: Record<string, string | undefined>): string {
  return env.TASKWEAVE_DB_URL?.trim() || env.SUPABASE_DB_URL?.trim() || '';
}

export const DATABASE_URL_MISSING =
  "no database URL: TASKWEAVE_DB_URL is not set and the platform's SUPABASE_DB_URL is not set (hosted: `supabase secrets set TASKWEAVE_DB_URL=…`)";

/**
 * Hosts where SUPABASE_URL points at this machine: loopback, and `kong`, the gateway's name inside the
 * local `supabase start` network (what `supabase functions serve` sets). Anything else is a hosted project.
 */
export function isLocalSupabaseUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return false;
  }
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost' || host.endsWith('.localhost') || host === 'kong' || host === 'host.docker.internal';
}

/** Hosted: SUPABASE_URL is set and is not this machine. */
export function isHosted(env: Record<string, string | undefined>): boolean {
  return !!env.SUPABASE_URL && !isLocalSupabaseUrl(env.SUPABASE_URL);
}
