-- What Supabase's Postgres image provides before any migration runs, for a plain Postgres (the embedded
-- server, CI, a Postgres of your own): the API roles and the `auth` helpers that PostgREST-style JWT claims
-- feed. Callers run it only where those are missing (scripts/lib/database-setup.ts), so a real
-- `supabase start` stack or a hosted project is never touched by it. Each step creates only what does not
-- exist and says so (a notice the caller prints). It creates no role that can log in, grants nothing on
-- schema `public` and changes no default privileges: Taskweave's migrations grant on their own objects.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
    execute format('grant anon to %I', current_user);
    raise notice 'created role anon (nologin)';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
    execute format('grant authenticated to %I', current_user);
    raise notice 'created role authenticated (nologin)';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
    execute format('grant service_role to %I', current_user);
    raise notice 'created role service_role (nologin, bypassrls)';
  end if;
  -- PostgREST's login role in the image; here nothing logs in as it, so it cannot log in
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator nologin noinherit;
    grant anon, authenticated, service_role to authenticator;
    raise notice 'created role authenticator (nologin)';
  end if;
  -- Owners, as in the image. `supabase db reset` keeps the schemas supabase_admin owns (auth), so it
  -- must exist; it owns and does nothing else: no login, no superuser.
  if not exists (select 1 from pg_roles where rolname = 'supabase_admin') then
    create role supabase_admin nologin noinherit;
    raise notice 'created role supabase_admin (nologin; owns schema auth so that supabase db reset keeps it)';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin nologin noinherit;
    raise notice 'created role supabase_auth_admin (nologin; owns the auth helpers)';
  end if;
end
$$;

do $$
begin
  if not exists (select 1 from pg_namespace where nspname = 'extensions') then
    create schema extensions;
    grant usage on schema extensions to anon, authenticated, service_role;
    raise notice 'created schema extensions';
  end if;
  if not exists (select 1 from pg_namespace where nspname = 'auth') then
    create schema auth authorization supabase_admin;
    grant usage on schema auth to anon, authenticated, service_role;
    raise notice 'created schema auth (owner supabase_admin)';
  end if;

  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
    language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $fn$;
    alter function auth.uid() owner to supabase_auth_admin;
    grant execute on function auth.uid() to anon, authenticated, service_role;
    raise notice 'created function auth.uid()';
  end if;

  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
    language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $fn$;
    alter function auth.role() owner to supabase_auth_admin;
    grant execute on function auth.role() to anon, authenticated, service_role;
    raise notice 'created function auth.role()';
  end if;

  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
    language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $fn$;
    alter function auth.jwt() owner to supabase_auth_admin;
    grant execute on function auth.jwt() to anon, authenticated, service_role;
    raise notice 'created function auth.jwt()';
  end if;
end
$$;
