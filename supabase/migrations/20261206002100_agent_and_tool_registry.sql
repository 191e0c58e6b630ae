-- Taskweave 0.3.0: managing agents, tools and model prices (docs/contracts.md §2). Operators only; each function
-- is security definer because operators (role authenticated) may read these tables but not write them:
-- the function is the one door, and it checks the operator itself before changing anything. Bad input
-- is 22023 naming the field, and nothing is changed.

-- The providers an agent's model may name, written once: process-task takes the list from the generated
-- types (Constants.taskweave.Enums.model_provider), so adding a provider is `alter type ... add value`.
create type taskweave.model_provider as enum ('openai', 'anthropic', 'demo');
comment on type taskweave.model_provider is
  'The providers process-task can run: agents.model is <provider>:<model name>, e.g. openai:gpt-4.1-mini.';

create function taskweave_private.validate_slug(p_slug text, p_name text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_slug is null or p_slug !~ '^[a-z][a-z0-9_-]{0,39}$' or strpos(p_slug, '__') > 0 then
    raise exception '% must be 1 to 40 lowercase letters, digits, - or _, starting with a letter and without "__" (got %)',
      p_name, coalesce('"' || left(p_slug, 100) || '"', 'null')
      using errcode = '22023',
            hint = 'A model sees an MCP server''s tools as <slug>__<name>, so a slug never contains "__".';
  end if;
end;
$$;
comment on function taskweave_private.validate_slug(text, text) is 'Raises 22023 naming the argument unless the slug fits agents.slug and tools.slug.';

create function taskweave_private.validate_model(p_model text, p_name text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_provider text := split_part(p_model, ':', 1);
begin
  if p_model is null then
    return;
  end if;
  if strpos(p_model, ':') = 0 or char_length(btrim(substr(p_model, strpos(p_model, ':') + 1))) = 0 or char_length(p_model) > 200 then
    raise exception '% must be provider:model, e.g. openai:gpt-4.1-mini, at most 200 characters (got "%")', p_name, left(p_model, 100)
      using errcode = '22023';
  end if;
  if not (v_provider = any (enum_range(null::taskweave.model_provider)::text[])) then
    raise exception '% names an unknown provider "%"; the providers are %', p_name, left(v_provider, 100),
      array_to_string(enum_range(null::taskweave.model_provider)::text[], ', ')
      using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.validate_model(text, text) is 'Raises 22023 naming the field unless the model is <provider>:<model> with a provider of taskweave.model_provider.';

-- ---------------------------------------------------------------------------------------------
-- agents

create function taskweave.upsert_agent(p_slug text, p_definition jsonb)
returns taskweave.agents
language plpgsql
volatile
-- security definer: operators (authenticated) may read agents but not write them; this function is the door
security definer
set search_path = ''
as $$
declare
  v_agent taskweave.agents;
  v_tools text[];
  v_missing text;
  v_name text;
  v_model text;
begin
  perform taskweave_private.require_operator('manage agents');
  perform taskweave_private.validate_slug(p_slug, 'p_slug');
  perform taskweave_private.json_object_keys_in(p_definition, 'p_definition',
    array['name', 'description', 'instructions', 'model', 'temperature', 'max_output_tokens', 'tools']);
  v_name := coalesce(taskweave_private.json_text(p_definition -> 'name', 'p_definition.name', 200), p_slug);
  if char_length(btrim(v_name)) = 0 then
    raise exception 'p_definition.name must not be blank' using errcode = '22023';
  end if;
  v_model := taskweave_private.json_text(p_definition -> 'model', 'p_definition.model', 200);
  perform taskweave_private.validate_model(v_model, 'p_definition.model');
  v_tools := coalesce(taskweave_private.json_text_array(p_definition -> 'tools', 'p_definition.tools', 100, 40), '{}');

  -- key-share locks hold the tools until commit, so a concurrent delete_tool waits and then sees this agent's
  -- links; taken before the check, so a tool deleted meanwhile is reported missing, not a foreign-key error
  perform 1 from taskweave.tools x where x.slug = any (v_tools) order by x.slug for key share;
  select t.slug into v_missing
    from unnest(v_tools) with ordinality as t(slug, ord)
   where not exists (select 1 from taskweave.tools x where x.slug = t.slug)
   order by t.ord limit 1;
  if found then
    raise exception 'p_definition.tools names an unknown tool "%"', left(v_missing, 100) using errcode = '22023',
      hint = 'Register it first with taskweave.upsert_tool.';
  end if;

  insert into taskweave.agents as a (slug, name, description, instructions, model, temperature, max_output_tokens)
  values (p_slug, btrim(v_name),
          coalesce(taskweave_private.json_text(p_definition -> 'description', 'p_definition.description', 2000), ''),
          coalesce(taskweave_private.json_text(p_definition -> 'instructions', 'p_definition.instructions', 100000), ''),
          v_model,
          taskweave_private.json_decimal(p_definition -> 'temperature', 'p_definition.temperature', 0, 2),
          taskweave_private.json_whole_number(p_definition -> 'max_output_tokens', 'p_definition.max_output_tokens', 1, 200000))
  on conflict (slug) do update
    set name = excluded.name, description = excluded.description, instructions = excluded.instructions,
        model = excluded.model, temperature = excluded.temperature, max_output_tokens = excluded.max_output_tokens,
        updated_at = now()
  returning * into v_agent;

  delete from taskweave.agent_tools where agent_slug = p_slug;
  insert into taskweave.agent_tools (agent_slug, tool_slug, position)
  select p_slug, t.slug, t.ord - 1 from unnest(v_tools) with ordinality as t(slug, ord);
  return v_agent;
end;
$$;
comment on function taskweave.upsert_agent(text, jsonb) is
  'Operators only: creates or replaces an agent. p_definition keys (all optional): name (default the slug), description, '
  'instructions, model (<provider>:<model>, provider one of taskweave.model_provider; null runs the environment''s model), '
  'temperature (0 to 2), max_output_tokens (1 to 200000), tools (tool slugs, in order; replaces the agent''s list). Absent '
  'keys take their defaults: the definition is the whole agent. 22023 naming the field for an unknown key, a wrong type, '
  'an unknown tool or provider; nothing is changed then.';
revoke all on function taskweave.upsert_agent(text, jsonb) from public, anon, authenticated;
grant execute on function taskweave.upsert_agent(text, jsonb) to authenticated, service_role;

create function taskweave.delete_agent(p_slug text)
returns taskweave.agents
language plpgsql
volatile
-- security definer: operators (authenticated) may read agents but not write them; this function is the door
security definer
set search_path = ''
as $$
declare
  v_agent taskweave.agents;
  v_task uuid;
  v_count integer;
begin
  perform taskweave_private.require_operator('manage agents');
  if p_slug is null then
    raise exception 'p_slug must not be null' using errcode = '22023';
  end if;
  -- the row lock waits for task creations that key-share-locked this agent, so their tasks are seen below
  select * into v_agent from taskweave.agents where slug = p_slug for update;
  if not found then
    raise exception 'agent "%" not found', left(p_slug, 100) using errcode = 'P0002';
  end if;
  select count(*)::integer, (array_agg(t.id order by t.created_at))[1] into v_count, v_task
    from taskweave.tasks t
   where t.agent = p_slug and t.status not in ('completed', 'failed', 'cancelled');
  if v_count > 0 then
    raise exception 'agent "%" is in use: % unfinished task(s) run as it, e.g. task %', p_slug, v_count, v_task
      using errcode = '22023',
            hint = 'Wait for them to end or cancel them, then delete the agent.';
  end if;
  delete from taskweave.agents where slug = p_slug;
  return v_agent;
end;
$$;
comment on function taskweave.delete_agent(text) is
  'Operators only: deletes an agent and its tool links, returning the deleted row. 22023 while an unfinished task runs as it '
  '(finished tasks keep the slug in tasks.agent as history); P0002 for an unknown slug.';
revoke all on function taskweave.delete_agent(text) from public, anon, authenticated;
grant execute on function taskweave.delete_agent(text) to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- tools

create function taskweave_private.validate_tool_url(p_url text, p_name text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_url is null then
    raise exception '% is required' , p_name using errcode = '22023';
  end if;
  if p_url !~* '^https?://[^/?#\s]+([/?#]\S*)?$' then
    raise exception '% must be an http or https URL (got "%")', p_name, left(p_url, 200) using errcode = '22023';
  end if;
  -- credentials in a URL are stored in the table and shown on pages: they belong in secrets
  if substring(p_url from '^https?://([^/?#]*)') like '%@%' then
    raise exception '% must not carry credentials (user:password@); name a secret and write it as {{NAME}} in a header', p_name
      using errcode = '22023';
  end if;
  if p_url ~* '[?&][^=&#]*(key|token|secret|password|signature|sig)[^=&#]*=(?!\{\{)[^&#]+' then
    raise exception '% must not carry a credential in its query string; write it as {{NAME}} and list NAME in secrets', p_name
      using errcode = '22023';
  end if;
end;
$$;
comment on function taskweave_private.validate_tool_url(text, text) is
  'Raises 22023 naming the field unless the URL is http(s) and carries no literal credential (user:password@, or a key/token '
  'query parameter whose value is not a {{NAME}} secret reference).';

create function taskweave_private.validate_tool_headers(p_headers jsonb, p_name text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_key text;
  v_value jsonb;
begin
  if p_headers is null or jsonb_typeof(p_headers) = 'null' then
    return;
  end if;
  if jsonb_typeof(p_headers) <> 'object' then
    raise exception '% must be an object of header names to string values (got %)', p_name, jsonb_typeof(p_headers) using errcode = '22023';
  end if;
  if (select count(*) from jsonb_object_keys(p_headers)) > 50 then
    raise exception '% may hold at most 50 headers', p_name using errcode = '22023';
  end if;
  for v_key, v_value in select key, value from jsonb_each(p_headers) loop
    if v_key !~ '^[A-Za-z0-9!#$%&''*+.^_`|~-]{1,100}$' then
      raise exception '% has a header name that is not a valid HTTP token: "%"', p_name, left(v_key, 100) using errcode = '22023';
    end if;
    if jsonb_typeof(v_value) <> 'string' or char_length(v_value #>> '{}') > 4000 or (v_value #>> '{}') ~ '[\r\n]' then
      raise exception '%.% must be a one-line string of at most 4000 characters', p_name, v_key using errcode = '22023';
    end if;
    -- a header that carries a credential must take it from a secret, never hold it literally
    if (v_key ~* '^(authorization|proxy-authorization|cookie)$' or v_key ~* '(key|token|secret|password|auth|signature)')
       and (v_value #>> '{}') !~ '\{\{[A-Z_][A-Z0-9_]*\}\}' then
      raise exception '%.% looks like a credential written literally; put it in an environment variable, list its name in secrets and write {{NAME}}',
        p_name, v_key
        using errcode = '22023';
    end if;
  end loop;
end;
$$;
comment on function taskweave_private.validate_tool_headers(jsonb, text) is
  'Raises 22023 naming the header unless headers are an object of one-line strings, and a credential-like header '
  '(Authorization, Cookie, *key*, *token*, *secret*, ...) takes its value from a {{NAME}} secret reference.';

create function taskweave.upsert_tool(p_slug text, p_definition jsonb)
returns taskweave.tools
language plpgsql
volatile
-- security definer: operators (authenticated) may read tools but not write them; this function is the door
security definer
set search_path = ''
as $$
declare
  v_tool taskweave.tools;
  v_kind text;
  v_config jsonb;
  v_secrets text[];
  v_bad text;
  v_method text;
begin
  perform taskweave_private.require_operator('manage tools');
  perform taskweave_private.validate_slug(p_slug, 'p_slug');
  perform taskweave_private.json_object_keys_in(p_definition, 'p_definition',
    array['kind', 'description', 'config', 'secrets', 'idempotent', 'requires_approval', 'timeout_seconds', 'max_output_bytes']);
  v_kind := taskweave_private.json_text(p_definition -> 'kind', 'p_definition.kind', 10);
  if v_kind is null or v_kind not in ('mcp', 'http', 'sql') then
    raise exception 'p_definition.kind must be mcp, http or sql (got %)', coalesce('"' || v_kind || '"', 'nothing') using errcode = '22023';
  end if;
  v_config := coalesce(p_definition -> 'config', 'null'::jsonb);

  v_secrets := coalesce(taskweave_private.json_text_array(p_definition -> 'secrets', 'p_definition.secrets', 20, 100), '{}');
  select s into v_bad from unnest(v_secrets) as s where s !~ '^[A-Z_][A-Z0-9_]*$' limit 1;
  if found then
    raise exception 'p_definition.secrets: "%" is not an environment variable name (upper case letters, digits and _)', left(v_bad, 100)
      using errcode = '22023';
  end if;
  -- the function's own credentials are never handed to a tool
  select s into v_bad from unnest(v_secrets) as s
   where s ~ '^(SUPABASE_|TASKWEAVE_|SB_)' or s in ('PROCESS_TASK_SECRET', 'DATABASE_URL', 'SERVICE_ROLE_KEY') limit 1;
  if found then
    raise exception 'p_definition.secrets may not name % : Taskweave''s own credentials are never given to a tool', v_bad
      using errcode = '22023';
  end if;

  if v_kind = 'mcp' then
    perform taskweave_private.json_object_keys_in(v_config, 'p_definition.config', array['url', 'headers', 'allowed_tools']);
    perform taskweave_private.validate_tool_url(taskweave_private.json_text(v_config -> 'url', 'p_definition.config.url', 2000), 'p_definition.config.url');
    perform taskweave_private.validate_tool_headers(v_config -> 'headers', 'p_definition.config.headers');
    select t into v_bad
      from unnest(taskweave_private.json_text_array(v_config -> 'allowed_tools', 'p_definition.config.allowed_tools', 200, 100)) as t
     where t !~ '^[A-Za-z0-9_.-]+$' limit 1;
    if found then
      raise exception 'p_definition.config.allowed_tools: "%" is not an MCP tool name (letters, digits, _ . -)', left(v_bad, 100)
        using errcode = '22023';
    end if;
  elsif v_kind = 'http' then
    perform taskweave_private.json_object_keys_in(v_config, 'p_definition.config', array['method', 'url', 'headers', 'input_schema']);
    v_method := upper(coalesce(taskweave_private.json_text(v_config -> 'method', 'p_definition.config.method', 10), 'POST'));
    if v_method not in ('GET', 'POST', 'PUT', 'PATCH', 'DELETE') then
      raise exception 'p_definition.config.method must be GET, POST, PUT, PATCH or DELETE (got "%")', v_method using errcode = '22023';
    end if;
    v_config := jsonb_set(v_config, '{method}', to_jsonb(v_method));
    perform taskweave_private.validate_tool_url(taskweave_private.json_text(v_config -> 'url', 'p_definition.config.url', 2000), 'p_definition.config.url');
    perform taskweave_private.validate_tool_headers(v_config -> 'headers', 'p_definition.config.headers');
  else
    perform taskweave_private.json_object_keys_in(v_config, 'p_definition.config', array['function', 'input_schema']);
    -- defined with the SQL tools' execution (migration ...2400_sql_tools.sql): which functions a tool may name
    perform taskweave_private.resolve_sql_tool_function(
      taskweave_private.json_text(v_config -> 'function', 'p_definition.config.function', 200), 'p_definition.config.function');
  end if;

  -- the arguments' JSON Schema, shown to the model (an MCP server's tools bring their own)
  if v_kind in ('http', 'sql') and v_config ? 'input_schema' then
    if jsonb_typeof(v_config -> 'input_schema') <> 'object' or coalesce(v_config -> 'input_schema' ->> 'type', 'object') <> 'object' then
      raise exception 'p_definition.config.input_schema must be a JSON Schema object whose type is "object" (the tool''s arguments)'
        using errcode = '22023';
    end if;
    if octet_length((v_config -> 'input_schema')::text) > 65536 then
      raise exception 'p_definition.config.input_schema must be at most 65536 bytes' using errcode = '22023';
    end if;
  end if;

  -- every {{NAME}} in the URL and headers must be a listed secret, so the loop resolves exactly what is declared
  select m[1] into v_bad
    from regexp_matches(coalesce(v_config ->> 'url', '') || ' ' || coalesce((v_config -> 'headers')::text, ''), '\{\{([^}]*)\}\}', 'g') as m
   where not (m[1] = any (v_secrets))
   limit 1;
  if found then
    raise exception 'p_definition.config refers to {{%}}, which is not listed in p_definition.secrets', left(v_bad, 100)
      using errcode = '22023';
  end if;

  insert into taskweave.tools as t (slug, kind, description, config, secrets, idempotent, requires_approval, timeout_seconds, max_output_bytes)
  values (p_slug, v_kind,
          coalesce(taskweave_private.json_text(p_definition -> 'description', 'p_definition.description', 2000), ''),
          v_config, v_secrets,
          coalesce(taskweave_private.json_boolean(p_definition -> 'idempotent', 'p_definition.idempotent'), false),
          coalesce(taskweave_private.json_boolean(p_definition -> 'requires_approval', 'p_definition.requires_approval'), false),
          coalesce(taskweave_private.json_whole_number(p_definition -> 'timeout_seconds', 'p_definition.timeout_seconds', 1, 300), 30),
          coalesce(taskweave_private.json_whole_number(p_definition -> 'max_output_bytes', 'p_definition.max_output_bytes', 256, 1048576), 16384))
  on conflict (slug) do update
    set kind = excluded.kind, description = excluded.description, config = excluded.config, secrets = excluded.secrets,
        idempotent = excluded.idempotent, requires_approval = excluded.requires_approval,
        timeout_seconds = excluded.timeout_seconds, max_output_bytes = excluded.max_output_bytes, updated_at = now()
  returning * into v_tool;
  return v_tool;
end;
$$;
comment on function taskweave.upsert_tool(text, jsonb) is
  'Operators only: creates or replaces a tool. p_definition keys: kind (mcp | http | sql, required), description, config '
  '(mcp: url, headers, allowed_tools; http: method (default POST), url, headers, input_schema; sql: function as schema.name, '
  'input_schema; input_schema is the JSON Schema of the arguments shown to the model, type object), '
  'secrets (environment variable names; a URL or header refers to one as {{NAME}}, and every {{NAME}} must be listed; '
  'Taskweave''s own SUPABASE_*/TASKWEAVE_* credentials are refused), idempotent, requires_approval (booleans, default false), '
  'timeout_seconds (1 to 300, default 30), max_output_bytes (256 to 1048576, default 16384). A credential written literally '
  'in a URL or a credential-like header is refused. 22023 naming the field; nothing is changed then.';
revoke all on function taskweave.upsert_tool(text, jsonb) from public, anon, authenticated;
grant execute on function taskweave.upsert_tool(text, jsonb) to authenticated, service_role;

create function taskweave.delete_tool(p_slug text)
returns taskweave.tools
language plpgsql
volatile
-- security definer: operators (authenticated) may read tools but not write them; this function is the door
security definer
set search_path = ''
as $$
declare
  v_tool taskweave.tools;
  v_agents text;
begin
  perform taskweave_private.require_operator('manage tools');
  if p_slug is null then
    raise exception 'p_slug must not be null' using errcode = '22023';
  end if;
  -- waits for an upsert_agent that key-share-locked this tool, then sees its links
  select * into v_tool from taskweave.tools where slug = p_slug for update;
  if not found then
    raise exception 'tool "%" not found', left(p_slug, 100) using errcode = 'P0002';
  end if;
  select string_agg(agent_slug, ', ' order by agent_slug) into v_agents from taskweave.agent_tools where tool_slug = p_slug;
  if v_agents is not null then
    raise exception 'tool "%" is in use: agent(s) % list it', p_slug, v_agents
      using errcode = '22023',
            hint = 'Remove it from their tools with taskweave.upsert_agent first.';
  end if;
  delete from taskweave.tools where slug = p_slug;
  return v_tool;
end;
$$;
comment on function taskweave.delete_tool(text) is
  'Operators only: deletes a tool, returning the deleted row. 22023 while an agent lists it; P0002 for an unknown slug. '
  'Its past calls stay in taskweave.tool_calls.';
revoke all on function taskweave.delete_tool(text) from public, anon, authenticated;
grant execute on function taskweave.delete_tool(text) to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- prices

create function taskweave.set_model_price(p_model text, p_input_per_million numeric, p_output_per_million numeric)
returns taskweave.model_prices
language plpgsql
volatile
-- security definer: operators (authenticated) may read prices but not write them; this function is the door
security definer
set search_path = ''
as $$
declare
  v_price taskweave.model_prices;
begin
  perform taskweave_private.require_operator('set model prices');
  if p_model is null or char_length(btrim(p_model)) = 0 or char_length(p_model) > 200 then
    raise exception 'p_model must be a non-empty model name of at most 200 characters' using errcode = '22023';
  end if;
  -- any name: the environment's model may hold a colon itself (Ollama's llama3:8b), so no provider is required
  if p_input_per_million is null and p_output_per_million is null then
    delete from taskweave.model_prices where model = p_model returning * into v_price;
    return v_price;
  end if;
  if p_input_per_million is null or p_input_per_million < 0 or p_input_per_million > 1000000 or p_input_per_million = 'NaN' then
    raise exception 'p_input_per_million must be US dollars per million input tokens, from 0 to 1000000 (got %)',
      coalesce(p_input_per_million::text, 'null') using errcode = '22023';
  end if;
  if p_output_per_million is null or p_output_per_million < 0 or p_output_per_million > 1000000 or p_output_per_million = 'NaN' then
    raise exception 'p_output_per_million must be US dollars per million output tokens, from 0 to 1000000 (got %)',
      coalesce(p_output_per_million::text, 'null') using errcode = '22023';
  end if;
  insert into taskweave.model_prices (model, input_per_million, output_per_million)
  values (p_model, p_input_per_million, p_output_per_million)
  on conflict (model) do update
    set input_per_million = excluded.input_per_million, output_per_million = excluded.output_per_million, updated_at = now()
  returning * into v_price;
  return v_price;
end;
$$;
comment on function taskweave.set_model_price(text, numeric, numeric) is
  'Operators only: US dollars per million input and output tokens for a model, named as in agents.model (provider:model) '
  'or as the environment''s model name (LLM_MODEL). Both prices null removes the model''s price (its steps then cost 0). '
  'Later model steps are costed at the new price; what runs already cost stays. 22023 for a bad name or price.';
revoke all on function taskweave.set_model_price(text, numeric, numeric) from public, anon, authenticated;
grant execute on function taskweave.set_model_price(text, numeric, numeric) to authenticated, service_role;

revoke all on function
  taskweave_private.validate_slug(text, text),
  taskweave_private.validate_model(text, text),
  taskweave_private.validate_tool_url(text, text),
  taskweave_private.validate_tool_headers(jsonb, text)
  from public, anon, authenticated;
grant execute on function
  taskweave_private.validate_slug(text, text),
  taskweave_private.validate_model(text, text),
  taskweave_private.validate_tool_url(text, text),
  taskweave_private.validate_tool_headers(jsonb, text)
  to service_role;
