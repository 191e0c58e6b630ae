// What a tool kind is: how one row of taskweave.tools (an MCP server, an HTTP endpoint, a SQL function)
// becomes tools the model can call, and how a call is made. A kind gets its ports (fetch, secrets, the
// SQL call) from the loop and never reads the environment. Every call has a timeout and an output cap
// (the row's timeout_seconds and max_output_bytes); a failing call answers with `ok: false`, never
// throws, so the model gets a tool error and the task goes on.
import type { Database } from '../../_shared/database.types.ts';
import type { Logger } from '../ports.ts';
import type { ToolCallRecord } from '../types.ts';

export type ToolDefinition = Pick<
  Database['taskweave']['Tables']['tools']['Row'],
  'slug' | 'kind' | 'description' | 'config' | 'secrets' | 'idempotent' | 'requires_approval' | 'timeout_seconds' | 'max_output_bytes'
>;

/** A JSON Schema of an object, as the model is shown it. */
export type ObjectSchema = { type: 'object'; properties?: Record<string, unknown>; required?: string[]; [key: string]: unknown };

export interface ToolPorts {
  fetch: typeof fetch;
  /** a secret's value, by name, from the function's environment (undefined when it is not set) */
  secret(name: string): string | undefined;
  /**
   * a started call of a sql tool, run by SQL (call_sql_tool: the function under a role without operator
   * or owner rights, within the tool's timeout) and recorded in the same transaction
   */
  callSqlTool(call: CallIdentity, timeoutSeconds: number): Promise<ToolCallRecord>;
  logger: Logger;
}

/** One tool the model sees. */
export interface ExternalTool {
  /** as the model calls it: the tool slug, or `<slug>__<name>` for an MCP server's tool */
  name: string;
  description: string;
  inputSchema: ObjectSchema;
  definition: ToolDefinition;
  /** the MCP server's own name for it */
  remoteName?: string;
}

/** Which call this is: its started record is (task_id, tool_call_id), and only the lease holder may write it. */
export interface CallIdentity {
  taskId: string;
  worker: string;
  toolCallId: string;
}

/** What a call gave: a result or an error for the loop to record, or the record SQL already wrote with the call. */
export type CallOutcome = { ok: true; value: Record<string, unknown> } | { ok: false; error: string } | { recorded: ToolCallRecord };

/** A tool row opened for one run: its tools, and how to call them. */
export interface OpenedTools {
  tools: ExternalTool[];
  call(tool: ExternalTool, args: Record<string, unknown>, signal: AbortSignal, identity: CallIdentity): Promise<CallOutcome>;
  close(): Promise<void>;
}

export interface ToolKind {
  /**
   * true when a call and its result commit together (a SQL tool in the database's own transaction): a
   * call found started without a result never ran, so it runs again without asking anyone
   */
  readonly atomic?: boolean;
  open(definition: ToolDefinition, ports: ToolPorts, signal: AbortSignal): Promise<OpenedTools>;
}

/** A tool row that cannot work as configured (a secret not listed or not set, a bad URL): said to the model, never thrown past the call. */
export class ToolConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolConfigError';
  }
}

export const configOf = (definition: ToolDefinition) => (definition.config ?? {}) as Record<string, unknown>;

export const timeoutMsOf = (definition: ToolDefinition) => definition.timeout_seconds * 1000;

/** The run's signal and the call's own timeout, whichever ends first. */
export function callSignal(definition: ToolDefinition, signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(timeoutMsOf(definition))]);
}

/** Why a call was cut off: its timeout, or the run ending (a lost lease). */
export function abortReason(definition: ToolDefinition, signal: AbortSignal, error: unknown): string {
  if (signal.aborted) return 'the run stopped before the call ended';
  const name = (error as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${definition.timeout_seconds} s (the tool's timeout)`;
  return (error as Error)?.message ?? String(error);
}
