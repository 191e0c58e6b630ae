// npm run dispatcher — listens for task_ready and invokes process-task. To compose it (npm run dev),
// import { startDispatcher } from './lib/dispatcher.ts' instead of this file.
// Env: DATABASE_URL (else the embedded database), FUNCTIONS_URL (else http://127.0.0.1:54321/functions/v1/process-task),
// PROCESS_TASK_SECRET, DISPATCHER_CONCURRENCY (default: the database's taskweave.max_running), DISPATCHER_SWEEP_MS (5000).
import { FUNCTIONS_PORT, databaseUrl, redactUrl } from './lib/local-config.ts';
import { DEFAULT_LOCAL_SECRET } from './lib/function-server.ts';
import { startDispatcher } from './lib/dispatcher.ts';

const functionUrl = process.env.FUNCTIONS_URL || `http://127.0.0.1:${process.env.FUNCTIONS_PORT || FUNCTIONS_PORT}/functions/v1/process-task`;
const dbUrl = databaseUrl();
const dispatcher = await startDispatcher({
  databaseUrl: dbUrl,
  functionUrl,
  secret: process.env.PROCESS_TASK_SECRET || DEFAULT_LOCAL_SECRET,
  concurrency: process.env.DISPATCHER_CONCURRENCY ? Number(process.env.DISPATCHER_CONCURRENCY) : undefined,
  sweepIntervalMs: Number(process.env.DISPATCHER_SWEEP_MS || 5_000),
});
console.log(`dispatcher: listening on task_ready in ${redactUrl(dbUrl)}, invoking ${functionUrl}`);
const stop = async () => {
  await dispatcher.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
