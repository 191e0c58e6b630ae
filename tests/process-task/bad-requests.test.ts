// Hostile and malformed requests against the real function under Deno: every one is answered with a
// 4xx and a JSON error, none reaches the data (row hashes of every table are unchanged).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { startFunction } from './support.ts';

const db = useTestDatabase();
let fn: Awaited<ReturnType<typeof startFunction>>;
let pendingTaskId: string;
let completedTaskId: string;

async function snapshot() {
  const [row] = await db.sql`
    select
      (select count(*) from taskweave.tasks)::int as tasks,
      (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from taskweave.tasks t) as tasks_hash,
      (select md5(coalesce(string_agg(m::text, '|' order by m.id), '')) from taskweave.task_messages m) as messages_hash,
      (select md5(coalesce(string_agg(e::text, '|' order by e.id), '')) from taskweave.task_events e) as events_hash,
      (select md5(coalesce(string_agg(r::text, '|' order by r.id), '')) from taskweave.human_reviews r) as reviews_hash`;
  return row;
}

beforeAll(async () => {
  fn = await startFunction(db.url);
  // a due task: any request that slipped through validation in claim mode would claim and change it
  [{ id: pendingTaskId }] = await db.sql`select id from taskweave.create_task('Due task', 'would be claimed by a valid request')`;
  const [{ id }] = await db.sql`select id from taskweave.create_task('Finished task', 'done')`;
  completedTaskId = id;
  await db.sql`select taskweave.claim_task(${id}, 'setup-worker')`;
  await db.sql`select taskweave.complete_task(${id}, 'setup-worker', '{"source":"model","text":"ok","model":"x","steps":1}'::jsonb)`;
});

afterAll(async () => {
  await fn?.stop();
});

type Case = { name: string; method?: string; path?: string; headers?: Record<string, string>; body?: string | Uint8Array | null; expect?: number };

