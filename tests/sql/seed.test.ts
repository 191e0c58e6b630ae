// The offline demo's seed (supabase/seed.sql), applied to a fresh database as `npm run db:reset` does:
// a planner that delegates to a researcher on its own demo model, whose SQL tool reads seeded data in
// the demo's own schema (never public), and prices for both demo models.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { claim } from '../helpers/tasks.ts';

const db = useTestDatabase();
let publicObjectsBefore: number;

const publicObjects = async () =>
  (await db.sql<{ n: number }[]>`
    select ((select count(*) from pg_class where relnamespace = 'public'::regnamespace)
          + (select count(*) from pg_proc where pronamespace = 'public'::regnamespace)
          + (select count(*) from pg_type where typnamespace = 'public'::regnamespace))::int as n`)[0].n;

beforeAll(async () => {
  publicObjectsBefore = await publicObjects();
  await db.sql.unsafe(fs.readFileSync(path.join(import.meta.dirname, '../../supabase/seed.sql'), 'utf8'));
});

describe('the demo seed', () => {
  it('defines a planner and a researcher with its own demo model and a SQL tool, and prices both models', async () => {
    const agents = await db.sql`
      select a.slug, a.model, coalesce(array_agg(l.tool_slug order by l.position) filter (where l.tool_slug is not null), '{}') as tools
        from taskweave.agents a left join taskweave.agent_tools l on l.agent_slug = a.slug group by a.slug order by a.slug`;
    expect(agents).toEqual([
      { slug: 'planner', model: 'demo:demo-planner-1', tools: [] },
      { slug: 'researcher', model: 'demo:demo-researcher-1', tools: ['findings'] },
    ]);
    const [tool] = await db.sql`select kind, config ->> 'function' as fn, idempotent from taskweave.tools where slug = 'findings'`;
    expect(tool).toEqual({ kind: 'sql', fn: 'taskweave_demo.search_findings', idempotent: true });
    const prices = await db.sql`select model from taskweave.model_prices order by model`;
    expect(prices.map((p) => p.model)).toEqual(['demo:demo-planner-1', 'demo:demo-researcher-1']);
  });

  it('starts one run as the planner, whose topics go to the researcher', async () => {
    const roots = await db.sql`select agent, input ->> 'agent' as delegate, jsonb_array_length(input -> 'topics') as topics, status from taskweave.tasks`;
    expect(roots).toEqual([{ agent: 'planner', delegate: 'researcher', topics: 3, status: 'pending' }]);
  });

  it('keeps to its own schema: nothing in public', async () => {
    expect(await publicObjects()).toBe(publicObjectsBefore);
    const [{ owner }] = await db.sql`select nspowner::regrole::text as owner from pg_namespace where nspname = 'taskweave_demo'`;
    expect(owner).toBe('postgres');
  });

  it("the researcher's tool answers each demo topic from the seeded data, run as the tool role", async () => {
    const [root] = await db.sql<{ id: string; input: { topics: (string | { title: string })[] } }[]>`select id, input from taskweave.tasks`;
    for (const [i, topic] of root.input.topics.entries()) {
      const title = typeof topic === 'string' ? topic : topic.title;
      const [child] = await db.sql<{ id: string }[]>`
        select * from taskweave.create_parallel_task(${root.id}, ${title}, 'research it', '{}', ${`topic-${i}`}, null, 'researcher')`;
      await claim(db.sql, child.id, 'w1');
      await db.sql`select taskweave.start_tool_call(${child.id}, 'w1', 'look-1', 'findings', 'findings', ${db.sql.json({ topic: title })})`;
      const [call] = (await db.sql.begin(async (tx) => {
        await tx.unsafe(`set local statement_timeout = '5s'`);
        return tx`select status, result, error from taskweave.call_sql_tool(${child.id}, 'w1', 'look-1')`;
      })) as unknown as { status: string; result: { topic: string; findings: { finding: string; source: string }[] }; error: string | null }[];
      expect(call.error).toBeNull();
      expect(call.status).toBe('succeeded');
      expect(call.result.topic).toBe(title);
      expect(call.result.findings.length).toBeGreaterThan(0);
      for (const f of call.result.findings) expect(f.source.length).toBeGreaterThan(0);
    }
  });
});
