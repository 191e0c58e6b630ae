// The endpoint's tools served inside this Node process, straight against a database URL, for callers
// that have the database but no endpoint (`npm run task -- --database-url …`). The same server code as
// the deployed function (supabase/functions/mcp), linked to the SDK client by an in-memory transport.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import postgres from 'postgres';
import { jsonLogger, listenTaskChanges, systemClock } from '../../supabase/functions/mcp/ports.ts';
import type { Sql } from '../../supabase/functions/mcp/store.ts';
import { registerTools } from '../../supabase/functions/mcp/tools.ts';
import { SERVER_VERSION } from '../../supabase/functions/mcp/http-handler.ts';
import { TaskweaveClient } from './taskweave-client.ts';

export async function connectInProcess(
  databaseUrl: string,
  webUrl: string,
): Promise<{ client: TaskweaveClient; where: string; close: () => Promise<void> }> {
  const sql = postgres(databaseUrl, { max: 2, prepare: false, onnotice: () => {}, connect_timeout: 10 }) as unknown as Sql;
  const logger = jsonLogger((line) => console.error(line), { fn: 'mcp-in-process' });
  const server = new McpServer({ name: 'taskweave', version: SERVER_VERSION }, { capabilities: { tools: {} } });
  const changes = listenTaskChanges(sql, logger);
  registerTools(server, { sql, clock: systemClock, changes, logger, webUrl });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'taskweave-in-process', version: SERVER_VERSION });
  await client.connect(clientSide);
  let where = '<database>';
  try {
    const u = new URL(databaseUrl);
    if (u.password) u.password = '*****';
    where = u.toString();
  } catch {
    // keep the placeholder
  }
  return {
    client: TaskweaveClient.fromConnected(client, where),
    where,
    async close() {
      await client.close().catch(() => {});
      await server.close().catch(() => {});
      await changes.close().catch(() => {}); // Postgres stops sending task_changed for us now, not at the lease's end
      await sql.end({ timeout: 2 });
    },
  };
}
