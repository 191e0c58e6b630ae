import Link from 'next/link';
import { StatusBadge, statusStyles } from '@/components/status-badge';
import { requireOperator } from '@/lib/auth/viewer';
import { RunStateBadge } from '@/components/run-state';
import { TaskOutput } from '@/components/task-output';
import { RunUsage } from '@/components/usage';
import { getOverview } from '@/features/tasks/queries';
import { TASK_STATUSES, type TaskStatus } from '@/lib/db/types';
import { db } from '@/lib/server/db';
import { formatAge, formatTimestamp, plural } from '@/lib/format';

export default async function OverviewPage() {
  const viewer = await requireOperator();
  const overview = await getOverview(db(), viewer.claims);
  return (
    <div className="space-y-6">
      <h1 className="text-xl font-semibold tracking-tight">Overview</h1>

      <Link
        href="/reviews"
        className={`block rounded-lg p-4 shadow-sm ring-1 ${overview.openReviews > 0 ? 'bg-amber-50 ring-amber-300' : 'bg-white ring-slate-200'}`}
        data-testid="open-reviews-card"
      >
        <p className="text-sm font-medium text-slate-700">Open reviews</p>
        <p className="text-3xl font-semibold">{overview.openReviews.toLocaleString('en-US')}</p>
        <p className="text-sm text-slate-600">
          {overview.oldestOpenReviewAt
            ? `The oldest has waited since ${formatTimestamp(overview.oldestOpenReviewAt)} (${formatAge(overview.oldestOpenReviewAt)}).`
            : 'Nothing waits for an operator.'}
        </p>
      </Link>

      <section aria-label="Recent runs">
        <h2 className="mb-2 text-sm font-semibold tracking-wide text-slate-700 uppercase">Recent runs</h2>
        {overview.recentRoots.length === 0 ? (
          <div className="rounded-lg border-2 border-dashed border-slate-300 bg-white/60 px-6 py-10 text-center text-sm text-slate-600">
            No tasks yet. Create one with <code className="rounded bg-slate-100 px-1">select create_task(&apos;title&apos;, &apos;instructions&apos;)</code>{' '}
            or load the demo data with <code className="rounded bg-slate-100 px-1">npm run db:reset</code>.
          </div>
        ) : (
          <ul className="divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
            {overview.recentRoots.map((root) => (
              <li key={root.id} className="px-4 py-3" data-run-id={root.id}>
                <div className="flex flex-wrap items-center gap-3">
                <Link prefetch={false} href={`/tasks/${root.id}`} className="min-w-0 flex-1 font-medium break-words text-indigo-700 hover:underline">
                  {root.title}
                </Link>
                {/* the run's state, not the root's own: a root that finished planning says completed while its run goes on */}
                {root.work ? <RunStateBadge work={root.work} /> : <StatusBadge status={root.status} />}
                {root.work && root.work.open_reviews > 0 ? (
                  <Link href={`/reviews?run=${root.id}`} className="text-xs font-medium text-amber-900 underline">
                    {plural(root.work.open_reviews, 'review')}
                  </Link>
                ) : null}
                <span className="text-xs text-slate-600">{plural(root.descendants, 'subtask')}</span>
                <StatusStrip byStatus={root.by_status} total={root.descendants} />
                <time dateTime={root.created_at} className="w-24 text-right text-xs text-slate-500">
                  {formatAge(root.created_at)}
                </time>
                </div>
                {root.run ? <RunUsage run={root.run} className="mt-1.5" /> : null}
                {root.work?.answer ? (
                  <div className="mt-2" data-testid="run-answer-preview">
                    <p className="mb-0.5 text-xs font-medium text-slate-600">Answer</p>
                    <TaskOutput output={root.work.answer.output} previewLines={3} testId="run-answer" />
                  </div>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-label="Tasks by status">
        <h2 className="mb-2 text-sm font-semibold tracking-wide text-slate-700 uppercase">Tasks by status</h2>
        <ul className="grid grid-cols-2 gap-3 sm:grid-cols-4 lg:grid-cols-7">
          {TASK_STATUSES.map((status) => (
            <li key={status} className="rounded-lg bg-white p-3 shadow-sm ring-1 ring-slate-200" data-status-count={status}>
              <p className="text-2xl font-semibold">{overview.counts[status].toLocaleString('en-US')}</p>
              <p className="mt-1">
                <StatusBadge status={status} />
              </p>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

function StatusStrip({ byStatus, total }: { byStatus: Partial<Record<TaskStatus, number>>; total: number }) {
  if (total === 0) return <span className="w-40" />;
  const label = TASK_STATUSES.filter((s) => byStatus[s]).map((s) => `${byStatus[s]} ${statusStyles[s].label}`).join(', ');
  return (
    <span className="flex h-2 w-40 overflow-hidden rounded-full bg-slate-100" role="img" aria-label={label} title={label}>
      {TASK_STATUSES.map((s) =>
        byStatus[s] ? <span key={s} style={{ width: `${(byStatus[s]! / total) * 100}%`, background: statusStyles[s].stroke }} /> : null,
      )}
    </span>
  );
}
