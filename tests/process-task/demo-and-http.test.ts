// The demo model through the real loop against the real SQL API (the fan-in trigger activates the
// aggregator), the provider factory, and the HTTP handler over a real store.
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { asIdentity, operator, setSettings, useTestDatabase } from '../helpers/database.ts';
import { createModelProvider, ConfigError } from '../../supabase/functions/process-task/models.ts';
import { estimateTokens } from '../../supabase/functions/process-task/demo-model.ts';
import { createHandler } from '../../supabase/functions/process-task/http-handler.ts';
import { timingSafeEqual } from '../../supabase/functions/_shared/bearer.ts';
import { DEFAULT_SETTINGS, silentLogger, systemClock, type AgentDeps } from '../../supabase/functions/process-task/ports.ts';
import { processDueTasks, processTaskById } from '../../supabase/functions/process-task/processor.ts';
import { postgresTaskStore } from '../../supabase/functions/process-task/store-postgres.ts';
import { createChild, createRoot, statusOf } from './loop-support.ts';

const db = useTestDatabase();

function demoDeps(sql: postgres.Sql<Record<string, unknown>> = db.sql as never): AgentDeps {
  return { store: postgresTaskStore(sql), clock: systemClock, logger: silentLogger, models: createModelProvider({ provider: 'demo' }), settings: { ...DEFAULT_SETTINGS } };
}

/** Run whatever is due until nothing is (aggregators are activated by the database's trigger). */
async function drain(deps: AgentDeps) {
  const all = [];
  for (let i = 0; i < 10; i++) {
    const batch = await processDueTasks(50, deps);
    if (batch.length === 0) break;
    all.push(...batch);
  }
  return all;
}

const childrenOf = (rootId: string) =>
  db.sql`select id, title, status, output, last_error, usage from taskweave.tasks where parent_task_id = ${rootId} order by cardinality(dependent_task_ids), tool_call_id`;

