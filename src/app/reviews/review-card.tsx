import Link from 'next/link';
// Task links do not prefetch: a page of reviews holds dozens, and every live refresh would
// prefetch them all again, loading the server for pages the operator mostly never opens.
import { CollapsibleText } from '@/components/collapsible-text';
import { Badge, StatusBadge } from '@/components/status-badge';
import { RunStateBadge } from '@/components/run-state';
import { RunUsage } from '@/components/usage';
import { KIND_LABELS } from '@/features/reviews/filters';
import { describeProgress } from '@/features/reviews/messages';
import type { OpenReview, ReviewError, RunRow } from '@/features/reviews/queries';
import { formatAge, formatTimestamp, jsonToText } from '@/lib/format';
import { ApprovalActions, FailureActions, InterruptedCallActions, QuestionAnswer } from './review-actions';

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

const kindTones = { failure: 'rose', approval: 'amber', question: 'violet', interrupted_call: 'slate' } as const;

export function ReviewCard({ review }: { review: OpenReview }) {
  const { task, request } = review;
  const headingId = `review-${review.id}`;
  const tool = request.tool ?? 'the tool';
  return (
    <article
      aria-labelledby={headingId}
      data-review-id={review.id}
      data-task-id={task.id}
      data-kind={review.kind}
      className="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200"
    >
      <header className="flex flex-wrap items-start gap-x-3 gap-y-1">
        <h2 id={headingId} className="min-w-0 flex-1 text-base font-semibold break-words">
          <Link prefetch={false} href={`/tasks/${task.id}`} className="hover:underline">
            {task.title}
          </Link>
        </h2>
        <div className="flex flex-wrap items-center gap-2">
          <span data-testid="review-kind">
            <Badge tone={kindTones[review.kind]}>{KIND_LABELS[review.kind]}</Badge>
          </span>
          {review.error?.category === 'budget' ? <Badge tone="rose">budget stop</Badge> : null}
          {task.is_parallel_task ? <Badge tone="violet">parallel task</Badge> : null}
          {task.agent ? <Badge>agent {task.agent}</Badge> : null}
          <StatusBadge status={task.status} />
          {review.kind === 'failure' ? (
            <span className="text-xs text-slate-600">
              attempt {task.attempt} of {task.max_attempts}
            </span>
          ) : (
            <time dateTime={review.created_at} title={formatTimestamp(review.created_at)} className="text-xs text-slate-600">
              waiting since {formatAge(review.created_at)}
            </time>
          )}
        </div>
      </header>

      {review.kind === 'failure' ? (
        <>
          <section aria-label="Instructions" className="mt-3">
            <CollapsibleText text={task.instructions} previewLines={3} previewChars={400} label="instructions" />
          </section>
          <section aria-label="Error" className="mt-3">
            <ErrorDetails error={review.error} at={review.created_at} />
          </section>
          {review.error?.category === 'budget' ? <BudgetStop run={review.run} /> : null}
        </>
      ) : null}

      {review.kind === 'approval' ? (
        <section aria-label="Tool call awaiting approval" className="mt-3 space-y-2 rounded-md border border-amber-200 bg-amber-50/60 p-3 text-sm">
          <p>
            The agent wants to call <code className="font-semibold" data-testid="approval-tool">{tool}</code>. It waits for your approval before the call is made.
          </p>
          {request.reason ? (
            <p data-testid="approval-reason">
              <span className="font-medium">Reason:</span> {request.reason}
            </p>
          ) : null}
          <div>
            <p className="mb-0.5 text-xs font-medium text-slate-600">Arguments</p>
            <CollapsibleText text={jsonToText(request.arguments ?? {})} previewLines={12} label="arguments" />
          </div>
        </section>
      ) : null}

      {review.kind === 'question' ? (
        <section aria-label="Question" className="mt-3 rounded-md border border-violet-200 bg-violet-50/60 p-3 text-sm">
          <p className="mb-1 text-xs font-semibold tracking-wide text-violet-900 uppercase">The agent asks</p>
          <CollapsibleText text={request.question ?? ''} previewLines={10} label="question" />
        </section>
      ) : null}

      {review.kind === 'interrupted_call' ? (
        <section aria-label="Interrupted call" className="mt-3 space-y-2 rounded-md border border-slate-300 bg-slate-50 p-3 text-sm">
          <p>
            A call of <code className="font-semibold">{tool}</code> started
            {request.started_at ? (
              <>
                {' '}
                at <time dateTime={request.started_at}>{formatTimestamp(request.started_at)}</time>
              </>
            ) : null}{' '}
            and has no result: the run stopped in between, so the call may or may not have happened. The tool is not idempotent, so it is not
            repeated without you.
          </p>
          <div>
            <p className="mb-0.5 text-xs font-medium text-slate-600">Arguments</p>
            <CollapsibleText text={jsonToText(request.arguments ?? {})} previewLines={12} label="arguments" />
          </div>
        </section>
      ) : null}

      <dl className="mt-3 grid gap-2 text-sm sm:grid-cols-3">
        <div>
          <dt className="text-xs font-medium tracking-wide text-slate-500 uppercase">Run</dt>
          <dd className="mt-0.5 space-y-1">
            {!review.root || review.root.id === task.id ? (
              <span className="block text-slate-500">this task is the run&apos;s root</span>
            ) : review.root.id === review.parent?.id ? (
              <span className="block text-slate-600">started by its parent</span>
            ) : (
              <Link prefetch={false} href={`/tasks/${review.root.id}`} className="block text-indigo-700 hover:underline">
                {review.root.title}
              </Link>
            )}
            {review.run_state ? <RunStateBadge work={review.run_state} label="" /> : null}
          </dd>
        </div>
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
        {review.kind === 'approval' ? (
          <ApprovalActions
            reviewId={review.id}
            taskTitle={task.title}
            tool={tool}
            args={request.arguments ?? {}}
            inputSchema={review.input_schema}
            aggregators={review.aggregators}
          />
        ) : review.kind === 'question' ? (
          <QuestionAnswer reviewId={review.id} taskTitle={task.title} options={request.options ?? []} aggregators={review.aggregators} />
        ) : review.kind === 'interrupted_call' ? (
          <InterruptedCallActions reviewId={review.id} taskTitle={task.title} tool={tool} aggregators={review.aggregators} />
        ) : (
          <FailureActions reviewId={review.id} taskTitle={task.title} aggregators={review.aggregators} />
        )}
      </div>
    </article>
  );
}

/** A task stopped because its run reached a limit: the run's usage against its limits, and the way on. */
export function BudgetStop({ run }: { run: RunRow | null }) {
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
