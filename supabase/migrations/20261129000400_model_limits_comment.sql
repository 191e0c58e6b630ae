-- The comment of set_model_limits names the model the way the worker asks for its slots: LLM_MODEL without
-- the provider prefix, or demo-planner-1 for the demo model. (It was first corrected inside the released
-- 0.2.0 baseline; released migrations are never edited, so the correction lives here.)
comment on function taskweave.set_model_limits(text, integer, integer) is
  'service_role: requests and tokens per minute for one model name (LLM_MODEL without the provider, e.g. gpt-4o-mini; demo-planner-1 for the demo model), shared by '
  'every worker through begin_model_step. A null p_requests_per_minute removes the model''s limits.';
