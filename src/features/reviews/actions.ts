'use server';
// The reviews page's server actions, wired to the real viewer, pool and cache. Each body (service.ts)
// checks who is asking, parses with zod, calls the database as the viewer and answers in words.
import { revalidatePath } from 'next/cache';
import { getViewer } from '@/lib/auth/viewer';
import { db } from '@/lib/server/db';
import type { BulkState, DecisionState } from './schema';
import { bulkFromForm, decideFromForm, type DecisionContext } from './service';

function context(): DecisionContext {
  return {
    viewer: getViewer,
    sql: db,
    revalidate: (taskId) => {
      revalidatePath('/reviews');
      revalidatePath('/');
      // the task, its parent and its aggregator all changed: every task page is stale
      if (taskId) revalidatePath('/tasks/[id]', 'page');
    },
    log: (message, error) => console.error(`[reviews] ${message}:`, error),
  };
}

export async function resolveReviewAction(_previous: DecisionState, form: FormData): Promise<DecisionState> {
  return decideFromForm(context(), form);
}

/** "Select all that match", then one action: every open review under the page's filters. */
export async function resolveMatchingReviewsAction(_previous: BulkState, form: FormData): Promise<BulkState> {
  // many tasks changed: every page that shows one is stale
  return bulkFromForm({ ...context(), revalidate: () => {
    revalidatePath('/reviews');
    revalidatePath('/');
    revalidatePath('/tasks/[id]', 'page');
  } }, form);
}
