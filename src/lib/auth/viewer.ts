import 'server-only';
// Who is asking, decided once per request. Pages, server actions and the live-updates stream each ask
// for themselves (a server action is reachable by a plain POST, whatever the page showed).
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { cache } from 'react';
import type { Claims } from '../db/identity';
import { serverConfig } from '../server/config';
import { LOCAL_OPERATOR_CLAIMS, PEER_HEADER, decideAuthMode, isOperatorClaims, type AuthMode } from './mode';
import { supabaseForRequest } from './supabase-server';

export type Viewer =
  | { kind: 'operator'; claims: Claims; name: string; mode: 'local' | 'supabase' }
  | { kind: 'not-operator'; name: string }
  | { kind: 'signed-out' }
  | { kind: 'misconfigured'; problem: string };

export const authMode = cache(async (): Promise<AuthMode> => {
  const requestHeaders = await headers();
  return decideAuthMode(serverConfig().auth, { host: requestHeaders.get('host'), peer: requestHeaders.get(PEER_HEADER) });
});

export const getViewer = cache(async (): Promise<Viewer> => {
  const mode = await authMode();
  if (mode.kind === 'misconfigured') return { kind: 'misconfigured', problem: mode.problem };
  if (mode.kind === 'local') {
    return { kind: 'operator', claims: LOCAL_OPERATOR_CLAIMS, name: LOCAL_OPERATOR_CLAIMS.email!, mode: 'local' };
  }
  const supabase = await supabaseForRequest(mode);
  // getUser asks the Auth server, so a revoked or forged session is not trusted
  const { data, error } = await supabase.auth.getUser();
  if (error || !data.user) return { kind: 'signed-out' };
  const user = data.user;
  const claims: Claims = {
    sub: user.id,
    email: user.email ?? undefined,
    role: 'authenticated',
    app_metadata: user.app_metadata ?? {},
  };
  const name = user.email || user.id;
  return isOperatorClaims(claims) ? { kind: 'operator', claims, name, mode: 'supabase' } : { kind: 'not-operator', name };
});

/** For pages: the operator, or a redirect to sign in / the "not an operator" page. */
export async function requireOperator(): Promise<Extract<Viewer, { kind: 'operator' }>> {
  const viewer = await getViewer();
  if (viewer.kind === 'operator') return viewer;
  if (viewer.kind === 'not-operator') redirect('/not-an-operator');
  redirect('/sign-in');
}
