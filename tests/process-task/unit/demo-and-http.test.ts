// The demo model through the real loop, the provider factory, and the HTTP handler with a stub store.
import { describe, expect, it } from 'vitest';
import { createModelProvider, ConfigError } from '../../../supabase/functions/process-task/models.ts';
import { createHandler, timingSafeEqual } from '../../../supabase/functions/process-task/http-handler.ts';
import { DEFAULT_SETTINGS, silentLogger, systemClock, type AgentDeps } from '../../../supabase/functions/process-task/ports.ts';
import { processDueTasks } from '../../../supabase/functions/process-task/processor.ts';
import { MemoryStore } from '../memory-store.ts';

function demoDeps(store: MemoryStore): AgentDeps {
  return { store, clock: systemClock, logger: silentLogger, models: createModelProvider({ provider: 'demo' }), settings: { ...DEFAULT_SETTINGS } };
}

async function drain(deps: AgentDeps) {
  const all = [];
  for (let i = 0; i < 10; i++) {
    // activate queued aggregators whose dependencies ended, as the database trigger would
    for (const t of (deps.store as MemoryStore).tasks.values()) {
      if (t.status !== 'queued') continue;
      const deps2 = t.dependent_task_ids.map((id) => (deps.store as MemoryStore).tasks.get(id)!);
      if (deps2.every((d) => d.status === 'completed' || d.status === 'cancelled')) (deps.store as MemoryStore).tasks.set(t.id, { ...t, status: 'pending' });
    }
    const batch = await processDueTasks(50, deps);
    if (batch.length === 0) break;
    all.push(...batch);
  }
  return all;
}

describe('demo model', () => {
  it('plans a real fan-out from input.topics, fails the marked topic, and summarises the rest', async () => {
    const store = new MemoryStore();
    const deps = demoDeps(store);
    const root = store.addTask({ title: 'Compare databases', input: { topics: ['Postgres', 'SQLite [simulate-failure]', 'DuckDB'] } });
    await drain(deps);
    const children = [...store.tasks.values()].filter((t) => t.parent_task_id === root.id);
    expect(children.map((c) => [c.title, c.status])).toEqual([
      ['Postgres', 'completed'],
      ['SQLite', 'needs_human_review'],
      ['DuckDB', 'completed'],
      ['Combine: Compare databases', 'queued'],
    ]);
    expect(store.tasks.get(root.id)!.status).toBe('completed');
    const failure = store.failures.find((f) => f.taskId === children[1].id)!;
    expect(failure).toMatchObject({ retryable: false, error: { category: 'model', provider: { name: 'demo', status_code: 422 } } });
    expect((children[0].output as { text: string } | null) ?? store.tasks.get(children[0].id)!.output).toBeTruthy();

    // an operator's manual output for SQLite, then the aggregator runs
    store.tasks.set(children[1].id, { ...store.tasks.get(children[1].id)!, status: 'completed', output: { source: 'manual', value: 'SQLite: embedded, by hand', resolved_by: 'ada' } });
    await drain(deps);
    const aggregator = store.tasks.get(children[3].id)!;
    expect(aggregator.status).toBe('completed');
    const text = (aggregator.output as { text: string }).text;
    expect(text).toMatch(/^Summary of 3 results \(3 completed\):/);
    expect(text).toContain('- Postgres: Research note: Postgres');
    expect(text).toContain('- SQLite (written by a human operator): SQLite: embedded, by hand');
    expect(text).toContain('- DuckDB: Research note: DuckDB');
  });

  it('is deterministic and derives three topics from the title when none are given', async () => {
    const run = async () => {
      const store = new MemoryStore();
      const root = store.addTask({ title: 'Rust', id: '00000000-0000-4000-8000-0000000000aa' });
      await drain(demoDeps(store));
      return [...store.tasks.values()].filter((t) => t.parent_task_id === root.id).map((t) => [t.title, t.status, (t.output as { text?: string } | null)?.text ?? null]);
    };
    const first = await run();
    expect(first.map((c) => c[0])).toEqual(['Background of Rust', 'Current state of Rust', 'Open questions about Rust', 'Combine: Rust']);
    expect(await run()).toEqual(first);
  });

  it('fails transiently (retryable 503) when asked to', async () => {
    const store = new MemoryStore();
    store.addTask({ is_parallel_task: true, parent_task_id: 'p', root_task_id: 'r', input: { topic: 'x', simulate_failure: 'transient' } });
    const [r] = await processDueTasks(1, demoDeps(store));
    expect(r.outcome).toBe('retry_scheduled');
    expect(store.failures[0]).toMatchObject({ retryable: true, error: { provider: { status_code: 503 } } });
  });
});

