import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { getViewer } from '@/lib/auth/viewer';
import { signOutAction } from '../sign-in/actions';

export const metadata: Metadata = { title: 'Not an operator' };

export default async function NotAnOperatorPage() {
  const viewer = await getViewer();
  if (viewer.kind === 'operator') redirect('/reviews');
  if (viewer.kind !== 'not-operator') redirect('/sign-in');
  return (
    <div className="mx-auto mt-12 max-w-lg rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
      <h1 className="text-lg font-semibold">You are not an operator</h1>
      <p className="mt-3 text-sm text-slate-700">
        You are signed in as <strong>{viewer.name}</strong>, but this account is not an operator, so it cannot see tasks or resolve
        reviews.
      </p>
      <p className="mt-3 text-sm text-slate-700">
        An administrator can make it one by setting <code className="rounded bg-slate-100 px-1">app_metadata.role</code> to{' '}
        <code className="rounded bg-slate-100 px-1">&quot;operator&quot;</code> in Supabase Auth; sign in again afterwards.
      </p>
      <form action={signOutAction} className="mt-5">
        <button type="submit" className="rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-800">
          Sign out and use another account
        </button>
      </form>
    </div>
  );
}
