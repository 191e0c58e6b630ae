'use client';
// What an operator can do with one review, by kind. Every form submits to the one server action
// (through ReviewActionsProvider); the database decides whether it happens. A dialog checks what it can
// before the round trip (JSON, the tool's input schema, a reason, an answer) and shows the server's own
// verdict beside the field when the server disagrees.
import { useId, useRef, useState } from 'react';
import { predictAbort, type AggregatorSnapshot } from '@/features/reviews/messages';
import { parseArguments, parseManualOutput } from '@/features/reviews/schema';
import { schemaIssues, type JsonSchema } from '../../../supabase/functions/_shared/json-schema';
import { useReviewActions } from './review-actions-provider';

const buttonBase =
  'inline-flex items-center justify-center rounded-md px-3 py-1.5 text-sm font-medium shadow-sm ring-1 ring-inset disabled:cursor-not-allowed disabled:opacity-50';
const quiet = `${buttonBase} bg-white text-slate-900 ring-slate-300 hover:bg-slate-50`;
const strong = `${buttonBase} bg-slate-900 text-white ring-slate-900 hover:bg-slate-800`;
const danger = `${buttonBase} bg-white text-rose-700 ring-rose-300 hover:bg-rose-50`;
const dangerStrong = `${buttonBase} bg-rose-700 text-white ring-rose-700 hover:bg-rose-800`;
const dialogClass = 'm-auto w-full max-w-2xl rounded-lg p-0 shadow-xl';

/** This card's slice of the queue's action state. */
function useCardState(reviewId: string) {
  const { formAction, pending, inFlightReviewId, state } = useReviewActions();
  const busy = pending && inFlightReviewId === reviewId;
  const mine = state.reviewId === reviewId ? state : undefined;
  return { formAction, busy, mine };
}

function Busy({ busy, verb }: { busy: boolean; verb?: string }) {
  if (!busy) return null;
  return (
    <span role="status" className="text-sm text-slate-600">
      Saving{verb ? ` (${verb})` : ''}…
    </span>
  );
}

function Hidden({ reviewId, action }: { reviewId: string; action: string }) {
  return (
    <>
      <input type="hidden" name="reviewId" value={reviewId} />
      <input type="hidden" name="action" value={action} />
    </>
  );
}

