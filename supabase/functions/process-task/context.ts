// What the model is told: a system prompt for the kind of task, and one user message with the task
// and, for an aggregator, every dependency's result (injected here, capped so a wide fan-in fits).
import type { ModelMessage } from 'ai';
import type { AgentSettings, TaskStore } from './ports.ts';
import { ManualOutputSchema, ModelOutputSchema, taskKind, type ParallelTaskResult, type Task, type TaskContext } from './types.ts';

export const TRUNCATION_MARKER = '…[truncated:';

/** Cut text to at most `max` characters, saying visibly how much was cut. */
export function truncate(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  const marker = (cut: number) => ` ${TRUNCATION_MARKER} ${cut} more characters]`;
  const keep = Math.max(0, max - marker(text.length).length);
  return { text: text.slice(0, keep) + marker(text.length - keep), truncated: true };
}

/** A dependency's output as text, and who wrote it. */
export function describeOutput(task: Task): { text: string | null; completedBy: ParallelTaskResult['completed_by']; resolvedBy: string | null } {
  if (task.status !== 'completed') return { text: null, completedBy: 'none', resolvedBy: null };
  const manual = ManualOutputSchema.safeParse(task.output);
  if (manual.success) {
    const value = manual.data.value;
    return { text: typeof value === 'string' ? value : JSON.stringify(value), completedBy: 'operator', resolvedBy: manual.data.resolved_by ?? null };
  }
  const model = ModelOutputSchema.safeParse(task.output);
  if (model.success) return { text: model.data.text, completedBy: 'model', resolvedBy: null };
  const raw = task.output;
  return { text: raw == null ? '' : typeof raw === 'string' ? raw : JSON.stringify(raw), completedBy: 'model', resolvedBy: null };
}

/** The `cut` mark get_dependency_results puts on an output it shortened, or null. */
function sqlCut(output: unknown): { original_chars: number } | null {
  const cut = output !== null && typeof output === 'object' ? (output as { cut?: unknown }).cut : undefined;
  const original = cut !== null && typeof cut === 'object' ? (cut as { original_chars?: unknown }).original_chars : undefined;
  return typeof original === 'number' ? { original_chars: original } : null;
}

/**
 * Each output capped at `perOutput` characters and all of them within `total`: the budget is shared
 * evenly, and what a short output leaves unused goes to the longer ones. A dependency that would get
 * almost nothing is listed by id and title only, so the model still knows it exists.
 */
export function injectDependencyResults(
  dependencies: Task[],
  limits: { perOutput: number; total: number },
): { results: ParallelTaskResult[]; omitted: { task_id: string; title: string }[] } {
  const described = dependencies.map((task) => ({ task, ...describeOutput(task) }));
  const MIN_USEFUL = 200;
  let remaining = limits.total;
  // fair share, smallest outputs first, so the budget unused by short outputs flows to long ones
  const order = described
    .map((d, index) => ({ index, length: d.text?.length ?? 0 }))
    .sort((a, b) => a.length - b.length);
  const caps = new Map<number, number>();
  let left = order.length;
  for (const { index, length } of order) {
    const share = Math.floor(remaining / Math.max(1, left));
    const cap = Math.min(limits.perOutput, share, length);
    caps.set(index, cap);
    remaining -= cap;
    left--;
  }
  const results: ParallelTaskResult[] = [];
  const omitted: { task_id: string; title: string }[] = [];
  described.forEach((d, index) => {
    // get_dependency_results already cut a long output in SQL and says so: report the original size
    const cutInSql = sqlCut(d.task.output);
    const original = cutInSql?.original_chars ?? d.text?.length ?? 0;
    const cap = caps.get(index) ?? 0;
    if (d.text != null && original > 0 && cap < Math.min(MIN_USEFUL, original)) {
      omitted.push({ task_id: d.task.id, title: d.task.title });
      return;
    }
    const cut = d.text == null ? null : truncate(d.text, Math.max(cap, 0));
    results.push({
      task_id: d.task.id,
      title: d.task.title,
      status: d.task.status === 'completed' ? 'completed' : 'cancelled',
      cancel_reason: d.task.status === 'completed' ? null : d.task.cancel_reason,
      completed_by: d.completedBy,
      resolved_by: d.resolvedBy,
      output: cut?.text ?? null,
      truncated: (cut?.truncated ?? false) || cutInSql !== null,
      original_length: original,
    });
  });
  return { results, omitted };
}

export async function buildTaskContext(task: Task, store: TaskStore, settings: AgentSettings): Promise<TaskContext> {
  const kind = taskKind(task);
  const parent = task.parent_task_id ? await store.getTask(task.parent_task_id) : null;
  let dependencies: ParallelTaskResult[] = [];
  let omitted: { task_id: string; title: string }[] = [];
  if (kind === 'aggregator') {
    const deps = await store.dependencyResults(task.id);
    ({ results: dependencies, omitted } = injectDependencyResults(deps, {
      perOutput: settings.dependencyOutputChars,
      total: settings.dependencyBudgetChars,
    }));
  }
  return {
    kind,
    task: { id: task.id, title: task.title, instructions: task.instructions, input: task.input, depth: task.depth, attempt: task.attempt },
    parent: parent ? { id: parent.id, title: parent.title } : null,
    join: kind === 'aggregator' ? { activated_by: task.activated_by, min_completed: task.min_completed, wait_until: task.wait_until } : null,
    dependencies,
    omitted_dependencies: omitted,
  };
}

