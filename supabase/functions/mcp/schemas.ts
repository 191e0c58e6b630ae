// The MCP endpoint's tools as data: name, description (written for a model), input and output schema.
// Declared once, here, and imported by both sides: the server registers these schemas (so they are what
// `tools/list` advertises and what every call is checked against) and the TypeScript client in
// src/client infers its argument and result types from them. Depends on zod only, so it loads under Deno
// (through ./deno.json) and under Node (through the repo's node_modules) alike; the generated database
// types are imported for a type check only.
import { z } from 'zod';
import type { Database } from '../_shared/database.types.ts';
import { BULK_ACTIONS, REVIEW_ACTIONS, REVIEW_KINDS, WORK_STATES } from '../_shared/operator.ts';

export const TASK_STATUSES = ['pending', 'queued', 'running', 'needs_human_review', 'completed', 'failed', 'cancelled'] as const;
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;
// the list is the enum taskweave.task_status of the generated types, no more and no less
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _statusesMatchTheDatabase: Same<TaskStatus, Database['taskweave']['Enums']['task_status']> = true;
void _statusesMatchTheDatabase;

/** Upper bound of wait_for_task: under the hosted platform's request limits, with room for the answer. */
export const MAX_WAIT_SECONDS = 50;
export { BULK_ACTIONS, REVIEW_ACTIONS, REVIEW_KINDS } from '../_shared/operator.ts';
// The web app's limits for an operator's input (src/features/reviews/schema.ts); tests/mcp checks they agree.
export const MANUAL_OUTPUT_MAX_CHARS = 100_000;
export const NOTE_MAX_CHARS = 2_000;
export const TITLE_MAX_CHARS = 500;
export const INSTRUCTIONS_MAX_CHARS = 200_000;

const taskId = (what = 'task_id') =>
  z.uuid({ error: `${what} must be a task id (a UUID such as the task_id create_task returned)` }).describe('Task id (UUID).');

// ---------------------------------------------------------------------------------------------
// shared output pieces

const UsageSchema = z
  .object({
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    model_steps: z.number().int(),
    cost_usd: z.number().describe('US dollars of those model steps, at the prices in force when each was saved (0 when no price is set).'),
  })
  .describe('Tokens the model read and wrote, summed over model steps, and what they cost.');

const TaskErrorSchema = z
  .looseObject({
    category: z.string().nullable().describe('model | tool | timeout | internal | budget | rate_limit'),
    message: z.string(),
  })
  .describe('Why the task last failed.');

const ProgressSchema = z
  .object({
    total: z.number().int().describe('Dependencies this aggregator joins.'),
    ended: z.number().int().describe('Dependencies that ended (completed or cancelled).'),
    completed: z.number().int().describe('Dependencies that completed.'),
    activated_by: z.string().nullable().describe("What started the aggregator: 'dependencies', 'quorum' or 'deadline'; null while it waits."),
  })
  .describe("An aggregator's join progress.");

const TaskKindSchema = z.enum(['root', 'parallel', 'aggregator']);

const ChildSchema = z.object({
  id: z.string(),
  title: z.string(),
  status: TaskStatusSchema,
  kind: TaskKindSchema,
  attempt: z.number().int(),
  max_attempts: z.number().int(),
  usage: UsageSchema,
  child_count: z.number().int().describe('Tasks this child started in turn (read them with get_task on the child).'),
  last_error: TaskErrorSchema.nullable(),
  progress: ProgressSchema.nullable(),
});

const ReviewKindSchema = z
  .enum(REVIEW_KINDS)
  .describe('failure: the task failed (retry, abort, manual); approval: a tool call waits (approve, reject); question: the agent asks (answer); interrupted_call: a call that may or may not have happened (retry, manual). abort fits every kind.');

const ReviewRequestSchema = z
  .looseObject({
    tool_call_id: z.string().optional(),
    tool: z.string().optional().describe('approval and interrupted_call: the tool the agent called.'),
    arguments: z.record(z.string(), z.unknown()).optional().describe('approval and interrupted_call: the arguments of the call.'),
    reason: z.string().optional().describe("approval: the agent's reason for the call."),
    question: z.string().optional().describe('question: what the agent asks.'),
    options: z.array(z.string()).optional().describe('question: the answers the agent offers (any other answer is allowed too).'),
    started_at: z.string().optional().describe('interrupted_call: when the call started.'),
  })
  .describe('What the person is asked; empty for a failure.');

