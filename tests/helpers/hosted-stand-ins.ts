// Stand-ins for what hosted Supabase has and our embedded Postgres 17 cannot install: pg_net, pg_cron and
// Vault. Each has the real objects' names and signatures that Taskweave uses (net.http_post,
// net._http_response; cron.schedule, cron.job, cron.job_run_details; vault.secrets,
// vault.decrypted_secrets) and records what would have been sent. Debian packages postgresql-15-cron, but
// the embedded server is 17 and loads no extension from the system, so these are the closest we get here.
import type { Sql } from './database.ts';

export const PROCESS_TASK_URL = 'https://example.supabase.co/functions/v1/process-task';
export const PROCESS_TASK_SECRET = 'sekret-never-shown';

/** pg_net: http_post queues a row in net.calls; answers go into net._http_response as pg_net's worker would. */
export async function installPgNet(sql: Sql) {
  await sql.unsafe(`
    create schema net;
    create table net.calls (id bigserial primary key, url text, body jsonb, headers jsonb, timeout_milliseconds integer);
    create table net._http_response (
      id bigint primary key, status_code integer, content_type text, headers jsonb, content text,
      timed_out boolean, error_msg text, created timestamptz not null default now());
    create function net.http_post(url text, body jsonb default '{}', params jsonb default '{}', headers jsonb default '{}', timeout_milliseconds integer default 5000)
    returns bigint language sql as $$
      insert into net.calls (url, body, headers, timeout_milliseconds) values (url, body, headers, timeout_milliseconds) returning id
    $$;`);
}

/** pg_cron: cron.schedule upserts a job by name (as pg_cron >= 1.5 does); runs are rows a test writes. */
export async function installPgCron(sql: Sql) {
  await sql.unsafe(`
    create schema cron;
    create table cron.job (
      jobid bigserial primary key, schedule text not null, command text not null, nodename text default 'localhost',
      nodeport integer default 5432, database text default current_database(), username text default current_user,
      active boolean default true, jobname text unique);
    create table cron.job_run_details (
      jobid bigint, runid bigserial primary key, job_pid integer, database text, username text, command text,
      status text, return_message text, start_time timestamptz, end_time timestamptz);
    create function cron.schedule(job_name text, schedule text, command text) returns bigint language sql as $$
      insert into cron.job (jobname, schedule, command) values (job_name, schedule, command)
      on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command
      returning jobid
    $$;`);
}

/** Vault: the secrets table (Taskweave's status reads names only), the decrypted view and create_secret. */
export async function installVault(sql: Sql, secrets: Record<string, string> = { process_task_url: PROCESS_TASK_URL, process_task_secret: PROCESS_TASK_SECRET }) {
  await sql.unsafe(`
    create schema vault;
    create table vault.secrets (id uuid primary key default gen_random_uuid(), name text unique, secret text not null);
    create view vault.decrypted_secrets as select id, name, secret as decrypted_secret from vault.secrets;
    create function vault.create_secret(new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null)
    returns uuid language sql as $$ insert into vault.secrets (name, secret) values (new_name, new_secret) returning id $$;`);
  for (const [name, secret] of Object.entries(secrets)) await sql`insert into vault.secrets (name, secret) values (${name}, ${secret})`;
}

export async function installHostedStandIns(sql: Sql) {
  await installPgNet(sql);
  await installPgCron(sql);
  await installVault(sql);
}
