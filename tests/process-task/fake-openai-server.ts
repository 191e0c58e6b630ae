// A loopback server speaking the OpenAI chat-completions protocol with scripted answers, so the real
// function (under Deno, through the AI SDK's OpenAI-compatible provider) can be driven end to end.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null | { type: string; text?: string }[];
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: { type: 'function'; function: { name: string; description?: string; parameters: unknown } }[];
  [key: string]: unknown;
}

/** Token counts the server reports, as OpenAI does, in `usage`. */
export interface ReportedUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** `delayMs` on any reply: answer that much later (a slow model). */
export type ScriptedReply = (
  | { content: string; usage?: ReportedUsage }
  | { tool_calls: { id: string; name: string; arguments: unknown }[]; content?: string; usage?: ReportedUsage }
  | { status: number; body: unknown; headers?: Record<string, string> }
  /** never answer (until the server closes): for crash tests */
  | { hang: true }
) & { delayMs?: number };

/** A provider's "slow down": 429 with Retry-After, as OpenAI sends it. */
export const rateLimited = (retryAfterSeconds: number): ScriptedReply => ({
  status: 429,
  headers: { 'retry-after': String(retryAfterSeconds) },
  body: { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } },
});

export interface FakeOpenAI {
  /** base URL for OPENAI_BASE_URL, ending in /v1 */
  readonly baseURL: string;
  readonly requests: ChatRequest[];
  /** when each request arrived (Date.now()), in the order of `requests` */
  readonly arrivals: number[];
  close(): Promise<void>;
}

export async function startFakeOpenAI(script: (request: ChatRequest, index: number) => ScriptedReply | Promise<ScriptedReply>): Promise<FakeOpenAI> {
  const requests: ChatRequest[] = [];
  const arrivals: number[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    let body: ChatRequest;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'bad json' } }));
      return;
    }
    arrivals.push(Date.now());
    const index = requests.push(body) - 1;
    let reply: ScriptedReply;
    try {
      reply = await script(body, index);
    } catch (error) {
      reply = { status: 500, body: { error: { message: `script threw: ${(error as Error).message}`, type: 'server_error' } } };
    }
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (!res.socket || res.socket.destroyed) return; // the caller gave up (an aborted request)
    if ('hang' in reply) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if ('status' in reply) {
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(JSON.stringify(reply.body));
      return;
    }
    const toolCalls = 'tool_calls' in reply ? reply.tool_calls : [];
    const message = {
      role: 'assistant',
      content: 'content' in reply && reply.content !== undefined ? reply.content : null,
      ...(toolCalls.length
        ? {
            tool_calls: toolCalls.map((c) => ({
              id: c.id,
              type: 'function',
              function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
            })),
          }
        : {}),
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id: `chatcmpl-fake-${index}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message, finish_reason: toolCalls.length ? 'tool_calls' : 'stop' }],
        usage: { ...(reply.usage ?? { prompt_tokens: 10, completion_tokens: 5 }), total_tokens: (reply.usage?.prompt_tokens ?? 10) + (reply.usage?.completion_tokens ?? 5) },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    arrivals,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The text of a chat message, whatever its content shape. */
export function messageText(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  if (Array.isArray(message.content)) return message.content.map((p) => p.text ?? '').join('');
  return '';
}

/** The <task> block the function writes into its first user message. */
export function taskOf(request: ChatRequest): { id: string; kind: 'root' | 'parallel' | 'aggregator'; input: Record<string, unknown> } {
  for (const m of request.messages) {
    const match = /<task>\n([\s\S]*?)\n<\/task>/.exec(messageText(m));
    if (match) return JSON.parse(match[1]);
  }
  throw new Error('no <task> block in the request');
}

/** Tool results the model has been sent so far, parsed. */
export function toolResultsOf(request: ChatRequest): { tool_call_id: string; value: unknown }[] {
  return request.messages
    .filter((m) => m.role === 'tool')
    .map((m) => {
      const text = messageText(m);
      let value: unknown = text;
      try {
        value = JSON.parse(text);
      } catch {
        // error texts are plain strings
      }
      return { tool_call_id: m.tool_call_id ?? '', value };
    });
}
