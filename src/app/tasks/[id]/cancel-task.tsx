'use client';
// Cancel, with a confirmation that says how many tasks it stops (this one and its descendants that
// have not ended). The server action checks the viewer and the database decides.
import { useActionState, useId, useRef } from 'react';
import { cancelTaskAction } from '@/features/tasks/actions';
import { CANCEL_NOTE_MAX_CHARS, initialCancelState } from '@/features/tasks/schema';
import { plural } from '@/lib/format';

const buttonBase =
  'inline-flex items-center justify-center rounded-md px-3 py-1.5 text-sm font-medium shadow-sm ring-1 ring-inset disabled:cursor-not-allowed disabled:opacity-50';

export function CancelTask({ taskId, title, stops, ended }: { taskId: string; title: string; stops: number; ended: boolean }) {
  const [state, formAction, pending] = useActionState(cancelTaskAction, initialCancelState);
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const others = Math.max(stops - 1, 0);
  return (
    <div className="flex flex-wrap items-center justify-end gap-2">
      {state.message ? (
        <p
          key={state.at}
          role={state.status === 'error' ? 'alert' : 'status'}
          data-testid="cancel-result"
          data-result={state.status}
          className={`rounded-md px-3 py-1.5 text-sm ring-1 ${state.status === 'error' ? 'bg-rose-50 text-rose-900 ring-rose-200' : 'bg-emerald-50 text-emerald-900 ring-emerald-200'}`}
        >
          {state.message}
        </p>
      ) : null}
      {ended ? null : (
        <button
          type="button"
          disabled={pending}
          onClick={() => dialog.current?.showModal()}
          className={`${buttonBase} bg-white text-rose-700 ring-rose-300 hover:bg-rose-50`}
        >
          {pending ? 'Cancelling…' : 'Cancel…'}
        </button>
      )}
      <dialog ref={dialog} aria-labelledby={titleId} className="m-auto w-full max-w-lg rounded-lg p-0 shadow-xl">
        <form action={formAction} onSubmit={() => dialog.current?.close()} className="space-y-4 p-5 text-left">
          <input type="hidden" name="taskId" value={taskId} />
          <h3 id={titleId} className="text-base font-semibold">
            Cancel “{title}”?
          </h3>
          <p className="text-sm text-slate-700" data-testid="cancel-count">
            {others === 0
              ? 'This stops 1 task: this one.'
              : `This stops ${plural(stops, 'task')}: this one and ${plural(others, 'task')} under it that ${others === 1 ? 'has' : 'have'} not ended.`}
          </p>
          <p className="text-sm text-slate-700">
            A running task loses its lease and makes no further model request; open reviews among them are resolved as abort. An aggregator
            waiting on them follows its join rule. This cannot be undone.
          </p>
          <label className="block text-sm">
            <span className="font-medium text-slate-800">Why (optional, kept in the history)</span>
            <textarea name="note" rows={2} maxLength={CANCEL_NOTE_MAX_CHARS} className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm" />
          </label>
          <div className="flex justify-end gap-2">
            <button type="button" onClick={() => dialog.current?.close()} className={`${buttonBase} bg-white text-slate-800 ring-slate-300`}>
              Keep running
            </button>
            <button type="submit" className={`${buttonBase} bg-rose-700 text-white ring-rose-700 hover:bg-rose-800`}>
              Stop {plural(stops, 'task')}
            </button>
          </div>
        </form>
      </dialog>
    </div>
  );
}
