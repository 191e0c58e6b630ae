// Agents calling registry tools through the real function under Deno, with a model server speaking
// OpenAI's protocol: a real MCP server (the SDK's McpServer over Streamable HTTP, bearer secret), HTTP
// endpoints (a timeout, an oversized answer) and SQL functions (run without owner rights). Secrets come
// from the function's environment and are never written to a table or a log line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { startHttpTestServer, type HttpTestServer } from '../helpers/http-test-server.ts';
import { startMcpTestServer, type McpTestServer } from '../helpers/mcp-test-server.ts';
import { startFakeOpenAI, taskOf, toolResultsOf, type ChatRequest, type FakeOpenAI } from './fake-openai-server.ts';
import { post, startFunction } from './support.ts';

const db = useTestDatabase();
const MCP_TOKEN = 'mcp-secret-' + Math.random().toString(36).slice(2);
const WEATHER_KEY = 'weather-secret-' + Math.random().toString(36).slice(2);
let fake: FakeOpenAI;
let mcp: McpTestServer;
let api: HttpTestServer;
let fn: Awaited<ReturnType<typeof startFunction>>;

type PlannedCall = { id: string; name: string; arguments: unknown };

beforeAll(async () => {
  // each task says in its input which tool calls its model makes; the next step answers
  fake = await startFakeOpenAI((req) => {
    const task = taskOf(req);
    if (!req.messages.some((m) => m.role === 'assistant')) return { content: 'Calling the tools.', tool_calls: task.input.calls as PlannedCall[] };
    return { content: `done after ${toolResultsOf(req).length} tool results` };
  });
  mcp = await startMcpTestServer(MCP_TOKEN);
  api = await startHttpTestServer({
    '/weather': (r) =>
      r.headers['x-api-key'] === WEATHER_KEY ? { json: { city: r.query.city, forecast: 'sunny' } } : { status: 401, json: { error: 'bad key' } },
    '/slow': () => ({ hang: true }),
    '/big': () => ({ body: 'x'.repeat(200_000) }),
    // a careless server that echoes the credential: the model must get it redacted
    '/echo': (r) => ({ json: { you_sent: r.headers['x-api-key'] } }),
  });
  fn = await startFunction(db.url, {
    LLM_PROVIDER: 'openai',
    LLM_MODEL: 'fake-default',
    OPENAI_BASE_URL: fake.baseURL,
    OPENAI_API_KEY: 'sk-test',
    DOCS_MCP_TOKEN: MCP_TOKEN,
    WEATHER_KEY,
  });
});

afterAll(async () => {
  await fn?.stop();
  await Promise.all([fake?.close(), mcp?.close(), api?.close()]);
});

async function runAs(agent: string, calls: PlannedCall[]) {
  const [task] = await db.sql`select * from taskweave.create_task(${'Task for ' + agent}, 'Use your tools.', ${db.sql.json({ calls } as never)}, '{}'::jsonb, ${agent})`;
  const res = await post(fn, { task_id: task.id });
  expect(res.status).toBe(200);
  const requests = fake.requests.filter((r) => taskOf(r).id === task.id);
  return { id: task.id as string, result: res.json.results[0], requests };
}

/** Every place a secret must never be: the task's transcript, tool calls, reviews, events and output, and the function's log. */
async function expectNoSecret(taskId: string, secret: string) {
  const [stored] = await db.sql`
    select (select coalesce(string_agg(content::text, ''), '') from taskweave.task_messages where task_id = ${taskId}) as messages,
           (select coalesce(string_agg(arguments::text || coalesce(result::text, '') || coalesce(error, ''), ''), '') from taskweave.tool_calls where task_id = ${taskId}) as calls,
           (select coalesce(string_agg(request::text || error::text, ''), '') from taskweave.human_reviews where task_id = ${taskId}) as reviews,
           (select coalesce(string_agg(coalesce(detail::text, ''), ''), '') from taskweave.task_events where task_id = ${taskId}) as events,
           (select coalesce(output::text, '') || coalesce(last_error::text, '') from taskweave.tasks where id = ${taskId}) as task,
           (select coalesce(string_agg(config::text, ''), '') from taskweave.tools) as tools`;
  for (const [place, text] of Object.entries(stored)) expect(String(text), place).not.toContain(secret);
  expect(fn.logs.join('\n')).not.toContain(secret);
}

