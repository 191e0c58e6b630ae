// The hosted-dispatch migration: harmless without pg_net/Vault (this embedded Postgres has neither), and
// wired correctly when they exist. pg_net and Vault cannot be installed here, so the second test gives
// the database two stand-ins with their real signatures (net.http_post, vault.decrypted_secrets) that
// record what would have been sent.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { claim, createRoot, fail } from '../helpers/tasks.ts';

const db = useTestDatabase();

describe('hosted dispatch', () => {
  it('does nothing where pg_net and Vault are absent: tasks still flow, no call is attempted', async () => {
    const [ext] = await db.sql`select count(*)::int as n from pg_extension where extname in ('pg_net', 'pg_cron')`;
    expect(ext.n).toBe(0);
    const root = await createRoot(db.sql, 'no dispatch here');
    expect(root.status).toBe('pending');
    const [sweep] = await db.sql`select taskweave_private.sweep_due_tasks() as calls`;
    expect(sweep.calls).toBe(0);
    const [invoke] = await db.sql`select taskweave_private.invoke_process_task('{"max_tasks": 1}') as id`;
    expect(invoke.id).toBeNull();
  });

  it('with pg_net and Vault: invokes process-task for a task that becomes due, and the sweep calls claim mode', async () => {
    await db.sql.unsafe(`
      create schema net;
      create table net.calls (id bigserial primary key, url text, body jsonb, headers jsonb, timeout_milliseconds integer);
      create function net.http_post(url text, body jsonb default '{}', params jsonb default '{}', headers jsonb default '{}', timeout_milliseconds integer default 5000)
      returns bigint language sql as $$ insert into net.calls (url, body, headers, timeout_milliseconds) values (url, body, headers, timeout_milliseconds) returning id $$;
      create schema vault;
      create view vault.decrypted_secrets as
        select * from (values ('process_task_url', 'https://example.supabase.co/functions/v1/process-task'),
                              ('process_task_secret', 'sekret')) s(name, decrypted_secret);
    `);
    const root = await createRoot(db.sql, 'dispatched');
    const calls = await db.sql`select url, body, headers, timeout_milliseconds from net.calls order by id`;
    expect(calls).toEqual([
      {
        url: 'https://example.supabase.co/functions/v1/process-task',
        body: { task_id: root.id },
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sekret' },
        timeout_milliseconds: 150000,
      },
    ]);
    // a retry with backoff is not due yet: no call now; the sweep calls once it is due
    await claim(db.sql, root.id, 'w');
    await fail(db.sql, root.id, 'w', true);
    expect((await db.sql`select count(*)::int as n from net.calls`)[0].n).toBe(1);
    await db.sql`update taskweave.tasks set run_after = now() - interval '1 second' where id = ${root.id}`;
    const [sweep] = await db.sql`select taskweave_private.sweep_due_tasks() as calls`;
    expect(sweep.calls).toBe(1);
    const [last] = await db.sql`select body from net.calls order by id desc limit 1`;
    expect(last.body).toEqual({ max_tasks: 5 });
  });
});
