import 'server-only';
// The body of the resolve-review server action, with its collaborators passed in so tests run it
// against a real database with any viewer. src/app/reviews/actions.ts wires the real ones.
import type { Viewer } from './auth/viewer';
import type { Sql } from './db/identity';
import { resolveReview } from './db/reviews';
import { describeFailure, describeSuccess } from './review-messages';
import { parseResolveReviewForm, type ResolveReviewState } from './review-schemas';

export interface ResolveReviewDeps {
  viewer: () => Promise<Viewer>;
  sql: () => Sql;
  revalidate: (taskId?: string) => void;
  log?: (message: string, error?: unknown) => void;
}

export async function performResolveReview(deps: ResolveReviewDeps, form: FormData): Promise<ResolveReviewState> {
  const at = Date.now();
  const submittedId = typeof form.get('reviewId') === 'string' ? (form.get('reviewId') as string) : undefined;
  // the action checks who is asking itself: it is reachable by a plain POST, whatever the page showed
  const viewer = await deps.viewer();
  if (viewer.kind !== 'operator') {
    const kind = viewer.kind === 'not-operator' ? 'not-operator' : 'signed-out';
    const message = viewer.kind === 'misconfigured' ? viewer.problem : describeFailure(kind, '');
    return { status: 'error', message, errors: {}, reviewId: submittedId, at };
  }

  const parsed = parseResolveReviewForm(form);
  if (!parsed.success) {
    return {
      status: 'error',
      message: parsed.errors.manualOutput ? 'Check the output: it was not saved.' : 'The request was incomplete; reload the page and try again.',
      errors: parsed.errors,
      reviewId: submittedId,
      at,
    };
  }

  const input = parsed.data;
  const outcome = await resolveReview(deps.sql(), viewer.claims, input);
  if (!outcome.ok) {
    if (outcome.kind === 'unexpected') deps.log?.(`resolve_review ${input.reviewId} failed`, outcome.detail);
    // a race lost to another operator changed the queue too: show the page as it is now
    if (outcome.kind === 'already-resolved' || outcome.kind === 'not-found') deps.revalidate();
    return {
      status: 'error',
      message: describeFailure(outcome.kind, outcome.detail, outcome.resolved),
      errors: {},
      reviewId: input.reviewId,
      action: input.action,
      at,
    };
  }
  deps.revalidate(outcome.task.id);
  return {
    status: 'success',
    message: describeSuccess(input.action, outcome.task, outcome.aggregators),
    errors: {},
    reviewId: input.reviewId,
    action: input.action,
    at,
  };
}
