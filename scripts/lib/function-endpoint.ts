// Where the functions are, and which key opens them, for the scripts that call them (npm run task, npm run
// dispatcher). In order: the environment (FUNCTIONS_URL / TASKWEAVE_MCP_URL), then the endpoint file that
// `npm run dev` and `npm run functions:serve` write while they run (<data dir>/functions.json: next to a
// `supabase start` stack, whose gateway holds 54321, they serve on another port), then the default port.
import fs from 'node:fs';
import path from 'node:path';
import { dataDir, FUNCTIONS_PORT } from './local-config.ts';
import { PUBLISHED_LOCAL_SECRET } from '../../supabase/functions/_shared/bearer.ts';

/**
 * The secret API key every `supabase start` stack has unless its config.toml sets another (supabase/cli
 * pkg/config/apikeys.go). `supabase functions serve` hands it to the functions as SUPABASE_SECRET_KEYS, so
 * it is the key that opens our functions there when no PROCESS_TASK_SECRET is set. Published: loopback only.
 */
export const SUPABASE_CLI_LOCAL_SECRET_KEY = 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz';

export interface EndpointFile {
  processTask: string;
  mcp?: string;
  /** the process serving them; a file whose process is gone is ignored */
  pid: number;
  /** whether they took the published local key (else the caller needs PROCESS_TASK_SECRET) */
  publishedKey: boolean;
}

export const endpointFile = (dir = dataDir) => path.join(dir, 'functions.json');

export function writeEndpointFile(state: EndpointFile, dir = dataDir): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = endpointFile(dir);
  fs.writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
  return file;
}

/** Remove the file when it is this process's (another checkout's dev may have written it since). */
export function removeEndpointFile(pid = process.pid, dir = dataDir): void {
  const file = endpointFile(dir);
  try {
    if ((JSON.parse(fs.readFileSync(file, 'utf8')) as EndpointFile).pid === pid) fs.rmSync(file);
  } catch {
    // gone or unreadable: nothing of ours to remove
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export function readEndpointFile(dir = dataDir): EndpointFile | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(endpointFile(dir), 'utf8')) as EndpointFile;
    return typeof state.processTask === 'string' && Number.isInteger(state.pid) && alive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return /^127(\.\d{1,3}){3}$/.test(host) || host === '::1' || host === 'localhost';
  } catch {
    return false;
  }
}

export interface Endpoint {
  url: string;
  /** what told us: 'env', 'file' (a running `npm run dev` / functions:serve) or 'default' */
  source: 'env' | 'file' | 'default';
}

export function processTaskEndpoint(env: NodeJS.ProcessEnv = process.env, dir = dataDir): Endpoint {
  if (env.FUNCTIONS_URL) return { url: env.FUNCTIONS_URL, source: 'env' };
  const file = readEndpointFile(dir);
  if (file) return { url: file.processTask, source: 'file' };
  return { url: `http://127.0.0.1:${env.FUNCTIONS_PORT || FUNCTIONS_PORT}/functions/v1/process-task`, source: 'default' };
}

export function mcpEndpoint(env: NodeJS.ProcessEnv = process.env, dir = dataDir): Endpoint {
  if (env.TASKWEAVE_MCP_URL) return { url: env.TASKWEAVE_MCP_URL, source: 'env' };
  const file = readEndpointFile(dir);
  if (file?.mcp) return { url: file.mcp, source: 'file' };
  return { url: `http://127.0.0.1:${env.FUNCTIONS_PORT || FUNCTIONS_PORT}/functions/v1/mcp`, source: 'default' };
}

/**
 * The keys to try, in order. A key that is set is the only one. Without one, a loopback endpoint may be ours
 * (the published local key) or `supabase functions serve` (the CLI's local secret key); anything else gets none.
 */
export function candidateKeys(url: string, explicit: string | undefined): string[] {
  if (explicit) return [explicit];
  return isLoopbackUrl(url) ? [PUBLISHED_LOCAL_SECRET, SUPABASE_CLI_LOCAL_SECRET_KEY] : [];
}

/**
 * The first candidate process-task accepts. The probe is `{"max_tasks": 0}`: the key is checked before the
 * body, so an accepted key gets 400 (or 503 when not configured) and changes nothing; a refused one 401.
 * When the endpoint cannot be reached, the first candidate (it may come up later).
 */
export async function chooseProcessTaskKey(url: string, candidates: string[]): Promise<string | undefined> {
  if (candidates.length <= 1) return candidates[0];
  for (const key of candidates) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: '{"max_tasks": 0}',
        signal: AbortSignal.timeout(5_000),
      });
      await res.arrayBuffer();
      if (res.status !== 401) return key;
    } catch {
      return candidates[0];
    }
  }
  return candidates[0];
}
