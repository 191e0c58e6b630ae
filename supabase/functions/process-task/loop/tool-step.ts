// The tool step: run the tool calls of the last saved model step that have no saved result yet, each
// through the registry, and save each result before the next. What the model can correct (bad
// arguments, an SQL API rejection) goes back to it as a tool error. A run limit (TW004) stops the task
// with a budget stop and leaves the call unanswered: the model is not asked again (DESIGN: a run at a
// limit starts no new model step), and after an operator raises the limit a Retry runs the call again.
// A lost lease or a broken database ends the run.
import { tool, zodSchema, type ToolSet } from 'ai';
import type { z } from 'zod';
import { isArgumentRejection, isLeaseLost, isRunLimit, RunError } from '../errors.ts';
import { BUILT_IN_TOOLS } from '../tools/registry.ts';
import type { BuiltInTool, ToolContext } from '../tools/tool.ts';
import type { Run } from './run.ts';
import { unansweredToolCalls, type Transcript } from './transcript.ts';

export type ToolOutput = { type: 'json'; value: Record<string, unknown> } | { type: 'error-text'; value: string };

/** Tool declarations for the model: schemas and descriptions, no `execute` (the loop runs them). */
export function toolDeclarations(tools: readonly BuiltInTool[] = BUILT_IN_TOOLS): ToolSet {
  return Object.fromEntries(tools.map((t) => [t.name, tool({ description: t.description, inputSchema: zodSchema(t.inputSchema) })]));
}

const toolError = (message: string): ToolOutput => ({ type: 'error-text', value: message });

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'arguments'}: ${i.message}`).join('; ');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Run one tool call. Wrong arguments and the SQL API's rejections come back as a tool error the model
 * can act on; a lost lease (TW001), a run limit (TW004) or a broken database throws.
 */
export async function executeToolCall(
  call: { toolCallId: string; toolName: string; input: unknown },
  context: Omit<ToolContext, 'toolCallId'>,
  tools: readonly BuiltInTool[] = BUILT_IN_TOOLS,
): Promise<ToolOutput> {
  const builtIn = tools.find((t) => t.name === call.toolName);
  if (!builtIn) return toolError(`unknown tool "${call.toolName}"; the tools are ${tools.map((t) => t.name).join(' and ')}`);
  const parsed = builtIn.inputSchema.safeParse(typeof call.input === 'string' ? safeJson(call.input) : call.input);
  if (!parsed.success) return toolError(`invalid arguments for ${call.toolName}: ${describeIssues(parsed.error)}`);
  try {
    return { type: 'json', value: await builtIn.execute(parsed.data, { ...context, toolCallId: call.toolCallId }) };
  } catch (error) {
    if (isLeaseLost(error) || isRunLimit(error)) throw error;
    const message = (error as Error).message;
    if (isArgumentRejection(error)) return toolError(`${call.toolName} was rejected: ${message}`);
    throw error;
  }
}

export async function runToolStep(run: Run, transcript: Transcript, tools: readonly BuiltInTool[] = BUILT_IN_TOOLS): Promise<void> {
  for (const call of unansweredToolCalls(transcript.messages)) {
    let output: ToolOutput;
    try {
      output = await executeToolCall(call, { task: run.task, worker: run.worker, store: run.deps.store }, tools);
    } catch (error) {
      // a run limit is classified as a budget stop where the run settles
      if (isLeaseLost(error) || isRunLimit(error)) throw error;
      throw new RunError('tool', `${call.toolName} failed: ${(error as Error).message}`, true, { step: transcript.stepsBefore + transcript.stepsThisRun });
    }
    await transcript.append('tool', [{ type: 'tool-result', toolCallId: call.toolCallId, toolName: call.toolName, output }]);
    run.log('info', 'tool call done', { tool: call.toolName, tool_call_id: call.toolCallId, ok: output.type === 'json' });
  }
}
