'use client';

export default function PageError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div role="alert" className="mx-auto mt-12 max-w-lg rounded-lg bg-white p-6 shadow-sm ring-1 ring-rose-200">
      <h1 className="text-lg font-semibold text-rose-900">This page could not be loaded</h1>
      <p className="mt-2 text-sm text-slate-700">
        The server could not read from the database. Check that it is running (<code>npm run db:start</code>) and that DATABASE_URL points at it.
      </p>
      {error.digest ? <p className="mt-2 text-xs text-slate-500">Reference: {error.digest}</p> : null}
      <button type="button" onClick={reset} className="mt-4 rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-800">
        Try again
      </button>
    </div>
  );
}
