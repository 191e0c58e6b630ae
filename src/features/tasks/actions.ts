'use server';
// The task page's server action, wired to the real viewer, pool and cache.
import { revalidatePath } from 'next/cache';
import { getViewer } from '@/lib/auth/viewer';
import { db } from '@/lib/server/db';
import type { CancelState } from './schema';
import { cancelFromForm } from './service';

export async function cancelTaskAction(_previous: CancelState, form: FormData): Promise<CancelState> {
  return cancelFromForm(
    {
      viewer: getViewer,
      sql: db,
      revalidate: () => {
        // the task, its descendants, its parent's group, the overview and the review queue all changed
        revalidatePath('/tasks/[id]', 'page');
        revalidatePath('/reviews');
        revalidatePath('/');
      },
      log: (message, error) => console.error(`[tasks] ${message}:`, error),
    },
    form,
  );
}
