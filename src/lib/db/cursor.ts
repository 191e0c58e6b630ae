// Keyset pagination cursors: the sort key (timestamp, id) of the row a page starts after, opaque to
// the browser. Keyset instead of OFFSET keeps page 400 of the queue as fast as page 1. The encoding and
// what counts as a cursor we gave out (a real moment, a uuid) are the operator module's, which the MCP
// endpoint pages with too.
import { decodeKeysetCursor, encodeKeysetCursor, type KeysetCursor } from '../../../supabase/functions/_shared/keyset-cursor';

export type Cursor = KeysetCursor;

export const encodeCursor = encodeKeysetCursor;

/** A cursor from the query string, or undefined when absent, repeated or tampered with (the list then starts over). */
export function decodeCursor(raw: string | string[] | undefined): Cursor | undefined {
  return typeof raw === 'string' ? decodeKeysetCursor(raw) : undefined;
}
