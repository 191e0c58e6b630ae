-- task_changed only while someone watches. A transaction that sends a NOTIFY holds a database-wide lock
-- from just before its commit until the commit is done, so notifying task_changed on every transition
-- made claims and completions of unrelated tasks commit one at a time (about a third of engine
-- throughput, `npm run bench:engine`). Its only listeners are live views (the web app's live feed, the
-- MCP endpoint's wait_for_task); each now holds a lease in taskweave_private.change_watchers while it
-- listens, and the transition trigger notifies task_changed only while a lease is live: that check is in
-- taskweave_private.guard_task_transition, which 20261129000200_claim_hot_path.sql rewrites to write the
-- history and the notifications of every move (it replaces the AFTER trigger record_task_transition).
-- task_ready (DESIGN §3: sent when a task becomes pending) is unchanged and always sent.

create table taskweave_private.change_watchers (
  watcher text primary key,
  expires_at timestamptz not null
);
comment on table taskweave_private.change_watchers is
  'Leases of the processes that LISTEN for task_changed (the web app''s live feed, the mcp function''s wait_for_task). '
  'While one is live (expires_at > now()) every transition notifies task_changed; with none, only task_ready is sent. '
  'A listener renews its lease well before it expires, so one that dies stops the notifications within a lease.';
comment on column taskweave_private.change_watchers.watcher is 'Who listens: one id per process, e.g. web:<host>:<pid>:<random> or mcp:<uuid>.';
comment on column taskweave_private.change_watchers.expires_at is 'The lease ends here unless renewed (watch_changes).';

alter table taskweave_private.change_watchers enable row level security;

revoke all on taskweave_private.change_watchers from public, anon, authenticated;
-- service_role both holds leases and makes transitions (whose trigger reads this table)
grant select, insert, update, delete on taskweave_private.change_watchers to service_role;

create function taskweave_private.watch_changes(p_watcher text, p_seconds integer)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  if p_watcher is null or char_length(btrim(p_watcher)) = 0 or char_length(p_watcher) > 200 then
    raise exception 'p_watcher must be a non-empty name of at most 200 characters' using errcode = '22023';
  end if;
  perform taskweave_private.validate_seconds('p_seconds', p_seconds, 1, 3600);
  -- watchers that died without unwatching: their leases ran out
  delete from taskweave_private.change_watchers where expires_at <= now();
  insert into taskweave_private.change_watchers (watcher, expires_at)
  values (p_watcher, now() + make_interval(secs => p_seconds))
  on conflict (watcher) do update set expires_at = excluded.expires_at;
end;
$$;
comment on function taskweave_private.watch_changes(text, integer) is
  'Takes or renews the watcher''s lease on task_changed notifications for p_seconds (1..3600) and drops expired leases. '
  'Call it after LISTEN task_changed is in place and renew it well before it expires. A transition whose trigger ran '
  'before the lease committed was not notified: a new watcher re-reads once after it (see docs/architecture.md).';

create function taskweave_private.unwatch_changes(p_watcher text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  if p_watcher is null or char_length(btrim(p_watcher)) = 0 or char_length(p_watcher) > 200 then
    raise exception 'p_watcher must be a non-empty name of at most 200 characters' using errcode = '22023';
  end if;
  delete from taskweave_private.change_watchers where watcher = p_watcher;
end;
$$;
comment on function taskweave_private.unwatch_changes(text) is
  'Ends the watcher''s lease on task_changed notifications (when it stops listening); an unknown watcher is a no-op.';

revoke all on function
  taskweave_private.watch_changes(text, integer),
  taskweave_private.unwatch_changes(text)
  from public, anon, authenticated;
grant execute on function
  taskweave_private.watch_changes(text, integer),
  taskweave_private.unwatch_changes(text)
  to service_role;
