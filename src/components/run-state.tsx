// Where a run stands, said where the operator looks first: running, waiting for a person (and for how
// many reviews), or ended, and once it completed its answer. The state is the operator module's one rule
// (taskweave.task_states), which MCP get_task reports too; this only words and draws it.
import Link from 'next/link';
import type { TaskWork } from '@/features/reviews/queries';
import { plural } from '@/lib/format';
import { TaskOutput } from './task-output';

const tones: Record<TaskWork['state'], string> = {
  running: 'bg-indigo-50 text-indigo-800 ring-indigo-300',
  needs_operator: 'bg-amber-50 text-amber-900 ring-amber-400',
  completed: 'bg-emerald-50 text-emerald-800 ring-emerald-300',
  failed: 'bg-rose-50 text-rose-800 ring-rose-300',
  cancelled: 'bg-zinc-100 text-zinc-700 ring-zinc-300',
};

/** "running", "waiting for a person (3)", "ended: completed". */
export function describeRunState(work: Pick<TaskWork, 'state' | 'open_reviews'>): string {
  switch (work.state) {
    case 'running':
      return work.open_reviews > 0 ? `running, ${plural(work.open_reviews, 'review')} open` : 'running';
    case 'needs_operator':
      return `waiting for a person (${work.open_reviews})`;
    default:
      return `ended: ${work.state}`;
  }
}

export function RunStateBadge({ work, label = 'run' }: { work: Pick<TaskWork, 'state' | 'open_reviews'>; label?: string }) {
  return (
    <span
      data-run-state={work.state}
      data-testid="run-state"
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${tones[work.state]}`}
    >
      {label ? `${label}: ` : ''}
      {describeRunState(work)}
    </span>
  );
}

/** The panel at the top of a root's page and of a run's reviews: state, the way to the reviews, the answer. */
export function RunStatePanel({ rootId, work, title, answerTestId = 'run-answer' }: { rootId: string; work: TaskWork; title?: string; answerTestId?: string }) {
  return (
    <section aria-label="Run state" data-testid="run-state-panel" className="space-y-2 rounded-lg bg-white px-4 py-3 shadow-sm ring-1 ring-slate-200">
      <div className="flex flex-wrap items-center gap-2">
        <h2 className="text-xs font-semibold tracking-wide text-slate-700 uppercase">{title ?? 'This run'}</h2>
        <RunStateBadge work={work} label="" />
        {work.open_reviews > 0 ? (
          <Link href={`/reviews?run=${rootId}`} className="text-sm font-medium text-indigo-700 hover:underline" data-testid="run-reviews-link">
            {work.state === 'needs_operator' ? 'Resolve' : 'See'} its {plural(work.open_reviews, 'open review')}
          </Link>
        ) : null}
      </div>
      {work.state === 'needs_operator' ? (
        <p className="text-sm text-amber-950">Nothing in this run can move until a person resolves its open reviews.</p>
      ) : null}
      {work.answer ? (
        <div>
          <p className="mb-1 text-sm text-slate-600">
            The run&apos;s answer, from{' '}
            <Link prefetch={false} href={`/tasks/${work.answer.task_id}`} className="font-medium text-indigo-700 hover:underline">
              {work.answer.title}
            </Link>
          </p>
          <TaskOutput output={work.answer.output} previewLines={12} testId={answerTestId} />
        </div>
      ) : null}
    </section>
  );
}
