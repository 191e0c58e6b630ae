// The endpoint's settings from an environment record. Pure: index.ts passes Deno.env.toObject(); tests pass objects.
import { acceptedKeys } from '../_shared/bearer.ts';
import { DATABASE_URL_MISSING, databaseUrlOf, isHosted } from '../_shared/function-env.ts';
import { LOCAL_JWT_SECRET, type UserTokenSettings } from '../_shared/user-token.ts';

export interface McpConfig {
  databaseUrl: string;
  /** where wait_for_task LISTENs: MCP_LISTEN_DB_URL (a direct or session-mode URL) when the main URL is a transaction pooler */
  listenDatabaseUrl: string;
  /** accepted bearer keys: PROCESS_TASK_SECRET, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_SECRET_KEYS (the same rule as process-task); full power */
  secrets: string[];
  /** a key setting that was refused (index.ts logs each) */
  warnings: string[];
  /** how a Supabase Auth user's access token is verified; the endpoint then acts as that user */
  userTokens: UserTokenSettings;
  /** base URL of the web app, for each task's page */
  webUrl: string;
  /** browser origins that may call; MCP clients that are not web pages send no Origin at all */
  allowedOrigins: string[];
  dbPoolSize: number;
  /** what is missing, when the function cannot serve (answered as 503 to authorised callers) */
  notConfigured?: string;
}

export const DEFAULT_WEB_URL = 'http://127.0.0.1:3000';

export function readConfig(env: Record<string, string | undefined>): McpConfig {
  const problems: string[] = [];
  const databaseUrl = databaseUrlOf(env);
  if (!databaseUrl) problems.push(DATABASE_URL_MISSING);
  const { keys: secrets, problems: warnings } = acceptedKeys(env, { hosted: isHosted(env) });
  const webUrl = (env.TASKWEAVE_WEB_URL || DEFAULT_WEB_URL).replace(/\/+$/, '');
  let webOrigin: string | undefined;
  try {
    webOrigin = new URL(webUrl).origin;
  } catch {
    problems.push(`TASKWEAVE_WEB_URL is not a URL (got ${JSON.stringify(webUrl)})`);
  }
  const allowedOrigins = [
    ...(webOrigin ? [webOrigin] : []),
    ...(env.MCP_ALLOWED_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  ];
  const pool = Number(env.MCP_DB_POOL || 2);
  // user tokens: the project's signing keys (JWKS) where Auth runs; the legacy HS256 secret only where one
  // is given, or locally (SUPABASE_URL unset or loopback) the Supabase CLI's published one
  const supabaseUrl = (env.SUPABASE_URL ?? '').replace(/\/+$/, '');
  const hosted = isHosted(env);
  const jwtSecrets = [env.TASKWEAVE_JWT_SECRET, env.SUPABASE_JWT_SECRET].filter((s): s is string => !!s && s.length > 0);
  const userTokens: UserTokenSettings = {
    hs256Secrets: jwtSecrets.length > 0 ? jwtSecrets : hosted ? [] : [LOCAL_JWT_SECRET],
    jwksUrl: supabaseUrl ? `${supabaseUrl}/auth/v1/.well-known/jwks.json` : undefined,
    issuer: hosted ? `${supabaseUrl}/auth/v1` : undefined,
  };
  return {
    databaseUrl,
    listenDatabaseUrl: env.MCP_LISTEN_DB_URL || databaseUrl,
    secrets,
    warnings,
    userTokens,
    webUrl,
    allowedOrigins,
    dbPoolSize: Number.isInteger(pool) && pool >= 1 && pool <= 20 ? pool : 2,
    notConfigured: problems.length ? `the mcp function is not configured: ${problems.join('; ')}` : undefined,
  };
}