const OpenReviewRefSchema = z.object({
  review_id: z.string(),
  kind: ReviewKindSchema,
  task_id: z.string(),
  task_title: z.string(),
  error: TaskErrorSchema.nullable(),
  request: ReviewRequestSchema,
});

const RunSchema = z
  .object({
    root_task_id: z.string(),
    task_count: z.number().int(),
    usage: UsageSchema,
    limits: z.object({
      max_tasks: z.number().int().nullable(),
      max_tokens: z.number().int().nullable(),
      max_cost_usd: z.number().nullable().describe('US dollars the run may spend on model steps (null: no limit).'),
      deadline_at: z.string().nullable().describe('ISO time after which the run starts no new model step.'),
    }),
  })
  .describe('The whole run this task belongs to (everything under its root): usage against its limits.');

export const RUN_STATES = WORK_STATES;

const TaskViewSchema = z.object({
  id: z.string(),
  title: z.string(),
  status: TaskStatusSchema,
  kind: TaskKindSchema,
  url: z.string().describe("The task's page in the Taskweave web app."),
  parent_task_id: z.string().nullable(),
  root_task_id: z.string(),
  attempt: z.number().int(),
  max_attempts: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
  output: z.unknown().describe("This task's own output (null until it completes)."),
  usage: UsageSchema,
  last_error: TaskErrorSchema.nullable(),
  progress: ProgressSchema.nullable().describe('Set when this task is an aggregator.'),
  children: z.array(ChildSchema).describe('Tasks this task started, oldest first (at most 200).'),
  children_total: z.number().int(),
  state: z
    .enum(RUN_STATES)
    .describe(
      'Where this task and everything under it stand: running (work remains), needs_operator (nothing can move until a review is resolved), ' +
        'or completed / failed / cancelled once all of it has ended.',
    ),
  answer: z
    .object({ task_id: z.string(), title: z.string(), output: z.unknown() })
    .nullable()
    .describe("The result to read once state is completed: the final aggregator's output for a fanned-out task, else the task's own."),
  open_reviews: z
    .array(OpenReviewRefSchema)
    .describe('Tasks under this one that wait for a person: a failure, a tool call to approve, a question (resolve them with resolve_review).'),
  run: RunSchema.nullable(),
  version: z.string().describe('Changes whenever a status or usage under this task changes; pass it to wait_for_task as changed_since.'),
});

// ---------------------------------------------------------------------------------------------
// tools

const LimitsSchema = z
  .strictObject({
    max_tasks: z.int().min(1).max(1_000_000).nullable().optional().describe('Most tasks the run may create, the root included (null: no limit).'),
    max_tokens: z.int().min(1).nullable().optional().describe('Most input + output tokens all model steps of the run may use together (null: no limit).'),
    deadline_seconds: z
      .int()
      .min(1)
      .max(365 * 24 * 3600)
      .nullable()
      .optional()
      .describe('Seconds from now after which the run starts no new model step (null: no deadline).'),
    max_cost_usd: z
      .number()
      .positive()
      .max(1_000_000)
      .nullable()
      .optional()
      .describe('Most US dollars all model steps of the run may cost together, at the prices set with set_model_price (null: no limit).'),
  })
  .describe('Bounds for the whole run; each is optional and defaults to the database settings. A task that hits one fails with category "budget".');

