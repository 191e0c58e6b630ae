// The web app's view of the one generated types file (supabase/functions/_shared/database.types.ts,
// written by `npm run db:types`): row types and the status enum come from there, never by hand.
import { Constants, type Database, type Json } from '../../../supabase/functions/_shared/database.types';

export type { Database, Json };

type Schema = Database['taskweave'];

/** A row of a Taskweave table, e.g. `Tables<'tasks'>`, as the pool returns it (src/lib/server/db.ts). */
export type Tables<T extends keyof Schema['Tables']> = Schema['Tables'][T]['Row'];
export type Enums<T extends keyof Schema['Enums']> = Schema['Enums'][T];

export type TaskStatus = Enums<'task_status'>;
/** Every status, in the enum's order. */
export const TASK_STATUSES: readonly TaskStatus[] = Constants.taskweave.Enums.task_status;
/** Statuses a task never leaves (docs/contracts.md §1). */
export const ENDED_STATUSES = ['completed', 'failed', 'cancelled'] as const satisfies readonly TaskStatus[];

export function hasEnded(status: TaskStatus): boolean {
  return (ENDED_STATUSES as readonly TaskStatus[]).includes(status);
}

/** tasks.usage: a task's tokens summed over its model steps, and their cost where a price is known (a run sums its own, in taskweave.runs' columns). */
export interface TaskUsage {
  input_tokens: number;
  output_tokens: number;
  model_steps: number;
  /** US dollars at taskweave.model_prices; null when no step had a price (tasks.usage has no cost_usd) */
  cost_usd: number | null;
}

/** tasks.usage as stored (jsonb, keys may be missing before the first model step). */
export function taskUsage(value: Json | null | undefined): TaskUsage {
  const o = value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const cost = typeof o.cost_usd === 'number' ? o.cost_usd : typeof o.cost_usd === 'string' ? Number(o.cost_usd) : NaN;
  return { input_tokens: n(o.input_tokens), output_tokens: n(o.output_tokens), model_steps: n(o.model_steps), cost_usd: Number.isFinite(cost) ? cost : null };
}
