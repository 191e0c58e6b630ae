// The endpoint tells an agent what the web app tells an operator: the same sentences for a resolution
// and for a race lost to another operator, and the same rules for a hand-written output. The function
// keeps a copy (it deploys its own folder and cannot import src/), so this holds the copy to the original.
import { describe, expect, it } from 'vitest';
import * as web from '../../src/features/reviews/messages.ts';
import { MANUAL_OUTPUT_MAX_CHARS as WEB_MAX, NOTE_MAX_CHARS as WEB_NOTE_MAX, parseManualOutput as webParse } from '../../src/features/reviews/schema.ts';
import * as mcp from '../../supabase/functions/_shared/review-words.ts';
import { MANUAL_OUTPUT_MAX_CHARS, NOTE_MAX_CHARS } from '../../supabase/functions/mcp/schemas.ts';

const aggregators = [
  { title: 'Combine', status: 'pending', total: 3, ended: 3, completed: 3 },
  { title: 'Combine', status: 'running', total: 3, ended: 3, completed: 2 },
  { title: 'Combine', status: 'cancelled', total: 2, ended: 2, completed: 0 },
  { title: 'Combine', status: 'queued', total: 5, ended: 3, completed: 3 },
  { title: 'Combine', status: 'queued', total: 5, ended: 4, completed: 3 },
  { title: 'Combine', status: 'needs_human_review', total: 2, ended: 2, completed: 1 },
];

describe('review words: the endpoint and the web app agree', () => {
  it('describes every successful resolution in the same words', () => {
    for (const action of ['retry', 'abort', 'manual'] as const) {
      for (const status of ['pending', 'cancelled', 'completed']) {
        for (let n = 0; n <= aggregators.length; n++) {
          const aggs = aggregators.slice(0, n);
          expect(mcp.describeSuccess(action, { title: 'SQLite', status }, aggs)).toBe(web.describeSuccess(action, { title: 'SQLite', status }, aggs));
        }
      }
    }
  });

  it('describes a review someone else resolved first in the same words', () => {
    const now = new Date('2026-11-28T12:00:00Z');
    const cases = [
      undefined,
      { action: 'manual' as const, resolvedBy: 'ada@example.com', resolvedAt: new Date('2026-11-28T10:42:00Z'), taskTitle: 'SQLite' },
      { action: 'retry' as const, resolvedBy: null, resolvedAt: new Date('2026-11-20T08:05:00Z'), taskTitle: 'DuckDB' },
      { action: null, resolvedBy: 'postgres', resolvedAt: null, taskTitle: 'X' },
    ];
    for (const resolved of cases) {
      expect(mcp.describeAlreadyResolved(resolved, now)).toBe(web.describeFailure('already-resolved', '', resolved, now));
    }
  });

  it('says the web app\'s conflict sentence, with a next step for an agent instead of "reload the page"', () => {
    const detail = 'task 3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11 is cancelled and no longer waits for a review';
    const webText = web.describeFailure('conflict', detail);
    const mcpText = mcp.describeConflict(detail);
    expect(mcpText.replace(' Call get_task to see where it stands.', '')).toBe(webText.replace(' Reload the page to see where it stands.', ''));
  });

  it('applies the same rules to a hand-written output and a note', () => {
    expect(MANUAL_OUTPUT_MAX_CHARS).toBe(WEB_MAX);
    expect(NOTE_MAX_CHARS).toBe(WEB_NOTE_MAX);
    const inputs: [string, 'text' | 'json'][] = [
      ['', 'text'], ['   ', 'json'], ['fine', 'text'], ['{"a": 1}', 'json'], ['{nope', 'json'], ['"str"', 'json'],
      ['x'.repeat(WEB_MAX), 'text'], ['x'.repeat(WEB_MAX + 1), 'text'], ['[1, 2', 'json'],
    ];
    for (const [raw, format] of inputs) expect(mcp.parseManualOutput(raw, format, MANUAL_OUTPUT_MAX_CHARS)).toEqual(webParse(raw, format));
  });
});
