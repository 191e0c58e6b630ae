// Hosted dispatch: harmless without pg_net/pg_cron/Vault (this embedded Postgres has none of them), says
// exactly what is missing when asked to start, and, once they exist, invokes process-task in claim mode,
// never with more requests in flight than max_running and without a database-wide lock. pg_net, pg_cron
// and Vault cannot be installed here (Debian's postgresql-15-cron does not fit the embedded Postgres 17), so
// the tests give the database stand-ins with their real names and signatures (tests/helpers/hosted-stand-ins.ts).
import { describe, expect, it } from 'vitest';
import { asIdentity, operator, plainUser, useTestDatabase, type Sql } from '../helpers/database.ts';
import { claim, createRoot, fail, rejection, setSettings, withSettings } from '../helpers/tasks.ts';
import { installPgCron, installPgNet, installVault, PROCESS_TASK_SECRET, PROCESS_TASK_URL } from '../helpers/hosted-stand-ins.ts';

const db = useTestDatabase();

const status = async (sql: Sql = db.sql) => (await sql`select taskweave.hosted_dispatch_status() as s`)[0].s;
const enable = (sql: Sql = db.sql) => rejection(sql`select taskweave.enable_hosted_dispatch()`);
const answerAll = (status = 200) => db.sql`
  insert into net._http_response (id, status_code) select c.id, ${status} from net.calls c on conflict (id) do nothing`;

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
    await db.sql`update taskweave.tasks set status = 'cancelled' where id = ${root.id}`;
  });

  it('enable_hosted_dispatch names what is missing, one step at a time, with the dashboard step that fixes it', async () => {
    expect(await enable()).toEqual({ code: '55000', message: 'hosted dispatch cannot start: pg_net is not enabled: Postgres cannot invoke process-task' });
    const hint = async () => {
      try {
        await db.sql`select taskweave.enable_hosted_dispatch()`;
      } catch (error) {
        return (error as { hint?: string }).hint;
      }
    };
    expect(await hint()).toMatch(/^Fix: Dashboard -> Database -> Extensions -> enable pg_net/);
    const before = await status();
    expect(before).toMatchObject({
      ready: false,
      extensions: { pg_net: { enabled: false }, pg_cron: { enabled: false } },
      cron_job: null,
      vault_secrets: [{ name: 'process_task_url', present: false }, { name: 'process_task_secret', present: false }],
      in_flight: 0,
      max_running: 100,
      recent_failures: [],
    });
    expect(before.problems.map((p: { problem: string }) => p.problem)).toEqual([
      'pg_net is not enabled: Postgres cannot invoke process-task',
      expect.stringMatching(/^pg_cron is not enabled/),
      expect.stringMatching(/^Vault is not available/),
    ]);

    await installPgNet(db.sql);
    expect(await enable()).toMatchObject({ code: '55000', message: expect.stringMatching(/pg_cron is not enabled/) });
    expect(await hint()).toMatch(/enable pg_cron/);
    await installPgCron(db.sql);
    expect(await enable()).toMatchObject({ code: '55000', message: expect.stringMatching(/Vault is not available/) });
    await installVault(db.sql, { process_task_url: PROCESS_TASK_URL });
    expect(await enable()).toEqual({ code: '55000', message: 'hosted dispatch cannot start: the Vault secret process_task_secret is missing' });
    expect(await hint()).toMatch(/Integrations -> Vault -> Add new secret named process_task_secret/);
    // nothing was scheduled by the refusals
    expect(await db.sql`select * from cron.job`).toHaveLength(0);

    await db.sql`insert into vault.secrets (name, secret) values ('process_task_secret', ${PROCESS_TASK_SECRET})`;
    const [{ s: started }] = await db.sql`select taskweave.enable_hosted_dispatch() as s`;
    expect(started).toMatchObject({
      ready: true,
      problems: [],
      extensions: { pg_net: { enabled: true }, pg_cron: { enabled: true } },
      cron_job: { jobname: 'taskweave-hosted-tick', schedule: '5 seconds', active: true },
      vault_secrets: [{ name: 'process_task_url', present: true }, { name: 'process_task_secret', present: true }],
    });
    expect(JSON.stringify(started)).not.toContain(PROCESS_TASK_SECRET);
    const jobs = await db.sql`select jobname, schedule, command from cron.job`;
    expect(jobs).toEqual([{ jobname: 'taskweave-hosted-tick', schedule: '5 seconds', command: 'select taskweave_private.hosted_tick()' }]);
    // idempotent
    await db.sql`select taskweave.enable_hosted_dispatch()`;
    expect(await db.sql`select * from cron.job`).toHaveLength(1);
  });

  it('both are for operators only', async () => {
    for (const fn of ['enable_hosted_dispatch', 'hosted_dispatch_status']) {
      expect((await rejection(asIdentity(db.sql, plainUser(), (tx) => tx.unsafe(`select taskweave.${fn}()`)))).code).toBe('42501');
    }
    const [{ s }] = await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.hosted_dispatch_status() as s`);
    expect(s.ready).toBe(true);
  });

  it('invokes process-task in claim mode for a task that becomes due, and the sweep calls claim mode too', async () => {
    const root = await createRoot(db.sql, 'dispatched');
    const calls = await db.sql`select url, body, headers, timeout_milliseconds from net.calls order by id`;
    expect(calls).toEqual([
      {
        url: PROCESS_TASK_URL,
        body: { max_tasks: 1 },
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${PROCESS_TASK_SECRET}` },
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
    await db.sql`update taskweave.tasks set status = 'cancelled' where id = ${root.id}`;
  });

  it('reports requests in flight, the last failed responses and the last tick, and never a secret', async () => {
    await answerAll();
    expect((await status()).in_flight).toBe(0);
    const a = await createRoot(db.sql, 'a');
    const b = await createRoot(db.sql, 'b');
    expect((await status()).in_flight).toBe(2);
    const [first, second] = await db.sql`select id from net.calls order by id desc limit 2`;
    await db.sql`insert into net._http_response (id, status_code, content) values (${first.id}, 401, '{"error":{"code":"unauthorized"}}')`;
    await db.sql`insert into net._http_response (id, timed_out, error_msg) values (${second.id}, true, 'Timeout of 150000 ms reached')`;
    await db.sql`
      insert into cron.job_run_details (jobid, status, return_message, start_time, end_time)
      select jobid, 'succeeded', '1 row', now() - interval '1 second', now() from cron.job where jobname = 'taskweave-hosted-tick'`;
    const s = await status();
    expect(s.in_flight).toBe(0);
    expect(s.recent_failures).toEqual([
      expect.objectContaining({ request_id: Number(first.id), status_code: 401, body: '{"error":{"code":"unauthorized"}}' }),
      expect.objectContaining({ request_id: Number(second.id), timed_out: true, error: 'Timeout of 150000 ms reached' }),
    ]);
    expect(s.last_tick).toMatchObject({ status: 'succeeded', message: '1 row' });
    expect(JSON.stringify(s)).not.toContain(PROCESS_TASK_SECRET);
    await db.sql`update taskweave.tasks set status = 'cancelled' where id in (${a.id}, ${b.id})`;
  });

  it('the tick trims its own cron history and request log (older than an hour), and nobody else’s', async () => {
    await db.sql`insert into cron.job (jobname, schedule, command) values ('someone-else', '1 minute', 'select 1')`;
    await db.sql`
      insert into cron.job_run_details (jobid, status, start_time, end_time)
      select j.jobid, 'succeeded', now() - make_interval(hours => h), now() - make_interval(hours => h)
        from cron.job j cross join (values (0), (2), (30)) ages(h)`;
    await db.sql`insert into taskweave_private.dispatch_requests (request_id, sent_at) values (-1, now() - interval '2 hours')`;
    await db.sql`select taskweave_private.hosted_tick()`;
    const left = await db.sql`
      select j.jobname, count(*)::int as n, max(now() - d.end_time) < interval '1 hour' as only_recent
        from cron.job_run_details d join cron.job j using (jobid) group by j.jobname order by j.jobname`;
    expect(left).toEqual([
      { jobname: 'someone-else', n: 3, only_recent: false },
      { jobname: 'taskweave-hosted-tick', n: 2, only_recent: true },
    ]);
    expect(await db.sql`select 1 from taskweave_private.dispatch_requests where request_id = -1`).toHaveLength(0);
  });

  it('takes no database-wide lock: a transaction that creates a task does not wait for another one', async () => {
    await answerAll();
    const holder = db.client(1);
    const other = db.client(1);
    const [{ pid }] = await holder`select pg_backend_pid() as pid`;
    await holder`begin`;
    await holder`select taskweave.create_task('held open', 'x')`;
    // the open transaction holds one dispatch slot row, and no advisory lock
    const [{ n: advisory }] = await db.sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = ${pid}`;
    expect(advisory).toBe(0);
    await other`set statement_timeout = '3s'`;
    const [created] = await other`select (taskweave.create_task('not blocked', 'x')).id`;
    expect(created.id).toBeTruthy();
    const bodies = await db.sql`select body from net.calls order by id desc limit 1`;
    expect(bodies[0].body).toEqual({ max_tasks: 1 });
    await holder`commit`;
    await db.sql`update taskweave.tasks set status = 'cancelled' where status = 'pending'`;
  });

  it('never has more requests in flight than max_running, with 12 connections creating tasks at once', async () => {
    await answerAll();
    await setSettings(db.sql, { max_running: 3 });
    const clients = Array.from({ length: 12 }, () => db.client(1));
    await Promise.all(clients.map((c) => c`select 1`));
    const [{ before }] = await db.sql`select coalesce(max(id), 0)::bigint as before from net.calls`;
    await Promise.all(clients.map((c, i) => c`select taskweave.create_task('burst ' || ${i} || '.' || n, 'x') from generate_series(1, 2) n`));
    const sent = await db.sql`select body from net.calls where id > ${before}`;
    expect(sent).toHaveLength(3);
    expect(sent.every((c) => JSON.stringify(c.body) === '{"max_tasks":1}')).toBe(true);
    expect((await status()).in_flight).toBe(3);
    // one answers: the tick fills exactly that place
    await db.sql`insert into net._http_response (id, status_code) select id, 200 from net.calls where id > ${before} order by id limit 1`;
    expect((await db.sql`select taskweave_private.sweep_due_tasks() as n`)[0].n).toBe(1);
    expect((await status()).in_flight).toBe(3);
    // a raised cap makes room at once (its dispatch slots are made by set_settings)
    await setSettings(db.sql, { max_running: 5 });
    expect((await db.sql`select taskweave_private.sweep_due_tasks() as n`)[0].n).toBe(2);
    expect((await status()).in_flight).toBe(5);
    await db.sql`update taskweave.tasks set status = 'cancelled' where status = 'pending'`;
    await setSettings(db.sql, { max_running: null });
  });

  it('each invocation claims as the local dispatcher does: a new run goes before the rest of a wide one', async () => {
    await answerAll();
    const wide = await createRoot(db.sql, 'wide');
    await claim(db.sql, wide.id, 'w');
    await withSettings(db.sql, { max_children_per_task: 50 }, (tx) =>
      tx`select taskweave.create_parallel_task(${wide.id}, 'p' || i, 'x') from generate_series(1, 30) i`);
    const small = await createRoot(db.sql, 'small');
    const [{ n: byId }] = await db.sql`select count(*)::int as n from net.calls where body ? 'task_id'`;
    expect(byId).toBe(0);
    // what process-task does with {"max_tasks": 1}: claim_tasks(worker, 1)
    const [picked] = await db.sql`select id from taskweave.claim_tasks('hosted-invocation', 1)`;
    expect(picked.id).toBe(small.id);
  });
});
