// SQL tools: which functions a tool may name, and the call itself (taskweave.call_sql_tool), which runs
// the function as role taskweave_sql_tool, without operator or owner rights, under a timeout and an
// output cap, recording its result in the same transaction. The test database connects as `postgres`, a
// superuser, exactly as process-task does, so "no owner rights" is measured against the strongest caller.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { claim, createRoot, rejection } from '../helpers/tasks.ts';
import { upsertTool } from './agent-support.ts';

const db = useTestDatabase();

type ToolCall = { status: string; result: unknown; error: string | null; duration_ms: number | null };

beforeAll(async () => {
  // a schema of the test's own, as an operator's project would have
  await db.sql.unsafe(`
    create schema tool_fixtures;
    create table tool_fixtures.notes (id serial primary key, body text not null);
    grant usage on schema tool_fixtures to taskweave_sql_tool;
    grant select, insert on tool_fixtures.notes to taskweave_sql_tool;
    grant usage on sequence tool_fixtures.notes_id_seq to taskweave_sql_tool;

    create function tool_fixtures.whoami(args jsonb) returns jsonb language sql as $$
      select jsonb_build_object('current_user', current_user, 'session_user', session_user, 'args', args,
                                'super', (select rolsuper from pg_roles where rolname = current_user))
    $$;
    create function tool_fixtures.read_tasks(args jsonb) returns jsonb language sql as $$
      select to_jsonb(count(*)) from taskweave.tasks
    $$;
    create function tool_fixtures.take_role(args jsonb) returns jsonb language plpgsql as $$
    begin
      execute args ->> 'statement';
      return jsonb_build_object('current_user', current_user);
    end $$;
    create function tool_fixtures.sleepy(args jsonb) returns jsonb language sql as $$
      select jsonb_build_object('slept', args ->> 'seconds') from (select pg_sleep((args ->> 'seconds')::float8)) as s
    $$;
    create function tool_fixtures.big(args jsonb) returns text language sql as $$
      select repeat('é', (args ->> 'chars')::int)
    $$;
    create function tool_fixtures.note(args jsonb) returns jsonb language plpgsql as $$
    declare v_id integer;
    begin
      insert into tool_fixtures.notes (body) values (args ->> 'body') returning id into v_id;
      if args ? 'fail' then raise exception 'refusing %', args ->> 'body' using errcode = '22023'; end if;
      return jsonb_build_object('id', v_id);
    end $$;
    create function tool_fixtures.powerful(args jsonb) returns jsonb language sql security definer as $$ select '{}'::jsonb $$;
    create function tool_fixtures.private_fn(args jsonb) returns jsonb language sql as $$ select '{}'::jsonb $$;
    revoke execute on function tool_fixtures.private_fn(jsonb) from public;
    create function tool_fixtures.two_args(args jsonb, n int) returns jsonb language sql as $$ select '{}'::jsonb $$;
    create function tool_fixtures.many(args jsonb) returns setof int language sql as $$ select 1 $$;
    create function tool_fixtures.nothing(args jsonb) returns void language sql as $$ select $$;
    create schema tool_hidden;
    create function tool_hidden.fn(args jsonb) returns jsonb language sql as $$ select '{}'::jsonb $$;
  `);
});

async function startedCall(slug: string, args: Record<string, unknown>, callId = 'call-1') {
  const root = await createRoot(db.sql, `sql tool ${slug}`);
  await claim(db.sql, root.id, 'w1');
  await db.sql`select taskweave.start_tool_call(${root.id}, 'w1', ${callId}, ${slug}, ${slug}, ${db.sql.json(args as never)})`;
  return root.id;
}

async function callTool(taskId: string, timeout = '5s', callId = 'call-1'): Promise<ToolCall> {
  const rows = await db.sql.begin(async (tx) => {
    await tx.unsafe(`set local statement_timeout = '${timeout}'`);
    return tx<ToolCall[]>`select * from taskweave.call_sql_tool(${taskId}, 'w1', ${callId})`;
  });
  return (rows as unknown as ToolCall[])[0];
}

describe('the tool role', () => {
  it('taskweave_sql_tool is no superuser, cannot log in, is a member of nothing and has no right on Taskweave', async () => {
    const [role] = await db.sql`
      select rolsuper, rolcanlogin, rolbypassrls, rolcreaterole, rolinherit,
             (select count(*)::int from pg_auth_members m where m.member = r.oid) as memberships,
             has_schema_privilege(r.oid, 'taskweave', 'usage') as taskweave_usage,
             has_schema_privilege(r.oid, 'taskweave_private', 'usage') as private_usage,
             has_schema_privilege(r.oid, 'taskweave_private', 'create') as private_create
        from pg_roles r where rolname = 'taskweave_sql_tool'`;
    expect(role).toEqual({
      rolsuper: false, rolcanlogin: false, rolbypassrls: false, rolcreaterole: false, rolinherit: false,
      memberships: 0, taskweave_usage: false, private_usage: false, private_create: false,
    });
  });
});

