// The tool step: run the tool calls of the last saved model step that have no saved result yet, and save
// each result before the next. What the model can correct (bad arguments, an SQL API rejection, a tool
// that failed) goes back to it as a tool error. A run limit (TW004) stops the task with a budget stop
// and leaves the call unanswered: the model is not asked again (docs/contracts.md §2: a run at a limit starts no new
// model step), and after an operator raises the limit a Retry runs the call again. A lost lease or a
// broken database ends the run. A call that needs a person (an approval, ask_human's question, an
// interrupted call) pauses the task; on resume the same call is taken up again here, never a model step.
//
// Registry tools (MCP, HTTP, SQL) are called exactly once, or a person decides: the call is saved as
// started (start_tool_call) before it is made and its result after (finish_tool_call). On resume a
// started call without a result runs again only when its tool is idempotent; otherwise the task waits
// for an operator (interrupted_call: retry runs it again, manual gives the operator's result).
import { tool, zodSchema, type ToolSet } from 'ai';
import { z } from 'zod';
import { HumanPauseSignal, isArgumentRejection, isLeaseLost, isRunLimit, LeaseLostSignal, ReleaseSignal, RunError } from '../errors.ts';

import { BUILT_IN_TOOLS } from '../tools/registry.ts';
import type { BuiltInTool, ToolContext } from '../tools/tool.ts';
import type { HumanRequest, ToolCallRecord } from '../types.ts';
import type { ToolEntry, Toolbox } from './agent.ts';
import { remainingMs, type LoopRun } from './run.ts';
import { textOf, unansweredToolCalls, type ToolCallPart, type Transcript } from './transcript.ts';

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

const isPause = (error: unknown) => error instanceof HumanPauseSignal;

/**
 * Run one built-in tool call. Wrong arguments and the SQL API's rejections come back as a tool error the
 * model can act on; a lost lease (TW001), a run limit (TW004), a pause for a person or a broken database throws.
 */
export async function executeToolCall(
  call: { toolCallId: string; toolName: string; input: unknown },
  context: Omit<ToolContext, 'toolCallId'>,
  tools: readonly BuiltInTool[] = BUILT_IN_TOOLS,
): Promise<ToolOutput> {
  const builtIn = tools.find((t) => t.name === call.toolName);
  if (!builtIn) return toolError(`unknown tool "${call.toolName}"; the tools are ${tools.map((t) => t.name).join(', ')}`);
  const parsed = builtIn.inputSchema.safeParse(typeof call.input === 'string' ? safeJson(call.input) : call.input);
  if (!parsed.success) return toolError(`invalid arguments for ${call.toolName}: ${describeIssues(parsed.error)}`);
  try {
    return { type: 'json', value: await builtIn.execute(parsed.data, { ...context, toolCallId: call.toolCallId }) };
  } catch (error) {
    if (isLeaseLost(error) || isRunLimit(error) || isPause(error)) throw error;
    const message = (error as Error).message;
    if (isArgumentRejection(error)) return toolError(`${call.toolName} was rejected: ${message}`);
    throw error;
  }
}

/** A JSON Schema check of arguments; undefined when they fit (or when the schema is beyond what zod reads: the tool itself checks then). */
export function schemaIssues(schema: unknown, args: unknown): string | undefined {
  let validator: z.ZodType;
  try {
    validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return undefined;
  }
  const parsed = validator.safeParse(args);
  return parsed.success ? undefined : describeIssues(parsed.error);
}

/** What the model gets for a call whose outcome is saved (succeeded, failed, or rejected by an operator). */
function savedOutput(record: ToolCallRecord): ToolOutput {
  if (record.status === 'rejected') return { type: 'json', value: { rejected: true, reason: record.error ?? 'rejected by an operator' } };
  if (record.status === 'failed') return toolError(`${record.tool_name} failed: ${record.error ?? 'no detail'}`);
  const result = record.result;
  return { type: 'json', value: result !== null && typeof result === 'object' && !Array.isArray(result) ? (result as Record<string, unknown>) : { result } };
}

