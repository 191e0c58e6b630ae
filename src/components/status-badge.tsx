import type { TaskStatus } from '@/lib/db/types';

// One colour per status, used by badges and the fan-out picture alike.
export const statusStyles: Record<TaskStatus, { badge: string; fill: string; stroke: string; label: string }> = {
  pending: { badge: 'bg-sky-50 text-sky-800 ring-sky-300', fill: '#e0f2fe', stroke: '#0284c7', label: 'pending' },
  queued: { badge: 'bg-slate-100 text-slate-700 ring-slate-300', fill: '#f1f5f9', stroke: '#64748b', label: 'queued' },
  running: { badge: 'bg-indigo-50 text-indigo-800 ring-indigo-300', fill: '#e0e7ff', stroke: '#4f46e5', label: 'running' },
  needs_human_review: { badge: 'bg-amber-50 text-amber-900 ring-amber-400', fill: '#fef3c7', stroke: '#d97706', label: 'needs review' },
  completed: { badge: 'bg-emerald-50 text-emerald-800 ring-emerald-300', fill: '#d1fae5', stroke: '#059669', label: 'completed' },
  failed: { badge: 'bg-rose-50 text-rose-800 ring-rose-300', fill: '#ffe4e6', stroke: '#e11d48', label: 'failed' },
  cancelled: { badge: 'bg-zinc-100 text-zinc-600 ring-zinc-300', fill: '#f4f4f5', stroke: '#71717a', label: 'cancelled' },
};

export function StatusBadge({ status }: { status: TaskStatus }) {
  const style = statusStyles[status] ?? statusStyles.queued;
  return (
    <span
      data-status={status}
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${style.badge}`}
    >
      {style.label}
    </span>
  );
}

export function Badge({ children, tone = 'slate' }: { children: React.ReactNode; tone?: 'slate' | 'violet' | 'amber' | 'rose' }) {
  const tones = {
    slate: 'bg-slate-100 text-slate-700 ring-slate-300',
    violet: 'bg-violet-50 text-violet-800 ring-violet-300',
    amber: 'bg-amber-50 text-amber-900 ring-amber-300',
    rose: 'bg-rose-50 text-rose-800 ring-rose-300',
  };
  return <span className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${tones[tone]}`}>{children}</span>;
}
