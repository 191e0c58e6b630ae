-- Taskweave 0.3.0: the per-minute token log of a rate-limited model counts in bigint. Its integer column
-- overflowed (22003) once a request's tokens passed 2^31 - 1, failing the model step that reported them.
-- The other counters already are bigint (runs.input_tokens, output_tokens, max_tokens) or bounded far below
-- 2^31 by their own checks (attempts, task counts, join counters).

alter table taskweave_private.model_requests alter column tokens type bigint;
comment on column taskweave_private.model_requests.tokens is 'Input plus output tokens the request used, once reported (append_task_message).';