const toolNames = (req: ChatRequest) => (req.tools ?? []).map((t) => t.function.name);

describe('an agent with an MCP server', () => {
  it('lists the allowed tools from tools/list, calls them with the bearer secret, and never stores the secret', async () => {
    await db.sql`select taskweave.upsert_tool('docs', ${db.sql.json({
      kind: 'mcp',
      description: 'The documentation server',
      config: { url: mcp.url, headers: { Authorization: 'Bearer {{DOCS_MCP_TOKEN}}' }, allowed_tools: ['search', 'whoami', 'fail'] },
      secrets: ['DOCS_MCP_TOKEN'],
    })})`;
    await db.sql`select taskweave.upsert_agent('librarian', ${db.sql.json({
      name: 'Librarian',
      description: 'Finds passages in the docs',
      instructions: 'Always cite the passage you used.',
      model: 'openai:fake-librarian',
      tools: ['docs'],
    })})`;
    const { id, result, requests } = await runAs('librarian', [
      { id: 'c_search', name: 'docs__search', arguments: { query: 'tides', limit: 3 } },
      { id: 'c_whoami', name: 'docs__whoami', arguments: {} },
      { id: 'c_fail', name: 'docs__fail', arguments: { why: 'nope' } },
    ]);
    expect(result).toMatchObject({ status: 'completed', outcome: 'completed' });

    // the server got exactly what the model asked, and nothing off the allow-list was offered
    expect(mcp.calls).toEqual([
      { name: 'search', arguments: { query: 'tides', limit: 3 } },
      { name: 'whoami', arguments: {} },
      { name: 'fail', arguments: { why: 'nope' } },
    ]);
    expect(mcp.refused).toBe(0);
    expect(requests[0].model).toBe('fake-librarian');
    expect(toolNames(requests[0])).toEqual(['create_parallel_task', 'create_aggregator_task', 'ask_human', 'docs__search', 'docs__whoami', 'docs__fail']);
    const search = requests[0].tools!.find((t) => t.function.name === 'docs__search')!.function.parameters as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(search.properties)).toEqual(['query', 'limit']); // the server's own schema
    expect(search.required).toEqual(['query']);
    expect(requests[0].messages[0].content).toContain('Always cite the passage you used.');

    const results = Object.fromEntries(toolResultsOf(requests[1]).map((r) => [r.tool_call_id, r.value]));
    expect(results.c_search).toEqual({ content: 'passage 1 about tides\npassage 2 about tides\npassage 3 about tides', truncated: false });
    expect(results.c_whoami).toEqual({ content: 'you called with "Bearer [secret DOCS_MCP_TOKEN]"', truncated: false });
    expect(results.c_fail).toBe('docs__fail failed: refused: nope');
    const calls = await db.sql`select tool_call_id, tool_slug, tool_name, arguments, status from taskweave.tool_calls where task_id = ${id} order by tool_call_id`;
    expect(calls).toEqual([
      { tool_call_id: 'c_fail', tool_slug: 'docs', tool_name: 'docs__fail', arguments: { why: 'nope' }, status: 'failed' },
      { tool_call_id: 'c_search', tool_slug: 'docs', tool_name: 'docs__search', arguments: { query: 'tides', limit: 3 }, status: 'succeeded' },
      { tool_call_id: 'c_whoami', tool_slug: 'docs', tool_name: 'docs__whoami', arguments: {}, status: 'succeeded' },
    ]);
    await expectNoSecret(id, MCP_TOKEN);

    // and the server really does require the secret
    const anonymous = await fetch(mcp.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    expect(mcp.refused).toBe(1);
  });

  it('a call to a tool off the allow-list is a tool error, and the server is never asked', async () => {
    const before = mcp.calls.length;
    const { result, requests } = await runAs('librarian', [{ id: 'c_drop', name: 'docs__drop_everything', arguments: {} }]);
    expect(result).toMatchObject({ status: 'completed' });
    expect(toolResultsOf(requests[1])[0].value).toMatch(/^unknown tool "docs__drop_everything"/);
    expect(mcp.calls.length).toBe(before);
  });
});