function FieldError({ id, messages, testId }: { id: string; messages: string[] | undefined; testId: string }) {
  if (!messages || messages.length === 0) return null;
  return (
    <div id={id} role="alert" className="text-sm text-rose-700" data-testid={testId}>
      {messages.length === 1 ? (
        <p>{messages[0]}</p>
      ) : (
        <ul className="list-disc pl-5">
          {messages.map((message) => (
            <li key={message}>{message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The server's error for this card when it is not about one field (a race, a refusal). */
function ServerMessage({ reviewId }: { reviewId: string }) {
  const { mine, busy } = useCardState(reviewId);
  if (!mine || mine.status !== 'error' || busy || Object.keys(mine.errors).length > 0) return null;
  return (
    <p role="alert" className="rounded-md bg-rose-50 px-3 py-2 text-sm text-rose-900">
      {mine.message}
    </p>
  );
}

/** A button that submits one action at once (Retry, Approve). */
function ActionButton({ reviewId, action, label, className = quiet }: { reviewId: string; action: string; label: string; className?: string }) {
  const { formAction, busy } = useCardState(reviewId);
  return (
    <form action={formAction}>
      <Hidden reviewId={reviewId} action={action} />
      <button type="submit" disabled={busy} className={className}>
        {label}
      </button>
    </form>
  );
}

/** Abort: allowed for every kind; cancels the task and everything under it. Asks first, saying what happens to the aggregators. */
function AbortButton({ reviewId, taskTitle, aggregators }: { reviewId: string; taskTitle: string; aggregators: AggregatorSnapshot[] }) {
  const { formAction, busy } = useCardState(reviewId);
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  return (
    <>
      <button type="button" disabled={busy} onClick={() => dialog.current?.showModal()} className={danger}>
        Abort…
      </button>
      <dialog ref={dialog} aria-labelledby={titleId} className="m-auto w-full max-w-lg rounded-lg p-0 shadow-xl">
        <form action={formAction} onSubmit={() => dialog.current?.close()} className="space-y-4 p-5">
          <Hidden reviewId={reviewId} action="abort" />
          <h3 id={titleId} className="text-base font-semibold">
            Abort “{taskTitle}”?
          </h3>
          <p className="text-sm text-slate-700">The task is cancelled and will not run again, and so is every task it started that has not ended.</p>
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
            <button type="button" onClick={() => dialog.current?.close()} className={`${buttonBase} bg-white text-slate-800 ring-slate-300`}>
              Keep it
            </button>
            <button type="submit" className={dangerStrong}>
              Abort task
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/**
 * A hand-written value in a dialog, as text or JSON: a failed task's output (Manual), or the result an
 * interrupted call should have returned (Manual result).
 */
function ManualDialogButton({ reviewId, buttonLabel, submitLabel, heading, explanation, fieldLabel, placeholder }: {
  reviewId: string;
  buttonLabel: string;
  submitLabel: string;
  heading: string;
  explanation: string;
  fieldLabel: string;
  placeholder: string;
}) {
  const { formAction, busy, mine } = useCardState(reviewId);
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [format, setFormat] = useState<'text' | 'json'>('text');
  const [clientError, setClientError] = useState<string | null>(null);
  const serverError = mine?.errors.manualOutput?.[0];
  const error = clientError ?? serverError;
  return (
    <>
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setClientError(null);
          dialog.current?.showModal();
        }}
        className={strong}
      >
        {buttonLabel}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId} className={dialogClass}>
        <form
          action={formAction}
          noValidate
          onSubmit={(event) => {
            const parsed = parseManualOutput(String(new FormData(event.currentTarget).get('manualOutput') ?? ''), format);
            if (!parsed.ok) {
              event.preventDefault();
              setClientError(parsed.error);
            } else {
              setClientError(null);
            }
          }}
          className="space-y-4 p-5"
        >
          <Hidden reviewId={reviewId} action="manual" />
          <h3 id={titleId} className="text-base font-semibold">
            {heading}
          </h3>
          <p className="text-sm text-slate-700">{explanation}</p>
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
            <span className="font-medium text-slate-800">{fieldLabel}</span>
            <textarea
              name="manualOutput"
              rows={10}
              aria-invalid={!!error}
              aria-describedby={error ? `${titleId}-error` : undefined}
              placeholder={format === 'json' ? '{"summary": "…"}' : placeholder}
              onChange={() => clientError && setClientError(null)}
              className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-sm aria-[invalid=true]:border-rose-500"
            />
          </label>
          <FieldError id={`${titleId}-error`} messages={error ? [error] : undefined} testId="manual-error" />
          <label className="block text-sm">
            <span className="font-medium text-slate-800">Note (optional)</span>
            <input name="note" maxLength={2000} className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm" />
          </label>
          <ServerMessage reviewId={reviewId} />
          <div className="flex justify-end gap-2">
            <button type="button" onClick={() => dialog.current?.close()} className={`${buttonBase} bg-white text-slate-800 ring-slate-300`}>
              Cancel
            </button>
            <button type="submit" disabled={busy} className={strong}>
              {busy ? 'Saving…' : submitLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** failure: Retry, Abort, Manual (the task's output by hand). */
export function FailureActions({ reviewId, taskTitle, aggregators }: { reviewId: string; taskTitle: string; aggregators: AggregatorSnapshot[] }) {
  const { busy, mine } = useCardState(reviewId);
  return (
    <div className="flex flex-wrap items-center gap-2" data-testid="review-actions">
      <ActionButton reviewId={reviewId} action="retry" label="Retry" />
      <AbortButton reviewId={reviewId} taskTitle={taskTitle} aggregators={aggregators} />
      <ManualDialogButton
        reviewId={reviewId}
        buttonLabel="Manual…"
        submitLabel="Save output"
        heading={`Write the output of “${taskTitle}”`}
        explanation={`The task is completed with this output, marked as written by you${aggregators.length > 0 ? ', and its aggregator receives it like any other result' : ''}.`}
        fieldLabel="Output"
        placeholder="The result, as the task would have written it"
      />
      <Busy busy={busy} verb={mine?.action} />
    </div>
  );
}

/** interrupted_call: run the call again, or type the result it should have returned. */
export function InterruptedCallActions({ reviewId, taskTitle, tool, aggregators }: { reviewId: string; taskTitle: string; tool: string; aggregators: AggregatorSnapshot[] }) {
  const { busy, mine } = useCardState(reviewId);
  return (
    <div className="flex flex-wrap items-center gap-2" data-testid="review-actions">
      <ActionButton reviewId={reviewId} action="retry" label="Retry the call" />
      <ManualDialogButton
        reviewId={reviewId}
        buttonLabel="Manual result…"
        submitLabel="Save result"
        heading={`The result of ${tool} for “${taskTitle}”`}
        explanation="The call is not made again: the model is given this as the tool's result, and the task carries on."
        fieldLabel="Result"
        placeholder="What the call returned, or would have"
      />
      <AbortButton reviewId={reviewId} taskTitle={taskTitle} aggregators={aggregators} />
      <Busy busy={busy} verb={mine?.action} />
    </div>
  );
}

/**
 * approval: Approve (the call runs as asked), Edit and approve (the arguments in a JSON editor, checked
 * against the tool's input schema here and again on the server), Reject with a reason the model gets.
 */
export function ApprovalActions({ reviewId, taskTitle, tool, args, inputSchema, aggregators }: {
  reviewId: string;
  taskTitle: string;
  tool: string;
  args: unknown;
  inputSchema: JsonSchema | null;
  aggregators: AggregatorSnapshot[];
}) {
  const { formAction, busy, mine } = useCardState(reviewId);
  const editDialog = useRef<HTMLDialogElement>(null);
  const rejectDialog = useRef<HTMLDialogElement>(null);
  const editTitle = useId();
  const rejectTitle = useId();
  const initial = JSON.stringify(args ?? {}, null, 2);
  const [clientIssues, setClientIssues] = useState<string[] | null>(null);
  const [reasonError, setReasonError] = useState<string | null>(null);
  const argumentIssues = clientIssues ?? mine?.errors.arguments;
  const reasonIssues = reasonError ? [reasonError] : mine?.action === 'reject' ? mine.errors.note : undefined;

  return (
    <div className="flex flex-wrap items-center gap-2" data-testid="review-actions">
      <ActionButton reviewId={reviewId} action="approve" label="Approve" className={strong} />
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setClientIssues(null);
          editDialog.current?.showModal();
        }}
        className={quiet}
      >
        Edit and approve…
      </button>
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setReasonError(null);
          rejectDialog.current?.showModal();
        }}
        className={danger}
      >
        Reject…
      </button>
      <AbortButton reviewId={reviewId} taskTitle={taskTitle} aggregators={aggregators} />
      <Busy busy={busy} verb={mine?.action} />

      <dialog ref={editDialog} aria-labelledby={editTitle} className={dialogClass}>
        <form
          action={formAction}
          noValidate
          onSubmit={(event) => {
            const parsed = parseArguments(String(new FormData(event.currentTarget).get('arguments') ?? ''));
            const issues = parsed.ok ? schemaIssues(inputSchema, parsed.value) : [parsed.error];
            if (issues.length > 0) {
              event.preventDefault();
              setClientIssues(issues);
            } else {
              setClientIssues(null);
            }
          }}
          className="space-y-4 p-5"
        >
          <Hidden reviewId={reviewId} action="approve" />
          <h3 id={editTitle} className="text-base font-semibold">
            Edit the arguments of {tool}
          </h3>
          <p className="text-sm text-slate-700">
            The call runs with these arguments instead of the ones the model asked for; the edit is recorded in the task&apos;s history.
            {inputSchema ? ' They are checked against the tool’s input schema.' : ' The tool has no input schema here: they only need to be a JSON object.'}
          </p>
          <label className="block text-sm">
            <span className="font-medium text-slate-800">Arguments (JSON)</span>
            <textarea
              name="arguments"
              rows={12}
              defaultValue={initial}
              spellCheck={false}
              aria-invalid={!!argumentIssues?.length}
              aria-describedby={argumentIssues?.length ? `${editTitle}-error` : undefined}
              onChange={() => clientIssues && setClientIssues(null)}
              className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-sm aria-[invalid=true]:border-rose-500"
            />
          </label>
          <FieldError id={`${editTitle}-error`} messages={argumentIssues} testId="arguments-error" />
          {inputSchema ? (
            <details className="text-xs">
              <summary className="cursor-pointer text-slate-600">The tool&apos;s input schema</summary>
              <pre className="mt-1 max-h-48 overflow-auto rounded bg-slate-50 p-2 font-mono">{JSON.stringify(inputSchema, null, 2)}</pre>
            </details>
          ) : null}
          <ServerMessage reviewId={reviewId} />
          <div className="flex justify-end gap-2">
            <button type="button" onClick={() => editDialog.current?.close()} className={`${buttonBase} bg-white text-slate-800 ring-slate-300`}>
              Cancel
            </button>
            <button type="submit" disabled={busy} className={strong}>
              Approve with these arguments
            </button>
          </div>
        </form>
      </dialog>

      <dialog ref={rejectDialog} aria-labelledby={rejectTitle} className="m-auto w-full max-w-lg rounded-lg p-0 shadow-xl">
        <form
          action={formAction}
          noValidate
          onSubmit={(event) => {
            const reason = String(new FormData(event.currentTarget).get('note') ?? '').trim();
            if (!reason) {
              event.preventDefault();
              setReasonError('Say why: the model is given this reason instead of the tool’s result.');
            } else {
              rejectDialog.current?.close();
            }
          }}
          className="space-y-4 p-5"
        >
          <Hidden reviewId={reviewId} action="reject" />
          <h3 id={rejectTitle} className="text-base font-semibold">
            Reject the call of {tool}?
          </h3>
          <p className="text-sm text-slate-700">The call is not made. The model is given your reason as the tool&apos;s result and carries on.</p>
          <label className="block text-sm">
            <span className="font-medium text-slate-800">Reason</span>
            <textarea
              name="note"
              rows={3}
              maxLength={2000}
              aria-invalid={!!reasonIssues?.length}
              onChange={() => reasonError && setReasonError(null)}
              className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm aria-[invalid=true]:border-rose-500"
            />
          </label>
          <FieldError id={`${rejectTitle}-error`} messages={reasonIssues} testId="reason-error" />
          <div className="flex justify-end gap-2">
            <button type="button" onClick={() => rejectDialog.current?.close()} className={`${buttonBase} bg-white text-slate-800 ring-slate-300`}>
              Cancel
            </button>
            <button type="submit" className={dangerStrong}>
              Reject the call
            </button>
          </div>
        </form>
      </dialog>
    </div>
  );
}

/** question: one of the options, or an answer in the person's own words. */
export function QuestionAnswer({ reviewId, taskTitle, options, aggregators }: { reviewId: string; taskTitle: string; options: string[]; aggregators: AggregatorSnapshot[] }) {
  const { formAction, busy, mine } = useCardState(reviewId);
  const id = useId();
  const [clientError, setClientError] = useState<string | null>(null);
  const error = clientError ?? mine?.errors.answer?.[0];
  return (
    <div className="space-y-3" data-testid="review-actions">
      <form
        action={formAction}
        noValidate
        onSubmit={(event) => {
          const data = new FormData(event.currentTarget);
          const given = String(data.get('answer') ?? '').trim() || String(data.get('option') ?? '');
          if (!given) {
            event.preventDefault();
            setClientError('Choose one of the options or write an answer.');
          } else {
            setClientError(null);
          }
        }}
        className="space-y-3"
      >
        <Hidden reviewId={reviewId} action="answer" />
        {options.length > 0 ? (
          <fieldset className="space-y-1.5 text-sm">
            <legend className="mb-1 font-medium text-slate-800">Options</legend>
            {options.map((option) => (
              <label key={option} className="flex items-start gap-2">
                <input type="radio" name="option" value={option} onChange={() => setClientError(null)} className="mt-1" />
                <span>{option}</span>
              </label>
            ))}
          </fieldset>
        ) : null}
        <label className="block text-sm">
          <span className="font-medium text-slate-800">{options.length > 0 ? 'Or answer in your own words' : 'Your answer'}</span>
          <textarea
            name="answer"
            rows={3}
            maxLength={10_000}
            aria-invalid={!!error}
            aria-describedby={error ? `${id}-error` : undefined}
            onChange={() => clientError && setClientError(null)}
            className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm aria-[invalid=true]:border-rose-500"
          />
        </label>
        <FieldError id={`${id}-error`} messages={error ? [error] : undefined} testId="answer-error" />
        <button type="submit" disabled={busy} className={strong}>
          Send answer
        </button>
      </form>
      {/* outside the answer's form: its dialog holds a form of its own */}
      <div className="flex flex-wrap items-center gap-2">
        <AbortButton reviewId={reviewId} taskTitle={taskTitle} aggregators={aggregators} />
        <Busy busy={busy} verb={mine?.action} />
      </div>
    </div>
  );
}
