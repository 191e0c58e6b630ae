import type { Metadata } from 'next';
import Form from 'next/form';
import Link from 'next/link';
import { CollapsibleText } from '@/components/collapsible-text';
import { RunStatePanel } from '@/components/run-state';
import { Badge, StatusBadge } from '@/components/status-badge';
import { requireOperator } from '@/lib/auth/viewer';
import { decodeCursor } from '@/lib/db/cursor';
import {
  AGE_CHOICES,
  describeFilters,
  hasFilters,
  KIND_LABELS,
  reviewsHref,
  type FilterValues,
  type SearchParams,
} from '@/features/reviews/filters';
import { getOpenReviewsPage, listResolvedReviews } from '@/features/reviews/queries';
import { REVIEW_KINDS, type BulkActionName } from '@/features/reviews/schema';
import { db } from '@/lib/server/db';
import { formatTimestamp, jsonToText, plural } from '@/lib/format';
import { BulkActions } from './bulk-actions';
import { ReviewActionsProvider } from './review-actions-provider';
import { ReviewCard } from './review-card';

export const metadata: Metadata = { title: 'Reviews' };

export default async function ReviewsPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const viewer = await requireOperator();
  const params = await searchParams;
  const tab = params.tab === 'resolved' ? 'resolved' : 'open';
  return (
    <div>
      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <div>
          <h1 className="text-xl font-semibold tracking-tight">Reviews</h1>
          <p className="text-sm text-slate-600">
            Tasks that wait for a person: a failure to retry, abort or complete by hand, a tool call to approve or reject, a question to answer, an
            interrupted call to run again or settle by hand.
          </p>
        </div>
        <nav aria-label="Review lists" className="flex rounded-md bg-white p-0.5 text-sm shadow-sm ring-1 ring-slate-200">
          {(['open', 'resolved'] as const).map((name) => (
            <Link
              key={name}
              href={name === 'open' ? '/reviews' : '/reviews?tab=resolved'}
              aria-current={tab === name ? 'page' : undefined}
              className={`rounded px-3 py-1.5 ${tab === name ? 'bg-slate-900 text-white' : 'text-slate-700 hover:bg-slate-50'}`}
            >
              {name === 'open' ? 'Open' : 'Resolved'}
            </Link>
          ))}
        </nav>
      </div>
      {tab === 'open' ? <OpenReviews viewerClaims={viewer.claims} params={params} /> : <ResolvedReviews viewerClaims={viewer.claims} before={params.before} />}
    </div>
  );
}

type Claims = Awaited<ReturnType<typeof requireOperator>>['claims'];

/** The bulk actions that fit the filter's kind: approve and reject only for approvals. */
function bulkActionsFor(values: FilterValues): BulkActionName[] {
  switch (values.kind) {
    case 'approval':
      return ['approve', 'reject', 'abort'];
    case 'question':
      return ['abort'];
    case undefined:
    case 'failure':
    case 'interrupted_call':
      return ['retry', 'abort'];
    default:
      return ['abort'];
  }
}

