// What an operator's click did, or why it did nothing, in words. Pure, so every wording is tested.
import { formatTime, plural } from '../../lib/format';
import type { ReviewAction } from './schema';

export interface AggregatorSnapshot {
  title: string;
  status: string;
  total: number;
  ended: number;
  completed: number;
}

/** Progress line for the reviews page, e.g. "2 of 3 dependencies done, waiting on this one". */
export function describeProgress(aggregator: AggregatorSnapshot): string {
  const waiting = aggregator.total - aggregator.ended;
  const tail =
    waiting <= 1 ? 'waiting only on this one' : `waiting on this one and ${plural(waiting - 1, 'other')}`;
  return `${aggregator.ended} of ${plural(aggregator.total, 'dependency', 'dependencies')} done, ${tail}`;
}

/** Said in the Abort confirmation, before the click: what aborting this task does to the aggregator. */
export function predictAbort(aggregator: AggregatorSnapshot): string {
  const othersOpen = aggregator.total - aggregator.ended - 1;
  if (othersOpen > 0) {
    return `“${aggregator.title}” keeps waiting for ${plural(othersOpen, 'other task')}; this task will count as cancelled, without a result.`;
  }
  if (aggregator.completed > 0) {
    return `“${aggregator.title}” then starts with partial results: ${aggregator.completed} of ${aggregator.total} completed, this one missing.`;
  }
  return `“${aggregator.title}” is then cancelled too, because none of its dependencies completed.`;
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
  const head =
    action === 'retry'
      ? `Retried “${task.title}”: it is ${task.status} again and a worker will pick it up.`
      : action === 'abort'
        ? `Aborted “${task.title}”: it is ${task.status}.`
        : `Saved your output for “${task.title}”: it is ${task.status}.`;
  return [head, ...aggregators.map(aggregatorAfter)].join(' ');
}

export type FailureKind = 'already-resolved' | 'conflict' | 'not-found' | 'not-operator' | 'invalid' | 'unexpected' | 'signed-out';

const actionWords: Record<ReviewAction, string> = { retry: 'retried', abort: 'aborted', manual: 'given a manual output' };

export function describeFailure(
  kind: FailureKind,
  detail: string,
  resolved?: { action: ReviewAction | null; resolvedBy: string | null; resolvedAt: Date | string | null; taskTitle: string },
  now: Date = new Date(),
): string {
  switch (kind) {
    case 'already-resolved': {
      if (!resolved) return 'Nothing changed: another operator already resolved this review.';
      const how = resolved.action ? ` (${actionWords[resolved.action]})` : '';
      const by = resolved.resolvedBy ? ` by ${resolved.resolvedBy}` : '';
      const at = resolved.resolvedAt ? ` at ${formatTime(resolved.resolvedAt, now)}` : '';
      return `Nothing changed: “${resolved.taskTitle}” was already resolved${by}${at}${how}.`;
    }
    case 'conflict':
      return `Nothing changed: ${detail.replace(/^task [0-9a-f-]{36} /, 'the task ')}. Reload the page to see where it stands.`;
    case 'not-found':
      return 'This review no longer exists. Reload the page to see the current queue.';
    case 'not-operator':
      return 'The database refused: your account is not an operator.';
    case 'signed-out':
      return 'Your session has ended. Sign in again, then retry.';
    case 'invalid':
      return `The database rejected this request: ${detail}`;
    default:
      return 'The review could not be resolved because of an unexpected database error. Nothing was changed; try again, and check the server log if it persists.';
  }
}