describe('upsert_tool for kind sql', () => {
  it('accepts a function of one jsonb argument that the tool role may run', async () => {
    const tool = await upsertTool(db.sql, 'whoami', { kind: 'sql', config: { function: 'tool_fixtures.whoami' } });
    expect(tool).toMatchObject({ kind: 'sql', config: { function: 'tool_fixtures.whoami' } });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const described = await upsertTool(db.sql, 'whoami', { kind: 'sql', config: { function: 'tool_fixtures.whoami', input_schema: schema } });
    expect(described.config).toEqual({ function: 'tool_fixtures.whoami', input_schema: schema });
    const error = await rejection(upsertTool(db.sql, 'whoami', { kind: 'sql', config: { function: 'tool_fixtures.whoami', input_schema: { type: 'array' } } }));
    expect(error).toMatchObject({ code: '22023', message: 'p_definition.config.input_schema must be a JSON Schema object whose type is "object" (the tool\'s arguments)' });
  });

  it.each([
    ['taskweave.create_task', /may not name a function in schema taskweave: it belongs to Taskweave, Postgres or Supabase/],
    ['taskweave_private.is_operator', /may not name a function in schema taskweave_private/],
    ['pg_catalog.jsonb_pretty', /may not name a function in schema pg_catalog/],
    ['information_schema.x', /may not name a function in schema information_schema/],
    ['auth.jwt', /may not name a function in schema auth/],
    ['pg_temp.x', /may not name a function in schema pg_temp/],
    ['tool_fixtures', /must name a function as schema\.name/],
    ['Tool_Fixtures.WhoAmI', /must name a function as schema\.name, in lowercase/],
    ['tool_fixtures.whoami; drop table x', /must name a function as schema\.name/],
    ['tool_fixtures.missing', /names tool_fixtures\.missing\(jsonb\), which does not exist/],
    ['tool_fixtures.two_args', /names tool_fixtures\.two_args\(jsonb\), which does not exist/],
    ['tool_fixtures.many', /must name a plain function returning one value/],
    ['tool_fixtures.nothing', /must name a plain function returning one value \(jsonb is best\), not a procedure, aggregate, set or void/],
    ['tool_fixtures.powerful', /is security definer and owned by postgres, which has superuser, owner or service_role rights/],
    ['tool_fixtures.private_fn', /cannot be run by role taskweave_sql_tool/],
    ['tool_hidden.fn', /cannot be run by role taskweave_sql_tool/],
  ])('refuses %s with 22023', async (fn, message) => {
    const error = await rejection(upsertTool(db.sql, 'refused', { kind: 'sql', config: { function: fn } }));
    expect(error.code).toBe('22023');
    expect(error.message).toMatch(/^p_definition\.config\.function /);
    expect(error.message).toMatch(message);
    expect(await db.sql`select 1 from taskweave.tools where slug = 'refused'`).toHaveLength(0);
  });
});

