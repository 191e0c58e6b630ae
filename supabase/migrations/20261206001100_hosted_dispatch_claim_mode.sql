-- Hosted dispatch that starts, or says why not, and that claims as fairly as the local dispatcher.
--
-- - A task that becomes due invokes process-task in claim mode ({"max_tasks": 1}), as `npm run dispatcher`
--   does: claim_tasks then picks the task (running cap, claim_rank fairness), instead of one posted by id that
--   bypassed both and answered 409 whenever the cap was full.
-- - The in-flight bound takes one row of taskweave_private.dispatch_slots (one row per place under
--   max_running) with FOR UPDATE SKIP LOCKED, instead of a database-wide advisory lock held until commit:
--   transactions that create or release tasks no longer wait for each other.
-- - taskweave.enable_hosted_dispatch() schedules the pg_cron tick or raises 55000 naming what is missing
--   (pg_net, pg_cron, Vault or one of its two secrets) and the dashboard step that fixes it;
--   taskweave.hosted_dispatch_status() reports all of it. The tick trims its own cron history.

create table taskweave_private.dispatch_slots (
  slot integer primary key,
  request_id bigint,
  sent_at timestamptz,
  constraint dispatch_slots_slot_positive check (slot > 0)
);
comment on table taskweave_private.dispatch_slots is
  'Hosted dispatch: one row per invocation allowed in flight (slots 1..max_running are used). A slot is free when it never '
  'sent, its request has a response in net._http_response, or it is older than the function''s wall-clock limit (160 s).';
alter table taskweave_private.dispatch_slots enable row level security;
revoke all on taskweave_private.dispatch_slots from public, anon, authenticated;
grant select, insert, update, delete on taskweave_private.dispatch_slots to service_role;

comment on table taskweave_private.dispatch_requests is
  'Hosted dispatch: every pg_net request sent to process-task in the last hour (the tick trims older ones), to report the '
  'failed responses among them (taskweave.hosted_dispatch_status).';

create function taskweave_private.sync_dispatch_slots()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- slots above a lowered cap stay, unused (slot <= max_running is tested when one is taken)
  insert into taskweave_private.dispatch_slots (slot)
  select g from generate_series(1, new.value) g
  on conflict (slot) do nothing;
  return null;
end;
$$;
comment on function taskweave_private.sync_dispatch_slots() is 'Keeps a dispatch slot row for every place under max_running.';
revoke all on function taskweave_private.sync_dispatch_slots() from public, anon, authenticated;

create trigger settings_sync_dispatch_slots
  after insert or update of value on taskweave_private.settings
  for each row
  when (new.name = 'max_running')
  execute function taskweave_private.sync_dispatch_slots();

insert into taskweave_private.dispatch_slots (slot)
select g from generate_series(1, taskweave_private.setting_int('max_running', 100)) g
on conflict (slot) do nothing;

-- Answered (pg_net keeps responses in net._http_response) or older than the function's wall-clock limit:
-- no longer in flight. Written once, for taking a slot and for counting.
create function taskweave_private.dispatch_answered_sql(p_request text, p_sent_at text)
returns text
language sql
stable
set search_path = ''
as $$
  select format('(%s <= now() - interval ''160 seconds''', p_sent_at)
      || case when to_regclass('net._http_response') is not null
              then format(' or exists (select 1 from net._http_response x where x.id = %s))', p_request)
              else ')' end
$$;
comment on function taskweave_private.dispatch_answered_sql(text, text) is
  'The SQL condition "this pg_net request is no longer in flight" over the given request id and sent-at expressions.';
revoke all on function taskweave_private.dispatch_answered_sql(text, text) from public, anon, authenticated;

create or replace function taskweave_private.dispatch_in_flight()
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_count integer;
begin
  execute format('select count(*)::integer from taskweave_private.dispatch_requests r where not %s',
                 taskweave_private.dispatch_answered_sql('r.request_id', 'r.sent_at'))
    into v_count;
  return v_count;
end;
$$;
comment on function taskweave_private.dispatch_in_flight() is
  'How many process-task invocations sent through pg_net have no response yet (at most 160 s old).';

