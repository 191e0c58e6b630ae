// Settings from an environment record. Pure: index.ts passes Deno.env.toObject(); tests pass objects.
import { z } from 'zod';
import { DEFAULT_SETTINGS, type AgentSettings } from './ports.ts';
import { PROVIDERS, type ModelConfig } from './models.ts';
import { acceptedKeys } from '../_shared/bearer.ts';
import { DATABASE_URL_MISSING, databaseUrlOf, isHosted, isLocalSupabaseUrl } from '../_shared/function-env.ts';

export { isLocalSupabaseUrl };

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Knobs beyond docs/contracts.md §3, all optional, with the defaults of DEFAULT_SETTINGS. */
const KNOBS = {
  PROCESS_TASK_LEASE_SECONDS: ['leaseSeconds', int(5, 3600)],
  PROCESS_TASK_HEARTBEAT_MS: ['heartbeatMs', int(100, 600_000)],
  PROCESS_TASK_MAX_STEPS: ['maxSteps', int(1, 200)],
  PROCESS_TASK_MODEL_TIMEOUT_MS: ['modelTimeoutMs', int(100, 600_000)],
  PROCESS_TASK_MODEL_MAX_RETRIES: ['modelMaxRetries', int(0, 10)],
  PROCESS_TASK_RETRY_BASE_DELAY_MS: ['retryBaseDelayMs', int(0, 60_000)],
  PROCESS_TASK_RETRY_MAX_DELAY_MS: ['retryMaxDelayMs', int(0, 60_000)],
  PROCESS_TASK_BUDGET_MS: ['budgetMs', int(1_000, 390_000)],
  PROCESS_TASK_WORKER_RESERVE_MS: ['workerReserveMs', int(0, 390_000)],
  PROCESS_TASK_MIN_STEP_MS: ['minStepMs', int(0, 120_000)],
  PROCESS_TASK_MAX_SLOT_WAIT_MS: ['maxRateLimitWaitMs', int(0, 300_000)],
  PROCESS_TASK_DEPENDENCY_OUTPUT_CHARS: ['dependencyOutputChars', int(100, 1_000_000)],
  PROCESS_TASK_DEPENDENCY_BUDGET_CHARS: ['dependencyBudgetChars', int(100, 4_000_000)],
  PROCESS_TASK_MAX_OUTPUT_TOKENS: ['maxOutputTokens', int(1, 1_000_000)],
  PROCESS_TASK_CONCURRENCY: ['concurrency', int(1, 50)],
} as const satisfies Record<string, [keyof AgentSettings, z.ZodType<number>]>;

/** An Edge Functions worker's wall clock on the free plan; paid plans give 400 s (PROCESS_TASK_WORKER_LIFETIME_MS=400000). */
export const EDGE_WORKER_LIFETIME_MS = 150_000;

/** Where the function runs, as only the composition root can tell. */
export interface RuntimeFacts {
  /** Supabase's edge runtime (hosted, or `supabase functions serve`): workers live a bounded wall-clock time */
  edgeRuntime: boolean;
}

export interface FunctionConfig {
  databaseUrl: string;
  /** how long a worker lives (PROCESS_TASK_WORKER_LIFETIME_MS; on the edge runtime 150 s by default); undefined: unbounded */
  workerLifetimeMs?: number;
  secrets: string[];
  model: ModelConfig;
  settings: AgentSettings;
  dbPoolSize: number;
  /** what is wrong but leaves the function working (a key setting that was refused); index.ts logs each */
  warnings: string[];
  /** Why the function must run no task (hosted without an explicit LLM_PROVIDER); undefined when it may. */
  notConfigured?: string;
}

export function readConfig(env: Record<string, string | undefined>, runtime: RuntimeFacts = { edgeRuntime: false }): FunctionConfig {
  const problems: string[] = [];
  const settings: AgentSettings = { ...DEFAULT_SETTINGS };
  for (const [name, [key, schema]] of Object.entries(KNOBS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const parsed = schema.safeParse(raw);
    if (parsed.success) (settings as unknown as Record<string, number>)[key] = parsed.data;
    else problems.push(`${name}=${JSON.stringify(raw)}: ${parsed.error.issues[0]?.message}`);
  }
  const provider = (env.LLM_PROVIDER || 'demo').toLowerCase();
  if (!(PROVIDERS as readonly string[]).includes(provider)) problems.push(`LLM_PROVIDER must be one of ${PROVIDERS.join(', ')} (got ${JSON.stringify(provider)})`);
  let workerLifetimeMs = runtime.edgeRuntime ? EDGE_WORKER_LIFETIME_MS : undefined;
  if (env.PROCESS_TASK_WORKER_LIFETIME_MS) {
    const parsed = int(1_000, 3_600_000).safeParse(env.PROCESS_TASK_WORKER_LIFETIME_MS);
    if (parsed.success) workerLifetimeMs = parsed.data;
    else problems.push(`PROCESS_TASK_WORKER_LIFETIME_MS=${JSON.stringify(env.PROCESS_TASK_WORKER_LIFETIME_MS)}: ${parsed.error.issues[0]?.message}`);
  }
  const databaseUrl = databaseUrlOf(env);
  if (!databaseUrl) problems.push(DATABASE_URL_MISSING);
  const hosted = isHosted(env);
  // a refused or unreadable key setting is logged; it stops the function only when it leaves no key at all
  const { keys: secrets, problems: warnings } = acceptedKeys(env, { hosted });
  if (secrets.length === 0) problems.push(...warnings.splice(0), 'set PROCESS_TASK_SECRET or SUPABASE_SERVICE_ROLE_KEY (or the platform\'s SUPABASE_SECRET_KEYS): callers authenticate with it');
  if (problems.length) throw new Error(`process-task is misconfigured:\n- ${problems.join('\n- ')}`);
  // hosted, the offline demo model must never stand in for a forgotten LLM_PROVIDER: it would
  // "complete" real work with canned text
  const notConfigured =
    hosted && !env.LLM_PROVIDER
      ? 'LLM_PROVIDER is not set: hosted, process-task runs no task until it is set explicitly ' +
        '(`supabase secrets set LLM_PROVIDER=openai OPENAI_API_KEY=…`, or LLM_PROVIDER=anthropic / demo)'
      : undefined;
  return {
    databaseUrl,
    workerLifetimeMs,
    secrets,
    warnings,
    settings,
    dbPoolSize: Number(env.PROCESS_TASK_DB_POOL || 2),
    notConfigured,
    model: {
      provider: provider as ModelConfig['provider'],
      model: env.LLM_MODEL || undefined,
      openaiApiKey: env.OPENAI_API_KEY || undefined,
      openaiBaseUrl: env.OPENAI_BASE_URL || undefined,
      anthropicApiKey: env.ANTHROPIC_API_KEY || undefined,
    },
  };
}