async function OpenReviews({ viewerClaims, params }: { viewerClaims: Claims; params: SearchParams }) {
  const { values, ignored, page, suggestions, run } = await getOpenReviewsPage(db(), viewerClaims, params);
  const filtered = hasFilters(values);
  return (
    <ReviewActionsProvider>
      {run && values.run ? <div className="mb-4"><RunStatePanel rootId={values.run} work={run} title="The run of these reviews" /></div> : null}
      <FilterForm values={values} suggestions={suggestions} />
      {ignored.length > 0 ? (
        <p role="note" className="mb-3 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-950 ring-1 ring-amber-300" data-testid="ignored-filters">
          Ignored {ignored.map((name) => `“${name}”`).join(', ')}: not a value that filter takes.
        </p>
      ) : null}
      <p className="mb-3 text-sm text-slate-600" data-testid="open-count">
        {plural(page.total, 'open review')}
        {filtered ? ` match (${describeFilters(values)})` : ''}, oldest first.
      </p>
      {/* mounted even when nothing matches, so the result of the last bulk action stays on screen */}
      <BulkActions total={page.total} filters={values} filterWords={describeFilters(values)} actions={bulkActionsFor(values)} />
      {page.items.length === 0 ? (
        <EmptyState
          title={page.total === 0 ? (filtered ? 'No open review matches' : 'Nothing to review') : 'No more reviews on this page'}
          body={
            page.total === 0
              ? filtered
                ? 'Change or clear the filters to see the others.'
                : 'When a task fails for good, wants approval for a tool call, asks a question or was interrupted mid-call, it stops here and waits for you. This page updates by itself.'
              : 'The reviews that were here have been resolved.'
          }
          link={page.total === 0 && !filtered ? undefined : { href: page.total === 0 ? '/reviews' : reviewsHref(values), label: page.total === 0 ? 'Clear the filters' : 'Back to the oldest reviews' }}
        />
      ) : (
        <ol className="space-y-4" aria-label="Open reviews">
          {page.items.map((review) => (
            <li key={review.id}>
              <ReviewCard review={review} />
            </li>
          ))}
        </ol>
      )}
      <Pager
        previous={page.previous ? reviewsHref(values, { before: page.previous }) : undefined}
        next={page.next ? reviewsHref(values, { after: page.next }) : undefined}
      />
    </ReviewActionsProvider>
  );
}

