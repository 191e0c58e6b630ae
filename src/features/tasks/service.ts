import 'server-only';
// Cancelling a task: `taskweave.cancel_task_counted` ends the task and every descendant that has not
// ended (their open reviews resolve as abort, joins follow the join rule) and says how many tasks it
// moved, counted by the cancel itself under its locks. The operator module (shared with the MCP
// endpoint) calls it; this module runs it as the viewer, words the result, and holds the body of the
// server action (actions.ts) with its collaborators passed in, so tests run it against a real database.
import { cancelTask as cancelThroughModule, failureKindOf, type CancelOutcome as ModuleCancelOutcome } from '../../../supabase/functions/_shared/operator';
import type { Viewer } from '../../lib/auth/viewer';
import { withClaims, type Claims, type Sql } from '../../lib/db/identity';
import { plural } from '../../lib/format';
import { parseCancelForm, type CancelState, type CancelTaskInput } from './schema';

export type CancelFailureKind = 'ended' | 'not-found' | 'not-operator' | 'invalid' | 'unexpected';

export type CancelOutcome = ({ ok: true } & ModuleCancelOutcome) | { ok: false; kind: CancelFailureKind; detail: string };

export async function cancelTask(sql: Sql, claims: Claims, input: CancelTaskInput): Promise<CancelOutcome> {
  try {
    const outcome = await cancelThroughModule((fn) => withClaims(sql, claims, fn), { taskId: input.taskId, note: input.note ?? null });
    return { ok: true, ...outcome };
  } catch (error) {
    const kind = failureKindOf(error);
    const detail = (error as Error).message ?? String(error);
    return { ok: false, kind: kind === 'conflict' ? 'ended' : kind === 'already-resolved' ? 'unexpected' : kind, detail };
  }
}

/** What a cancel did, from what it reports: the task's status after it, and how many tasks it moved. */
export function describeCancel(task: { title: string; status: string }, stopped: number): { ok: boolean; message: string } {
  if (task.status === 'cancelled' && stopped > 0) {
    return {
      ok: true,
      message: stopped === 1 ? `Cancelled “${task.title}”.` : `Cancelled “${task.title}”: ${plural(stopped, 'task')} stopped, this one and ${plural(stopped - 1, 'task')} under it.`,
    };
  }
  if (stopped > 0) {
    return { ok: true, message: `“${task.title}” had already ${task.status === 'failed' ? 'failed' : 'completed'}; cancelled ${plural(stopped, 'task')} under it that had not ended.` };
  }
  // cancel_task returns a task that had already ended as it is: say so rather than "cancelled"
  return { ok: false, message: `Nothing changed: “${task.title}” had already ended (${task.status}).` };
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
  const said = describeCancel(outcome.task, outcome.stopped);
  return { status: said.ok ? 'success' : 'error', message: said.message, errors: {}, at };
}
