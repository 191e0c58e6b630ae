// The bearer rule both functions share (DESIGN §4): `Authorization: Bearer <key>` where the key is one of
// the accepted secrets (PROCESS_TASK_SECRET and/or the service role key), compared in constant time.

const encoder = new TextEncoder();

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
