// mcp: the composition root. The only module that reads the environment or calls Deno.serve; the core
// (http-handler, tools, view, store) receives the database, clock and change stream as arguments.
import postgres from 'postgres';
import { readConfig } from './config.ts';
import { createMcpHandler } from './http-handler.ts';
import { jsonLogger, listenTaskChanges, systemClock } from './ports.ts';
import type { Sql } from './store.ts';
import { Deno } from '../_shared/deno-runtime.ts';

const config = readConfig(Deno.env.toObject());
const logger = jsonLogger((line) => console.log(line), { fn: 'mcp' });
if (config.notConfigured) logger.error('not configured', { error: config.notConfigured });
for (const warning of config.warnings) logger.error('key setting refused', { warning });
if (config.secrets.length === 0) logger.error('no key: set PROCESS_TASK_SECRET or SUPABASE_SERVICE_ROLE_KEY (or the platform\'s SUPABASE_SECRET_KEYS); every call gets 401');

// prepare: false — Supabase's pooler (transaction mode) does not keep prepared statements. LISTEN takes
// one more connection of its own, opened by the first wait_for_task.
const sql = postgres(config.databaseUrl || 'postgres://unset@127.0.0.1:1/unset', {
  max: config.dbPoolSize,
  prepare: false,
  onnotice: () => {},
  idle_timeout: 20,
  connect_timeout: 10,
}) as unknown as Sql;

// a transaction pooler cannot carry LISTEN: MCP_LISTEN_DB_URL may name a direct or session-mode URL for it
const listenSql =
  config.listenDatabaseUrl === config.databaseUrl
    ? sql
    : (postgres(config.listenDatabaseUrl, { max: 1, prepare: false, onnotice: () => {}, connect_timeout: 10 }) as unknown as Sql);

const handler = createMcpHandler({
  secrets: config.secrets,
  allowedOrigins: config.allowedOrigins,
  notConfigured: config.notConfigured,
  deps: { sql, clock: systemClock, changes: listenTaskChanges(listenSql, logger), logger, webUrl: config.webUrl },
});

const port = Number(Deno.env.get('PORT') || Deno.env.get('FUNCTIONS_PORT') || 8000);
const hostname = Deno.env.get('FUNCTIONS_HOST') || undefined;
Deno.serve(
  { port, hostname, onListen: ({ hostname, port }) => logger.info('listening', { url: `http://${hostname}:${port}/functions/v1/mcp` }) },
  async (req) => {
    try {
      return await handler(req);
    } catch (error) {
      logger.error('unhandled error', { error: (error as Error).message });
      return new Response(JSON.stringify({ error: { code: 'internal', message: 'internal error' } }), { status: 500, headers: { 'Content-Type': 'application/json' } });
    }
  },
);
