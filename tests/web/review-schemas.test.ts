import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/lib/db/cursor.ts';
import { parseManualOutput, parseDecisionForm, parseBulkForm } from '../../src/features/reviews/schema.ts';
import { schemaIssues } from '../../supabase/functions/_shared/json-schema.ts';

const id = '7d4b7f2e-2d53-4e38-9d6a-0b1c2d3e4f50';
const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};

describe('resolve review form', () => {
  it('accepts retry and abort with an optional note, blank note dropped', () => {
    expect(parseDecisionForm(form({ reviewId: id, action: 'retry', note: '  ' }))).toEqual({
      success: true,
      data: { reviewId: id, action: 'retry', note: undefined },
    });
    expect(parseDecisionForm(form({ reviewId: id, action: 'abort', note: ' flaky vendor ' }))).toEqual({
      success: true,
      data: { reviewId: id, action: 'abort', note: 'flaky vendor' },
    });
  });

  it('stores manual text as a JSON string and manual JSON as its value', () => {
    const text = parseDecisionForm(form({ reviewId: id, action: 'manual', manualFormat: 'text', manualOutput: 'Vendor 2: $12/month' }));
    expect(text).toMatchObject({ success: true, data: { action: 'manual', manualOutput: 'Vendor 2: $12/month' } });
    const json = parseDecisionForm(form({ reviewId: id, action: 'manual', manualFormat: 'json', manualOutput: '{"price": 12, "tags": ["a"]}' }));
    expect(json).toMatchObject({ success: true, data: { manualOutput: { price: 12, tags: ['a'] } } });
    // format defaults to text
    expect(parseDecisionForm(form({ reviewId: id, action: 'manual', manualOutput: '{"x":1}' }))).toMatchObject({
      success: true,
      data: { manualOutput: '{"x":1}' },
    });
  });

  it('explains invalid JSON and blank output on the manualOutput field', () => {
    const bad = parseDecisionForm(form({ reviewId: id, action: 'manual', manualFormat: 'json', manualOutput: '{"price": 12,' }));
    expect(bad.success).toBe(false);
    if (!bad.success) expect(bad.errors.manualOutput?.[0]).toMatch(/not valid JSON/);
    const blank = parseDecisionForm(form({ reviewId: id, action: 'manual', manualOutput: '   ' }));
    expect(blank.success).toBe(false);
    if (!blank.success) expect(blank.errors.manualOutput?.[0]).toMatch(/Write the output/);
  });

  it('rejects unknown actions, bad ids and overlong notes', () => {
    const action = parseDecisionForm(form({ reviewId: id, action: 'delete' }));
    expect(action.success).toBe(false);
    const badId = parseDecisionForm(form({ reviewId: 'not-a-uuid', action: 'retry' }));
    expect(badId.success).toBe(false);
    if (!badId.success) expect(badId.errors.reviewId?.[0]).toMatch(/not valid/);
    const note = parseDecisionForm(form({ reviewId: id, action: 'retry', note: 'x'.repeat(2001) }));
    expect(note.success).toBe(false);
    if (!note.success) expect(note.errors.note?.[0]).toMatch(/under 2,000/);
  });

  it('limits the manual output size', () => {
    expect(parseManualOutput('x'.repeat(100_001), 'text')).toMatchObject({ ok: false, error: expect.stringMatching(/too long/) });
    expect(parseManualOutput('null', 'json')).toEqual({ ok: true, value: null });
  });
});

