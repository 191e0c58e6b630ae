// Keyset pagination cursors, opaque to whoever holds them: the sort key (Postgres's text form of a
// timestamp, and an id) of the row a page starts after. Written once for the web app and the MCP endpoint;
// runs under Node and Deno alike (btoa/atob, no Buffer).

export interface KeysetCursor {
  /** Postgres's own text form of the timestamp, microseconds kept (a JS Date would drop them) */
  at: string;
  id: string;
}

// Postgres's text form of a timestamptz ("2026-11-25 10:42:00.123456+00"), or ISO 8601 with T and Z
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether a timestamp in that form names a real moment. The pattern alone let "2026-13-01" through to
 * Postgres, which refused it (22008), and the page showed its error page instead of starting over.
 */
export function isRealTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = m
    .slice(1)
    .map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    // Postgres keeps offsets within ±15:59
    offsetHours <= 15 &&
    offsetMinutes <= 59
  );
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(raw: string): string {
  const padded = raw.replaceAll('-', '+').replaceAll('_', '/');
  const binary = atob(padded + '='.repeat((4 - (padded.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

export function encodeKeysetCursor(cursor: KeysetCursor): string {
  return toBase64Url(JSON.stringify([cursor.at, cursor.id]));
}

/** The cursor, or undefined when it is absent, not one we gave out, or names an impossible time. */
export function decodeKeysetCursor(raw: string | null | undefined): KeysetCursor | undefined {
  if (typeof raw !== 'string' || raw === '' || raw.length > 300) return undefined;
  try {
    const [at, id] = JSON.parse(fromBase64Url(raw)) as [unknown, unknown];
    if (typeof at === 'string' && isRealTimestamp(at) && typeof id === 'string' && UUID.test(id)) return { at, id };
  } catch {
    // not base64 or not JSON: falls through
  }
  return undefined;
}
