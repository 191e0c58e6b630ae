// The shapes this function reads and writes. Rows come from the generated database types
// (`npm run db:types` -> ../_shared/database.types.ts): the status enum and the column names are read
// from there, so a migration that renames a column or adds a status breaks the type check here, not a
// run in production. zod parses rows at the boundary (postgres.js gives Dates, some drivers give
// array literals) and every other shape this function owns.
import { z } from 'zod';
import { Constants, type Database } from '../_shared/database.types.ts';

type Schema = Database['taskweave'];
export type TaskRow = Schema['Tables']['tasks']['Row'];
export type TaskMessageRow = Schema['Tables']['task_messages']['Row'];
/** The SQL API, by function name, with the named arguments of each (p_…). */
export type ApiFunctions = Schema['Functions'];
type Assert<T extends true> = T;

export const TaskStatusSchema = z.enum(Constants.taskweave.Enums.task_status);
export type TaskStatus = Schema['Enums']['task_status'];

/** postgres.js gives Date for timestamptz; JSON gives strings. Either way we keep ISO strings. */
const timestamp = z.union([z.date(), z.string()]).transform((v) => (v instanceof Date ? v.toISOString() : new Date(v).toISOString()));
const nullableTimestamp = timestamp.nullable().optional().transform((v) => v ?? null);

/** uuid[] arrives as a JS array from postgres.js, or as a `{a,b}` literal from some drivers. */
const uuidArray = z
  .union([z.array(z.string()), z.string()])
  .nullable()
  .optional()
  .transform((v) => {
    if (v == null) return [] as string[];
    if (Array.isArray(v)) return v;
    const inner = v.replace(/^\{|\}$/g, '').trim();
    return inner ? inner.split(',').map((s) => s.trim()) : [];
  });

const jsonValue: z.ZodType<unknown> = z.unknown();

/** tasks.usage: the tokens of every model step of the task, summed by append_task_message. */
export const TaskUsageSchema = z.unknown().optional().transform((v) => {
  const o = (v !== null && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  const count = (x: unknown) => (Number.isFinite(Number(x)) && Number(x) > 0 ? Math.trunc(Number(x)) : 0);
  return { input_tokens: count(o.input_tokens), output_tokens: count(o.output_tokens), model_steps: count(o.model_steps) };
});

const nullableText = z.string().nullable().optional().transform((v) => v ?? null);

export const TaskSchema = z.object({
  // `satisfies` below: every key is a column of taskweave.tasks
  id: z.string(),
  parent_task_id: z.string().nullable(),
  root_task_id: z.string(),
  title: z.string(),
  instructions: z.string(),
  input: jsonValue.transform((v) => (v ?? {}) as unknown),
  status: TaskStatusSchema,
  is_parallel_task: z.boolean(),
  dependent_task_ids: uuidArray,
  output: jsonValue.nullable().optional().transform((v) => v ?? null),
  last_error: jsonValue.nullable().optional().transform((v) => v ?? null),
  attempt: z.number().int(),
  max_attempts: z.number().int(),
  run_after: nullableTimestamp,
  leased_by: z.string().nullable().optional().transform((v) => v ?? null),
  lease_expires_at: nullableTimestamp,
  tool_call_id: z.string().nullable().optional().transform((v) => v ?? null),
  depth: z.number().int().optional().transform((v) => v ?? 0),
  usage: TaskUsageSchema,
  min_completed: z.number().int().nullable().optional().transform((v) => v ?? null),
  wait_until: nullableTimestamp,
  /** for an aggregator: what activated it (dependencies | quorum | deadline) */
  activated_by: nullableText,
  /** why a cancelled task was cancelled (an early join, an operator, …) */
  cancel_reason: nullableText,
  /** the slug of the agent the task runs as; null: the environment's model */
  agent: nullableText,
  created_at: nullableTimestamp,
  updated_at: nullableTimestamp,
  completed_at: nullableTimestamp,
} satisfies Partial<Record<keyof TaskRow, z.ZodType>>);
export type Task = z.infer<typeof TaskSchema>;
// a row as the database returns it parses, and the status is the generated enum
export type _TaskRowParses = Assert<TaskRow extends z.input<typeof TaskSchema> ? true : false>;
export type _StatusIsTheEnum = Assert<[Task['status']] extends [TaskStatus] ? ([TaskStatus] extends [Task['status']] ? true : false) : false>;

/** What kind of work a task is, from its row: an aggregator has dependencies, a parallel task a parent. */
export type TaskKind = 'root' | 'parallel' | 'aggregator';
export function taskKind(task: Pick<Task, 'dependent_task_ids' | 'is_parallel_task' | 'parent_task_id'>): TaskKind {
  if (task.dependent_task_ids.length > 0) return 'aggregator';
  if (task.is_parallel_task) return 'parallel';
  return 'root';
}

export const MESSAGE_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];
/** What append_task_message adds to tasks.usage and the run's counters for one model step. */
export interface ModelStepUsage {
  input_tokens: number;
  output_tokens: number;
}
export const TaskMessageSchema = z.object({
  task_id: z.string(),
  seq: z.number().int(),
  role: z.enum(MESSAGE_ROLES),
  // the AI SDK ModelMessage content: a string, or an array of parts (text, tool-call, tool-result, …)
  content: z.unknown(),
  created_at: nullableTimestamp,
} satisfies Partial<Record<keyof TaskMessageRow, z.ZodType>>);
export type TaskMessage = z.infer<typeof TaskMessageSchema>;

