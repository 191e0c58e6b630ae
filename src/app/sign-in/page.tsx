import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { getViewer } from '@/lib/auth/viewer';
import { SignInForm } from './sign-in-form';

export const metadata: Metadata = { title: 'Sign in' };

export default async function SignInPage() {
  const viewer = await getViewer();
  if (viewer.kind === 'operator') redirect('/reviews');
  if (viewer.kind === 'not-operator') redirect('/not-an-operator');
  return (
    <div className="mx-auto mt-12 max-w-sm rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
      <h1 className="text-lg font-semibold">Sign in to Taskweave</h1>
      {viewer.kind === 'misconfigured' ? (
        <div role="alert" className="mt-4 rounded-md bg-amber-50 p-3 text-sm text-amber-900">
          <p className="font-medium">Sign-in is not set up.</p>
          <p className="mt-1">{viewer.problem}</p>
        </div>
      ) : (
        <>
          <p className="mt-1 mb-5 text-sm text-slate-600">Operators triage failed tasks here.</p>
          <SignInForm />
        </>
      )}
    </div>
  );
}
