import 'server-only';
// An operator's decision on a review: `taskweave.resolve_review` owns the transition (and, through the
// trigger, the aggregator's); this module calls it as the viewer, words the result, and holds the body
// of the server action (actions.ts) with its collaborators passed in, so tests run it against a real
// database as any viewer.
import type postgres from 'postgres';
import type { Viewer } from '../../lib/auth/viewer';
import { withClaims, type Claims, type Sql } from '../../lib/db/identity';
import type { TaskStatus } from '../../lib/db/types';
import { describeFailure, describeSuccess, type FailureKind } from './messages';
import { aggregatorsOf, stripDeps, type AggregatorProgress } from './queries';
import { parseDecisionForm, type DecisionState, type ReviewAction, type ReviewDecision } from './schema';

/** Why resolve_review refused, in categories the UI words for an operator. */
export type DecisionFailureKind = Exclude<FailureKind, 'signed-out'>;

export type DecisionOutcome =
  | {
      ok: true;
      review: { id: string; action: ReviewAction; resolved_by: string | null; resolved_at: string };
      task: { id: string; title: string; status: TaskStatus };
      aggregators: AggregatorProgress[];
    }
  | {
      ok: false;
      kind: DecisionFailureKind;
      /** the database's own message */
      detail: string;
      /** for already-resolved: who resolved it, how and when */
      resolved?: { action: ReviewAction | null; resolvedBy: string | null; resolvedAt: string | null; taskTitle: string };
    };

/** SQLSTATEs of the SQL API (DESIGN §3) -> what the operator is told. */
const failureKinds: Record<string, DecisionFailureKind> = {
  TW002: 'already-resolved',
  TW003: 'conflict',
  '55000': 'conflict',
  P0002: 'not-found',
  '42501': 'not-operator',
  '22023': 'invalid',
  '22P02': 'invalid',
};

/**
 * Apply a decision through `resolve_review`. Reports what the task and the aggregators it feeds look
 * like afterwards, read in the same transaction, so the operator is told what their click did.
 */
export async function applyDecision(sql: Sql, claims: Claims, decision: ReviewDecision): Promise<DecisionOutcome> {
  const manualOutput = decision.action === 'manual' ? decision.manualOutput : null;
  try {
    return await withClaims(sql, claims, async (tx) => {
      const [review] = await tx<{ id: string; task_id: string; action: ReviewAction; resolved_by: string | null; resolved_at: string }[]>`
        select id, task_id, action, resolved_by, resolved_at
        from taskweave.resolve_review(
          ${decision.reviewId}::uuid,
          ${decision.action},
          ${manualOutput === null ? null : tx.json(manualOutput as postgres.JSONValue)}::jsonb,
          ${decision.note ?? null}
        )`;
      const [task] = await tx<{ id: string; title: string; status: TaskStatus }[]>`
        select id, title, status from taskweave.tasks where id = ${review.task_id}`;
      const aggregators = (await aggregatorsOf(tx, [review.task_id])).map(stripDeps);
      return {
        ok: true as const,
        review: { id: review.id, action: review.action, resolved_by: review.resolved_by, resolved_at: review.resolved_at },
        task,
        aggregators,
      };
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    const detail = (error as Error).message ?? String(error);
    const kind = failureKinds[code] ?? 'unexpected';
    if (kind !== 'already-resolved') return { ok: false, kind, detail };
    // TW002 already says what happened; the row only adds who won the race, for the message
    const resolved = await withClaims(sql, claims, async (tx) => {
      const [row] = await tx<{ action: ReviewAction | null; resolved_by: string | null; resolved_at: string | null; title: string }[]>`
        select r.action, r.resolved_by, r.resolved_at, t.title
        from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id
        where r.id = ${decision.reviewId}`;
      return row;
    }).catch(() => undefined);
    return {
      ok: false,
      kind,
      detail,
      resolved: resolved ? { action: resolved.action, resolvedBy: resolved.resolved_by, resolvedAt: resolved.resolved_at, taskTitle: resolved.title } : undefined,
    };
  }
}

export interface DecisionContext {
  viewer: () => Promise<Viewer>;
  sql: () => Sql;
  revalidate: (taskId?: string) => void;
  log?: (message: string, error?: unknown) => void;
}

/** The server action's body: who is asking, what they sent, what the database said, in words. */
export async function decideFromForm(ctx: DecisionContext, form: FormData): Promise<DecisionState> {
  const at = Date.now();
  const submittedId = typeof form.get('reviewId') === 'string' ? (form.get('reviewId') as string) : undefined;
  // the action checks who is asking itself: it is reachable by a plain POST, whatever the page showed
  const viewer = await ctx.viewer();
  if (viewer.kind !== 'operator') {
    const kind = viewer.kind === 'not-operator' ? 'not-operator' : 'signed-out';
    const message = viewer.kind === 'misconfigured' ? viewer.problem : describeFailure(kind, '');
    return { status: 'error', message, errors: {}, reviewId: submittedId, at };
  }

  const parsed = parseDecisionForm(form);
  if (!parsed.success) {
    return {
      status: 'error',
      message: parsed.errors.manualOutput ? 'Check the output: it was not saved.' : 'The request was incomplete; reload the page and try again.',
      errors: parsed.errors,
      reviewId: submittedId,
      at,
    };
  }

  const decision = parsed.data;
  const outcome = await applyDecision(ctx.sql(), viewer.claims, decision);
  if (!outcome.ok) {
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
