// ask_human: put a question to a person and go on with the answer. The task waits in needs_human_review
// (a review of kind question) holding no lease; the operator's answer resumes it, and this same call,
// run again from the saved transcript, returns the answer (no model step is repeated).
import { z } from 'zod';
import { HumanPauseSignal } from '../errors.ts';
import { defineTool } from './tool.ts';

export const AskHumanInput = z.strictObject({
  question: z.string().trim().min(1, 'question must not be empty').max(10_000),
  options: z.array(z.string().trim().min(1).max(500)).max(20).optional().describe('answers to choose from; the person may also write their own'),
});

export const askHuman = defineTool({
  name: 'ask_human',
  description:
    'Ask a person a question and wait for the answer (minutes or hours: the task pauses meanwhile). Use it when a decision or fact only a person can give is needed to go on.',
  inputSchema: AskHumanInput,
  async execute(input, { task, worker, toolCallId, store }) {
    const review = await store.toolCallReview(task.id, toolCallId);
    if (review?.kind === 'question' && review.status === 'resolved' && review.action === 'answer') {
      const output = review.manual_output as { answer?: unknown } | null;
      return { answer: output && typeof output === 'object' && 'answer' in output ? output.answer : output };
    }
    const paused = await store.requestHuman(task.id, worker, {
      kind: 'question',
      request: { tool_call_id: toolCallId, question: input.question, ...(input.options?.length ? { options: input.options } : {}) },
    });
    throw new HumanPauseSignal(paused, 'question');
  },
});
