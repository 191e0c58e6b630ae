-- Supabase's Security Advisor (`supabase db advisors --type security`) warns on every function whose
-- search_path is not fixed to '' (function_search_path_mutable). Ten helpers were left without a SET clause
-- to save its cost on the hot paths (a SET clause also keeps the planner from inlining a SQL function):
-- guard_task_transition, is_due, current_actor, set_actor, require_lease, validate_worker,
-- validate_seconds, join_slot, join_outcome and take_running_slots. Each names only schema-qualified
-- objects, so an empty search_path changes nothing they resolve.
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
