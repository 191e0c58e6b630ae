// The user-token verifier (supabase/functions/_shared/user-token.ts) as hosted projects use it: tokens
// signed with the project's asymmetric key (ES256), whose public half a real HTTP server publishes as a
// JWKS, with the issuer checked; the legacy HS256 secret only where one is configured.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserTokenVerifier, LOCAL_JWT_SECRET, signHs256 } from '../../supabase/functions/_shared/user-token.ts';
import { readConfig } from '../../supabase/functions/mcp/config.ts';

const encoder = new TextEncoder();
const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

let server: http.Server;
let jwksUrl: string;
let jwksRequests = 0;
const published: JsonWebKey[] = [];
const keys: Record<string, CryptoKeyPair> = {};

async function es256Token(kid: string, claims: Record<string, unknown>): Promise<string> {
  const body = `${b64url(encoder.encode(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid })))}.${b64url(encoder.encode(JSON.stringify(claims)))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys[kid].privateKey, encoder.encode(body));
  return `${body}.${b64url(new Uint8Array(signature))}`;
}

async function addKey(kid: string) {
  keys[kid] = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  published.push({ ...(await crypto.subtle.exportKey('jwk', keys[kid].publicKey)), kid, alg: 'ES256', use: 'sig' } as JsonWebKey);
}

beforeAll(async () => {
  await addKey('key-1');
  server = http.createServer((_req, res) => {
    jwksRequests++;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const issuer = 'https://project-ref.supabase.co/auth/v1';
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: issuer,
  sub: '00000000-0000-4000-8000-00000000a0a0',
  role: 'authenticated',
  email: 'ada@example.com',
  exp: Math.floor(Date.now() / 1000) + 600,
  app_metadata: { role: 'operator' },
  ...extra,
});

describe('user tokens signed with the project\'s asymmetric key (JWKS)', () => {
  const verifier = () => createUserTokenVerifier({ hs256Secrets: [], jwksUrl, issuer });

  it('accepts a valid ES256 token and returns its claims; reads the key set once', async () => {
    const v = verifier();
    const before = jwksRequests;
    for (let i = 0; i < 3; i++) {
      const result = await v.verify(await es256Token('key-1', claims()));
      expect(result).toMatchObject({ ok: true, claims: { email: 'ada@example.com', app_metadata: { role: 'operator' } } });
    }
    expect(jwksRequests - before).toBe(1);
  });

  it('refuses a token from another issuer, an expired one, a tampered one and an anon one', async () => {
    const v = verifier();
    expect(await v.verify(await es256Token('key-1', claims({ iss: 'https://other.supabase.co/auth/v1' })))).toMatchObject({ ok: false, reason: expect.stringMatching(/another project/) });
    expect(await v.verify(await es256Token('key-1', claims({ exp: Math.floor(Date.now() / 1000) - 120 })))).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) });
    expect(await v.verify(await es256Token('key-1', claims({ role: 'anon' })))).toMatchObject({ ok: false });
    const [h, p, s] = (await es256Token('key-1', claims())).split('.');
    const forgedPayload = b64url(encoder.encode(JSON.stringify(claims({ email: 'mallory@example.com' }))));
    expect(await v.verify(`${h}.${forgedPayload}.${s}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/signature/) });
    expect(await v.verify(`${h}.${p}`)).toMatchObject({ ok: false });
  });

  it('reads the key set again for a key id it does not know (a rotated key)', async () => {
    const v = verifier();
    expect(await v.verify(await es256Token('key-1', claims()))).toMatchObject({ ok: true });
    await addKey('key-2');
    expect(await v.verify(await es256Token('key-2', claims()))).toMatchObject({ ok: true });
  });

  it('refuses HS256 tokens where no legacy secret is configured, even one signed with the local secret', async () => {
    const token = await signHs256(claims(), LOCAL_JWT_SECRET);
    expect(await verifier().verify(token)).toMatchObject({ ok: false, reason: expect.stringMatching(/HS256 are not accepted/) });
  });
});

describe('the mcp function\'s token settings', () => {
  it('hosted: the project\'s JWKS and issuer, and HS256 only with TASKWEAVE_JWT_SECRET', () => {
    const hosted = readConfig({ SUPABASE_DB_URL: 'postgres://x', SUPABASE_URL: 'https://project-ref.supabase.co' });
    expect(hosted.userTokens).toEqual({ hs256Secrets: [], jwksUrl: 'https://project-ref.supabase.co/auth/v1/.well-known/jwks.json', issuer });
    const legacy = readConfig({ SUPABASE_DB_URL: 'postgres://x', SUPABASE_URL: 'https://project-ref.supabase.co', TASKWEAVE_JWT_SECRET: 'the-projects-legacy-secret' });
    expect(legacy.userTokens.hs256Secrets).toEqual(['the-projects-legacy-secret']);
  });

  it('local (no SUPABASE_URL, or a loopback one): the Supabase CLI\'s published secret', () => {
    expect(readConfig({ SUPABASE_DB_URL: 'postgres://x' }).userTokens).toEqual({ hs256Secrets: [LOCAL_JWT_SECRET], jwksUrl: undefined, issuer: undefined });
    expect(readConfig({ SUPABASE_DB_URL: 'postgres://x', SUPABASE_URL: 'http://127.0.0.1:54321' }).userTokens.hs256Secrets).toEqual([LOCAL_JWT_SECRET]);
  });
});
