export default function TaskLoading() {
  return (
    <div className="animate-pulse space-y-4" aria-busy="true" aria-label="Loading task">
      <div className="h-7 w-2/3 rounded bg-slate-200" />
      <div className="h-48 rounded-lg bg-slate-200" />
      <div className="grid gap-4 lg:grid-cols-2">
        <div className="h-32 rounded-lg bg-slate-200" />
        <div className="h-32 rounded-lg bg-slate-200" />
      </div>
    </div>
  );
}
