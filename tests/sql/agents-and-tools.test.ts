// Managing agents, tools and model prices (docs/contracts.md §2): operators only, 22023 naming the field with nothing
// changed, and the in-use checks holding when a creation or a link races the delete.
import { describe, expect, it } from 'vitest';
import { anon, asIdentity, operator, plainUser, serviceRole, useTestDatabase, type Identity } from '../helpers/database.ts';
import { createRoot, finish, rejection } from '../helpers/tasks.ts';
import { httpTool, raceBehindLock, upsertAgent, upsertTool } from './agent-support.ts';

const db = useTestDatabase();

const as = <T>(identity: Identity, fn: Parameters<typeof asIdentity<T>>[2]) => asIdentity<T>(db.sql, identity, fn);
const agentRow = async (slug: string) => (await db.sql`select * from taskweave.agents where slug = ${slug}`)[0];
const agentTools = async (slug: string) =>
  (await db.sql<{ tool_slug: string }[]>`select tool_slug from taskweave.agent_tools where agent_slug = ${slug} order by position`).map((r) => r.tool_slug);
const toolRow = async (slug: string) => (await db.sql`select * from taskweave.tools where slug = ${slug}`)[0];

describe('upsert_agent', () => {
  it('creates an agent with its tools in order, and a second call replaces the whole definition', async () => {
    await upsertTool(db.sql, 'search', httpTool());
    await upsertTool(db.sql, 'ledger', { kind: 'mcp', config: { url: 'http://127.0.0.1:9/mcp', allowed_tools: ['balance'] } });
    const created = await as(operator(), (tx) => upsertAgent(tx, 'analyst', {
      name: 'Analyst', description: 'reads the numbers', instructions: 'Be exact.', model: 'openai:gpt-4.1-mini',
      temperature: 0.2, max_output_tokens: 2000, tools: ['ledger', 'search'],
    }));
    expect(created).toMatchObject({ slug: 'analyst', name: 'Analyst', model: 'openai:gpt-4.1-mini', max_output_tokens: 2000 });
    expect(Number(created.temperature)).toBe(0.2);
    expect(await agentTools('analyst')).toEqual(['ledger', 'search']);

    await upsertAgent(db.sql, 'analyst', { tools: ['search'] });
    expect(await agentRow('analyst')).toMatchObject({ name: 'analyst', description: '', model: null, temperature: null, max_output_tokens: null });
    expect(await agentTools('analyst')).toEqual(['search']);
  });

  it.each([
    [{ wat: 1 }, /^p_definition has an unknown key "wat"/],
    [{ name: 42 }, /^p_definition\.name must be a string/],
    [{ model: 'gpt-4o' }, /^p_definition\.model must be provider:model/],
    [{ model: 'mistral:large' }, /^p_definition\.model names an unknown provider "mistral"; the providers are openai, anthropic, demo/],
    [{ temperature: 'hot' }, /^p_definition\.temperature must be a number from 0 to 2/],
    [{ temperature: 2.5 }, /^p_definition\.temperature must be a number from 0 to 2/],
    ['{"max_output_tokens": 1.0}', /^p_definition\.max_output_tokens must be a whole number/],
    [{ max_output_tokens: 1e30 }, /^p_definition\.max_output_tokens must be a whole number/],
    [{ tools: 'search' }, /^p_definition\.tools must be an array of strings/],
    [{ tools: ['search', 'search'] }, /^p_definition\.tools lists "search" more than once/],
    [{ tools: ['nowhere'] }, /^p_definition\.tools names an unknown tool "nowhere"/],
  ])('refuses %j with 22023 naming the field, changing nothing', async (definition, message) => {
    await upsertTool(db.sql, 'search', httpTool());
    await upsertAgent(db.sql, 'steady', { name: 'Steady', model: 'demo:demo-planner-1', tools: ['search'] });
    const before = await agentRow('steady');
    const error = await rejection(upsertAgent(db.sql, 'steady', definition));
    expect(error.code).toBe('22023');
    expect(error.message).toMatch(message);
    expect(await agentRow('steady')).toEqual(before);
    expect(await agentTools('steady')).toEqual(['search']);
  });

  it('refuses a bad slug and a non-object definition (22023)', async () => {
    for (const slug of ['Bad', 'a__b', '', '9lives', 'x'.repeat(41)]) {
      const error = await rejection(upsertAgent(db.sql, slug, {}));
      expect(error.code, slug).toBe('22023');
      expect(error.message).toMatch(/^p_slug must be 1 to 40 lowercase letters/);
    }
    const error = await rejection(db.sql`select taskweave.upsert_agent('fine', '[]'::jsonb)`);
    expect(error).toMatchObject({ code: '22023', message: 'p_definition must be a JSON object (got array)' });
  });

  it('is for operators only: a plain user gets 42501, anon has no right to call it', async () => {
    expect((await rejection(as(plainUser(), (tx) => upsertAgent(tx, 'sneaky', {})))).code).toBe('42501');
    expect((await rejection(as(anon, (tx) => upsertAgent(tx, 'sneaky', {})))).code).toBe('42501');
    expect(await agentRow('sneaky')).toBeUndefined();
    await as(serviceRole, (tx) => upsertAgent(tx, 'by-service', {}));
    expect(await agentRow('by-service')).toBeDefined();
  });
});

