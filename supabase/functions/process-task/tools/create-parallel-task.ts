// create_parallel_task: start a child task that another agent works on in parallel, optionally as one of
// the registered agents (its slug; the description lists them).
import { z } from 'zod';
import type { Json } from '../../_shared/database.types.ts';
import { defineTool } from './tool.ts';

export const CreateParallelTaskInput = z.strictObject({
  title: z.string().trim().min(1, 'title must not be empty'),
  instructions: z.string().trim().min(1, 'instructions must not be empty'),
  input: z.record(z.string(), z.unknown()).optional().describe('structured input for the new task (a JSON object)'),
  agent: z.string().trim().min(1).optional().describe('the slug of the agent that runs the task (see the list in the description); absent: the default model'),
});

const DESCRIPTION =
  'Start a new task that another agent works on in parallel. Returns its task_id; pass the ids to create_aggregator_task to combine the results.';
/** so a registry of many agents cannot flood the prompt */
const MAX_LISTED = 50;

export const createParallelTask = defineTool({
  name: 'create_parallel_task',
  description: DESCRIPTION,
  describe({ agents }) {
    if (agents.length === 0) return DESCRIPTION;
    const listed = agents.slice(0, MAX_LISTED).map((a) => `- ${a.slug}: ${(a.description || a.name).replace(/\s+/g, ' ').slice(0, 300)}`);
    const more = agents.length > MAX_LISTED ? [`(and ${agents.length - MAX_LISTED} more)`] : [];
    return [DESCRIPTION, 'Set `agent` to delegate the task to one of these agents (slug: what it does):', ...listed, ...more].join('\n');
  },
  inputSchema: CreateParallelTaskInput,
  async execute(input, { task, worker, toolCallId, store }) {
    const child = await store.callTaskFunction('create_parallel_task', {
      p_parent_task_id: task.id,
      p_title: input.title,
      p_instructions: input.instructions,
      p_input: (input.input ?? {}) as Json,
      p_tool_call_id: toolCallId,
      p_worker: worker,
      ...(input.agent ? { p_agent: input.agent } : {}),
    });
    return { task_id: child.id, title: child.title, status: child.status, ...(child.agent ? { agent: child.agent } : {}) };
  },
});
