// The output cap of a tool call (tools.max_output_bytes): what the model gets is cut to that many bytes
// of UTF-8, with a visible marker, and flagged `truncated`, so a huge answer never floods the context.
export const OUTPUT_TRUNCATION_MARKER = '…[truncated:';

const encoder = new TextEncoder();

/** Text cut to at most `maxBytes` bytes of UTF-8 (the marker included), never inside a character. */
export function capText(
  text: string,
  maxBytes: number,
  marker = (cut: number) => ` ${OUTPUT_TRUNCATION_MARKER} ${cut} more bytes]`,
): { text: string; truncated: boolean; bytes: number } {
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return { text, truncated: false, bytes: bytes.length };
  let keep = Math.max(0, maxBytes - encoder.encode(marker(bytes.length)).length);
  // step back to a character boundary (a UTF-8 continuation byte is 10xxxxxx)
  while (keep > 0 && (bytes[keep] & 0xc0) === 0x80) keep--;
  const kept = new TextDecoder().decode(bytes.subarray(0, keep));
  return { text: kept + marker(bytes.length - keep), truncated: true, bytes: bytes.length };
}

/**
 * A result for the model: the JSON value itself when its text fits the cap, else its text cut to the
 * cap (a JSON value cut in the middle is text, not JSON).
 */
export function capValue(value: unknown, maxBytes: number): { result: unknown; truncated: boolean } {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  const capped = capText(text, maxBytes);
  if (!capped.truncated) return { result: value ?? null, truncated: false };
  return { result: capped.text, truncated: true };
}

/** Read a response body, at most `maxBytes` of it (then the stream is cancelled): the rest is never downloaded. */
export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  if (!body) return { text: '', truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > maxBytes) {
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  const text = new TextDecoder().decode(all);
  if (!truncated) return { text, truncated: false };
  // only the first bytes were downloaded: say the cap, not a count of what was never read
  return { text: capText(text, maxBytes, () => ` ${OUTPUT_TRUNCATION_MARKER} the response is longer than ${maxBytes} bytes]`).text, truncated: true };
}
