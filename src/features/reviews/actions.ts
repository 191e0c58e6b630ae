'use server';
// The reviews page's one server action, wired to the real viewer, pool and cache.
import { revalidatePath } from 'next/cache';
import { getViewer } from '@/lib/auth/viewer';
import { db } from '@/lib/server/db';
import type { DecisionState } from './schema';
import { decideFromForm } from './service';

export async function resolveReviewAction(_previous: DecisionState, form: FormData): Promise<DecisionState> {
  return decideFromForm(
    {
      viewer: getViewer,
      sql: db,
      revalidate: (taskId) => {
        revalidatePath('/reviews');
        revalidatePath('/');
        // the task, its parent and its aggregator all changed: every task page is stale
        if (taskId) revalidatePath('/tasks/[id]', 'page');
      },
      log: (message, error) => console.error(`[reviews] ${message}:`, error),
    },
    form,
  );
}
