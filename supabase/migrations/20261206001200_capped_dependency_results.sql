-- What an aggregator receives is capped in SQL, so a wide fan-in fits an edge function (256 MB, 2 s of CPU):
-- each dependency's output at most dependency_output_chars (16,384) characters, all outputs together at most
-- dependency_total_chars (262,144), shared fairly (smallest first; what a short output leaves goes to the
-- longer ones). A dependency's instructions are cut to the same per-output cap and an input larger than it is
-- left out: the aggregator's context shows neither. A cut output keeps its shape (a model output its
-- "text", a manual one its "value", as text) and gains "cut": {"original_chars", "kept_chars"}, which the
-- context builder shows the model as "truncated" and "original_length".

-- The text an output stands for, as the context builder reads it (model text, manual value, else the JSON).
create function taskweave_private.output_text(p_output jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when p_output is null or jsonb_typeof(p_output) = 'null' then null
    when p_output ->> 'source' = 'model' and jsonb_typeof(p_output -> 'text') = 'string' then p_output ->> 'text'
    when p_output ->> 'source' = 'manual' and p_output ? 'value' then
      case when jsonb_typeof(p_output -> 'value') = 'string' then p_output ->> 'value' else (p_output -> 'value')::text end
    when jsonb_typeof(p_output) = 'string' then p_output #>> '{}'
    else p_output::text
  end
$$;
comment on function taskweave_private.output_text(jsonb) is 'The text a task output stands for: a model output''s text, a manual output''s value, else the JSON itself.';
revoke all on function taskweave_private.output_text(jsonb) from public, anon, authenticated;
grant execute on function taskweave_private.output_text(jsonb) to service_role;

create function taskweave_private.cut_output(p_output jsonb, p_keep integer)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_text text := taskweave_private.output_text(p_output);
  v_cut jsonb;
begin
  if v_text is null or length(v_text) <= p_keep then
    return p_output;
  end if;
  v_cut := jsonb_build_object('original_chars', length(v_text), 'kept_chars', greatest(p_keep, 0));
  return case
    when p_output ->> 'source' = 'model' and jsonb_typeof(p_output -> 'text') = 'string' then
      p_output || jsonb_build_object('text', left(v_text, greatest(p_keep, 0)), 'cut', v_cut)
    when p_output ->> 'source' = 'manual' and p_output ? 'value' then
      p_output || jsonb_build_object('value', left(v_text, greatest(p_keep, 0)), 'cut', v_cut)
    else jsonb_build_object('text', left(v_text, greatest(p_keep, 0)), 'cut', v_cut)
  end;
end;
$$;
comment on function taskweave_private.cut_output(jsonb, integer) is
  'p_output with its text cut to p_keep characters and "cut": {"original_chars", "kept_chars"} added; unchanged when it fits.';
revoke all on function taskweave_private.cut_output(jsonb, integer) from public, anon, authenticated;
grant execute on function taskweave_private.cut_output(jsonb, integer) to service_role;

create or replace function taskweave.get_dependency_results(p_task_id uuid)
returns setof taskweave.tasks
language plpgsql
stable
set search_path = ''
as $$
declare
  v_per_output integer := taskweave_private.setting_int('dependency_output_chars', 16384);
  v_total integer := taskweave_private.setting_int('dependency_total_chars', 262144);
  v_ids uuid[];
  v_lengths integer[];
  v_keep integer[];
  v_position integer;
  v_left integer;
  v_remaining bigint;
  v_row taskweave.tasks;
  v_index integer := 0;
begin
  select array_agg(t.id order by d.ord), array_agg(coalesce(length(taskweave_private.output_text(t.output)), 0) order by d.ord)
    into v_ids, v_lengths
    from taskweave.tasks a
   cross join lateral unnest(a.dependent_task_ids) with ordinality as d(id, ord)
    join taskweave.tasks t on t.id = d.id
   where a.id = p_task_id;
  if v_ids is null then
    return;
  end if;
  -- each output's share of the total: smallest first, so what a short output leaves flows to the longer ones
  v_keep := array_fill(0, array[array_length(v_ids, 1)]);
  v_left := array_length(v_ids, 1);
  v_remaining := v_total;
  for v_position in select u.n from unnest(v_lengths) with ordinality u(len, n) order by u.len, u.n loop
    v_keep[v_position] := least(v_per_output, v_remaining / v_left, v_lengths[v_position]);
    v_remaining := v_remaining - v_keep[v_position];
    v_left := v_left - 1;
  end loop;
  for v_row in
    select t.* from unnest(v_ids) with ordinality u(id, n) join taskweave.tasks t on t.id = u.id order by u.n
  loop
    v_index := v_index + 1;
    v_row.output := taskweave_private.cut_output(v_row.output, v_keep[v_index]);
    v_row.instructions := left(v_row.instructions, v_per_output);
    if length(v_row.input::text) > v_per_output then
      v_row.input := jsonb_build_object('cut', jsonb_build_object('original_chars', length(v_row.input::text), 'kept_chars', 0));
    end if;
    return next v_row;
  end loop;
end;
$$;
comment on function taskweave.get_dependency_results(uuid) is
  'An aggregator''s dependencies in the order it listed them, with status, output and cancel_reason, for its LLM context; '
  'capped: each output at most the setting dependency_output_chars (16384) characters and all together at most '
  'dependency_total_chars (262144), a cut output marked "cut": {"original_chars", "kept_chars"}; instructions cut to '
  'dependency_output_chars, an input longer than that replaced by {"cut": …}.';