function cases(secret: string): Case[] {
  const auth = { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' };
  const valid = '{"max_tasks": 1}';
  const list: Case[] = [];
  // --- authentication: a valid body, a bad key ---
  const badAuth: [string, Record<string, string>][] = [
    ['no authorization', { 'Content-Type': 'application/json' }],
    ['empty authorization', { Authorization: '' }],
    ['Bearer without token', { Authorization: 'Bearer' }],
    ['Bearer and a space', { Authorization: 'Bearer ' }],
    ['wrong token', { Authorization: 'Bearer wrong' }],
    ['secret with one extra character', { Authorization: `Bearer ${secret}x` }],
    ['secret missing its last character', { Authorization: `Bearer ${secret.slice(0, -1)}` }],
    ['secret in other case', { Authorization: `Bearer ${secret.toUpperCase()}` }],
    ['secret without scheme', { Authorization: secret }],
    ['Basic scheme', { Authorization: `Basic ${Buffer.from(`user:${secret}`).toString('base64')}` }],
    ['two tokens', { Authorization: `Bearer ${secret} ${secret}` }],
    ['token then garbage', { Authorization: `Bearer ${secret},x` }],
    ['very long token', { Authorization: `Bearer ${'a'.repeat(8000)}` }],
    ['apikey header only', { apikey: secret }],
    ['x-authorization header', { 'X-Authorization': `Bearer ${secret}` }],
    ['sql in token', { Authorization: "Bearer ' or 1=1 --" }],
    ['percent-encoded secret', { Authorization: `Bearer ${encodeURIComponent(secret + '/')}` }],
    ['Token scheme', { Authorization: `Token ${secret}` }],
    ['secret as cookie', { Cookie: `sb-access-token=${secret}` }],
    ['the service role demo JWT', { Authorization: 'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.x' }],
  ];
  for (const [name, headers] of badAuth) list.push({ name: `auth: ${name}`, headers: { 'Content-Type': 'application/json', ...headers }, body: valid, expect: 401 });
  list.push({ name: 'auth: secret in query string', path: `/functions/v1/process-task?apikey=${secret}`, headers: { 'Content-Type': 'application/json' }, body: valid, expect: 401 });
  // --- methods and paths ---
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD']) {
    list.push({ name: `method ${method}`, method, headers: auth, body: method === 'GET' || method === 'HEAD' ? null : valid, expect: 405 });
  }
  for (const path of ['/functions/v1/process-taskx', '/functions/v1/other', '/', '/functions/v1/process-task/extra', '/functions/v2/process-task']) {
    list.push({ name: `path ${path}`, path, headers: auth, body: valid, expect: 404 });
  }
  // --- bodies, with the right key ---
  const uuid = '3f1c1f52-7d7e-4a39-9c1e-6d3c1c0e9a11';
  const badBodies: [string, string, number?][] = [
    ['null', 'null'],
    ['array', '[]'],
    ['array of request', `[${valid}]`],
    ['string', '"max_tasks"'],
    ['number', '1'],
    ['true', 'true'],
    ['unterminated object', '{'],
    ['missing value', '{"task_id":}'],
    ['single quotes', "{'max_tasks': 1}"],
    ['trailing comma', '{"max_tasks": 1,}'],
    ['comment', '{"max_tasks": 1 /* x */}'],
    ['NaN', '{"max_tasks": NaN}'],
    ['Infinity literal', '{"max_tasks": Infinity}'],
    ['huge exponent', '{"max_tasks": 1e309}'],
    ['max_tasks 0', '{"max_tasks": 0}'],
    ['max_tasks -1', '{"max_tasks": -1}'],
    ['max_tasks 51', '{"max_tasks": 51}'],
    ['max_tasks 1000000', '{"max_tasks": 1000000}'],
    ['max_tasks 1.5', '{"max_tasks": 1.5}'],
    ['max_tasks string', '{"max_tasks": "1"}'],
    ['max_tasks null', '{"max_tasks": null}'],
    ['max_tasks array', '{"max_tasks": [1]}'],
    ['max_tasks object', '{"max_tasks": {"$gt": 0}}'],
    ['max_tasks bool', '{"max_tasks": true}'],
    ['duplicate key, last invalid', '{"max_tasks": 1, "max_tasks": "x"}'],
    ['task_id not a uuid', '{"task_id": "not-a-uuid"}'],
    ['task_id number', '{"task_id": 123}'],
    ['task_id null', '{"task_id": null}'],
    ['task_id empty', '{"task_id": ""}'],
    ['task_id sql injection', `{"task_id": "'; delete from taskweave.tasks; --"}`],
    ['task_id uuid with injection', `{"task_id": "${uuid}'; delete from taskweave.tasks; --"}`],
    ['task_id uuid in braces', `{"task_id": "{${uuid}}"}`],
    ['task_id uuid without dashes', `{"task_id": "${uuid.replace(/-/g, '')}"}`],
    ['task_id array', `{"task_id": ["${uuid}"]}`],
    ['task_id object', `{"task_id": {"id": "${uuid}"}}`],
    ['task_id with whitespace', `{"task_id": " ${uuid} "}`],
    ['task_id too long', `{"task_id": "${uuid}${uuid}"}`],
    ['both task_id and max_tasks', `{"task_id": "${uuid}", "max_tasks": 1}`],
    ['unknown key', '{"max_tasks": 1, "worker": "me"}'],
    ['only unknown key', '{"limit": 5}'],
    ['__proto__ key', '{"__proto__": {"max_tasks": 1}}'],
    ['constructor key', '{"constructor": {"prototype": {"max_tasks": 1}}}'],
    ['prototype pollution with valid field', '{"max_tasks": 1, "__proto__": {"admin": true}}'],
    ['deep nesting', `${'['.repeat(3000)}${']'.repeat(3000)}`],
    ['deep object nesting', `${'{"a":'.repeat(1500)}1${'}'.repeat(1500)}`],
    ['unicode escapes in key', '{"max\\u005ftasks": "1"}'],
    ['BOM before invalid JSON', '\ufeff{"max_tasks": 0}'],
    ['only whitespace inside object keys', '{" max_tasks": 1}'],
    ['uppercase key', '{"MAX_TASKS": 1}'],
    ['task_id of an unknown task (not found)', `{"task_id": "${uuid}"}`, 404],
    ['task_id nil uuid (not found)', '{"task_id": "00000000-0000-0000-0000-000000000000"}', 404],
    ['XML body', '<request><max_tasks>1</max_tasks></request>'],
    ['form body', 'max_tasks=1'],
    ['two JSON documents', `${valid}${valid}`],
    ['JSON then garbage', `${valid} trailing`],
    ['null byte in string', '{"task_id": "\\u0000"}'],
    ['lone surrogate', '{"task_id": "\\ud800"}'],
    ['very long string value', `{"task_id": "${'x'.repeat(10_000)}"}`],
  ];
  for (const [name, body, status] of badBodies) list.push({ name: `body: ${name}`, headers: auth, body, expect: status ?? 400 });
  list.push({ name: 'body: task_id of a completed task (not claimable)', headers: auth, body: JSON.stringify({ task_id: completedTaskId }), expect: 409 });
  list.push({ name: 'body: larger than the limit', headers: auth, body: `{"max_tasks": 1, "pad": "${'x'.repeat(40_000)}"}`, expect: 413 });
  list.push({ name: 'body: invalid UTF-8', headers: auth, body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), expect: 400 });
  list.push({ name: 'content-type text/plain, not JSON', headers: { ...auth, 'Content-Type': 'text/plain' }, body: 'max tasks: one', expect: 400 });
  list.push({ name: 'content-type form, form body', headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'max_tasks=1', expect: 400 });
  list.push({ name: 'content-type multipart', headers: { ...auth, 'Content-Type': 'multipart/form-data; boundary=x' }, body: '--x\r\n\r\n1\r\n--x--', expect: 400 });
  // --- random bytes (seeded, so a failure reproduces) ---
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff);
  for (let i = 0; i < 20; i++) {
    const bytes = new Uint8Array(1 + Math.floor(random() * 200));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    bytes[0] = 0x7b; // starts like an object, so it reaches the JSON parser
    list.push({ name: `random bytes #${i}`, headers: auth, body: bytes });
  }
  return list;
}

