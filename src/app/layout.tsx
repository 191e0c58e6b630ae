import type { Metadata } from 'next';
import Link from 'next/link';
import { LiveUpdates } from '@/components/live-updates';
import { getViewer } from '@/lib/auth/viewer';
import { signOutAction } from './sign-in/actions';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'Taskweave', template: '%s · Taskweave' },
  description: 'Operate Taskweave: triage failed parallel tasks, follow fan-outs, resolve reviews.',
};

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const viewer = await getViewer();
  return (
    <html lang="en">
      <body className="min-h-screen bg-slate-100 font-sans text-slate-900 antialiased">
        <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:rounded focus:bg-white focus:px-3 focus:py-2">
          Skip to content
        </a>
        <header className="border-b border-slate-200 bg-white">
          <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
            <Link href="/" className="text-base font-semibold tracking-tight text-slate-900">
              Taskweave
            </Link>
            {viewer.kind === 'operator' ? (
              <nav aria-label="Main" className="flex gap-4 text-sm">
                <Link href="/" className="text-slate-700 hover:text-slate-950">
                  Overview
                </Link>
                <Link href="/reviews" className="text-slate-700 hover:text-slate-950">
                  Reviews
                </Link>
                <Link href="/agents" className="text-slate-700 hover:text-slate-950">
                  Agents
                </Link>
              </nav>
            ) : null}
            <div className="ml-auto flex items-center gap-4 text-sm">
              {viewer.kind === 'operator' ? <LiveUpdates viewerName={viewer.name} /> : null}
              {viewer.kind === 'operator' && viewer.mode === 'local' ? (
                <span className="rounded bg-amber-100 px-2 py-0.5 text-xs text-amber-900" title="No sign-in: local operator mode">
                  local operator
                </span>
              ) : null}
              {viewer.kind === 'operator' || viewer.kind === 'not-operator' ? (
                <span className="text-slate-600" data-testid="viewer">
                  {viewer.name}
                </span>
              ) : null}
              {(viewer.kind === 'operator' && viewer.mode === 'supabase') || viewer.kind === 'not-operator' ? (
                <form action={signOutAction}>
                  <button type="submit" className="text-slate-600 underline-offset-2 hover:underline">
                    Sign out
                  </button>
                </form>
              ) : null}
            </div>
          </div>
        </header>
        <main id="main" className="mx-auto max-w-6xl px-4 py-6">
          {children}
        </main>
      </body>
    </html>
  );
}
