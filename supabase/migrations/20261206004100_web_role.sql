-- Taskweave 0.3.0: the web app's own login role, taskweave_web, with least privilege.
--
-- The web app used to log in as the database owner and switch to `authenticated` per transaction; one
-- query outside that switch would have run with the owner's power. taskweave_web is not a superuser and
-- not the owner. It is a NOINHERIT member of authenticated: it holds none of authenticated's rights
-- until a transaction switches to that role (withClaims in src/lib/db/identity.ts), so a query outside
-- the switch reaches no Taskweave table or function at all. Besides that switch it may only take and
-- end the task_changed lease of its live view (watch_changes), which the pages need.
--
-- Roles belong to the whole cluster, so the role is created only where it is missing. The migration
-- creates it NOLOGIN: giving it a password and LOGIN is a deployment step, never a migration
-- (locally the dev and test scripts do it; hosted: `alter role taskweave_web with login password '…'`).

do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'taskweave_web') then
    -- the attributes not named are the defaults: no superuser, createdb, createrole, replication or bypassrls
    -- (hosted Supabase refuses a role option such as NOSUPERUSER spelled out by a non-superuser)
    create role taskweave_web nologin noinherit;
    -- commented where it is made: on Postgres 16+ commenting on a role someone else made needs ADMIN on it
    comment on role taskweave_web is
      'Taskweave''s web app: logs in, then switches to authenticated per transaction with the viewer''s JWT claims; alone it reaches nothing but its live-view lease.';
  end if;
  -- roles belong to the server: where another database's migrations made the role a member already,
  -- granting it again (as another grantor) would need ADMIN on authenticated for nothing
  if not pg_catalog.pg_has_role('taskweave_web', 'authenticated', 'member') then
    grant authenticated to taskweave_web;
  end if;
end
$$;

-- the live view's lease on task_changed notifications (taskweave_private.change_watchers)
grant usage on schema taskweave_private to taskweave_web;
grant select, insert, update, delete on taskweave_private.change_watchers to taskweave_web;
grant execute on function taskweave_private.watch_changes(text, integer), taskweave_private.unwatch_changes(text),
  taskweave_private.validate_seconds(text, integer, integer, integer) to taskweave_web;
-- change_watchers has RLS (service_role bypasses it): the web app holds only its own leases, named web:…
create policy "the web app reads its leases" on taskweave_private.change_watchers
  for select to taskweave_web using (watcher like 'web:%');
create policy "the web app takes its leases" on taskweave_private.change_watchers
  for insert to taskweave_web with check (watcher like 'web:%');
create policy "the web app renews its leases" on taskweave_private.change_watchers
  for update to taskweave_web using (watcher like 'web:%') with check (watcher like 'web:%');
create policy "the web app ends its leases" on taskweave_private.change_watchers
  for delete to taskweave_web using (watcher like 'web:%');