describe('bad requests', () => {
  it('answers at least 100 malformed or hostile requests with 4xx only and changes no data', async () => {
    const all = cases(fn.secret);
    expect(all.length).toBeGreaterThanOrEqual(100);
    const before = await snapshot();
    const outcomes: { name: string; status: number; body: string; expected?: number }[] = [];
    for (let i = 0; i < all.length; i += 8) {
      await Promise.all(
        all.slice(i, i + 8).map(async (c) => {
          const url = new URL(c.path ?? '/functions/v1/process-task', fn.url).toString();
          const res = await fetch(url, { method: c.method ?? 'POST', headers: c.headers, body: (c.body ?? undefined) as BodyInit | undefined });
          outcomes.push({ name: c.name, status: res.status, body: await res.text(), expected: c.expect });
        }),
      );
    }
    const wrong = outcomes.filter((o) => o.status < 400 || o.status > 499 || (o.expected !== undefined && o.status !== o.expected));
    expect(wrong, JSON.stringify(wrong, null, 1)).toEqual([]);
    for (const o of outcomes) {
      if (o.name === 'method HEAD') continue;
      const parsed = JSON.parse(o.body) as { error: { code: string; message: string; issues?: unknown[] } };
      expect(typeof parsed.error.code, o.name).toBe('string');
      expect(parsed.error.message.length, o.name).toBeGreaterThan(0);
      if (o.status === 400 && parsed.error.code === 'invalid_request') expect(Array.isArray(parsed.error.issues), o.name).toBe(true);
    }
    expect(await snapshot()).toEqual(before);
    const [due] = await db.sql`select status, attempt from taskweave.tasks where id = ${pendingTaskId}`;
    expect(due).toEqual({ status: 'pending', attempt: 0 });
    expect(fn.process.exitCode).toBeNull(); // still serving

    // and the same server does serve a good request
    const ok = await fetch(fn.url, { method: 'POST', headers: { Authorization: `Bearer ${fn.secret}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ task_id: pendingTaskId }) });
    expect(ok.status).toBe(200);
    // no browser calls the function: no CORS preflight, no CORS headers
    const options = await fetch(fn.url, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(options.status).toBe(405);
    expect(options.headers.get('access-control-allow-origin')).toBeNull();
    expect(ok.headers.get('access-control-allow-origin')).toBeNull();
  });
});
