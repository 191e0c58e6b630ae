-- Taskweave 0.2.0 baseline, part 6: what operators do: resolve reviews, cancel, raise a run's limits,
-- and set the shared model rate limits. Each of these functions is security definer: operators (role
-- authenticated) have no write rights on the tables, so the function is the one door, and it checks the
-- operator itself before changing anything.

create function taskweave_private.operator_name()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce((select auth.jwt()) ->> 'email', (select auth.jwt()) ->> 'sub', taskweave_private.caller_role())
$$;
comment on function taskweave_private.operator_name() is 'The operator acting now, for resolved_by and task_events: JWT email, else subject, else the role.';

create function taskweave_private.require_operator(p_what text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if not taskweave_private.is_operator() then
    raise exception 'only operators may %', p_what using errcode = '42501',
      hint = 'An operator has app_metadata.role = "operator" in their JWT; service_role and the schema owner may too.';
  end if;
end;
$$;
comment on function taskweave_private.require_operator(text) is 'Raises 42501 unless the caller is an operator (taskweave_private.is_operator).';

create function taskweave_private.cancel_subtrees(p_task_ids uuid[], p_reason text, p_skip_locked boolean)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_ids uuid[];
  v_locked uuid[];
  v_count integer;
begin
  -- the tasks and every descendant that has not ended
  with recursive tree as (
    select t.id from taskweave.tasks t where t.id = any (p_task_ids)
    union
    select c.id from taskweave.tasks c join tree on c.parent_task_id = tree.id
  )
  select array_agg(t.id order by t.id) into v_ids
    from taskweave.tasks t join tree on tree.id = t.id
   where not taskweave_private.is_ended(t.status);
  if v_ids is null then
    return 0;
  end if;

  if p_skip_locked then
    -- inside the fan-in trigger we hold a counter row that the holders of these rows may be waiting
    -- for: take only what is free now, and leave the rest to taskweave_private.sweep()
    select array_agg(l.id) into v_locked
      from (select t.id from taskweave.tasks t where t.id = any (v_ids) order by t.id for no key update skip locked) l;
    insert into taskweave_private.pending_cancellations (task_id, reason)
    select u.id, p_reason from unnest(v_ids) as u(id) where not (u.id = any (coalesce(v_locked, '{}')))
    on conflict (task_id) do nothing;
    v_ids := v_locked;
    if v_ids is null then
      return 0;
    end if;
  else
    -- Lock every row first, in creation order within the run (claim_rank), before any update touches a
    -- counter row. A completing worker holds its task and then needs the rows of its aggregators, which
    -- were created after it: while we wait for its task we hold only older rows, so it never waits for us.
    perform 1 from taskweave.tasks t where t.id = any (v_ids) order by t.claim_rank, t.id for no key update;
  end if;

  update taskweave.tasks
     set status = 'cancelled', cancel_reason = p_reason
   where id = any (v_ids) and not taskweave_private.is_ended(status);
  get diagnostics v_count = row_count;

  update taskweave.human_reviews
     set status = 'resolved', action = 'abort', note = p_reason, resolved_by = taskweave_private.current_actor(), resolved_at = now()
   where task_id = any (v_ids) and status = 'open';
  return v_count;
end;
$$;
comment on function taskweave_private.cancel_subtrees(uuid[], text, boolean) is
  'Cancels the given tasks and every descendant that has not ended (a running one loses its lease); their open reviews '
  'resolve as abort. Joins follow the fan-in trigger. With p_skip_locked, rows locked by others are queued for the sweep.';

create function taskweave.cancel_task(p_task_id uuid, p_note text default null)
returns taskweave.tasks
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_who text := taskweave_private.operator_name();
begin
  perform taskweave_private.require_operator('cancel tasks');
  if p_task_id is null then
    raise exception 'p_task_id must not be null' using errcode = '22023';
  end if;
  if char_length(p_note) > 10000 then
    raise exception 'p_note must be at most 10000 characters' using errcode = '22023';
  end if;
  select * into v_task from taskweave.tasks where id = p_task_id;
  if not found then
    raise exception 'task % not found', p_task_id using errcode = 'P0002';
  end if;
  perform taskweave_private.set_actor(v_who);
  perform taskweave_private.cancel_subtrees(array[p_task_id],
    coalesce(nullif(btrim(p_note), ''), 'cancelled by ' || v_who), false);
  select * into v_task from taskweave.tasks where id = p_task_id;
  return v_task;
end;
$$;
comment on function taskweave.cancel_task(uuid, text) is
  'Operators and service_role: the task and every descendant that has not ended -> cancelled (a running one loses its lease, '
  'so its worker''s next call gets TW001 and it starts no model step); their open reviews resolve as abort; joins follow the '
  'join rule; task_events records who and why (p_note). Cancelling a root cancels the run. A task that already ended is returned as it is.';
revoke all on function taskweave.cancel_task(uuid, text) from public, anon, authenticated;
grant execute on function taskweave.cancel_task(uuid, text) to authenticated, service_role;

create function taskweave.resolve_review(
  p_review_id uuid,
  p_action text,
  p_manual_output jsonb default null,
  p_note text default null
)
returns taskweave.human_reviews
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_review taskweave.human_reviews;
  v_task taskweave.tasks;
  v_who text := taskweave_private.operator_name();
begin
  perform taskweave_private.require_operator('resolve reviews');
  if p_action is null or p_action not in ('retry', 'abort', 'manual') then
    raise exception 'p_action must be retry, abort or manual (got %)', coalesce(p_action, 'null') using errcode = '22023';
  end if;
  if p_action = 'manual' and p_manual_output is null then
    raise exception 'a manual resolution needs p_manual_output' using errcode = '22023';
  end if;
  if p_action <> 'manual' and p_manual_output is not null then
    raise exception 'p_manual_output is only for a manual resolution (action was %)', p_action using errcode = '22023';
  end if;
  if char_length(p_note) > 10000 then
    raise exception 'p_note must be at most 10000 characters' using errcode = '22023';
  end if;

  select * into v_review from taskweave.human_reviews where id = p_review_id;
  if not found then
    raise exception 'review % not found', p_review_id using errcode = 'P0002';
  end if;
  -- the task row first, then the review, the order cancel_task takes them in (no deadlock between the two);
  -- two operators clicking at once: the second waits here, then sees the first one's resolution
  perform 1 from taskweave.tasks where id = v_review.task_id for no key update;
  select * into v_review from taskweave.human_reviews where id = p_review_id for update;
  if v_review.status = 'resolved' then
    raise exception 'review % is already resolved (% by % at %)', p_review_id, v_review.action, v_review.resolved_by,
      to_char(v_review.resolved_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')
      using errcode = 'TW002';
  end if;
  select * into v_task from taskweave.tasks where id = v_review.task_id;
  if v_task.status <> 'needs_human_review' then
    raise exception 'task % is % and no longer waits for a review', v_task.id, v_task.status using errcode = 'TW003';
  end if;

  perform taskweave_private.set_actor(v_who);
  update taskweave.human_reviews
     set status = 'resolved', action = p_action, manual_output = p_manual_output, note = p_note,
         resolved_by = v_who, resolved_at = now()
   where id = p_review_id
   returning * into v_review;

  if p_action = 'retry' then
    update taskweave.tasks set status = 'pending', attempt = 0, idle_releases = 0, run_after = now() where id = v_task.id;
  elsif p_action = 'abort' then
    update taskweave.tasks set status = 'cancelled', cancel_reason = coalesce(nullif(btrim(p_note), ''), 'aborted by ' || v_who)
     where id = v_task.id;
  else
    update taskweave.tasks
       set status = 'completed',
           output = jsonb_build_object('source', 'manual', 'value', p_manual_output, 'resolved_by', v_who,
                                       'resolved_at', now(), 'review_id', p_review_id)
     where id = v_task.id;
  end if;
  return v_review;
end;
$$;
comment on function taskweave.resolve_review(uuid, text, jsonb, text) is
  'An operator''s decision on an open review: retry (task pending, attempts renewed), abort (task cancelled) or manual '
  '(task completed with {"source": "manual", "value": ...}). Records who and when. Operators and service_role only (42501); '
  'a review resolves once: a second call, even a simultaneous one, raises TW002 naming who resolved it; TW003 when the task '
  'no longer waits (it was cancelled).';
revoke all on function taskweave.resolve_review(uuid, text, jsonb, text) from public, anon, authenticated;
grant execute on function taskweave.resolve_review(uuid, text, jsonb, text) to authenticated, service_role;

create function taskweave.set_run_limits(p_root_task_id uuid, p_limits jsonb)
returns taskweave.tasks
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_root taskweave.tasks;
begin
  perform taskweave_private.require_operator('change run limits');
  perform taskweave_private.validate_limits(p_limits);
  select * into v_root from taskweave.tasks where id = p_root_task_id;
  if not found then
    raise exception 'task % not found', p_root_task_id using errcode = 'P0002';
  end if;
  if v_root.parent_task_id is not null then
    raise exception 'task % is not a root task; its run is %', p_root_task_id, v_root.root_task_id using errcode = '22023';
  end if;
  update taskweave.runs
     set max_tasks = case when p_limits ? 'max_tasks' then (p_limits ->> 'max_tasks')::integer else max_tasks end,
         max_tokens = case when p_limits ? 'max_tokens' then (p_limits ->> 'max_tokens')::bigint else max_tokens end,
         deadline_at = case when p_limits ? 'deadline_seconds'
                            then v_root.created_at + make_interval(secs => (p_limits ->> 'deadline_seconds')::bigint)
                            else deadline_at end,
         updated_at = now()
   where root_task_id = p_root_task_id;
  insert into taskweave.task_events (task_id, event, from_status, to_status, actor, detail)
  values (p_root_task_id, 'limits_changed', v_root.status, v_root.status, taskweave_private.operator_name(), jsonb_build_object('limits', p_limits));
  return v_root;
end;
$$;
comment on function taskweave.set_run_limits(uuid, jsonb) is
  'Operators and service_role: replaces the given limits of a run (keys as in create_task; null removes a limit; absent keys '
  'stay), e.g. to raise a budget and go on with a Retry. Recorded in task_events as limits_changed.';
revoke all on function taskweave.set_run_limits(uuid, jsonb) from public, anon, authenticated;
grant execute on function taskweave.set_run_limits(uuid, jsonb) to authenticated, service_role;

create function taskweave.set_model_limits(p_model text, p_requests_per_minute integer, p_tokens_per_minute integer default null)
returns void
language plpgsql
volatile
-- security definer: service_role sets limits in a private table it may not otherwise write in production setups
security definer
set search_path = ''
as $$
begin
  if p_model is null or char_length(btrim(p_model)) = 0 or char_length(p_model) > 200 then
    raise exception 'p_model must be a non-empty model name of at most 200 characters' using errcode = '22023';
  end if;
  if p_requests_per_minute is null then
    if p_tokens_per_minute is not null then
      raise exception 'p_tokens_per_minute needs p_requests_per_minute' using errcode = '22023';
    end if;
    delete from taskweave_private.model_limits where model = p_model;
    return;
  end if;
  perform taskweave_private.validate_seconds('p_requests_per_minute', p_requests_per_minute, 1, 1000000);
  if p_tokens_per_minute is not null then
    perform taskweave_private.validate_seconds('p_tokens_per_minute', p_tokens_per_minute, 1, 1000000000);
  end if;
  insert into taskweave_private.model_limits (model, requests_per_minute, tokens_per_minute)
  values (p_model, p_requests_per_minute, p_tokens_per_minute)
  on conflict (model) do update
    set requests_per_minute = excluded.requests_per_minute, tokens_per_minute = excluded.tokens_per_minute, updated_at = now();
end;
$$;
comment on function taskweave.set_model_limits(text, integer, integer) is
  'service_role: requests and tokens per minute for one model name (as the worker names it: LLM_MODEL, or "demo"), shared by '
  'every worker through begin_model_step. A null p_requests_per_minute removes the model''s limits.';
revoke all on function taskweave.set_model_limits(text, integer, integer) from public, anon, authenticated;
grant execute on function taskweave.set_model_limits(text, integer, integer) to service_role;

revoke all on function
  taskweave_private.operator_name(),
  taskweave_private.require_operator(text),
  taskweave_private.cancel_subtrees(uuid[], text, boolean)
  from public, anon, authenticated;
grant execute on function
  taskweave_private.operator_name(),
  taskweave_private.require_operator(text),
  taskweave_private.cancel_subtrees(uuid[], text, boolean)
  to service_role;
