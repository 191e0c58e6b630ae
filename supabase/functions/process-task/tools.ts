// The built-in tools. The model sees their zod schemas as JSON Schema; the loop (not the AI SDK) runs
// them, after the assistant step that asked for them is saved, so a step is never lost and a call
// already made is never made twice. Each call passes the model's tool_call_id to the SQL API, which
// returns the existing child for a repeated (parent, tool_call_id): a re-run cannot duplicate children.
import { tool, zodSchema, type ToolSet } from 'ai';
import { z } from 'zod';
import type { AgentSettings, TaskStore } from './ports.ts';
import { isArgumentRejection } from './errors.ts';
import type { Task } from './types.ts';

export const CreateParallelTaskInput = z.strictObject({
  title: z.string().trim().min(1, 'title must not be empty').max(200, 'title must be at most 200 characters'),
  instructions: z.string().trim().min(1, 'instructions must not be empty').max(20_000, 'instructions must be at most 20000 characters'),
  input: z.record(z.string(), z.unknown()).optional().describe('structured input for the new task (a JSON object)'),
});

export const CreateAggregatorTaskInput = z.strictObject({
  title: z.string().trim().min(1, 'title must not be empty').max(200, 'title must be at most 200 characters'),
  instructions: z.string().trim().min(1, 'instructions must not be empty').max(20_000, 'instructions must be at most 20000 characters'),
  dependent_task_ids: z
    .array(z.uuid({ message: 'each dependent task id must be a UUID returned by create_parallel_task' }))
    .min(1, 'dependent_task_ids must name at least one task')
    .max(200, 'dependent_task_ids may name at most 200 tasks'),
});

export const TOOL_NAMES = ['create_parallel_task', 'create_aggregator_task'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** Tool declarations for the model: schemas and descriptions, no `execute` (the loop runs them). */
export function toolDeclarations(): ToolSet {
  return {
    create_parallel_task: tool({
      description:
        'Start a new task that another agent works on in parallel. Returns its task_id; pass the ids to create_aggregator_task to combine the results.',
      inputSchema: zodSchema(CreateParallelTaskInput),
    }),
    create_aggregator_task: tool({
      description:
        'Start a task that runs once all the given parallel tasks have ended and receives their results to combine them. Use the task_id values returned by create_parallel_task.',
      inputSchema: zodSchema(CreateAggregatorTaskInput),
    }),
  };
}

export type ToolOutput = { type: 'json'; value: Record<string, unknown> } | { type: 'error-text'; value: string };

const toolError = (message: string): ToolOutput => ({ type: 'error-text', value: message });

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'arguments'}: ${i.message}`).join('; ');
}

/**
 * Run one tool call for `task`. Wrong arguments and rejections by the SQL API come back as a tool
 * error the model can correct; a lost lease or a broken database throws, ending the run.
 */
export async function executeToolCall(
  task: Task,
  call: { toolCallId: string; toolName: string; input: unknown },
  store: TaskStore,
  settings: Pick<AgentSettings, 'maxChildrenPerTask' | 'maxDepth'>,
): Promise<ToolOutput> {
  if (!(TOOL_NAMES as readonly string[]).includes(call.toolName)) {
    return toolError(`unknown tool "${call.toolName}"; the tools are ${TOOL_NAMES.join(' and ')}`);
  }
  const input = typeof call.input === 'string' ? safeJson(call.input) : call.input;
  if (task.depth >= settings.maxDepth) {
    return toolError(
      `this task is at nesting depth ${task.depth}, the maximum is ${settings.maxDepth}: it cannot create child tasks. Do the work yourself and answer.`,
    );
  }
  try {
    // a repeated call (same tool_call_id) is answered with the child it already made, limit or not
    const existing = await store.findChildByToolCall(task.id, call.toolCallId);
    if (existing && (existing.dependent_task_ids.length > 0) !== (call.toolName === 'create_aggregator_task')) {
      return toolError(`tool call id ${call.toolCallId} was already used for another tool; use a new tool call`);
    }
    if (!existing) {
      const children = await store.countChildren(task.id);
      if (children >= settings.maxChildrenPerTask) {
        return toolError(`this task already has ${children} child tasks, the maximum is ${settings.maxChildrenPerTask}; combine the work into fewer tasks`);
      }
    }
    if (call.toolName === 'create_parallel_task') {
      const parsed = CreateParallelTaskInput.safeParse(input);
      if (!parsed.success) return toolError(`invalid arguments for create_parallel_task: ${describeIssues(parsed.error)}`);
      const child =
        existing ??
        (await store.createParallelTask({
          parentTaskId: task.id,
          title: parsed.data.title,
          instructions: parsed.data.instructions,
          input: parsed.data.input ?? {},
          toolCallId: call.toolCallId,
        }));
      return { type: 'json', value: { task_id: child.id, title: child.title, status: child.status } };
    }
    const parsed = CreateAggregatorTaskInput.safeParse(input);
    if (!parsed.success) return toolError(`invalid arguments for create_aggregator_task: ${describeIssues(parsed.error)}`);
    if (new Set(parsed.data.dependent_task_ids).size !== parsed.data.dependent_task_ids.length) {
      return toolError('invalid arguments for create_aggregator_task: dependent_task_ids must not repeat an id');
    }
    const aggregator =
      existing ??
      (await store.createAggregatorTask({
        parentTaskId: task.id,
        dependentTaskIds: parsed.data.dependent_task_ids,
        title: parsed.data.title,
        instructions: parsed.data.instructions,
        toolCallId: call.toolCallId,
      }));
    return {
      type: 'json',
      value: { task_id: aggregator.id, title: aggregator.title, status: aggregator.status, dependent_task_ids: aggregator.dependent_task_ids },
    };
  } catch (error) {
    if (isArgumentRejection(error)) return toolError(`${call.toolName} was rejected: ${(error as Error).message}`);
    throw error;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