describe('delete_agent', () => {
  it('is refused (22023) while an unfinished task runs as the agent, and works once it ended', async () => {
    await upsertAgent(db.sql, 'busy', {});
    const [task] = await db.sql<{ id: string; agent: string }[]>`select * from taskweave.create_task('t', 'i', '{}', '{}', 'busy')`;
    expect(task.agent).toBe('busy');
    const error = await rejection(as(operator(), (tx) => tx`select taskweave.delete_agent('busy')`));
    expect(error.code).toBe('22023');
    expect(error.message).toBe(`agent "busy" is in use: 1 unfinished task(s) run as it, e.g. task ${task.id}`);
    expect(await agentRow('busy')).toBeDefined();
    await finish(db.sql, task.id);
    const [deleted] = await as(operator(), (tx) => tx`select * from taskweave.delete_agent('busy')`);
    expect(deleted.slug).toBe('busy');
    expect(await agentRow('busy')).toBeUndefined();
  });

  it('names an unknown agent P0002 and refuses plain users 42501', async () => {
    expect((await rejection(db.sql`select taskweave.delete_agent('ghost')`)).code).toBe('P0002');
    await upsertAgent(db.sql, 'kept', {});
    expect((await rejection(as(plainUser(), (tx) => tx`select taskweave.delete_agent('kept')`))).code).toBe('42501');
    expect(await agentRow('kept')).toBeDefined();
  });

  it('a task created while delete_agent waits makes the delete refuse; a delete first makes the creation refuse', async () => {
    const [a, b, observer] = [db.client(1), db.client(1), db.client(1)];
    for (let round = 0; round < 5; round++) {
      const slug = `racer-${round}`;
      await upsertAgent(db.sql, slug, {});
      const deleteAfterCreate = await raceBehindLock(
        a, b,
        (tx) => tx`select taskweave.create_task('racing', 'i', '{}', '{}', ${slug})`,
        (sql) => sql`select taskweave.delete_agent(${slug})`,
        observer,
      );
      expect(deleteAfterCreate).toMatchObject({ ok: false, code: '22023' });
      expect(await agentRow(slug)).toBeDefined();

      const other = `${slug}-b`;
      await upsertAgent(db.sql, other, {});
      const createAfterDelete = await raceBehindLock(
        a, b,
        (tx) => tx`select taskweave.delete_agent(${other})`,
        (sql) => sql`select taskweave.create_task('racing', 'i', '{}', '{}', ${other})`,
        observer,
      );
      expect(createAfterDelete).toMatchObject({ ok: false, code: '22023', message: `p_agent names an unknown agent "${other}"` });
      const [{ n }] = await db.sql<{ n: number }[]>`select count(*)::int as n from taskweave.tasks where agent = ${other}`;
      expect(n).toBe(0);
    }
  });
});

