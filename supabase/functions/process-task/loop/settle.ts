// How a run ends, as one SQL call: complete_task with the final answer, release_task when the budget or
// a rate limit stops it (no attempt used; SQL ends a task released too often without saving a model
// step, category timeout, but never for a rate limit), fail_task for a failure (SQL decides between retry, review and failed),
// or nothing at all when the lease is gone (another worker owns the task, or it was cancelled).
import { classifyError, HumanPauseSignal, isLeaseLost, LeaseLostSignal, ReleaseSignal } from '../errors.ts';
import type { ModelOutput, Task, TaskError, TaskRunResult } from '../types.ts';
import type { LoopRun } from './run.ts';
import type { Transcript } from './transcript.ts';

type Outcome = TaskRunResult['outcome'];

function result(run: LoopRun, transcript: Transcript | undefined, status: TaskRunResult['status'], outcome: Outcome, error?: TaskError | null): TaskRunResult {
  return {
    task_id: run.task.id,
    status,
    outcome,
    attempt: run.task.attempt,
    steps: transcript?.stepsThisRun ?? 0,
    ...(error ? { error: { category: error.category, message: error.message } } : {}),
  };
}

/** What an ended task's status means for this run. */
function outcomeOf(task: Task, otherwise: Outcome): Outcome {
  if (task.status === 'needs_human_review') return 'needs_human_review';
  if (task.status === 'failed') return 'failed';
  if (task.status === 'cancelled') return 'cancelled';
  return otherwise;
}

export async function complete(run: LoopRun, transcript: Transcript, text: string): Promise<TaskRunResult> {
  const steps = transcript.stepsBefore + transcript.stepsThisRun;
  const output: ModelOutput = { source: 'model', text, model: run.model.label, steps };
  const status = run.next?.wanted() ? await completeAndClaimNext(run, output) : (await run.deps.store.complete(run.task.id, run.worker, output)).status;
  run.log('info', 'task completed', { steps });
  return result(run, transcript, status, 'completed');
}

/** Completes and claims the lane's next task in one transaction; should the claim part fail, completes alone. */
async function completeAndClaimNext(run: LoopRun, output: ModelOutput): Promise<Task['status']> {
  const { store, settings } = run.deps;
  try {
    // complete_and_claim raises unless the task completed, so its status is known
    run.next!.take(await store.completeAndClaim(run.task.id, run.worker, output, settings.leaseSeconds));
    return 'completed';
  } catch (error) {
    run.next!.take(null);
    if (isLeaseLost(error)) throw error;
    run.log('warn', 'complete_and_claim failed; completing alone', { error: (error as Error).message });
    return (await store.complete(run.task.id, run.worker, output)).status;
  }
}

async function stopped(run: LoopRun, transcript: Transcript | undefined): Promise<TaskRunResult> {
  // an operator's cancel also takes the lease away: say so rather than blame another worker
  const now = await run.deps.store.getTask(run.task.id).catch(() => null);
  if (now?.status === 'cancelled') {
    run.log('info', 'stopped: the task was cancelled');
    return result(run, transcript, 'cancelled', 'cancelled');
  }
  run.log('warn', 'stopped: lease lost, another worker owns this task now');
  return result(run, transcript, 'unknown', 'lease_lost');
}

/** The run ended by an error or a signal: release, fail or stop, and say how. Never throws. */
export async function settle(run: LoopRun, transcript: Transcript | undefined, error: unknown): Promise<TaskRunResult> {
  const { store } = run.deps;
  if (error instanceof HumanPauseSignal) {
    run.log('info', 'waiting for a person', { kind: error.kind });
    return result(run, transcript, error.task.status, outcomeOf(error.task, 'needs_human_review'));
  }
  if (error instanceof LeaseLostSignal || isLeaseLost(error) || run.lease.aborted) return stopped(run, transcript);
  if (error instanceof ReleaseSignal) {
    const delaySeconds = Math.min(86_400, Math.ceil(error.delayMs / 1000));
    try {
      // a rate-limit wait is the provider's doing, not the model's slowness: SQL does not count it toward its bound
      const released = await store.release(run.task.id, run.worker, delaySeconds, error.reason === 'rate_limit');
      const lastError = released.status === 'pending' ? null : (released.last_error as TaskError | null);
      run.log('info', released.status === 'pending' ? 'task saved and released' : 'released once too often without progress; SQL ended the task', {
        reason: error.reason,
        delay_seconds: delaySeconds,
        status: released.status,
      });
      return result(run, transcript, released.status, outcomeOf(released, 'released'), lastError);
    } catch (releaseError) {
      if (isLeaseLost(releaseError)) return stopped(run, transcript);
      // the lease expires on its own and the task is claimed again
      run.log('error', 'release_task failed; the lease will expire', { error: (releaseError as Error).message });
      return result(run, transcript, 'running', 'released');
    }
  }
  const [provider, ...model] = run.model.label.split(':');
  const { error: taskError, retryable } = classifyError(error, {
    provider,
    model: model.join(':'),
    step: transcript ? transcript.stepsBefore + transcript.stepsThisRun : undefined,
    attempt: run.task.attempt,
    worker: run.worker,
  });
  run.log('warn', 'task failed', { category: taskError.category, retryable, error: taskError.message });
  try {
    const failed = await store.fail(run.task.id, run.worker, taskError, retryable);
    return result(run, transcript, failed.status, outcomeOf(failed, 'retry_scheduled'), taskError);
  } catch (failError) {
    if (isLeaseLost(failError)) return stopped(run, transcript);
    run.log('error', 'fail_task failed; the lease will expire and the task will be claimed again', { error: (failError as Error).message });
    return result(run, transcript, 'running', 'failed', taskError);
  }
}
