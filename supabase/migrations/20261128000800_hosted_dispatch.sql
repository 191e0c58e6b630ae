-- Taskweave 0.2.0 baseline, part 9: hosted dispatch. Postgres invokes process-task itself, as Supabase's
-- queue and scheduling guides do (pg_net for the HTTP call, pg_cron for the sweep, Vault for the URL and
-- key), never with more invocations in flight than taskweave.max_running. Inert where pg_net or Vault is
-- absent (the embedded local database, CI): locally `npm run dispatcher` does the same job.
--
-- This migration creates no extension: pg_net and pg_cron are the project's to enable (Dashboard ->
-- Database -> Extensions). Then, once, in the SQL editor (the values never go into a migration):
--   select vault.create_secret('https://<project-ref>.supabase.co/functions/v1/process-task', 'process_task_url');
--   select vault.create_secret('<PROCESS_TASK_SECRET or the service role key>', 'process_task_secret');
--   select taskweave_private.schedule_hosted_tick();

create function taskweave_private.process_task_endpoint()
returns table (url text, secret text)
language plpgsql
stable
-- security definer: reads the two Vault secrets, which only the owner may decrypt; returns nothing
-- unless both are set and pg_net is installed
security definer
set search_path = ''
as $$
begin
  if to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is null or to_regclass('vault.decrypted_secrets') is null then
    return;
  end if;
  return query execute $q$
    select (select decrypted_secret from vault.decrypted_secrets where name = 'process_task_url'),
           (select decrypted_secret from vault.decrypted_secrets where name = 'process_task_secret')
  $q$;
end;
$$;
comment on function taskweave_private.process_task_endpoint() is
  'The process-task URL and bearer key from Vault (process_task_url, process_task_secret), or no row when pg_net or Vault is missing.';

create function taskweave_private.dispatch_in_flight()
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_count integer;
begin
  -- answered (pg_net keeps responses in net._http_response) or older than the function's wall-clock
  -- limit: no longer in flight
  if to_regclass('net._http_response') is not null then
    execute 'delete from taskweave_private.dispatch_requests r
              where r.sent_at <= now() - interval ''160 seconds''
                 or exists (select 1 from net._http_response x where x.id = r.request_id)';
  else
    delete from taskweave_private.dispatch_requests where sent_at <= now() - interval '160 seconds';
  end if;
  select count(*) into v_count from taskweave_private.dispatch_requests;
  return v_count;
end;
$$;
comment on function taskweave_private.dispatch_in_flight() is
  'How many process-task invocations sent through pg_net have no response yet (at most 160 s old).';

create function taskweave_private.invoke_process_task(p_body jsonb)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
  v_request_id bigint;
  v_cap integer := taskweave_private.setting_int('max_running', 100);
begin
  select e.url, e.secret into v_url, v_secret from taskweave_private.process_task_endpoint() e;
  if v_url is null or v_secret is null then
    return null; -- not configured: local stacks use `npm run dispatcher`
  end if;
  -- one sender at a time counts what is in flight, so the cap holds across concurrent transactions
  perform pg_advisory_xact_lock(hashtextextended('taskweave.dispatch', 0));
  if v_cap > 0 and taskweave_private.dispatch_in_flight() >= v_cap then
    return null; -- full: the sweep sends it when an invocation has answered
  end if;
  -- pg_net sends after commit, so a rolled-back transition never invokes the function
  execute 'select net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
    into v_request_id
    using v_url, p_body, jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_secret), 150000;
  insert into taskweave_private.dispatch_requests (request_id) values (v_request_id) on conflict do nothing;
  return v_request_id;
end;
$$;
comment on function taskweave_private.invoke_process_task(jsonb) is
  'POSTs p_body to process-task through pg_net (after commit), unless taskweave.max_running invocations are already in flight. '
  'Returns the pg_net request id, or null when not configured or full.';

create function taskweave_private.dispatch_ready_task()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- due now: invoke for this task; a backoff (run_after later) is picked up by the sweep when due
  if new.run_after <= now() and to_regprocedure('net.http_post(text, jsonb, jsonb, jsonb, integer)') is not null then
    perform taskweave_private.invoke_process_task(jsonb_build_object('task_id', new.id));
  end if;
  return null;
end;
$$;
comment on function taskweave_private.dispatch_ready_task() is 'Invokes process-task for a task that just became pending and is due (hosted dispatch).';

create trigger tasks_dispatch_ready
  after insert or update of status on taskweave.tasks
  for each row
  when (new.status = 'pending')
  execute function taskweave_private.dispatch_ready_task();

create function taskweave_private.sweep_due_tasks(p_max_invocations integer default 10)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_due integer;
  v_calls integer := 0;
begin
  if not exists (select 1 from taskweave_private.process_task_endpoint() e where e.url is not null and e.secret is not null) then
    return 0;
  end if;
  -- retries whose backoff ended, tasks that waited for room under the cap, and tasks whose worker died
  select count(*) into v_due from (
    select 1 from taskweave.tasks t
     where t.status in ('pending', 'running') and taskweave_private.is_due(t.status, t.run_after, t.lease_expires_at)
     limit 500
  ) d;
  for i in 1..least(p_max_invocations, ceil(v_due / 5.0)::integer) loop
    exit when taskweave_private.invoke_process_task(jsonb_build_object('max_tasks', 5)) is null;
    v_calls := v_calls + 1;
  end loop;
  return v_calls;
end;
$$;
comment on function taskweave_private.sweep_due_tasks(integer) is
  'Invokes process-task in claim mode ({"max_tasks": 5}) enough times for the due tasks, at most p_max_invocations and never '
  'past the in-flight cap. Returns how many invocations it sent.';

create function taskweave_private.hosted_tick()
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform taskweave_private.sweep();
  perform taskweave_private.sweep_due_tasks();
end;
$$;
comment on function taskweave_private.hosted_tick() is 'What pg_cron runs every 5 seconds when hosted: join deadlines and leftover cancellations, then due tasks.';

create function taskweave_private.schedule_hosted_tick()
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  if to_regnamespace('cron') is null then
    return 'pg_cron is not enabled: enable it (Dashboard -> Database -> Extensions), then call this again';
  end if;
  -- pg_cron >= 1.5 takes second intervals
  execute $q$select cron.schedule('taskweave-hosted-tick', '5 seconds', 'select taskweave_private.hosted_tick()')$q$;
  return 'scheduled taskweave-hosted-tick every 5 seconds';
end;
$$;
comment on function taskweave_private.schedule_hosted_tick() is 'Schedules taskweave_private.hosted_tick() with pg_cron (idempotent: cron.schedule replaces a job of the same name).';

do $$
begin
  -- where pg_cron is already enabled (a hosted project), schedule the tick now
  if to_regnamespace('cron') is not null then
    perform taskweave_private.schedule_hosted_tick();
  end if;
end;
$$;

revoke all on function
  taskweave_private.process_task_endpoint(),
  taskweave_private.dispatch_in_flight(),
  taskweave_private.invoke_process_task(jsonb),
  taskweave_private.dispatch_ready_task(),
  taskweave_private.sweep_due_tasks(integer),
  taskweave_private.hosted_tick(),
  taskweave_private.schedule_hosted_tick()
  from public, anon, authenticated;
