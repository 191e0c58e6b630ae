-- Taskweave 0.3.0: the worker's side of tool calls and of pausing for a person.
--
-- Exactly once, or a person decides: the loop records a call as started (start_tool_call) before it makes
-- it and its result after (finish_tool_call). A run that dies in between leaves a started row; on resume
-- the loop runs it again only when the tool is idempotent, and otherwise asks an operator
-- (request_human, kind interrupted_call), who chooses retry or manual. A tool that requires approval is
-- started only after an operator approved the call (kind approval); ask_human asks a question (kind
-- question). request_human puts the running task in needs_human_review, without a lease and outside the
-- running cap; the operator's resolve_review sends it back to pending, and the loop reads the decision with
-- get_tool_call_review.

create function taskweave_private.validate_tool_call_id(p_tool_call_id text, p_name text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_tool_call_id is null or char_length(p_tool_call_id) not between 1 and 200 then
    raise exception '% must be 1 to 200 characters (got %)', p_name, coalesce(char_length(p_tool_call_id)::text || ' characters', 'null')
      using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.validate_tool_call_id(text, text) is 'Raises 22023 naming the field unless a tool call id is 1 to 200 characters.';

create function taskweave_private.validate_tool_arguments(p_arguments jsonb, p_name text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_arguments is null or jsonb_typeof(p_arguments) <> 'object' then
    raise exception '% must be a JSON object (got %)', p_name, coalesce(jsonb_typeof(p_arguments), 'null') using errcode = '22023';
  end if;
  if octet_length(p_arguments::text) > 1048576 then
    raise exception '% must be at most 1048576 bytes as JSON (got %)', p_name, octet_length(p_arguments::text) using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.validate_tool_arguments(jsonb, text) is 'Raises 22023 naming the field unless tool arguments are a JSON object of at most 1 MiB.';

create function taskweave_private.lock_leased_task(p_task_id uuid, p_worker text)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
begin
  perform taskweave_private.validate_worker(p_worker);
  if p_task_id is null then
    raise exception 'p_task_id must not be null' using errcode = '22023';
  end if;
  -- the task row lock orders everything one task records, as append_task_message does
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  perform taskweave_private.set_actor(p_worker);
  return v_task;
end;
$$;
comment on function taskweave_private.lock_leased_task(uuid, text) is 'Locks a task for its worker: P0002 unknown, TW001 unless the worker holds its lease.';

create function taskweave_private.latest_tool_call_review(p_task_id uuid, p_tool_call_id text, p_kind text)
returns taskweave.human_reviews
language sql
stable
set search_path = ''
as $$
  select r.* from taskweave.human_reviews r
   where r.task_id = p_task_id and r.request ->> 'tool_call_id' = p_tool_call_id and (p_kind is null or r.kind = p_kind)
   order by r.created_at desc, r.id desc
   limit 1
$$;
comment on function taskweave_private.latest_tool_call_review(uuid, text, text) is 'The newest review about one tool call of a task (of one kind, or any when p_kind is null).';

create function taskweave.start_tool_call(
  p_task_id uuid,
  p_worker text,
  p_tool_call_id text,
  p_tool_slug text,
  p_tool_name text,
  p_arguments jsonb
)
returns taskweave.tool_calls
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_tool taskweave.tools;
  v_call taskweave.tool_calls;
  v_review taskweave.human_reviews;
  v_approved jsonb;
begin
  perform taskweave_private.validate_tool_call_id(p_tool_call_id, 'p_tool_call_id');
  if p_tool_name is null or p_tool_name !~ '^[A-Za-z0-9_.-]{1,200}$' then
    raise exception 'p_tool_name must be 1 to 200 letters, digits, _ . or - (got %)', coalesce('"' || left(p_tool_name, 100) || '"', 'null')
      using errcode = '22023';
  end if;
  perform taskweave_private.validate_tool_arguments(p_arguments, 'p_arguments');
  perform taskweave_private.lock_leased_task(p_task_id, p_worker);

  if p_tool_slug is not null then
    select * into v_tool from taskweave.tools where slug = p_tool_slug;
    if not found then
      raise exception 'p_tool_slug names an unknown tool "%"', left(p_tool_slug, 100) using errcode = '22023';
    end if;
    if (v_tool.kind = 'mcp' and (strpos(p_tool_name, p_tool_slug || '__') <> 1 or char_length(p_tool_name) <= char_length(p_tool_slug) + 2))
       or (v_tool.kind <> 'mcp' and p_tool_name <> p_tool_slug) then
      raise exception 'p_tool_name "%" is not a name of tool "%" (% tool: %)', p_tool_name, p_tool_slug, v_tool.kind,
        case when v_tool.kind = 'mcp' then p_tool_slug || '__<name>' else p_tool_slug end
        using errcode = '22023';
    end if;
  end if;

  select * into v_call from taskweave.tool_calls where task_id = p_task_id and tool_call_id = p_tool_call_id for update;
  if not found then
    if v_tool.requires_approval then
      raise exception 'tool "%" requires an operator''s approval before each call; ask with taskweave.request_human(kind approval) first', p_tool_slug
        using errcode = '55000';
    end if;
    insert into taskweave.tool_calls (task_id, tool_call_id, tool_slug, tool_name, arguments, status)
    values (p_task_id, p_tool_call_id, p_tool_slug, p_tool_name, p_arguments, 'started')
    returning * into v_call;
    return v_call;
  end if;

  if v_call.tool_name <> p_tool_name or v_call.tool_slug is distinct from p_tool_slug then
    raise exception 'tool call % of task % was already made to "%", not "%"', p_tool_call_id, p_task_id, v_call.tool_name, p_tool_name
      using errcode = 'TW006', hint = 'A tool call id names one call: repeat it with the same tool and arguments, or make a new call.';
  end if;

  if v_call.status = 'awaiting_approval' then
    v_review := taskweave_private.latest_tool_call_review(p_task_id, p_tool_call_id, 'approval');
    if v_review.id is null or v_review.status = 'open' or v_review.action is distinct from 'approve' then
      raise exception 'tool call % of task % has not been approved (%)', p_tool_call_id, p_task_id,
        coalesce('review ' || v_review.id || ' ' || coalesce(v_review.action, v_review.status), 'no review')
        using errcode = '55000',
              hint = 'A rejected call is recorded with taskweave.finish_tool_call and never started.';
    end if;
    -- the operator may have edited the arguments: only what they approved runs
    v_approved := coalesce(v_review.manual_output -> 'arguments', v_call.arguments);
    if p_arguments <> v_approved then
      raise exception 'tool call % of task % was approved with other arguments', p_tool_call_id, p_task_id
        using errcode = 'TW006', hint = 'Start it with the arguments of the approval (get_tool_call_review: manual_output.arguments, else the requested ones).';
    end if;
    update taskweave.tool_calls set status = 'started', arguments = v_approved, started_at = now()
     where id = v_call.id
     returning * into v_call;
    return v_call;
  end if;

  if v_call.arguments <> p_arguments then
    raise exception 'tool call % of task % was already made with other arguments', p_tool_call_id, p_task_id
      using errcode = 'TW006', hint = 'A tool call id names one call: repeat it with the same tool and arguments, or make a new call.';
  end if;
  if v_call.status = 'started' then
    -- an operator chose retry since the call last started: it starts again now, and that retry is spent
    v_review := taskweave_private.latest_tool_call_review(p_task_id, p_tool_call_id, 'interrupted_call');
    if v_review.action = 'retry' and v_review.resolved_at > v_call.started_at then
      update taskweave.tool_calls set started_at = now() where id = v_call.id returning * into v_call;
    end if;
  end if;
  return v_call;
end;
$$;
comment on function taskweave.start_tool_call(uuid, text, text, text, text, jsonb) is
  'The worker records a tool call as started before making it (the lease holder only: TW001). p_tool_slug is the registered '
  'tool (null for a built-in); p_tool_name the name the model called (the slug, or <slug>__<name> for an MCP tool). Returns '
  'the call''s row: a new one (status started), or the existing one for the same id, tool and arguments, unchanged: started '
  '(it may have run: see tools.idempotent), or finished (its saved result). TW006 for the same id with another tool or '
  'arguments. A tool with requires_approval starts only after an approval (55000 before; the approved, possibly edited '
  'arguments only). A started call whose interrupted_call review was resolved retry since it last started starts again '
  '(started_at moves on, so the retry is used once).';
revoke all on function taskweave.start_tool_call(uuid, text, text, text, text, jsonb) from public, anon, authenticated;
grant execute on function taskweave.start_tool_call(uuid, text, text, text, text, jsonb) to service_role;

create function taskweave.finish_tool_call(
  p_task_id uuid,
  p_worker text,
  p_tool_call_id text,
  p_result jsonb,
  p_error text default null
)
returns taskweave.tool_calls
language plpgsql
volatile
set search_path = ''
as $$
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
    if v_review.action is distinct from 'reject' or p_result is not null then
      raise exception 'tool call % of task % waits for approval: only a rejection (p_result null) can end it unstarted', p_tool_call_id, p_task_id
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
$$;
comment on function taskweave.finish_tool_call(uuid, text, text, jsonb, text) is
  'The worker records a started tool call''s outcome (the lease holder only: TW001): succeeded with p_result, or failed with '
  'p_error (at most 10000 characters; p_result at most 2 MiB, already cut to the tool''s max_output_bytes). A call awaiting an '
  'approval that was rejected ends as rejected (p_result null; p_error defaults to the operator''s note). The same outcome '
  'twice returns the row unchanged; another outcome for an ended call is 55000; P0002 for a call never started.';
revoke all on function taskweave.finish_tool_call(uuid, text, text, jsonb, text) from public, anon, authenticated;
grant execute on function taskweave.finish_tool_call(uuid, text, text, jsonb, text) to service_role;

create function taskweave.request_human(p_task_id uuid, p_worker text, p_kind text, p_request jsonb)
returns taskweave.human_reviews
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_call taskweave.tool_calls;
  v_tool taskweave.tools;
  v_review taskweave.human_reviews;
  v_tool_call_id text;
  v_tool_name text;
  v_request jsonb;
  v_options text[];
  v_question text;
begin
  if p_kind is null or p_kind not in ('approval', 'question', 'interrupted_call') then
    raise exception 'p_kind must be approval, question or interrupted_call (got %)', coalesce('"' || left(p_kind, 100) || '"', 'null')
      using errcode = '22023', hint = 'A failure goes to review through taskweave.fail_task.';
  end if;
  if p_request is null or jsonb_typeof(p_request) <> 'object' then
    raise exception 'p_request must be a JSON object (got %)', coalesce(jsonb_typeof(p_request), 'null') using errcode = '22023';
  end if;
  v_tool_call_id := taskweave_private.json_text(p_request -> 'tool_call_id', 'p_request.tool_call_id', 200);
  perform taskweave_private.validate_tool_call_id(v_tool_call_id, 'p_request.tool_call_id');

  if p_kind = 'approval' then
    perform taskweave_private.json_object_keys_in(p_request, 'p_request', array['tool_call_id', 'tool', 'arguments', 'reason', 'input_schema']);
    v_tool_name := taskweave_private.json_text(p_request -> 'tool', 'p_request.tool', 200);
    if v_tool_name is null then
      raise exception 'p_request.tool is required: the name the model called' using errcode = '22023';
    end if;
    perform taskweave_private.validate_tool_arguments(p_request -> 'arguments', 'p_request.arguments');
    perform taskweave_private.json_text(p_request -> 'reason', 'p_request.reason', 2000);
    if p_request ? 'input_schema' and (jsonb_typeof(p_request -> 'input_schema') <> 'object' or octet_length((p_request -> 'input_schema')::text) > 65536) then
      raise exception 'p_request.input_schema must be a JSON Schema object of at most 65536 bytes' using errcode = '22023';
    end if;
    select * into v_tool from taskweave.tools where slug = split_part(v_tool_name, '__', 1);
    if not found then
      raise exception 'p_request.tool "%" is not a registered tool''s name', left(v_tool_name, 100) using errcode = '22023';
    end if;
    v_request := jsonb_build_object('tool_call_id', v_tool_call_id, 'tool', v_tool_name, 'arguments', p_request -> 'arguments',
                                    'reason', coalesce(p_request ->> 'reason', format('tool "%s" requires approval', v_tool.slug)))
                 || case when p_request ? 'input_schema' then jsonb_build_object('input_schema', p_request -> 'input_schema') else '{}' end;
  elsif p_kind = 'question' then
    perform taskweave_private.json_object_keys_in(p_request, 'p_request', array['tool_call_id', 'question', 'options']);
    v_question := taskweave_private.json_text(p_request -> 'question', 'p_request.question', 10000);
    if v_question is null or char_length(btrim(v_question)) = 0 then
      raise exception 'p_request.question must be a non-empty string' using errcode = '22023';
    end if;
    v_options := coalesce(taskweave_private.json_text_array(p_request -> 'options', 'p_request.options', 20, 500), '{}');
    v_request := jsonb_build_object('tool_call_id', v_tool_call_id, 'question', v_question, 'options', to_jsonb(v_options));
  else
    perform taskweave_private.json_object_keys_in(p_request, 'p_request', array['tool_call_id', 'tool', 'arguments', 'started_at']);
  end if;

  v_task := taskweave_private.lock_leased_task(p_task_id, p_worker);

  if p_kind = 'approval' then
    select * into v_call from taskweave.tool_calls where task_id = p_task_id and tool_call_id = v_tool_call_id for update;
    if found and (v_call.status <> 'awaiting_approval' or v_call.tool_name <> v_tool_name or v_call.arguments <> p_request -> 'arguments') then
      raise exception 'tool call % of task % is already % (%); it cannot wait for approval again', v_tool_call_id, p_task_id,
        v_call.status, v_call.tool_name
        using errcode = '55000';
    end if;
    v_review := taskweave_private.latest_tool_call_review(p_task_id, v_tool_call_id, 'approval');
    if v_call.id is not null and v_review.status = 'resolved' then
      raise exception 'tool call % of task % was already decided: read it with taskweave.get_tool_call_review', v_tool_call_id, p_task_id
        using errcode = '55000';
    end if;
    if v_call.id is null then
      insert into taskweave.tool_calls (task_id, tool_call_id, tool_slug, tool_name, arguments, status)
      values (p_task_id, v_tool_call_id, v_tool.slug, v_tool_name, p_request -> 'arguments', 'awaiting_approval');
    end if;
  elsif p_kind = 'question' then
    v_review := taskweave_private.latest_tool_call_review(p_task_id, v_tool_call_id, 'question');
    if v_review.status = 'resolved' then
      raise exception 'question % of task % was already answered: read it with taskweave.get_tool_call_review', v_tool_call_id, p_task_id
        using errcode = '55000';
    end if;
  else
    select * into v_call from taskweave.tool_calls where task_id = p_task_id and tool_call_id = v_tool_call_id;
    if not found or v_call.status <> 'started' then
      raise exception 'tool call % of task % is %; only a started call without a result can be interrupted', v_tool_call_id, p_task_id,
        coalesce(v_call.status, 'not recorded')
        using errcode = '55000';
    end if;
    -- what the operator sees is what was recorded, not what the caller says
    v_request := jsonb_build_object('tool_call_id', v_tool_call_id, 'tool', v_call.tool_name, 'arguments', v_call.arguments,
                                    'started_at', v_call.started_at);
  end if;

  -- waiting for a person is not a failed attempt: the claim that resumes the task counts it again
  update taskweave.tasks set status = 'needs_human_review', attempt = greatest(attempt - 1, 0) where id = p_task_id;
  insert into taskweave.human_reviews (task_id, kind, request) values (p_task_id, p_kind, v_request)
  returning * into v_review;
  return v_review;
end;
$$;
comment on function taskweave.request_human(uuid, text, text, jsonb) is
  'The worker pauses its running task for a person (the lease holder only: TW001): the task goes to needs_human_review (no '
  'lease, outside the running cap, the attempt not spent) with one open review of kind p_kind whose request is: approval '
  '{tool_call_id, tool, arguments, reason?, input_schema?} (the call is recorded as awaiting_approval); question '
  '{tool_call_id, question, options?} (ask_human); interrupted_call {tool_call_id} (a started call without a result; the '
  'stored request takes tool, arguments and started_at from taskweave.tool_calls). 22023 naming the field for a bad '
  'request; 55000 when the call is in no state to ask about. The operator''s resolve_review sends the task back to pending.';
revoke all on function taskweave.request_human(uuid, text, text, jsonb) from public, anon, authenticated;
grant execute on function taskweave.request_human(uuid, text, text, jsonb) to service_role;

create function taskweave.get_tool_call_review(p_task_id uuid, p_tool_call_id text)
returns setof taskweave.human_reviews
language plpgsql
stable
set search_path = ''
as $$
declare
  v_review taskweave.human_reviews;
  v_started_at timestamptz;
begin
  perform taskweave_private.validate_tool_call_id(p_tool_call_id, 'p_tool_call_id');
  v_review := taskweave_private.latest_tool_call_review(p_task_id, p_tool_call_id, null);
  if v_review.id is null then
    return;
  end if;
  if v_review.kind = 'interrupted_call' and v_review.action = 'retry' then
    -- a retry is used by the start it allowed: a call interrupted again needs a new decision
    select c.started_at into v_started_at from taskweave.tool_calls c where c.task_id = p_task_id and c.tool_call_id = p_tool_call_id;
    if v_review.resolved_at < v_started_at then
      return;
    end if;
  end if;
  return next v_review;
end;
$$;
comment on function taskweave.get_tool_call_review(uuid, text) is
  'What a person decided about one tool call of a task, for the loop on resume: the newest review whose request names the '
  'call (kind, status, action, manual_output, note), or no row when there is none or when it was an interrupted_call retry '
  'already used by a later start. approve: manual_output null or {"arguments": {...}} (edited); reject: note is the reason; '
  'answer: manual_output {"answer": ...}; interrupted_call manual: manual_output is the call''s result.';
revoke all on function taskweave.get_tool_call_review(uuid, text) from public, anon, authenticated;
grant execute on function taskweave.get_tool_call_review(uuid, text) to service_role;

revoke all on function
  taskweave_private.validate_tool_call_id(text, text),
  taskweave_private.validate_tool_arguments(jsonb, text),
  taskweave_private.lock_leased_task(uuid, text),
  taskweave_private.latest_tool_call_review(uuid, text, text)
  from public, anon, authenticated;
grant execute on function
  taskweave_private.validate_tool_call_id(text, text),
  taskweave_private.validate_tool_arguments(jsonb, text),
  taskweave_private.lock_leased_task(uuid, text),
  taskweave_private.latest_tool_call_review(uuid, text, text)
  to service_role;
