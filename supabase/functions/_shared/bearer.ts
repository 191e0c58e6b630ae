// The bearer rule both functions share (docs/contracts.md §3): `Authorization: Bearer <key>` where the key is one of
// the accepted keys, compared in constant time. Accepted: PROCESS_TASK_SECRET, the legacy service-role JWT
// (SUPABASE_SERVICE_ROLE_KEY) and the new secret API keys (`sb_secret_…`).
//
// How the edge runtime hands a function the new keys: SUPABASE_SECRET_KEYS, a JSON dictionary of key name
// to key (`{"default":"sb_secret_…"}`), beside the legacy SUPABASE_SERVICE_ROLE_KEY. Hosted, the platform
// sets both; `supabase functions serve` sets them from the local stack (supabase/cli
// internal/functions/serve: SUPABASE_INTERNAL_SECRET_KEY becomes SUPABASE_SECRET_KEYS={"default": …}).
// Every named key is accepted, so a project that rotates through a second secret key keeps working.

const encoder = new TextEncoder();

/**
 * The key `npm run dev` and `npm run functions:serve` use when PROCESS_TASK_SECRET is not set. It is
 * published (it is in this file), so it opens only a function that serves this machine: a hosted function
 * refuses it (acceptedKeys), and functions:serve refuses to serve another host with it.
 */
export const PUBLISHED_LOCAL_SECRET = 'taskweave-local-process-task-secret';

/** Compare in time independent of where the strings differ (length is not secret: keys are fixed-size). */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const length = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Whether the Authorization header carries one of the secrets. */
export function authorized(header: string | null, secrets: string[]): boolean {
  if (!header) return false;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match) return false;
  const token = match[1];
  // every configured key is compared, so the timing does not tell which one (or whether any) matched
  let ok = false;
  for (const secret of secrets) if (secret && timingSafeEqual(token, secret)) ok = true;
  return ok;
}

export interface AcceptedKeys {
  keys: string[];
  /** what is wrong with the key settings (each names the variable); the keys that are fine still count */
  problems: string[];
}

/**
 * The keys a caller may present, from a function's environment: PROCESS_TASK_SECRET, SUPABASE_SERVICE_ROLE_KEY,
 * and every key of SUPABASE_SECRET_KEYS. A publishable key (`sb_publishable_…`) is never a bearer key, even
 * where misplaced. `hosted` (SUPABASE_URL is not this machine): PUBLISHED_LOCAL_SECRET is refused.
 */
export function acceptedKeys(env: Record<string, string | undefined>, options: { hosted: boolean }): AcceptedKeys {
  const keys: string[] = [];
  const problems: string[] = [];
  const add = (key: string | undefined) => {
    const trimmed = key?.trim();
    if (trimmed && !trimmed.startsWith('sb_publishable_') && !keys.includes(trimmed)) keys.push(trimmed);
  };
  const secret = env.PROCESS_TASK_SECRET?.trim();
  if (secret && options.hosted && secret === PUBLISHED_LOCAL_SECRET) {
    problems.push('PROCESS_TASK_SECRET is the published local default: hosted it is refused; set a long random one (`supabase secrets set PROCESS_TASK_SECRET=…`)');
  } else {
    add(secret);
  }
  add(env.SUPABASE_SERVICE_ROLE_KEY);
  const named = env.SUPABASE_SECRET_KEYS?.trim();
  if (named) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(named);
    } catch {
      parsed = undefined;
    }
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      for (const value of Object.values(parsed)) if (typeof value === 'string') add(value);
    } else {
      // fail closed: a value we cannot read adds no key (the other keys still work)
      problems.push('SUPABASE_SECRET_KEYS is not a JSON object of key name to key (expected {"default":"sb_secret_…"})');
    }
  }
  return { keys, problems };
}