export const createTask = {
  name: 'create_task',
  title: 'Create a Taskweave task',
  description:
    'Submit a new root task to Taskweave. An LLM agent runs it; it may fan the work out into parallel tasks and join their results ' +
    'with an aggregator task. Returns at once with the task id and the URL of its page; follow it with wait_for_task (or get_task). ' +
    'Put the goal in `instructions`, any structured data in `input` (a JSON object, e.g. {"topics": ["a", "b"]}), ' +
    'and bound the cost with `limits`.',
  input: z.strictObject({
    title: z
      .string({ error: 'title is required: a short name for the task' })
      .trim()
      .min(1, 'title must not be empty')
      .max(TITLE_MAX_CHARS, `title must be at most ${TITLE_MAX_CHARS} characters`)
      .describe('Short name shown in lists, e.g. "Compare note-taking apps".'),
    instructions: z
      .string({ error: 'instructions is required: what the agent should do' })
      .max(INSTRUCTIONS_MAX_CHARS, `instructions must be at most ${INSTRUCTIONS_MAX_CHARS} characters`)
      .refine((s) => s.trim().length > 0, 'instructions must not be empty')
      .describe('What the agent should do, in plain words.'),
    input: z
      .record(z.string(), z.unknown(), { error: 'input must be a JSON object (e.g. {"topics": ["a", "b"]}), not a string or a list' })
      .optional()
      .describe('Optional structured data for the task, a JSON object.'),
    limits: LimitsSchema.optional(),
    agent: z
      .string()
      .trim()
      .min(1, 'agent must not be empty')
      .max(40, 'agent must be at most 40 characters')
      .optional()
      .describe('The slug of the agent to run the task as (its instructions, model and tools); without it the environment\'s model runs.'),
  }),
  output: z.object({
    task_id: z.string(),
    title: z.string(),
    status: TaskStatusSchema,
    url: z.string().describe("The task's page in the Taskweave web app."),
    run: RunSchema.nullable(),
  }),
} as const;

export const getTask = {
  name: 'get_task',
  title: 'Read a Taskweave task',
  description:
    'Read one task now: its status, output, token usage, last error, the tasks it started (with their status), an aggregator\'s join progress, ' +
    'the run\'s usage against its limits, reviews waiting under it, and `state`/`answer`, which say whether the whole piece of work has ended and what its result is. ' +
    'Does not wait; use wait_for_task to wait for a change.',
  input: z.strictObject({ task_id: taskId() }),
  output: TaskViewSchema,
} as const;

export const waitForTask = {
  name: 'wait_for_task',
  title: 'Wait for a Taskweave task',
  description:
    `Wait up to timeout_seconds (at most ${MAX_WAIT_SECONDS}) until the task and everything it started have ended, or until nothing can move without an operator ` +
    '(state needs_operator: see open_reviews, then resolve_review). Returns the same view as get_task, plus why it returned. ' +
    'If it returns with timed_out true the work is still running: call it again. ' +
    'To follow progress step by step, pass the `version` of your last view as changed_since: it then also returns as soon as anything changes.',
  input: z.strictObject({
    task_id: taskId(),
    timeout_seconds: z
      .number({ error: `timeout_seconds must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}` })
      .min(0, 'timeout_seconds must not be negative')
      .max(MAX_WAIT_SECONDS, `timeout_seconds must be at most ${MAX_WAIT_SECONDS}; call wait_for_task again to wait longer`)
      .default(30)
      .describe(`How long to wait at most, in seconds (0..${MAX_WAIT_SECONDS}, default 30).`),
    changed_since: z.string().max(200).optional().describe('A `version` from an earlier get_task or wait_for_task result: return as soon as the view differs from it.'),
  }),
  output: z.object({
    reason: z
      .enum(['ended', 'needs_operator', 'changed', 'timed_out'])
      .describe('ended: all of it ended (see state and answer); needs_operator: a review blocks it; changed: the view differs from changed_since; timed_out: still running.'),
    timed_out: z.boolean(),
    waited_seconds: z.number(),
    task: TaskViewSchema,
  }),
} as const;

const AggregatorRefSchema = ProgressSchema.extend({ id: z.string(), title: z.string(), status: TaskStatusSchema });

const reviewFilterFields = {
  kind: z
    .union([ReviewKindSchema, z.array(ReviewKindSchema).min(1, 'kind must list at least one kind')], {
      error: 'kind must be failure, approval, question or interrupted_call, or a list of them',
    })
    .optional()
    .describe('Only reviews of this kind (or these kinds).'),
  category: z.string().min(1).max(200).optional().describe("Only failures with this error category: model, tool, timeout, internal, budget or rate_limit."),
  root_task_id: taskId('root_task_id').optional().describe('Only reviews in this run (the id create_task returned).'),
  agent: z.string().min(1).max(200).optional().describe('Only tasks that run as this agent (its slug).'),
  tool: z.string().min(1).max(200).optional().describe('Only approvals and interrupted calls of this tool (its slug).'),
  older_than_seconds: z
    .number({ error: 'older_than_seconds must be a number of seconds' })
    .min(0, 'older_than_seconds must not be negative')
    .max(315_360_000, 'older_than_seconds must be at most 315360000 (ten years)')
    .optional()
    .describe('Only reviews that have waited at least this long.'),
  text: z
    .string()
    .max(500, 'text must be at most 500 characters')
    .refine((t) => t.trim().length > 0, 'text must not be blank')
    .optional()
    .describe("Only reviews whose error message or question contains this text (case-insensitive)."),
};

