-- Taskweave 0.3.0: a task runs as an agent (tasks.agent). create_task and create_parallel_task gain a last
-- argument p_agent; the old signatures go, so a call by position or by name resolves to exactly one
-- function. Runs also take max_cost_usd among their limits.

create function taskweave_private.lock_agent(p_agent text)
returns void
language plpgsql
volatile
-- security definer: a key-share lock needs UPDATE rights on agents, which the callers of create_task do not
-- have; the lock makes a concurrent delete_agent wait for this transaction and then see its task
security definer
set search_path = ''
as $$
begin
  if p_agent is null then
    return;
  end if;
  perform 1 from taskweave.agents where slug = p_agent for key share;
  if not found then
    raise exception 'p_agent names an unknown agent "%"', left(p_agent, 100) using errcode = '22023',
      hint = 'The agents are the rows of taskweave.agents (taskweave.upsert_agent).';
  end if;
end;
$$;
comment on function taskweave_private.lock_agent(text) is
  'Raises 22023 unless the agent exists, and holds it until commit so delete_agent cannot remove it under a new task.';

drop function taskweave.create_task(text, text, jsonb, jsonb);

create function taskweave.create_task(
  p_title text,
  p_instructions text,
  p_input jsonb default '{}'::jsonb,
  p_limits jsonb default '{}'::jsonb,
  p_agent text default null
)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_id uuid := gen_random_uuid();
  v_task taskweave.tasks;
  v_deadline bigint;
begin
  perform taskweave_private.validate_new_task(p_title, p_instructions, p_input);
  perform taskweave_private.validate_limits(p_limits);
  perform taskweave_private.lock_agent(p_agent);
  insert into taskweave.tasks (id, root_task_id, title, instructions, input, status, max_attempts, agent)
  values (v_id, v_id, btrim(p_title), p_instructions, p_input, 'pending', taskweave_private.setting_int('default_max_attempts', 3), p_agent)
  returning * into v_task;
  v_deadline := taskweave_private.limit_value(p_limits, 'deadline_seconds', 'default_deadline_seconds', 86400);
  insert into taskweave.runs (root_task_id, max_tasks, max_tokens, max_cost_usd, deadline_at, created_at)
  values (v_id,
          taskweave_private.limit_value(p_limits, 'max_tasks', 'default_max_tasks', 1000),
          taskweave_private.limit_value(p_limits, 'max_tokens', 'default_max_tokens', 2000000),
          taskweave_private.json_decimal(p_limits -> 'max_cost_usd', 'p_limits.max_cost_usd', 0.000001, 1000000),
          v_task.created_at + make_interval(secs => v_deadline),
          v_task.created_at);
  return v_task;
end;
$$;
comment on function taskweave.create_task(text, text, jsonb, jsonb, text) is
  'A new root task, pending, and its run. p_limits bounds the whole run: {"max_tasks", "max_tokens", "deadline_seconds", '
  '"max_cost_usd"}, each optional (absent: the database default taskweave.default_<key>, none for max_cost_usd; null: no '
  'limit). p_agent: the slug of the agent the task runs as (null: the environment''s model). Raises 22023 for an empty '
  'title, a non-object input, bad limits (naming the key) or an unknown agent.';
revoke all on function taskweave.create_task(text, text, jsonb, jsonb, text) from public, anon, authenticated;
grant execute on function taskweave.create_task(text, text, jsonb, jsonb, text) to service_role;

drop function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text);

create function taskweave.create_parallel_task(
  p_parent_task_id uuid,
  p_title text,
  p_instructions text,
  p_input jsonb default '{}'::jsonb,
  p_tool_call_id text default null,
  p_worker text default null,
  p_agent text default null
)
returns taskweave.tasks
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_parent taskweave.tasks;
  v_task taskweave.tasks;
  v_rank integer;
begin
  perform taskweave_private.validate_new_task(p_title, p_instructions, p_input);
  if char_length(p_tool_call_id) not between 1 and 200 then
    raise exception 'p_tool_call_id must be 1 to 200 characters (got %)', char_length(p_tool_call_id) using errcode = '22023';
  end if;
  v_parent := taskweave_private.lock_parent(p_parent_task_id, p_worker);
  if p_tool_call_id is not null then
    select * into v_task from taskweave.tasks where parent_task_id = p_parent_task_id and tool_call_id = p_tool_call_id;
    if found then
      if cardinality(v_task.dependent_task_ids) > 0 or v_task.title <> btrim(p_title)
         or v_task.instructions <> p_instructions or v_task.input <> p_input or v_task.agent is distinct from p_agent then
        perform taskweave_private.tool_call_reused(p_parent_task_id, p_tool_call_id, v_task.id);
      end if;
      return v_task;
    end if;
  end if;
  perform taskweave_private.lock_agent(p_agent);
  perform taskweave_private.check_new_child(v_parent);
  v_rank := taskweave_private.take_run_slot(v_parent.root_task_id);
  insert into taskweave.tasks (parent_task_id, root_task_id, title, instructions, input, status, is_parallel_task,
                               tool_call_id, depth, max_attempts, claim_rank, agent)
  values (p_parent_task_id, v_parent.root_task_id, btrim(p_title), p_instructions, p_input, 'pending', true,
          p_tool_call_id, v_parent.depth + 1, taskweave_private.setting_int('default_max_attempts', 3), v_rank, p_agent)
  returning * into v_task;
  return v_task;
end;
$$;
comment on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text, text) is
  'A pending parallel child of the parent, in the same run, running as agent p_agent (null: the environment''s model; an '
  'unknown agent is 22023). The same (parent, tool call id) with the same arguments returns the existing task, with other '
  'arguments raises TW006, so a repeated LLM step never duplicates a child. With p_worker only the holder of the parent''s '
  'lease may (TW001). TW004 when the run is at a limit.';
revoke all on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text, text) from public, anon, authenticated;
grant execute on function taskweave.create_parallel_task(uuid, text, text, jsonb, text, text, text) to service_role;

revoke all on function taskweave_private.lock_agent(text) from public, anon, authenticated;
grant execute on function taskweave_private.lock_agent(text) to service_role;
