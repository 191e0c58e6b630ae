'use client';
// Retry, Abort (confirmed, saying what happens to the aggregator) and Manual (a dialog for text or
// JSON). All three submit to the same server action; the database decides whether it happens.
import { useId, useRef, useState } from 'react';
import { predictAbort, type AggregatorSnapshot } from '@/features/reviews/messages';
import { parseManualOutput } from '@/features/reviews/schema';
import { useReviewActions } from './review-actions-provider';

interface Props {
  reviewId: string;
  taskTitle: string;
  aggregators: AggregatorSnapshot[];
}

const buttonBase =
  'inline-flex items-center justify-center rounded-md px-3 py-1.5 text-sm font-medium shadow-sm ring-1 ring-inset disabled:cursor-not-allowed disabled:opacity-50';

export function ReviewActions({ reviewId, taskTitle, aggregators }: Props) {
  const { formAction, pending, inFlightReviewId, state } = useReviewActions();
  const busy = pending && inFlightReviewId === reviewId;
  const mine = state.reviewId === reviewId ? state : undefined;
  const abortDialog = useRef<HTMLDialogElement>(null);
  const manualDialog = useRef<HTMLDialogElement>(null);
  const abortTitle = useId();
  const manualTitle = useId();
  const [format, setFormat] = useState<'text' | 'json'>('text');
  const [clientError, setClientError] = useState<string | null>(null);
  const serverError = mine?.errors.manualOutput?.[0];
  const manualError = clientError ?? serverError;
  const busyVerb = mine?.action ?? 'working';

  return (
    <div className="flex flex-wrap items-center gap-2" data-testid="review-actions">
      <form action={formAction}>
        <input type="hidden" name="reviewId" value={reviewId} />
        <input type="hidden" name="action" value="retry" />
        <button type="submit" disabled={busy} className={`${buttonBase} bg-white text-slate-900 ring-slate-300 hover:bg-slate-50`}>
          Retry
        </button>
      </form>
      <button
        type="button"
        disabled={busy}
        onClick={() => abortDialog.current?.showModal()}
        className={`${buttonBase} bg-white text-rose-700 ring-rose-300 hover:bg-rose-50`}
      >
        Abort…
      </button>
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setClientError(null);
          manualDialog.current?.showModal();
        }}
        className={`${buttonBase} bg-slate-900 text-white ring-slate-900 hover:bg-slate-800`}
      >
        Manual…
      </button>
      {busy ? (
        <span role="status" className="text-sm text-slate-600">
          Saving{busyVerb === 'working' ? '' : ` (${busyVerb})`}…
        </span>
      ) : null}

      <dialog ref={abortDialog} aria-labelledby={abortTitle} className="m-auto w-full max-w-lg rounded-lg p-0 shadow-xl">
        <form action={formAction} onSubmit={() => abortDialog.current?.close()} className="space-y-4 p-5">
          <input type="hidden" name="reviewId" value={reviewId} />
          <input type="hidden" name="action" value="abort" />
          <h3 id={abortTitle} className="text-base font-semibold">
            Abort “{taskTitle}”?
          </h3>
          <p className="text-sm text-slate-700">The task is cancelled and will not run again.</p>
          {aggregators.length > 0 ? (
            <ul className="list-disc space-y-1 pl-5 text-sm text-slate-700">
              {aggregators.map((aggregator, i) => (
                <li key={i}>{predictAbort(aggregator)}</li>
              ))}
            </ul>
          ) : (
            <p className="text-sm text-slate-700">No aggregator waits for this task.</p>
          )}
          <label className="block text-sm">
            <span className="font-medium text-slate-800">Note (optional)</span>
            <textarea name="note" rows={2} maxLength={2000} className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm" />
          </label>
          <div className="flex justify-end gap-2">
            <button type="button" onClick={() => abortDialog.current?.close()} className={`${buttonBase} bg-white text-slate-800 ring-slate-300`}>
              Keep it
            </button>
            <button type="submit" className={`${buttonBase} bg-rose-700 text-white ring-rose-700 hover:bg-rose-800`}>
              Abort task
            </button>
          </div>
        </form>
      </dialog>

      <dialog ref={manualDialog} aria-labelledby={manualTitle} className="m-auto w-full max-w-2xl rounded-lg p-0 shadow-xl">
        <form
          action={formAction}
          noValidate
          onSubmit={(event) => {
            const data = new FormData(event.currentTarget);
            const parsed = parseManualOutput(String(data.get('manualOutput') ?? ''), format);
            if (!parsed.ok) {
              event.preventDefault();
              setClientError(parsed.error);
            } else {
              setClientError(null);
            }
          }}
          className="space-y-4 p-5"
        >
          <input type="hidden" name="reviewId" value={reviewId} />
          <input type="hidden" name="action" value="manual" />
          <h3 id={manualTitle} className="text-base font-semibold">
            Write the output of “{taskTitle}”
          </h3>
          <p className="text-sm text-slate-700">
            The task is completed with this output, marked as written by you
            {aggregators.length > 0 ? ', and its aggregator receives it like any other result' : ''}.
          </p>
          <fieldset className="flex gap-4 text-sm">
            <legend className="sr-only">Format</legend>
            {(['text', 'json'] as const).map((value) => (
              <label key={value} className="inline-flex items-center gap-1.5">
                <input
                  type="radio"
                  name="manualFormat"
                  value={value}
                  checked={format === value}
                  onChange={() => {
                    setFormat(value);
                    setClientError(null);
                  }}
                />
                {value === 'text' ? 'Text' : 'JSON'}
              </label>
            ))}
          </fieldset>
          <label className="block text-sm">
            <span className="font-medium text-slate-800">Output</span>
            <textarea
              name="manualOutput"
              rows={10}
              aria-invalid={!!manualError}
              aria-describedby={manualError ? `${manualTitle}-error` : undefined}
              placeholder={format === 'json' ? '{"summary": "…"}' : 'The result, as the task would have written it'}
              onChange={() => clientError && setClientError(null)}
              className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-sm aria-[invalid=true]:border-rose-500"
            />
          </label>
          {manualError ? (
            <p id={`${manualTitle}-error`} role="alert" className="text-sm text-rose-700" data-testid="manual-error">
              {manualError}
            </p>
          ) : null}
          <label className="block text-sm">
            <span className="font-medium text-slate-800">Note (optional)</span>
            <input name="note" maxLength={2000} className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm" />
          </label>
          {mine?.status === 'error' && !serverError && !busy ? (
            <p role="alert" className="rounded-md bg-rose-50 px-3 py-2 text-sm text-rose-900">
              {mine.message}
            </p>
          ) : null}
          <div className="flex justify-end gap-2">
            <button type="button" onClick={() => manualDialog.current?.close()} className={`${buttonBase} bg-white text-slate-800 ring-slate-300`}>
              Cancel
            </button>
            <button type="submit" disabled={busy} className={`${buttonBase} bg-slate-900 text-white ring-slate-900 hover:bg-slate-800`}>
              {busy ? 'Saving…' : 'Save output'}
            </button>
          </div>
        </form>
      </dialog>
    </div>
  );
}
