// The built-in tools, in the order the model is shown them. A new tool is one file in this folder, one
// line here, and the SQL API function it calls (a migration; `npm run db:types` then types its arguments).
import { askHuman } from './ask-human.ts';
import { createAggregatorTask } from './create-aggregator-task.ts';
import { createParallelTask } from './create-parallel-task.ts';
import type { BuiltInTool } from './tool.ts';

export const BUILT_IN_TOOLS: readonly BuiltInTool[] = [
  createParallelTask,
  createAggregatorTask,
  askHuman,
];
