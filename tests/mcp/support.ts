// Helpers shared by the MCP endpoint tests: both functions under Deno (process-task and mcp behind one
// port, as `npm run functions:serve` serves them), the SDK's own Client, and row counts for "nothing changed".
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startFunctionServer, type FunctionServer } from '../../scripts/lib/function-server.ts';
import type { Sql } from '../helpers/database.ts';

export type Functions = FunctionServer & { logs: string[]; mcpUrl: string };

export async function startFunctions(databaseUrl: string, env: Record<string, string> = {}): Promise<Functions> {
  const logs: string[] = [];
  const server = await startFunctionServer({
    databaseUrl,
    port: 0,
    secret: 'mcp-test-secret-' + Math.random().toString(36).slice(2),
    env: { LLM_PROVIDER: 'demo', TASKWEAVE_WEB_URL: 'http://127.0.0.1:3999', ...env },
    onLog: (line) => logs.push(line),
  });
  return Object.assign(server, { logs, mcpUrl: server.urls.mcp! });
}

/** The official SDK client over streamable HTTP, with a bearer key (or none). */
export async function sdkClient(url: string, secret: string | undefined, name = 'vitest'): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' });
  const headers: Record<string, string> = secret === undefined ? {} : { Authorization: `Bearer ${secret}` };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

export function textOf(result: CallToolResult | Awaited<ReturnType<Client['callTool']>>): string {
  return ((result.content ?? []) as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
}

/** Rows in every Taskweave table, to show that a refused call changed nothing. */
export async function countRows(sql: Sql): Promise<Record<string, number>> {
  const [row] = await sql<Record<string, number>[]>`
    select (select count(*)::int from taskweave.tasks) as tasks,
           (select count(*)::int from taskweave.human_reviews) as human_reviews,
           (select count(*)::int from taskweave.task_events) as task_events,
           (select count(*)::int from taskweave.task_messages) as task_messages,
           (select count(*)::int from taskweave.runs) as runs,
           (select count(*)::int from taskweave.human_reviews where status = 'open') as open_reviews,
           (select count(*)::int from taskweave.tasks where status = 'cancelled') as cancelled`;
  return row;
}

/** A JSON-RPC tools/call posted by hand (no SDK), e.g. to try keys. */
export function rpc(id: number, name: string, args: unknown) {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
}

export const MCP_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
