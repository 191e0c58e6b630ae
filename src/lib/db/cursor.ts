// Keyset pagination cursors: the sort key (timestamp, id) of the row a page starts after, opaque to
// the browser. Keyset instead of OFFSET keeps page 400 of the queue as fast as page 1.
import { z } from 'zod';

// Postgres's text form of a timestamptz ("2026-11-25 10:42:00.123456+00"), or ISO 8601 with T and Z
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)$/;

/**
 * Whether a timestamp in that form names a real moment. The pattern alone let "2026-13-01" through to
 * Postgres, which refused it (22008) and the page showed its error page instead of starting over.
 */
export function isRealTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = m.slice(1).map((part) => (part === undefined ? undefined : Number(part))) as number[];
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

/** Keyset cursor for the review lists: the sort key of the last row shown, opaque to the browser. */
export const cursorSchema = z
  .string()
  .max(200)
  .transform((raw, ctx) => {
    try {
      const [at, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as [unknown, unknown];
      // the timestamp is Postgres's own text form: microseconds kept (a JS Date would drop them, so
      // queries must cast it from text, never let the driver pass it as a Date)
      const parsed = z.tuple([z.string().refine(isRealTimestamp), z.uuid()]).safeParse([at, id]);
      if (parsed.success) return { at: parsed.data[0], id: parsed.data[1] };
    } catch {
      // fall through to the issue below
    }
    ctx.addIssue({ code: 'custom', message: 'invalid cursor' });
    return z.NEVER;
  });

export type Cursor = { at: string; id: string };

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id]), 'utf8').toString('base64url');
}

/** A cursor from the query string, or undefined when absent or tampered with (the list then starts over). */
export function decodeCursor(raw: string | string[] | undefined): Cursor | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined;
  const parsed = cursorSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
