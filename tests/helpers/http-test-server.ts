// A loopback HTTP server for the tests of `http` tools: each route is a function of the request, and
// every request is recorded (method, path, query, headers, body) so a test can check what a tool sent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What a route answers; `hang` never answers (until the server closes), for timeouts. */
export type RouteReply = { status?: number; headers?: Record<string, string>; body?: string | Buffer; json?: unknown } | { hang: true };

export interface HttpTestServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** requests to one path */
  hits(path: string): RecordedRequest[];
  close(): Promise<void>;
}

export async function startHttpTestServer(routes: Record<string, (request: RecordedRequest) => RouteReply | Promise<RouteReply>>): Promise<HttpTestServer> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    requests.push(recorded);
    const route = routes[url.pathname];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no route ${url.pathname}`);
      return;
    }
    const reply = await route(recorded);
    if ('hang' in reply) return;
    if (reply.json !== undefined) {
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers }).end(JSON.stringify(reply.json));
      return;
    }
    res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain; charset=utf-8', ...reply.headers }).end(reply.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    hits: (path) => requests.filter((r) => r.path === path),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
