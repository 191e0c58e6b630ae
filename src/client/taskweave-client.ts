// A typed client for Taskweave's MCP endpoint (/functions/v1/mcp), for TypeScript callers: the official
// SDK's Client over streamable HTTP, with argument and result types inferred from the very zod schemas
// the endpoint registers (supabase/functions/mcp/schemas.ts). Results are parsed with those schemas,
// so a server that drifted from them fails loudly here instead of handing back a wrong shape.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { MAX_WAIT_SECONDS, TOOLS, type ToolInput, type ToolKey, type ToolOutput } from '../../supabase/functions/mcp/schemas.ts';

export type { RunState, TaskStatus, TaskView, ToolInput, ToolOutput, Usage } from '../../supabase/functions/mcp/schemas.ts';
export { BULK_ACTIONS, REVIEW_ACTIONS, REVIEW_KINDS } from '../../supabase/functions/mcp/schemas.ts';
export { MAX_WAIT_SECONDS, TOOLS } from '../../supabase/functions/mcp/schemas.ts';

export const DEFAULT_MCP_URL = 'http://127.0.0.1:54321/functions/v1/mcp';

export interface TaskweaveClientOptions {
  /** the endpoint, e.g. https://<project>.supabase.co/functions/v1/mcp (default: the local stack's) */
  url?: string;
  /** a machine's bearer key, with full power: PROCESS_TASK_SECRET or the service role key */
  secret?: string;
  /** or a Supabase Auth user's access token: the endpoint then acts as that user (operator tools need the operator claim) */
  accessToken?: string;
  /** name this client gives itself in the MCP handshake */
  clientName?: string;
  fetch?: typeof fetch;
}

/** The endpoint refused a call (bad arguments, unknown id, a review already resolved…): its message says why. */
export class TaskweaveToolError extends Error {
  constructor(
    readonly tool: string,
    message: string,
  ) {
    super(message);
    this.name = 'TaskweaveToolError';
  }
}

/** The endpoint could not be reached, or refused the key: nothing was sent to the database. */
export class TaskweaveConnectionError extends Error {
  constructor(
    readonly reason: 'unreachable' | 'unauthorized' | 'failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TaskweaveConnectionError';
  }
}

export class TaskweaveClient {
  private constructor(
    readonly client: Client,
    readonly url: string,
  ) {}

  static async connect(options: TaskweaveClientOptions): Promise<TaskweaveClient> {
    const url = options.url ?? DEFAULT_MCP_URL;
    const bearer = options.accessToken ?? options.secret;
    if (!bearer) throw new TaskweaveConnectionError('unauthorized', 'give a bearer key (secret) or a user access token (accessToken)');
    const client = new Client({ name: options.clientName ?? 'taskweave-client', version: '0.2.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
      fetch: options.fetch,
    });
    try {
      await client.connect(transport);
    } catch (error) {
      await client.close().catch(() => {});
      const code = (error as { code?: unknown }).code;
      const cause = (error as { cause?: { code?: string } }).cause;
      if (code === 401) {
        throw new TaskweaveConnectionError(
          'unauthorized',
          options.accessToken
            ? `${url} refused the access token (401): sign in again (it may have expired), or check the project it was issued for`
            : `${url} refused the key (401): use the function's PROCESS_TASK_SECRET or the project's service role key`,
          { cause: error },
        );
      }
      if (cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND' || /fetch failed/i.test((error as Error).message)) {
        throw new TaskweaveConnectionError('unreachable', `no MCP endpoint answers at ${url}`, { cause: error });
      }
      throw new TaskweaveConnectionError('failed', `could not connect to ${url}: ${(error as Error).message}`, { cause: error });
    }
    return new TaskweaveClient(client, url);
  }

  /** Wrap an SDK Client that is already connected (e.g. over an in-memory transport to an in-process server). */
  static fromConnected(client: Client, label: string): TaskweaveClient {
    return new TaskweaveClient(client, label);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Call one tool: arguments and result typed by its schemas; a tool error becomes a TaskweaveToolError. */
  async call<K extends ToolKey>(key: K, args: ToolInput<K>, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ToolOutput<K>> {
    const tool = TOOLS[key];
    const result = await this.client.callTool({ name: tool.name, arguments: args as Record<string, unknown> }, undefined, {
      timeout: options.timeoutMs ?? 60_000,
      signal: options.signal,
    });
    if (result.isError) {
      const text = (result.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
      throw new TaskweaveToolError(tool.name, text || `${tool.name} failed`);
    }
    const parsed = tool.output.safeParse(result.structuredContent);
    if (!parsed.success) throw new Error(`${tool.name} answered a shape this client does not know: ${parsed.error.message}`);
    return parsed.data as ToolOutput<K>;
  }

  createTask(args: ToolInput<'createTask'>) {
    return this.call('createTask', args);
  }

  getTask(taskId: string) {
    return this.call('getTask', { task_id: taskId });
  }

  /** Wait up to timeout_seconds (at most MAX_WAIT_SECONDS) for the work to end, need an operator, or (with changed_since) change. */
  waitForTask(args: ToolInput<'waitForTask'>, options: { signal?: AbortSignal } = {}) {
    const seconds = Math.min(args.timeout_seconds ?? 30, MAX_WAIT_SECONDS);
    return this.call('waitForTask', args, { timeoutMs: (seconds + 30) * 1000, signal: options.signal });
  }

  listReviews(args: ToolInput<'listReviews'> = {}) {
    return this.call('listReviews', args);
  }

  resolveReview(args: ToolInput<'resolveReview'>) {
    return this.call('resolveReview', args);
  }

  /** Resolve every open review that matches the filters with one action (retry, abort, approve, reject). */
  resolveReviews(args: ToolInput<'resolveReviews'>) {
    return this.call('resolveReviews', args);
  }

  cancelTask(taskId: string, note?: string) {
    return this.call('cancelTask', { task_id: taskId, ...(note === undefined ? {} : { note }) });
  }
}