describe('an agent with HTTP tools', () => {
  it('sends the arguments with the secret header; a timeout and a failing call are tool errors; a large answer is cut to max_output_bytes', async () => {
    const tool = (slug: string, definition: Record<string, unknown>) => db.sql`select taskweave.upsert_tool(${slug}, ${db.sql.json(definition as never)})`;
    await tool('weather', {
      kind: 'http',
      description: 'Weather forecast for a city',
      config: {
        method: 'GET',
        url: `${api.url}/weather`,
        headers: { 'X-Api-Key': '{{WEATHER_KEY}}' },
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
      secrets: ['WEATHER_KEY'],
    });
    await tool('slow', { kind: 'http', description: 'Never answers', config: { method: 'POST', url: `${api.url}/slow` }, timeout_seconds: 1 });
    await tool('big', { kind: 'http', description: 'A huge page', config: { method: 'GET', url: `${api.url}/big` }, max_output_bytes: 256 });
    await tool('echo', { kind: 'http', description: 'Echoes the key', config: { url: `${api.url}/echo`, headers: { 'X-Api-Key': '{{WEATHER_KEY}}' } }, secrets: ['WEATHER_KEY'] });
    await db.sql`select taskweave.upsert_agent('forecaster', ${db.sql.json({ name: 'Forecaster', model: 'openai:fake-forecaster', tools: ['weather', 'slow', 'big', 'echo'] })})`;

    const started = Date.now();
    const { id, result, requests } = await runAs('forecaster', [
      { id: 'h_weather', name: 'weather', arguments: { city: 'Oslo' } },
      { id: 'h_slow', name: 'slow', arguments: { wait: true } },
      { id: 'h_big', name: 'big', arguments: {} },
      { id: 'h_echo', name: 'echo', arguments: { hello: 'there' } },
      { id: 'h_invalid', name: 'weather', arguments: { town: 'Oslo' } },
    ]);
    expect(result).toMatchObject({ status: 'completed', outcome: 'completed' });
    expect(Date.now() - started).toBeLessThan(20_000); // the hung endpoint cost its 1 s timeout, not the function's budget

    const weather = api.hits('/weather');
    expect(weather).toHaveLength(1); // the call with invalid arguments never left the function
    expect(weather[0]).toMatchObject({ method: 'GET', query: { city: 'Oslo' } });
    expect(weather[0].headers['x-api-key']).toBe(WEATHER_KEY);
    expect(api.hits('/slow')[0]).toMatchObject({ method: 'POST', body: '{"wait":true}' });
    expect(api.hits('/slow')[0].headers['content-type']).toBe('application/json');

    const results = Object.fromEntries(toolResultsOf(requests[1]).map((r) => [r.tool_call_id, r.value]));
    expect(results.h_weather).toEqual({ status: 200, body: { city: 'Oslo', forecast: 'sunny' }, truncated: false });
    expect(results.h_slow).toBe("slow failed: no answer within 1 s (the tool's timeout)");
    const big = results.h_big as { status: number; body: string; truncated: boolean };
    expect(big).toMatchObject({ status: 200, truncated: true });
    expect(Buffer.byteLength(big.body)).toBeLessThanOrEqual(256);
    expect(big.body).toMatch(/^x+ …\[truncated: the response is longer than 256 bytes\]$/);
    expect(results.h_echo).toEqual({ status: 200, body: { you_sent: '[secret WEATHER_KEY]' }, truncated: false });
    expect(results.h_invalid).toMatch(/^invalid arguments for weather: .*city/);

    const calls = await db.sql`select tool_call_id, status, error from taskweave.tool_calls where task_id = ${id} order by tool_call_id`;
    expect(calls.map((c) => [c.tool_call_id, c.status])).toEqual([
      ['h_big', 'succeeded'],
      ['h_echo', 'succeeded'],
      ['h_slow', 'failed'],
      ['h_weather', 'succeeded'],
    ]);
    await expectNoSecret(id, WEATHER_KEY);
  });

  it('a secret that is not set in the environment is a tool error naming it, and nothing is sent', async () => {
    await db.sql`select taskweave.upsert_tool('unset', ${db.sql.json({ kind: 'http', config: { url: `${api.url}/echo`, headers: { Authorization: 'Bearer {{NOT_SET_ANYWHERE}}' } }, secrets: ['NOT_SET_ANYWHERE'] })})`;
    await db.sql`select taskweave.upsert_agent('unset-user', ${db.sql.json({ name: 'Unset', tools: ['unset'] })})`;
    const before = api.requests.length;
    const { result, requests } = await runAs('unset-user', [{ id: 'u1', name: 'unset', arguments: {} }]);
    expect(result).toMatchObject({ status: 'completed' });
    expect(requests[0].model).toBe('fake-default'); // an agent without a model runs the environment's
    expect(toolResultsOf(requests[1])[0].value).toBe("unset failed: secret NOT_SET_ANYWHERE of tool unset is not set in the function's environment");
    expect(api.requests.length).toBe(before);
  });
});

describe('an agent with SQL tools', () => {
  it('runs the function as taskweave_sql_tool, without owner or operator rights', async () => {
    await db.sql.unsafe(`
      create schema tools_test;
      create table tools_test.facts (topic text primary key, fact text not null);
      insert into tools_test.facts values ('tides', 'Tides follow the moon.');
      create function tools_test.fact(p jsonb) returns jsonb language sql stable as $$
        select jsonb_build_object('fact', (select fact from tools_test.facts where topic = p ->> 'topic'),
                                  'run_as', current_user, 'operator', taskweave_private.is_operator())
      $$;
      create function tools_test.fact_plain(p jsonb) returns jsonb language sql stable as $$
        select jsonb_build_object('fact', (select fact from tools_test.facts where topic = p ->> 'topic'),
                                  'run_as', current_user,
                                  'superuser', (select rolsuper from pg_catalog.pg_roles where rolname = current_user))
      $$;
      create function tools_test.peek(p jsonb) returns jsonb language sql stable as $$ select to_jsonb(count(*)) from taskweave.tasks $$;
      grant usage on schema tools_test to taskweave_sql_tool;
      grant select on tools_test.facts to taskweave_sql_tool;
      grant execute on function tools_test.fact_plain(jsonb), tools_test.peek(jsonb) to taskweave_sql_tool;
    `);
    // is_operator is not the tool role's to run: upsert_tool refuses a function it cannot run
    await db.sql.unsafe('grant execute on function tools_test.fact(jsonb) to taskweave_sql_tool');
    await db.sql`select taskweave.upsert_tool('facts', ${db.sql.json({ kind: 'sql', description: 'A fact about a topic: {"topic": "..."}', config: { function: 'tools_test.fact_plain' } })})`;
    await db.sql`select taskweave.upsert_tool('facts-op', ${db.sql.json({ kind: 'sql', config: { function: 'tools_test.fact' } })})`;
    await db.sql`select taskweave.upsert_tool('peek', ${db.sql.json({ kind: 'sql', config: { function: 'tools_test.peek' } })})`;
    await db.sql`select taskweave.upsert_agent('fact-checker', ${db.sql.json({ name: 'Fact checker', model: 'openai:fake-facts', tools: ['facts', 'facts-op', 'peek'] })})`;

    const { id, result, requests } = await runAs('fact-checker', [
      { id: 's_fact', name: 'facts', arguments: { topic: 'tides' } },
      { id: 's_op', name: 'facts-op', arguments: { topic: 'tides' } },
      { id: 's_peek', name: 'peek', arguments: {} },
    ]);
    expect(result).toMatchObject({ status: 'completed', outcome: 'completed' });
    const results = Object.fromEntries(toolResultsOf(requests[1]).map((r) => [r.tool_call_id, r.value]));
    expect(results.s_fact).toEqual({ fact: 'Tides follow the moon.', run_as: 'taskweave_sql_tool', superuser: false });
    // Taskweave's schemas are closed to the tool role: an error the model gets, not a failed task
    expect(results.s_op).toMatch(/^facts-op failed: .*permission denied/);
    expect(results.s_peek).toMatch(/^peek failed: .*permission denied for schema taskweave/);
    const calls = await db.sql`select tool_call_id, status, arguments from taskweave.tool_calls where task_id = ${id} order by tool_call_id`;
    expect(calls).toEqual([
      { tool_call_id: 's_fact', status: 'succeeded', arguments: { topic: 'tides' } },
      { tool_call_id: 's_op', status: 'failed', arguments: { topic: 'tides' } },
      { tool_call_id: 's_peek', status: 'failed', arguments: {} },
    ]);
  });
});
