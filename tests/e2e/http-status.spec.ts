// What the production build answers at the HTTP level, before any page renders: who is a local
// operator, real redirects to sign-in, and real 404s for tasks that do not exist.
import http from 'node:http';
import { expect, seedFanOut, test } from './support/fixtures.ts';

/** A raw GET with exactly these headers (fetch would not let us choose the Host header). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, location: response.headers.location, body }));
    });
    request.on('error', reject);
  });
}

test('a request to the local-operator server that names a foreign Host is not an operator', async ({ sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E foreign host', complete: [0], fail: [1] });
  const port = new URL(localUrl).port;

  // this machine, its own name: the local operator sees the queue
  const own = await get(`${localUrl}/reviews`);
  expect(own.status).toBe(200);
  expect(own.body).toContain(fanOut.failed[0].taskId);
  expect((await get(`${localUrl}/reviews`, { Host: `localhost:${port}` })).status).toBe(200);

  // the same socket, a rebound name (what a hostile page in the operator's browser would send)
  for (const host of ['evil.example:3000', 'evil.example', `127.0.0.1.nip.io:${port}`, `localhost.evil.example:${port}`]) {
    const foreign = await get(`${localUrl}/reviews`, { Host: host });
    expect(foreign.status, host).toBe(307);
    expect(new URL(foreign.location!, localUrl).pathname, host).toBe('/sign-in');
    expect(foreign.body).not.toContain(fanOut.failed[0].taskId);
  }
  // a forged peer stamp or X-Forwarded-For changes nothing: the server overwrites the stamp
  const forged = await get(`${localUrl}/tasks/${fanOut.rootId}`, { Host: 'evil.example', 'x-taskweave-peer': '127.0.0.1', 'X-Forwarded-For': '127.0.0.1' });
  expect(forged.status).toBe(307);
  // the live feed and the sign-in page say why, instead of serving data
  expect((await get(`${localUrl}/api/live`, { Host: 'evil.example' })).status).toBe(401);
  const signIn = await get(`${localUrl}/sign-in`, { Host: 'evil.example' });
  expect(signIn.status).toBe(200);
  expect(signIn.body).toContain('Local operator mode serves only requests made on this machine');
});

test('unknown and malformed task ids are real 404s', async ({ sql, localUrl }) => {
  const fanOut = await seedFanOut(sql, { title: 'E2E 404', complete: [], fail: [] });
  expect((await get(`${localUrl}/tasks/${fanOut.rootId}`)).status).toBe(200);
  for (const id of ['not-a-uuid', '7d4b7f2e-2d53-4e38-9d6a-0b1c2d3e4f50', '%27%3B--']) {
    const response = await get(`${localUrl}/tasks/${id}`);
    expect(response.status, id).toBe(404);
    expect(response.body).toContain('No such task');
  }
});

test('signed-out visitors and non-operators get a real 307 before anything renders', async ({ hostedUrl }) => {
  for (const path of ['/', '/reviews', '/reviews?tab=resolved', '/tasks/7d4b7f2e-2d53-4e38-9d6a-0b1c2d3e4f50', '/not-an-operator']) {
    const response = await get(`${hostedUrl}${path}`);
    expect(response.status, path).toBe(307);
    expect(new URL(response.location!, hostedUrl).pathname, path).toBe('/sign-in');
    expect(response.body).not.toContain('http-equiv="refresh"');
  }
  expect((await get(`${hostedUrl}/sign-in`)).status).toBe(200);
});
