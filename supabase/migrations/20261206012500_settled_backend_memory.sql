-- A worker's backend stops giving its memory back to the kernel after every transaction (0.3.2).
--
-- glibc's malloc returns the free top of the heap to the kernel (brk) once it exceeds M_TRIM_THRESHOLD,
-- 128 kB until the process first frees a chunk it had to mmap; then the threshold follows that chunk's
-- size. A new backend that only ever runs the worker path (a claim, a completion) never frees such a
-- chunk, while one transaction of complete_and_claim needs a little more than 128 kB of executor and
-- trigger memory. So each job grew the heap, page-faulted it in, and gave it back: about 10 page faults
-- and a TLB flush per job, which measured 720-760 us of backend CPU per job against 270-290 us for the
-- same backend once the threshold had moved (one connection, 3,000 jobs; a backend that had first run any
-- large query was already at the low figure). graphile-worker's shorter transactions stay under 128 kB.
--
-- settle_backend_memory() allocates and frees 2 MB once per backend, which moves glibc's thresholds to
-- 2 MB (mmap) and 4 MB (trim): the backend keeps up to 4 MB of free heap instead of faulting it in
-- again. The guard trigger calls it on the first task write of each backend (a session setting says it
-- ran; a rolled-back transaction rolls that back too, and the next write runs it again). On a malloc
-- without these thresholds it costs one 2 MB allocation per backend and changes nothing else.

create function taskweave_private.settle_backend_memory()
returns void
language plpgsql
set search_path = ''
as $function$
begin
  perform pg_catalog.set_config('taskweave.backend_memory_settled', 'on', false);
  -- one chunk above glibc's 128 kB mmap threshold, freed when this statement's memory is reset
  perform pg_catalog.length(pg_catalog.repeat(' ', 2097152));
end;
$function$;

comment on function taskweave_private.settle_backend_memory() is
  'Once per backend, from the guard trigger: allocates and frees 2 MB so that glibc keeps up to 4 MB of free heap '
  'instead of returning it to the kernel after every transaction and page-faulting it back in (2.5x the backend CPU '
  'of the worker path on a new connection). Records that it ran in the session setting taskweave.backend_memory_settled.';

revoke all on function taskweave_private.settle_backend_memory() from public, anon, authenticated;
grant execute on function taskweave_private.settle_backend_memory() to service_role;
