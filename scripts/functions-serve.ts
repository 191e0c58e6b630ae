// npm run functions:serve — process-task and mcp under Deno at http://127.0.0.1:54321/functions/v1/<name>.
// Env: DATABASE_URL (else the embedded database), FUNCTIONS_PORT, PROCESS_TASK_SECRET, LLM_PROVIDER (demo
// by default), LLM_MODEL, OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, PROCESS_TASK_* knobs.
import { FUNCTIONS_PORT, databaseUrl, redactUrl } from './lib/local-config.ts';
import { DEFAULT_LOCAL_SECRET, startFunctionServer } from './lib/function-server.ts';

const port = Number(process.env.FUNCTIONS_PORT || FUNCTIONS_PORT);
const secret = process.env.PROCESS_TASK_SECRET || DEFAULT_LOCAL_SECRET;
const dbUrl = process.env.SUPABASE_DB_URL || databaseUrl();

try {
  const server = await startFunctionServer({
    databaseUrl: dbUrl,
    port,
    host: process.env.FUNCTIONS_HOST || '127.0.0.1',
    secret,
    onLog: (line) => console.log(`functions: ${line}`),
  });
  console.log(`functions: process-task serving at ${server.url} (database ${redactUrl(dbUrl)}, LLM_PROVIDER=${process.env.LLM_PROVIDER || 'demo'})`);
  if (server.urls.mcp) console.log(`functions: mcp serving at ${server.urls.mcp} (an MCP server over streamable HTTP; the same bearer key)`);
  console.log(`functions: try  curl -sS -X POST ${server.url} -H 'Authorization: Bearer ${secret}' -H 'Content-Type: application/json' -d '{"max_tasks": 5}'`);
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.process.once('exit', (code) => {
    if (stopping) return;
    console.error(`functions: process-task exited (code ${code})`);
    process.exit(code ?? 1);
  });
} catch (error) {
  console.error(`functions:serve failed: ${(error as Error).message}`);
  process.exit(1);
}
