-- Settings live in a table, not in Postgres parameters. On hosted Supabase and under `supabase start` the
-- role `postgres` is not a superuser and may not `alter database … set taskweave.*` (42501), and any
-- session could `set taskweave.max_running = 0` for itself. Operators change them with
-- taskweave.set_settings(jsonb) and read them with taskweave.get_settings(); the engine reads one with
-- taskweave_private.setting_int(name, default), which no session parameter can sway.
--
-- Adding a setting is one row in the insert below (in a new migration: one `insert … on conflict do nothing`).

create table taskweave_private.settings (
  name text primary key,
  value integer not null,
  default_value integer not null,
  min_value integer not null,
  max_value integer not null,
  description text not null,
  updated_at timestamptz not null default now(),
  updated_by text,
  constraint settings_name_format check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  constraint settings_range check (min_value <= default_value and default_value <= max_value),
  constraint settings_value_in_range check (value between min_value and max_value)
);
comment on table taskweave_private.settings is
  'Taskweave''s settings, one row per setting: the value in force, its default and allowed range. Changed only through '
  'taskweave.set_settings (operators); read by taskweave_private.setting_int on the engine''s paths.';
comment on column taskweave_private.settings.value is 'The value in force (the default until an operator sets it).';
comment on column taskweave_private.settings.updated_by is 'The operator who last set it (null: never set, or copied from a 0.2.0 database parameter).';

alter table taskweave_private.settings enable row level security;
-- no policies and no grants: only the owner reads it, through the security definer functions below
revoke all on taskweave_private.settings from public, anon, authenticated, service_role;

insert into taskweave_private.settings (name, value, default_value, min_value, max_value, description) values
  ('max_running', 100, 100, 0, 1000000, 'Tasks running at once across every worker and dispatch path; 0 = no cap.'),
  ('max_aggregator_dependencies', 10000, 10000, 1, 1000000, 'Dependencies one aggregator may wait for.'),
  ('max_children_per_task', 100, 100, 1, 1000000, 'Child tasks one task may create.'),
  ('max_depth', 5, 5, 0, 1000, 'How deep tasks may nest below the root (0: the root creates no child).'),
  ('retry_base_seconds', 10, 10, 0, 86400, 'Backoff before the first retry; it doubles with each attempt.'),
  ('retry_max_seconds', 600, 600, 0, 604800, 'The longest backoff between retries.'),
  ('default_max_attempts', 3, 3, 1, 100, 'Attempts a new task gets before it fails (or goes to review).'),
  ('default_max_tasks', 1000, 1000, 0, 1000000, 'A run''s max_tasks when create_task is given none; 0 = no limit.'),
  ('default_max_tokens', 2000000, 2000000, 0, 2147483647, 'A run''s max_tokens when create_task is given none; 0 = no limit.'),
  ('default_deadline_seconds', 86400, 86400, 0, 31536000, 'A run''s deadline_seconds when create_task is given none; 0 = no limit.'),
  ('max_idle_releases', 3, 3, 0, 1000, 'Releases in a row without a saved model step before the task fails with category timeout.'),
  ('dependency_output_chars', 16384, 16384, 100, 1000000, 'Characters of one dependency''s output (and instructions) an aggregator receives (get_dependency_results).'),
  ('dependency_total_chars', 262144, 262144, 1000, 16000000, 'Characters of all dependency outputs together an aggregator receives (get_dependency_results).');

-- A database migrated from 0.2.0 keeps what it had set with `alter database … set taskweave.<name>`: the
-- migrating session sees those values, so they are copied in; a value that is not a whole number in range
-- is reported and the default kept. The parameter itself is left alone (it no longer does anything).
do $$
declare
  v_setting record;
  v_text text;
begin
  for v_setting in select s.name, s.min_value, s.max_value from taskweave_private.settings s order by s.name loop
    v_text := nullif(btrim(pg_catalog.current_setting('taskweave.' || v_setting.name, true)), '');
    continue when v_text is null;
    if v_text ~ '^-?[0-9]{1,10}$' and v_text::bigint between v_setting.min_value and v_setting.max_value then
      update taskweave_private.settings set value = v_text::integer where name = v_setting.name;
      raise notice 'copied taskweave.% = % from the database parameter into taskweave_private.settings', v_setting.name, v_text;
    else
      raise warning 'taskweave.% = % is not a whole number from % to %: kept the default', v_setting.name, v_text,
        v_setting.min_value, v_setting.max_value;
    end if;
  end loop;
end;
$$;