create or replace function taskweave_private.invoke_process_task(p_body jsonb)
returns bigint
language plpgsql
volatile
-- security definer: reads the Vault secrets (through process_task_endpoint) and calls pg_net, which the
-- roles that create and release tasks may not
security definer
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
  v_request_id bigint;
  v_slot integer;
  v_cap integer := taskweave_private.setting_int('max_running', 100);
begin
  select e.url, e.secret into v_url, v_secret from taskweave_private.process_task_endpoint() e;
  if v_url is null or v_secret is null then
    return null; -- not configured: local stacks use `npm run dispatcher`
  end if;
  if v_cap > 0 then
    -- a free place under the cap; SKIP LOCKED passes the places other open transactions are taking
    execute format(
      'select s.slot from taskweave_private.dispatch_slots s
        where s.slot <= $1 and (s.request_id is null or %s)
        order by s.slot
        limit 1
        for update skip locked',
      taskweave_private.dispatch_answered_sql('s.request_id', 's.sent_at'))
      into v_slot using v_cap;
    if v_slot is null then
      return null; -- full: the tick sends it when an invocation has answered
    end if;
  end if;
  -- pg_net sends after commit, so a rolled-back transition never invokes the function
  execute 'select net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
    into v_request_id
    using v_url, p_body, jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_secret), 150000;
  if v_slot is not null then
    update taskweave_private.dispatch_slots set request_id = v_request_id, sent_at = now() where slot = v_slot;
  end if;
  insert into taskweave_private.dispatch_requests (request_id) values (v_request_id) on conflict do nothing;
  return v_request_id;
end;
$$;
comment on function taskweave_private.invoke_process_task(jsonb) is
  'POSTs p_body to process-task through pg_net (after commit), unless max_running invocations are already in flight. '
  'Returns the pg_net request id, or null when not configured or full.';

create or replace function taskweave_private.dispatch_ready_task()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- due now: one invocation in claim mode, so claim_tasks chooses (cap, fairness); a backoff (run_after
  -- later) is picked up by the tick when due
  if new.run_after <= now() and to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is not null then
    perform taskweave_private.invoke_process_task('{"max_tasks": 1}'::jsonb);
  end if;
  return null;
end;
$$;
comment on function taskweave_private.dispatch_ready_task() is
  'Invokes process-task in claim mode ({"max_tasks": 1}) when a task becomes pending and due (hosted dispatch).';

-- The checks that enable_hosted_dispatch raises on and hosted_dispatch_status reports, each with its fix.
create function taskweave_private.hosted_dispatch_problems()
returns table (problem text, fix text)
language plpgsql
stable
-- security definer: looks Vault secrets up by name (never reads their values), which only the owner may
security definer
set search_path = ''
as $$
declare
  v_secret text;
  v_present boolean;
begin
  if to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is null then
    problem := 'pg_net is not enabled: Postgres cannot invoke process-task';
    fix := 'Dashboard -> Database -> Extensions -> enable pg_net (or run: create extension pg_net;)';
    return next;
  end if;
  if to_regprocedure('cron.schedule(text, text, text)') is null then
    problem := 'pg_cron is not enabled: retries after backoff, expired leases, join deadlines and waiting tasks are never picked up';
    fix := 'Dashboard -> Integrations -> Cron (or Database -> Extensions) -> enable pg_cron (or run: create extension pg_cron;)';
    return next;
  end if;
  if to_regclass('vault.secrets') is null and to_regclass('vault.decrypted_secrets') is null then
    problem := 'Vault is not available: the process-task URL and key cannot be stored';
    fix := 'Dashboard -> Integrations -> Vault -> enable it (or run: create extension supabase_vault;)';
    return next;
  else
    foreach v_secret in array array['process_task_url', 'process_task_secret'] loop
      if to_regclass('vault.secrets') is not null then
        execute 'select exists (select 1 from vault.secrets where name = $1)' into v_present using v_secret;
      else
        execute 'select exists (select 1 from vault.decrypted_secrets where name = $1)' into v_present using v_secret;
      end if;
      if not v_present then
        problem := format('the Vault secret %s is missing', v_secret);
        fix := case v_secret
          when 'process_task_url' then
            'Dashboard -> Integrations -> Vault -> Add new secret named process_task_url with https://<project-ref>.supabase.co/functions/v1/process-task '
            '(or run: select vault.create_secret(''https://<project-ref>.supabase.co/functions/v1/process-task'', ''process_task_url'');)'
          else
            'Dashboard -> Integrations -> Vault -> Add new secret named process_task_secret with the PROCESS_TASK_SECRET you set on the function '
            '(or run: select vault.create_secret(''<PROCESS_TASK_SECRET>'', ''process_task_secret'');)'
          end;
        return next;
      end if;
    end loop;
  end if;
