// What resolve_review and cancel_task did, in one set of words for the web app (src/features/reviews/messages.ts
// imports these) and the MCP endpoint, so an agent and an operator are told the same thing. It lives under
// supabase/functions/_shared because an edge function deploys only that folder and cannot reach src/.

export interface AggregatorSnapshot {
  title: string;
  status: string;
  total: number;
  ended: number;
  completed: number;
}

export type ReviewAction = 'retry' | 'abort' | 'manual' | 'approve' | 'reject' | 'answer';

const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'UTC', hourCycle: 'h23' });
const dayFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

/** "10:42 UTC" today, "10:42 UTC on 24 Nov 2026" otherwise (as the web app shows times). */
export function formatTime(date: Date | string, now: Date = new Date()): string {
  const d = typeof date === 'string' ? new Date(date) : date;
  const time = `${timeFormat.format(d)} UTC`;
  return dayFormat.format(d) === dayFormat.format(now) ? time : `${time} on ${dayFormat.format(d)}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function aggregatorAfter(aggregator: AggregatorSnapshot): string {
  switch (aggregator.status) {
    case 'pending':
    case 'running':
      return aggregator.completed === aggregator.total
        ? `Its aggregator “${aggregator.title}” has all ${aggregator.total} results and is now ${aggregator.status}.`
        : `Its aggregator “${aggregator.title}” is now ${aggregator.status} with partial results (${aggregator.completed} of ${aggregator.total} completed).`;
    case 'cancelled':
      return `Its aggregator “${aggregator.title}” was cancelled, because none of its dependencies completed.`;
    case 'queued': {
      const waiting = aggregator.total - aggregator.ended;
      return `Its aggregator “${aggregator.title}” still waits for ${plural(waiting, 'task')}.`;
    }
    default:
      return `Its aggregator “${aggregator.title}” is ${aggregator.status.replaceAll('_', ' ')}.`;
  }
}

export function describeSuccess(action: ReviewAction, task: { title: string; status: string }, aggregators: AggregatorSnapshot[]): string {
  const head = {
    retry: `Retried “${task.title}”: it is ${task.status} again and a worker will pick it up.`,
    abort: `Aborted “${task.title}”: it is ${task.status}.`,
    manual: `Saved your output for “${task.title}”: it is ${task.status}.`,
    approve: `Approved the call of “${task.title}”: it is ${task.status} again and runs the call when a worker picks it up.`,
    reject: `Rejected the call of “${task.title}”: it is ${task.status} again, and the model gets your reason instead of the tool's result.`,
    answer: `Answered “${task.title}”: it is ${task.status} again, and the model gets your answer.`,
  }[action];
  return [head, ...aggregators.map(aggregatorAfter)].join(' ');
}

const actionWords: Record<ReviewAction, string> = {
  retry: 'retried',
  abort: 'aborted',
  manual: 'given a manual output',
  approve: 'approved',
  reject: 'rejected',
  answer: 'answered',
};

/** The web app's sentence for a review someone else resolved first. */
export function describeAlreadyResolved(
  resolved: { action: ReviewAction | null; resolvedBy: string | null; resolvedAt: Date | string | null; taskTitle: string } | undefined,
  now: Date = new Date(),
): string {
  if (!resolved) return 'Nothing changed: another operator already resolved this review.';
  const how = resolved.action ? ` (${actionWords[resolved.action]})` : '';
  const by = resolved.resolvedBy ? ` by ${resolved.resolvedBy}` : '';
  const at = resolved.resolvedAt ? ` at ${formatTime(resolved.resolvedAt, now)}` : '';
  return `Nothing changed: “${resolved.taskTitle}” was already resolved${by}${at}${how}.`;
}

/** A review whose task moved on by another path (cancelled, say): the web app's words, with a next step for an agent. */
export function describeConflict(detail: string): string {
  return `Nothing changed: ${detail.replace(/^task [0-9a-f-]{36} /, 'the task ')}. Call get_task to see where it stands.`;
}

/**
 * The manual output field, with the web app's rules (src/features/reviews/schema.ts parseManualOutput): not
 * blank, at most `max` characters, and valid JSON when the format is json.
 */
export function parseManualOutput(raw: string, format: 'text' | 'json', max: number): { ok: true; value: unknown } | { ok: false; error: string } {
  if (raw.trim() === '') return { ok: false, error: 'Write the output this task should have produced.' };
  if (raw.length > max) {
    return { ok: false, error: `The output is too long (${raw.length.toLocaleString('en-US')} characters; at most ${max.toLocaleString('en-US')}).` };
  }
  if (format === 'text') return { ok: true, value: raw };
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `This is not valid JSON (${detail}). Fix it, or choose "Text" to save it as plain text.` };
  }
}
