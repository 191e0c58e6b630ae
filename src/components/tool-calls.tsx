// Calls of registered tools (taskweave.tool_calls), as the task page and /agents list them: what was
// asked, what came back (cut to a preview), how long it took and what went wrong.
import Link from 'next/link';
import { CollapsibleText } from '@/components/collapsible-text';
import type { ToolCallRow, ToolCallStatus } from '@/features/agents/queries';
import { formatCount, formatTimestamp } from '@/lib/format';

const statusTone: Record<string, string> = {
  awaiting_approval: 'bg-amber-50 text-amber-900 ring-amber-300',
  started: 'bg-indigo-50 text-indigo-800 ring-indigo-300',
  succeeded: 'bg-emerald-50 text-emerald-800 ring-emerald-300',
  failed: 'bg-rose-50 text-rose-800 ring-rose-300',
  rejected: 'bg-zinc-100 text-zinc-700 ring-zinc-300',
};

export function ToolCallStatusBadge({ status }: { status: ToolCallStatus }) {
  return (
    <span
      data-call-status={status}
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${statusTone[status] ?? statusTone.started}`}
    >
      {status.replaceAll('_', ' ')}
    </span>
  );
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function ToolCallList({ calls, showTask = false, empty }: { calls: ToolCallRow[]; showTask?: boolean; empty: string }) {
  if (calls.length === 0) return <p className="text-sm text-slate-500">{empty}</p>;
  return (
    <ol className="space-y-3" aria-label="Tool calls">
      {calls.map((call) => (
        <li key={call.id} data-testid="tool-call" data-tool-call-id={call.tool_call_id} className="rounded-md bg-slate-50 p-3 text-sm ring-1 ring-slate-200">
          <div className="flex flex-wrap items-center gap-2">
            <code className="font-semibold text-slate-900">{call.tool_name}</code>
            <ToolCallStatusBadge status={call.status} />
            <span className="text-xs text-slate-600" data-testid="tool-call-duration">
              {call.duration_ms !== null ? formatDuration(call.duration_ms) : call.ended_at ? '—' : 'no result yet'}
            </span>
            {showTask ? (
              <Link prefetch={false} href={`/tasks/${call.task_id}`} className="text-xs text-indigo-700 hover:underline">
                {call.task_title}
              </Link>
            ) : null}
            <time dateTime={call.started_at} className="ml-auto text-xs text-slate-500">
              {formatTimestamp(call.started_at)}
            </time>
          </div>
          <div className="mt-2 grid gap-2 lg:grid-cols-2">
            <div>
              <p className="mb-0.5 text-xs font-medium text-slate-600">Arguments</p>
              <CollapsibleText text={call.arguments_text} previewLines={6} label="arguments" />
            </div>
            <div>
              <p className="mb-0.5 text-xs font-medium text-slate-600">Result</p>
              {call.result_text === null ? (
                <p className="text-xs text-slate-500">none</p>
              ) : (
                <>
                  <CollapsibleText text={call.result_text} previewLines={6} label="result" />
                  {call.result_chars > call.result_text.length ? (
                    <p className="mt-0.5 text-xs text-slate-500" data-testid="tool-call-truncated">
                      First {formatCount(call.result_text.length)} of {formatCount(call.result_chars)} characters.
                    </p>
                  ) : null}
                </>
              )}
            </div>
          </div>
          {call.error ? (
            <p role="note" className="mt-2 rounded bg-rose-50 px-2 py-1 text-xs text-rose-900 ring-1 ring-rose-200" data-testid="tool-call-error">
              {call.error}
            </p>
          ) : null}
        </li>
      ))}
    </ol>
  );
}
