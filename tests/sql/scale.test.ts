// Parallel at scale, in SQL: the running cap under concurrent claims, run-fair claiming, shared model
// rate-limit windows, and hosted dispatch counting the invocations it has in flight.
import { afterEach, describe, expect, it } from 'vitest';
import { setSettings, useTestDatabase, withSettings, type Sql } from '../helpers/database.ts';
import { claim, createRoot, rejection } from '../helpers/tasks.ts';

const CAP = 10;
const db = useTestDatabase({ settings: { max_running: CAP } });

// each test starts with an empty cap: whatever a test left unfinished is cancelled
afterEach(async () => {
  await db.sql`select taskweave.cancel_task(id) from taskweave.tasks where parent_task_id is null`;
});

async function running(sql: Sql): Promise<number> {
  return (await sql`select count(*)::int as n from taskweave.tasks where status = 'running'`)[0].n as number;
}

async function completeAll(ids: string[], worker = 'w') {
  for (const id of ids) await db.sql`select taskweave.complete_task(${id}, ${worker}, '{}')`;
}

describe('the running cap (taskweave.max_running)', () => {
  it(`is never exceeded by 20 connections claiming at once, round after round, and never deadlocks`, async () => {
    await db.sql`select taskweave.create_task('bulk ' || i, 'x') from generate_series(1, 120) i`;
    const clients = Array.from({ length: 20 }, () => db.client(1));
    await Promise.all(clients.map((c) => c`select 1`));
    let done = 0;
    for (let round = 0; round < 6; round++) {
      const claimed = (
        await Promise.all(clients.map((c, i) => c<{ id: string }[]>`select id from taskweave.claim_tasks(${'w'}, 3)`.then((rows) => rows.map((r) => r.id + ':' + i))))
      ).flat();
      expect(claimed.length).toBe(CAP);
      expect(await running(db.sql)).toBe(CAP);
      // one more claim finds no room
      expect(await db.sql`select id from taskweave.claim_tasks('late', 5)`).toHaveLength(0);
      await completeAll(claimed.map((c) => c.split(':')[0]));
      done += claimed.length;
    }
    expect(done).toBe(6 * CAP);
    await Promise.all(clients.map((c) => c.end({ timeout: 2 })));
  });

  it('holds for a direct claim of one task too (TW005), and an expired lease can still be reclaimed at the cap', async () => {
    const ids = (await db.sql<{ id: string }[]>`select (taskweave.create_task('c' || i, 'x')).id from generate_series(1, ${CAP + 1}) i`).map((r) => r.id);
    for (const id of ids.slice(0, CAP)) await claim(db.sql, id, 'w');
    expect(await rejection(db.sql`select taskweave.claim_task(${ids[CAP]}, 'w')`)).toEqual({
      code: 'TW005',
      message: `the running cap is reached: ${CAP} tasks run at once (taskweave.max_running)`,
    });
    await db.sql`update taskweave.tasks set lease_expires_at = now() - interval '1 second' where id = ${ids[0]}`;
    const [again] = await db.sql`select id, leased_by from taskweave.claim_tasks('rescuer', 5)`;
    expect(again).toEqual({ id: ids[0], leased_by: 'rescuer' });
    expect(await running(db.sql)).toBe(CAP);
    await completeAll(ids.slice(1, CAP));
    await db.sql`select taskweave.complete_task(${ids[0]}, 'rescuer', '{}')`;
    await db.sql`select taskweave.cancel_task(${ids[CAP]})`;
  });
  it('gives a slot back whenever a task stops running, and reuses it', async () => {
    const ids = (await db.sql<{ id: string }[]>`select (taskweave.create_task('s' || i, 'x')).id from generate_series(1, ${CAP + 6}) i`).map((r) => r.id);
    const first = await db.sql<{ id: string; running_slot: number }[]>`select id, running_slot from taskweave.claim_tasks('w', ${CAP + 6})`;
    expect(first.map((r) => r.running_slot).sort((a, b) => a - b)).toEqual(Array.from({ length: CAP }, (_, i) => i + 1));
    const [done, retried, released, cancelled] = first.map((r) => r.id);
    await db.sql`select taskweave.complete_task(${done}, 'w', '{}')`;
    await db.sql`select taskweave.fail_task(${retried}, 'w', '{"category": "model", "message": "try again"}')`;
    await db.sql`select taskweave.release_task(${released}, 'w')`;
    await db.sql`select taskweave.cancel_task(${cancelled})`;
    const stopped = await db.sql<{ running_slot: number | null }[]>`
      select running_slot from taskweave.tasks where id in ${db.sql([done, retried, released, cancelled])}`;
    expect(stopped.map((r) => r.running_slot)).toEqual([null, null, null, null]);
    expect(await running(db.sql)).toBe(CAP - 4);
    // exactly the four freed slots go to the next claims (retried waits for its backoff)
    const freed = first.slice(0, 4).map((r) => r.running_slot).sort((a, b) => a - b);
    const next = await db.sql<{ running_slot: number }[]>`select running_slot from taskweave.claim_tasks('w', 10)`;
    expect(next.map((r) => r.running_slot).sort((a, b) => a - b)).toEqual(freed);
    expect(await running(db.sql)).toBe(CAP);
    const [{ n: distinct }] = await db.sql`select count(distinct running_slot)::int as n from taskweave.tasks where status = 'running'`;
    expect(distinct).toBe(CAP);
    expect(ids).toHaveLength(CAP + 6);
  });

  it('a lowered cap starts nothing until the running tasks are under it; tasks started with no cap count too', async () => {
    const session = db.client(1);
    try {
      // started while the cap was off: no slots, but they are running
      await db.sql`select taskweave.create_task('u' || i, 'x') from generate_series(1, ${CAP + 8}) i`;
      await setSettings(db.sql, { max_running: 0 });
      const uncapped = await session<{ id: string; running_slot: number | null }[]>`select id, running_slot from taskweave.claim_tasks('w', ${CAP + 2})`;
      expect(uncapped).toHaveLength(CAP + 2);
      expect(uncapped.every((r) => r.running_slot === null)).toBe(true);
      await setSettings(db.sql, { max_running: CAP });
      // the cap is back: nothing starts while 12 run under a cap of 10
      expect(await db.sql`select id from taskweave.claim_tasks('w', 5)`).toHaveLength(0);
      await completeAll(uncapped.slice(0, 3).map((r) => r.id));
      expect(await running(db.sql)).toBe(CAP - 1);
      expect(await db.sql`select id from taskweave.claim_tasks('w', 5)`).toHaveLength(1);
      expect(await running(db.sql)).toBe(CAP);
      // lowered to 3 while 10 run: nothing starts until fewer than 3 run
      await setSettings(db.sql, { max_running: 3 });
      expect(await session`select id from taskweave.claim_tasks('w', 5)`).toHaveLength(0);
      const busy = await db.sql<{ id: string }[]>`select id from taskweave.tasks where status = 'running' order by id`;
      await completeAll(busy.slice(0, busy.length - 2).map((r) => r.id));
      expect(await running(db.sql)).toBe(2);
      const more = await session<{ running_slot: number }[]>`select running_slot from taskweave.claim_tasks('w', 5)`;
      expect(more).toHaveLength(1);
      expect(more[0].running_slot).toBeGreaterThanOrEqual(1);
      expect(more[0].running_slot).toBeLessThanOrEqual(3);
      expect(await running(db.sql)).toBe(3);
    } finally {
      await setSettings(db.sql, { max_running: CAP });
      await session.end({ timeout: 2 });
    }
  });

  it('holds under 20 connections mixing batch claims and direct claims, with tasks ending meanwhile', async () => {
    const ids = (await db.sql<{ id: string }[]>`select (taskweave.create_task('m' || i, 'x')).id from generate_series(1, 200) i`).map((r) => r.id);
    const clients = Array.from({ length: 20 }, () => db.client(1));
    await Promise.all(clients.map((c) => c`select 1`));
    let most = 0;
    const watcher = db.client(1);
    let watching = true;
    const watch = (async () => {
      while (watching) {
        most = Math.max(most, await running(watcher));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    let next = 0;
    await Promise.all(
      clients.map(async (c, i) => {
        for (let step = 0; step < 12; step++) {
          let claimed: string[] = [];
          if (i % 2 === 0) {
            claimed = (await c<{ id: string }[]>`select id from taskweave.claim_tasks(${'w' + i}, 4)`).map((r) => r.id);
          } else {
            const id = ids[next++ % ids.length];
            const outcome = await c`select (taskweave.claim_task(${id}, ${'w' + i})).id`.then(
              (rows) => rows[0].id as string,
              (e: { code?: string }) => e.code,
            );
            if (outcome === id) claimed = [id];
            else expect(['TW005', '55000']).toContain(outcome);
          }
          for (const id of claimed) await c`select taskweave.complete_task(${id}, ${'w' + i}, '{}')`;
        }
      }),
    );
    watching = false;
    await watch;
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(CAP);
    const [{ n: doubled }] = await db.sql`
      select count(*)::int as n from (select task_id from taskweave.task_events where to_status = 'completed' group by task_id having count(*) > 1) d`;
    expect(doubled).toBe(0);
    await Promise.all([...clients, watcher].map((c) => c.end({ timeout: 2 })));
  });

  it('a completion looks its task up by primary key, not through the index over running tasks', async () => {
    // Statistics taken while nothing runs make the partial indexes over running tasks look free, so a
    // generic plan (plpgsql's from a session's sixth call) with a status test would scan every running
    // task to complete one. Count the index scans of the completing session's own transaction (with
    // sequential scans off, since this table is small enough for one).
    const ids = (await db.sql<{ id: string }[]>`select (taskweave.create_task('k' || i, 'x')).id from generate_series(1, ${CAP}) i`).map((r) => r.id);
    await db.sql`analyze taskweave.tasks`;
    for (const id of ids) await claim(db.sql, id, 'w');
    const session = db.client(1);
    try {
      const scans = await session.begin(async (tx) => {
        await tx`set local enable_seqscan = off`;
        for (const id of ids) await tx`select taskweave.complete_task(${id}, 'w', '{}')`;
        return tx<{ index: string; scans: number }[]>`
          select i.indexrelid::regclass::text as index, pg_stat_get_xact_numscans(i.indexrelid)::int as scans
            from pg_index i where i.indrelid = 'taskweave.tasks'::regclass order by 1`;
      });
      const byIndex = Object.fromEntries(scans.map((s) => [s.index, s.scans]));
      expect(byIndex['taskweave.tasks_pkey']).toBeGreaterThanOrEqual(CAP);
      expect(byIndex['taskweave.tasks_running_slot_idx']).toBe(0);
      expect(byIndex['taskweave.tasks_lease_expiry_idx']).toBe(0);
      expect(await running(db.sql)).toBe(0);
    } finally {
      await session.end({ timeout: 2 });
    }
  });
});

describe('fair claiming across runs', () => {
  it('a new run starts before the rest of a wide run, and two wide runs take turns', async () => {
    const wide = await createRoot(db.sql, 'wide');
    await claim(db.sql, wide.id, 'w');
    const children = (await withSettings(db.sql, { max_children_per_task: 200 }, async (tx) => {
      return tx`select t.id from generate_series(1, 150) i cross join lateral taskweave.create_parallel_task(${wide.id}, 'p' || i, 'x') t`;
    })) as unknown as { id: string }[];
    expect(children).toHaveLength(150);
    // the wide run fills most of the cap
    const first = await db.sql<{ root_task_id: string }[]>`select root_task_id from taskweave.claim_tasks('w', ${CAP - 2})`;
    expect(first.every((r) => r.root_task_id === wide.id)).toBe(true);
    // a new run arrives while 140 of the wide run's tasks wait: it goes first
    const small = await createRoot(db.sql, 'small');
    const [next] = await db.sql`select id from taskweave.claim_tasks('w', 1)`;
    expect(next.id).toBe(small.id);

    // a second wide run: from now on the two interleave
    const other = await createRoot(db.sql, 'other wide');
    await db.sql`select taskweave.complete_task(${small.id}, 'w', '{}')`;
    await db.sql`select taskweave.claim_task(${other.id}, 'w')`;
    await withSettings(db.sql, { max_children_per_task: 200 }, async (tx) => {
      await tx`select taskweave.create_parallel_task(${other.id}, 'q' || i, 'x') from generate_series(1, 150) i`;
    });
    // free the cap and take 8 more: the other run's early ranks come before the wide run's later ones
    const busy = await db.sql<{ id: string; leased_by: string }[]>`select id, leased_by from taskweave.tasks where status = 'running'`;
    for (const t of busy) if (t.id !== wide.id && t.id !== other.id) await db.sql`select taskweave.complete_task(${t.id}, ${t.leased_by}, '{}')`;
    const turn = await db.sql<{ root_task_id: string }[]>`select root_task_id from taskweave.claim_tasks('w', 8)`;
    const fromOther = turn.filter((r) => r.root_task_id === other.id).length;
    expect(fromOther).toBeGreaterThanOrEqual(4);
    expect(turn.length - fromOther).toBeGreaterThanOrEqual(0);
    await db.sql`select taskweave.cancel_task(${wide.id})`;
    await db.sql`select taskweave.cancel_task(${other.id})`;
  });
});

describe('model rate limits (set_model_limits)', () => {
  it('rejects bad limits and is for service_role only', async () => {
    expect(await rejection(db.sql`select taskweave.set_model_limits('', 10)`)).toMatchObject({ code: '22023' });
    expect(await rejection(db.sql`select taskweave.set_model_limits('m', 0)`)).toEqual({
      code: '22023',
      message: 'p_requests_per_minute must be between 1 and 1000000 (got 0)',
    });
    const denied = await rejection(
      db.sql.begin(async (tx) => {
        await tx.unsafe('set local role authenticated');
        return tx`select taskweave.set_model_limits('m', 10)`;
      }),
    );
    expect(denied.code).toBe('42501');
  });

  it('hands out exactly requests_per_minute requests to 20 workers asking at once; the rest learn how long to wait', async () => {
    await db.sql`select taskweave.set_model_limits('shared-model', 5)`;
    const roots = (await db.sql<{ id: string }[]>`select (taskweave.create_task('m' || i, 'x')).id from generate_series(1, ${CAP}) i`).map((r) => r.id);
    for (const id of roots) await claim(db.sql, id, 'w');
    const clients = Array.from({ length: 20 }, () => db.client(1));
    const answers = await Promise.all(
      clients.map((c, i) => c<{ r: { wait_ms: number } }[]>`select taskweave.begin_model_step(${roots[i % CAP]}, 'w', 'shared-model') as r`),
    );
    const waits = answers.map((a) => a[0].r.wait_ms);
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    for (const w of waits.filter((w) => w > 0)) expect(w).toBeGreaterThan(50_000); // the window frees a minute after the first
    const [waiting] = await db.sql`select count(*)::int as n from taskweave.tasks where model_wait_until > now()`;
    expect(waiting.n).toBeGreaterThan(0);
    // a model without limits is never held
    expect((await db.sql`select taskweave.begin_model_step(${roots[0]}, 'w', 'unlimited') as r`)[0].r).toEqual({ wait_ms: 0 });
    await Promise.all(clients.map((c) => c.end({ timeout: 2 })));
    await completeAll(roots);
  });

  it('counts tokens per minute from the usage of each step', async () => {
    await db.sql`select taskweave.set_model_limits('token-model', 100, 1000)`;
    const root = await createRoot(db.sql, 'tokens');
    await claim(db.sql, root.id, 'w');
    expect((await db.sql`select taskweave.begin_model_step(${root.id}, 'w', 'token-model') as r`)[0].r).toEqual({ wait_ms: 0 });
    await db.sql`select taskweave.append_task_message(${root.id}, 'w', 'assistant', '"big"', '{"input_tokens": 900, "output_tokens": 200}')`;
    const [next] = await db.sql`select taskweave.begin_model_step(${root.id}, 'w', 'token-model') as r`;
    expect(next.r.wait_ms).toBeGreaterThan(0);
    await db.sql`select taskweave.set_model_limits('token-model', null)`;
    expect((await db.sql`select taskweave.begin_model_step(${root.id}, 'w', 'token-model') as r`)[0].r).toEqual({ wait_ms: 0 });
    await completeAll([root.id]);
  });
});

describe('hosted dispatch under the cap', () => {
  it('never has more invocations in flight than max_running; answered ones make room for the sweep', async () => {
    // stand-ins with pg_net's and Vault's real signatures (neither can be installed here)
    const sql = db.client(1);
    await sql.unsafe(`
      create schema net;
      create table net.calls (id bigserial primary key, url text, body jsonb);
      create table net._http_response (id bigint primary key, status_code integer, created timestamptz not null default now());
      create function net.http_post(url text, body jsonb default '{}', params jsonb default '{}', headers jsonb default '{}', timeout_milliseconds integer default 5000)
      returns bigint language sql as $$ insert into net.calls (url, body) values (url, body) returning id $$;
      create schema vault;
      create view vault.decrypted_secrets as
        select * from (values ('process_task_url', 'https://example.supabase.co/functions/v1/process-task'),
                              ('process_task_secret', 'sekret')) s(name, decrypted_secret);
    `);
    await sql`select taskweave.create_task('h' || i, 'x') from generate_series(1, 25) i`;
    const calls = async () => (await sql`select count(*)::int as n from net.calls`)[0].n as number;
    expect(await calls()).toBe(CAP);
    expect((await sql`select taskweave_private.dispatch_in_flight() as n`)[0].n).toBe(CAP);
    // nothing answered yet: the sweep sends nothing
    expect((await sql`select taskweave_private.sweep_due_tasks() as n`)[0].n).toBe(0);
    // three invocations answer: three places free up, and the sweep fills them in claim mode
    await sql`insert into net._http_response (id, status_code) select id, 200 from net.calls order by id limit 3`;
    expect((await sql`select taskweave_private.sweep_due_tasks() as n`)[0].n).toBe(3);
    expect(await calls()).toBe(CAP + 3);
    const [last] = await sql`select body from net.calls order by id desc limit 1`;
    expect(last.body).toEqual({ max_tasks: 5 });
    expect((await sql`select taskweave_private.dispatch_in_flight() as n`)[0].n).toBe(CAP);
  });
});