function FilterForm({ values, suggestions }: { values: FilterValues; suggestions: { agents: string[]; tools: string[]; categories: string[] } }) {
  const field = 'mt-1 block w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm';
  const label = 'block text-xs font-medium text-slate-700';
  return (
    <Form action="/reviews" aria-label="Filter reviews" className="mb-4 grid gap-3 rounded-lg bg-white p-3 shadow-sm ring-1 ring-slate-200 sm:grid-cols-4 lg:grid-cols-8" data-testid="review-filters">
      <label className={label}>
        Kind
        <select name="kind" defaultValue={values.kind ?? ''} className={field}>
          <option value="">any</option>
          {REVIEW_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {KIND_LABELS[kind]}
            </option>
          ))}
        </select>
      </label>
      <label className={label}>
        Error category
        <input name="category" list="review-categories" defaultValue={values.category ?? ''} placeholder="model, tool…" className={field} />
        <datalist id="review-categories">
          {suggestions.categories.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      </label>
      <label className={label}>
        Run (root task id)
        <input name="run" defaultValue={values.run ?? ''} placeholder="uuid" className={field} />
      </label>
      <label className={label}>
        Agent
        <input name="agent" list="review-agents" defaultValue={values.agent ?? ''} className={field} />
        <datalist id="review-agents">
          {suggestions.agents.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
      </label>
      <label className={label}>
        Tool
        <input name="tool" list="review-tools" defaultValue={values.tool ?? ''} className={field} />
        <datalist id="review-tools">
          {suggestions.tools.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
      </label>
      <label className={label}>
        Age
        <select name="age" defaultValue={values.age ?? ''} className={field}>
          <option value="">any</option>
          {values.age && !AGE_CHOICES.some((c) => c.value === values.age) ? <option value={values.age}>older than {values.age}</option> : null}
          {AGE_CHOICES.map((choice) => (
            <option key={choice.value} value={choice.value}>
              {choice.label}
            </option>
          ))}
        </select>
      </label>
      <label className={`${label} lg:col-span-2`}>
        Text in the error or question
        <input name="q" type="search" defaultValue={values.q ?? ''} maxLength={500} className={field} />
      </label>
      <div className="flex items-end gap-2 sm:col-span-4 lg:col-span-8">
        <button type="submit" className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-800">
          Apply filters
        </button>
        {hasFilters(values) ? (
          <Link href="/reviews" className="text-sm text-indigo-700 hover:underline">
            Clear
          </Link>
        ) : null}
      </div>
    </Form>
  );
}

async function ResolvedReviews({ viewerClaims, before }: { viewerClaims: Claims; before?: string | string[] }) {
  const page = await listResolvedReviews(db(), viewerClaims, { before: decodeCursor(before) });
  if (page.items.length === 0) {
    return <EmptyState title="No resolved reviews yet" body="Reviews you and other operators resolve are listed here, newest first." />;
  }
  const actionLabel = { retry: 'Retried', abort: 'Aborted', manual: 'Manual output', approve: 'Approved', reject: 'Rejected', answer: 'Answered' } as const;
  return (
    <>
      <div className="overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
        <table className="w-full text-left text-sm">
          <thead className="border-b border-slate-200 bg-slate-50 text-xs tracking-wide text-slate-600 uppercase">
            <tr>
              <th scope="col" className="px-3 py-2">Task</th>
              <th scope="col" className="px-3 py-2">Decision</th>
              <th scope="col" className="px-3 py-2">By</th>
              <th scope="col" className="px-3 py-2">When</th>
              <th scope="col" className="px-3 py-2">Details</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 align-top">
            {page.items.map((review) => (
              <tr key={review.id} data-review-id={review.id}>
                <td className="px-3 py-2">
                  <Link prefetch={false} href={`/tasks/${review.task.id}`} className="font-medium text-indigo-700 hover:underline">
                    {review.task.title}
                  </Link>
                  <div className="mt-1">
                    <StatusBadge status={review.task.status} />
                  </div>
                </td>
                <td className="px-3 py-2 whitespace-nowrap">
                  {actionLabel[review.action]}
                  <div className="mt-1">
                    <Badge>{KIND_LABELS[review.kind] ?? review.kind}</Badge>
                  </div>
                </td>
                <td className="px-3 py-2 break-all">{review.resolved_by ?? 'unknown'}</td>
                <td className="px-3 py-2 whitespace-nowrap">
                  <time dateTime={review.resolved_at}>{formatTimestamp(review.resolved_at)}</time>
                </td>
                <td className="max-w-md px-3 py-2">
                  {review.note ? <p className="mb-1 text-slate-700">“{review.note}”</p> : null}
                  {review.manual_output !== null ? <CollapsibleText text={jsonToText(review.manual_output)} previewLines={3} label="output" /> : null}
                  {!review.note && review.manual_output === null ? <span className="text-slate-400">—</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager previous={undefined} next={page.next ? `/reviews?tab=resolved&before=${page.next}` : undefined} nextLabel="Older" />
    </>
  );
}

function Pager({ previous, next, nextLabel = 'Next page' }: { previous?: string; next?: string; nextLabel?: string }) {
  if (!previous && !next) return null;
  const link = 'rounded-md bg-white px-3 py-1.5 text-sm shadow-sm ring-1 ring-slate-300 hover:bg-slate-50';
  return (
    <nav aria-label="Pages" className="mt-6 flex justify-between">
      {previous ? (
        <Link href={previous} className={link} rel="prev">
          ← Previous page
        </Link>
      ) : (
        <span />
      )}
      {next ? (
        <Link href={next} className={link} rel="next">
          {nextLabel} →
        </Link>
      ) : null}
    </nav>
  );
}

function EmptyState({ title, body, link }: { title: string; body: string; link?: { href: string; label: string } }) {
  return (
    <div className="rounded-lg border-2 border-dashed border-slate-300 bg-white/60 px-6 py-12 text-center" data-testid="empty-state">
      <p className="text-base font-medium text-slate-800">{title}</p>
      <p className="mt-1 text-sm text-slate-600">{body}</p>
      {link ? (
        <Link href={link.href} className="mt-3 inline-block text-sm text-indigo-700 hover:underline">
          {link.label}
        </Link>
      ) : null}
    </div>
  );
}
