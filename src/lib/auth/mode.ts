// How the app knows who is asking. Two modes:
// - "supabase": Supabase Auth through @supabase/ssr (hosted, or a local `supabase start` stack).
// - "local": no sign-in; a request acts as one fixed local operator. Only for a developer's own
//   machine, and only for a request that both comes from a loopback peer AND names a loopback Host:
//   the peer check keeps other machines out when the server listens on every interface; the Host check
//   keeps out a web page whose name was rebound to 127.0.0.1 (DNS rebinding), whose requests do come
//   from this machine's browser but carry the attacker's Host. Local mode is on with
//   TASKWEAVE_LOCAL_OPERATOR=1, or under `next dev` with no Supabase Auth configured. A production
//   build refuses it unless the loudly named TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION=1 is set too
//   (the browser tests use that, on 127.0.0.1).
// Pure: takes the parsed settings and the request's host and peer, so it is tested without a server.
import type { Claims } from '../db/identity';

export const LOCAL_OPERATOR_CLAIMS: Claims = {
  sub: '10ca1000-0000-4000-8000-000000000001',
  email: 'local-operator@localhost',
  role: 'authenticated',
  app_metadata: { role: 'operator' },
};

/**
 * The request header that carries the TCP peer's address, stamped by the server itself on every
 * request (src/instrumentation.ts), overwriting whatever a client sent under that name. Unlike
 * X-Forwarded-For, which Next keeps when a client supplies it, it cannot be forged from outside.
 */
export const PEER_HEADER = 'x-taskweave-peer';

/** What the auth decision needs from the configuration (src/lib/server/config.ts). */
export interface AuthSettings {
  production: boolean;
  development: boolean;
  /** TASKWEAVE_LOCAL_OPERATOR: true = on, false = off, undefined = the default (on under next dev) */
  localOperator: boolean | undefined;
  unsafeLocalOperatorInProduction: boolean;
  supabase: { url: string; anonKey: string } | undefined;
}

export interface RequestOrigin {
  /** the Host header */
  host: string | null | undefined;
  /** the TCP peer's address (PEER_HEADER) */
  peer: string | null | undefined;
}

export type AuthMode =
  | { kind: 'local'; reason: string }
  | { kind: 'supabase'; url: string; anonKey: string }
  | { kind: 'misconfigured'; problem: string };

/** A Host header naming this machine: 127.0.0.0/8, localhost or [::1], with or without a port. */
export function isLoopbackHost(host: string | null | undefined): boolean {
  if (!host) return false;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(host.trim());
  if (!match) return false;
  const name = (match[1] ?? match[2]).toLowerCase();
  return match[1] !== undefined ? name === '::1' : name === 'localhost' || isLoopbackIPv4(name);
}

/** A socket's remote address on this machine: 127.0.0.0/8, ::1, or IPv4-mapped 127.x. */
export function isLoopbackAddress(address: string | null | undefined): boolean {
  if (!address) return false;
  const a = address.trim().toLowerCase();
  if (a === '::1') return true;
  return isLoopbackIPv4(a.startsWith('::ffff:') ? a.slice('::ffff:'.length) : a);
}

function isLoopbackIPv4(name: string): boolean {
  const parts = name.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

export function isLocalRequest(origin: RequestOrigin): boolean {
  return isLoopbackAddress(origin.peer) && isLoopbackHost(origin.host);
}

export function decideAuthMode(settings: AuthSettings, origin: RequestOrigin): AuthMode {
  const { production, supabase, localOperator } = settings;
  const local = isLocalRequest(origin);

  if (localOperator === true) {
    if (production && !settings.unsafeLocalOperatorInProduction) {
      return {
        kind: 'misconfigured',
        problem:
          'TASKWEAVE_LOCAL_OPERATOR=1 lets anyone act as an operator without signing in, so production builds refuse it. ' +
          'Configure Supabase Auth (NEXT_PUBLIC_SUPABASE_URL and NEXT_PUBLIC_SUPABASE_ANON_KEY) instead, or run `npm run web:dev` on your own machine.',
      };
    }
    if (local) return { kind: 'local', reason: production ? 'TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION=1' : 'TASKWEAVE_LOCAL_OPERATOR=1' };
  }
  if (supabase) return { kind: 'supabase', ...supabase };
  if (localOperator === undefined && settings.development && local) {
    return { kind: 'local', reason: 'next dev on a loopback address' };
  }
  if (localOperator !== false && (settings.development || localOperator === true) && !local) {
    // no stamp at all: the request arrived while the server was still starting (next dev registers
    // its instrumentation on the first request), so who sent it is unknown
    if (origin.peer === null || origin.peer === undefined) {
      return {
        kind: 'misconfigured',
        problem: 'The server could not yet tell where this request came from (it was still starting). Reload the page.',
      };
    }
    return {
      kind: 'misconfigured',
      problem:
        'Local operator mode serves only requests made on this machine to http://127.0.0.1 or http://localhost. ' +
        'Open the app at one of those addresses, or configure Supabase Auth (NEXT_PUBLIC_SUPABASE_URL and NEXT_PUBLIC_SUPABASE_ANON_KEY) to let others sign in.',
    };
  }
  return {
    kind: 'misconfigured',
    problem:
      'No sign-in is configured. Set NEXT_PUBLIC_SUPABASE_URL and NEXT_PUBLIC_SUPABASE_ANON_KEY for Supabase Auth, ' +
      'or, on your own machine, run `npm run web:dev` (local operator mode on 127.0.0.1).',
  };
}

export function isOperatorClaims(claims: { app_metadata?: Record<string, unknown> } | null | undefined): boolean {
  return claims?.app_metadata?.role === 'operator';
}
