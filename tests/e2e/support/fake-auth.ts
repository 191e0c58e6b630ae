// A stand-in for Supabase Auth (GoTrue) for the browser tests: just the endpoints @supabase/ssr uses to
// sign in with a password, read the user, refresh and sign out. The app under test talks to it exactly
// as it talks to hosted Supabase Auth (NEXT_PUBLIC_SUPABASE_URL), so sign-in, session cookies, the
// proxy's refresh and the operator check all run for real.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUser {
  id: string;
  email: string;
  password: string;
  appMetadata: Record<string, unknown>;
}

export const fakeUsers: FakeUser[] = [
  { id: '00000000-0000-4000-8000-00000000e2e1', email: 'ada@example.com', password: 'correct horse', appMetadata: { provider: 'email', role: 'operator' } },
  { id: '00000000-0000-4000-8000-00000000e2e2', email: 'grace@example.com', password: 'correct horse', appMetadata: { provider: 'email', role: 'operator' } },
  { id: '00000000-0000-4000-8000-00000000e2e3', email: 'bob@example.com', password: 'correct horse', appMetadata: { provider: 'email' } },
];

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function userJson(user: FakeUser) {
  const now = new Date().toISOString();
  return {
    id: user.id,
    aud: 'authenticated',
    role: 'authenticated',
    email: user.email,
    email_confirmed_at: now,
    app_metadata: user.appMetadata,
    user_metadata: {},
    identities: [],
    created_at: now,
    updated_at: now,
  };
}

export async function startFakeAuth(): Promise<{ url: string; close: () => Promise<void> }> {
  const secret = crypto.randomBytes(32);
  const sessions = new Map<string, FakeUser>(); // access token -> user
  const refreshTokens = new Map<string, FakeUser>();

  const issue = (user: FakeUser) => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64({ sub: user.id, email: user.email, role: 'authenticated', aud: 'authenticated', app_metadata: user.appMetadata, exp, session_id: crypto.randomUUID() });
    const signature = crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    const accessToken = `${header}.${payload}.${signature}`;
    const refreshToken = crypto.randomBytes(16).toString('hex');
    sessions.set(accessToken, user);
    refreshTokens.set(refreshToken, user);
    return { access_token: accessToken, token_type: 'bearer', expires_in: 3600, expires_at: exp, refresh_token: refreshToken, user: userJson(user) };
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const send = (status: number, json?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(json === undefined ? '' : JSON.stringify(json));
      };
      const input = body ? (JSON.parse(body) as Record<string, string>) : {};
      if (req.method === 'POST' && url.pathname === '/auth/v1/token') {
        const grant = url.searchParams.get('grant_type');
        if (grant === 'password') {
          const user = fakeUsers.find((u) => u.email === input.email && u.password === input.password);
          return user ? send(200, issue(user)) : send(400, { code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' });
        }
        if (grant === 'refresh_token') {
          const user = refreshTokens.get(input.refresh_token);
          return user ? send(200, issue(user)) : send(400, { code: 400, error_code: 'refresh_token_not_found', msg: 'Invalid Refresh Token' });
        }
      }
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (req.method === 'GET' && url.pathname === '/auth/v1/user') {
        const user = sessions.get(token);
        return user ? send(200, userJson(user)) : send(403, { code: 403, error_code: 'bad_jwt', msg: 'invalid JWT' });
      }
      if (req.method === 'POST' && url.pathname === '/auth/v1/logout') {
        sessions.delete(token);
        return send(204);
      }
      send(404, { code: 404, msg: `fake auth: no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