end;
$$;
comment on function taskweave_private.hosted_dispatch_problems() is
  'What hosted dispatch lacks (pg_net, pg_cron, Vault, its two secrets), each with the step that fixes it; no row when nothing.';
revoke all on function taskweave_private.hosted_dispatch_problems() from public, anon, authenticated;

create or replace function taskweave_private.hosted_tick()
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform taskweave_private.sweep();
  perform taskweave_private.sweep_due_tasks();
  -- the tick's own history: about 17,000 cron rows and as many requests a day otherwise
  delete from taskweave_private.dispatch_requests where sent_at < now() - interval '1 hour';
  if to_regclass('cron.job_run_details') is not null then
    begin
      execute $q$
        delete from cron.job_run_details d
         using cron.job j
         where j.jobid = d.jobid and j.jobname = 'taskweave-hosted-tick' and d.end_time < now() - interval '1 hour'$q$;
    exception when insufficient_privilege then
      null; -- a cron schema we may not trim: the tick still does its work
    end;
  end if;
end;
$$;
comment on function taskweave_private.hosted_tick() is
  'What pg_cron runs every 5 seconds when hosted: join deadlines and leftover cancellations, then due tasks; then it trims '
  'its own history (cron.job_run_details of taskweave-hosted-tick and dispatch_requests older than an hour).';

create function taskweave.enable_hosted_dispatch()
returns jsonb
language plpgsql
volatile
-- security definer: scheduling with pg_cron and looking Vault secrets up by name need the owner's rights
-- (an operator may be role authenticated); the operator check comes first
security definer
set search_path = ''
as $$
declare
  v_missing record;
begin
  perform taskweave_private.require_operator('enable hosted dispatch');
  select * into v_missing from taskweave_private.hosted_dispatch_problems() limit 1;
  if found then
    raise exception 'hosted dispatch cannot start: %', v_missing.problem
      using errcode = '55000', hint = 'Fix: ' || v_missing.fix || '. Then call taskweave.enable_hosted_dispatch() again.';
  end if;
  perform taskweave_private.schedule_hosted_tick();
  return taskweave_private.hosted_dispatch_report();
end;
$$;

create function taskweave_private.hosted_dispatch_report()
returns jsonb
language plpgsql
stable
-- security definer: reads cron's, pg_net's and Vault's catalogs (never a secret's value)
security definer
set search_path = ''
as $$
declare
  v_job jsonb;
  v_last_tick jsonb;
  v_failures jsonb := '[]'::jsonb;
  v_secrets jsonb := '[]'::jsonb;
  v_secret text;
  v_present boolean;