describe('create_task and create_parallel_task with p_agent', () => {
  it('run the task as the agent; an unknown agent is 22023 and creates nothing', async () => {
    await upsertAgent(db.sql, 'planner', { model: 'demo:demo-planner-1' });
    await upsertAgent(db.sql, 'helper', { model: 'demo:demo-researcher-1' });
    const [root] = await db.sql<{ id: string; agent: string }[]>`select * from taskweave.create_task('r', 'i', p_agent => 'planner')`;
    expect(root.agent).toBe('planner');
    const [child] = await db.sql<{ id: string; agent: string }[]>`
      select * from taskweave.create_parallel_task(${root.id}, 'c', 'do', '{}', 'call-1', null, 'helper')`;
    expect(child.agent).toBe('helper');
    // the same tool call again: the same task; with another agent: TW006
    const [again] = await db.sql<{ id: string }[]>`select * from taskweave.create_parallel_task(${root.id}, 'c', 'do', '{}', 'call-1', null, 'helper')`;
    expect(again.id).toBe(child.id);
    expect((await rejection(db.sql`select taskweave.create_parallel_task(${root.id}, 'c', 'do', '{}', 'call-1', null, 'planner')`)).code).toBe('TW006');

    const before = await db.sql`select count(*)::int as n from taskweave.tasks`;
    const unknown = await rejection(db.sql`select taskweave.create_parallel_task(${root.id}, 'c2', 'do', '{}', 'call-2', null, 'nobody')`);
    expect(unknown).toMatchObject({ code: '22023', message: 'p_agent names an unknown agent "nobody"' });
    expect((await rejection(db.sql`select taskweave.create_task('r', 'i', '{}', '{}', 'nobody')`)).code).toBe('22023');
    expect(await db.sql`select count(*)::int as n from taskweave.tasks`).toEqual(before);
    const [{ task_count }] = await db.sql`select task_count from taskweave.runs where root_task_id = ${root.id}`;
    expect(task_count).toBe(2);
  });

  it('the old signatures are gone: one function each, with p_agent last', async () => {
    const rows = await db.sql<{ name: string; args: string }[]>`
      select p.proname as name, pg_get_function_identity_arguments(p.oid) as args from pg_proc p
       where p.pronamespace = 'taskweave'::regnamespace and p.proname in ('create_task', 'create_parallel_task') order by 1`;
    expect(rows).toEqual([
      { name: 'create_parallel_task', args: 'p_parent_task_id uuid, p_title text, p_instructions text, p_input jsonb, p_tool_call_id text, p_worker text, p_agent text' },
      { name: 'create_task', args: 'p_title text, p_instructions text, p_input jsonb, p_limits jsonb, p_agent text' },
    ]);
    const root = await createRoot(db.sql, 'positional');
    expect(root.status).toBe('pending');
  });

  it('refuses a tool call id longer than 200 characters with 22023 (not an index error)', async () => {
    const root = await createRoot(db.sql, 'long id');
    const error = await rejection(db.sql`select taskweave.create_parallel_task(${root.id}, 'c', 'do', '{}', ${'x'.repeat(12_800)})`);
    expect(error).toMatchObject({ code: '22023', message: 'p_tool_call_id must be 1 to 200 characters (got 12800)' });
  });
});

