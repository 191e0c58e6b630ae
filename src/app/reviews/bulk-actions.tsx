'use client';
// "Select all that match": one action on every open review the page's filters match, not only the ones
// on this page. The filters travel as hidden fields under the URL's names, so the server resolves exactly
// what the page lists. Above 20 reviews the server answers with the count first and this asks before
// acting on it.
import { useActionState, useEffect, useId, useRef, useState } from 'react';
import { resolveMatchingReviewsAction } from '@/features/reviews/actions';
import { BULK_CONFIRM_ABOVE, initialBulkState, type BulkActionName, type BulkState } from '@/features/reviews/schema';
import type { FilterValues } from '@/features/reviews/filters';
import { plural } from '@/lib/format';

const buttonBase =
  'inline-flex items-center justify-center rounded-md px-3 py-1.5 text-sm font-medium shadow-sm ring-1 ring-inset disabled:cursor-not-allowed disabled:opacity-50';
const labels: Record<BulkActionName, string> = { retry: 'Retry', abort: 'Abort', approve: 'Approve', reject: 'Reject' };

export function BulkActions({ total, filters, filterWords, actions }: { total: number; filters: FilterValues; filterWords: string; actions: BulkActionName[] }) {
  const [selected, setSelected] = useState(false);
  const [reason, setReason] = useState('');
  const [state, formAction, pending] = useActionState(async (previous: BulkState, form: FormData) => {
    const next = await resolveMatchingReviewsAction(previous, form);
    if (next.status === 'success') {
      setSelected(false);
      setReason('');
    }
    return next;
  }, initialBulkState);
  const confirmDialog = useRef<HTMLDialogElement>(null);
  const confirmTitle = useId();
  const reasonId = useId();

  useEffect(() => {
    if (state.status === 'confirm') confirmDialog.current?.showModal();
  }, [state]);

  const hidden = Object.entries(filters).map(([name, value]) => <input key={name} type="hidden" name={name} value={value} />);
  const reasonError = state.errors.note?.[0];

  return (
    <section aria-label="Bulk actions" className="mb-4 rounded-lg bg-white p-3 shadow-sm ring-1 ring-slate-200" data-testid="bulk-actions">
      <label className="inline-flex items-center gap-2 text-sm font-medium text-slate-800">
        <input type="checkbox" checked={selected} onChange={(event) => setSelected(event.target.checked)} disabled={total === 0} />
        Select all {plural(total, 'review')} that match
      </label>
      <span className="ml-2 text-xs text-slate-500">({filterWords}; every page, not only this one)</span>

      {selected ? (
        <form action={formAction} className="mt-3 flex flex-wrap items-end gap-2">
          {hidden}
          <label className="block min-w-64 flex-1 text-sm">
            <span className="font-medium text-slate-800">Reason {actions.includes('reject') ? '(required to reject: every model is given it)' : '(optional, kept with each review)'}</span>
            <input
              id={reasonId}
              name="note"
              value={reason}
              onChange={(event) => setReason(event.target.value)}
              maxLength={2000}
              aria-invalid={!!reasonError}
              className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm aria-[invalid=true]:border-rose-500"
            />
          </label>
          {actions.map((action) => (
            <button
              key={action}
              type="submit"
              name="action"
              value={action}
              disabled={pending}
              className={`${buttonBase} ${action === 'abort' || action === 'reject' ? 'bg-white text-rose-700 ring-rose-300 hover:bg-rose-50' : 'bg-slate-900 text-white ring-slate-900 hover:bg-slate-800'}`}
            >
              {labels[action]} all
            </button>
          ))}
          {pending ? (
            <span role="status" className="text-sm text-slate-600">
              Working…
            </span>
          ) : null}
        </form>
      ) : null}
      {reasonError ? (
        <p role="alert" className="mt-2 text-sm text-rose-700">
          {reasonError}
        </p>
      ) : null}

      {state.message && state.status !== 'confirm' ? (
        <p
          key={state.at}
          role={state.status === 'error' ? 'alert' : 'status'}
          data-testid="bulk-result"
          data-result={state.status}
          className={`mt-3 rounded-md px-3 py-2 text-sm ring-1 ${state.status === 'error' ? 'bg-rose-50 text-rose-900 ring-rose-200' : 'bg-emerald-50 text-emerald-900 ring-emerald-200'}`}
        >
          {state.message}
        </p>
      ) : null}

      <dialog ref={confirmDialog} aria-labelledby={confirmTitle} className="m-auto w-full max-w-lg rounded-lg p-0 shadow-xl">
        <form action={formAction} onSubmit={() => confirmDialog.current?.close()} className="space-y-4 p-5">
          {hidden}
          <input type="hidden" name="action" value={state.action ?? ''} />
          <input type="hidden" name="note" value={state.note ?? ''} />
          <input type="hidden" name="confirmed" value={state.count ?? 0} />
          <h3 id={confirmTitle} className="text-base font-semibold">
            {state.status === 'confirm' ? state.message : ''}
          </h3>
          <p className="text-sm text-slate-700">
            This acts on every open review that matches ({filterWords}), more than the {BULK_CONFIRM_ABOVE} you can see at once. Each is resolved and
            recorded as if you had resolved it by hand; reviews another operator resolves meanwhile are skipped.
          </p>
          {state.note ? <p className="text-sm text-slate-700">Reason: “{state.note}”</p> : null}
          <div className="flex justify-end gap-2">
            <button type="button" onClick={() => confirmDialog.current?.close()} className={`${buttonBase} bg-white text-slate-800 ring-slate-300`}>
              Cancel
            </button>
            <button type="submit" className={`${buttonBase} bg-slate-900 text-white ring-slate-900 hover:bg-slate-800`}>
              {state.action ? `${labels[state.action]} ${plural(state.count ?? 0, 'review')}` : 'Confirm'}
            </button>
          </div>
        </form>
      </dialog>
    </section>
  );
}
