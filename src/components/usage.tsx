// Token usage and cost of a task, and a run's usage against its limits (tasks.usage, taskweave.runs). A
// run's limits are optional: a missing one shows the count alone. Cost is shown wherever tokens are.
import type { Json, Tables } from '@/lib/db/types';
import { taskUsage } from '@/lib/db/types';
import { formatAge, formatCount, formatTimestamp, formatUntil, formatUsd, plural } from '@/lib/format';

type RunRow = Tables<'runs'>;

export function TaskTokens({ usage }: { usage: Json | null }) {
  const u = taskUsage(usage);
  if (u.model_steps === 0 && u.input_tokens === 0 && u.output_tokens === 0) return <span>none yet</span>;
  return (
    <span data-testid="task-usage">
      {formatCount(u.input_tokens + u.output_tokens)} tokens ({formatCount(u.input_tokens)} in, {formatCount(u.output_tokens)} out) over{' '}
      {plural(u.model_steps, 'model step')}
      {/* no price set for the model leaves the cost at 0: unknown, so it is not shown as $0.00 */}
      {u.cost_usd !== null && u.cost_usd > 0 ? (
        <>
          {', '}
          <span data-testid="task-cost">{formatUsd(u.cost_usd)}</span>
        </>
      ) : null}
    </span>
  );
}

/** numeric columns arrive as strings from the pool and as numbers inside jsonb */
const dollars = (value: number | string | null | undefined): number | null => (value === null || value === undefined ? null : Number(value));

/** A run's limits that have been reached, e.g. ["tokens", "deadline"]. */
export function limitsReached(run: RunRow, now: Date = new Date()): string[] {
  const reached: string[] = [];
  if (run.max_tokens !== null && run.input_tokens + run.output_tokens >= run.max_tokens) reached.push('tokens');
  const maxCost = dollars(run.max_cost_usd);
  if (maxCost !== null && (dollars(run.cost_usd) ?? 0) >= maxCost) reached.push('cost');
  if (run.max_tasks !== null && run.task_count >= run.max_tasks) reached.push('tasks');
  if (run.deadline_at !== null && new Date(run.deadline_at).getTime() <= now.getTime()) reached.push('deadline');
  return reached;
}

function Meter({ value, max, label }: { value: number; max: number; label: string }) {
  const over = value >= max;
  return (
    <span
      role="meter"
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={Math.min(value, max)}
      aria-label={label}
      className="inline-block h-1.5 w-20 overflow-hidden rounded-full bg-slate-200 align-middle"
    >
      <span className={`block h-full ${over ? 'bg-rose-500' : 'bg-emerald-500'}`} style={{ width: `${max > 0 ? Math.min(100, (value / max) * 100) : 100}%` }} />
    </span>
  );
}

/** "1,234 of 50,000 tokens · $0.0123 of $1.00 · 5 of 20 tasks · deadline 18:30 UTC (in 12 min)" with meters. */
export function RunUsage({ run, className = '' }: { run: RunRow; className?: string }) {
  const tokens = run.input_tokens + run.output_tokens;
  const cost = dollars(run.cost_usd) ?? 0;
  const maxCost = dollars(run.max_cost_usd);
  const reached = limitsReached(run);
  return (
    <ul className={`flex flex-wrap items-center gap-x-4 gap-y-1 text-xs text-slate-700 ${className}`} data-testid="run-usage" data-limits-reached={reached.join(' ')}>
      <li className="flex items-center gap-1.5" data-testid="run-tokens">
        {run.max_tokens !== null ? <Meter value={tokens} max={run.max_tokens} label="Tokens used of the run's limit" /> : null}
        <span>
          {formatCount(tokens)}
          {run.max_tokens !== null ? ` of ${formatCount(run.max_tokens)}` : ''} tokens
          <span className="text-slate-500">
            {' '}
            ({formatCount(run.input_tokens)} in, {formatCount(run.output_tokens)} out)
          </span>
        </span>
      </li>
      <li className="flex items-center gap-1.5" data-testid="run-cost">
        {maxCost !== null ? <Meter value={cost} max={maxCost} label="Cost of the run's limit" /> : null}
        <span>
          {formatUsd(cost)}
          {maxCost !== null ? ` of ${formatUsd(maxCost)}` : ''}
        </span>
      </li>
      <li className="flex items-center gap-1.5" data-testid="run-tasks">
        {run.max_tasks !== null ? <Meter value={run.task_count} max={run.max_tasks} label="Tasks created of the run's limit" /> : null}
        <span>
          {formatCount(run.task_count)}
          {run.max_tasks !== null ? ` of ${formatCount(run.max_tasks)}` : ''} {run.task_count === 1 && run.max_tasks === null ? 'task' : 'tasks'}
        </span>
      </li>
      {run.deadline_at !== null ? (
        <li data-testid="run-deadline">
          {reached.includes('deadline') ? (
            <span className="text-rose-800">
              deadline passed at <time dateTime={run.deadline_at}>{formatTimestamp(run.deadline_at)}</time> ({formatAge(run.deadline_at)})
            </span>
          ) : (
            <span>
              deadline <time dateTime={run.deadline_at}>{formatTimestamp(run.deadline_at)}</time> ({formatUntil(run.deadline_at)})
            </span>
          )}
        </li>
      ) : null}
    </ul>
  );
}
