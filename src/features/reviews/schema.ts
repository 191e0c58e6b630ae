// What an operator may submit to resolve a review, parsed once here and used by both the browser (to
// show a mistake before the round trip) and the server action (which never trusts the browser).
import { z } from 'zod';
import type { Json } from '../../lib/db/types';

/** Every action a review can be resolved with; which ones a review takes depends on its kind. */
export const REVIEW_ACTIONS = ['retry', 'abort', 'manual', 'approve', 'reject', 'answer'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

export const REVIEW_KINDS = ['failure', 'approval', 'question', 'interrupted_call'] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

export const MANUAL_OUTPUT_MAX_CHARS = 100_000;
export const NOTE_MAX_CHARS = 2_000;
export const ANSWER_MAX_CHARS = 10_000;
export const ARGUMENTS_MAX_CHARS = 100_000;

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

/**
 * Edited arguments of an approval: a JSON object. Whether they fit the tool's input schema is checked
 * beside this (the schema is the review's, read from the database), with `schemaIssues`.
 */
export function parseArguments(raw: string): { ok: true; value: { [key: string]: JsonValue } } | { ok: false; error: string } {
  if (raw.trim() === '') return { ok: false, error: 'Write the arguments as a JSON object, or approve the call as asked.' };
  if (raw.length > ARGUMENTS_MAX_CHARS) {
    return { ok: false, error: `The arguments are too long (${raw.length.toLocaleString('en-US')} characters; at most ${ARGUMENTS_MAX_CHARS.toLocaleString('en-US')}).` };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `This is not valid JSON (${detail}).` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'The arguments must be a JSON object: { … }.' };
  return { ok: true, value: value as { [key: string]: JsonValue } };
}

const requiredReason = z
  .string({ message: 'Say why: the model is given this reason instead of the tool’s result.' })
  .trim()
  .min(1, 'Say why: the model is given this reason instead of the tool’s result.')
  .max(NOTE_MAX_CHARS, `Keep the reason under ${NOTE_MAX_CHARS.toLocaleString('en-US')} characters.`);

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
    z
      .object({ reviewId, action: z.literal('approve'), arguments: z.string().optional(), note: optionalNote })
      .transform((input, ctx) => {
        if (input.arguments === undefined) return { reviewId: input.reviewId, action: 'approve' as const, note: input.note };
        const parsed = parseArguments(input.arguments);
        if (!parsed.ok) {
          ctx.addIssue({ code: 'custom', path: ['arguments'], message: parsed.error });
          return z.NEVER;
        }
        return { reviewId: input.reviewId, action: 'approve' as const, arguments: parsed.value, note: input.note };
      }),
    z.object({ reviewId, action: z.literal('reject'), note: requiredReason }),
    z
      .object({
        reviewId,
        action: z.literal('answer'),
        // the free text wins over a chosen option: typing is the more deliberate act
        answer: z.string().trim().max(ANSWER_MAX_CHARS, `Keep the answer under ${ANSWER_MAX_CHARS.toLocaleString('en-US')} characters.`).optional(),
        option: z.string().optional(),
        note: optionalNote,
      })
      .transform((input, ctx) => {
        const answer = input.answer || input.option;
        if (!answer) {
          ctx.addIssue({ code: 'custom', path: ['answer'], message: 'Choose one of the options or write an answer.' });
          return z.NEVER;
        }
        return { reviewId: input.reviewId, action: 'answer' as const, answer, note: input.note };
      }),
  ],
  { error: () => 'Choose an action this review takes.' },
);

export type ReviewDecision = { reviewId: string; note?: string } & (
  | { action: 'retry' | 'abort' }
  | { action: 'manual'; manualOutput: JsonValue }
  | { action: 'approve'; arguments?: { [key: string]: JsonValue } }
  | { action: 'reject'; note: string }
  | { action: 'answer'; answer: string }
);
// the schema's output must fit the type the data access takes
const _schemaFits: (value: z.output<typeof reviewDecisionSchema>) => ReviewDecision = (value) => value;
void _schemaFits;
export type DecisionField = 'reviewId' | 'action' | 'manualOutput' | 'manualFormat' | 'note' | 'arguments' | 'answer' | 'option';
export type DecisionFieldErrors = Partial<Record<DecisionField, string[]>>;

/** Form fields -> plain object: only the fields the schema knows, blank strings kept (the schema decides). */
export function formToObject(form: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['reviewId', 'action', 'manualFormat', 'manualOutput', 'note', 'arguments', 'answer', 'option']) {
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

// ---------------------------------------------------------------------------------------------
// many reviews at once: "Select all that match", then one action

/** Above this many reviews, a bulk action asks the operator to confirm the count first. */
export const BULK_CONFIRM_ABOVE = 20;

export const BULK_ACTION_NAMES = ['retry', 'abort', 'approve', 'reject'] as const;
export type BulkActionName = (typeof BULK_ACTION_NAMES)[number];

export const bulkSchema = z.discriminatedUnion(
  'action',
  [
    z.object({ action: z.literal('retry'), note: optionalNote, confirmed: z.coerce.number().int().min(0).optional() }),
    z.object({ action: z.literal('abort'), note: optionalNote, confirmed: z.coerce.number().int().min(0).optional() }),
    z.object({ action: z.literal('approve'), note: optionalNote, confirmed: z.coerce.number().int().min(0).optional() }),
    z.object({ action: z.literal('reject'), note: requiredReason, confirmed: z.coerce.number().int().min(0).optional() }),
  ],
  { error: () => 'Choose retry, abort, approve or reject.' },
);
export type BulkRequest = { action: BulkActionName; note?: string; confirmed?: number };
const _bulkFits: (value: z.output<typeof bulkSchema>) => BulkRequest = (value) => value;
void _bulkFits;
export type BulkFieldErrors = Partial<Record<'action' | 'note' | 'confirmed', string[]>>;

export function parseBulkForm(form: FormData): { success: true; data: BulkRequest } | { success: false; errors: BulkFieldErrors } {
  const raw: Record<string, string> = {};
  for (const key of ['action', 'note', 'confirmed']) {
    const value = form.get(key);
    if (typeof value === 'string' && value !== '') raw[key] = value;
  }
  const result = bulkSchema.safeParse(raw);
  if (result.success) return { success: true, data: result.data };
  return { success: false, errors: z.flattenError(result.error).fieldErrors as BulkFieldErrors };
}

/** What the bulk action hands back: words, and for a large set the count the operator must confirm. */
export interface BulkState {
  status: 'idle' | 'success' | 'error' | 'confirm';
  message: string;
  errors: BulkFieldErrors;
  action?: BulkActionName;
  /** confirm: how many reviews the action would resolve */
  count?: number;
  /** confirm: the reason given, carried into the confirmation */
  note?: string;
  resolved?: number;
  skipped?: number;
  at: number;
}

export const initialBulkState: BulkState = { status: 'idle', message: '', errors: {}, at: 0 };
