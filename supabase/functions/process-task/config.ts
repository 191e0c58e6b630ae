// Settings from an environment record. Pure: index.ts passes Deno.env.toObject(); tests pass objects.
import { z } from 'zod';
import { DEFAULT_SETTINGS, type AgentSettings } from './ports.ts';
import { PROVIDERS, type ModelConfig } from './models.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Knobs beyond DESIGN §4, all optional, with the defaults of DEFAULT_SETTINGS. */
const KNOBS = {
  PROCESS_TASK_LEASE_SECONDS: ['leaseSeconds', int(5, 3600)],
  PROCESS_TASK_HEARTBEAT_MS: ['heartbeatMs', int(100, 600_000)],
  PROCESS_TASK_MAX_STEPS: ['maxSteps', int(1, 200)],
  PROCESS_TASK_MODEL_TIMEOUT_MS: ['modelTimeoutMs', int(100, 600_000)],
  PROCESS_TASK_MODEL_MAX_RETRIES: ['modelMaxRetries', int(0, 10)],
  PROCESS_TASK_RETRY_BASE_DELAY_MS: ['retryBaseDelayMs', int(0, 60_000)],
  PROCESS_TASK_RETRY_MAX_DELAY_MS: ['retryMaxDelayMs', int(0, 60_000)],
  PROCESS_TASK_BUDGET_MS: ['budgetMs', int(1_000, 390_000)],
  PROCESS_TASK_MIN_STEP_MS: ['minStepMs', int(0, 120_000)],
  PROCESS_TASK_MAX_SLOT_WAIT_MS: ['maxSlotWaitMs', int(0, 300_000)],
  PROCESS_TASK_DEPENDENCY_OUTPUT_CHARS: ['dependencyOutputChars', int(100, 1_000_000)],
  PROCESS_TASK_DEPENDENCY_BUDGET_CHARS: ['dependencyBudgetChars', int(100, 4_000_000)],
  PROCESS_TASK_MAX_OUTPUT_TOKENS: ['maxOutputTokens', int(1, 1_000_000)],
  PROCESS_TASK_CONCURRENCY: ['concurrency', int(1, 50)],
} as const satisfies Record<string, [keyof AgentSettings, z.ZodType<number>]>;

export interface FunctionConfig {
  databaseUrl: string;
  secrets: string[];
  model: ModelConfig;
  settings: AgentSettings;
  dbPoolSize: number;
  /** Why the function must run no task (hosted without an explicit LLM_PROVIDER); undefined when it may. */
  notConfigured?: string;
}

/**
 * Hosts where SUPABASE_URL points at this machine: loopback, and `kong`, the gateway's name inside the
 * local `supabase start` network (what `supabase functions serve` sets). Anything else is a hosted project.
 */
export function isLocalSupabaseUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return false;
  }
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost' || host.endsWith('.localhost') || host === 'kong' || host === 'host.docker.internal';
}

export function readConfig(env: Record<string, string | undefined>): FunctionConfig {
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
  const databaseUrl = env.SUPABASE_DB_URL ?? '';
  if (!databaseUrl) problems.push('SUPABASE_DB_URL is not set');
  const secrets = [env.PROCESS_TASK_SECRET, env.SUPABASE_SERVICE_ROLE_KEY].filter((s): s is string => !!s && s.length > 0);
  if (secrets.length === 0) problems.push('set PROCESS_TASK_SECRET or SUPABASE_SERVICE_ROLE_KEY: callers authenticate with it');
  if (problems.length) throw new Error(`process-task is misconfigured:\n- ${problems.join('\n- ')}`);
  // hosted, the offline demo model must never stand in for a forgotten LLM_PROVIDER: it would
  // "complete" real work with canned text
  const hosted = !!env.SUPABASE_URL && !isLocalSupabaseUrl(env.SUPABASE_URL);
  const notConfigured =
    hosted && !env.LLM_PROVIDER
      ? 'LLM_PROVIDER is not set: hosted, process-task runs no task until it is set explicitly ' +
        '(`supabase secrets set LLM_PROVIDER=openai OPENAI_API_KEY=…`, or LLM_PROVIDER=anthropic / demo)'
      : undefined;
  return {
    databaseUrl,
    secrets,
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
