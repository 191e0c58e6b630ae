'use server';

import { revalidatePath } from 'next/cache';
import { getViewer } from '@/lib/auth/viewer';
import { pool } from '@/lib/db/pool';
import { performResolveReview } from '@/lib/resolve-review-action';
import type { ResolveReviewState } from '@/lib/review-schemas';

export async function resolveReviewAction(_previous: ResolveReviewState, form: FormData): Promise<ResolveReviewState> {
  return performResolveReview(
    {
      viewer: getViewer,
      sql: pool,
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
