-- Taskweave 0.3.0: what an operator is told after a cancel, and where a piece of work stands.
--
-- cancel_task_counted cancels as cancel_task does and reports how many tasks the cancel itself moved,
-- counted inside the same transaction by the UPDATE that cancelled them (counting before the cancel took
-- its locks once said "Cancelled" about a task that had just completed). cancel_task keeps its return
-- type; both go through taskweave_private.cancel_by_operator.
--
-- task_states is the one rule for a task's work and its answer (the web app's run pages and MCP get_task).

create function taskweave_private.cancel_by_operator(p_task_id uuid, p_note text)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_who text := taskweave_private.operator_name();
begin
  perform taskweave_private.require_operator('cancel tasks');
  if p_task_id is null then
    raise exception 'p_task_id must not be null' using errcode = '22023';
  end if;
  if char_length(p_note) > 10000 then
    raise exception 'p_note must be at most 10000 characters' using errcode = '22023';
  end if;
  if not exists (select 1 from taskweave.tasks where id = p_task_id) then
    raise exception 'task % not found', p_task_id using errcode = 'P0002';
  end if;
  perform taskweave_private.set_actor(v_who);
  return taskweave_private.cancel_subtrees(array[p_task_id],
    coalesce(nullif(btrim(p_note), ''), 'cancelled by ' || v_who), false);
end;
$$;
comment on function taskweave_private.cancel_by_operator(uuid, text) is
  'cancel_task''s work, written once: checks the operator and the arguments, cancels the task and every descendant that has '
  'not ended, and returns how many tasks this call cancelled.';

create or replace function taskweave.cancel_task(p_task_id uuid, p_note text default null)
returns taskweave.tasks
language plpgsql
volatile
-- security definer: operators have no write rights on the tables; the operator check is the first thing done
security definer
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
begin
  perform taskweave_private.cancel_by_operator(p_task_id, p_note);
  select * into v_task from taskweave.tasks where id = p_task_id;
  return v_task;
end;
$$;
comment on function taskweave.cancel_task(uuid, text) is
  'Operators and service_role: the task and every descendant that has not ended -> cancelled (a running one loses its lease, '
  'so its worker''s next call gets TW001 and it starts no model step); their open reviews resolve as abort; joins follow the '
  'join rule; task_events records who and why (p_note). Cancelling a root cancels the run. A task that already ended is '
  'returned as it is. cancel_task_counted does the same and says how many tasks it stopped.';
revoke all on function taskweave.cancel_task(uuid, text) from public, anon, authenticated;
grant execute on function taskweave.cancel_task(uuid, text) to authenticated, service_role;

create function taskweave.cancel_task_counted(p_task_id uuid, p_note text default null)
returns table (task_id uuid, title text, status taskweave.task_status, stopped integer)
language plpgsql
volatile
-- security definer: as cancel_task
security definer
set search_path = ''
as $$
declare
  v_stopped integer;
begin
  v_stopped := taskweave_private.cancel_by_operator(p_task_id, p_note);
  return query select t.id, t.title, t.status, v_stopped from taskweave.tasks t where t.id = p_task_id;
end;
$$;
comment on function taskweave.cancel_task_counted(uuid, text) is
  'cancel_task, answering with the task (id, title, status after the cancel) and stopped: how many tasks this call cancelled '
  '(it and what it started that had not ended), counted by the cancel itself. 0 when everything had already ended.';
revoke all on function taskweave.cancel_task_counted(uuid, text) from public, anon, authenticated;
grant execute on function taskweave.cancel_task_counted(uuid, text) to authenticated, service_role;

create function taskweave.task_states(p_task_ids uuid[])
returns table (task_id uuid, state text, open_reviews integer, answer_task_id uuid)
language plpgsql
stable
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_open integer;
  v_waiting integer;
  v_moving integer;
  v_final taskweave.tasks;
  v_next taskweave.tasks;
begin
  if cardinality(p_task_ids) > 1000 then
    raise exception 'p_task_ids may hold at most 1000 ids (got %)', cardinality(p_task_ids) using errcode = '22023';
  end if;
  -- security invoker: through RLS, a caller who may not see a task gets no row for it
  for v_task in select * from taskweave.tasks t where t.id = any (p_task_ids) order by t.created_at, t.id loop
    -- what is left under the task: a root's subtree is its run (the root_task_id index); other tasks walk down
    with recursive sub as (
      select s.id, s.status, s.wait_until from taskweave.tasks s where s.id = v_task.id and v_task.parent_task_id is not null
      union all
      select c.id, c.status, c.wait_until from taskweave.tasks c join sub on c.parent_task_id = sub.id
    ), tree as (
      select s.id, s.status, s.wait_until from sub s
      union all
      select r.id, r.status, r.wait_until from taskweave.tasks r where r.root_task_id = v_task.id and v_task.parent_task_id is null
    )
    -- the terminal statuses written out (taskweave_private.is_ended): signed-in operators run this as
    -- themselves, and may not run private helpers
    select count(*) filter (where s.status not in ('completed', 'failed', 'cancelled')),
           count(*) filter (where s.status = 'needs_human_review'),
           -- a queued aggregator moves on its own only when a join deadline will start it
           count(*) filter (where s.status not in ('completed', 'failed', 'cancelled', 'needs_human_review')
                              and (s.status <> 'queued' or s.wait_until is not null))
      into v_open, v_waiting, v_moving
      from tree s;

    -- the answer: the last aggregator the task started, followed down (an aggregator may fan out again)
    v_final := v_task;
    for i in 1..100 loop
      select * into v_next from taskweave.tasks a
       where a.parent_task_id = v_final.id and cardinality(a.dependent_task_ids) > 0
       order by a.created_at desc, a.id desc limit 1;
      exit when not found;
      v_final := v_next;
    end loop;

    task_id := v_task.id;
    open_reviews := v_waiting;
    answer_task_id := null;
    if v_waiting > 0 and v_moving = 0 then
      state := 'needs_operator';
    elsif v_open > 0 then
      state := 'running';
    elsif v_task.status <> 'completed' then
      state := v_task.status::text;
    else
      state := v_final.status::text;
      if v_final.status = 'completed' then
        answer_task_id := v_final.id;
      end if;
    end if;
    return next;
  end loop;
end;
$$;
comment on function taskweave.task_states(uuid[]) is
  'Where each task''s work stands, counting everything under it: running (work remains), needs_operator (nothing can move '
  'until a person resolves a review: open_reviews says how many wait), or, once all of it ended, completed, failed or '
  'cancelled: the task''s own end unless it completed, then the end of its answer. answer_task_id, set when the work '
  'completed: the last aggregator the task started (followed down), else the task itself; its output is the answer. '
  'The one rule for the web app''s run pages and MCP get_task. Read through RLS.';
revoke all on function taskweave.task_states(uuid[]) from public, anon, authenticated;
grant execute on function taskweave.task_states(uuid[]) to authenticated, service_role;

revoke all on function taskweave_private.cancel_by_operator(uuid, text) from public, anon, authenticated;
grant execute on function taskweave_private.cancel_by_operator(uuid, text) to service_role;
