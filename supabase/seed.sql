-- Demo data for local runs (applied by `npm run db:reset` and by `npm run dev` on a new database).
-- One root task whose input plans a fan-out for the offline `demo` model: three parallel research tasks
-- and an aggregator. The second topic asks the demo model to fail, so it lands on the reviews page,
-- where an operator resolves it (Manual or Retry) and the aggregator then runs with all three results.
select taskweave.create_task(
  'Research brief: should a 40-person company adopt a four-day week?',
  'Split the question into research topics, research them in parallel, then combine the findings into one recommendation.',
  jsonb_build_object(
    'demo', true,
    'topics', jsonb_build_array(
      'Productivity evidence from four-day-week trials',
      jsonb_build_object('title', 'Employee wellbeing and retention outcomes', 'simulate_failure', true),
      'Costs, customer coverage and operational risks'
    )
  )
);
