// A task as get_task and wait_for_task show it, built from rows. Where its work stands and what its
// answer is come from the operator module's workStates (SQL taskweave.task_states), the rule the web
// app's run pages use too.
import { openReviewsOf, workStates } from '../_shared/operator.ts';
import type { TaskView, Usage } from './schemas.ts';
import * as store from './store.ts';
import type { Sql, TaskRow } from './store.ts';

const MAX_CHILDREN = 200;

export const taskUrl = (webUrl: string, id: string) => `${webUrl.replace(/\/+$/, '')}/tasks/${id}`;

/** Every task but a root is made by create_parallel_task or create_aggregator_task. */
export function kindOf(t: Pick<TaskRow, 'parent_task_id' | 'dependent_task_ids'>): 'root' | 'parallel' | 'aggregator' {
  if (!t.parent_task_id) return 'root';
  return t.dependent_task_ids?.length ? 'aggregator' : 'parallel';
}

const count = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0;
  return Number.isFinite(n) ? n : 0;
};

export function usageOf(raw: Record<string, unknown> | null | undefined): Usage {
  return { input_tokens: count(raw?.input_tokens), output_tokens: count(raw?.output_tokens), model_steps: count(raw?.model_steps), cost_usd: count(raw?.cost_usd) };
}

export function errorOf(raw: Record<string, unknown> | null | undefined): { category: string | null; message: string; [k: string]: unknown } | null {
  if (!raw || typeof raw !== 'object') return null;
  return { ...raw, category: typeof raw.category === 'string' ? raw.category : null, message: typeof raw.message === 'string' ? raw.message : JSON.stringify(raw) };
}

const iso = (d: Date | string | null | undefined): string | null => (d == null ? null : new Date(d).toISOString());

/** A short fingerprint of every status and usage under the task: equal views have equal versions. */
export async function versionOf(subtree: TaskRow[]): Promise<string> {
  const text = subtree.map((t) => `${t.id}:${t.status}:${count(t.usage?.input_tokens)}:${count(t.usage?.output_tokens)}`).join(',');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let hex = '';
  for (const b of digest.slice(0, 12)) hex += b.toString(16).padStart(2, '0');
  return `${subtree.length}-${hex}`;
}

/**
 * get_task's view of one task; undefined when there is no such task. All its reads share one snapshot
 * (a read-only REPEATABLE READ transaction): read in separate statements, the children could show a task
 * still running while the work state, read a moment later, already said nothing can move.
 */
export async function buildTaskView(sql: Sql, webUrl: string, taskId: string): Promise<TaskView | undefined> {
  return (await sql.begin('isolation level repeatable read read only', (tx) =>
    readTaskView(tx as unknown as Sql, webUrl, taskId),
  )) as TaskView | undefined;
}

async function readTaskView(sql: Sql, webUrl: string, taskId: string): Promise<TaskView | undefined> {
  const task = await store.loadTask(sql, taskId);
  if (!task) return undefined;
  const subtree = await store.loadSubtree(sql, task);
  const children = subtree.filter((t) => t.parent_task_id === task.id);
  const shownChildren = children.slice(0, MAX_CHILDREN);
  const childCounts = new Map<string, number>();
  for (const t of subtree) if (t.parent_task_id) childCounts.set(t.parent_task_id, (childCounts.get(t.parent_task_id) ?? 0) + 1);

  const aggregatorIds = [task, ...shownChildren].filter((t) => t.dependent_task_ids?.length).map((t) => t.id);
  const waitingIds = subtree.filter((t) => t.status === 'needs_human_review').map((t) => t.id);
  const [progressRows, reviews, run, states] = await Promise.all([
    store.loadProgress(sql, aggregatorIds),
    openReviewsOf(sql, waitingIds),
    store.loadRun(sql, task.root_task_id),
    workStates(sql, [task.id]),
  ]);
  const progress = new Map(progressRows.map((p) => [p.id, { total: p.total, ended: p.ended, completed: p.completed, activated_by: p.activated_by ?? null }]));
  const work = states.get(task.id);
  if (!work) return undefined; // gone between the reads
  const { state, answer } = work;
  const titles = new Map(subtree.map((t) => [t.id, t.title]));

  return {
    id: task.id,
    title: task.title,
    status: task.status,
    kind: kindOf(task),
    url: taskUrl(webUrl, task.id),
    parent_task_id: task.parent_task_id,
    root_task_id: task.root_task_id,
    attempt: task.attempt,
    max_attempts: task.max_attempts,
    created_at: iso(task.created_at)!,
    updated_at: iso(task.updated_at)!,
    output: task.output ?? null,
    usage: usageOf(task.usage),
    last_error: errorOf(task.last_error),
    progress: progress.get(task.id) ?? null,
    children: shownChildren.map((c) => ({
      id: c.id,
      title: c.title,
      status: c.status,
      kind: kindOf(c),
      attempt: c.attempt,
      max_attempts: c.max_attempts,
      usage: usageOf(c.usage),
      child_count: childCounts.get(c.id) ?? 0,
      last_error: errorOf(c.last_error),
      progress: progress.get(c.id) ?? null,
    })),
    children_total: children.length,
    state,
    answer,
    open_reviews: reviews.map((r) => ({
      review_id: r.id,
      kind: r.kind,
      task_id: r.task_id,
      task_title: titles.get(r.task_id) ?? '',
      error: errorOf(r.error),
      request: r.request,
    })),
    run: run
      ? {
          root_task_id: run.root_task_id,
          task_count: count(run.task_count),
          usage: { input_tokens: count(run.input_tokens), output_tokens: count(run.output_tokens), model_steps: count(run.model_steps), cost_usd: count(run.cost_usd) },
          limits: {
            max_tasks: run.max_tasks == null ? null : count(run.max_tasks),
            max_tokens: run.max_tokens == null ? null : count(run.max_tokens),
            max_cost_usd: run.max_cost_usd == null ? null : count(run.max_cost_usd),
            deadline_at: iso(run.deadline_at),
          },
        }
      : null,
    version: await versionOf(subtree),
  };
}