/** JSON inside a tagged block: `<` is escaped so no output can close the block early. */
export const blockJson = (value: unknown) => JSON.stringify(value, null, 2).replace(/</g, '\\u003c');

/** Reads a tagged JSON block back (the demo model uses this to see what it was asked). */
export function readBlock<T = unknown>(text: string, tag: string): T | undefined {
  const match = new RegExp(`<${tag}>\\n([\\s\\S]*?)\\n</${tag}>`).exec(text);
  if (!match) return undefined;
  try {
    return JSON.parse(match[1]) as T;
  } catch {
    return undefined;
  }
}

const SYSTEM_PROMPTS: Record<TaskContext['kind'], string> = {
  root: [
    'You are an agent in Taskweave, a system that runs work as tasks.',
    'Break the task into independent pieces of research or work that can run in parallel: call',
    '`create_parallel_task` once per piece (each one runs as its own agent), then call',
    '`create_aggregator_task` with the ids of all of them so that one more agent combines their results.',
    'When the work is delegated, answer with a short final message that says what you started. If the task',
    'is small enough to answer directly, answer directly without creating tasks.',
  ].join(' '),
  parallel: [
    'You are an agent in Taskweave working on one piece of a larger task, in parallel with other agents.',
    'Do only this piece and answer with its result as your final message. Create further parallel tasks',
    'only if this piece is clearly too large for one answer.',
  ].join(' '),
  aggregator: [
    'You are an agent in Taskweave combining the results of tasks that ran in parallel.',
    'Their results are in <dependency_results>. Results marked "completed_by": "operator" were written by',
    'a human operator, not by a model; results with "status": "cancelled" have no output and must be',
    'mentioned as missing, with the reason given in "cancel_reason". Outputs that were too long are cut',
    'and end with a truncation marker.',
    'Answer with the combined result as your final message.',
  ].join(' '),
};

export function buildInitialMessages(context: TaskContext): { system: string; user: string } {
  const parts = [
    `Task: ${context.task.title}`,
    '',
    'Instructions:',
    context.task.instructions,
    '',
    '<task>',
    blockJson({ id: context.task.id, kind: context.kind, input: context.task.input, depth: context.task.depth, parent: context.parent }),
    '</task>',
  ];
  if (context.kind === 'aggregator') {
    const early = earlyActivation(context);
    if (early) parts.push('', early);
    parts.push(
      '',
      `Results of the ${context.dependencies.length + context.omitted_dependencies.length} tasks this one combines:`,
      '<dependency_results>',
      blockJson(context.dependencies),
      '</dependency_results>',
    );
    if (context.omitted_dependencies.length > 0) {
      parts.push(
        '',
        'These results did not fit the context budget and are left out (ids and titles only):',
        '<omitted_dependencies>',
        blockJson(context.omitted_dependencies),
        '</omitted_dependencies>',
      );
    }
  }
  return { system: `${SYSTEM_PROMPTS[context.kind]}\n\n${LIMITS}`, user: parts.join('\n') };
}

// The numbers are the database's (its settings and the run's limits), so none is repeated here.
const LIMITS =
  'The system limits how deep tasks may nest and how many child tasks one task may create: a tool error tells you when one is reached, and then you do the remaining work yourself. It also limits what the whole run may spend (tasks, tokens, time): a run at one of those stops until an operator raises it, so plan the work to fit.';

/** An aggregator that started before all its dependencies ended says why, and which ones were cancelled for it. */
function earlyActivation(context: TaskContext): string | undefined {
  const by = context.join?.activated_by;
  if (by !== 'quorum' && by !== 'deadline') return undefined;
  const cancelled = context.dependencies.filter((d) => d.status === 'cancelled' && d.cancel_reason);
  const why =
    by === 'quorum'
      ? `This combination started early: ${context.join?.min_completed ?? 'enough'} of the tasks had completed (the quorum it was created with).`
      : `This combination started early: its wait deadline${context.join?.wait_until ? ` (${context.join.wait_until})` : ''} passed before every task had ended.`;
  const which = cancelled.length
    ? ` The tasks that had not ended then were cancelled and have no result; the cancelled ones, with why: ${cancelled.map((d) => `"${d.title}" (${d.task_id}, cancel_reason: ${d.cancel_reason})`).join(', ')}.`
    : '';
  return why + which;
}

/** Transcript rows -> the AI SDK messages they were saved from. */
export function transcriptToMessages(rows: { role: string; content: unknown }[]): ModelMessage[] {
  return rows.map((row) => ({ role: row.role, content: row.content }) as ModelMessage);
}
