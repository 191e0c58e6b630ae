// How `npm run dev` tells a `supabase start` stack from anything else on its ports: the gateway by Kong's
// answers, the database by what only Supabase's image has. Our own plain Postgres (bootstrapped with the
// Supabase roles, but no GoTrue and a NOLOGIN supabase_admin) must not pass for a stack.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.ts';
import { isSupabaseStackDatabase, supabaseGatewayAt } from '../../scripts/lib/supabase-stack.ts';
import { freePort } from '../../scripts/lib/function-server.ts';

const db = useTestDatabase();
const servers: http.Server[] = [];
afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

async function serve(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

describe('recognising a supabase start stack', () => {
  it('knows Kong by its Server header or its "no Route matched", and nothing else', async () => {
    const kong = await serve((_, res) => res.writeHead(404, { Server: 'kong/2.8.1' }).end('{"message":"no Route matched with those values"}'));
    const quietKong = await serve((_, res) => res.writeHead(404).end('{"message":"no Route matched with those values"}'));
    const other = await serve((_, res) => res.writeHead(200, { Server: 'nginx' }).end('hello'));
    expect(await supabaseGatewayAt(kong)).toBe('kong/2.8.1');
    expect(await supabaseGatewayAt(quietKong)).toBe('Kong');
    expect(await supabaseGatewayAt(other)).toBeUndefined();
    expect(await supabaseGatewayAt(await freePort())).toBeUndefined();
  });

  it('does not take our plain Postgres for a stack’s', async () => {
    expect(await isSupabaseStackDatabase(db.url)).toBe(false);
  });
});
