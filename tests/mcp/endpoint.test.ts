// The MCP endpoint as an outside agent meets it: the real function under Deno over HTTP, the SDK's own
// Client, a real database. What it advertises, who may call it, and how it refuses bad arguments.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TOOLS } from '../../supabase/functions/mcp/schemas.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { countRows, MCP_HEADERS, rpc, sdkClient, startFunctions, textOf, type Functions } from './support.ts';

const db = useTestDatabase();
let fn: Functions;
let client: Client;

beforeAll(async () => {
  fn = await startFunctions(db.url);
  client = await sdkClient(fn.mcpUrl, fn.secret);
});

afterAll(async () => {
  await client?.close();
  await fn?.stop();
});

describe('tools/list', () => {
  it('advertises the seven tools, each with a description for a model and both schemas', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['cancel_task', 'create_task', 'get_task', 'list_reviews', 'resolve_review', 'resolve_reviews', 'wait_for_task']);
    for (const tool of tools) {
      expect(tool.description!.length, tool.name).toBeGreaterThan(80);
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema?.type, tool.name).toBe('object');
    }
  });

  it('advertises exactly the schemas the TypeScript client is typed from', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const tool of Object.values(TOOLS)) {
      const advertised = byName.get(tool.name);
      expect(advertised, tool.name).toBeDefined();
      expect(advertised!.description).toBe(tool.description);
      expect(advertised!.title).toBe(tool.title);
      // JSON Schema draft 7, arguments as they are sent (io input), results as they come back (io output)
      const input = z.toJSONSchema(tool.input, { io: 'input', target: 'draft-7' });
      const output = z.toJSONSchema(tool.output, { io: 'output', target: 'draft-7' });
      expect(advertised!.inputSchema, `${tool.name} input`).toEqual(input);
      expect(advertised!.outputSchema, `${tool.name} output`).toEqual(output);
    }
  });
});

describe('the bearer key', () => {
  const attempts: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['an empty bearer', { Authorization: 'Bearer ' }],
    ['a wrong key', { Authorization: 'Bearer not-the-secret' }],
    ['the key with one character changed', {}], // filled in below
    ['the key as a Basic credential', {}],
    ['the key in apikey only', {}],
  ];

  it('answers 401 to a wrong or missing key and changes nothing', async () => {
    attempts[3][1] = { Authorization: `Bearer ${fn.secret.slice(0, -1)}${fn.secret.endsWith('x') ? 'y' : 'x'}` };
    attempts[4][1] = { Authorization: `Basic ${Buffer.from(`user:${fn.secret}`).toString('base64')}` };
    attempts[5][1] = { apikey: fn.secret };
    const before = await countRows(db.sql);
    const calls = [
      rpc(1, 'create_task', { title: 'sneaky', instructions: 'should never exist' }),
      rpc(2, 'cancel_task', { task_id: '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11' }),
      JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
    ];
    for (const [name, headers] of attempts) {
      for (const body of calls) {
        const res = await fetch(fn.mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body });
        const text = await res.text();
        expect(res.status, `${name}: ${text}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(text).not.toContain('create_task');
      }
    }
    // the SDK client without a key cannot even initialise
    await expect(sdkClient(fn.mcpUrl, undefined)).rejects.toMatchObject({ code: 401, message: expect.stringContaining('unauthorized') });
    await expect(sdkClient(fn.mcpUrl, 'wrong')).rejects.toMatchObject({ code: 401 });
    expect(await countRows(db.sql)).toEqual(before);
  });

  it('accepts the key from a hand-written JSON-RPC call (no SDK), so plain HTTP clients work', async () => {
    const res = await fetch(fn.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_HEADERS, Authorization: `Bearer ${fn.secret}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.result.tools).toHaveLength(7);
  });
});

