// How the app knows who is asking. Two modes:
// - "supabase": Supabase Auth through @supabase/ssr (hosted, or a local `supabase start` stack).
// - "local": no sign-in; every request acts as one fixed local operator. Only for a developer's own
//   machine: on when TASKWEAVE_LOCAL_OPERATOR=1, or under `next dev` reached through a loopback host
//   with no Supabase Auth configured. A production build refuses it unless the loudly named
//   TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION=1 is set too (the browser tests use that, on 127.0.0.1).
// Pure: takes the environment and the request host, so it is tested without a server.
import type { Claims } from '../db/identity';

export const LOCAL_OPERATOR_CLAIMS: Claims = {
  sub: '10ca1000-0000-4000-8000-000000000001',
  email: 'local-operator@localhost',
  role: 'authenticated',
  app_metadata: { role: 'operator' },
};

export type AuthMode =
  | { kind: 'local'; reason: string }
  | { kind: 'supabase'; url: string; anonKey: string }
  | { kind: 'misconfigured'; problem: string };

type Env = Record<string, string | undefined>;

export function supabaseAuthConfig(env: Env): { url: string; anonKey: string } | undefined {
  const url = env.NEXT_PUBLIC_SUPABASE_URL || env.SUPABASE_URL;
  const anonKey = env.NEXT_PUBLIC_SUPABASE_ANON_KEY || env.NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY || env.SUPABASE_ANON_KEY;
  return url && anonKey ? { url, anonKey } : undefined;
}

export function isLoopbackHost(host: string | null | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name) || name.endsWith('.localhost');
}

export function decideAuthMode(env: Env, host: string | null | undefined): AuthMode {
  const production = env.NODE_ENV === 'production';
  const unsafeOverride = env.TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION === '1';
  const local = env.TASKWEAVE_LOCAL_OPERATOR;
  const supabase = supabaseAuthConfig(env);

  if (local === '1' || local === 'true') {
    if (production && !unsafeOverride) {
      return {
        kind: 'misconfigured',
        problem:
          'TASKWEAVE_LOCAL_OPERATOR=1 lets anyone act as an operator without signing in, so production builds refuse it. ' +
          'Configure Supabase Auth (NEXT_PUBLIC_SUPABASE_URL and NEXT_PUBLIC_SUPABASE_ANON_KEY) instead, or run `npm run web:dev` on your own machine.',
      };
    }
    return { kind: 'local', reason: production ? 'TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION=1' : 'TASKWEAVE_LOCAL_OPERATOR=1' };
  }
  if (supabase) return { kind: 'supabase', ...supabase };
  if (local !== '0' && local !== 'false' && env.NODE_ENV === 'development' && isLoopbackHost(host)) {
    return { kind: 'local', reason: 'next dev on a loopback address' };
  }
  return {
    kind: 'misconfigured',
    problem:
      'No sign-in is configured. Set NEXT_PUBLIC_SUPABASE_URL and NEXT_PUBLIC_SUPABASE_ANON_KEY for Supabase Auth, ' +
      'or, on your own machine, run `npm run web:dev` (local operator mode on 127.0.0.1).',
  };
}

export function isOperatorClaims(claims: { app_metadata?: { role?: unknown } } | null | undefined): boolean {
  return claims?.app_metadata?.role === 'operator';
}
