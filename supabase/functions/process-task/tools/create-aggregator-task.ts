// create_aggregator_task: start the task that combines the results of parallel tasks (the fan-in).
import { z } from 'zod';
import { defineTool } from './tool.ts';

export const CreateAggregatorTaskInput = z.strictObject({
  title: z.string().trim().min(1, 'title must not be empty'),
  instructions: z.string().trim().min(1, 'instructions must not be empty'),
  dependent_task_ids: z
    .array(z.uuid({ message: 'each dependent task id must be a UUID returned by create_parallel_task' }))
    .min(1, 'dependent_task_ids must name at least one task'),
  min_completed: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('start as soon as this many of the tasks have completed (the rest are cancelled); default: wait for all of them'),
  wait_seconds: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('start at the latest this many seconds after creation, with the results there are then (the rest are cancelled)'),
});

export const createAggregatorTask = defineTool({
  name: 'create_aggregator_task',
  description:
    'Start a task that runs once all the given parallel tasks have ended (or min_completed of them have completed, or wait_seconds have passed) and receives their results to combine them. Use the task_id values returned by create_parallel_task.',
  inputSchema: CreateAggregatorTaskInput,
  async execute(input, { task, worker, toolCallId, store }) {
    const aggregator = await store.callTaskFunction('create_aggregator_task', {
      p_parent_task_id: task.id,
      p_dependent_task_ids: input.dependent_task_ids,
      p_title: input.title,
      p_instructions: input.instructions,
      p_tool_call_id: toolCallId,
      p_worker: worker,
      p_min_completed: input.min_completed,
      p_wait_seconds: input.wait_seconds,
    });
    return {
      task_id: aggregator.id,
      title: aggregator.title,
      status: aggregator.status,
      dependent_task_ids: aggregator.dependent_task_ids,
      ...(aggregator.min_completed != null ? { min_completed: aggregator.min_completed } : {}),
      ...(aggregator.wait_until ? { wait_until: aggregator.wait_until } : {}),
    };
  },
});