describe('upsert_tool', () => {
  it('stores each kind with its defaults', async () => {
    const mcp = await as(operator(), (tx) => upsertTool(tx, 'docs', {
      kind: 'mcp', config: { url: 'https://mcp.example.com/mcp', headers: { 'X-Api-Key': '{{DOCS_KEY}}' }, allowed_tools: ['search', 'fetch'] },
      secrets: ['DOCS_KEY'],
    }));
    expect(mcp).toMatchObject({ kind: 'mcp', idempotent: false, requires_approval: false, timeout_seconds: 30, max_output_bytes: 16384, secrets: ['DOCS_KEY'] });
    const http = await upsertTool(db.sql, 'weather', {
      kind: 'http', config: { method: 'get', url: 'https://api.example.com/weather?city=x', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
      idempotent: true, timeout_seconds: 5, max_output_bytes: 4096,
    });
    expect(http).toMatchObject({ kind: 'http', idempotent: true, timeout_seconds: 5, max_output_bytes: 4096 });
    expect((http.config as { method: string }).method).toBe('GET');
    const defaults = await upsertTool(db.sql, 'poster', { kind: 'http', config: { url: 'http://127.0.0.1:8080/hook' } });
    expect((defaults.config as { method: string }).method).toBe('POST');
  });

  it.each([
    [{ kind: 'ftp', config: {} }, /^p_definition\.kind must be mcp, http or sql/],
    [{ config: {} }, /^p_definition\.kind must be mcp, http or sql \(got nothing\)/],
    [{ kind: 'http', config: { url: 'https://x.example' }, extra: true }, /^p_definition has an unknown key "extra"/],
    [{ kind: 'http', config: { url: 'https://x.example', body: 1 } }, /^p_definition\.config has an unknown key "body"/],
    [{ kind: 'http', config: { url: 'ftp://x.example' } }, /^p_definition\.config\.url must be an http or https URL/],
    [{ kind: 'http', config: {} }, /^p_definition\.config\.url is required/],
    [{ kind: 'http', config: { url: 'https://x.example', method: 'TRACE' } }, /^p_definition\.config\.method must be GET, POST, PUT, PATCH or DELETE/],
    [{ kind: 'http', config: { url: 'https://x.example', input_schema: { type: 'string' } } }, /^p_definition\.config\.input_schema must be a JSON Schema object/],
    [{ kind: 'mcp', config: { url: 'https://x.example', allowed_tools: 'all' } }, /^p_definition\.config\.allowed_tools must be an array of strings/],
    [{ kind: 'mcp', config: { url: 'https://x.example', headers: { Authorization: 'Bearer sk-live-123' } } }, /^p_definition\.config\.headers\.Authorization looks like a credential written literally/],
    [{ kind: 'mcp', config: { url: 'https://x.example', headers: { 'X-Api-Key': 'abc' } } }, /^p_definition\.config\.headers\.X-Api-Key looks like a credential/],
    [{ kind: 'http', config: { url: 'https://user:pw@x.example/' } }, /^p_definition\.config\.url must not carry credentials/],
    [{ kind: 'http', config: { url: 'https://x.example/?api_key=abc123' } }, /^p_definition\.config\.url must not carry a credential in its query string/],
    [{ kind: 'http', config: { url: 'https://x.example/{{TOKEN}}' } }, /^p_definition\.config refers to \{\{TOKEN\}\}, which is not listed in p_definition\.secrets/],
    [{ kind: 'http', config: { url: 'https://x.example', headers: { Authorization: 'Bearer {{TOKEN}}' } }, secrets: ['OTHER'] }, /refers to \{\{TOKEN\}\}, which is not listed/],
    [{ kind: 'http', config: { url: 'https://x.example' }, secrets: ['lower'] }, /^p_definition\.secrets: "lower" is not an environment variable name/],
    [{ kind: 'http', config: { url: 'https://x.example', headers: { Authorization: '{{SUPABASE_SERVICE_ROLE_KEY}}' } }, secrets: ['SUPABASE_SERVICE_ROLE_KEY'] }, /^p_definition\.secrets may not name SUPABASE_SERVICE_ROLE_KEY/],
    [{ kind: 'http', config: { url: 'https://x.example' }, secrets: ['PROCESS_TASK_SECRET'] }, /may not name PROCESS_TASK_SECRET/],
    [{ kind: 'http', config: { url: 'https://x.example' }, idempotent: 'yes' }, /^p_definition\.idempotent must be true or false/],
    [{ kind: 'http', config: { url: 'https://x.example' }, timeout_seconds: 0 }, /^p_definition\.timeout_seconds must be a whole number from 1 to 300/],
    ['{"kind": "http", "config": {"url": "https://x.example"}, "timeout_seconds": 1.0}', /^p_definition\.timeout_seconds must be a whole number/],
    [{ kind: 'http', config: { url: 'https://x.example' }, max_output_bytes: 10 }, /^p_definition\.max_output_bytes must be a whole number from 256 to 1048576/],
    [{ kind: 'sql', config: { function: 'taskweave.create_task' } }, /^p_definition\.config\.function may not name a function in schema taskweave/],
  ])('refuses %j with 22023 naming the field, changing nothing', async (definition, message) => {
    await upsertTool(db.sql, 'stable-tool', httpTool());
    const before = await toolRow('stable-tool');
    const error = await rejection(upsertTool(db.sql, 'stable-tool', definition));
    expect(error.code).toBe('22023');
    expect(error.message).toMatch(message);
    expect(await toolRow('stable-tool')).toEqual(before);
  });

  it('is for operators only', async () => {
    expect((await rejection(as(plainUser(), (tx) => upsertTool(tx, 'sneaky', httpTool())))).code).toBe('42501');
    expect((await rejection(as(anon, (tx) => upsertTool(tx, 'sneaky', httpTool())))).code).toBe('42501');
    expect(await toolRow('sneaky')).toBeUndefined();
  });
});

describe('delete_tool', () => {
  it('is refused (22023) while an agent lists the tool, and works once no agent does', async () => {
    await upsertTool(db.sql, 'listed', httpTool());
    await upsertAgent(db.sql, 'lister', { tools: ['listed'] });
    const error = await rejection(as(operator(), (tx) => tx`select taskweave.delete_tool('listed')`));
    expect(error).toMatchObject({ code: '22023', message: 'tool "listed" is in use: agent(s) lister list it' });
    await upsertAgent(db.sql, 'lister', { tools: [] });
    const [deleted] = await as(operator(), (tx) => tx`select * from taskweave.delete_tool('listed')`);
    expect(deleted.slug).toBe('listed');
    expect(await toolRow('listed')).toBeUndefined();
    expect((await rejection(db.sql`select taskweave.delete_tool('listed')`)).code).toBe('P0002');
  });

  it('an agent that links the tool while delete_tool waits makes the delete refuse; an agent linking a tool being deleted is refused', async () => {
    const [a, b, observer] = [db.client(1), db.client(1), db.client(1)];
    for (let round = 0; round < 5; round++) {
      await upsertTool(db.sql, `contested-${round}`, httpTool());
      const outcome = await raceBehindLock(
        a, b,
        (tx) => upsertAgent(tx, `linker-${round}`, { tools: [`contested-${round}`] }),
        (sql) => sql`select taskweave.delete_tool(${`contested-${round}`})`,
        observer,
      );
      expect(outcome).toMatchObject({ ok: false, code: '22023' });
      expect(await toolRow(`contested-${round}`)).toBeDefined();

      // the other order: the agent waits for the delete, then is told the tool is unknown (not a foreign-key error)
      await upsertTool(db.sql, `doomed-${round}`, httpTool());
      const late = await raceBehindLock(
        a, b,
        (tx) => tx`select taskweave.delete_tool(${`doomed-${round}`})`,
        (sql) => upsertAgent(sql, `late-${round}`, { tools: [`doomed-${round}`] }),
        observer,
      );
      expect(late).toMatchObject({ ok: false, code: '22023', message: `p_definition.tools names an unknown tool "doomed-${round}"` });
      expect(await agentRow(`late-${round}`)).toBeUndefined();
    }
  });
});

describe('set_model_price', () => {
  it('sets, replaces and removes a price; operators only; 22023 for a bad one', async () => {
    const [set] = await as(operator(), (tx) => tx`select * from taskweave.set_model_price('openai:gpt-4.1-mini', 0.4, 1.6)`);
    expect(set).toMatchObject({ model: 'openai:gpt-4.1-mini' });
    expect([Number(set.input_per_million), Number(set.output_per_million)]).toEqual([0.4, 1.6]);
    await db.sql`select taskweave.set_model_price('openai:gpt-4.1-mini', 0.5, 2)`;
    const [row] = await db.sql`select input_per_million::float8 as i, output_per_million::float8 as o from taskweave.model_prices where model = 'openai:gpt-4.1-mini'`;
    expect(row).toEqual({ i: 0.5, o: 2 });

    for (const [args, message] of [
      [['openai:gpt-4.1-mini', -1, 2], /^p_input_per_million must be US dollars/],
      [['openai:gpt-4.1-mini', 1, null], /^p_output_per_million must be US dollars/],
      [['openai:gpt-4.1-mini', 'NaN', 1], /^p_input_per_million must be US dollars/],
      [['', 1, 1], /^p_model must be a non-empty model name/],
    ] as const) {
      const error = await rejection(db.sql`select taskweave.set_model_price(${args[0]}, ${args[1]}::numeric, ${args[2]}::numeric)`);
      expect(error.code, JSON.stringify(args)).toBe('22023');
      expect(error.message).toMatch(message);
    }
    expect((await rejection(as(plainUser(), (tx) => tx`select taskweave.set_model_price('gpt-x', 1, 1)`))).code).toBe('42501');
    expect(await db.sql`select model from taskweave.model_prices where model = 'gpt-x'`).toHaveLength(0);

    // the environment's model name may itself hold a colon (an Ollama model behind OPENAI_BASE_URL)
    const [ollama] = await db.sql`select model from taskweave.set_model_price('llama3.1:8b', 0, 0)`;
    expect(ollama.model).toBe('llama3.1:8b');

    await db.sql`select taskweave.set_model_price('openai:gpt-4.1-mini', null, null)`;
    expect(await db.sql`select 1 from taskweave.model_prices where model = 'openai:gpt-4.1-mini'`).toHaveLength(0);
  });
});