describe('keyset cursors', () => {
  it('round-trips Postgres timestamps with microseconds', () => {
    const cursor = { at: '2026-11-25 10:42:00.123456+00', id };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it('ignores missing or tampered cursors', () => {
    expect(decodeCursor(undefined)).toBeUndefined();
    expect(decodeCursor(['a', 'b'])).toBeUndefined();
    expect(decodeCursor('garbage')).toBeUndefined();
    expect(decodeCursor(Buffer.from(JSON.stringify(["2026-01-01'; drop table tasks; --", id])).toString('base64url'))).toBeUndefined();
  });

  // issue 21 item 5: a cursor whose timestamp matched the pattern but named no real moment reached
  // Postgres (22008) and showed the error page; it is ignored like any other tampered cursor
  it('ignores a cursor whose timestamp is impossible', () => {
    const forged = (at: string) => Buffer.from(JSON.stringify([at, id])).toString('base64url');
    for (const at of [
      '2026-13-01 10:42:00+00', // month 13
      '2026-00-10 10:42:00+00',
      '2026-02-30 10:42:00+00',
      '2025-02-29 10:42:00+00', // not a leap year
      '2026-11-31 10:42:00+00',
      '2026-11-25 24:00:01+00',
      '2026-11-25 10:60:00+00',
      '2026-11-25 10:42:61+00',
      '0000-11-25 10:42:00+00',
      '2026-11-25 10:42:00+25',
      '2026-11-25 10:42:00.1234567+00', // more digits than Postgres keeps
      '2026-11-25 10:42:00..5+00',
      '2026-11-25 10:42+00:77',
    ]) {
      expect(decodeCursor(forged(at)), at).toBeUndefined();
    }
    // real moments still decode, in every form Postgres prints them
    for (const at of ['2024-02-29 23:59:59.999999+00', '2026-11-25 10:42:00+05:30', '2026-11-25T10:42:00Z', '2026-11-25 10:42:00-08']) {
      expect(decodeCursor(forged(at)), at).toEqual({ at, id });
    }
  });
});

describe('decisions of the other kinds', () => {
  it('approve as asked, or with edited arguments that must be a JSON object', () => {
    expect(parseDecisionForm(form({ reviewId: id, action: 'approve' }))).toEqual({ success: true, data: { reviewId: id, action: 'approve', note: undefined } });
    expect(parseDecisionForm(form({ reviewId: id, action: 'approve', arguments: '{"q": "x"}' }))).toMatchObject({ success: true, data: { arguments: { q: 'x' } } });
    for (const bad of ['', '[1]', '"text"', '{"q":']) {
      const parsed = parseDecisionForm(form({ reviewId: id, action: 'approve', arguments: bad }));
      expect(parsed.success, bad).toBe(false);
    }
  });

  it('reject needs a reason; answer takes the typed answer over a chosen option', () => {
    expect(parseDecisionForm(form({ reviewId: id, action: 'reject' })).success).toBe(false);
    expect(parseDecisionForm(form({ reviewId: id, action: 'reject', note: ' too risky ' }))).toMatchObject({ success: true, data: { note: 'too risky' } });
    expect(parseDecisionForm(form({ reviewId: id, action: 'answer', option: 'EU' }))).toMatchObject({ success: true, data: { answer: 'EU' } });
    expect(parseDecisionForm(form({ reviewId: id, action: 'answer', option: 'EU', answer: 'both' }))).toMatchObject({ success: true, data: { answer: 'both' } });
    expect(parseDecisionForm(form({ reviewId: id, action: 'answer' })).success).toBe(false);
  });

  it('bulk: retry, abort, approve or reject; reject with a reason; a confirmed count is a number', () => {
    expect(parseBulkForm(form({ action: 'retry', confirmed: '25' }))).toEqual({ success: true, data: { action: 'retry', note: undefined, confirmed: 25 } });
    expect(parseBulkForm(form({ action: 'reject' })).success).toBe(false);
    expect(parseBulkForm(form({ action: 'manual' })).success).toBe(false);
    expect(parseBulkForm(form({ action: 'abort', confirmed: 'many' })).success).toBe(false);
  });
});

describe('tool input schemas', () => {
  const schema = {
    type: 'object',
    properties: {
      query: { type: 'string', minLength: 1, maxLength: 10 },
      limit: { type: 'integer', minimum: 1, maximum: 20 },
      mode: { enum: ['fast', 'deep'] },
      tags: { type: 'array', items: { type: 'string' }, maxItems: 2 },
    },
    required: ['query'],
    additionalProperties: false,
  };

  it('says what is wrong, path by path', () => {
    expect(schemaIssues(schema, { query: 'ok', limit: 5, mode: 'fast', tags: ['a'] })).toEqual([]);
    expect(schemaIssues(schema, { limit: 2.5, mode: 'slow', tags: ['a', 1, 'c'], extra: true })).toEqual([
      'arguments.query is required',
      'arguments.limit must be an integer (got number)',
      'arguments.mode must be one of "fast", "deep"',
      'arguments.tags must have at most 2 items',
      'arguments.tags[1] must be a string (got integer)',
      'arguments.extra is not a known argument',
    ]);
    expect(schemaIssues(schema, { query: '', limit: 50 })).toEqual(['arguments.query must be at least 1 characters', 'arguments.limit must be at most 20']);
  });

  it('checks nothing without a schema, and accepts keywords it does not know', () => {
    expect(schemaIssues(null, { anything: 1 })).toEqual([]);
    expect(schemaIssues({ type: 'object', 'x-vendor': true, propertyNames: { maxLength: 1 } }, { long: 1 })).toEqual([]);
    expect(schemaIssues({ anyOf: [{ required: ['a'] }, { required: ['b'] }] }, { c: 1 })).toEqual(["arguments must match one of the schema's alternatives"]);
  });
});
