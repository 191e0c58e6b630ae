-- Taskweave 0.3.0: JWT claims count only where a trusted front door set them.
--
-- `request.jwt.claims` is an ordinary setting: any session may set it. PostgREST (login `authenticator`)
-- and the web app (login `taskweave_web`) set it from a verified token, and so do the functions' own
-- connections (a login with operator power: superuser, the owner of schema taskweave, or a member of
-- service_role), which switch to `authenticated` for a user's token. Any other login that is merely a
-- member of authenticated could write an operator claim for itself; its claims are not trusted, so it is
-- not an operator and is recorded under its role, never under a name it wrote.

create function taskweave_private.claims_are_trusted()
returns boolean
language sql
stable
set search_path = ''
as $$
  -- session_user is the login, unchanged by SET ROLE and by security definer functions
  select session_user::text in ('authenticator', 'taskweave_web')
      or exists (
        select 1
          from pg_catalog.pg_roles r, pg_catalog.pg_namespace n
         where r.rolname = session_user::text
           and n.nspname = 'taskweave'
           and (r.rolsuper
                or r.oid = n.nspowner
                or pg_catalog.pg_has_role(r.oid, 'service_role', 'member'))
      )
$$;
comment on function taskweave_private.claims_are_trusted() is
  'Whether request.jwt.claims were set by a trusted front door: the login (session_user) is authenticator (PostgREST), '
  'taskweave_web (the web app) or a login with operator power (superuser, owner of schema taskweave, member of service_role: '
  'the functions'' own connection). Any other login could have written the claims itself.';

create function taskweave_private.trusted_claims()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select case when taskweave_private.claims_are_trusted() then (select auth.jwt()) end
$$;
comment on function taskweave_private.trusted_claims() is
  'The request''s JWT claims when a trusted front door set them (claims_are_trusted), else null.';

create or replace function taskweave_private.is_operator()
returns boolean
language sql
stable
-- security definer: the read policies call this for signed-in users, who may run no other private helper
-- (not the trust check below); it reads only settings and catalogs, and caller_role() and session_user
-- name the caller even inside it
security definer
set search_path = ''
as $$
  -- an allow-list, never a deny-list: a custom role that inherits authenticated is not an operator, and
  -- neither is a login that wrote an operator claim for itself
  select taskweave_private.caller_role() = 'service_role'
      or exists (
        select 1
          from pg_catalog.pg_roles r, pg_catalog.pg_namespace n
         where r.rolname = taskweave_private.caller_role()
           and n.nspname = 'taskweave'
           and (r.rolsuper or r.oid = n.nspowner)
      )
      or coalesce(taskweave_private.trusted_claims() -> 'app_metadata' ->> 'role' = 'operator', false)
$$;
comment on function taskweave_private.is_operator() is
  'True for service_role, for the role that owns the taskweave schema (the migrating role, e.g. postgres) or a superuser, '
  'and for a JWT with app_metadata.role = operator set by a trusted front door (claims_are_trusted). False for everyone '
  'else, including custom roles that inherit authenticated and logins that set an operator claim themselves.';

create or replace function taskweave_private.operator_name()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(c ->> 'email', c ->> 'sub', taskweave_private.caller_role())
    from (select taskweave_private.trusted_claims() as c) claims
$$;
comment on function taskweave_private.operator_name() is
  'The operator acting now, for resolved_by and task_events: the trusted JWT''s email, else its subject, else the role.';

create or replace function taskweave_private.current_actor(p_fallback text default null)
returns text
language plpgsql
stable
-- no SET clause: called on every transition; it names only schema-qualified objects (built-ins as pg_catalog.*)
as $$
declare
  v_actor text := nullif(pg_catalog.current_setting('taskweave.actor', true), '');
begin
  -- the actor the SQL API recorded (set_actor) counts only for callers with operator power, who run the
  -- worker API and name their worker: anyone may set that setting, and an authenticated caller is named
  -- by its trusted claims instead
  if v_actor is not null
     and (pg_catalog.current_setting('is_superuser') = 'on'
          or taskweave_private.caller_role() = 'service_role'
          or (taskweave_private.caller_role() not in ('authenticated', 'anon') and taskweave_private.is_operator())) then
    return v_actor;
  end if;
  if p_fallback is not null then
    return p_fallback;
  end if;
  return taskweave_private.operator_name();
end;
$$;
comment on function taskweave_private.current_actor(text) is
  'Who is acting in this transaction, for task_events and resolved_by: the worker or actor the SQL API recorded with '
  'set_actor (honoured for service_role, the owner and superusers only), else the trusted JWT''s email or subject, else the role.';

revoke all on function taskweave_private.claims_are_trusted(), taskweave_private.trusted_claims() from public, anon, authenticated;
grant execute on function taskweave_private.claims_are_trusted(), taskweave_private.trusted_claims() to service_role;
