// The task's transcript (task_messages): loaded at the start of a run, started with the task's context
// when new, and appended to after every model step and every tool result, before anything else happens.
// A run that dies anywhere resumes from it.
import type { ModelMessage } from 'ai';
import { buildInitialMessages, buildTaskContext, transcriptToMessages } from '../context.ts';
import { LeaseLostSignal } from '../errors.ts';
import type { MessageRole, ModelStepUsage, TaskMessage } from '../types.ts';
import type { LoopRun } from './run.ts';

export type ToolCallPart = { type: 'tool-call'; toolCallId: string; toolName: string; input: unknown };

function partsOf(message: { content: unknown }): Record<string, unknown>[] {
  return Array.isArray(message.content) ? (message.content as Record<string, unknown>[]) : [];
}

export function toolCallsOf(message: { role: string; content: unknown }): ToolCallPart[] {
  if (message.role !== 'assistant') return [];
  return partsOf(message).filter((p) => p.type === 'tool-call' && !p.providerExecuted) as unknown as ToolCallPart[];
}

export function textOf(message: { content: unknown }): string {
  if (typeof message.content === 'string') return message.content;
  return partsOf(message)
    .filter((p) => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text as string)
    .join('');
}

/** Tool calls of the last assistant step that have no saved result yet. */
export function unansweredToolCalls(messages: { role: string; content: unknown }[]): ToolCallPart[] {
  let lastAssistant = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'assistant') {
      lastAssistant = i;
      break;
    }
  }
  if (lastAssistant < 0) return [];
  const answered = new Set<string>();
  for (const m of messages.slice(lastAssistant + 1)) {
    if (m.role !== 'tool') continue;
    for (const p of partsOf(m)) if (p.type === 'tool-result') answered.add(String(p.toolCallId));
  }
  return toolCallsOf(messages[lastAssistant]).filter((c) => !answered.has(c.toolCallId));
}

export interface Transcript {
  readonly system: string;
  /** everything after the system prompt, as the model is sent it */
  readonly messages: ModelMessage[];
  /** model steps saved by earlier runs of this task */
  readonly stepsBefore: number;
  /** model steps saved by this run */
  stepsThisRun: number;
  /** save a message, then add it to `messages`; an assistant message is one model step, priced by SQL from its usage and model */
  append(role: Exclude<MessageRole, 'system'>, content: unknown, usage?: ModelStepUsage | null, model?: string | null): Promise<void>;
  /** the last saved message, when it is a final answer (an assistant step without tool calls) */
  finalAnswer(): string | undefined;
}

/** The agent a task runs as, as its system prompt names it. */
export type AgentPrompt = { slug: string; name: string; instructions: string } | null;

export async function openTranscript(run: LoopRun, agent: AgentPrompt = null): Promise<Transcript> {
  const { task, worker, deps } = run;
  const save = (role: MessageRole, content: unknown, usage?: ModelStepUsage | null, model?: string | null): Promise<TaskMessage> => {
    if (run.lease.aborted) return Promise.reject(new LeaseLostSignal());
    return deps.store.appendMessage(task.id, worker, role, content, usage, model);
  };
  let rows = await deps.store.listMessages(task.id);
  if (!rows.some((r) => r.role === 'user')) {
    const initial = buildInitialMessages(await buildTaskContext(task, deps.store, deps.settings), agent);
    if (!rows.some((r) => r.role === 'system')) rows = [...rows, await save('system', initial.system)];
    rows = [...rows, await save('user', initial.user)];
  }
  const messages = transcriptToMessages(rows.filter((r) => r.role !== 'system'));
  const transcript: Transcript = {
    system: rows.filter((r) => r.role === 'system').map((r) => textOf(r)).join('\n\n'),
    messages,
    stepsBefore: rows.filter((r) => r.role === 'assistant').length,
    stepsThisRun: 0,
    async append(role, content, usage, model) {
      await save(role, content, usage, model);
      messages.push({ role, content } as ModelMessage);
      if (role === 'assistant') transcript.stepsThisRun++;
    },
    finalAnswer() {
      const last = messages[messages.length - 1];
      return last?.role === 'assistant' && toolCallsOf(last).length === 0 ? textOf(last) : undefined;
    },
  };
  return transcript;
}
