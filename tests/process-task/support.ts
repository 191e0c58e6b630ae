// Helpers shared by the process-task tests.
import { startFunctionServer, type FunctionServer } from '../../scripts/lib/function-server.ts';

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The real function under Deno on a free port; its log lines are kept for failure messages. */
export async function startFunction(databaseUrl: string, env: Record<string, string> = {}): Promise<FunctionServer & { logs: string[] }> {
  const logs: string[] = [];
  const server = await startFunctionServer({
    databaseUrl,
    port: 0,
    secret: 'test-secret-' + Math.random().toString(36).slice(2),
    env: { LLM_PROVIDER: 'demo', ...env },
    onLog: (line) => logs.push(line),
  });
  return Object.assign(server, { logs });
}

export async function post(server: { url: string; secret: string }, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.secret}`, 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export const databaseName = (url: string) => new URL(url).pathname.slice(1);
