// npm run functions:serve — process-task and mcp under Deno at http://127.0.0.1:54321/functions/v1/<name>.
// Env: DATABASE_URL (else the embedded database), FUNCTIONS_PORT, FUNCTIONS_HOST (127.0.0.1), PROCESS_TASK_SECRET,
// LLM_PROVIDER (demo by default), LLM_MODEL, OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, PROCESS_TASK_* knobs.
// It never prints a key. Without PROCESS_TASK_SECRET it takes the published local key, and so it serves only
// this machine: on any other host it refuses to start.
import { FUNCTIONS_PORT, databaseUrl, redactUrl } from './lib/local-config.ts';
import { serveSecret, startFunctionServer } from './lib/function-server.ts';
import { removeEndpointFile, writeEndpointFile } from './lib/function-endpoint.ts';

const port = Number(process.env.FUNCTIONS_PORT || FUNCTIONS_PORT);
const host = process.env.FUNCTIONS_HOST || '127.0.0.1';
const dbUrl = process.env.TASKWEAVE_DB_URL || process.env.SUPABASE_DB_URL || databaseUrl();
const chosen = serveSecret(host, process.env.PROCESS_TASK_SECRET);
if ('refused' in chosen) {
  console.error(`functions:serve refused: ${chosen.refused}`);
  process.exit(2);
}

try {
  const server = await startFunctionServer({
    databaseUrl: dbUrl,
    port,
    host,
    secret: chosen.secret,
    onLog: (line) => console.log(`functions: ${line}`),
  });
  writeEndpointFile({ processTask: server.url, mcp: server.urls.mcp, pid: process.pid, publishedKey: chosen.published });
  console.log(`functions: process-task serving at ${server.url} (database ${redactUrl(dbUrl)}, LLM_PROVIDER=${process.env.LLM_PROVIDER || 'demo'})`);
  if (server.urls.mcp) console.log(`functions: mcp serving at ${server.urls.mcp} (an MCP server over streamable HTTP; the same bearer key)`);
  const key = chosen.published ? '$TASKWEAVE_LOCAL_KEY' : '$PROCESS_TASK_SECRET';
  console.log(`functions: try  curl -sS -X POST ${server.url} -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' -d '{"max_tasks": 5}'`);
  if (chosen.published) console.log('functions:   (TASKWEAVE_LOCAL_KEY: the published local key, README → Configuration; set PROCESS_TASK_SECRET to choose your own)');
  let stopping = false;
  const stop = async () => {
    stopping = true;
    removeEndpointFile();
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.process.once('exit', (code) => {
    if (stopping) return;
    removeEndpointFile();
    console.error(`functions: process-task exited (code ${code})`);
    process.exit(code ?? 1);
  });
} catch (error) {
  console.error(`functions:serve failed: ${(error as Error).message}`);
  process.exit(1);
}
