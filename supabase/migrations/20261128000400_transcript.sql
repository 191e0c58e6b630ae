-- Taskweave 0.2.0 baseline, part 5: the transcript (each task's LLM conversation) and token usage.

create function taskweave_private.validate_usage(p_usage jsonb)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_key text;
  v_value jsonb;
begin
  if p_usage is null then
    return;
  end if;
  if jsonb_typeof(p_usage) <> 'object' then
    raise exception 'p_usage must be a JSON object such as {"input_tokens": 120, "output_tokens": 40} (got %)', jsonb_typeof(p_usage)
      using errcode = '22023';
  end if;
  for v_key, v_value in select key, value from jsonb_each(p_usage) loop
    if v_key not in ('input_tokens', 'output_tokens') then
      raise exception 'p_usage has an unknown key "%"; the keys are input_tokens and output_tokens', v_key using errcode = '22023';
    end if;
    if jsonb_typeof(v_value) <> 'number' or v_value::text::numeric <> trunc(v_value::text::numeric)
       or v_value::text::numeric < 0 or v_value::text::numeric > 100000000 then
      raise exception 'p_usage.% must be a whole number from 0 to 100000000 (got %)', v_key, v_value using errcode = '22023';
    end if;
  end loop;
end;
$$;
comment on function taskweave_private.validate_usage(jsonb) is 'Raises 22023 unless usage is null or {input_tokens?, output_tokens?} with whole non-negative numbers.';

create function taskweave.append_task_message(p_task_id uuid, p_worker text, p_role text, p_content jsonb, p_usage jsonb default null)
returns taskweave.task_messages
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_message taskweave.task_messages;
  v_in bigint := coalesce((p_usage ->> 'input_tokens')::bigint, 0);
  v_out bigint := coalesce((p_usage ->> 'output_tokens')::bigint, 0);
  v_step integer;
begin
  if p_role is null or p_role not in ('system', 'user', 'assistant', 'tool') then
    raise exception 'p_role must be system, user, assistant or tool (got %)', coalesce(p_role, 'null') using errcode = '22023';
  end if;
  if p_content is null then
    raise exception 'p_content must not be null' using errcode = '22023';
  end if;
  perform taskweave_private.validate_usage(p_usage);
  -- the task row lock orders the messages of one task
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  insert into taskweave.task_messages (task_id, seq, role, content, usage)
  values (p_task_id, coalesce((select max(m.seq) from taskweave.task_messages m where m.task_id = p_task_id), 0) + 1,
          p_role, p_content, p_usage)
  returning * into v_message;

  if p_role = 'assistant' or p_usage is not null then
    v_step := (p_role = 'assistant')::integer;
    -- a saved model step is progress: the release-loop count starts again
    update taskweave.tasks
       set usage = jsonb_build_object(
             'input_tokens', coalesce((usage ->> 'input_tokens')::bigint, 0) + v_in,
             'output_tokens', coalesce((usage ->> 'output_tokens')::bigint, 0) + v_out,
             'model_steps', coalesce((usage ->> 'model_steps')::integer, 0) + v_step),
           idle_releases = case when v_step = 1 then 0 else idle_releases end,
           updated_at = now()
     where id = p_task_id;
    update taskweave.runs
       set input_tokens = input_tokens + v_in, output_tokens = output_tokens + v_out, model_steps = model_steps + v_step,
           updated_at = now()
     where root_task_id = v_task.root_task_id;
    if v_in + v_out > 0 then
      -- the tokens count against the model's per-minute limit, on the request that used them
      update taskweave_private.model_requests
         set tokens = tokens + (v_in + v_out)::integer
       where id = (select r.id from taskweave_private.model_requests r where r.task_id = p_task_id order by r.id desc limit 1);
    end if;
  end if;
  return v_message;
end;
$$;
comment on function taskweave.append_task_message(uuid, text, text, jsonb, jsonb) is
  'Appends one message to a running task''s transcript (the lease holder only), numbered in order. p_usage '
  '{"input_tokens", "output_tokens"} of a model step is added to tasks.usage, to the run (taskweave.runs) and to the model''s '
  'rate-limit window. A saved assistant step resets the count of releases without progress.';
revoke all on function taskweave.append_task_message(uuid, text, text, jsonb, jsonb) from public, anon, authenticated;
grant execute on function taskweave.append_task_message(uuid, text, text, jsonb, jsonb) to service_role;

create function taskweave.get_dependency_results(p_task_id uuid)
returns setof taskweave.tasks
language sql
stable
set search_path = ''
as $$
  select t.*
  from taskweave.tasks a
  cross join lateral unnest(a.dependent_task_ids) with ordinality as d(id, ord)
  join taskweave.tasks t on t.id = d.id
  where a.id = p_task_id
  order by d.ord
$$;
comment on function taskweave.get_dependency_results(uuid) is
  'An aggregator''s dependencies in the order it listed them, with status, output and cancel_reason, for its LLM context.';
revoke all on function taskweave.get_dependency_results(uuid) from public, anon, authenticated;
grant execute on function taskweave.get_dependency_results(uuid) to service_role;

revoke all on function taskweave_private.validate_usage(jsonb) from public, anon, authenticated;
grant execute on function taskweave_private.validate_usage(jsonb) to service_role;
