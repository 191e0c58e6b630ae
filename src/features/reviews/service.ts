import 'server-only';
// An operator's decisions on reviews: one review (any kind) or every review that matches the page's
// filters. The operator module (supabase/functions/_shared/operator.ts, shared with the MCP endpoint)
// calls taskweave.resolve_review / resolve_reviews, which own every transition; this module runs it as the
// viewer, checks an approval's edited arguments against the tool's schema first, words the result, and
// holds the bodies of the server actions (actions.ts) with their collaborators passed in, so tests run
// them against a real database as any viewer.
import {
  ACTIONS_BY_KIND,
  countReviews,
  resolveReview,
  resolveReviews,
  type BulkAction,
  type ResolveOutcome,
  type ReviewFilter,
  type ReviewKind,
  type Transact,
} from '../../../supabase/functions/_shared/operator';
import type { Viewer } from '../../lib/auth/viewer';
import { withClaims, type Claims, type Sql } from '../../lib/db/identity';
import { schemaIssues } from '../../../supabase/functions/_shared/json-schema';
import { parseFilters } from './filters';
import { describeBulk, describeBulkQuestion, describeFailure, describeSuccess } from './messages';
import { reviewForDecision } from './queries';
import { BULK_CONFIRM_ABOVE, parseBulkForm, parseDecisionForm, type BulkState, type DecisionState, type ReviewDecision } from './schema';

export type DecisionOutcome =
  | (Extract<ResolveOutcome, { ok: true }> & { kind: ReviewKind; tool?: string })
  | Extract<ResolveOutcome, { ok: false }>
  /** edited arguments that do not fit the tool's input schema: nothing was sent */
  | { ok: false; kind: 'arguments'; issues: string[]; detail: string; resolved?: undefined };

/** The module's writes run in one transaction as the viewer, as every query of the web app does. */
const transactAs =
  (sql: Sql, claims: Claims): Transact =>
  (fn) =>
    withClaims(sql, claims, fn);

/**
 * Apply a decision through the operator module. An approval's edited arguments are checked against the
 * tool's input schema first (SQL checks that they are an object; the schema is the page's to enforce,
 * the model's tool would otherwise fail on them).
 */
export async function applyDecision(sql: Sql, claims: Claims, decision: ReviewDecision): Promise<DecisionOutcome> {
  const review = await withClaims(sql, claims, (tx) => reviewForDecision(tx, decision.reviewId)).catch(() => null);
  if (decision.action === 'approve' && decision.arguments && review) {
    const issues = schemaIssues(review.input_schema, decision.arguments);
    if (issues.length > 0) return { ok: false, kind: 'arguments', issues, detail: issues.join('; ') };
  }
  const manualOutput =
    decision.action === 'manual'
      ? decision.manualOutput
      : decision.action === 'answer'
        ? { answer: decision.answer }
        : decision.action === 'approve' && decision.arguments
          ? { arguments: decision.arguments }
          : null;
  const outcome = await resolveReview(transactAs(sql, claims), { reviewId: decision.reviewId, action: decision.action, manualOutput, note: decision.note ?? null });
  if (!outcome.ok) return outcome;
  return { ...outcome, kind: outcome.review.kind, tool: review?.tool };
}

export interface DecisionContext {
  viewer: () => Promise<Viewer>;
  sql: () => Sql;
  revalidate: (taskId?: string) => void;
  log?: (message: string, error?: unknown) => void;
}

/** Refuses anyone but an operator, in words; the action is reachable by a plain POST, whatever the page showed. */
function refusal(viewer: Viewer): string | null {
  if (viewer.kind === 'operator') return null;
  if (viewer.kind === 'misconfigured') return viewer.problem;
  return describeFailure(viewer.kind === 'not-operator' ? 'not-operator' : 'signed-out', '');
}

