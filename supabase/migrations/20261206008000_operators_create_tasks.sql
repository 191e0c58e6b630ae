-- Operators create runs under their own name: the MCP endpoint acts as the person whose access token it was
-- given (role authenticated with their claims), and an operator must be able to submit work there as they
-- can review and cancel it. create_task was executable by service_role only; it becomes a security definer
-- function that checks the operator itself, as resolve_review and cancel_task do. Its body is otherwise the
-- one of 20261206002200_tasks_run_as_agents.sql.

create or replace function taskweave.create_task(
  p_title text,
  p_instructions text,
  p_input jsonb default '{}'::jsonb,
  p_limits jsonb default '{}'::jsonb,
  p_agent text default null
)
returns taskweave.tasks
language plpgsql
-- security definer: an operator signed in through the web app or the MCP endpoint (role authenticated) has
-- no write rights on the tables; this function is the door, and it checks the operator first
security definer
set search_path = ''
as $function$
declare
  v_id uuid := gen_random_uuid();
  v_task taskweave.tasks;
  v_deadline bigint;
begin
  -- service_role, the schema owner and superusers pass; a signed-in user needs the operator claim
  perform taskweave_private.require_operator('create tasks');
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
$function$;
comment on function taskweave.create_task(text, text, jsonb, jsonb, text) is
  'A new root task, pending, and its run. Operators (service_role, the schema owner, or a signed-in operator) only. '
  'p_limits bounds the whole run: {"max_tasks", "max_tokens", "deadline_seconds", "max_cost_usd"}, each optional (absent: the '
  'database default taskweave.default_<key>, none for max_cost_usd; null: no limit). p_agent: the slug of the agent the task runs '
  'as (null: the environment''s model). Raises 42501 for a non-operator and 22023 for an empty title, a non-object input, bad '
  'limits (naming the key) or an unknown agent.';
revoke all on function taskweave.create_task(text, text, jsonb, jsonb, text) from public, anon;
grant execute on function taskweave.create_task(text, text, jsonb, jsonb, text) to authenticated, service_role;
