-- Taskweave 0.3.0: indexes for the review filters that read a review's own JSON (error category, the tool
-- of an approval or interrupted call), over open reviews only, in the page's order. A filter on a rare
-- category or tool then reads its matches instead of walking every open review (npm run bench:reviews).
-- kind has human_reviews_open_kind_idx; agent and run go through the task (tasks_agent_unfinished_idx,
-- tasks_root_task_id_idx).

create index human_reviews_open_category_idx on taskweave.human_reviews ((error ->> 'category'), created_at, id)
  where status = 'open';
create index human_reviews_open_tool_idx on taskweave.human_reviews ((request ->> 'tool'), created_at, id)
  where status = 'open';
