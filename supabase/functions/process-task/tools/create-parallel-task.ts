// create_parallel_task: start a child task that another agent works on in parallel.
import { z } from 'zod';
import type { Json } from '../../_shared/database.types.ts';
import { defineTool } from './tool.ts';

export const CreateParallelTaskInput = z.strictObject({
  title: z.string().trim().min(1, 'title must not be empty'),
  instructions: z.string().trim().min(1, 'instructions must not be empty'),
  input: z.record(z.string(), z.unknown()).optional().describe('structured input for the new task (a JSON object)'),
});

export const createParallelTask = defineTool({
  name: 'create_parallel_task',
  description:
    'Start a new task that another agent works on in parallel. Returns its task_id; pass the ids to create_aggregator_task to combine the results.',
  inputSchema: CreateParallelTaskInput,
  async execute(input, { task, worker, toolCallId, store }) {
    const child = await store.callTaskFunction('create_parallel_task', {
      p_parent_task_id: task.id,
      p_title: input.title,
      p_instructions: input.instructions,
      p_input: (input.input ?? {}) as Json,
      p_tool_call_id: toolCallId,
      p_worker: worker,
    });
    return { task_id: child.id, title: child.title, status: child.status };
  },
});
