import 'server-only';
// The web app's one configuration module: the only place in src/ that reads process.env. Everything
// is parsed once with zod, so a typo in a variable fails loudly at the first request instead of
// silently falling back, and the rest of the app receives typed values.
import { z } from 'zod';
import type { AuthSettings } from '../auth/mode';
import { LOCAL_WEB_ROLE_PASSWORD, WEB_ROLE, isLoopbackHost, loginRoleOf, webRoleUrl } from '../db/web-role';

/** The local stack's database (docs/contracts.md §5), as in scripts/lib/local-config.ts. */
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
    // the web app logs in as taskweave_web: a URL of its own, or DATABASE_URL with the role's password
    TASKWEAVE_WEB_DATABASE_URL: z.preprocess(
      blank,
      z
        .string()
        .regex(/^postgres(ql)?:\/\/\S+$/, 'TASKWEAVE_WEB_DATABASE_URL must be a postgres:// or postgresql:// connection string')
        .optional(),
    ),
    TASKWEAVE_WEB_DB_PASSWORD: text,
    TASKWEAVE_DB_POOL_SIZE: z.preprocess(blank, z.coerce.number().int().min(1).max(100).default(10)),
    TASKWEAVE_LOCAL_OPERATOR: flag('TASKWEAVE_LOCAL_OPERATOR'),
    TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION: flag('TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION'),
    NEXT_PUBLIC_SUPABASE_URL: z.preprocess(blank, z.url({ error: 'NEXT_PUBLIC_SUPABASE_URL must be a URL' }).optional()),
    SUPABASE_URL: z.preprocess(blank, z.url({ error: 'SUPABASE_URL must be a URL' }).optional()),
    NEXT_PUBLIC_SUPABASE_ANON_KEY: text,
    NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY: text,
    SUPABASE_ANON_KEY: text,
  })
  .superRefine((env, ctx) => {
    if (env.TASKWEAVE_WEB_DATABASE_URL || env.TASKWEAVE_WEB_DB_PASSWORD || loginRoleOf(env.DATABASE_URL) === WEB_ROLE) return;
    if (!isLoopbackHost(new URL(env.DATABASE_URL).hostname)) {
      ctx.addIssue({
        code: 'custom',
        path: ['TASKWEAVE_WEB_DATABASE_URL'],
        message: `the web app logs in as ${WEB_ROLE}; set TASKWEAVE_WEB_DATABASE_URL (or TASKWEAVE_WEB_DB_PASSWORD) after giving the role a password (README, "The web app's database role")`,
      });
    }
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
    // never the owner's login: a query outside withClaims then reaches nothing (src/lib/db/web-role.ts)
    const loginUrl =
      env.TASKWEAVE_WEB_DATABASE_URL ??
      (loginRoleOf(env.DATABASE_URL) === WEB_ROLE
        ? env.DATABASE_URL
        : webRoleUrl(env.DATABASE_URL, env.TASKWEAVE_WEB_DB_PASSWORD ?? LOCAL_WEB_ROLE_PASSWORD));
    return {
      nodeEnv: env.NODE_ENV,
      database: {
        /** where Taskweave lives (DATABASE_URL, as the scripts use it) */
        url: env.DATABASE_URL,
        /** what the web app's pool logs in with: always the taskweave_web role */
        loginUrl,
        poolSize: env.TASKWEAVE_DB_POOL_SIZE,
        // pgbouncer/Supavisor in transaction mode cannot keep prepared statements across transactions
        prepare: !/pooler\.supabase\.com|:6543\b/.test(loginUrl),
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