describe('createModelProvider', () => {
  it('builds each provider and refuses missing keys', () => {
    expect(createModelProvider({ provider: 'openai', openaiApiKey: 'k' }).label).toBe('openai:gpt-4o-mini');
    expect((createModelProvider({ provider: 'openai', openaiBaseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.1' }).model({} as never) as { provider: string }).provider).toContain('openai-compatible');
    expect(createModelProvider({ provider: 'anthropic', anthropicApiKey: 'k', model: 'claude-x' }).label).toBe('anthropic:claude-x');
    expect(() => createModelProvider({ provider: 'openai' })).toThrow(ConfigError);
    expect(() => createModelProvider({ provider: 'anthropic' })).toThrow(/ANTHROPIC_API_KEY/);
  });
});

describe('HTTP handler', () => {
  const store = new MemoryStore();
  const handler = createHandler({ secrets: ['s3cret'], agent: demoDeps(store) });
  const req = (body: unknown, init: RequestInit = {}, path = '/functions/v1/process-task') =>
    handler(new Request(`http://localhost${path}`, { method: 'POST', headers: { Authorization: 'Bearer s3cret', 'Content-Type': 'application/json' }, body: JSON.stringify(body), ...init }));

  it('answers the contract of DESIGN §4', async () => {
    const t = store.addTask({ title: 'direct', input: { topics: [] } });
    const ok = await req({ task_id: t.id }, {}, '/process-task'); // as deployed
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ results: [{ task_id: t.id, status: 'completed', outcome: 'completed', attempt: 1, steps: 1 }] });
    expect(ok.headers.get('access-control-allow-origin')).toBeNull(); // no browser client, no CORS

    const conflict = await req({ task_id: t.id });
    expect(conflict.status).toBe(409);
    expect((await conflict.json()).error.code).toBe('not_claimable');

    const missing = await req({ task_id: '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11' });
    expect(missing.status).toBe(404);

    const bad = await req({ max_tasks: 99 });
    expect(bad.status).toBe(400);
    const body = await bad.json();
    expect(body.error).toMatchObject({ code: 'invalid_request', issues: [{ path: ['max_tasks'], message: 'max_tasks must be at most 50' }] });

    expect((await req({}, { headers: { 'Content-Type': 'application/json' } })).status).toBe(401);
    expect((await req(undefined, { method: 'GET', body: undefined })).status).toBe(405);
    const preflight = await handler(new Request('http://localhost/functions/v1/process-task', { method: 'OPTIONS' }));
    expect(preflight.status).toBe(405); // no browser client: no CORS
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const empty = await handler(new Request('http://localhost/functions/v1/process-task', { method: 'POST', headers: { Authorization: 'Bearer s3cret' } }));
    expect(await empty.json()).toEqual({ results: [] }); // {} / no body = claim up to 1 due task; none is due
  });

  it('answers 503, not a crash, when the store is down', async () => {
    const down = new MemoryStore();
    down.failNext.claimTasks = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const h = createHandler({ secrets: ['k'], agent: demoDeps(down) });
    const res = await h(new Request('http://localhost/process-task', { method: 'POST', headers: { Authorization: 'Bearer k' }, body: '{}' }));
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('unavailable');
  });

  it('compares keys in constant time over the longer length', () => {
    expect(timingSafeEqual('abc', 'abc')).toBe(true);
    expect(timingSafeEqual('abc', 'abd')).toBe(false);
    expect(timingSafeEqual('abc', 'abcd')).toBe(false);
    expect(timingSafeEqual('', '')).toBe(true);
  });
});
