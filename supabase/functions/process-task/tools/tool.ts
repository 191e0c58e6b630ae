// What a built-in tool is: a name, a description and a zod schema the model sees (as JSON Schema), and
// an `execute` that calls the SQL API. The loop, not the AI SDK, runs a tool, after the assistant step
// that asked for it is saved; the model's tool_call_id goes to SQL, which answers a repeated call with
// what the first one made (and refuses the id with other arguments, TW006), so a resumed run never
// creates anything twice. Limits are SQL's: a tool never pre-checks one.
import type { z } from 'zod';
import type { TaskStore } from '../ports.ts';
import type { AgentSummary, Task } from '../types.ts';

/** What a tool's description may tell the model about the system it works in. */
export interface ToolCatalog {
  /** the agents a task may be delegated to */
  agents: AgentSummary[];
}

export interface ToolContext {
  /** the task whose model called the tool: running, leased to `worker` */
  task: Task;
  /** passed as p_worker, so a worker that lost its lease creates nothing (TW001) */
  worker: string;
  toolCallId: string;
  store: TaskStore;
}

export interface BuiltInTool {
  name: string;
  description: string;
  /** the description for this run, when it depends on the catalog (create_parallel_task lists the agents) */
  describe?(catalog: ToolCatalog): string;
  inputSchema: z.ZodType;
  /** returns the JSON the model gets back; throws the SQL API's errors as they are, or HumanPauseSignal to wait for a person */
  execute(input: unknown, context: ToolContext): Promise<Record<string, unknown>>;
}

/** Typed on the schema's output, stored as a BuiltInTool: the registry holds tools of any input. */
export function defineTool<S extends z.ZodType>(tool: {
  name: string;
  description: string;
  describe?(catalog: ToolCatalog): string;
  inputSchema: S;
  execute(input: z.output<S>, context: ToolContext): Promise<Record<string, unknown>>;
}): BuiltInTool {
  return tool as BuiltInTool;
}
