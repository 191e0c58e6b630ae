import type { Metadata } from 'next';
import Link from 'next/link';
import { CollapsibleText } from '@/components/collapsible-text';
import { StatusBadge } from '@/components/status-badge';
import { requireOperator } from '@/lib/auth/viewer';
import { decodeCursor } from '@/lib/db/cursor';
import { listOpenReviews, listResolvedReviews } from '@/features/reviews/queries';
import { db } from '@/lib/server/db';
import { formatTimestamp, jsonToText, plural } from '@/lib/format';
import { ReviewActionsProvider } from './review-actions-provider';
import { ReviewCard } from './review-card';

export const metadata: Metadata = { title: 'Reviews' };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export default async function ReviewsPage({ searchParams }: { searchParams: SearchParams }) {
  const viewer = await requireOperator();
  const params = await searchParams;
  const tab = params.tab === 'resolved' ? 'resolved' : 'open';
  return (
    <div>
      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <div>
          <h1 className="text-xl font-semibold tracking-tight">Reviews</h1>
          <p className="text-sm text-slate-600">Parallel tasks that failed and wait for your decision: retry, abort, or write their output.</p>
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
      {tab === 'open' ? (
        <OpenReviews viewerClaims={viewer.claims} after={params.after} before={params.before} />
      ) : (
        <ResolvedReviews viewerClaims={viewer.claims} before={params.before} />
      )}
    </div>
  );
}

type Claims = Awaited<ReturnType<typeof requireOperator>>['claims'];

async function OpenReviews({ viewerClaims, after, before }: { viewerClaims: Claims; after?: string | string[]; before?: string | string[] }) {
  const page = await listOpenReviews(db(), viewerClaims, { after: decodeCursor(after), before: decodeCursor(before) });
  return (
    <ReviewActionsProvider>
      <p className="mb-3 text-sm text-slate-600" data-testid="open-count">
        {plural(page.total, 'open review')}, oldest first.
      </p>
      {page.items.length === 0 ? (
        <EmptyState
          title={page.total === 0 ? 'Nothing to review' : 'No more reviews on this page'}
          body={
            page.total === 0
              ? 'When a parallel task fails for good, it stops here and waits for you. This page updates by itself.'
              : 'The reviews that were here have been resolved.'
          }
          link={page.total === 0 ? undefined : { href: '/reviews', label: 'Back to the oldest reviews' }}
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
      <Pager previous={page.previous ? `/reviews?before=${page.previous}` : undefined} next={page.next ? `/reviews?after=${page.next}` : undefined} />
    </ReviewActionsProvider>
  );
}

async function ResolvedReviews({ viewerClaims, before }: { viewerClaims: Claims; before?: string | string[] }) {
  const page = await listResolvedReviews(db(), viewerClaims, { before: decodeCursor(before) });
  if (page.items.length === 0) {
    return <EmptyState title="No resolved reviews yet" body="Reviews you and other operators resolve are listed here, newest first." />;
  }
  const actionLabel = { retry: 'Retried', abort: 'Aborted', manual: 'Manual output' } as const;
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
                <td className="px-3 py-2 whitespace-nowrap">{actionLabel[review.action]}</td>
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