create or replace function taskweave_private.setting_int(p_name text, p_default integer)
returns integer
language plpgsql
stable
-- security definer: the settings table is readable only by its owner, so no caller can read past
-- get_settings or write it except through set_settings
security definer
set search_path = ''
as $$
declare
  v_value integer;
begin
  -- plpgsql keeps this primary-key lookup's plan for the session: it is read on every claim
  select s.value into v_value from taskweave_private.settings s where s.name = p_name;
  return coalesce(v_value, p_default);
end;
$$;
comment on function taskweave_private.setting_int(text, integer) is
  'A Taskweave setting from taskweave_private.settings (set with taskweave.set_settings), or p_default for a name it does not '
  'hold. Postgres parameters (taskweave.*) are not read: no session can change a limit for itself.';

create function taskweave_private.effective_settings()
returns jsonb
language sql
stable
-- security definer: reads the owner-only settings table for the operator-checked functions below
security definer
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(s.name, s.value order by s.name), '{}'::jsonb) from taskweave_private.settings s
$$;
comment on function taskweave_private.effective_settings() is 'Every setting in force, as {"name": value}.';
revoke all on function taskweave_private.effective_settings() from public, anon, authenticated, service_role;

create function taskweave.get_settings()
returns jsonb
language plpgsql
stable
-- security definer: the settings table is the owner's alone; the operator check comes first
security definer
set search_path = ''
as $$
begin
  perform taskweave_private.require_operator('read settings');
  return taskweave_private.effective_settings();
end;
$$;
comment on function taskweave.get_settings() is
  'Operators: every Taskweave setting in force, as {"max_running": 100, …} (the names and ranges are in taskweave.set_settings).';
revoke all on function taskweave.get_settings() from public, anon, authenticated;
grant execute on function taskweave.get_settings() to authenticated, service_role;

create function taskweave.set_settings(p_settings jsonb)
returns jsonb
language plpgsql
volatile
-- security definer: operators have no rights on the settings table; this function is its one door and
-- checks the operator before anything else
security definer
set search_path = ''
as $$
declare
  v_key text;
  v_value jsonb;
  v_setting taskweave_private.settings;
  v_number numeric;
  v_known text;
begin
  perform taskweave_private.require_operator('change settings');
  if p_settings is null or jsonb_typeof(p_settings) <> 'object' then
    raise exception 'p_settings must be a JSON object such as {"max_running": 20} (got %)', coalesce(p_settings::text, 'null')
      using errcode = '22023';
  end if;
  -- every key is checked before any is written: a bad one changes nothing
  for v_key, v_value in select e.key, e.value from jsonb_each(p_settings) e order by e.key loop
    select * into v_setting from taskweave_private.settings s where s.name = v_key;
    if not found then
      select string_agg(s.name, ', ' order by s.name) into v_known from taskweave_private.settings s;
      raise exception 'unknown setting "%"; the settings are %', v_key, v_known using errcode = '22023';
    end if;
    continue when jsonb_typeof(v_value) = 'null'; -- null: back to the default
    if jsonb_typeof(v_value) <> 'number' then
      raise exception 'setting "%" must be a whole number from % to % (got %)', v_key, v_setting.min_value, v_setting.max_value, v_value
        using errcode = '22023';
    end if;
    v_number := v_value::text::numeric;
    if v_number <> trunc(v_number) or v_number < v_setting.min_value or v_number > v_setting.max_value then
      raise exception 'setting "%" must be a whole number from % to % (got %)', v_key, v_setting.min_value, v_setting.max_value, v_value
        using errcode = '22023';
    end if;
  end loop;
  update taskweave_private.settings s
     set value = case when jsonb_typeof(p_settings -> s.name) = 'null' then s.default_value else (p_settings ->> s.name)::integer end,
         updated_at = now(),
         updated_by = taskweave_private.operator_name()
   where p_settings ? s.name;
  return taskweave_private.effective_settings();
end;
$$;
comment on function taskweave.set_settings(jsonb) is
  'Operators: merges {"name": value, …} into the settings and returns every setting in force. A value is a whole number in '
  'the setting''s range, or null for its default. An unknown name or a bad value raises 22023 naming it and changes nothing. '
  'Settings: max_running, max_aggregator_dependencies, max_children_per_task, max_depth, retry_base_seconds, retry_max_seconds, '
  'default_max_attempts, default_max_tasks, default_max_tokens, default_deadline_seconds, max_idle_releases, '
  'dependency_output_chars, dependency_total_chars.';
revoke all on function taskweave.set_settings(jsonb) from public, anon, authenticated;
grant execute on function taskweave.set_settings(jsonb) to authenticated, service_role;