export const REVIEW_FILTER_FIELDS = Object.keys(reviewFilterFields) as (keyof typeof reviewFilterFields)[];

export const listReviews = {
  name: 'list_reviews',
  title: 'List open Taskweave reviews',
  description:
    'List what waits for a person, oldest first. Each review has a kind: "failure" (a parallel task failed for good: its error), ' +
    '"approval" (a tool call waits to be approved: the tool, its arguments and the agent\'s reason), "question" (the agent asks: the question ' +
    'and its options) or "interrupted_call" (a call that may or may not have happened). With the task and the aggregators waiting on it. ' +
    'Filter by kind, category, root_task_id, agent, tool, older_than_seconds or text; total counts every match. Resolve one with ' +
    'resolve_review, or every match with resolve_reviews. Paginated: pass next_cursor back as cursor for the next page.',
  input: z.strictObject({
    limit: z.int({ error: 'limit must be a whole number from 1 to 100' }).min(1, 'limit must be at least 1').max(100, 'limit must be at most 100').default(20).describe('Reviews per page (1..100, default 20).'),
    cursor: z.string().max(300).optional().describe('next_cursor from the previous page (with the same filters); omit it for the first page.'),
    ...reviewFilterFields,
  }),
  output: z.object({
    reviews: z.array(
      z.object({
        review_id: z.string(),
        kind: ReviewKindSchema,
        created_at: z.string(),
        error: TaskErrorSchema.nullable().describe('A failure\'s error; null for the other kinds.'),
        request: ReviewRequestSchema,
        actions: z.array(z.enum(REVIEW_ACTIONS)).describe('The actions resolve_review takes for this review.'),
        task: z.object({
          id: z.string(),
          title: z.string(),
          instructions: z.string(),
          status: TaskStatusSchema,
          attempt: z.number().int(),
          max_attempts: z.number().int(),
          root_task_id: z.string(),
          agent: z.string().nullable(),
          url: z.string(),
        }),
        aggregators: z.array(AggregatorRefSchema),
      }),
    ),
    total: z.number().int().describe('Open reviews that match the filters, all pages together.'),
    next_cursor: z.string().nullable().describe('Pass as cursor to read the next page; null on the last page.'),
  }),
} as const;

export const resolveReview = {
  name: 'resolve_review',
  title: 'Resolve a Taskweave review',
  description:
    'Decide one open review, as an operator would on the reviews page. By kind: ' +
    'failure: "retry" runs the task again (fresh attempts), "manual" completes it with manual_output, a result you write (marked as human-written; ' +
    'what the task had started and not finished is cancelled); ' +
    'approval: "approve" runs the call (pass arguments to change them first), "reject" refuses it: note is required and the model gets it as the reason; ' +
    'question: "answer" with answer, which the model gets as the reply; ' +
    'interrupted_call: "retry" makes the call again, "manual" gives manual_output as its result. ' +
    '"abort", for every kind, cancels the task and everything under it (its aggregator goes on without it, or is cancelled when nothing completed). ' +
    'The task resumes from where it stopped. A review resolves once: a second call fails and says who resolved it.',
  input: z.strictObject({
    review_id: z.uuid({ error: 'review_id must be a review id (a UUID from list_reviews or get_task open_reviews)' }),
    action: z.enum(REVIEW_ACTIONS, { error: 'action must be one of "retry", "abort", "manual", "approve", "reject" or "answer" (list_reviews says which fit each review)' }),
    manual_output: z
      .string({ error: 'manual_output must be a string (for a JSON value, send its text and set manual_format to "json")' })
      .optional()
      .describe('With action "manual": the output the task should have produced (failure), or the result of the call (interrupted_call).'),
    manual_format: z
      .enum(['text', 'json'], { error: 'manual_format must be "text" or "json"' })
      .default('text')
      .describe('"text" (default) stores manual_output as a string; "json" parses it as a JSON value.'),
    answer: z
      .string({ error: 'answer must be a string: the reply the model gets' })
      .max(MANUAL_OUTPUT_MAX_CHARS, `answer must be at most ${MANUAL_OUTPUT_MAX_CHARS} characters`)
      .optional()
      .describe('With action "answer": the reply, free text or one of the question\'s options.'),
    arguments: z
      .record(z.string(), z.unknown(), { error: 'arguments must be a JSON object: the arguments the call runs with' })
      .optional()
      .describe('With action "approve": run the call with these arguments instead of the requested ones (the edit is recorded).'),
    note: z
      .string()
      .max(NOTE_MAX_CHARS, `Keep the note under ${NOTE_MAX_CHARS.toLocaleString('en-US')} characters.`)
      .optional()
      .describe('With action "reject": the reason the model is given (required). Otherwise optional, kept with the review.'),
  }),
  output: z.object({
    review_id: z.string(),
    kind: ReviewKindSchema,
    action: z.enum(REVIEW_ACTIONS),
    message: z.string().describe('What happened, in words.'),
    task: z.object({ id: z.string(), title: z.string(), status: TaskStatusSchema }),
    aggregators: z.array(AggregatorRefSchema),
  }),
} as const;

