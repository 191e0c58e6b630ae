// process-task: the composition root. The only module that reads the environment or calls Deno.serve;
// everything else receives its ports (database, model, clock, logger) as arguments.
import postgres from 'postgres';
import { readConfig } from './config.ts';
import { createHandler } from './http-handler.ts';
import { createModelProvider } from './models.ts';
import { jsonLogger, systemClock } from './ports.ts';
import { postgresTaskStore } from './store-postgres.ts';
import { Deno } from '../_shared/deno-runtime.ts';

// The worker's clock starts here, at module load: an Edge Functions worker is stopped a fixed wall-clock
// time after it started, however many requests it has served since (the core counts each invocation's
// deadline from this, see processor.ts invocationDeadline).
const workerStartedAt = Date.now();
// `EdgeRuntime` is the global of Supabase's edge runtime (hosted and `supabase functions serve`); a plain
// Deno server (npm run dev, the tests) has none, and its worker lives as long as the process.
const config = readConfig(Deno.env.toObject(), { edgeRuntime: 'EdgeRuntime' in globalThis });
const logger = jsonLogger((line) => console.log(line), { fn: 'process-task' });
for (const warning of config.warnings) logger.warn('key setting refused', { warning });

// prepare: false — Supabase's pooler (transaction mode) does not keep prepared statements
const sql = postgres(config.databaseUrl, { max: config.dbPoolSize, prepare: false, onnotice: () => {}, idle_timeout: 20, connect_timeout: 10 });

if (config.notConfigured) logger.error('not configured', { error: config.notConfigured });

const handler = createHandler({
  secrets: config.secrets,
  notConfigured: config.notConfigured,
  agent: {
    store: postgresTaskStore(sql as unknown as postgres.Sql<Record<string, unknown>>),
    models: createModelProvider(config.model),
    clock: systemClock,
    logger,
    settings: config.settings,
    worker: config.workerLifetimeMs ? { startedAt: workerStartedAt, lifetimeMs: config.workerLifetimeMs } : undefined,
  },
});

const port = Number(Deno.env.get('PORT') || Deno.env.get('FUNCTIONS_PORT') || 8000);
const hostname = Deno.env.get('FUNCTIONS_HOST') || undefined;
Deno.serve(
  {
    port,
    hostname,
    onListen: ({ hostname, port }) => logger.info('listening', { url: `http://${hostname}:${port}/functions/v1/process-task`, provider: config.model.provider, worker_lifetime_ms: config.workerLifetimeMs ?? null }),
  },
  async (req) => {
    try {
      return await handler(req);
    } catch (error) {
      logger.error('unhandled error', { error: (error as Error).message });
      return new Response(JSON.stringify({ error: { code: 'internal', message: 'internal error' } }), { status: 500, headers: { 'Content-Type': 'application/json' } });
    }
  },
);
