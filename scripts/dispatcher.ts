// npm run dispatcher — listens for task_ready and invokes process-task. To compose it (npm run dev),
// import { startDispatcher } from './lib/dispatcher.ts' instead of this file.
// Env: DATABASE_URL (else the embedded database), FUNCTIONS_URL (else the endpoint a running `npm run dev` or
// functions:serve wrote in the data dir, else http://127.0.0.1:54321/functions/v1/process-task),
// PROCESS_TASK_SECRET (else, for a loopback endpoint, the local default key or, under `supabase functions
// serve`, the stack's local secret key: whichever the function accepts), DISPATCHER_CONCURRENCY (default: the
// database's running cap), DISPATCHER_SWEEP_MS (5000).
import { databaseUrl, redactUrl } from './lib/local-config.ts';
import { startDispatcher } from './lib/dispatcher.ts';
import { candidateKeys, chooseProcessTaskKey, processTaskEndpoint } from './lib/function-endpoint.ts';

const endpoint = processTaskEndpoint();
const candidates = candidateKeys(endpoint.url, process.env.PROCESS_TASK_SECRET || process.env.SUPABASE_SERVICE_ROLE_KEY);
const secret = await chooseProcessTaskKey(endpoint.url, candidates);
if (!secret) {
  console.error(`dispatcher: ${endpoint.url} is not on this machine: set PROCESS_TASK_SECRET to its key (no published key is tried there)`);
  process.exit(2);
}
const dbUrl = databaseUrl();
const dispatcher = await startDispatcher({
  databaseUrl: dbUrl,
  functionUrl: endpoint.url,
  secret,
  concurrency: process.env.DISPATCHER_CONCURRENCY ? Number(process.env.DISPATCHER_CONCURRENCY) : undefined,
  sweepIntervalMs: Number(process.env.DISPATCHER_SWEEP_MS || 5_000),
});
const from = { env: 'FUNCTIONS_URL', file: 'the running npm run dev / functions:serve', default: 'the default port' }[endpoint.source];
console.log(`dispatcher: listening on task_ready in ${redactUrl(dbUrl)}, invoking ${endpoint.url} (from ${from})`);
const stop = async () => {
  await dispatcher.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
