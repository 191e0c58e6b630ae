-- Taskweave 0.2.0 baseline, part 8: the history of every transition (task_events) and the
-- notifications that wake dispatchers, the web app and MCP clients.

create function taskweave_private.record_task_transition()
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
  -- ids are uuids and statuses come from the enum, so the payload needs no JSON escaping
  perform pg_catalog.pg_notify('task_changed', pg_catalog.format('{"id":"%s","root_task_id":"%s","parent_task_id":%s,"status":"%s","old_status":%s}',
    new.id, new.root_task_id, coalesce('"' || new.parent_task_id || '"', 'null'), new.status,
    case when tg_op = 'UPDATE' then '"' || old.status || '"' else 'null' end));
  if new.status = 'pending' then
    perform pg_catalog.pg_notify('task_ready', new.id::text);
  end if;
  return null;
end;
$$;
comment on function taskweave_private.record_task_transition() is
  'After a task is created or changes status: appends a task_events row (with the actor, and the reason of a cancel), '
  'notifies task_changed, and notifies task_ready when it became pending.';

create trigger tasks_record_created
  after insert on taskweave.tasks
  for each row execute function taskweave_private.record_task_transition();

create trigger tasks_record_status_change
  after update of status on taskweave.tasks
  for each row
  when (old.status is distinct from new.status)
  execute function taskweave_private.record_task_transition();

create function taskweave_private.notify_review_changed()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_notify('review_changed', json_build_object(
    'id', new.id, 'task_id', new.task_id, 'status', new.status, 'action', new.action, 'resolved_by', new.resolved_by)::text);
  return null;
end;
$$;
comment on function taskweave_private.notify_review_changed() is 'Notifies review_changed when a review opens or resolves, for live operator views.';

create trigger human_reviews_notify
  after insert or update of status on taskweave.human_reviews
  for each row execute function taskweave_private.notify_review_changed();

revoke all on function taskweave_private.record_task_transition(), taskweave_private.notify_review_changed() from public, anon, authenticated;
