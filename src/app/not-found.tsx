import Link from 'next/link';

export default function NotFound() {
  return (
    <div className="mx-auto mt-12 max-w-md rounded-lg bg-white p-6 text-center shadow-sm ring-1 ring-slate-200">
      <h1 className="text-lg font-semibold">Page not found</h1>
      <Link href="/" className="mt-4 inline-block text-sm text-indigo-700 hover:underline">
        Back to the overview
      </Link>
    </div>
  );
}
