import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { z } from 'zod';
import { CollapsibleText } from '@/components/collapsible-text';
import { Badge, StatusBadge } from '@/components/status-badge';
import { ToolCallList } from '@/components/tool-calls';
import { RunStateBadge, RunStatePanel } from '@/components/run-state';
import { TaskOutput } from '@/components/task-output';
import { RunUsage, TaskTokens } from '@/components/usage';
import { getTaskDetail, type TaskDetail, type TaskNode } from '@/features/tasks/queries';
import { requireOperator } from '@/lib/auth/viewer';
import { hasEnded } from '@/lib/db/types';
import { formatAge, formatTimestamp, formatUntil, jsonToText } from '@/lib/format';
import { db } from '@/lib/server/db';
import { CancelTask } from './cancel-task';
import type { ReviewError } from '@/features/reviews/queries';
import { ErrorDetails } from '../../reviews/review-card';
import { FanOutDiagram } from './fan-out-diagram';
import { Transcript } from './transcript';

type Params = Promise<{ id: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  return { title: `Task ${(await params).id.slice(0, 8)}` };
}

// No loading.tsx here: a loading shell would be streamed with status 200 before the page could say
// "not found". The page decides first (malformed id, unknown or hidden task -> a real 404), then renders.
export default async function TaskPage({ params }: { params: Params }) {
  const viewer = await requireOperator();
  const { id } = await params;
  if (!z.uuid().safeParse(id).success) notFound();
  const detail = await getTaskDetail(db(), viewer.claims, id);
  if (!detail) notFound();
  const { task, run } = detail;
  const openReview = detail.reviews.find((r) => r.status === 'open');
  const modelWaitUntil = detail.waitingForModelUntil;

  return (
    <div className="space-y-6">
      <Breadcrumbs detail={detail} />
      <header className="space-y-2">
        <div className="flex flex-wrap items-center gap-3">
          <h1 className="text-xl font-semibold tracking-tight break-words" data-testid="task-title">
            {task.title}
          </h1>
          <StatusBadge status={task.status} />
          {detail.work && task.id === task.root_task_id ? <RunStateBadge work={detail.work} /> : null}
          {task.is_parallel_task ? <Badge tone="violet">parallel task</Badge> : null}
          {task.dependent_task_ids.length > 0 ? <Badge>aggregator of {task.dependent_task_ids.length}</Badge> : null}
          {/* always mounted, so the result of a cancel is still shown once the task has ended */}
          <div className="ml-auto">
            <CancelTask taskId={task.id} title={task.title} stops={detail.cancellable} ended={hasEnded(task.status)} />
          </div>
        </div>
        <dl className="flex flex-wrap gap-x-6 gap-y-1 text-sm text-slate-600">
          <Meta label="Agent">
            {task.agent ? (
              <Link prefetch={false} href={`/agents#agent-${task.agent}`} className="text-indigo-700 hover:underline" data-testid="task-agent">
                {task.agent}
              </Link>
            ) : (
              <span data-testid="task-agent">the environment&apos;s model</span>
            )}
          </Meta>
          <Meta label="Attempt">
            {task.attempt} of {task.max_attempts}
          </Meta>
          <Meta label="Created">
            <time dateTime={task.created_at}>{formatTimestamp(task.created_at)}</time>
          </Meta>
          <Meta label="Updated">
            <time dateTime={task.updated_at}>{formatAge(task.updated_at)}</time>
          </Meta>
          {task.completed_at ? (
            <Meta label="Ended">
              <time dateTime={task.completed_at}>{formatTimestamp(task.completed_at)}</time>
            </Meta>
          ) : null}
          {task.leased_by ? (
            <Meta label="Worker">
              {task.leased_by}
              {task.lease_expires_at ? ` (lease until ${formatTimestamp(task.lease_expires_at)})` : ''}
            </Meta>
          ) : null}
          <Meta label="Tokens">
            <TaskTokens usage={task.usage} />
          </Meta>
          <Meta label="Id">
            <code className="text-xs">{task.id}</code>
          </Meta>
        </dl>
      </header>

      {run ? (
        <section aria-label="Run usage" className="rounded-lg bg-white px-4 py-3 shadow-sm ring-1 ring-slate-200">
          <p className="mb-1 text-xs font-semibold tracking-wide text-slate-700 uppercase">
            {task.root_task_id === task.id ? 'This run' : 'The run this task belongs to'}
          </p>
          <RunUsage run={run} />
        </section>
      ) : null}

      {modelWaitUntil ? (
        <div role="status" data-testid="model-wait" className="rounded-md bg-sky-50 px-4 py-3 text-sm text-sky-950 ring-1 ring-sky-300">
          Waiting on the model&apos;s rate limit until <time dateTime={modelWaitUntil}>{formatTimestamp(modelWaitUntil)}</time> ({formatUntil(modelWaitUntil)}):
          the model&apos;s shared requests-per-minute limit is used up, so this task waits instead of calling it.
        </div>
      ) : null}

      {task.cancel_reason && task.status === 'cancelled' ? (
        <div role="note" className="rounded-md bg-zinc-50 px-4 py-3 text-sm text-zinc-800 ring-1 ring-zinc-300" data-testid="cancel-reason">
          Cancelled: {task.cancel_reason}
        </div>
      ) : null}

      {openReview ? (
        <div role="note" className="flex flex-wrap items-center gap-3 rounded-md bg-amber-50 px-4 py-3 text-sm text-amber-950 ring-1 ring-amber-300">
          <span>This task stopped after its last attempt and waits for an operator’s decision.</span>
          <Link href="/reviews" className="font-medium underline">
            Open the review queue
          </Link>
        </div>
      ) : null}

      {detail.work && (task.id === task.root_task_id || detail.work.answer?.task_id !== task.id) && (task.id === task.root_task_id || detail.children.length > 0) ? (
        <RunStatePanel
          rootId={task.root_task_id}
          work={detail.work}
          title={task.id === task.root_task_id ? 'This run' : 'The work under this task'}
          answerTestId="fan-in-result"
        />
      ) : null}

      {detail.group ? (
        <Section title={detail.group.parent.id === task.id ? 'Fan-out' : 'Fan-out group'}>
          <FanOutDiagram parent={detail.group.parent} childNodes={detail.group.children} currentId={task.id} />
        </Section>
      ) : null}

      {detail.children.length > 0 ? (
        <Section title="Tasks this one fanned out">
          <FanOutDiagram parent={nodeOf(detail)} childNodes={detail.children} currentId={task.id} />
        </Section>
      ) : null}

      <div className="grid gap-6 lg:grid-cols-2">
        <Section title="Instructions">
          <CollapsibleText text={task.instructions} label="instructions" />
        </Section>
        <Section title="Input">
          <CollapsibleText text={jsonToText(task.input)} label="input" />
        </Section>
        <Section title="Output">
          <TaskOutput output={task.output} />
        </Section>
        {task.last_error ? (
          <Section title="Last error">
            <ErrorDetails error={task.last_error as ReviewError} />
          </Section>
        ) : null}
      </div>

      <Section title="Tool calls">
        <ToolCallList calls={detail.toolCalls} empty="This task called no registered tool." />
      </Section>

      <Section title="Transcript">
        <Transcript messages={detail.messages} truncated={detail.truncated.messages} />
      </Section>

      <div className="grid gap-6 lg:grid-cols-2">
        <Section title="Timeline">
          {detail.events.length === 0 ? (
            <p className="text-sm text-slate-500">No events recorded.</p>
          ) : (
            <ol className="space-y-2 border-l-2 border-slate-200 pl-4 text-sm" aria-label="Timeline" data-testid="timeline">
              {detail.events.map((event) => (
                <li key={event.id}>
                  <div className="flex flex-wrap items-center gap-2">
                    <time dateTime={event.created_at} className="text-xs text-slate-500">
                      {formatTimestamp(event.created_at)}
                    </time>
                    <span className="font-medium">{event.event.replaceAll('_', ' ')}</span>
                    {event.from_status || event.to_status ? (
                      <span className="text-slate-600">
                        {event.from_status ?? '∅'} → {event.to_status ?? '∅'}
                      </span>
                    ) : null}
                    {event.actor ? <span className="text-xs text-slate-500">by {event.actor}</span> : null}
                  </div>
                  {event.detail && typeof event.detail === 'object' && Object.keys(event.detail).length > 0 ? (
                    <details className="mt-1 text-xs">
                      <summary className="cursor-pointer text-slate-500 hover:text-slate-800">details</summary>
                      <CollapsibleText text={jsonToText(event.detail)} previewLines={12} className="mt-1" label="detail" />
                    </details>
                  ) : null}
                </li>
              ))}
            </ol>
          )}
        </Section>
        <Section title="Reviews">
          {detail.reviews.length === 0 ? (
            <p className="text-sm text-slate-500">This task never needed a review.</p>
          ) : (
            <ul className="space-y-3 text-sm">
              {detail.reviews.map((review) => (
                <li key={review.id} className="space-y-2 rounded-md bg-slate-50 p-3 ring-1 ring-slate-200">
                  <p>
                    {review.status === 'open' ? (
                      <strong className="text-amber-800">Open</strong>
                    ) : (
                      <>
                        <strong>{review.action}</strong> by {review.resolved_by ?? 'unknown'}
                        {review.resolved_at ? ` at ${formatTimestamp(review.resolved_at)}` : ''}
                      </>
                    )}
                  </p>
                  {review.note ? <p className="text-slate-700">“{review.note}”</p> : null}
                  <ErrorDetails error={review.error as ReviewError} at={review.created_at} />
                </li>
              ))}
            </ul>
          )}
        </Section>
      </div>
    </div>
  );
}

function nodeOf(detail: TaskDetail): TaskNode {
  const t = detail.task;
  return { id: t.id, title: t.title, status: t.status, is_parallel_task: t.is_parallel_task, dependent_task_ids: t.dependent_task_ids, attempt: t.attempt, child_count: detail.children.length };
}

function Breadcrumbs({ detail }: { detail: TaskDetail }) {
  const crumbs = [detail.root, detail.parent].filter((n): n is TaskNode => !!n);
  if (crumbs.length === 0) return null;
  return (
    <nav aria-label="Task tree" className="text-sm text-slate-600">
      {crumbs.map((node) => (
        <span key={node.id}>
          <Link prefetch={false} href={`/tasks/${node.id}`} className="text-indigo-700 hover:underline">
            {node.title}
          </Link>
          <span aria-hidden> / </span>
        </span>
      ))}
      <span aria-current="page">{detail.task.title}</span>
    </nav>
  );
}

function Meta({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="flex gap-1.5">
      <dt className="text-slate-500">{label}</dt>
      <dd className="text-slate-800">{children}</dd>
    </div>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section aria-label={title} className="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200">
      <h2 className="mb-3 text-sm font-semibold tracking-wide text-slate-700 uppercase">{title}</h2>
      {children}
    </section>
  );
}
