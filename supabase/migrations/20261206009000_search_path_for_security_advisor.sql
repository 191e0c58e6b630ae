-- Supabase's Security Advisor (`supabase db advisors --type security`) warns on every function whose
-- search_path is not fixed to '' (function_search_path_mutable). Helpers on the hot paths were written
-- without a SET clause to save its cost (a SET clause also keeps the planner from inlining a SQL function):
-- the transition guard, is_due, the actor, lease and argument checks, the join helpers, the running cap,
-- and 0.3.0's size-cap and history triggers. Each names only schema-qualified objects, so an empty
-- search_path changes nothing they resolve. This migration runs last in 0.3.0, after every function of the
-- release exists.
--
-- Written as a loop over Taskweave's own two schemas rather than a list, so that a helper another migration
-- of this release replaced or dropped before this one runs cannot break it. A function created later must
-- carry `set search_path = ''` itself (a `create or replace` resets the clause): the advisor check in
-- `npm test` (tests/sql/supabase-shaped.test.ts) fails otherwise.
do $$
declare
  v_function regprocedure;
begin
  for v_function in
    select p.oid::regprocedure
      from pg_catalog.pg_proc p
      join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('taskweave', 'taskweave_private')
       and p.prokind in ('f', 'p')
       and not coalesce(p.proconfig, '{}') && array['search_path=""']
       and not exists (select 1 from pg_catalog.pg_depend d where d.objid = p.oid and d.deptype = 'e')
     order by p.oid::regprocedure::text
  loop
    execute format('alter routine %s set search_path = %L', v_function, '');
    raise notice 'set search_path = '''' on %', v_function;
  end loop;
end;
$$;
