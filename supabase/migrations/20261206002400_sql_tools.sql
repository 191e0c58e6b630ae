-- Taskweave 0.3.0: SQL tools. A tool of kind sql names a Postgres function of one jsonb argument
-- (config.function = 'schema.name'); the model's arguments are passed to it as jsonb and its result,
-- as jsonb, is the tool's result.
--
-- Who runs it: role taskweave_sql_tool, made here NOLOGIN and given nothing: not a member of
-- authenticated or service_role, no usage on Taskweave's schemas. An operator grants it what a tool
-- needs (usage on the function's schema, select on its tables). The call goes through
-- taskweave_private.run_sql_tool, a security definer function owned by that role, so the tool runs as
-- taskweave_sql_tool whoever calls it, and inside a security definer function Postgres refuses SET ROLE
-- and SET SESSION AUTHORIZATION: the tool cannot switch back to the worker's own role (process-task
-- connects as the database owner). The worker calls taskweave.call_sql_tool, which also records the
-- result in the same transaction as the call: a SQL tool's effects and its tool_calls row commit
-- together, so it runs exactly once without asking anyone.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'taskweave_sql_tool') then
    create role taskweave_sql_tool nologin noinherit;
    -- commented where it is made: on Postgres 16+ commenting on a role someone else made needs ADMIN on it
    comment on role taskweave_sql_tool is
      'Taskweave: the role SQL tools run as. It holds no rights but what an operator grants it for a tool''s function.';
  end if;
end;
$$;

create function taskweave_private.resolve_sql_tool_function(p_function text, p_name text)
returns regprocedure
language plpgsql
stable
set search_path = ''
as $$
declare
  v_schema text := split_part(p_function, '.', 1);
  v_function text := split_part(p_function, '.', 2);
  v_proc record;
begin
  if p_function is null or p_function !~ '^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$' then
    raise exception '% must name a function as schema.name, in lowercase (got %)', p_name, coalesce('"' || left(p_function, 200) || '"', 'null')
      using errcode = '22023';
  end if;
  if v_schema in ('taskweave', 'taskweave_private', 'pg_catalog', 'information_schema', 'auth', 'extensions', 'storage',
                  'vault', 'pgsodium', 'pgsodium_masks', 'realtime', 'supabase_functions', 'supabase_migrations', 'graphql',
                  'graphql_public', 'cron', 'net', 'pgbouncer', 'pgmq')
     or v_schema like 'pg\_%' then
    raise exception '% may not name a function in schema %: it belongs to Taskweave, Postgres or Supabase', p_name, v_schema
      using errcode = '22023';
  end if;
  select p.oid, p.prokind, p.proretset, p.prosecdef, p.prorettype, l.lanname, l.lanpltrusted, o.rolname as owner,
         o.rolsuper or o.rolbypassrls
           or pg_catalog.pg_has_role(o.oid, (select n2.nspowner from pg_catalog.pg_namespace n2 where n2.nspname = 'taskweave'), 'usage')
           or (exists (select 1 from pg_catalog.pg_roles s where s.rolname = 'service_role')
               and pg_catalog.pg_has_role(o.oid, 'service_role', 'usage')) as owner_is_powerful,
         t.typtype
    into v_proc
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    join pg_catalog.pg_language l on l.oid = p.prolang
    join pg_catalog.pg_roles o on o.oid = p.proowner
    join pg_catalog.pg_type t on t.oid = p.prorettype
   where n.nspname = v_schema and p.proname = v_function
     and p.pronargs = 1 and p.proargtypes[0] = 'jsonb'::regtype;
  if not found then
    raise exception '% names %.%(jsonb), which does not exist; a SQL tool is a function of one jsonb argument', p_name, v_schema, v_function
      using errcode = '22023';
  end if;
  if v_proc.prokind <> 'f' or v_proc.proretset or v_proc.typtype = 'p' then
    raise exception '% must name a plain function returning one value (jsonb is best), not a procedure, aggregate, set or %',
      p_name, v_proc.prorettype::regtype
      using errcode = '22023';
  end if;
  if not v_proc.lanpltrusted then
    raise exception '% is written in %, an untrusted language only a superuser may use', p_name, v_proc.lanname
      using errcode = '22023';
  end if;
  if v_proc.prosecdef and v_proc.owner_is_powerful then
    raise exception '% is security definer and owned by %, which has superuser, owner or service_role rights: it would not run '
      'as the tool role', p_name, v_proc.owner
      using errcode = '22023',
            hint = 'Make it security invoker, or give it to an owner without those rights.';
  end if;
  if not pg_catalog.has_schema_privilege('taskweave_sql_tool', v_schema, 'usage')
     or not pg_catalog.has_function_privilege('taskweave_sql_tool', v_proc.oid, 'execute') then
    raise exception '% cannot be run by role taskweave_sql_tool, which SQL tools run as', p_name
      using errcode = '22023',
            hint = format('grant usage on schema %I to taskweave_sql_tool; grant execute on function %I.%I(jsonb) to taskweave_sql_tool; '
                          'and what the function reads.', v_schema, v_schema, v_function);
  end if;
  return v_proc.oid::regprocedure;
