-- Taskweave 0.3.0: resolving a review of any kind (failure, approval, question, interrupted_call).
--
-- A review is resolved in one place, taskweave_private.apply_review_resolution: resolve_review (one
-- review) and resolve_reviews (a filter, next migration) both lock the task and the review, then call
-- it, so a bulk resolution is audited exactly as a single one. Which actions a kind takes is written
-- once too (taskweave_private.review_actions), and agrees with human_reviews_kind_action_check.
--
-- Resuming: a person's decision on an approval, a question or an interrupted call, and a failure's
-- retry, put the task back to pending with a new round of attempts (attempt 0). The loop finds the
-- decision on the review row by request->>'tool_call_id' (action, manual_output, note). A failure's
-- manual completes the task with the person's output. Abort, allowed for every kind, cancels the task
-- and everything under it that has not ended, as cancel_task does; a failure's manual cancels what the
-- task's own children had not finished (nothing is left spending the run's budget for a task that is done).

create function taskweave_private.review_actions(p_kind text)
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case p_kind
    when 'failure' then array['retry', 'abort', 'manual']
    when 'approval' then array['approve', 'reject', 'abort']
    when 'question' then array['answer', 'abort']
    when 'interrupted_call' then array['retry', 'manual', 'abort']
    else array[]::text[]
  end
$$;
comment on function taskweave_private.review_actions(text) is
  'The actions a review of this kind may be resolved with (abort for every kind). The one list: resolve_review and '
  'resolve_reviews check against it; the table constraint human_reviews_kind_action_check says the same.';

