-- An approved tool call that cannot start ends as failed (0.3.1). When an operator approves a call with
-- edited arguments that do not fit the tool's input schema, process-task does not make the call and tells
-- the model why; until now the call's row stayed awaiting_approval for good. finish_tool_call now ends
-- such a call: approved, p_result null and p_error given -> failed with that error, never started.

create or replace function taskweave.finish_tool_call(p_task_id uuid, p_worker text, p_tool_call_id text, p_result jsonb, p_error text default null::text)
returns taskweave.tool_calls
language plpgsql
set search_path = ''
as $function$
declare
  v_call taskweave.tool_calls;
  v_review taskweave.human_reviews;
begin
  perform taskweave_private.validate_tool_call_id(p_tool_call_id, 'p_tool_call_id');
  if char_length(p_error) > 10000 then
    raise exception 'p_error must be at most 10000 characters (got %)', char_length(p_error) using errcode = '22023';
  end if;
  if octet_length(p_result::text) > 2097152 then
    raise exception 'p_result must be at most 2097152 bytes as JSON (got %); truncate it to the tool''s max_output_bytes',
      octet_length(p_result::text) using errcode = '22023';
  end if;
  perform taskweave_private.lock_leased_task(p_task_id, p_worker);
  select * into v_call from taskweave.tool_calls where task_id = p_task_id and tool_call_id = p_tool_call_id for update;
  if not found then
    raise exception 'tool call % of task % was never started', p_tool_call_id, p_task_id using errcode = 'P0002',
      hint = 'Record it with taskweave.start_tool_call before making it.';
  end if;

  if v_call.status in ('succeeded', 'failed', 'rejected') then
    if v_call.result is not distinct from p_result and v_call.error is not distinct from p_error then
      return v_call; -- the same result again (a retried request): nothing changes
    end if;
    raise exception 'tool call % of task % already ended (%) with another result', p_tool_call_id, p_task_id, v_call.status
      using errcode = '55000';
  end if;

  if v_call.status = 'awaiting_approval' then
    v_review := taskweave_private.latest_tool_call_review(p_task_id, p_tool_call_id, 'approval');
    if v_review.action = 'approve' and v_review.status = 'resolved' and p_result is null and p_error is not null then
      -- approved, but it could not start (the operator's edited arguments do not fit the tool's schema):
      -- it ends failed with the reason, never started, so a resumed run reads the failure back
      update taskweave.tool_calls
         set status = 'failed', error = p_error, ended_at = now(), duration_ms = 0
       where id = v_call.id
       returning * into v_call;
      return v_call;
    end if;
    if v_review.action is distinct from 'reject' or p_result is not null then
      raise exception 'tool call % of task % waits for approval: only a rejection (p_result null), or an approved call that cannot start (p_result null and p_error), can end it unstarted', p_tool_call_id, p_task_id
        using errcode = '55000';
    end if;
    update taskweave.tool_calls
       set status = 'rejected', error = coalesce(p_error, nullif(btrim(v_review.note), ''), 'rejected by ' || coalesce(v_review.resolved_by, 'an operator')),
           ended_at = now()
     where id = v_call.id
     returning * into v_call;
    return v_call;
  end if;

  update taskweave.tool_calls
     set status = case when p_error is null then 'succeeded' else 'failed' end,
         result = p_result, error = p_error, ended_at = now(),
         duration_ms = least(greatest(extract(epoch from (now() - started_at)) * 1000, 0), 2147483647)::integer
   where id = v_call.id
   returning * into v_call;
  return v_call;
end;
$function$;

comment on function taskweave.finish_tool_call(p_task_id uuid, p_worker text, p_tool_call_id text, p_result jsonb, p_error text) is 'The worker records a started tool call''s outcome (the lease holder only: TW001): succeeded with p_result, or failed with p_error (at most 10000 characters; p_result at most 2 MiB, already cut to the tool''s max_output_bytes). A call awaiting an approval ends unstarted: rejected when its review was rejected (p_result null; p_error defaults to the operator''s note), or failed with p_error when it was approved but cannot start (p_result null; the operator''s edited arguments do not fit the tool''s schema). The same outcome twice returns the row unchanged; another outcome for an ended call is 55000; P0002 for a call never started.';
