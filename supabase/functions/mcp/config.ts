// The endpoint's settings from an environment record. Pure: index.ts passes Deno.env.toObject(); tests pass objects.
import { acceptedKeys } from '../_shared/bearer.ts';
import { DATABASE_URL_MISSING, databaseUrlOf, isHosted } from '../_shared/function-env.ts';

export interface McpConfig {
  databaseUrl: string;
  /** where wait_for_task LISTENs: MCP_LISTEN_DB_URL (a direct or session-mode URL) when the main URL is a transaction pooler */
  listenDatabaseUrl: string;
  /** accepted bearer keys: PROCESS_TASK_SECRET, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_SECRET_KEYS (the same rule as process-task) */
  secrets: string[];
  /** a key setting that was refused (index.ts logs each) */
  warnings: string[];
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
  return {
    databaseUrl,
    listenDatabaseUrl: env.MCP_LISTEN_DB_URL || databaseUrl,
    secrets,
    warnings,
    webUrl,
    allowedOrigins,
    dbPoolSize: Number.isInteger(pool) && pool >= 1 && pool <= 20 ? pool : 2,
    notConfigured: problems.length ? `the mcp function is not configured: ${problems.join('; ')}` : undefined,
  };
}
