// The shapes this function reads and writes, each declared once as a zod schema; the TypeScript types
// are inferred from them, so the runtime check and the static type cannot drift apart. The task row
// schema is keyed by the generated database types (`npm run db:types` -> ../_shared/database.types.ts):
// a column renamed in a migration breaks the type check here, not a run in production.
import { z } from 'zod';
import type { Database } from '../_shared/database.types.ts';

type Tables = Database['taskweave']['Tables'];
export type TaskRow = Tables['tasks']['Row'];
export type TaskMessageRow = Tables['task_messages']['Row'];
type Assert<T extends true> = T;

export const TASK_STATUSES = ['pending', 'queued', 'running', 'needs_human_review', 'completed', 'failed', 'cancelled'] as const;
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

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
  created_at: nullableTimestamp,
  updated_at: nullableTimestamp,
  completed_at: nullableTimestamp,
} satisfies Partial<Record<keyof TaskRow, z.ZodType>>);
export type Task = z.infer<typeof TaskSchema>;
// a row as the database returns it parses (status is text in the database, an enum here)
export type _TaskRowParses = Assert<Omit<TaskRow, 'status'> extends Omit<z.input<typeof TaskSchema>, 'status'> ? true : false>;

/** What kind of work a task is, from its row: an aggregator has dependencies, a parallel task a parent. */
export type TaskKind = 'root' | 'parallel' | 'aggregator';
export function taskKind(task: Pick<Task, 'dependent_task_ids' | 'is_parallel_task' | 'parent_task_id'>): TaskKind {
  if (task.dependent_task_ids.length > 0) return 'aggregator';
  if (task.is_parallel_task) return 'parallel';
  return 'root';
}

export const MESSAGE_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export const TaskMessageSchema = z.object({
  task_id: z.string(),
  seq: z.number().int(),
  role: z.enum(MESSAGE_ROLES),
  // the AI SDK ModelMessage content: a string, or an array of parts (text, tool-call, tool-result, …)
  content: z.unknown(),
  created_at: nullableTimestamp,
} satisfies Partial<Record<keyof TaskMessageRow, z.ZodType>>);
export type TaskMessage = z.infer<typeof TaskMessageSchema>;

/** How a dependency of an aggregator ended, as the aggregator's model is told. */
export const ParallelTaskResultSchema = z.object({
  task_id: z.string(),
  title: z.string(),
  status: z.enum(['completed', 'cancelled']),
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
  dependencies: z.array(ParallelTaskResultSchema),
  /** Dependencies whose results did not fit the budget at all (listed by id and title only). */
  omitted_dependencies: z.array(z.object({ task_id: z.string(), title: z.string() })),
  limits: z.object({ max_children: z.number().int(), max_depth: z.number().int(), can_create_children: z.boolean() }),
});
export type TaskContext = z.infer<typeof TaskContextSchema>;

/** The error passed to fail_task, shown to operators on the reviews page. */
export const ERROR_CATEGORIES = ['model', 'tool', 'timeout', 'internal'] as const;
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

// ---- HTTP body (DESIGN §4) ----
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
  | 'lease_lost'; // another worker took the task over (our lease expired); we stopped writing

export interface TaskRunResult {
  task_id: string;
  status: TaskStatus | 'unknown';
  outcome: RunOutcome;
  attempt: number;
  steps: number;
  error?: { category: TaskError['category']; message: string };
}
