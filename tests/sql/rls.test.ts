import { beforeAll, describe, expect, it } from 'vitest';
import { anon, asIdentity, operator, plainUser, serviceRole, useTestDatabase, type Identity } from '../helpers/database.ts';
import { claim, createFanOut, failToReview, rejection } from '../helpers/tasks.ts';

const db = useTestDatabase();
const tables = ['tasks', 'runs', 'human_reviews', 'task_events', 'task_messages'] as const;

beforeAll(async () => {
  const { root, children } = await createFanOut(db.sql, 2, 'secret');
  await failToReview(db.sql, children[0].id);
  await claim(db.sql, root.id, 'w');
  await db.sql`select taskweave.append_task_message(${root.id}, 'w', 'assistant', '{"text":"private reasoning"}')`;
});

async function visibleRows(identity: Identity, table: string) {
  return asIdentity(db.sql, identity, async (tx) => (await tx.unsafe(`select count(*)::int as n from taskweave.${table}`))[0].n as number);
}

describe('row level security', () => {
  it('is enabled on every table Taskweave owns', async () => {
    const rows = await db.sql`
      select c.relnamespace::regnamespace::text || '.' || c.relname as name, c.relrowsecurity as rls
        from pg_class c
       where c.relkind = 'r' and c.relnamespace::regnamespace::text in ('taskweave', 'taskweave_private') order by 1`;
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) expect(row, String(row.name)).toMatchObject({ rls: true });
  });

  it.each(tables)('anon reads nothing from %s and cannot write to it', async (table) => {
    const denied = await rejection(visibleRows(anon, table));
    // anon does not even reach the schema
    expect(denied).toEqual({ code: '42501', message: 'permission denied for schema taskweave' });
    const write = await rejection(asIdentity(db.sql, anon, (tx) => tx.unsafe(`delete from taskweave.${table}`)));
    expect(write.code).toBe('42501');
  });

  it.each(tables)('a plain signed-in user sees no rows of %s', async (table) => {
    expect(await db.sql.unsafe(`select count(*)::int as n from taskweave.${table}`).then((r) => r[0].n)).toBeGreaterThan(0);
    expect(await visibleRows(plainUser(), table)).toBe(0);
  });

  it.each(tables)('an operator reads every row of %s', async (table) => {
    const [all] = await db.sql.unsafe(`select count(*)::int as n from taskweave.${table}`);
    expect(await visibleRows(operator(), table)).toBe(all.n);
  });

  it.each(tables)('an operator cannot write to %s directly: writes go through the SQL API', async (table) => {
    for (const statement of [`delete from taskweave.${table}`, `update taskweave.${table} set created_at = now()`]) {
      const denied = await rejection(asIdentity(db.sql, operator(), (tx) => tx.unsafe(statement)));
      expect(denied).toEqual({ code: '42501', message: `permission denied for table ${table}` });
    }
  });

  it('the worker API is not executable by anon, plain users or operators, only by service_role', async () => {
    for (const identity of [anon, plainUser(), operator()]) {
      const claimDenied = await rejection(asIdentity(db.sql, identity, (tx) => tx`select * from taskweave.claim_tasks('w')`));
      expect(claimDenied.code).toBe('42501');
    }
  });

  it('create_task: operators and service_role create runs (the history names the operator); anon and plain users may not', async () => {
    expect(await rejection(asIdentity(db.sql, anon, (tx) => tx`select taskweave.create_task('x', 'y')`))).toEqual({
      code: '42501',
      message: 'permission denied for schema taskweave',
    });
    const plain = await rejection(asIdentity(db.sql, plainUser(), (tx) => tx`select taskweave.create_task('x', 'y')`));
    expect(plain.code).toBe('42501');
    expect(plain.message).toMatch(/only operators may create tasks/);
    expect(await db.sql`select id from taskweave.tasks where title = 'x'`).toHaveLength(0);

    const created = await asIdentity(db.sql, serviceRole, (tx) => tx`select (taskweave.create_task('by service', 'y')).status`);
    expect(created[0].status).toBe('pending');
    const [byOperator] = await asIdentity(db.sql, operator('ada@example.com'), (tx) => tx`select * from taskweave.create_task('by an operator', 'y')`);
    expect(byOperator.status).toBe('pending');
    const [event] = await db.sql`select actor from taskweave.task_events where task_id = ${byOperator.id} order by id limit 1`;
    expect(event.actor).toBe('ada@example.com');
  });

  it('no taskweave function is executable by PUBLIC or anon, and only the operator functions are security definer', async () => {
    const rows = await db.sql`
      select p.proname, p.prosecdef,
             has_function_privilege('anon', p.oid, 'execute') as anon_exec,
             coalesce(array_to_string(p.proconfig, ','), '') as config
        from pg_proc p where p.pronamespace = 'taskweave'::regnamespace`;
    expect(rows.length).toBeGreaterThanOrEqual(17);
    for (const row of rows) {
      expect(row.anon_exec, `${row.proname} executable by anon`).toBe(false);
      expect(row.config, `${row.proname} pins search_path`).toContain('search_path=""');
      expect(row.prosecdef, `${row.proname} security definer`).toBe(
        ['create_task', 'resolve_review', 'resolve_reviews', 'list_reviews', 'count_reviews', 'cancel_task', 'cancel_task_counted', 'set_run_limits',
          'set_model_limits', 'set_settings', 'get_settings', 'enable_hosted_dispatch', 'hosted_dispatch_status', 'upsert_agent',
          'delete_agent', 'upsert_tool', 'delete_tool', 'set_model_price'].includes(String(row.proname)),
      );
    }
  });

  it('in schema taskweave_private, signed-in users may run only the two helpers the read policies need', async () => {
    const rows = await db.sql<{ proname: string }[]>`
      select p.proname from pg_proc p
       where p.pronamespace = 'taskweave_private'::regnamespace and has_function_privilege('authenticated', p.oid, 'execute')
       order by 1`;
    expect(rows.map((r) => r.proname)).toEqual(['caller_role', 'is_operator']);
    const [anonRow] = await db.sql`
      select count(*)::int as n from pg_proc p
       where p.pronamespace = 'taskweave_private'::regnamespace and has_function_privilege('anon', p.oid, 'execute')`;
    expect(anonRow.n).toBe(0);
  });
});
