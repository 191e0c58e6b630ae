import 'server-only';
// The web app's one configuration module: the only place in src/ that reads process.env. Everything
// is parsed once with zod, so a typo in a variable fails loudly at the first request instead of
// silently falling back, and the rest of the app receives typed values.
import { z } from 'zod';
import type { AuthSettings } from '../auth/mode';

/** The local stack's database (DESIGN §5), as in scripts/lib/local-config.ts. */
export const LOCAL_DATABASE_URL = 'postgresql://postgres:postgres@127.0.0.1:54322/postgres';

// an empty variable counts as unset (`FOO= next start` is how people clear one)
const blank = (value: unknown) => (value === '' ? undefined : value);
const text = z.preprocess(blank, z.string().trim().min(1).optional());
const flag = (name: string) =>
  z.preprocess(
    blank,
    z
      .enum(['1', 'true', '0', 'false'], { error: `${name} must be 1, true, 0 or false` })
      .optional()
      .transform((value) => (value === undefined ? undefined : value === '1' || value === 'true')),
  );

export const serverEnvSchema = z
  .object({
    NODE_ENV: z.preprocess(blank, z.enum(['development', 'production', 'test']).default('development')),
    DATABASE_URL: z.preprocess(
      blank,
      z
        .string()
        .regex(/^postgres(ql)?:\/\/\S+$/, 'DATABASE_URL must be a postgres:// or postgresql:// connection string')
        .default(LOCAL_DATABASE_URL),
    ),
    TASKWEAVE_DB_POOL_SIZE: z.preprocess(blank, z.coerce.number().int().min(1).max(100).default(10)),
    TASKWEAVE_LOCAL_OPERATOR: flag('TASKWEAVE_LOCAL_OPERATOR'),
    TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION: flag('TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION'),
    NEXT_PUBLIC_SUPABASE_URL: z.preprocess(blank, z.url({ error: 'NEXT_PUBLIC_SUPABASE_URL must be a URL' }).optional()),
    SUPABASE_URL: z.preprocess(blank, z.url({ error: 'SUPABASE_URL must be a URL' }).optional()),
    NEXT_PUBLIC_SUPABASE_ANON_KEY: text,
    NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY: text,
    SUPABASE_ANON_KEY: text,
  })
  .transform((env) => {
    const url = env.NEXT_PUBLIC_SUPABASE_URL ?? env.SUPABASE_URL;
    const anonKey = env.NEXT_PUBLIC_SUPABASE_ANON_KEY ?? env.NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY ?? env.SUPABASE_ANON_KEY;
    const auth: AuthSettings = {
      production: env.NODE_ENV === 'production',
      development: env.NODE_ENV === 'development',
      localOperator: env.TASKWEAVE_LOCAL_OPERATOR,
      unsafeLocalOperatorInProduction: env.TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION === true,
      supabase: url && anonKey ? { url, anonKey } : undefined,
    };
    return {
      nodeEnv: env.NODE_ENV,
      database: {
        url: env.DATABASE_URL,
        poolSize: env.TASKWEAVE_DB_POOL_SIZE,
        // pgbouncer/Supavisor in transaction mode cannot keep prepared statements across transactions
        prepare: !/pooler\.supabase\.com|:6543\b/.test(env.DATABASE_URL),
      },
      auth,
    };
  });

export type ServerConfig = z.output<typeof serverEnvSchema>;

/** Parse an environment; throws one error that names every bad variable. */
export function parseServerEnv(env: Record<string, string | undefined>): ServerConfig {
  const parsed = serverEnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);
  throw new Error(`The web app's environment is invalid:\n  ${problems.join('\n  ')}`);
}

let cached: ServerConfig | undefined;

/** This process's configuration, parsed on first use. */
export function serverConfig(): ServerConfig {
  // read as a whole object, never `process.env.NEXT_PUBLIC_…` literally: the bundler would inline
  // build-time values, and the same build serves different deployments
  cached ??= parseServerEnv({ ...process.env });
  return cached;
}