describe('HTTP edges', () => {
  const auth = () => ({ ...MCP_HEADERS, Authorization: `Bearer ${fn.secret}` });

  it('never answers bad HTTP input with a 5xx, and changes nothing', async () => {
    const before = await countRows(db.sql);
    const cases: [string, RequestInit, number][] = [
      ['GET (no server stream in stateless mode)', { method: 'GET', headers: auth() }, 405],
      ['DELETE (no session)', { method: 'DELETE', headers: auth() }, 405],
      ['PUT', { method: 'PUT', headers: auth(), body: '{}' }, 405],
      ['malformed JSON', { method: 'POST', headers: auth(), body: '{"jsonrpc": "2.0", ' }, 400],
      ['not JSON-RPC', { method: 'POST', headers: auth(), body: '{"hello": "world"}' }, 400],
      ['an empty body', { method: 'POST', headers: auth(), body: '' }, 400],
      ['a wrong Accept header', { method: 'POST', headers: { ...auth(), Accept: 'text/html' }, body: rpc(1, 'get_task', {}) }, 406],
      ['a web page of another origin', { method: 'POST', headers: { ...auth(), Origin: 'https://evil.example' }, body: rpc(1, 'create_task', { title: 't', instructions: 'i' }) }, 403],
      ['a body over 1 MB', { method: 'POST', headers: auth(), body: rpc(1, 'create_task', { title: 't', instructions: 'x'.repeat(1_100_000) }) }, 413],
    ];
    for (const [name, init, status] of cases) {
      const res = await fetch(fn.mcpUrl, init);
      const text = await res.text();
      expect(res.status, `${name}: ${text.slice(0, 300)}`).toBe(status);
    }
    for (const path of ['/functions/v1/mcpx', '/functions/v1/mcp/extra', '/functions/v1/nothing-here']) {
      const res = await fetch(new URL(path, fn.mcpUrl), { method: 'POST', headers: auth(), body: rpc(1, 'get_task', {}) });
      await res.arrayBuffer();
      expect(res.status, path).toBe(404);
    }
    expect(await countRows(db.sql)).toEqual(before);
  });

  it('lets the web app origin through CORS, and nobody else', async () => {
    const ok = await fetch(fn.mcpUrl, { method: 'OPTIONS', headers: { Origin: 'http://127.0.0.1:3999' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:3999');
    expect(ok.headers.get('access-control-allow-headers')).toContain('mcp-protocol-version');
    const evil = await fetch(fn.mcpUrl, { method: 'OPTIONS', headers: { Origin: 'https://evil.example' } });
    await evil.arrayBuffer();
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('create_task limits', () => {
  it('takes null as "no limit" and leaves absent limits to the database defaults', async () => {
    const result = await client.callTool({ name: 'create_task', arguments: { title: 'Unbounded tokens', instructions: 'i', limits: { max_tokens: null, max_tasks: 7 } } });
    expect(result.isError, textOf(result)).toBeFalsy();
    const { run } = result.structuredContent as { run: { limits: { max_tasks: number | null; max_tokens: number | null; deadline_at: string | null } } };
    expect(run.limits.max_tasks).toBe(7);
    expect(run.limits.max_tokens).toBeNull();
    expect(run.limits.deadline_at).not.toBeNull(); // the database's default deadline
  });
});

describe('bad arguments are tool errors the model can act on', () => {
  const uuid = '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11';
  const cases: [string, string, Record<string, unknown>, RegExp][] = [
    ['create_task without a title', 'create_task', { instructions: 'do it' }, /title is required/],
    ['create_task with a blank title', 'create_task', { title: '   ', instructions: 'do it' }, /title must not be empty/],
    ['create_task with a 501-character title', 'create_task', { title: 'x'.repeat(501), instructions: 'do it' }, /at most 500 characters/],
    ['create_task with blank instructions', 'create_task', { title: 't', instructions: ' \n ' }, /instructions must not be empty/],
    ['create_task with input as a string', 'create_task', { title: 't', instructions: 'i', input: 'topics: a, b' }, /input must be a JSON object/],
    ['create_task with input as a list', 'create_task', { title: 't', instructions: 'i', input: ['a'] }, /input must be a JSON object/],
    ['create_task with max_tasks 0', 'create_task', { title: 't', instructions: 'i', limits: { max_tasks: 0 } }, /max_tasks/],
    ['create_task with max_tokens 1.5', 'create_task', { title: 't', instructions: 'i', limits: { max_tokens: 1.5 } }, /max_tokens/],
    ['create_task with a token limit the database refuses (its own 22023 message)', 'create_task', { title: 't', instructions: 'i', limits: { max_tokens: 2_000_000_000_000 } }, /p_limits\.max_tokens must be a whole number from 1 to 1000000000000 .*SQLSTATE 22023/],
    ['create_task with an unknown limit', 'create_task', { title: 't', instructions: 'i', limits: { max_dollars: 5 } }, /max_dollars/],
    ['create_task with an unknown argument', 'create_task', { title: 't', instructions: 'i', priority: 'high' }, /priority/],
    ['get_task with a non-UUID id', 'get_task', { task_id: 'task-1' }, /task_id must be a task id/],
    ['get_task without an id', 'get_task', {}, /task_id/],
    ['get_task with an unknown id', 'get_task', { task_id: uuid }, /No task with id/],
    ['wait_for_task over 50 seconds', 'wait_for_task', { task_id: uuid, timeout_seconds: 51 }, /at most 50/],
    ['wait_for_task with a negative timeout', 'wait_for_task', { task_id: uuid, timeout_seconds: -1 }, /must not be negative/],
    ['wait_for_task with a timeout as text', 'wait_for_task', { task_id: uuid, timeout_seconds: 'ten' }, /timeout_seconds must be a number/],
    ['wait_for_task on an unknown task', 'wait_for_task', { task_id: uuid, timeout_seconds: 1 }, /No task with id/],
    ['list_reviews with limit 0', 'list_reviews', { limit: 0 }, /limit must be at least 1/],
    ['list_reviews with limit 1000', 'list_reviews', { limit: 1000 }, /limit must be at most 100/],
    ['list_reviews with a made-up cursor', 'list_reviews', { cursor: 'page-2' }, /cursor is not one list_reviews gave out/],
    ['resolve_review with an unknown action', 'resolve_review', { review_id: uuid, action: 'skip' }, /action must be one of "retry", "abort", "manual", "approve", "reject" or "answer"/],
    ['resolve_review manual without an output', 'resolve_review', { review_id: uuid, action: 'manual' }, /needs manual_output/],
    ['resolve_review manual with a blank output', 'resolve_review', { review_id: uuid, action: 'manual', manual_output: '  ' }, /Write the output this task should have produced/],
    ['resolve_review manual with invalid JSON', 'resolve_review', { review_id: uuid, action: 'manual', manual_output: '{nope', manual_format: 'json' }, /not valid JSON.*manual_format to "text"/],
    ['resolve_review manual with an output too long', 'resolve_review', { review_id: uuid, action: 'manual', manual_output: 'x'.repeat(100_001) }, /too long/],
    ['resolve_review retry with an output', 'resolve_review', { review_id: uuid, action: 'retry', manual_output: 'x' }, /only for action "manual"/],
    ['resolve_review with a note too long', 'resolve_review', { review_id: uuid, action: 'abort', note: 'n'.repeat(2_001) }, /note under 2,000/],
    ['resolve_review of an unknown review', 'resolve_review', { review_id: uuid, action: 'abort' }, /No open review with id/],
    ['resolve_review answer without an answer', 'resolve_review', { review_id: uuid, action: 'answer' }, /action "answer" needs answer/],
    ['resolve_review reject without a reason', 'resolve_review', { review_id: uuid, action: 'reject' }, /action "reject" needs note/],
    ['resolve_review with arguments but not approve', 'resolve_review', { review_id: uuid, action: 'retry', arguments: { a: 1 } }, /arguments is only for action "approve"/],
    ['resolve_review approve with arguments as a list', 'resolve_review', { review_id: uuid, action: 'approve', arguments: [1] }, /arguments must be a JSON object/],
    ['list_reviews with an unknown kind', 'list_reviews', { kind: 'todo' }, /kind must be failure, approval, question or interrupted_call/],
    ['list_reviews with a negative age', 'list_reviews', { older_than_seconds: -5 }, /older_than_seconds must not be negative/],
    ['list_reviews with an unknown filter', 'list_reviews', { colour: 'red' }, /colour/],
    ['resolve_reviews without a filter', 'resolve_reviews', { action: 'abort' }, /Give at least one filter/],
    ['resolve_reviews with answer', 'resolve_reviews', { action: 'answer', kind: 'question' }, /action must be one of "retry", "abort", "approve" or "reject"/],
    ['resolve_reviews reject without a reason', 'resolve_reviews', { action: 'reject', kind: 'approval' }, /needs note/],
    ['resolve_reviews approve on failures (the database\'s own 22023)', 'resolve_reviews', { action: 'approve', kind: 'failure' }, /does not apply to "failure" reviews.*SQLSTATE 22023/],
    ['cancel_task of an unknown task', 'cancel_task', { task_id: uuid }, /No task with id/],
    ['cancel_task with a non-UUID id', 'cancel_task', { task_id: 42 }, /task_id/],
    ['a tool that does not exist', 'delete_everything', {}, /delete_everything/],
  ];

  it('refuses each with isError and a message, changes nothing, and never fails the HTTP request', async () => {
    const before = await countRows(db.sql);
    for (const [name, tool, args, message] of cases) {
      const result = await client.callTool({ name: tool, arguments: args });
      expect(result.isError, `${name}: ${textOf(result)}`).toBe(true);
      expect(textOf(result), name).toMatch(message);
    }
    expect(await countRows(db.sql)).toEqual(before);
    expect(fn.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });
});