const MAX_REASON_CHARS = 2_000;
const MAX_SCHEMA_BYTES = 65_536;

async function pause(run: LoopRun, request: HumanRequest): Promise<never> {
  const paused = await run.deps.store.requestHuman(run.task.id, run.worker, request);
  throw new HumanPauseSignal(paused, request.kind);
}

/** Save started, make the call, save its outcome: a crash between the two saves is what interrupted_call is for. */
async function makeCall(run: LoopRun, entry: ToolEntry, call: ToolCallPart, args: Record<string, unknown>, edited: boolean): Promise<ToolOutput> {
  const { store, settings } = run.deps;
  const { tool: ext, source } = entry;
  // a call that may outlast this invocation would be cut off by the platform, and a non-idempotent one
  // would then wait for an operator: unless this invocation has only just begun, hand it to a fresh one
  const left = remainingMs(run);
  if (left < ext.definition.timeout_seconds * 1000 && left < settings.budgetMs - settings.minStepMs) throw new ReleaseSignal('budget');
  await store.startToolCall(run.task.id, run.worker, { toolCallId: call.toolCallId, tool: ext.definition, toolName: ext.name, arguments: args });
  const started = Date.now();
  const outcome = await source.call(ext, args, run.lease, { taskId: run.task.id, worker: run.worker, toolCallId: call.toolCallId });
  if (run.lease.aborted) throw new LeaseLostSignal();
  if ('recorded' in outcome) {
    run.log('info', 'tool call made', { tool: ext.definition.slug, name: ext.name, tool_call_id: call.toolCallId, ok: outcome.recorded.status === 'succeeded', duration_ms: Date.now() - started });
    const output = savedOutput(outcome.recorded);
    return edited && output.type === 'json' ? { type: 'json', value: { ...output.value, operator_edited_arguments: args } } : output;
  }
  const note = edited ? { operator_edited_arguments: args } : {};
  const saved = await store.finishToolCall(
    run.task.id,
    run.worker,
    call.toolCallId,
    outcome.ok ? { result: { ...outcome.value, ...note } } : { result: null, error: edited ? `${outcome.error} (run with the arguments an operator edited: ${JSON.stringify(args)})` : outcome.error },
  );
  run.log('info', 'tool call made', { tool: ext.definition.slug, name: ext.name, tool_call_id: call.toolCallId, ok: outcome.ok, duration_ms: Date.now() - started });
  return savedOutput(saved);
}

