-- Taskweave 0.3.0: cost in dollars, and a model step that would pass the run's budget is not sent.
--
-- append_task_message takes the step's model (p_model, provider:model) and prices its tokens with
-- taskweave.model_prices into tasks.usage.cost_usd and runs.cost_usd. begin_model_step stops a run past
-- max_cost_usd (TW004, like max_tokens) and, given the worker's estimate of the prompt's tokens, refuses a
-- step whose prompt alone would take the run past max_tokens or max_cost_usd: the limit is checked before
-- the tokens are spent, not only after (audit finding 7: a 50 MB input used 13.1M tokens against 2M).

-- a task's usage shows its cost from the start, as it shows its tokens
alter table taskweave.tasks alter column usage set default '{"input_tokens": 0, "output_tokens": 0, "model_steps": 0, "cost_usd": 0}'::jsonb;
comment on column taskweave.tasks.usage is
  'Summed over the task''s model steps: input_tokens, output_tokens, model_steps, cost_usd (US dollars at taskweave.model_prices when each step was saved).';

create function taskweave_private.model_price(p_model text)
returns taskweave.model_prices
language sql
stable
set search_path = ''
as $$
  -- the exact name first; else the same model named with or without its provider (an agent's
  -- openai:gpt-4.1-mini and the environment's LLM_MODEL gpt-4.1-mini are one model)
  select p.* from taskweave.model_prices p
   where p.model = p_model
      or p.model = substr(p_model, strpos(p_model, ':') + 1)
      or substr(p.model, strpos(p.model, ':') + 1) = p_model
   order by (p.model = p_model) desc, p.model
   limit 1
$$;
comment on function taskweave_private.model_price(text) is
  'The price of a model: its exact name in taskweave.model_prices, else the same name with or without a provider: prefix.';

create or replace function taskweave_private.validate_usage(p_usage jsonb)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_usage is null then
    return;
  end if;
  perform taskweave_private.json_object_keys_in(p_usage, 'p_usage', array['input_tokens', 'output_tokens']);
  perform taskweave_private.json_whole_number(p_usage -> 'input_tokens', 'p_usage.input_tokens', 0, 100000000);
  perform taskweave_private.json_whole_number(p_usage -> 'output_tokens', 'p_usage.output_tokens', 0, 100000000);
end;
$$;
comment on function taskweave_private.validate_usage(jsonb) is
  'Raises 22023 naming the key unless usage is null or {input_tokens?, output_tokens?} with whole numbers from 0 to 100000000.';

drop function taskweave.append_task_message(uuid, text, text, jsonb, jsonb);

create function taskweave.append_task_message(
  p_task_id uuid,
  p_worker text,
  p_role text,
  p_content jsonb,
  p_usage jsonb default null,
  p_model text default null
)
returns taskweave.task_messages
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_message taskweave.task_messages;
  v_in bigint;
  v_out bigint;
  v_step integer;
  v_price taskweave.model_prices;
  v_cost numeric := 0;
  v_usage jsonb := p_usage;
begin
  if p_role is null or p_role not in ('system', 'user', 'assistant', 'tool') then
    raise exception 'p_role must be system, user, assistant or tool (got %)', coalesce(p_role, 'null') using errcode = '22023';
  end if;
  if p_content is null then
    raise exception 'p_content must not be null' using errcode = '22023';
  end if;
  -- a message holds at most a prompt built from a task's capped input or a tool result cut to its cap
  if octet_length(p_content::text) > 4194304 then
    raise exception 'p_content must be at most 4194304 bytes as JSON (got %)', octet_length(p_content::text) using errcode = '22023';
  end if;
  -- parsed before any cast, so a bad number is 22023 naming the key
  perform taskweave_private.validate_usage(p_usage);
  if p_model is not null and (char_length(btrim(p_model)) = 0 or char_length(p_model) > 200) then
    raise exception 'p_model must be a non-empty model name of at most 200 characters' using errcode = '22023';
  end if;
  v_in := coalesce(taskweave_private.json_whole_number(p_usage -> 'input_tokens', 'p_usage.input_tokens', 0, 100000000), 0);
  v_out := coalesce(taskweave_private.json_whole_number(p_usage -> 'output_tokens', 'p_usage.output_tokens', 0, 100000000), 0);
  if p_model is not null and v_in + v_out > 0 then
    v_price := taskweave_private.model_price(p_model);
    -- to a billionth of a cent, without trailing zeros: the sums stay readable in jsonb
    v_cost := coalesce(trim_scale(round((v_in * v_price.input_per_million + v_out * v_price.output_per_million) / 1000000, 11)), 0);
  end if;
  if p_usage is not null then
    -- each step's own line shows which model it ran on and what it cost
    v_usage := p_usage || jsonb_strip_nulls(jsonb_build_object('model', p_model, 'cost_usd', v_cost));
  end if;

  -- the task row lock orders the messages of one task
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  insert into taskweave.task_messages (task_id, seq, role, content, usage)
  values (p_task_id, coalesce((select max(m.seq) from taskweave.task_messages m where m.task_id = p_task_id), 0) + 1,
          p_role, p_content, v_usage)
  returning * into v_message;

  if p_role = 'assistant' or p_usage is not null then
    v_step := (p_role = 'assistant')::integer;
    -- a saved model step is progress: the release-loop count starts again
    update taskweave.tasks
       set usage = jsonb_build_object(
             'input_tokens', coalesce((usage ->> 'input_tokens')::bigint, 0) + v_in,
             'output_tokens', coalesce((usage ->> 'output_tokens')::bigint, 0) + v_out,
             'model_steps', coalesce((usage ->> 'model_steps')::integer, 0) + v_step,
             'cost_usd', coalesce((usage ->> 'cost_usd')::numeric, 0) + v_cost),
           idle_releases = case when v_step = 1 then 0 else idle_releases end,
           updated_at = now()
     where id = p_task_id;
    update taskweave.runs
       set input_tokens = input_tokens + v_in, output_tokens = output_tokens + v_out, model_steps = model_steps + v_step,
           cost_usd = cost_usd + v_cost, updated_at = now()
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
comment on function taskweave.append_task_message(uuid, text, text, jsonb, jsonb, text) is
  'Appends one message to a running task''s transcript (the lease holder only), numbered in order. p_usage '
  '{"input_tokens", "output_tokens"} of a model step is added to tasks.usage, to the run (taskweave.runs) and to the model''s '
  'rate-limit window; with p_model (provider:model, or the environment''s model name) the step is priced from '
  'taskweave.model_prices (taskweave_private.model_price: exact name, else with or without the provider) into '
  'tasks.usage.cost_usd and runs.cost_usd (an unpriced model costs 0), and the message''s usage records model and cost_usd. '
  'A saved assistant step resets the count of releases without progress. 22023 naming the key for bad usage, and for '
  'p_content over 4 MiB as JSON.';
revoke all on function taskweave.append_task_message(uuid, text, text, jsonb, jsonb, text) from public, anon, authenticated;
grant execute on function taskweave.append_task_message(uuid, text, text, jsonb, jsonb, text) to service_role;

drop function taskweave.begin_model_step(uuid, text, text);

create function taskweave.begin_model_step(p_task_id uuid, p_worker text, p_model text, p_prompt_tokens bigint default null)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_task taskweave.tasks;
  v_run taskweave.runs;
  v_reason text;
  v_wait_ms integer;
  v_price taskweave.model_prices;
  v_prompt_cost numeric;
begin
  if p_model is null or char_length(btrim(p_model)) = 0 or char_length(p_model) > 200 then
    raise exception 'p_model must be a non-empty model name of at most 200 characters' using errcode = '22023';
  end if;
  if p_prompt_tokens < 0 or p_prompt_tokens > 1000000000000 then
    raise exception 'p_prompt_tokens must be an estimate from 0 to 1000000000000 tokens (got %)', p_prompt_tokens using errcode = '22023';
  end if;
  select * into v_task from taskweave.tasks where id = p_task_id for no key update;
  -- a cancelled task has lost its lease: the worker stops before its next model request
  perform taskweave_private.require_lease(v_task, p_task_id, p_worker);
  select * into v_run from taskweave.runs where root_task_id = v_task.root_task_id;
  v_reason := taskweave_private.run_limit_reached(v_run, false);
  if v_reason is null and p_prompt_tokens is not null then
    -- the prompt is spent as soon as the request is sent: a step that would cross a limit is not sent
    if v_run.max_tokens is not null and v_run.input_tokens + v_run.output_tokens + p_prompt_tokens > v_run.max_tokens then
      v_reason := format('the step''s prompt of about %s tokens would take the run past its max_tokens = %s (used %s)',
                         p_prompt_tokens, v_run.max_tokens, v_run.input_tokens + v_run.output_tokens);
    elsif v_run.max_cost_usd is not null then
      v_price := taskweave_private.model_price(p_model);
      v_prompt_cost := coalesce(p_prompt_tokens * v_price.input_per_million / 1000000, 0);
      if v_run.cost_usd + v_prompt_cost > v_run.max_cost_usd then
        v_reason := format('the step''s prompt of about %s tokens (%s US dollars) would take the run past its max_cost_usd = %s (cost %s)',
                           p_prompt_tokens, round(v_prompt_cost, 6), v_run.max_cost_usd, round(v_run.cost_usd, 6));
      end if;
    end if;
  end if;
  if v_reason is not null then
    raise exception 'run limit reached: %; no model step may start in run %', v_reason, v_task.root_task_id
      using errcode = 'TW004',
            hint = 'An operator can raise the limits with taskweave.set_run_limits, then retry the task.';
  end if;
  v_wait_ms := taskweave_private.take_model_slot(p_model, p_task_id);
  if v_wait_ms > 0 then
    update taskweave.tasks set model_wait_until = now() + make_interval(secs => v_wait_ms / 1000.0) where id = p_task_id;
  elsif v_task.model_wait_until is not null then
    update taskweave.tasks set model_wait_until = null where id = p_task_id;
  end if;
  return jsonb_build_object('wait_ms', v_wait_ms);
end;
$$;
comment on function taskweave.begin_model_step(uuid, text, text, bigint) is
  'Called by the worker right before every model request. TW001 when the worker lost the lease (expired, reclaimed, '
  'cancelled); TW004 when the run is past its deadline, max_tokens or max_cost_usd, or when p_prompt_tokens (the worker''s '
  'estimate of the request''s prompt) would take it past max_tokens or, at the model''s input price, past max_cost_usd; else '
  '{"wait_ms": 0} with a rate-limit slot taken, or {"wait_ms": n} when the model''s limits (set_model_limits) leave no slot '
  'for n ms (tasks.model_wait_until shows it).';
revoke all on function taskweave.begin_model_step(uuid, text, text, bigint) from public, anon, authenticated;
grant execute on function taskweave.begin_model_step(uuid, text, text, bigint) to service_role;

revoke all on function taskweave_private.model_price(text) from public, anon, authenticated;
grant execute on function taskweave_private.model_price(text) to service_role;