create function taskweave_private.check_review_action(p_kind text, p_action text, p_manual_output jsonb, p_note text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_allowed text[] := taskweave_private.review_actions(p_kind);
begin
  if p_action is null or not (p_action = any (v_allowed)) then
    if p_kind = 'failure' then
      raise exception 'p_action must be retry, abort or manual (got %)', coalesce(p_action, 'null') using errcode = '22023';
    end if;
    raise exception 'p_action must be % for % review (got %)',
      array_to_string(v_allowed[1:cardinality(v_allowed) - 1], ', ') || ' or ' || v_allowed[cardinality(v_allowed)],
      case p_kind when 'approval' then 'an approval' when 'question' then 'a question' else 'an interrupted_call' end,
      coalesce(p_action, 'null')
      using errcode = '22023';
  end if;

  if p_action = 'manual' then
    if p_manual_output is null then
      raise exception '%', case when p_kind = 'failure' then 'a manual resolution needs p_manual_output'
                                else 'a manual resolution needs p_manual_output (the result the tool call should have returned)' end
        using errcode = '22023';
    end if;
  elsif p_action = 'approve' then
    if p_manual_output is not null
       and (jsonb_typeof(p_manual_output) <> 'object'
            or (select array_agg(k) from jsonb_object_keys(p_manual_output) k) <> array['arguments']
            or jsonb_typeof(p_manual_output -> 'arguments') <> 'object') then
      raise exception 'p_manual_output of an approve must be null (the call runs as asked) or {"arguments": {...}} with the edited arguments as a JSON object'
        using errcode = '22023';
    end if;
  elsif p_action = 'answer' then
    if p_manual_output is null
       or jsonb_typeof(p_manual_output) <> 'object'
       or (select array_agg(k) from jsonb_object_keys(p_manual_output) k) <> array['answer']
       or jsonb_typeof(p_manual_output -> 'answer') = 'null' then
      raise exception 'an answer needs p_manual_output {"answer": ...}: the answer the model is given'
        using errcode = '22023';
    end if;
    if jsonb_typeof(p_manual_output -> 'answer') = 'string' and btrim(p_manual_output ->> 'answer') = '' then
      raise exception 'the answer in p_manual_output must not be empty' using errcode = '22023';
    end if;
  elsif p_manual_output is not null then
    raise exception 'p_manual_output is only for a manual resolution (action was %)', p_action using errcode = '22023';
  end if;

  if p_action = 'reject' and (p_note is null or btrim(p_note) = '') then
    raise exception 'a reject needs p_note: the reason the model is given instead of the tool''s result' using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.check_review_action(text, text, jsonb, text) is
  'Raises 22023 naming what is wrong when an action does not fit a review of this kind: an action the kind does not take, '
  'manual without output, approve with anything but {"arguments": {...}}, answer without {"answer": ...}, reject without a reason.';

create function taskweave_private.apply_review_resolution(
  p_review taskweave.human_reviews,
  p_task taskweave.tasks,
  p_action text,
  p_manual_output jsonb,
  p_note text,
  p_who text
)
returns taskweave.human_reviews
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_review taskweave.human_reviews;
  v_detail jsonb;
  v_children uuid[];
begin
  perform taskweave_private.set_actor(p_who);
  update taskweave.human_reviews
     set status = 'resolved', action = p_action, manual_output = p_manual_output, note = p_note,
         resolved_by = p_who, resolved_at = now()
   where id = p_review.id
   returning * into v_review;

  -- the decision in the task's history, beside the status change the guard records: what was edited,
  -- answered or given, so the audit does not depend on the review row alone. Not a move: no statuses.
  v_detail := jsonb_build_object('review_id', v_review.id, 'kind', v_review.kind, 'action', p_action);
  if v_review.request ? 'tool_call_id' then
    v_detail := v_detail || jsonb_build_object('tool_call_id', v_review.request -> 'tool_call_id');
  end if;
  if p_note is not null then
    v_detail := v_detail || jsonb_build_object('note', p_note);
  end if;
  if p_action = 'approve' then
    v_detail := v_detail || jsonb_build_object('edited', p_manual_output is not null);
    if p_manual_output is not null then
      v_detail := v_detail || jsonb_build_object('arguments', p_manual_output -> 'arguments',
                                                 'requested_arguments', v_review.request -> 'arguments');
    end if;
  elsif p_action = 'answer' then
    v_detail := v_detail || jsonb_build_object('answer', p_manual_output -> 'answer');
  elsif p_action = 'manual' then
    v_detail := v_detail || jsonb_build_object('manual_output', p_manual_output);
  end if;
  insert into taskweave.task_events (task_id, event, from_status, to_status, actor, detail)
  values (p_task.id, 'review_resolved', null, null, p_who, v_detail);

  if p_action = 'abort' then
    perform taskweave_private.cancel_subtrees(array[p_task.id],
      coalesce(nullif(btrim(p_note), ''), 'aborted by ' || p_who), false);
  elsif p_action = 'manual' and v_review.kind = 'failure' then
    -- the task is done by hand: what it started and has not finished would only spend the run's budget.
    -- Its children are younger than it (higher claim_rank), so they are locked before the aggregators the
    -- completion wakes, the order cancel_subtrees and completing workers take rows in.
    select array_agg(c.id order by c.id) into v_children
      from taskweave.tasks c
     where c.parent_task_id = p_task.id and not taskweave_private.is_ended(c.status);
    if v_children is not null then
      perform taskweave_private.cancel_subtrees(v_children,
        'its parent task was completed by hand by ' || p_who, false);
    end if;
    update taskweave.tasks
       set status = 'completed',
           output = jsonb_build_object('source', 'manual', 'value', p_manual_output, 'resolved_by', p_who,
                                       'resolved_at', now(), 'review_id', v_review.id)
     where id = p_task.id;
  else
    -- retry of a failure, and every decision the loop carries on from (approve, reject, answer, an
    -- interrupted call's retry or manual): a person's decision starts a new round of attempts
    update taskweave.tasks set status = 'pending', attempt = 0, idle_releases = 0, run_after = now()
     where id = p_task.id;
  end if;
  return v_review;
end;
$$;
comment on function taskweave_private.apply_review_resolution(taskweave.human_reviews, taskweave.tasks, text, jsonb, text, text) is
  'The one place a review is resolved. The caller holds the locks of the task and the review, the review is open, the task '
  'waits in needs_human_review and the action fits the kind (check_review_action). Records the decision on the review and '
  'as a review_resolved task_events row, then moves the task: abort cancels its subtree, a failure''s manual completes it '
  '(cancelling what its children had not finished), anything else makes it pending with attempt 0.';

create or replace function taskweave.resolve_review(
  p_review_id uuid,
  p_action text,
  p_manual_output jsonb default null,
  p_note text default null
)
returns taskweave.human_reviews
language plpgsql
volatile
-- security definer: operators (role authenticated) have no write rights on the tables; this function is
-- their one door, and it checks the operator itself before reading or changing anything
security definer
set search_path = ''
as $$
declare
  v_review taskweave.human_reviews;
  v_task taskweave.tasks;
  v_who text := taskweave_private.operator_name();
begin
  perform taskweave_private.require_operator('resolve reviews');
  if p_review_id is null then
    raise exception 'p_review_id must not be null' using errcode = '22023';
  end if;
  if char_length(p_note) > 10000 then
    raise exception 'p_note must be at most 10000 characters' using errcode = '22023';
  end if;

  select * into v_review from taskweave.human_reviews where id = p_review_id;
  if not found then
    raise exception 'review % not found', p_review_id using errcode = 'P0002';
  end if;
  perform taskweave_private.check_review_action(v_review.kind, p_action, p_manual_output, p_note);

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

  return taskweave_private.apply_review_resolution(v_review, v_task, p_action, p_manual_output, p_note, v_who);
end;
$$;
comment on function taskweave.resolve_review(uuid, text, jsonb, text) is
  'An operator''s decision on an open review, by kind. failure: retry (task pending, attempts renewed), abort, or manual '
  '(task completed with {"source": "manual", "value": ...}; what its children had not finished is cancelled). approval: '
  'approve (p_manual_output null, or {"arguments": {...}} to edit them) or reject (p_note: the reason the model gets). '
  'question: answer (p_manual_output {"answer": ...}). interrupted_call: retry (run the call again) or manual (p_manual_output '
  'is the call''s result). Those four resume the task (pending, attempt 0); the loop reads the decision from this row by '
  'request->>''tool_call_id''. abort, for every kind: the task and everything under it that has not ended is cancelled. '
  'Records who and when, and a review_resolved task_events row. Operators and service_role only (42501); 22023 for an '
  'action that does not fit the kind; a review resolves once: a second call, even a simultaneous one, raises TW002 naming '
  'who resolved it; TW003 when the task no longer waits (it was cancelled).';
revoke all on function taskweave.resolve_review(uuid, text, jsonb, text) from public, anon, authenticated;
grant execute on function taskweave.resolve_review(uuid, text, jsonb, text) to authenticated, service_role;

revoke all on function
  taskweave_private.review_actions(text),
  taskweave_private.check_review_action(text, text, jsonb, text),
  taskweave_private.apply_review_resolution(taskweave.human_reviews, taskweave.tasks, text, jsonb, text, text)
  from public, anon, authenticated;
grant execute on function
  taskweave_private.review_actions(text),
  taskweave_private.check_review_action(text, text, jsonb, text),
  taskweave_private.apply_review_resolution(taskweave.human_reviews, taskweave.tasks, text, jsonb, text, text)
  to service_role;
