// task_changed is sent only while a listener holds a lease (taskweave_private.change_watchers); task_ready
// is sent whenever a task becomes pending, watched or not. Every test listens on a connection of its own
// and ends with a sentinel NOTIFY on task_changed: notifications arrive in commit order, so once the
// sentinel is in, whatever the transitions before it sent is in too.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { anon, asIdentity, operator, plainUser, serviceRole, useTestDatabase, type Sql } from '../helpers/database.ts';
import { claim, complete, createParallel, createRoot, rejection } from '../helpers/tasks.ts';

const db = useTestDatabase();
let listener: Sql;
let changed: string[] = [];
let ready: string[] = [];

beforeAll(async () => {
  listener = db.client(1);
  await listener.listen('task_changed', (payload) => changed.push(payload));
  await listener.listen('task_ready', (payload) => ready.push(payload));
});

afterEach(async () => {
  await db.sql`delete from taskweave_private.change_watchers`;
  changed = [];
  ready = [];
});

/** Everything notified before this call has arrived once it returns (bounded: 5 s). */
async function settle() {
  const sentinel = `sentinel-${Math.random()}`;
  await db.sql`select pg_notify('task_changed', ${sentinel})`;
  const deadline = Date.now() + 5_000;
  while (!changed.includes(sentinel)) {
    if (Date.now() > deadline) throw new Error('the sentinel notification did not arrive within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  changed = changed.filter((p) => p !== sentinel);
}

const watchers = () => db.sql<{ watcher: string; live: boolean }[]>`
  select watcher, expires_at > now() as live from taskweave_private.change_watchers order by watcher`;

describe('task_changed only while someone watches', () => {
  it('with no watcher, a transition sends no task_changed, and task_ready still arrives', async () => {
    const root = await createRoot(db.sql, 'unwatched');
    await claim(db.sql, root.id, 'w');
    await complete(db.sql, root.id, 'w');
    await settle();
    expect(changed).toEqual([]);
    expect(ready).toEqual([root.id]);
    // the history is written all the same
    const [{ n }] = await db.sql`select count(*)::int as n from taskweave.task_events where task_id = ${root.id}`;
    expect(n).toBe(3);
  });

  it('with a live watcher, every transition sends task_changed with the same payload as before', async () => {
    await db.sql`select taskweave_private.watch_changes('test:live', 60)`;
    const root = await createRoot(db.sql, 'watched');
    const child = await createParallel(db.sql, root.id, 'child');
    await claim(db.sql, root.id, 'w');
    await settle();
    expect(changed.map((p) => Object.keys(JSON.parse(p)))).toEqual(Array(3).fill(['id', 'root_task_id', 'parent_task_id', 'status', 'old_status']));
    expect(changed.map((p) => JSON.parse(p))).toEqual([
      { id: root.id, root_task_id: root.id, parent_task_id: null, status: 'pending', old_status: null },
      { id: child.id, root_task_id: root.id, parent_task_id: root.id, status: 'pending', old_status: null },
      { id: root.id, root_task_id: root.id, parent_task_id: null, status: 'running', old_status: 'pending' },
    ]);
    expect(ready).toEqual([root.id, child.id]);
  });

  it('transitions made as service_role and by an operator (cancel_task) notify a watcher too', async () => {
    await asIdentity(db.sql, serviceRole, (tx) => tx`select taskweave_private.watch_changes('test:service-role', 60)`);
    expect(await watchers()).toEqual([{ watcher: 'test:service-role', live: true }]);
    const [made] = await asIdentity(db.sql, serviceRole, (tx) => tx<{ id: string }[]>`select id from taskweave.create_task('as service_role', 'i')`);
    await asIdentity(db.sql, operator(), (tx) => tx`select taskweave.cancel_task(${made.id})`);
    await settle();
    expect(changed.map((p) => JSON.parse(p).status)).toEqual(['pending', 'cancelled']);
  });

  it('an expired lease sends none, and the next watch_changes clears it', async () => {
    await db.sql`insert into taskweave_private.change_watchers (watcher, expires_at) values ('test:gone', now() - interval '1 second')`;
    const root = await createRoot(db.sql, 'expired watcher');
    await claim(db.sql, root.id, 'w');
    await settle();
    expect(changed).toEqual([]);
    expect(ready).toEqual([root.id]);

    await db.sql`select taskweave_private.watch_changes('test:new', 1)`;
    expect(await watchers()).toEqual([{ watcher: 'test:new', live: true }]);
    // a lease runs out by itself when it is not renewed
    await new Promise((r) => setTimeout(r, 1_100));
    await complete(db.sql, root.id, 'w');
    await settle();
    expect(changed).toEqual([]);
  });

  it('renews a lease in place, and unwatch_changes ends it', async () => {
    await db.sql`select taskweave_private.watch_changes('test:renew', 5)`;
    const [first] = await db.sql`select expires_at from taskweave_private.change_watchers where watcher = 'test:renew'`;
    await db.sql`select taskweave_private.watch_changes('test:renew', 600)`;
    const rows = await db.sql`select expires_at from taskweave_private.change_watchers where watcher = 'test:renew'`;
    expect(rows).toHaveLength(1);
    expect(rows[0].expires_at.getTime()).toBeGreaterThan(first.expires_at.getTime() + 590_000);

    await db.sql`select taskweave_private.unwatch_changes('test:renew')`;
    await db.sql`select taskweave_private.unwatch_changes('test:never-watched')`;
    expect(await watchers()).toEqual([]);
    const root = await createRoot(db.sql, 'after unwatch');
    await settle();
    expect(changed).toEqual([]);
    expect(ready).toEqual([root.id]);
  });

  it.each([
    ['no watcher', null, 60, /p_watcher must be a non-empty name/],
    ['a blank watcher', '   ', 60, /p_watcher must be a non-empty name/],
    ['an overlong watcher', 'w'.repeat(201), 60, /p_watcher must be a non-empty name of at most 200 characters/],
    ['no seconds', 'test:bad', null, /p_seconds must be between 1 and 3600 \(got null\)/],
    ['zero seconds', 'test:bad', 0, /p_seconds must be between 1 and 3600 \(got 0\)/],
    ['negative seconds', 'test:bad', -5, /p_seconds must be between 1 and 3600 \(got -5\)/],
    ['over an hour', 'test:bad', 3601, /p_seconds must be between 1 and 3600 \(got 3601\)/],
  ])('watch_changes with %s is 22023 and changes nothing', async (_label, watcher, seconds, message) => {
    // an expired lease is left alone too: the call is refused before it cleans up
    await db.sql`insert into taskweave_private.change_watchers (watcher, expires_at) values ('test:expired', now() - interval '1 minute')`;
    const before = await db.sql`select * from taskweave_private.change_watchers order by watcher`;
    const error = await rejection(db.sql`select taskweave_private.watch_changes(${watcher}, ${seconds}::int)`);
    expect(error.code).toBe('22023');
    expect(error.message).toMatch(message);
    expect(await db.sql`select * from taskweave_private.change_watchers order by watcher`).toEqual(before);
  });

  it('unwatch_changes without a watcher is 22023', async () => {
    expect((await rejection(db.sql`select taskweave_private.unwatch_changes(${null})`)).code).toBe('22023');
    expect((await rejection(db.sql`select taskweave_private.unwatch_changes('')`)).code).toBe('22023');
  });

  it('only service_role (and the owner) may take a lease or read the leases', async () => {
    for (const identity of [anon, plainUser(), operator()]) {
      const denied = await rejection(asIdentity(db.sql, identity, (tx) => tx`select taskweave_private.watch_changes('test:intruder', 60)`));
      expect(denied.code).toBe('42501');
      const unwatch = await rejection(asIdentity(db.sql, identity, (tx) => tx`select taskweave_private.unwatch_changes('test:intruder')`));
      expect(unwatch.code).toBe('42501');
      const read = await rejection(asIdentity(db.sql, identity, (tx) => tx`select * from taskweave_private.change_watchers`));
      expect(read.code).toBe('42501');
    }
    expect(await watchers()).toEqual([]);
  });
});
