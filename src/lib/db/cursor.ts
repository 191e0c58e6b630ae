// Keyset pagination cursors: the sort key (timestamp, id) of the row a page starts after, opaque to
// the browser. Keyset instead of OFFSET keeps page 400 of the queue as fast as page 1.
import { z } from 'zod';

/** Keyset cursor for the review lists: the sort key of the last row shown, opaque to the browser. */
export const cursorSchema = z
  .string()
  .max(200)
  .transform((raw, ctx) => {
    try {
      const [at, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as [unknown, unknown];
      // the timestamp is Postgres's own text form: microseconds kept (a JS Date would drop them, so
      // queries must cast it from text, never let the driver pass it as a Date)
      const parsed = z.tuple([z.string().regex(/^\d{4}-\d{2}-\d{2}[ T][0-9:.]+([+-]\d{2}(:?\d{2})?|Z)$/), z.uuid()]).safeParse([at, id]);
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
