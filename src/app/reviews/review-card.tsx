import Link from 'next/link';
// Task links do not prefetch: a page of reviews holds dozens, and every live refresh would
// prefetch them all again, loading the server for pages the operator mostly never opens.
import { CollapsibleText } from '@/components/collapsible-text';
import { Badge, StatusBadge } from '@/components/status-badge';
import { RunUsage } from '@/components/usage';
import { describeProgress } from '@/features/reviews/messages';
import type { OpenReview, ReviewError, Run } from '@/features/reviews/queries';
import { formatAge, formatTimestamp, jsonToText } from '@/lib/format';
import { ReviewActions } from './review-actions';

export function ErrorDetails({ error, at }: { error: ReviewError | null; at?: string }) {
  const { category, message, provider, step, ...rest } = error ?? {};
  const extra = Object.entries(rest).filter(([, v]) => v !== undefined && v !== null);
  if (provider !== undefined && provider !== null && typeof provider !== 'object') extra.unshift(['provider', provider]);
  return (
    <div className="rounded-md border border-rose-200 bg-rose-50/60 p-3">
      <div className="flex flex-wrap items-center gap-2 text-xs text-rose-900">
        <span className="font-semibold uppercase tracking-wide">Error</span>
        {category ? <Badge tone="rose">{String(category)}</Badge> : null}
        {typeof step === 'number' ? <span>at step {step}</span> : null}
        {at ? (
          <time dateTime={at} title={formatTimestamp(at)} className="ml-auto text-rose-800">
            {formatTimestamp(at)} ({formatAge(at)})
          </time>
        ) : null}
      </div>
      <CollapsibleText
        text={typeof message === 'string' && message ? message : jsonToText(error) || 'No message was recorded.'}
        previewLines={6}
        className="mt-2"
        label="message"
      />
      {provider && typeof provider === 'object' && Object.keys(provider).length > 0 ? (
        <dl className="mt-2 grid grid-cols-[max-content_1fr] gap-x-3 gap-y-0.5 text-xs text-slate-700">
          {Object.entries(provider).map(([key, value]) => (
            <div key={key} className="contents">
              <dt className="font-medium text-slate-600">provider.{key}</dt>
              <dd className="break-all font-mono">{jsonToText(value)}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      {extra.length > 0 ? (
        <dl className="mt-1 grid grid-cols-[max-content_1fr] gap-x-3 gap-y-0.5 text-xs text-slate-700">
          {extra.map(([key, value]) => (
            <div key={key} className="contents">
              <dt className="font-medium text-slate-600">{key}</dt>
              <dd className="break-all font-mono">{jsonToText(value)}</dd>
            </div>
          ))}
        </dl>
      ) : null}
    </div>
  );
}

export function ProgressBar({ done, total, label }: { done: number; total: number; label: string }) {
  return (
    <div
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
      aria-label={label}
      className="h-1.5 w-32 overflow-hidden rounded-full bg-slate-200"
    >
      <div className="h-full bg-emerald-500" style={{ width: `${total ? Math.round((done / total) * 100) : 0}%` }} />
    </div>
  );
}

export function ReviewCard({ review }: { review: OpenReview }) {
  const { task } = review;
  const headingId = `review-${review.id}`;
  return (
    <article aria-labelledby={headingId} data-review-id={review.id} data-task-id={task.id} className="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200">
      <header className="flex flex-wrap items-start gap-x-3 gap-y-1">
        <h2 id={headingId} className="min-w-0 flex-1 text-base font-semibold break-words">
          <Link prefetch={false} href={`/tasks/${task.id}`} className="hover:underline">
            {task.title}
          </Link>
        </h2>
        <div className="flex flex-wrap items-center gap-2">
          {review.error?.category === 'budget' ? <Badge tone="rose">budget stop</Badge> : null}
          {task.is_parallel_task ? <Badge tone="violet">parallel task</Badge> : null}
          <StatusBadge status={task.status} />
          <span className="text-xs text-slate-600">
            attempt {task.attempt} of {task.max_attempts}
          </span>
        </div>
      </header>

      <section aria-label="Instructions" className="mt-3">
        <CollapsibleText text={task.instructions} previewLines={3} previewChars={400} label="instructions" />
      </section>

      <section aria-label="Error" className="mt-3">
        <ErrorDetails error={review.error} at={review.created_at} />
      </section>

      {review.error?.category === 'budget' ? <BudgetStop run={review.run} /> : null}

      <dl className="mt-3 grid gap-2 text-sm sm:grid-cols-2">
        <div>
          <dt className="text-xs font-medium tracking-wide text-slate-500 uppercase">Parent task</dt>
          <dd className="mt-0.5">
            {review.parent ? (
              <span className="inline-flex flex-wrap items-center gap-2">
                <Link prefetch={false} href={`/tasks/${review.parent.id}`} className="text-indigo-700 hover:underline">
                  {review.parent.title}
                </Link>
                <StatusBadge status={review.parent.status} />
              </span>
            ) : (
              <span className="text-slate-500">none (a root task)</span>
            )}
          </dd>
        </div>
        <div>
          <dt className="text-xs font-medium tracking-wide text-slate-500 uppercase">Holds up</dt>
          <dd className="mt-0.5 space-y-1.5">
            {review.aggregators.length === 0 ? <span className="text-slate-500">no aggregator</span> : null}
            {review.aggregators.map((aggregator) => (
              <div key={aggregator.id} data-testid="aggregator" className="space-y-1">
                <span className="inline-flex flex-wrap items-center gap-2">
                  <Link prefetch={false} href={`/tasks/${aggregator.id}`} className="text-indigo-700 hover:underline">
                    {aggregator.title}
                  </Link>
                  <StatusBadge status={aggregator.status} />
                </span>
                <div className="flex items-center gap-2 text-xs text-slate-600">
                  <ProgressBar done={aggregator.ended} total={aggregator.total} label={`Dependencies of ${aggregator.title} done`} />
                  <span>{describeProgress(aggregator)}</span>
                </div>
              </div>
            ))}
          </dd>
        </div>
      </dl>

      <div className="mt-4 border-t border-slate-100 pt-3">
        <ReviewActions reviewId={review.id} taskTitle={task.title} aggregators={review.aggregators} />
      </div>
    </article>
  );
}

/** A task stopped because its run reached a limit: the run's usage against its limits, and the way on. */
export function BudgetStop({ run }: { run: Run | null }) {
  return (
    <section aria-label="Budget stop" data-testid="budget-stop" className="mt-3 rounded-md bg-amber-50 p-3 text-sm text-amber-950 ring-1 ring-amber-300">
      <p className="font-medium">Budget stop: this task&apos;s run reached one of its limits, so it starts no new model step and creates no task.</p>
      {run ? <RunUsage run={run} className="mt-2" /> : <p className="mt-1 text-xs">The run&apos;s usage is not recorded.</p>}
      <p className="mt-2 text-xs text-amber-900">
        To go on, raise the run&apos;s limits (<code>taskweave.set_run_limits</code>), then Retry. Abort ends this task without a result.
      </p>
    </section>
  );
}
