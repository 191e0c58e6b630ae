// What an operator's click did, or why it did nothing, in words. Pure, so every wording is tested.
// The sentences the MCP endpoint says too come from the one shared module.
import { plural } from '../../lib/format';
import { describeAlreadyResolved, type AggregatorSnapshot } from '../../../supabase/functions/_shared/review-words';
import type { BulkAction } from '../../../supabase/functions/_shared/operator';
import type { ReviewAction } from './schema';

export { describeSuccess, type AggregatorSnapshot } from '../../../supabase/functions/_shared/review-words';

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

const bulkDone: Record<BulkAction, string> = { retry: 'Retried', abort: 'Aborted', approve: 'Approved', reject: 'Rejected' };
const bulkVerb: Record<BulkAction, string> = { retry: 'Retry', abort: 'Abort', approve: 'Approve', reject: 'Reject' };

/** "Retry 312 reviews that match?" */
export function describeBulkQuestion(action: BulkAction, count: number): string {
  return `${bulkVerb[action]} ${plural(count, 'review')} that match${count === 1 ? 'es' : ''}?`;
}

/** What a bulk resolve did: "Retried 298 reviews. 2 were skipped: …". */
export function describeBulk(action: BulkAction, outcome: { resolved: number; skipped: number }): string {
  if (outcome.resolved === 0 && outcome.skipped === 0) return 'Nothing changed: no open review matches these filters any more.';
  const head = outcome.resolved === 0 ? 'Nothing changed.' : `${bulkDone[action]} ${plural(outcome.resolved, 'review')}.`;
  if (outcome.skipped === 0) return head;
  return `${head} ${plural(outcome.skipped, 'review was', 'reviews were')} skipped: another operator was resolving ${outcome.skipped === 1 ? 'it' : 'them'} at the same moment, or ${outcome.skipped === 1 ? 'its task' : 'their tasks'} no longer waited.`;
}

export type FailureKind = 'already-resolved' | 'conflict' | 'not-found' | 'not-operator' | 'invalid' | 'unexpected' | 'signed-out';

export function describeFailure(
  kind: FailureKind,
  detail: string,
  resolved?: { action: ReviewAction | null; resolvedBy: string | null; resolvedAt: Date | string | null; taskTitle: string },
  now: Date = new Date(),
): string {
  switch (kind) {
    case 'already-resolved':
      return describeAlreadyResolved(resolved, now);
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