begin
  if to_regclass('cron.job') is not null then
    execute $q$select to_jsonb(j) - 'command' - 'nodename' - 'nodeport' - 'database'
                 from cron.job j where j.jobname = 'taskweave-hosted-tick'$q$ into v_job;
    if v_job is not null and to_regclass('cron.job_run_details') is not null then
      execute $q$select jsonb_build_object('status', d.status, 'started_at', d.start_time, 'ended_at', d.end_time,
                                             'message', d.return_message)
                   from cron.job_run_details d where d.jobid = ($1 ->> 'jobid')::bigint
                  order by d.start_time desc nulls last limit 1$q$ into v_last_tick using v_job;
    end if;
  end if;
  if to_regclass('net._http_response') is not null then
    -- pg_net's response columns differ between versions: read them from the row as json
    execute $q$select coalesce(jsonb_agg(f order by (f ->> 'request_id')::bigint desc), '[]'::jsonb) from (
                 select jsonb_build_object('request_id', r.request_id, 'sent_at', r.sent_at,
                                           'status_code', x -> 'status_code', 'timed_out', x -> 'timed_out',
                                           'error', x ->> 'error_msg', 'body', left(x ->> 'content', 500),
                                           'at', coalesce(x ->> 'created', r.sent_at::text)) as f
                   from taskweave_private.dispatch_requests r
                   join lateral (select to_jsonb(h) as x from net._http_response h where h.id = r.request_id) h on true
                  where coalesce((x ->> 'status_code')::integer, 0) not between 200 and 299
                     or x ->> 'error_msg' is not null or coalesce((x ->> 'timed_out')::boolean, false)
                  order by r.request_id desc limit 10) failures$q$ into v_failures;
  end if;
  foreach v_secret in array array['process_task_url', 'process_task_secret'] loop
    v_present := false;
    if to_regclass('vault.secrets') is not null then
      execute 'select exists (select 1 from vault.secrets where name = $1)' into v_present using v_secret;
    elsif to_regclass('vault.decrypted_secrets') is not null then
      execute 'select exists (select 1 from vault.decrypted_secrets where name = $1)' into v_present using v_secret;
    end if;
    v_secrets := v_secrets || jsonb_build_object('name', v_secret, 'present', v_present);
  end loop;
  return jsonb_build_object(
    'ready', not exists (select 1 from taskweave_private.hosted_dispatch_problems()) and coalesce((v_job ->> 'active')::boolean, false),
    'extensions', jsonb_build_object(
      'pg_net', jsonb_build_object(
        'enabled', to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is not null,
        'version', (select e.extversion from pg_catalog.pg_extension e where e.extname = 'pg_net'),
        'available', exists (select 1 from pg_catalog.pg_available_extensions a where a.name = 'pg_net')),
      'pg_cron', jsonb_build_object(
        'enabled', to_regprocedure('cron.schedule(text, text, text)') is not null,
        'version', (select e.extversion from pg_catalog.pg_extension e where e.extname = 'pg_cron'),
        'available', exists (select 1 from pg_catalog.pg_available_extensions a where a.name = 'pg_cron'))),
    'cron_job', v_job,
    'vault_secrets', v_secrets,
    'last_tick', v_last_tick,
    'in_flight', taskweave_private.dispatch_in_flight(),
    'max_running', taskweave_private.setting_int('max_running', 100),
    'recent_failures', coalesce(v_failures, '[]'::jsonb),
    'problems', (select coalesce(jsonb_agg(jsonb_build_object('problem', p.problem, 'fix', p.fix)), '[]'::jsonb)
                   from taskweave_private.hosted_dispatch_problems() p)
      || case when v_job is null and to_regprocedure('cron.schedule(text, text, text)') is not null
              then jsonb_build_array(jsonb_build_object('problem', 'the tick is not scheduled',
                                                        'fix', 'run: select taskweave.enable_hosted_dispatch();'))
              else '[]'::jsonb end);
end;
$$;
comment on function taskweave_private.hosted_dispatch_report() is 'The body of taskweave.hosted_dispatch_status, without the operator check.';
revoke all on function taskweave_private.hosted_dispatch_report() from public, anon, authenticated;

comment on function taskweave.enable_hosted_dispatch() is
  'Operators: schedules the hosted tick (pg_cron, every 5 seconds) and returns taskweave.hosted_dispatch_status(). Raises 55000 '
  'naming what is missing (pg_net, pg_cron, Vault, the Vault secret process_task_url or process_task_secret) with the fix in '
  'the hint. Idempotent.';
revoke all on function taskweave.enable_hosted_dispatch() from public, anon, authenticated;
grant execute on function taskweave.enable_hosted_dispatch() to authenticated, service_role;

create function taskweave.hosted_dispatch_status()
returns jsonb
language plpgsql
stable
-- security definer: reads cron's, pg_net's and Vault's catalogs (never a secret's value); the operator
-- check comes first
security definer
set search_path = ''
as $$
begin
  perform taskweave_private.require_operator('read the hosted dispatch status');
  return taskweave_private.hosted_dispatch_report();
end;
$$;
comment on function taskweave.hosted_dispatch_status() is
  'Operators: {"ready", "extensions": {pg_net, pg_cron}, "cron_job", "vault_secrets": [{name, present}], "last_tick", '
  '"in_flight", "max_running", "recent_failures": [...], "problems": [{problem, fix}]}. Never returns a secret''s value.';
revoke all on function taskweave.hosted_dispatch_status() from public, anon, authenticated;
grant execute on function taskweave.hosted_dispatch_status() to authenticated, service_role;