describe('demo model', () => {
  it('plans a real fan-out from input.topics, fails the marked topic, and summarises the rest', async () => {
    const deps = demoDeps();
    const root = await createRoot(db.sql, 'Compare databases', { topics: ['Postgres', 'SQLite [simulate-failure]', 'DuckDB'] });
    await drain(deps);
    let children = await childrenOf(root.id);
    expect(children.map((c) => [c.title, c.status])).toEqual([
      ['Postgres', 'completed'],
      ['SQLite', 'needs_human_review'],
      ['DuckDB', 'completed'],
      ['Combine: Compare databases', 'queued'],
    ]);
    expect((await statusOf(db.sql, root.id)).status).toBe('completed');
    const [review] = await db.sql`select id, error from taskweave.human_reviews where task_id = ${children[1].id}`;
    expect(review.error).toMatchObject({ category: 'model', provider: { name: 'demo', status_code: 422, is_retryable: false } });
    expect(children[0].output.text).toMatch(/^Research note: Postgres/);
    // the demo model reports plausible token counts, saved with each step and summed on the task
    expect(children[0].usage.input_tokens).toBeGreaterThan(100);
    expect(children[0].usage.output_tokens).toBeGreaterThan(10);
    expect(children[0].usage.output_tokens).toBeLessThan(children[0].usage.input_tokens);

    // an operator's manual output for SQLite, then the aggregator runs
    await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.resolve_review(${review.id}, 'manual', ${db.sql.json('SQLite: embedded, by hand')}, null)`);
    await drain(deps);
    children = await childrenOf(root.id);
    const aggregator = children[3];
    expect(aggregator.status).toBe('completed');
    const text = aggregator.output.text as string;
    expect(text).toMatch(/^Summary of 3 results \(3 completed\):/);
    expect(text).toContain('- Postgres: Research note: Postgres');
    expect(text).toContain('- SQLite (written by a human operator): SQLite: embedded, by hand');
    expect(text).toContain('- DuckDB: Research note: DuckDB');
  });

  it('is deterministic and derives three topics from the title when none are given', async () => {
    const run = async () => {
      const root = await createRoot(db.sql, 'Rust');
      await drain(demoDeps());
      return (await childrenOf(root.id)).map((t) => [t.title, t.status, (t.output as { text?: string } | null)?.text ?? null]);
    };
    const first = await run();
    expect(first.map((c) => c[0])).toEqual(['Background of Rust', 'Current state of Rust', 'Open questions about Rust', 'Combine: Rust']);
    expect(await run()).toEqual(first);
  });

  it('fails transiently (retryable 503) when asked to', async () => {
    const root = await createRoot(db.sql, 'parent', { topics: [] });
    const child = await createChild(db.sql, root.id, 'flaky', { topic: 'x', simulate_failure: 'transient' });
    const [r] = await processTaskById(child, demoDeps());
    expect(r).toMatchObject({ task_id: child, outcome: 'retry_scheduled' });
    expect((await statusOf(db.sql, child)).last_error).toMatchObject({ provider: { status_code: 503 } });
  });

  it('counts about four characters a token', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abc')).toBe(1);
    expect(estimateTokens('x'.repeat(400))).toBe(100);
  });
});

describe('createModelProvider', () => {
  it('builds each provider and refuses missing keys', () => {
    expect(createModelProvider({ provider: 'openai', openaiApiKey: 'k' }).label).toBe('openai:gpt-4o-mini');
    expect((createModelProvider({ provider: 'openai', openaiBaseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.1' }).resolve(null).model as { provider: string }).provider).toContain('openai-compatible');
    expect(createModelProvider({ provider: 'anthropic', anthropicApiKey: 'k', model: 'claude-x' }).label).toBe('anthropic:claude-x');
    expect(() => createModelProvider({ provider: 'openai' })).toThrow(ConfigError);
    expect(() => createModelProvider({ provider: 'anthropic' })).toThrow(/ANTHROPIC_API_KEY/);
  });
});

describe('HTTP handler', () => {
  const handle = (req: Request) => createHandler({ secrets: ['s3cret'], agent: demoDeps() })(req);
  const req = (body: unknown, init: RequestInit = {}, path = '/functions/v1/process-task') =>
    handle(new Request(`http://localhost${path}`, { method: 'POST', headers: { Authorization: 'Bearer s3cret', 'Content-Type': 'application/json' }, body: JSON.stringify(body), ...init }));

  it('answers the contract of docs/contracts.md §3', async () => {
    // nothing else may be due in this file's database: `{}` below claims what is
    await db.sql`update taskweave.tasks set run_after = now() + interval '1 day' where status = 'pending'`;
    const t = await createRoot(db.sql, 'direct', { topics: [] });
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
    const preflight = await handle(new Request('http://localhost/functions/v1/process-task', { method: 'OPTIONS' }));
    expect(preflight.status).toBe(405); // no browser client: no CORS
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const empty = await handle(new Request('http://localhost/functions/v1/process-task', { method: 'POST', headers: { Authorization: 'Bearer s3cret' } }));
    expect(await empty.json()).toEqual({ results: [] }); // {} / no body = claim up to 1 due task; none is due
  });

  it('answers 503, not a crash, when the database cannot be reached', async () => {
    // a port nothing listens on: the connection is refused
    const nowhere = postgres('postgres://postgres:postgres@127.0.0.1:9/postgres', { max: 1, connect_timeout: 2, onnotice: () => {} });
    const h = createHandler({ secrets: ['k'], agent: demoDeps(nowhere as never) });
    const res = await h(new Request('http://localhost/process-task', { method: 'POST', headers: { Authorization: 'Bearer k' }, body: '{}' }));
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('unavailable');
    await nowhere.end({ timeout: 1 });
  });

  it('answers 409 running_cap_reached when the running cap (taskweave.max_running) is full, and changes nothing', async () => {
    const sql = db.client(1);
    await setSettings(sql, { max_running: 1 });
    await db.sql`update taskweave.tasks set run_after = now() + interval '1 day' where status = 'pending'`;
    const holder = await createRoot(sql, 'holds the only slot');
    await sql`select taskweave.claim_task(${holder.id}, 'holder', 60)`;
    const waiting = await createRoot(sql, 'waits for a slot');
    const capped = createHandler({ secrets: ['k'], agent: demoDeps(sql as never) });
    const res = await capped(new Request('http://localhost/process-task', { method: 'POST', headers: { Authorization: 'Bearer k' }, body: JSON.stringify({ task_id: waiting.id }) }));
    expect(res.status).toBe(409);
    expect((await res.json()).error).toMatchObject({ code: 'running_cap_reached', message: expect.stringMatching(/max_running|running/) });
    expect(await statusOf(sql, waiting.id)).toMatchObject({ status: 'pending', attempt: 0 });
    await sql`select taskweave.release_task(${holder.id}, 'holder', 0)`;
    await setSettings(sql, { max_running: null });
  });

  it('compares keys in constant time over the longer length', () => {
    expect(timingSafeEqual('abc', 'abc')).toBe(true);
    expect(timingSafeEqual('abc', 'abd')).toBe(false);
    expect(timingSafeEqual('abc', 'abcd')).toBe(false);
    expect(timingSafeEqual('', '')).toBe(true);
  });
});