export const resolveReviews = {
  name: 'resolve_reviews',
  title: 'Resolve every matching Taskweave review',
  description:
    'Decide every open review that matches the filters with one action, as "Select all that match" does on the reviews page: "retry" ' +
    '(failures and interrupted calls), "abort" (every kind), "approve" or "reject" (approvals; reject needs note, the reason every model gets). ' +
    'Only the kinds the action fits are touched. Give at least one filter (the same as list_reviews; call list_reviews first to see what matches). ' +
    'Each review is resolved and recorded exactly as resolve_review would; a review someone resolves at the same moment is skipped, never decided twice.',
  input: z.strictObject({
    action: z.enum(BULK_ACTIONS, { error: 'action must be one of "retry", "abort", "approve" or "reject" (answer and manual need resolve_review, one review at a time)' }),
    note: z
      .string()
      .max(NOTE_MAX_CHARS, `Keep the note under ${NOTE_MAX_CHARS.toLocaleString('en-US')} characters.`)
      .optional()
      .describe('With "reject": the reason every model is given (required). Otherwise optional, kept with each review.'),
    ...reviewFilterFields,
  }),
  output: z.object({
    resolved: z.number().int().describe('Reviews this call resolved.'),
    skipped: z.number().int().describe('Reviews that matched but were taken by someone else at the same moment, or no longer waited.'),
    message: z.string(),
  }),
} as const;

export const cancelTask = {
  name: 'cancel_task',
  title: 'Cancel a Taskweave task',
  description:
    'Cancel a task and every task under it that has not ended (cancelling a root cancels the whole run). Running tasks stop before ' +
    'their next model step; their open reviews resolve as abort; an aggregator goes on with what completed. Cannot be undone.',
  input: z.strictObject({
    task_id: taskId(),
    note: z.string().max(NOTE_MAX_CHARS, `Keep the note under ${NOTE_MAX_CHARS.toLocaleString('en-US')} characters.`).optional().describe('Why; kept in the task history.'),
  }),
  output: z.object({
    task_id: z.string(),
    title: z.string(),
    status: TaskStatusSchema,
    stopped: z.number().int().describe('Tasks that had not ended and were cancelled by this call.'),
    message: z.string(),
  }),
} as const;

export const TOOLS = { createTask, getTask, waitForTask, listReviews, resolveReview, resolveReviews, cancelTask } as const;
export type ToolKey = keyof typeof TOOLS;
export type ToolName = (typeof TOOLS)[ToolKey]['name'];
export type ToolInput<K extends ToolKey> = z.input<(typeof TOOLS)[K]['input']>;
export type ToolArgs<K extends ToolKey> = z.output<(typeof TOOLS)[K]['input']>;
export type ToolOutput<K extends ToolKey> = z.output<(typeof TOOLS)[K]['output']>;

export type TaskView = z.output<typeof TaskViewSchema>;
export type RunState = (typeof RUN_STATES)[number];
export type Usage = z.output<typeof UsageSchema>;