/** The single-review server action's body: who is asking, what they sent, what the database said, in words. */
export async function decideFromForm(ctx: DecisionContext, form: FormData): Promise<DecisionState> {
  const at = Date.now();
  const submittedId = typeof form.get('reviewId') === 'string' ? (form.get('reviewId') as string) : undefined;
  const viewer = await ctx.viewer();
  const refused = refusal(viewer);
  if (refused !== null || viewer.kind !== 'operator') return { status: 'error', message: refused ?? '', errors: {}, reviewId: submittedId, at };

  const parsed = parseDecisionForm(form);
  if (!parsed.success) {
    const field = parsed.errors.manualOutput ? 'the output' : parsed.errors.arguments ? 'the arguments' : parsed.errors.answer ? 'the answer' : parsed.errors.note ? 'the reason' : null;
    return {
      status: 'error',
      message: field ? `Check ${field}: nothing was saved.` : 'The request was incomplete; reload the page and try again.',
      errors: parsed.errors,
      reviewId: submittedId,
      at,
    };
  }

  const decision = parsed.data;
  const outcome = await applyDecision(ctx.sql(), viewer.claims, decision);
  if (!outcome.ok) {
    if (outcome.kind === 'arguments') {
      return { status: 'error', message: 'Check the arguments: they do not fit the tool’s input schema, so nothing was approved.', errors: { arguments: outcome.issues }, reviewId: decision.reviewId, action: decision.action, at };
    }
    if (outcome.kind === 'unexpected') ctx.log?.(`resolve_review ${decision.reviewId} failed`, outcome.detail);
    // a race lost to another operator changed the queue too: show the page as it is now
    if (outcome.kind === 'already-resolved' || outcome.kind === 'not-found' || outcome.kind === 'conflict') ctx.revalidate();
    return {
      status: 'error',
      message: describeFailure(outcome.kind, outcome.detail, outcome.resolved),
      errors: {},
      reviewId: decision.reviewId,
      action: decision.action,
      at,
    };
  }
  ctx.revalidate(outcome.task.id);
  return {
    status: 'success',
    message: describeSuccess(decision.action, outcome.task, outcome.aggregators),
    errors: {},
    reviewId: decision.reviewId,
    action: decision.action,
    at,
  };
}

/** The kinds a bulk action applies to, within the filter's own (SQL resolves only those; the count must agree). */
export function filterForAction(filter: ReviewFilter, action: BulkAction): ReviewFilter | null {
  const wanted = filter.kind === undefined ? null : Array.isArray(filter.kind) ? filter.kind : [filter.kind];
  const kinds = (Object.keys(ACTIONS_BY_KIND) as ReviewKind[]).filter((kind) => ACTIONS_BY_KIND[kind].includes(action) && (!wanted || wanted.includes(kind)));
  if (kinds.length === 0) return null;
  return { ...filter, kind: kinds.length === 1 ? kinds[0] : kinds };
}

/**
 * The bulk server action's body ("Select all that match", then one action): the filters come from the
 * form under the URL's names and mean what they mean on the page. More than BULK_CONFIRM_ABOVE reviews
 * need the operator's confirmation of the count first: the first submission answers with the count to
 * confirm, the second (confirmed) acts.
 */
export async function bulkFromForm(ctx: DecisionContext, form: FormData): Promise<BulkState> {
  const at = Date.now();
  const viewer = await ctx.viewer();
  const refused = refusal(viewer);
  if (refused !== null || viewer.kind !== 'operator') return { status: 'error', message: refused ?? '', errors: {}, at };

  const parsed = parseBulkForm(form);
  if (!parsed.success) {
    return { status: 'error', message: parsed.errors.note ? 'Check the reason: nothing was resolved.' : 'The request was incomplete; reload the page and try again.', errors: parsed.errors, at };
  }
  const { action, note, confirmed } = parsed.data;
  const { filter, ignored } = parseFilters(form);
  if (ignored.length > 0) return { status: 'error', message: `Nothing was resolved: the filter ${ignored.join(', ')} is not valid. Reload the page.`, errors: {}, at };
  const scoped = filterForAction(filter, action);
  if (!scoped) return { status: 'error', message: `Nothing was resolved: ${action} does not apply to reviews of this kind.`, errors: {}, action, at };

  try {
    const count = await withClaims(ctx.sql(), viewer.claims, (tx) => countReviews(tx, scoped));
    if (count === 0) return { status: 'error', message: 'Nothing changed: no open review matches these filters any more.', errors: {}, action, at };
    if (count > BULK_CONFIRM_ABOVE && (confirmed === undefined || confirmed < BULK_CONFIRM_ABOVE)) {
      return { status: 'confirm', message: describeBulkQuestion(action, count), errors: {}, action, count, note, at };
    }
    const outcome = await resolveReviews(transactAs(ctx.sql(), viewer.claims), { filter: scoped, action, note: note ?? null });
    ctx.revalidate();
    return { status: outcome.resolved > 0 ? 'success' : 'error', message: describeBulk(action, outcome), errors: {}, action, resolved: outcome.resolved, skipped: outcome.skipped, at };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const detail = (error as Error)?.message ?? String(error);
    if (code === '42501') return { status: 'error', message: describeFailure('not-operator', detail), errors: {}, action, at };
    if (code === '22023') return { status: 'error', message: describeFailure('invalid', detail), errors: {}, action, at };
    ctx.log?.(`resolve_reviews ${action} failed`, error);
    return { status: 'error', message: 'The reviews could not be resolved because of an unexpected database error. Try again, and check the server log if it persists.', errors: {}, action, at };
  }
}
