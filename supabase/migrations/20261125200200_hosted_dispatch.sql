-- Hosted dispatch: Postgres invokes process-task itself, as Supabase's queue and scheduling guides do
-- (pg_net for the HTTP call, pg_cron for the sweep, Vault for the URL and key). Harmless where pg_net,
-- pg_cron or Vault are absent (the embedded local database, CI): nothing is scheduled and the trigger
-- does nothing; locally `npm run dispatcher` does the same job.
--
-- Enable on a hosted project (SQL editor, once; the values never go into a migration):
--   select vault.create_secret('https://<project-ref>.supabase.co/functions/v1/process-task', 'process_task_url');
--   select vault.create_secret('<PROCESS_TASK_SECRET or the service role key>', 'process_task_secret');
-- and give the function the same secret: `supabase secrets set PROCESS_TASK_SECRET=...`.

do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_net') then
    create extension if not exists pg_net with schema extensions;
  end if;
  if exists (select 1 from pg_available_extensions where name = 'pg_cron') then
    create extension if not exists pg_cron;
  end if;
end;
$$;

create function private.process_task_endpoint()
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
comment on function private.process_task_endpoint() is
  'The process-task URL and bearer key from Vault (process_task_url, process_task_secret), or no row when pg_net or Vault is missing.';
revoke all on function private.process_task_endpoint() from public, anon, authenticated;

create function private.invoke_process_task(p_body jsonb)
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
begin
  select e.url, e.secret into v_url, v_secret from private.process_task_endpoint() e;
  if v_url is null or v_secret is null then
    return null; -- not configured: local stacks use `npm run dispatcher`
  end if;
  -- pg_net sends after commit, so a rolled-back transition never invokes the function
  execute 'select net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
    into v_request_id
    using v_url, p_body, jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_secret), 150000;
  return v_request_id;
end;
$$;
comment on function private.invoke_process_task(jsonb) is
  'POSTs p_body to process-task through pg_net (after commit). Returns the pg_net request id, or null when dispatch is not configured.';
revoke all on function private.invoke_process_task(jsonb) from public, anon, authenticated;

create function private.dispatch_ready_task()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- due now: invoke for this task; a backoff (run_after later) is picked up by the sweep when due
  if new.run_after <= now() then
    perform private.invoke_process_task(jsonb_build_object('task_id', new.id));
  end if;
  return null;
end;
$$;
comment on function private.dispatch_ready_task() is 'Invokes process-task for a task that just became pending and is due (hosted dispatch).';

create trigger tasks_dispatch_ready
  after insert or update of status on public.tasks
  for each row
  when (new.status = 'pending')
  execute function private.dispatch_ready_task();

create function private.sweep_due_tasks(p_max_invocations integer default 10)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_due integer;
  v_calls integer;
begin
  if not exists (select 1 from private.process_task_endpoint() e where e.url is not null and e.secret is not null) then
    return 0;
  end if;
  -- retries whose backoff ended and tasks whose worker died (expired lease)
  select count(*) into v_due from (
    select 1 from public.tasks
     where (status = 'pending' and run_after <= now()) or (status = 'running' and lease_expires_at <= now())
     limit 500
  ) d;
  if v_due = 0 then
    return 0;
  end if;
  v_calls := least(p_max_invocations, ceil(v_due / 5.0)::integer);
  for i in 1..v_calls loop
    perform private.invoke_process_task(jsonb_build_object('max_tasks', 5));
  end loop;
  return v_calls;
end;
$$;
comment on function private.sweep_due_tasks(integer) is
  'Invokes process-task in claim mode ({"max_tasks": 5}) enough times for the due and lease-expired tasks, at most p_max_invocations.';

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    -- pg_cron >= 1.5 takes second intervals
    perform cron.schedule('taskweave-sweep-due-tasks', '10 seconds', 'select private.sweep_due_tasks()');
  end if;
end;
$$;

revoke all on function private.dispatch_ready_task(), private.sweep_due_tasks(integer) from public, anon, authenticated;
