// The agent loop for one claimed task, composed of its parts (loop/): the heartbeat keeps the lease, the
// transcript is loaded or started, then tool steps and model steps alternate, each saved before the
// next, until a final answer completes the task or the run settles (release, failure, lost lease).
// A run that dies anywhere resumes from the transcript: the tool calls of the last saved step that have
// no saved result are run (with the same tool_call_id, so SQL returns what an earlier run made).
import type { AgentDeps } from './ports.ts';
import { ReleaseSignal, RunError } from './errors.ts';
import { startHeartbeat } from './loop/heartbeat.ts';
import { modelStep } from './loop/model-step.ts';
import type { NextTaskHandOff, Run } from './loop/run.ts';
import { complete, settle } from './loop/settle.ts';
import { runToolStep, toolDeclarations } from './loop/tool-step.ts';
import { openTranscript, type Transcript } from './loop/transcript.ts';
import type { Task, TaskRunResult } from './types.ts';

export { unansweredToolCalls } from './loop/transcript.ts';

/**
 * Run a task this worker has just claimed (status running, lease held) until it completes, fails,
 * or the invocation's budget ends (then it is released to continue later). Never throws. With `next`, a
 * completion also claims the lane's next task in the same transaction and hands it over.
 */
export async function runClaimedTask(task: Task, worker: string, deadline: number, deps: AgentDeps, next?: NextTaskHandOff): Promise<TaskRunResult> {
  const log: Run['log'] = (level, message, fields = {}) => deps.logger[level](message, { task_id: task.id, worker, attempt: task.attempt, ...fields });
  const heartbeat = startHeartbeat(task, worker, deps, log);
  const run: Run = { task, worker, deadline, deps, lease: heartbeat.signal, log, next };
  let transcript: Transcript | undefined;
  try {
    transcript = await openTranscript(run);
    const stepLimit = stepLimitOf(task, transcript.stepsBefore, deps.settings.maxSteps);
    const model = deps.models.model(task);
    const tools = toolDeclarations();
    for (;;) {
      await runToolStep(run, transcript);
      const answer = transcript.finalAnswer();
      if (answer !== undefined) return await complete(run, transcript, answer);
      const steps = transcript.stepsBefore + transcript.stepsThisRun;
      if (steps >= stepLimit) throw new RunError('model', `the model did not finish within ${deps.settings.maxSteps} steps`, false, { step: steps });
      if (deadline - deps.clock.now() < deps.settings.minStepMs) throw new ReleaseSignal('budget');
      const { assistant, usage } = await modelStep(run, transcript, model, tools);
      await transcript.append('assistant', assistant.content, usage);
      log('info', 'model step saved', { step: steps + 1, input_tokens: usage.input_tokens, output_tokens: usage.output_tokens });
    }
  } catch (error) {
    return await settle(run, transcript, error);
  } finally {
    heartbeat.stop();
  }
}

/**
 * maxSteps counts from the last failure (fail_task records the step count in last_error), so a retry
 * (automatic, or an operator's after a review) gets a fresh allowance; a release keeps counting.
 */
function stepLimitOf(task: Task, stepsBefore: number, maxSteps: number): number {
  const stepsAtLastFailure = Number((task.last_error as { step?: unknown } | null)?.step ?? 0) || 0;
  return Math.min(stepsAtLastFailure, stepsBefore) + maxSteps;
}
