-- Taskweave 0.3.0: open reviews by filter, listed a page at a time and resolved in bulk.
--
-- A filter is a JSON object with any of the keys kind, category, root_task_id, agent, tool,
-- older_than_seconds and text. Its meaning is written once, in taskweave_private.review_filter_predicate,
-- which both taskweave.list_reviews (the reviews page, MCP list_reviews) and taskweave.resolve_reviews
-- (Select all that match, MCP resolve_reviews) use: what a page shows under a filter is what a bulk
-- action on that filter acts on. The predicate is built as SQL text with quoted literals and run with
-- EXECUTE, so each call is planned for its own values (a filter on a rare tool uses its index, no filter
-- walks the open-reviews index in order).

create function taskweave_private.review_filter_predicate(p_filter jsonb)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_key text;
  v_value jsonb;
  v_parts text[] := array[]::text[];
  v_kinds text[];
  v_text text;
  v_seconds numeric;
begin
  if p_filter is null then
    return 'true';
  end if;
  if jsonb_typeof(p_filter) <> 'object' then
    raise exception 'p_filter must be a JSON object (got %)', jsonb_typeof(p_filter) using errcode = '22023';
  end if;
  for v_key, v_value in select e.key, e.value from jsonb_each(p_filter) e order by e.key loop
    if jsonb_typeof(v_value) = 'null' then
      continue; -- an absent filter
    end if;
    case v_key
    when 'kind' then
      if jsonb_typeof(v_value) = 'string' then
        v_kinds := array[v_value #>> '{}'];
      elsif jsonb_typeof(v_value) = 'array' and jsonb_array_length(v_value) > 0
            and not exists (select 1 from jsonb_array_elements(v_value) k where jsonb_typeof(k) <> 'string') then
        select array_agg(k) into v_kinds from jsonb_array_elements_text(v_value) k;
      else
        raise exception 'p_filter.kind must be a review kind or a non-empty array of them' using errcode = '22023';
      end if;
      if exists (select 1 from unnest(v_kinds) k where cardinality(taskweave_private.review_actions(k)) = 0) then
        raise exception 'p_filter.kind must be failure, approval, question or interrupted_call (got %)', v_value using errcode = '22023';
      end if;
      v_parts := v_parts || format('r.kind = any (%L::text[])', v_kinds);
    when 'category', 'agent', 'tool' then
      if jsonb_typeof(v_value) <> 'string' or char_length(v_value #>> '{}') not between 1 and 200 then
        raise exception 'p_filter.% must be a non-empty string of at most 200 characters', v_key using errcode = '22023';
      end if;
      v_parts := v_parts || format(
        case v_key when 'category' then '(r.error ->> ''category'') = %L'
                   when 'agent' then 'exists (select 1 from taskweave.tasks t where t.id = r.task_id and t.agent = %L)'
                   else '(r.request ->> ''tool'') = %L' end,
        v_value #>> '{}');
    when 'root_task_id' then
      if jsonb_typeof(v_value) <> 'string'
         or (v_value #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        raise exception 'p_filter.root_task_id must be a task id (uuid)' using errcode = '22023';
      end if;
      v_parts := v_parts || format('exists (select 1 from taskweave.tasks t where t.id = r.task_id and t.root_task_id = %L::uuid)', v_value #>> '{}');
    when 'older_than_seconds' then
      if jsonb_typeof(v_value) <> 'number' then
        raise exception 'p_filter.older_than_seconds must be a number of seconds' using errcode = '22023';
      end if;
      v_seconds := (v_value #>> '{}')::numeric;
      if v_seconds < 0 or v_seconds > 315360000 then
        raise exception 'p_filter.older_than_seconds must be between 0 and 315360000 (got %)', v_seconds using errcode = '22023';
      end if;
      v_parts := v_parts || format('r.created_at <= pg_catalog.now() - make_interval(secs => %s)', v_seconds);
    when 'text' then
      if jsonb_typeof(v_value) <> 'string' or char_length(btrim(v_value #>> '{}')) not between 1 and 500 then
        raise exception 'p_filter.text must be a non-empty string of at most 500 characters' using errcode = '22023';
      end if;
      -- a substring, case-insensitively: the LIKE wildcards in what the person typed are literal
      v_text := '%' || replace(replace(replace(btrim(v_value #>> '{}'), '\', '\\'), '%', '\%'), '_', '\_') || '%';
      v_parts := v_parts || format('((r.error ->> ''message'') ilike %1$L or (r.request ->> ''question'') ilike %1$L)', v_text);
    else
      raise exception 'p_filter has an unknown key "%"; the keys are kind, category, root_task_id, agent, tool, older_than_seconds and text', v_key
        using errcode = '22023';
    end case;
  end loop;
  if cardinality(v_parts) = 0 then
    return 'true';
  end if;
  return array_to_string(v_parts, ' and ');
end;
$$;
comment on function taskweave_private.review_filter_predicate(jsonb) is
  'The meaning of a review filter, written once: a SQL condition over human_reviews r (a key about the task asks '
  'taskweave.tasks by r.task_id, so a filter without one reads no task). Keys: kind (a '
  'kind or an array of kinds), category (error category), root_task_id (the run), agent (tasks.agent), tool '
  '(request->>''tool''), older_than_seconds, text (case-insensitive substring of the error message or the question). '
  'A null value is no filter; 22023 names an unknown key or a bad value. Values are quoted literals.';

create function taskweave.list_reviews(
  p_filter jsonb default '{}'::jsonb,
  p_limit integer default 20,
  p_after_created_at timestamptz default null,
  p_after_id uuid default null,
  p_backwards boolean default false
)
returns setof taskweave.human_reviews
language plpgsql
stable
-- security definer: it builds its query with the private filter predicate, which signed-in users may not
-- run themselves; so it checks the operator itself, first
security definer
set search_path = ''
as $$
declare
  v_where text;
begin
  perform taskweave_private.require_operator('list reviews');
  v_where := taskweave_private.review_filter_predicate(p_filter);
  if p_limit is null or p_limit < 1 or p_limit > 1001 then
    raise exception 'p_limit must be between 1 and 1001 (got %)', coalesce(p_limit::text, 'null') using errcode = '22023';
  end if;
  if (p_after_created_at is null) <> (p_after_id is null) then
    raise exception 'p_after_created_at and p_after_id go together (a cursor is the created_at and id of a review)' using errcode = '22023';
  end if;
  return query execute format(
    'select p.* from (
       select r.* from taskweave.human_reviews r
        where r.status = ''open'' and %s %s
        order by r.created_at %s, r.id %s
        limit %s) p
      order by p.created_at, p.id',
    v_where,
    case when p_after_id is null then ''
         when p_backwards then 'and (r.created_at, r.id) < ($1, $2)'
         else 'and (r.created_at, r.id) > ($1, $2)' end,
    case when p_backwards then 'desc' else 'asc' end,
    case when p_backwards then 'desc' else 'asc' end,
    p_limit)
    using p_after_created_at, p_after_id;
end;
$$;
comment on function taskweave.list_reviews(jsonb, integer, timestamptz, uuid, boolean) is
  'Open reviews that match the filter (keys as in resolve_reviews), oldest first, a page at a time: keyset pagination on '
  '(created_at, id). With a cursor (p_after_created_at, p_after_id) the page starts after that review, or with p_backwards '
  'ends before it; rows come back oldest first either way (ask for one row more than you show to know whether more '
  'follow: going backwards that extra row is the first). Operators and service_role only (42501).';
revoke all on function taskweave.list_reviews(jsonb, integer, timestamptz, uuid, boolean) from public, anon, authenticated;
grant execute on function taskweave.list_reviews(jsonb, integer, timestamptz, uuid, boolean) to authenticated, service_role;

create function taskweave.count_reviews(p_filter jsonb default '{}'::jsonb)
returns integer
language plpgsql
stable
-- security definer: as list_reviews
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  perform taskweave_private.require_operator('count reviews');
  execute format(
    'select count(*)::int from taskweave.human_reviews r where r.status = ''open'' and %s',
    taskweave_private.review_filter_predicate(p_filter))
    into v_count;
  return v_count;
end;
$$;
comment on function taskweave.count_reviews(jsonb) is
  'How many open reviews match the filter (keys as in resolve_reviews): what "Select all that match" would act on. '
  'Operators and service_role only (42501).';
revoke all on function taskweave.count_reviews(jsonb) from public, anon, authenticated;
grant execute on function taskweave.count_reviews(jsonb) to authenticated, service_role;

create function taskweave.resolve_reviews(p_filter jsonb, p_action text, p_note text default null)
returns jsonb
language plpgsql
volatile
-- security definer: as resolve_review, the operator's one door to change reviews; it checks the operator first
security definer
set search_path = ''
as $$
declare
  v_who text := taskweave_private.operator_name();
  v_limit integer;
  v_kinds text[];
  v_review_ids uuid[];
  v_task_ids uuid[];
  v_locked uuid[];
  v_review taskweave.human_reviews;
  v_task taskweave.tasks;
  v_resolved integer := 0;
begin
  perform taskweave_private.require_operator('resolve reviews');
  if p_action is null or p_action not in ('retry', 'abort', 'approve', 'reject') then
    raise exception 'p_action must be retry, abort, approve or reject for a bulk resolution (got %); answer and manual need an answer or output per review: use resolve_review',
      coalesce(p_action, 'null') using errcode = '22023';
  end if;
  if char_length(p_note) > 10000 then
    raise exception 'p_note must be at most 10000 characters' using errcode = '22023';
  end if;
  if p_action = 'reject' and (p_note is null or btrim(p_note) = '') then
    raise exception 'a reject needs p_note: the reason the model is given instead of the tool''s result' using errcode = '22023';
  end if;
  if p_filter is null or jsonb_typeof(p_filter) <> 'object' then
    raise exception 'p_filter must be a JSON object (got %)', coalesce(jsonb_typeof(p_filter), 'null') using errcode = '22023';
  end if;
  if p_filter ? 'limit' then
    if jsonb_typeof(p_filter -> 'limit') <> 'number' or (p_filter ->> 'limit') !~ '^[0-9]+$'
       or (p_filter ->> 'limit')::numeric not between 1 and 1000 then
      raise exception 'p_filter.limit must be a whole number from 1 to 1000' using errcode = '22023';
    end if;
    v_limit := (p_filter ->> 'limit')::integer;
  end if;
  -- the kinds the action applies to; a filter naming only other kinds asks for something that cannot be done
  select array_agg(k) into v_kinds
    from unnest(array['failure', 'approval', 'question', 'interrupted_call']) k
   where p_action = any (taskweave_private.review_actions(k));
  if p_filter ? 'kind' and jsonb_typeof(p_filter -> 'kind') <> 'null' and not exists (
       select 1 from jsonb_array_elements_text(case jsonb_typeof(p_filter -> 'kind') when 'array' then p_filter -> 'kind'
                                                   else jsonb_build_array(p_filter -> 'kind') end) k
        where k = any (v_kinds)) then
    perform taskweave_private.review_filter_predicate(p_filter - 'limit'); -- a bad kind gets its own message
    raise exception 'p_action % does not apply to % reviews; it applies to %', p_action, p_filter -> 'kind', array_to_string(v_kinds, ', ')
      using errcode = '22023';
  end if;

  -- the matching reviews, read without a lock: the oldest first, at most p_filter.limit of them
  execute format(
    'select array_agg(m.id order by m.created_at, m.id), array_agg(m.task_id order by m.created_at, m.id)
       from (select r.id, r.task_id, r.created_at
               from taskweave.human_reviews r
              where r.status = ''open'' and r.kind = any (%L::text[]) and %s
              order by r.created_at, r.id %s) m',
    v_kinds, taskweave_private.review_filter_predicate(p_filter - 'limit'),
    case when v_limit is null then '' else 'limit ' || v_limit end)
    into v_review_ids, v_task_ids;
  if v_review_ids is null then
    return jsonb_build_object('resolved', 0, 'skipped', 0);
  end if;

  -- lock only those, in resolve_review's order (the task, then its review) and without waiting: a review
  -- an operator is resolving right now is theirs, and is counted as skipped
  select array_agg(l.id) into v_locked
    from (select t.id from taskweave.tasks t
           where t.id = any (v_task_ids) and t.status = 'needs_human_review'
           order by t.claim_rank, t.id
             for no key update skip locked) l;

  -- deepest first: an abort cancels the subtree under its task, so a review further down is resolved
  -- on its own (and audited as such) before its ancestor's abort could reach it
  for v_review in
    select r.* from taskweave.human_reviews r join taskweave.tasks t on t.id = r.task_id
     where r.id = any (v_review_ids) and r.task_id = any (coalesce(v_locked, '{}')) and r.status = 'open'
     order by t.depth desc, r.created_at, r.id
       for update of r skip locked
  loop
    select * into v_task from taskweave.tasks where id = v_review.task_id;
    if v_task.status <> 'needs_human_review' then
      continue; -- cancelled by an abort earlier in this batch
    end if;
    perform taskweave_private.apply_review_resolution(v_review, v_task, p_action, null, p_note, v_who);
    v_resolved := v_resolved + 1;
  end loop;

  return jsonb_build_object('resolved', v_resolved, 'skipped', cardinality(v_review_ids) - v_resolved);
end;
$$;
comment on function taskweave.resolve_reviews(jsonb, text, text) is
  'Operators and service_role: resolves every open review that matches p_filter (keys kind, category, root_task_id, agent, '
  'tool, older_than_seconds, text, as in list_reviews; plus limit, 1..1000: at most that many, oldest first, so a caller '
  'can work through a large set one transaction per batch) with one action: retry (failure and interrupted_call reviews), '
  'abort (every kind), approve or reject (approval reviews; reject needs p_note, the reason every model gets). Only the '
  'kinds the action applies to match. Each review is resolved exactly as resolve_review does it (same function, same audit). '
  'Locks only the matching rows, and skips those another transaction holds. Returns {"resolved": n, "skipped": n}: skipped '
  'matched but were taken by a concurrent resolve or no longer waited. 22023 names a bad key, value or action.';
revoke all on function taskweave.resolve_reviews(jsonb, text, text) from public, anon, authenticated;
grant execute on function taskweave.resolve_reviews(jsonb, text, text) to authenticated, service_role;

revoke all on function taskweave_private.review_filter_predicate(jsonb) from public, anon, authenticated;
grant execute on function taskweave_private.review_filter_predicate(jsonb) to service_role;
