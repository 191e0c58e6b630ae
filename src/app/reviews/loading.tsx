export default function ReviewsLoading() {
  return (
    <div className="animate-pulse space-y-4" aria-busy="true" aria-label="Loading reviews">
      <div className="h-7 w-40 rounded bg-slate-200" />
      {[0, 1, 2].map((i) => (
        <div key={i} className="h-56 rounded-lg bg-slate-200" />
      ))}
    </div>
  );
}