// ---- agents, registry tools, and pauses for a person ----
type AgentRow = Schema['Tables']['agents']['Row'];
type ToolRow = Schema['Tables']['tools']['Row'];
type ToolCallRow = Schema['Tables']['tool_calls']['Row'];

const numberOrNull = z.union([z.number(), z.string()]).nullable().optional().transform((v) => (v == null ? null : Number(v)));

export const ToolDefinitionSchema = z.object({
  slug: z.string(),
  kind: z.string(),
  description: z.string(),
  config: z.unknown().transform((v) => (v ?? {}) as ToolRow['config']),
  secrets: z.array(z.string()).nullable().transform((v) => v ?? []),
  idempotent: z.boolean(),
  requires_approval: z.boolean(),
  timeout_seconds: z.number().int(),
  max_output_bytes: z.number().int(),
} satisfies Partial<Record<keyof ToolRow, z.ZodType>>);

export const AgentDefinitionSchema = z.object({
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  instructions: z.string(),
  model: nullableText,
  // numeric comes back from postgres.js as a string
  temperature: numberOrNull,
  max_output_tokens: numberOrNull,
  tools: z.array(ToolDefinitionSchema),
} satisfies Partial<Record<keyof AgentRow | 'tools', z.ZodType>>);
export type AgentDefinition = z.infer<typeof AgentDefinitionSchema>;
export type AgentSummary = Pick<AgentDefinition, 'slug' | 'name' | 'description'>;

export const TOOL_CALL_STATUSES = ['awaiting_approval', 'started', 'succeeded', 'failed', 'rejected'] as const;
export const ToolCallRecordSchema = z.object({
  tool_call_id: z.string(),
  tool_slug: nullableText,
  tool_name: z.string(),
  arguments: z.unknown(),
  status: z.enum(TOOL_CALL_STATUSES),
  result: z.unknown().optional().transform((v) => v ?? null),
  error: nullableText,
  started_at: nullableTimestamp,
} satisfies Partial<Record<keyof ToolCallRow, z.ZodType>>);
export type ToolCallRecord = z.infer<typeof ToolCallRecordSchema>;

/** What a person is asked (human_reviews.request, by kind). */
export type HumanRequest =
  | { kind: 'approval'; request: { tool_call_id: string; tool: string; arguments: Record<string, unknown>; reason: string; input_schema: unknown } }
  | { kind: 'question'; request: { tool_call_id: string; question: string; options?: string[] } }
  /** SQL takes the tool, arguments and started_at from the call's started record */
  | { kind: 'interrupted_call'; request: { tool_call_id: string } };

/** The newest review about one tool call (get_tool_call_review): open, or resolved with the operator's decision. */
export const ToolCallReviewSchema = z.object({
  id: z.string(),
  kind: z.enum(['failure', 'approval', 'question', 'interrupted_call']),
  status: z.enum(['open', 'resolved']),
  action: z.enum(['retry', 'abort', 'manual', 'approve', 'reject', 'answer']).nullable(),
  manual_output: z.unknown().optional().transform((v) => v ?? null),
  note: nullableText,
  resolved_by: nullableText,
});
export type ToolCallReview = z.infer<typeof ToolCallReviewSchema>;

