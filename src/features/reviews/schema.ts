// What an operator may submit to resolve a review, parsed once here and used by both the browser (to
// show a mistake before the round trip) and the server action (which never trusts the browser).
import { z } from 'zod';
import type { Json } from '../../lib/db/types';

export const REVIEW_ACTIONS = ['retry', 'abort', 'manual'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

export const MANUAL_OUTPUT_MAX_CHARS = 100_000;
export const NOTE_MAX_CHARS = 2_000;

/** Any JSON value, as the generated types define it. */
export type JsonValue = Json;

const optionalNote = z
  .string()
  .trim()
  .max(NOTE_MAX_CHARS, `Keep the note under ${NOTE_MAX_CHARS.toLocaleString('en-US')} characters.`)
  .optional()
  .transform((note) => (note ? note : undefined));

const reviewId = z.uuid({ message: 'This review id is not valid; reload the page.' });

/**
 * The manual output field: with format "json" it must parse as JSON (any value); with "text" it is
 * stored as a JSON string. Either way it may not be blank, since a blank output would silently feed the
 * aggregator nothing.
 */
export function parseManualOutput(raw: string, format: 'text' | 'json'): { ok: true; value: JsonValue } | { ok: false; error: string } {
  if (raw.trim() === '') return { ok: false, error: 'Write the output this task should have produced.' };
  if (raw.length > MANUAL_OUTPUT_MAX_CHARS) {
    return { ok: false, error: `The output is too long (${raw.length.toLocaleString('en-US')} characters; at most ${MANUAL_OUTPUT_MAX_CHARS.toLocaleString('en-US')}).` };
  }
  if (format === 'text') return { ok: true, value: raw };
  try {
    return { ok: true, value: JSON.parse(raw) as JsonValue };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `This is not valid JSON (${detail}). Fix it, or choose "Text" to save it as plain text.` };
  }
}

export const reviewDecisionSchema = z.discriminatedUnion(
  'action',
  [
    z.object({ reviewId, action: z.literal('retry'), note: optionalNote }),
    z.object({ reviewId, action: z.literal('abort'), note: optionalNote }),
    z
      .object({
        reviewId,
        action: z.literal('manual'),
        manualFormat: z.enum(['text', 'json']).default('text'),
        manualOutput: z.string({ message: 'Write the output this task should have produced.' }),
        note: optionalNote,
      })
      .transform((input, ctx) => {
        const parsed = parseManualOutput(input.manualOutput, input.manualFormat);
        if (!parsed.ok) {
          ctx.addIssue({ code: 'custom', path: ['manualOutput'], message: parsed.error });
          return z.NEVER;
        }
        return { reviewId: input.reviewId, action: 'manual' as const, manualOutput: parsed.value, note: input.note };
      }),
  ],
  { error: () => 'Choose retry, abort or manual.' },
);

export type ReviewDecision = { reviewId: string; note?: string } & (
  | { action: 'retry' | 'abort' }
  | { action: 'manual'; manualOutput: JsonValue }
);
// the schema's output must fit the type the data access takes
const _schemaFits: (value: z.output<typeof reviewDecisionSchema>) => ReviewDecision = (value) => value;
void _schemaFits;
export type DecisionFieldErrors = Partial<Record<'reviewId' | 'action' | 'manualOutput' | 'manualFormat' | 'note', string[]>>;

/** Form fields -> plain object: only the fields the schema knows, blank strings kept (the schema decides). */
export function formToObject(form: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['reviewId', 'action', 'manualFormat', 'manualOutput', 'note']) {
    const value = form.get(key);
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

export function parseDecisionForm(
  form: FormData,
): { success: true; data: ReviewDecision } | { success: false; errors: DecisionFieldErrors } {
  const result = reviewDecisionSchema.safeParse(formToObject(form));
  if (result.success) return { success: true, data: result.data };
  return { success: false, errors: z.flattenError(result.error).fieldErrors as DecisionFieldErrors };
}

/** What a server action hands back to `useActionState`: words for the operator, never raw rows. */
export interface DecisionState {
  status: 'idle' | 'success' | 'error';
  message: string;
  errors: DecisionFieldErrors;
  reviewId?: string;
  action?: ReviewAction;
  /** distinguishes two identical results so the banner re-announces them */
  at: number;
}

export const initialDecisionState: DecisionState = { status: 'idle', message: '', errors: {}, at: 0 };
