// A real MCP server for tests: the official SDK's McpServer over Streamable HTTP (stateless, one server
// and transport per request, as a serverless host runs it) on loopback, answering only requests that
// carry `Authorization: Bearer <token>`. It records every tool call with the arguments it received.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface McpTestServer {
  readonly url: string;
  /** every tools/call that reached a tool, in order */
  readonly calls: { name: string; arguments: Record<string, unknown> }[];
  /** requests refused for a missing or wrong bearer token */
  readonly refused: number;
  close(): Promise<void>;
}

export async function startMcpTestServer(token: string): Promise<McpTestServer> {
  const calls: { name: string; arguments: Record<string, unknown> }[] = [];
  let refused = 0;

  function mcpServer(authorization: string): McpServer {
    const server = new McpServer({ name: 'taskweave-test-docs', version: '1.0.0' });
    server.registerTool(
      'search',
      { description: 'Search the documentation; returns matching passages.', inputSchema: { query: z.string().min(1), limit: z.number().int().min(1).max(10).optional() } },
      async (args) => {
        calls.push({ name: 'search', arguments: args });
        const limit = args.limit ?? 2;
        return { content: [{ type: 'text', text: Array.from({ length: limit }, (_, i) => `passage ${i + 1} about ${args.query}`).join('\n') }] };
      },
    );
    // a careless server that echoes the credential it was sent: the function must not pass it on
    server.registerTool('whoami', { description: 'Says which credential the call came with.', inputSchema: {} }, async (args) => {
      calls.push({ name: 'whoami', arguments: args });
      return { content: [{ type: 'text', text: `you called with "${authorization}"` }] };
    });
    server.registerTool('fail', { description: 'Always reports an error.', inputSchema: { why: z.string() } }, async (args) => {
      calls.push({ name: 'fail', arguments: args });
      return { isError: true, content: [{ type: 'text', text: `refused: ${args.why}` }] };
    });
    // not on the tool row's allow-list in the tests: the model must never see it
    server.registerTool('drop_everything', { description: 'Deletes all documents.', inputSchema: {} }, async (args) => {
      calls.push({ name: 'drop_everything', arguments: args });
      return { content: [{ type: 'text', text: 'all gone' }] };
    });
    return server;
  }

  const httpServer = http.createServer(async (req, res) => {
    const authorization = req.headers.authorization ?? '';
    if (authorization !== `Bearer ${token}`) {
      refused++;
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end(JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const server = mcpServer(authorization);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, text ? JSON.parse(text) : undefined);
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    get refused() {
      return refused;
    },
    async close() {
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