/** A registry tool's call: exactly once, or a person decides (module comment). */
export async function executeExternalCall(run: LoopRun, entry: ToolEntry, call: ToolCallPart, reason: string): Promise<ToolOutput> {
  const { store } = run.deps;
  const { tool: ext } = entry;
  const definition = ext.definition;
  const record = await store.getToolCall(run.task.id, call.toolCallId);
  if (record && (record.status === 'succeeded' || record.status === 'failed' || record.status === 'rejected')) return savedOutput(record);

  const review = record ? await store.toolCallReview(run.task.id, call.toolCallId) : null;
  if (record?.status === 'started') {
    const args = record.arguments as Record<string, unknown>;
    // atomic: a SQL tool's call commits with its result, so a started one without a result never ran
    if (definition.idempotent || entry.atomic) return makeCall(run, entry, call, args, false);
    if (review?.kind === 'interrupted_call' && review.status === 'resolved') {
      if (review.action === 'retry') return makeCall(run, entry, call, args, false);
      if (review.action === 'manual') {
        const saved = await store.finishToolCall(run.task.id, run.worker, call.toolCallId, { result: { result: review.manual_output, written_by: 'operator' } });
        return savedOutput(saved);
      }
    }
    return pause(run, { kind: 'interrupted_call', request: { tool_call_id: call.toolCallId } });
  }

  const raw = typeof call.input === 'string' ? safeJson(call.input) : call.input;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return toolError(`invalid arguments for ${ext.name}: a JSON object is expected`);
  const args = raw as Record<string, unknown>;
  const issues = schemaIssues(ext.inputSchema, args);
  if (issues) return toolError(`invalid arguments for ${ext.name}: ${issues}`);
  if (!definition.requires_approval) return makeCall(run, entry, call, args, false);

  if (review?.kind !== 'approval' || review.status !== 'resolved') {
    const schemaFits = new TextEncoder().encode(JSON.stringify(ext.inputSchema)).length <= MAX_SCHEMA_BYTES;
    return pause(run, {
      kind: 'approval',
      request: {
        tool_call_id: call.toolCallId,
        tool: ext.name,
        arguments: args,
        reason: (reason.trim() || `the model called ${ext.name}`).slice(0, MAX_REASON_CHARS),
        input_schema: schemaFits ? ext.inputSchema : undefined,
      },
    });
  }
  if (review.action === 'reject') {
    // p_error null: SQL records the operator's note as the reason
    const saved = await store.finishToolCall(run.task.id, run.worker, call.toolCallId, { result: null, error: null });
    return savedOutput(saved);
  }
  if (review.action !== 'approve') return toolError(`${ext.name} was not approved (${review.action ?? 'no decision'})`);
  const edited = (review.manual_output as { arguments?: unknown } | null)?.arguments;
  if (edited === undefined || edited === null) return makeCall(run, entry, call, args, false);
  const editIssues = edited && typeof edited === 'object' && !Array.isArray(edited) ? schemaIssues(ext.inputSchema, edited) : 'a JSON object is expected';
  if (editIssues) {
    // not called; the call ends failed with the reason, so it does not wait for approval for ever and a
    // resumed run reads the failure back
    const message = `${ext.name} was approved with edited arguments that do not fit its schema, so it was not called: ${editIssues}`;
    await store.finishToolCall(run.task.id, run.worker, call.toolCallId, { result: null, error: message.slice(0, 10_000) });
    return toolError(message);
  }
  return makeCall(run, entry, call, edited as Record<string, unknown>, true);
}

export async function runToolStep(run: LoopRun, transcript: Transcript, toolbox?: Toolbox): Promise<void> {
  const calls = unansweredToolCalls(transcript.messages);
  if (calls.length === 0) return;
  const builtIns = toolbox?.builtIns ?? BUILT_IN_TOOLS;
  const lastAssistant = [...transcript.messages].reverse().find((m) => m.role === 'assistant');
  const reason = lastAssistant ? textOf(lastAssistant) : '';
  for (const call of calls) {
    let output: ToolOutput;
    const external = toolbox?.external.get(call.toolName);
    try {
      if (external) output = await executeExternalCall(run, external, call, reason);
      else if (!builtIns.some((t) => t.name === call.toolName)) {
        const names = [...builtIns.map((t) => t.name), ...(toolbox ? [...toolbox.external.keys()] : [])];
        output = toolError(`unknown tool "${call.toolName}" (or its server could not be reached this run); the tools are ${names.join(', ')}`);
      } else output = await executeToolCall(call, { task: run.task, worker: run.worker, store: run.deps.store }, builtIns);
    } catch (error) {
      // a run limit is classified as a budget stop where the run settles
      if (isLeaseLost(error) || isRunLimit(error) || isPause(error) || error instanceof LeaseLostSignal || error instanceof ReleaseSignal) throw error;
      if (external && isArgumentRejection(error)) output = toolError(`${call.toolName} was rejected: ${(error as Error).message}`);
      else throw new RunError('tool', `${call.toolName} failed: ${(error as Error).message}`, true, { step: transcript.stepsBefore + transcript.stepsThisRun });
    }
    await transcript.append('tool', [{ type: 'tool-result', toolCallId: call.toolCallId, toolName: call.toolName, output }]);
    run.log('info', 'tool call done', { tool: call.toolName, tool_call_id: call.toolCallId, ok: output.type === 'json' });
  }
}
