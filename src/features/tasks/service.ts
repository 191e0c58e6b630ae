import 'server-only';
// Cancelling a task: `taskweave.cancel_task` ends the task and every descendant that has not ended
// (their open reviews resolve as abort, joins follow the join rule). This module calls it as the
// viewer, words the result, and holds the body of the server action (actions.ts) with its
// collaborators passed in, so tests run it against a real database as any viewer.
import type { Viewer } from '../../lib/auth/viewer';
import { withClaims, type Claims, type Sql } from '../../lib/db/identity';
import type { Tables } from '../../lib/db/types';
import { plural } from '../../lib/format';
import { countCancellable } from './queries';
import { parseCancelForm, type CancelState, type CancelTaskInput } from './schema';

export type CancelFailureKind = 'ended' | 'not-found' | 'not-operator' | 'invalid' | 'unexpected';

export type CancelOutcome =
  | { ok: true; task: Tables<'tasks'>; stopped: number }
  | { ok: false; kind: CancelFailureKind; detail: string };

const failureKinds: Record<string, CancelFailureKind> = {
  '55000': 'ended',
  P0002: 'not-found',
  '42501': 'not-operator',
  '22023': 'invalid',
  '22P02': 'invalid',
};

export async function cancelTask(sql: Sql, claims: Claims, input: CancelTaskInput): Promise<CancelOutcome> {
  try {
    return await withClaims(sql, claims, async (tx) => {
      // counted in the same transaction as the cancel, so the number is what this call stopped
      const stopped = await countCancellable(tx, input.taskId);
      const [task] = await tx<Tables<'tasks'>[]>`select * from taskweave.cancel_task(${input.taskId}::uuid, ${input.note ?? null})`;
      return { ok: true as const, task, stopped };
    });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    return { ok: false, kind: failureKinds[code] ?? 'unexpected', detail: (error as Error).message ?? String(error) };
  }
}

export function describeCancel(title: string, stopped: number): string {
  if (stopped <= 1) return `Cancelled “${title}”.`;
  return `Cancelled “${title}”: ${plural(stopped, 'task')} stopped, this one and ${plural(stopped - 1, 'task')} under it.`;
}

function describeCancelFailure(kind: CancelFailureKind | 'signed-out', detail: string): string {
  switch (kind) {
    case 'ended':
      return `Nothing changed: ${detail.replace(/^task [0-9a-f-]{36} /, 'the task ')}.`;
    case 'not-found':
      return 'This task no longer exists, or you may not see it.';
    case 'not-operator':
      return 'The database refused: your account is not an operator.';
    case 'signed-out':
      return 'Your session has ended. Sign in again, then retry.';
    case 'invalid':
      return `The database rejected this request: ${detail}`;
    default:
      return 'The task could not be cancelled because of an unexpected database error. Nothing was changed; try again, and check the server log if it persists.';
  }
}

export interface CancelContext {
  viewer: () => Promise<Viewer>;
  sql: () => Sql;
  revalidate: (taskId: string) => void;
  log?: (message: string, error?: unknown) => void;
}

/** The server action's body: who is asking, what they sent, what the database said, in words. */
export async function cancelFromForm(ctx: CancelContext, form: FormData): Promise<CancelState> {
  const at = Date.now();
  const viewer = await ctx.viewer();
  if (viewer.kind !== 'operator') {
    const message =
      viewer.kind === 'misconfigured' ? viewer.problem : describeCancelFailure(viewer.kind === 'not-operator' ? 'not-operator' : 'signed-out', '');
    return { status: 'error', message, errors: {}, at };
  }
  const parsed = parseCancelForm(form);
  if (!parsed.success) {
    return { status: 'error', message: parsed.errors.note ? 'Check the note: nothing was cancelled.' : 'The request was incomplete; reload the page and try again.', errors: parsed.errors, at };
  }
  const outcome = await cancelTask(ctx.sql(), viewer.claims, parsed.data);
  if (!outcome.ok) {
    if (outcome.kind === 'unexpected') ctx.log?.(`cancel_task ${parsed.data.taskId} failed`, outcome.detail);
    if (outcome.kind === 'ended') ctx.revalidate(parsed.data.taskId);
    return { status: 'error', message: describeCancelFailure(outcome.kind, outcome.detail), errors: {}, at };
  }
  ctx.revalidate(outcome.task.id);
  // cancel_task returns a task that had already ended as it is: say so rather than "cancelled"
  if (outcome.stopped === 0) {
    return { status: 'error', message: `Nothing changed: “${outcome.task.title}” had already ended (${outcome.task.status}).`, errors: {}, at };
  }
  return { status: 'success', message: describeCancel(outcome.task.title, outcome.stopped), errors: {}, at };
}