/** How a dependency of an aggregator ended, as the aggregator's model is told. */
export const ParallelTaskResultSchema = z.object({
  task_id: z.string(),
  title: z.string(),
  status: z.enum(['completed', 'cancelled']),
  /** why a cancelled dependency was cancelled, e.g. the join activated early (quorum or deadline) */
  cancel_reason: z.string().nullable(),
  /** `operator` when a person wrote the output in the reviews page (a manual resolution). */
  completed_by: z.enum(['model', 'operator', 'none']),
  resolved_by: z.string().nullable(),
  /** The output as text, capped; `truncated` says whether the cap cut it. */
  output: z.string().nullable(),
  truncated: z.boolean(),
  original_length: z.number().int(),
});
export type ParallelTaskResult = z.infer<typeof ParallelTaskResultSchema>;

/** Everything the model is told about the task it works on. */
export const TaskContextSchema = z.object({
  kind: z.enum(['root', 'parallel', 'aggregator']),
  task: z.object({
    id: z.string(),
    title: z.string(),
    instructions: z.string(),
    input: z.unknown(),
    depth: z.number().int(),
    attempt: z.number().int(),
  }),
  parent: z.object({ id: z.string(), title: z.string() }).nullable(),
  /** for an aggregator: how its join activated (dependencies | quorum | deadline), with the join's settings */
  join: z
    .object({ activated_by: z.string().nullable(), min_completed: z.number().int().nullable(), wait_until: z.string().nullable() })
    .nullable(),
  dependencies: z.array(ParallelTaskResultSchema),
  /** Dependencies whose results did not fit the budget at all (listed by id and title only). */
  omitted_dependencies: z.array(z.object({ task_id: z.string(), title: z.string() })),
});
export type TaskContext = z.infer<typeof TaskContextSchema>;

/** The error passed to fail_task, shown to operators on the reviews page. */
export const ERROR_CATEGORIES = ['model', 'tool', 'timeout', 'internal', 'budget', 'rate_limit'] as const;
export const TaskErrorSchema = z.object({
  category: z.enum(ERROR_CATEGORIES),
  message: z.string(),
  provider: z
    .object({
      name: z.string().optional(),
      model: z.string().optional(),
      status_code: z.number().int().optional(),
      url: z.string().optional(),
      response_body: z.string().optional(),
      is_retryable: z.boolean().optional(),
    })
    .optional(),
  step: z.number().int().optional(),
  attempt: z.number().int().optional(),
  worker: z.string().optional(),
});
export type TaskError = z.infer<typeof TaskErrorSchema>;

/** The output complete_task stores for a task the model finished. */
export const ModelOutputSchema = z.object({
  source: z.literal('model'),
  text: z.string(),
  model: z.string(),
  steps: z.number().int(),
});
export type ModelOutput = z.infer<typeof ModelOutputSchema>;

/** The output resolve_review stores for a manual resolution (written by the SQL API). */
export const ManualOutputSchema = z.object({
  source: z.literal('manual'),
  value: z.unknown(),
  resolved_by: z.string().nullable().optional(),
  resolved_at: z.string().nullable().optional(),
});

// ---- HTTP body (docs/contracts.md §3) ----
export const MAX_TASKS_LIMIT = 50;
export const ProcessRequestSchema = z
  .strictObject({
    task_id: z.uuid({ message: 'task_id must be a UUID' }).optional(),
    max_tasks: z
      .number({ message: 'max_tasks must be a number' })
      .int({ message: 'max_tasks must be an integer' })
      .min(1, { message: 'max_tasks must be at least 1' })
      .max(MAX_TASKS_LIMIT, { message: `max_tasks must be at most ${MAX_TASKS_LIMIT}` })
      .optional(),
  })
  .refine((b) => !(b.task_id !== undefined && b.max_tasks !== undefined), {
    message: 'give either task_id or max_tasks, not both',
  });
export type ProcessRequest = z.infer<typeof ProcessRequestSchema>;

/** Outcome of one task in a run, as reported in the 200 answer. */
export type RunOutcome =
  | 'completed'
  | 'released' // wall-clock budget reached: saved, back to pending, the next invocation continues
  | 'retry_scheduled' // failed, retryable, attempts left: pending with backoff
  | 'needs_human_review'
  | 'failed'
  | 'cancelled' // an operator cancelled the task (or its run) while it ran; we stopped before the next model step
  | 'lease_lost'; // another worker took the task over (our lease expired); we stopped writing

export interface TaskRunResult {
  task_id: string;
  status: TaskStatus | 'unknown';
  outcome: RunOutcome;
  attempt: number;
  steps: number;
  error?: { category: TaskError['category']; message: string };
}
