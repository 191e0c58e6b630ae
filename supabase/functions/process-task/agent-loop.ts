// The agent loop for one claimed task, composed of its parts (loop/): the heartbeat keeps the lease, the
// transcript is loaded or started, then tool steps and model steps alternate, each saved before the
// next, until a final answer completes the task or the run settles (release, failure, lost lease).
// A run that dies anywhere resumes from the transcript: the tool calls of the last saved step that have
// no saved result are run (with the same tool_call_id, so SQL returns what an earlier run made, and a
// registry tool's started call runs again only when it is idempotent). A task with an agent runs on the
// agent's model, instructions and tools; a pause for a person ends the run until an operator resolves it.
import type { AgentDeps } from './ports.ts';
import { ReleaseSignal, RunError } from './errors.ts';
import { startHeartbeat } from './loop/heartbeat.ts';
import { modelStep } from './loop/model-step.ts';
import type { LoopRun, NextTaskHandOff } from './loop/run.ts';
import { complete, settle } from './loop/settle.ts';
import { runToolStep } from './loop/tool-step.ts';
import { openAgent, type RunAgent } from './loop/agent.ts';
import { openTranscript, type Transcript } from './loop/transcript.ts';
import type { Task, TaskRunResult } from './types.ts';

export { unansweredToolCalls } from './loop/transcript.ts';

/**
 * Run a task this worker has just claimed (status running, lease held) until it completes, fails,
 * or the invocation's budget ends (then it is released to continue later). Never throws. With `next`, a
 * completion also claims the lane's next task in the same transaction and hands it over.
 */
export async function runClaimedTask(task: Task, worker: string, deadline: number, deps: AgentDeps, next?: NextTaskHandOff): Promise<TaskRunResult> {
  const log: LoopRun['log'] = (level, message, fields = {}) => deps.logger[level](message, { task_id: task.id, worker, attempt: task.attempt, ...fields });
  const heartbeat = startHeartbeat(task, worker, deps, log);
  const run: LoopRun = { task, worker, deadline, deps, lease: heartbeat.signal, log, model: deps.models.resolve(null), next };
  let transcript: Transcript | undefined;
  let agent: RunAgent | undefined;
  try {
    agent = await openAgent(run);
    const definition = agent.definition;
    transcript = await openTranscript(run, definition && { slug: definition.slug, name: definition.name, instructions: definition.instructions });
    const stepLimit = stepLimitOf(task, transcript.stepsBefore, deps.settings.maxSteps);
    const options = { temperature: definition?.temperature ?? undefined, maxOutputTokens: definition?.max_output_tokens ?? undefined };
    for (;;) {
      await runToolStep(run, transcript, agent.toolbox);
      const answer = transcript.finalAnswer();
      if (answer !== undefined) return await complete(run, transcript, answer);
      const steps = transcript.stepsBefore + transcript.stepsThisRun;
      if (steps >= stepLimit) throw new RunError('model', `the model did not finish within ${deps.settings.maxSteps} steps`, false, { step: steps });
      if (deadline - deps.clock.now() < deps.settings.minStepMs) throw new ReleaseSignal('budget');
      const { assistant, usage } = await modelStep(run, transcript, agent.toolbox.declarations, options);
      await transcript.append('assistant', assistant.content, usage, run.model.label);
      log('info', 'model step saved', { step: steps + 1, model: run.model.label, input_tokens: usage.input_tokens, output_tokens: usage.output_tokens });
    }
  } catch (error) {
    return await settle(run, transcript, error);
  } finally {
    heartbeat.stop();
    await agent?.toolbox.close();
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
