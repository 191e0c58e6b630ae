// The HTTP contract of docs/contracts.md §3. Everything about a request is checked (method, path, key, size,
// JSON, schema) before any data is read or written; bad input is always a 4xx with a JSON error.
import type { AgentDeps } from './ports.ts';
import { processDueTasks, processTaskById } from './processor.ts';
import { sqlStateOf, SQLSTATE, WorkerEndingError } from './errors.ts';
import { ProcessRequestSchema, type TaskRunResult } from './types.ts';
import { authorized } from '../_shared/bearer.ts';

export const FUNCTION_NAME = 'process-task';
export const MAX_BODY_BYTES = 16 * 1024;
/** Paths this function answers: behind `supabase functions serve`/our server, and as deployed. */
const ACCEPTED_PATHS = new Set([`/functions/v1/${FUNCTION_NAME}`, `/${FUNCTION_NAME}`]);

export interface HandlerDeps {
  /** Bearer keys that are accepted (the service role key and/or PROCESS_TASK_SECRET). */
  secrets: string[];
  agent: AgentDeps;
  /** Set when the function must run no task (config.notConfigured): every authorized call is a 503 naming why. */
  notConfigured?: string;
}

type Issue = { path: (string | number)[]; message: string; code?: string };

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...extra },
  });
}

export const errorResponse = (status: number, code: string, message: string, issues?: Issue[], extra?: Record<string, string>) =>
  json(status, { error: { code, message, ...(issues ? { issues } : {}) } }, extra);

/** Read at most `limit` bytes of the body; undefined when it is larger. */
async function readBody(req: Request, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(all);
}

export function createHandler(deps: HandlerDeps): (req: Request) => Promise<Response> {
  const secrets = deps.secrets.filter((s) => s.length > 0);
  return async function handle(req: Request): Promise<Response> {
    let path: string;
    try {
      path = new URL(req.url).pathname.replace(/\/+$/, '');
    } catch {
      return errorResponse(400, 'invalid_request', 'the request URL cannot be parsed', [{ path: [], message: 'invalid URL', code: 'invalid_url' }]);
    }
    if (!ACCEPTED_PATHS.has(path)) return errorResponse(404, 'not_found', `no function at ${path.slice(0, 200)}`);
    if (req.method !== 'POST') {
      return errorResponse(405, 'method_not_allowed', `${req.method.slice(0, 20)} is not allowed; use POST`, undefined, { Allow: 'POST' });
    }
    if (secrets.length === 0 || !authorized(req.headers.get('authorization'), secrets)) {
      return errorResponse(401, 'unauthorized', 'a valid "Authorization: Bearer <key>" header is required', undefined, {
        'WWW-Authenticate': 'Bearer',
      });
    }
    if (deps.notConfigured) return errorResponse(503, 'not_configured', deps.notConfigured);

    let text: string | undefined;
    try {
      text = await readBody(req, MAX_BODY_BYTES);
    } catch {
      return errorResponse(400, 'invalid_request', 'the body could not be read as UTF-8 text', [{ path: [], message: 'invalid UTF-8', code: 'invalid_encoding' }]);
    }
    if (text === undefined) return errorResponse(413, 'payload_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    let body: unknown = {};
    // the body is parsed as JSON whatever Content-Type says (curl -d sends a form type), as req.json() would
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch (error) {
        return errorResponse(400, 'invalid_request', `the body is not valid JSON: ${(error as Error).message.slice(0, 200)}`, [
          { path: [], message: 'invalid JSON', code: 'invalid_json' },
        ]);
      }
    }
    const parsed = ProcessRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message, code: i.code }));
      return errorResponse(400, 'invalid_request', issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '), issues);
    }

    let results: TaskRunResult[];
    try {
      results = parsed.data.task_id
        ? await processTaskById(parsed.data.task_id, deps.agent)
        : await processDueTasks(parsed.data.max_tasks ?? 1, deps.agent);
    } catch (error) {
      // nothing was claimed: the next invocation (another worker) takes the task
      if (error instanceof WorkerEndingError) return errorResponse(503, 'worker_ending', error.message, undefined, { 'Retry-After': '1' });
      const code = sqlStateOf(error);
      if (code === SQLSTATE.wrongState) return errorResponse(409, 'not_claimable', (error as Error).message);
      if (code === SQLSTATE.runningCapReached) return errorResponse(409, 'running_cap_reached', (error as Error).message);
      if (code === SQLSTATE.notFound) return errorResponse(404, 'task_not_found', (error as Error).message);
      deps.agent.logger.error('invocation failed', { error: (error as Error).message, code });
      return errorResponse(503, 'unavailable', 'the task store could not be reached; try again');
    }
    return json(200, { results });
  };
}