end;
$$;
comment on function taskweave_private.resolve_sql_tool_function(text, text) is
  'A SQL tool''s config.function (schema.name) as the function it names, or 22023 naming the field: it must take one jsonb '
  'argument and return one value, lie outside the schemas of Taskweave, Postgres and Supabase, be in a trusted language, be '
  'runnable by role taskweave_sql_tool, and not be security definer under an owner with superuser, owner or service_role rights.';

create function taskweave_private.run_sql_tool(p_function regprocedure, p_arguments jsonb)
returns jsonb
language plpgsql
volatile
-- security definer, owned by taskweave_sql_tool (below): the tool runs as that role whoever calls, and
-- Postgres refuses SET ROLE inside it, so the tool cannot take back the caller's rights
security definer
-- a tool function names its objects schema-qualified or sets its own search_path
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  execute format('select pg_catalog.to_jsonb(%s($1))', p_function::oid::regproc) into v_result using p_arguments;
  return v_result;
end;
$$;
comment on function taskweave_private.run_sql_tool(regprocedure, jsonb) is
  'Runs a SQL tool''s function with the arguments, as role taskweave_sql_tool (its owner), and returns the result as jsonb. '
  'Called by taskweave.call_sql_tool only.';

-- The owner must be able to create in the schema at the moment of the change, so the right is lent for it.
grant create on schema taskweave_private to taskweave_sql_tool;
do $$
begin
  if not (select rolsuper from pg_catalog.pg_roles where rolname = current_user)
     and not pg_catalog.pg_has_role(current_user, 'taskweave_sql_tool', 'member') then
    -- hosted Supabase: the migrating role has CREATEROLE but is no superuser, and ALTER OWNER needs the right
    -- to SET ROLE to the new owner (Postgres 16+ gives a role's creator only ADMIN on it)
    execute format('grant taskweave_sql_tool to %I', current_user);
  end if;
end;
$$;
alter function taskweave_private.run_sql_tool(regprocedure, jsonb) owner to taskweave_sql_tool;
revoke create on schema taskweave_private from taskweave_sql_tool;
revoke all on function taskweave_private.run_sql_tool(regprocedure, jsonb) from public, anon, authenticated;
grant execute on function taskweave_private.run_sql_tool(regprocedure, jsonb) to service_role;

create function taskweave.call_sql_tool(p_task_id uuid, p_worker text, p_tool_call_id text)
returns taskweave.tool_calls
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_call taskweave.tool_calls;
  v_tool taskweave.tools;
  v_function regprocedure;
  v_timeout_ms bigint;
  v_result jsonb;
  v_text text;
  v_prefix text;
  v_error text;
begin
  perform taskweave_private.validate_tool_call_id(p_tool_call_id, 'p_tool_call_id');
  perform taskweave_private.lock_leased_task(p_task_id, p_worker);
  select * into v_call from taskweave.tool_calls where task_id = p_task_id and tool_call_id = p_tool_call_id for update;
  if not found then
    raise exception 'tool call % of task % was never started', p_tool_call_id, p_task_id using errcode = 'P0002',
      hint = 'Record it with taskweave.start_tool_call first.';
  end if;
  if v_call.status in ('succeeded', 'failed', 'rejected') then
    return v_call; -- it ran (and committed with its result) already: the saved result stands
  end if;
  if v_call.status <> 'started' then
    raise exception 'tool call % of task % is %; it has not started', p_tool_call_id, p_task_id, v_call.status using errcode = '55000';
  end if;
  select * into v_tool from taskweave.tools where slug = v_call.tool_slug;
  if not found or v_tool.kind <> 'sql' then
    raise exception 'tool call % of task % is not a call of a SQL tool (%)', p_tool_call_id, p_task_id, coalesce(v_tool.kind || ' tool ' || v_tool.slug, 'no tool')
      using errcode = '22023';
  end if;
  select s.setting::bigint into v_timeout_ms from pg_catalog.pg_settings s where s.name = 'statement_timeout';
  if v_timeout_ms = 0 or v_timeout_ms > v_tool.timeout_seconds * 1000 then
    raise exception 'a SQL tool runs under the tool''s timeout: run "set local statement_timeout = ''%s''" in this transaction first',
      v_tool.timeout_seconds
      using errcode = '55000';
  end if;
  -- the guarantee below rests on the runner being what this migration made
  if not exists (select 1 from pg_catalog.pg_proc p join pg_catalog.pg_roles o on o.oid = p.proowner
                  where p.oid = 'taskweave_private.run_sql_tool(regprocedure, jsonb)'::regprocedure
                    and p.prosecdef and o.rolname = 'taskweave_sql_tool' and not o.rolsuper) then
    raise exception 'taskweave_private.run_sql_tool is no longer a security definer function owned by taskweave_sql_tool; SQL tools are off'
      using errcode = '55000';
  end if;

  begin
    -- checked again at each call: the function may have changed since upsert_tool
    v_function := taskweave_private.resolve_sql_tool_function(v_tool.config ->> 'function', 'tools.config.function');
    v_result := taskweave_private.run_sql_tool(v_function, v_call.arguments);
  exception
    when query_canceled then
      v_error := format('the SQL tool "%s" did not finish within %s seconds', v_tool.slug, v_tool.timeout_seconds);
    when others then
      v_error := format('%s (SQLSTATE %s)', sqlerrm, sqlstate);
  end;

  if v_error is null then
    v_text := coalesce(v_result::text, 'null');
    if octet_length(v_text) > v_tool.max_output_bytes then
      v_prefix := left(v_text, v_tool.max_output_bytes);
      while octet_length(v_prefix) > v_tool.max_output_bytes loop
        v_prefix := left(v_prefix, char_length(v_prefix) - greatest((octet_length(v_prefix) - v_tool.max_output_bytes) / 4, 1));
      end loop;
      v_result := jsonb_build_object('truncated', true, 'bytes', octet_length(v_text), 'max_output_bytes', v_tool.max_output_bytes,
                                     'text', v_prefix);
    end if;
  end if;
  update taskweave.tool_calls
     set status = case when v_error is null then 'succeeded' else 'failed' end,
         result = case when v_error is null then v_result end,
         error = left(v_error, 10000),
         ended_at = now(),
         duration_ms = least(greatest(extract(epoch from (clock_timestamp() - started_at)) * 1000, 0), 2147483647)::integer
   where id = v_call.id
   returning * into v_call;
  return v_call;
end;
$$;
comment on function taskweave.call_sql_tool(uuid, text, text) is
  'The worker runs a started call of a SQL tool (the lease holder only: TW001) and records its outcome in the same '
  'transaction, so the call and its tool_calls row commit together. The function runs with the recorded arguments as role '
  'taskweave_sql_tool (no operator or owner rights, no SET ROLE); the caller must first "set local statement_timeout" to at '
  'most the tool''s timeout_seconds (55000 otherwise). A result over max_output_bytes becomes {"truncated": true, "bytes", '
  '"max_output_bytes", "text": the first bytes of its JSON}. An error or a timeout ends the call as failed with the message '
  '(a tool error for the model, not a failed task). A call that already ended is returned as it is.';
revoke all on function taskweave.call_sql_tool(uuid, text, text) from public, anon, authenticated;
grant execute on function taskweave.call_sql_tool(uuid, text, text) to service_role;

revoke all on function taskweave_private.resolve_sql_tool_function(text, text) from public, anon, authenticated;
grant execute on function taskweave_private.resolve_sql_tool_function(text, text) to service_role;
