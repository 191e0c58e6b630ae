// /functions/v1/mcp: a stateless MCP server over streamable HTTP (the official SDK's Web-standard
// transport). Path, method, origin and credentials are checked before the SDK sees the request, so a
// caller without them reaches no tool and changes nothing. Each request gets its own server and
// transport (stateless: no session to keep between requests, any instance may answer).
//
// Two kinds of callers: a machine with the bearer key (PROCESS_TASK_SECRET or the service role key),
// which has full power; and a Supabase Auth user with their access token, whom the endpoint acts as:
// every query runs in a transaction switched to role authenticated with the user's claims, so RLS and
// the SQL API's operator check decide, and the history records the user (_shared/user-transaction.ts).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { McpDeps } from './ports.ts';
import { registerTools } from './tools.ts';
import { authorized } from '../_shared/bearer.ts';
import { looksLikeJwt, type UserTokenVerifier } from '../_shared/user-token.ts';
import { asUser } from '../_shared/user-transaction.ts';

export const FUNCTION_NAME = 'mcp';
export const SERVER_VERSION = '0.2.0';
export const MAX_BODY_BYTES = 1024 * 1024;
const ACCEPTED_PATHS = new Set([`/functions/v1/${FUNCTION_NAME}`, `/${FUNCTION_NAME}`]);

const INSTRUCTIONS =
  'Taskweave runs LLM agent work as tasks in Postgres: a task may fan out into parallel tasks and join their results in an aggregator. ' +
  'Submit work with create_task, then call wait_for_task until its reason is "ended" (read task.answer) or "needs_operator" ' +
  '(a parallel task failed for good: read list_reviews, then resolve_review with retry, abort or manual). ' +
  'get_task reads a task at any time; cancel_task stops a task and everything under it.';

export interface HandlerOptions {
  /** Accepted bearer keys (PROCESS_TASK_SECRET and/or the service role key): full power. */
  secrets: string[];
  /** Verifies a Supabase Auth user's access token; without it only the bearer keys are accepted. */
  userTokens?: UserTokenVerifier;
  /** Browser origins allowed to call (MCP clients send no Origin; a web page always does). */
  allowedOrigins: string[];
  /** Set when the function lacks configuration: every authorised call answers 503 with it. */
  notConfigured?: string;
  deps: McpDeps;
}

function corsHeaders(origin: string | null): Record<string, string> {
  if (!origin) return {};
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Headers': 'authorization, content-type, accept, mcp-protocol-version, mcp-session-id, last-event-id',
    'Access-Control-Allow-Methods': 'POST, OPTIONS',
    'Access-Control-Expose-Headers': 'mcp-session-id, mcp-protocol-version',
    'Access-Control-Max-Age': '86400',
    Vary: 'Origin',
  };
}

function errorResponse(status: number, code: string, message: string, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...extra },
  });
}

export function createMcpHandler(options: HandlerOptions): (req: Request) => Promise<Response> {
  const secrets = options.secrets.filter((s) => s.length > 0);
  const allowedOrigins = new Set(options.allowedOrigins);
  return async function handle(req: Request): Promise<Response> {
    let path: string;
    try {
      path = new URL(req.url).pathname.replace(/\/+$/, '');
    } catch {
      return errorResponse(400, 'invalid_request', 'the request URL cannot be parsed');
    }
    if (!ACCEPTED_PATHS.has(path)) return errorResponse(404, 'not_found', `no function at ${path.slice(0, 200)}`);

    // a web page always sends Origin: only the configured ones may call (DNS-rebinding protection)
    const origin = req.headers.get('origin');
    if (origin && !allowedOrigins.has(origin)) {
      return errorResponse(403, 'forbidden_origin', `requests from the origin ${origin.slice(0, 200)} are not allowed; set MCP_ALLOWED_ORIGINS to allow it`);
    }
    const cors = corsHeaders(origin);
    if (req.method === 'OPTIONS') return new Response(null, { status: 204, headers: cors });
    if (req.method !== 'POST') {
      // stateless: no server-initiated stream (GET) and no session to end (DELETE)
      return errorResponse(405, 'method_not_allowed', `${req.method.slice(0, 20)} is not allowed; this MCP endpoint is stateless: use POST`, {
        Allow: 'POST, OPTIONS',
        ...cors,
      });
    }
    const header = req.headers.get('authorization');
    let deps = options.deps;
    if (secrets.length === 0 || !authorized(header, secrets)) {
      const token = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '')?.[1];
      const verified = token && options.userTokens && looksLikeJwt(token) ? await options.userTokens.verify(token) : undefined;
      if (!verified?.ok) {
        const why = verified ? `: the user token was refused (${verified.reason})` : '';
        return errorResponse(401, 'unauthorized', `a valid "Authorization: Bearer <key or user access token>" header is required${why}`, {
          'WWW-Authenticate': 'Bearer',
          ...cors,
        });
      }
      // acts as the user: each query in a transaction as authenticated with the user's claims
      deps = { ...options.deps, sql: asUser(options.deps.sql, verified.claims) };
    }
    if (options.notConfigured) return errorResponse(503, 'not_configured', options.notConfigured, cors);

    const server = new McpServer(
      { name: 'taskweave', version: SERVER_VERSION, title: 'Taskweave' },
      { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS },
    );
    // not req.signal: Deno aborts it after every response too (and warns about it); a wait is bounded
    // at 50 s anyway, and an MCP cancellation still reaches the tool through the SDK's own signal
    registerTools(server, deps);
    // JSON responses: every tool answers once, and a plain JSON body passes any proxy untouched
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      maxRequestBodySize: MAX_BODY_BYTES,
    });
    try {
      await server.connect(transport);
      const response = await transport.handleRequest(req);
      const headers = new Headers(response.headers);
      for (const [k, v] of Object.entries(cors)) headers.set(k, v);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    } finally {
      // with JSON responses the answer is complete here; nothing of this request outlives it
      await server.close().catch(() => {});
    }
  };
}