describe('call_sql_tool', () => {
  it('runs the function with the recorded arguments as taskweave_sql_tool, not as the connecting superuser', async () => {
    await upsertTool(db.sql, 'whoami', { kind: 'sql', config: { function: 'tool_fixtures.whoami' } });
    const task = await startedCall('whoami', { city: 'Lyon' });
    const call = await callTool(task);
    expect(call).toMatchObject({
      status: 'succeeded', error: null,
      result: { current_user: 'taskweave_sql_tool', session_user: 'postgres', super: false, args: { city: 'Lyon' } },
    });
    expect(call.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it("the function cannot read Taskweave's tables: the call fails as a tool error, the task goes on", async () => {
    await upsertTool(db.sql, 'snoop', { kind: 'sql', config: { function: 'tool_fixtures.read_tasks' } });
    const task = await startedCall('snoop', {});
    const call = await callTool(task);
    expect(call.status).toBe('failed');
    expect(call.error).toBe('permission denied for schema taskweave (SQLSTATE 42501)');
    const [{ status }] = await db.sql`select status from taskweave.tasks where id = ${task}`;
    expect(status).toBe('running');
  });

  it.each([
    ['set role postgres', /cannot set parameter "role" within security-definer function/],
    ['reset role', /cannot set parameter "role" within security-definer function/],
    ["select set_config('role', 'postgres', true)", /cannot set parameter "role" within security-definer function/],
    ['set session authorization postgres', /cannot set parameter "session_authorization" within security-definer function/],
  ])("the function cannot take back the caller's rights: %s fails", async (statement, message) => {
    await upsertTool(db.sql, 'escalate', { kind: 'sql', config: { function: 'tool_fixtures.take_role' } });
    const task = await startedCall('escalate', { statement });
    const call = await callTool(task);
    expect(call.status).toBe('failed');
    expect(call.error).toMatch(message);
  });

  it('its effects and its result commit together, once: a second call returns the saved result; a failing call leaves no effect', async () => {
    await upsertTool(db.sql, 'note', { kind: 'sql', config: { function: 'tool_fixtures.note' } });
    const task = await startedCall('note', { body: 'first' });
    const first = await callTool(task);
    expect(first.status).toBe('succeeded');
    expect(await callTool(task)).toEqual(first);
    expect(await db.sql`select body from tool_fixtures.notes where body = 'first'`).toHaveLength(1);

    const failing = await startedCall('note', { body: 'second', fail: true });
    expect(await callTool(failing)).toMatchObject({ status: 'failed', error: 'refusing second (SQLSTATE 22023)' });
    expect(await db.sql`select 1 from tool_fixtures.notes where body = 'second'`).toHaveLength(0);
  });

  it("stops a function at the tool's timeout and records it as failed", async () => {
    await upsertTool(db.sql, 'sleepy', { kind: 'sql', config: { function: 'tool_fixtures.sleepy' }, timeout_seconds: 1 });
    const task = await startedCall('sleepy', { seconds: 5 });
    const startedAt = Date.now();
    const call = await callTool(task, '1s');
    expect(Date.now() - startedAt).toBeLessThan(4000);
    expect(call).toMatchObject({ status: 'failed', error: 'the SQL tool "sleepy" did not finish within 1 seconds' });
  });

  it("refuses (55000) to run without a statement timeout at most the tool's, changing nothing", async () => {
    await upsertTool(db.sql, 'sleepy', { kind: 'sql', config: { function: 'tool_fixtures.sleepy' }, timeout_seconds: 1 });
    const task = await startedCall('sleepy', { seconds: 0 });
    for (const timeout of ['0', '2s']) {
      const error = await rejection(callTool(task, timeout));
      expect(error.code).toBe('55000');
      expect(error.message).toMatch(/run "set local statement_timeout = '1s'" in this transaction first/);
    }
    const [{ status }] = await db.sql`select status from taskweave.tool_calls where task_id = ${task}`;
    expect(status).toBe('started');
  });

  it('cuts a result over max_output_bytes to that many bytes of its JSON, never splitting a character', async () => {
    await upsertTool(db.sql, 'big', { kind: 'sql', config: { function: 'tool_fixtures.big' }, max_output_bytes: 256 });
    const task = await startedCall('big', { chars: 1000 });
    const call = await callTool(task);
    const result = call.result as { truncated: boolean; bytes: number; max_output_bytes: number; text: string };
    expect(call.status).toBe('succeeded');
    expect(result).toMatchObject({ truncated: true, bytes: 2002, max_output_bytes: 256 });
    expect(Buffer.byteLength(result.text)).toBeLessThanOrEqual(256);
    expect(Buffer.byteLength(result.text)).toBeGreaterThan(250);
    expect(result.text.startsWith('"éé')).toBe(true);
  });

  it('checks the function again at each call: one made security definer since is refused as a tool error', async () => {
    await db.sql.unsafe(`create function tool_fixtures.changing(args jsonb) returns jsonb language sql as $$ select '{"ok": true}'::jsonb $$`);
    await upsertTool(db.sql, 'changing', { kind: 'sql', config: { function: 'tool_fixtures.changing' } });
    await db.sql.unsafe(`alter function tool_fixtures.changing(jsonb) security definer`);
    const task = await startedCall('changing', {});
    const call = await callTool(task);
    expect(call.status).toBe('failed');
    expect(call.error).toMatch(/is security definer and owned by postgres/);
  });

  it('needs the lease (TW001), a started call (P0002) of a SQL tool (22023)', async () => {
    await upsertTool(db.sql, 'whoami', { kind: 'sql', config: { function: 'tool_fixtures.whoami' } });
    await upsertTool(db.sql, 'web', { kind: 'http', config: { url: 'https://example.com' } });
    const task = await startedCall('whoami', {});
    const stale = await rejection(db.sql.begin(async (tx) => {
      await tx.unsafe(`set local statement_timeout = '5s'`);
      return tx`select taskweave.call_sql_tool(${task}, 'someone-else', 'call-1')`;
    }));
    expect(stale.code).toBe('TW001');
    expect((await rejection(callTool(task, '5s', 'never-started'))).code).toBe('P0002');
    await db.sql`select taskweave.start_tool_call(${task}, 'w1', 'web-1', 'web', 'web', '{}')`;
    expect((await rejection(callTool(task, '5s', 'web-1'))).code).toBe('22023');
  });
});
