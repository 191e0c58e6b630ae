// A Supabase Auth user's access token, verified: the MCP endpoint acts as that user (docs/contracts.md §3). Pure and
// dependency-free (WebCrypto), so the same module runs under Deno and under vitest in Node.
//
// Two ways a project signs its users' tokens, both accepted:
// - asymmetric JWT signing keys (ES256, RS256): the public keys are published at
//   <SUPABASE_URL>/auth/v1/.well-known/jwks.json; fetched once and cached, re-fetched for an unknown key id;
// - the legacy shared secret (HS256): locally the Supabase CLI's published secret (no Auth server runs
//   here), hosted only a secret the project sets explicitly (TASKWEAVE_JWT_SECRET).
// Besides the signature: `exp` must lie ahead, `role` must be `authenticated` (an anon or service-role
// token is not a user), `sub` must be there, and `iss` must match where an issuer is configured.

/** The Supabase CLI's local JWT secret, which its local Auth signs with (public by design, loopback only). */
export const LOCAL_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';

export interface UserClaims {
  sub: string;
  role: 'authenticated';
  email?: string;
  exp: number;
  app_metadata?: { role?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}

export interface UserTokenSettings {
  /** HS256 secrets accepted (the legacy JWT secret); empty: HS256 tokens are refused */
  hs256Secrets: string[];
  /** where the project's public signing keys are (asymmetric tokens); none: such tokens are refused */
  jwksUrl?: string;
  /** the expected `iss`, e.g. https://<ref>.supabase.co/auth/v1 */
  issuer?: string;
}

export type VerifiedToken = { ok: true; claims: UserClaims } | { ok: false; reason: string };

interface Jwk extends JsonWebKey {
  kid?: string;
  alg?: string;
}

export interface UserTokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

const encoder = new TextEncoder();
const JWKS_TTL_MS = 10 * 60_000;
const CLOCK_SKEW_SECONDS = 30;

function base64UrlDecode(part: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error('not base64url');
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (part.length % 4)) % 4);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function decodeJson(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(new TextDecoder().decode(base64UrlDecode(part)));
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
  return value as Record<string, unknown>;
}

/** Whether a string has the shape of a JWT (three base64url parts); bearer keys such as sb_secret_… do not. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

const ALGORITHMS: Record<string, { import: EcKeyImportParams | RsaHashedImportParams; verify: AlgorithmIdentifier | EcdsaParams }> = {
  ES256: { import: { name: 'ECDSA', namedCurve: 'P-256' }, verify: { name: 'ECDSA', hash: 'SHA-256' } },
  RS256: { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, verify: { name: 'RSASSA-PKCS1-v1_5' } },
};

export function createUserTokenVerifier(
  settings: UserTokenSettings,
  ports: { fetch?: typeof fetch; now?: () => number } = {},
): UserTokenVerifier {
  const fetchJson = ports.fetch ?? fetch;
  const now = ports.now ?? Date.now;
  const hmacKeys = settings.hs256Secrets
    .filter((s) => s.length > 0)
    .map((secret) => crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']));
  let jwks: { keys: Jwk[]; fetchedAt: number } | undefined;

  async function signingKeys(refresh: boolean): Promise<Jwk[]> {
    if (!settings.jwksUrl) return [];
    if (!jwks || refresh || now() - jwks.fetchedAt > JWKS_TTL_MS) {
      const response = await fetchJson(settings.jwksUrl, { headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`the signing keys could not be read (${response.status} from ${settings.jwksUrl})`);
      const body = (await response.json()) as { keys?: Jwk[] };
      jwks = { keys: Array.isArray(body.keys) ? body.keys : [], fetchedAt: now() };
    }
    return jwks.keys;
  }

  async function verifySignature(alg: string, kid: string | undefined, data: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>): Promise<boolean> {
    if (alg === 'HS256') {
      for (const key of hmacKeys) if (await crypto.subtle.verify('HMAC', await key, signature, data)) return true;
      return false;
    }
    const algorithm = ALGORITHMS[alg];
    if (!algorithm) return false;
    for (const refresh of [false, true]) {
      const candidates = (await signingKeys(refresh)).filter((k) => (kid ? k.kid === kid : true) && (!k.alg || k.alg === alg));
      for (const jwk of candidates) {
        const { kid: _kid, alg: _alg, ...keyData } = jwk;
        const key = await crypto.subtle.importKey('jwk', keyData, algorithm.import, false, ['verify']).catch(() => undefined);
        if (key && (await crypto.subtle.verify(algorithm.verify, key, signature, data))) return true;
      }
      // a key id we do not know may be a rotated key: read the key set again, once
      if (candidates.length > 0 || !kid) return false;
    }
    return false;
  }

  return {
    async verify(token) {
      if (!looksLikeJwt(token)) return { ok: false, reason: 'not a JWT' };
      const [headerPart, payloadPart, signaturePart] = token.split('.');
      let header: Record<string, unknown>;
      let payload: Record<string, unknown>;
      let signature: Uint8Array<ArrayBuffer>;
      try {
        header = decodeJson(headerPart);
        payload = decodeJson(payloadPart);
        signature = base64UrlDecode(signaturePart);
      } catch {
        return { ok: false, reason: 'the token cannot be decoded' };
      }
      const alg = typeof header.alg === 'string' ? header.alg : '';
      const kid = typeof header.kid === 'string' ? header.kid : undefined;
      if (alg === 'HS256' ? hmacKeys.length === 0 : !(alg in ALGORITHMS) || !settings.jwksUrl) {
        return { ok: false, reason: `tokens signed with ${alg || 'no algorithm'} are not accepted here` };
      }
      let valid: boolean;
      try {
        valid = await verifySignature(alg, kid, encoder.encode(`${headerPart}.${payloadPart}`), signature);
      } catch (error) {
        return { ok: false, reason: (error as Error).message };
      }
      if (!valid) return { ok: false, reason: 'the signature does not verify' };
      const nowSeconds = Math.floor(now() / 1000);
      if (typeof payload.exp !== 'number' || payload.exp + CLOCK_SKEW_SECONDS <= nowSeconds) return { ok: false, reason: 'the token has expired' };
      if (typeof payload.nbf === 'number' && payload.nbf - CLOCK_SKEW_SECONDS > nowSeconds) return { ok: false, reason: 'the token is not valid yet' };
      if (payload.role !== 'authenticated') return { ok: false, reason: 'not a signed-in user\'s token (role is not authenticated)' };
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) return { ok: false, reason: 'the token names no user (sub)' };
      if (settings.issuer && payload.iss !== settings.issuer) return { ok: false, reason: 'the token was issued by another project' };
      return { ok: true, claims: payload as UserClaims };
    },
  };
}

/** An HS256 token with the given claims: for local tools and tests (`npm run task -- --operator-token`). */
export async function signHs256(claims: Record<string, unknown>, secret: string): Promise<string> {
  const base64Url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const part = (value: unknown) => base64Url(encoder.encode(JSON.stringify(value)));
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return `${body}.${base64Url(new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(body))))}`;
}
