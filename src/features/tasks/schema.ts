// What an operator may submit to cancel a task: parsed by the server action (never trusting the
// browser) and shared with the dialog.
import { z } from 'zod';

export const CANCEL_NOTE_MAX_CHARS = 2_000;

export const cancelTaskSchema = z.object({
  taskId: z.uuid({ message: 'This task id is not valid; reload the page.' }),
  note: z
    .string()
    .trim()
    .max(CANCEL_NOTE_MAX_CHARS, `Keep the note under ${CANCEL_NOTE_MAX_CHARS.toLocaleString('en-US')} characters.`)
    .optional()
    .transform((note) => (note ? note : undefined)),
});

export type CancelTaskInput = { taskId: string; note?: string };
// the schema's output must fit the type the service takes
const _schemaFits: (value: z.output<typeof cancelTaskSchema>) => CancelTaskInput = (value) => value;
void _schemaFits;
export type CancelFieldErrors = Partial<Record<'taskId' | 'note', string[]>>;

export function parseCancelForm(form: FormData): { success: true; data: CancelTaskInput } | { success: false; errors: CancelFieldErrors } {
  const raw: Record<string, string> = {};
  for (const key of ['taskId', 'note']) {
    const value = form.get(key);
    if (typeof value === 'string') raw[key] = value;
  }
  const result = cancelTaskSchema.safeParse(raw);
  if (result.success) return { success: true, data: result.data };
  return { success: false, errors: z.flattenError(result.error).fieldErrors as CancelFieldErrors };
}

/** What the cancel action hands back to `useActionState`. */
export interface CancelState {
  status: 'idle' | 'success' | 'error';
  message: string;
  errors: CancelFieldErrors;
  /** distinguishes two identical results so the banner re-announces them */
  at: number;
}

export const initialCancelState: CancelState = { status: 'idle', message: '', errors: {}, at: 0 };
