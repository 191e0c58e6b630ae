-- Taskweave 0.3.0: a documented cap on every text and jsonb value the SQL API stores, checked in one place.
--
-- An audit found inputs without bounds: a 12,800-character tool_call_id failed deep inside an index
-- (54000), a 50 MB task input was accepted, and outputs, transcript messages and errors had no limit at
-- all. Each table below now has one BEFORE INSERT/UPDATE trigger that raises 22023 naming the argument
-- (and the column) of a value past its cap, so every API function, present and future, is bounded
-- without repeating the check. jsonb is measured in bytes as Postgres holds it (pg_column_size, which
-- reads a stored value's size without detoasting it); text in characters.
--
-- The caps (README "Size caps" lists them too):
--   tasks.title 500 chars (p_title) · tasks.instructions 200,000 chars (p_instructions)
--   tasks.input 1 MiB (p_input) · tasks.output 1 MiB (p_output) · tasks.last_error 64 KiB (p_error)
--   tasks.tool_call_id 200 chars (p_tool_call_id) · tasks.cancel_reason 10,000 chars (p_note) · tasks.agent 200 chars (p_agent)
--   human_reviews.error 64 KiB (p_error) · human_reviews.manual_output 1 MiB (p_manual_output)
--   human_reviews.note 10,000 chars (p_note) · human_reviews.request 1 MiB (request)
--   task_messages.content 2 MiB (p_content) · task_messages.usage 4 KiB (p_usage)
--   tool_calls.tool_call_id 200 chars · tool_calls.tool_name 200 chars · tool_calls.arguments 1 MiB
--   tool_calls.result 1 MiB · tool_calls.error 64 KiB
--   tools.config 64 KiB (p_definition.config)

create function taskweave_private.cap_jsonb(p_value jsonb, p_max_bytes integer, p_argument text, p_column text)
returns void
language plpgsql
immutable
-- no SET clause: runs on every insert of a task; it names only built-ins, as pg_catalog.*
as $$
declare
  v_bytes integer := pg_catalog.pg_column_size(p_value);
begin
  if v_bytes > p_max_bytes then
    raise exception '% is too large: % bytes, the cap is % bytes', p_argument, v_bytes, p_max_bytes
      using errcode = '22023', detail = 'column ' || p_column,
            hint = 'Store large data elsewhere (e.g. Supabase Storage) and pass a reference.';
  end if;
end;
$$;
comment on function taskweave_private.cap_jsonb(jsonb, integer, text, text) is
  'Raises 22023 naming the argument when a jsonb value is larger than its cap (bytes as stored, pg_column_size).';

create function taskweave_private.cap_text(p_value text, p_max_chars integer, p_argument text, p_column text)
returns void
language plpgsql
immutable
-- no SET clause: runs on every insert of a task; it names only built-ins, as pg_catalog.*
as $$
declare
  v_chars integer := pg_catalog.char_length(p_value);
begin
  if v_chars > p_max_chars then
    raise exception '% is too long: % characters, the cap is % characters', p_argument, v_chars, p_max_chars
      using errcode = '22023', detail = 'column ' || p_column;
  end if;
end;
$$;
comment on function taskweave_private.cap_text(text, integer, text, text) is
  'Raises 22023 naming the argument when a text value is longer than its cap (characters).';

create function taskweave_private.cap_task_sizes()
returns trigger
language plpgsql
-- no SET clause: runs on every insert and completion; it names only schema-qualified objects
as $$
begin
  perform taskweave_private.cap_text(new.title, 500, 'p_title', 'tasks.title');
  perform taskweave_private.cap_text(new.instructions, 200000, 'p_instructions', 'tasks.instructions');
  perform taskweave_private.cap_jsonb(new.input, 1048576, 'p_input', 'tasks.input');
  perform taskweave_private.cap_jsonb(new.output, 1048576, 'p_output', 'tasks.output');
  perform taskweave_private.cap_jsonb(new.last_error, 65536, 'p_error', 'tasks.last_error');
  perform taskweave_private.cap_text(new.tool_call_id, 200, 'p_tool_call_id', 'tasks.tool_call_id');
  perform taskweave_private.cap_text(new.cancel_reason, 10000, 'p_note', 'tasks.cancel_reason');
  perform taskweave_private.cap_text(new.agent, 200, 'p_agent', 'tasks.agent');
  return new;
end;
$$;
comment on function taskweave_private.cap_task_sizes() is 'The size caps of taskweave.tasks (see cap_jsonb, cap_text); 22023 naming the argument.';

-- only when a capped column is written: claims, heartbeats and usage updates do not pay for it
create trigger tasks_cap_sizes
  before insert or update of title, instructions, input, output, last_error, tool_call_id, cancel_reason, agent
  on taskweave.tasks
  for each row execute function taskweave_private.cap_task_sizes();

create function taskweave_private.cap_review_sizes()
returns trigger
language plpgsql
-- no SET clause: it names only schema-qualified objects
as $$
begin
  perform taskweave_private.cap_jsonb(new.error, 65536, 'p_error', 'human_reviews.error');
  perform taskweave_private.cap_jsonb(new.manual_output, 1048576, 'p_manual_output', 'human_reviews.manual_output');
  perform taskweave_private.cap_text(new.note, 10000, 'p_note', 'human_reviews.note');
  perform taskweave_private.cap_jsonb(new.request, 1048576, 'request', 'human_reviews.request');
  perform taskweave_private.cap_text(new.resolved_by, 500, 'resolved_by', 'human_reviews.resolved_by');
  return new;
end;
$$;
comment on function taskweave_private.cap_review_sizes() is 'The size caps of taskweave.human_reviews; 22023 naming the argument.';

create trigger human_reviews_cap_sizes
  before insert or update on taskweave.human_reviews
  for each row execute function taskweave_private.cap_review_sizes();

create function taskweave_private.cap_message_sizes()
returns trigger
language plpgsql
-- no SET clause: runs on every transcript message; it names only schema-qualified objects
as $$
begin
  perform taskweave_private.cap_jsonb(new.content, 2097152, 'p_content', 'task_messages.content');
  perform taskweave_private.cap_jsonb(new.usage, 4096, 'p_usage', 'task_messages.usage');
  return new;
end;
$$;
comment on function taskweave_private.cap_message_sizes() is 'The size caps of taskweave.task_messages; 22023 naming the argument.';

create trigger task_messages_cap_sizes
  before insert or update on taskweave.task_messages
  for each row execute function taskweave_private.cap_message_sizes();

create function taskweave_private.cap_tool_call_sizes()
returns trigger
language plpgsql
-- no SET clause: runs on every tool call; it names only schema-qualified objects
as $$
begin
  perform taskweave_private.cap_text(new.tool_call_id, 200, 'tool_call_id', 'tool_calls.tool_call_id');
  perform taskweave_private.cap_text(new.tool_name, 200, 'tool_name', 'tool_calls.tool_name');
  perform taskweave_private.cap_jsonb(new.arguments, 1048576, 'arguments', 'tool_calls.arguments');
  perform taskweave_private.cap_jsonb(new.result, 1048576, 'result', 'tool_calls.result');
  perform taskweave_private.cap_text(new.error, 65536, 'error', 'tool_calls.error');
  return new;
end;
$$;
comment on function taskweave_private.cap_tool_call_sizes() is 'The size caps of taskweave.tool_calls; 22023 naming the value.';

create trigger tool_calls_cap_sizes
  before insert or update on taskweave.tool_calls
  for each row execute function taskweave_private.cap_tool_call_sizes();

create function taskweave_private.cap_tool_sizes()
returns trigger
language plpgsql
-- no SET clause: it names only schema-qualified objects
as $$
begin
  perform taskweave_private.cap_jsonb(new.config, 65536, 'p_definition.config', 'tools.config');
  return new;
end;
$$;
comment on function taskweave_private.cap_tool_sizes() is 'The size cap of taskweave.tools.config; 22023 naming the key.';

create trigger tools_cap_sizes
  before insert or update on taskweave.tools
  for each row execute function taskweave_private.cap_tool_sizes();

revoke all on function
  taskweave_private.cap_jsonb(jsonb, integer, text, text),
  taskweave_private.cap_text(text, integer, text, text),
  taskweave_private.cap_task_sizes(),
  taskweave_private.cap_review_sizes(),
  taskweave_private.cap_message_sizes(),
  taskweave_private.cap_tool_call_sizes(),
  taskweave_private.cap_tool_sizes()
  from public, anon, authenticated;
grant execute on function
  taskweave_private.cap_jsonb(jsonb, integer, text, text),
  taskweave_private.cap_text(text, integer, text, text),
  taskweave_private.cap_task_sizes(),
  taskweave_private.cap_review_sizes(),
  taskweave_private.cap_message_sizes(),
  taskweave_private.cap_tool_call_sizes(),
  taskweave_private.cap_tool_sizes()
  to service_role;
