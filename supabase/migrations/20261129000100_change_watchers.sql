-- task_changed only while someone watches. A transaction that sends a NOTIFY holds a database-wide lock
-- from just before its commit until the commit is done, so notifying task_changed on every transition
-- made claims and completions of unrelated tasks commit one at a time (about a third of engine
-- throughput, `npm run bench:engine`). Its only listeners are live views (the web app's live feed, the
-- MCP endpoint's wait_for_task); each now holds a lease in taskweave_private.change_watchers while it
-- listens, and the transition trigger notifies task_changed only while a lease is live.
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

-- The 0.2.0 trigger function, except that task_changed is sent only while a watcher's lease is live.
create or replace function taskweave_private.record_task_transition()
returns trigger
language plpgsql
-- no SET clause: runs on every transition, and a SET clause costs a GUC save/restore per call; it names
-- only schema-qualified objects (built-ins as pg_catalog.*), so search_path cannot redirect it
as $$
declare
  v_detail jsonb := pg_catalog.jsonb_build_object('attempt', new.attempt);
begin
  -- every status change passes here, so it builds only what this change needs
  if new.leased_by is not null then
    v_detail := v_detail || pg_catalog.jsonb_build_object('leased_by', new.leased_by);
  end if;
  if tg_op = 'INSERT' then
    if new.parent_task_id is not null then
      v_detail := v_detail || pg_catalog.jsonb_build_object('parent_task_id', new.parent_task_id);
    end if;
    if pg_catalog.cardinality(new.dependent_task_ids) > 0 then
      v_detail := v_detail || pg_catalog.jsonb_build_object('dependent_task_count', pg_catalog.cardinality(new.dependent_task_ids));
    end if;
  else
    if new.last_error is distinct from old.last_error then
      v_detail := v_detail || pg_catalog.jsonb_build_object('error', new.last_error);
    end if;
    if new.status = 'pending' and new.run_after > pg_catalog.now() then
      v_detail := v_detail || pg_catalog.jsonb_build_object('run_after', new.run_after);
    end if;
  end if;
  if new.activated_by is not null and new.status in ('pending', 'cancelled') and new.dependent_task_ids <> '{}' then
    v_detail := v_detail || pg_catalog.jsonb_build_object('activated_by', new.activated_by);
  end if;
  if new.status = 'cancelled' and new.cancel_reason is not null then
    v_detail := v_detail || pg_catalog.jsonb_build_object('reason', new.cancel_reason);
  end if;
  insert into taskweave.task_events (task_id, event, from_status, to_status, actor, detail)
  values (
    new.id,
    case when tg_op = 'INSERT' then 'created' else 'status_changed' end,
    case when tg_op = 'INSERT' then null else old.status end,
    new.status,
    taskweave_private.current_actor(),
    v_detail
  );
  -- task_changed only while someone listens for it: every notifying transaction serialises on the
  -- notify queue's lock through its commit
  if exists (select 1 from taskweave_private.change_watchers w where w.expires_at > pg_catalog.now()) then
    -- ids are uuids and statuses come from the enum, so the payload needs no JSON escaping
    perform pg_catalog.pg_notify('task_changed', pg_catalog.format('{"id":"%s","root_task_id":"%s","parent_task_id":%s,"status":"%s","old_status":%s}',
      new.id, new.root_task_id, coalesce('"' || new.parent_task_id || '"', 'null'), new.status,
      case when tg_op = 'UPDATE' then '"' || old.status || '"' else 'null' end));
  end if;
  if new.status = 'pending' then
    perform pg_catalog.pg_notify('task_ready', new.id::text);
  end if;
  return null;
end;
$$;
comment on function taskweave_private.record_task_transition() is
  'After a task is created or changes status: appends a task_events row (with the actor, and the reason of a cancel), '
  'notifies task_changed while a watcher''s lease is live (taskweave_private.change_watchers), and always notifies '
  'task_ready when it became pending.';
