'use client';
// One action state for the whole queue. A card disappears from the queue the moment its review is
// resolved, so the result of the click has to live above the cards to still be shown afterwards.
import { createContext, useActionState, useContext, useOptimistic, useRef } from 'react';
import { resolveReviewAction } from '@/features/reviews/actions';
import { initialDecisionState, type DecisionState } from '@/features/reviews/schema';

interface ReviewActionsContext {
  state: DecisionState;
  formAction: (form: FormData) => void;
  pending: boolean;
  inFlightReviewId: string | null;
}

const Context = createContext<ReviewActionsContext | null>(null);

export function useReviewActions(): ReviewActionsContext {
  const value = useContext(Context);
  if (!value) throw new Error('useReviewActions must be used inside <ReviewActionsProvider>');
  return value;
}

export function ReviewActionsProvider({ children }: { children: React.ReactNode }) {
  const [inFlightReviewId, setInFlightReviewId] = useOptimistic<string | null>(null);
  // reviews this page already resolved: a double click's second submission must not replace
  // "Retried …" with the database's (correct, but confusing) "already resolved by you"
  const done = useRef(new Set<string>());
  const [state, formAction, pending] = useActionState(async (previous: DecisionState, form: FormData) => {
    const reviewId = String(form.get('reviewId') ?? '');
    if (done.current.has(reviewId)) return previous;
    setInFlightReviewId(reviewId);
    const next = await resolveReviewAction(previous, form);
    if (next.status === 'success') done.current.add(reviewId);
    return next;
  }, initialDecisionState);

  return (
    <Context.Provider value={{ state, formAction, pending, inFlightReviewId }}>
      <ResultBanner state={state} />
      {children}
    </Context.Provider>
  );
}

function ResultBanner({ state }: { state: DecisionState }) {
  // field mistakes are shown beside the field in the dialog, not here
  const fieldOnly = state.status === 'error' && Object.keys(state.errors).length > 0;
  return (
    <div aria-live="polite" className="mb-4 empty:hidden">
      {state.message && !fieldOnly ? (
        <p
          key={state.at}
          role={state.status === 'error' ? 'alert' : 'status'}
          data-testid="action-result"
          data-result={state.status}
          className={
            state.status === 'error'
              ? 'rounded-md bg-rose-50 px-4 py-3 text-sm text-rose-900 ring-1 ring-rose-200'
              : 'rounded-md bg-emerald-50 px-4 py-3 text-sm text-emerald-900 ring-1 ring-emerald-200'
          }
        >
          {state.message}
        </p>
      ) : null}
    </div>
  );
}
