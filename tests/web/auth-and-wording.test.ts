import { describe, expect, it, vi } from 'vitest';
import { decideAuthMode, isLoopbackAddress, isLoopbackHost, type RequestOrigin } from '../../src/lib/auth/mode.ts';
import { formatTime } from '../../src/lib/format.ts';
import { describeFailure, describeProgress, describeSuccess, predictAbort } from '../../src/features/reviews/messages.ts';

vi.mock('server-only', () => ({}));
const { parseServerEnv } = await import('../../src/lib/server/config.ts');

/** The auth settings an environment yields, through the app's one config parser. */
const auth = (env: Record<string, string>) => parseServerEnv(env).auth;
const local: RequestOrigin = { host: '127.0.0.1:3000', peer: '127.0.0.1' };

describe('auth mode', () => {
  const supabase = { NEXT_PUBLIC_SUPABASE_URL: 'https://x.supabase.co', NEXT_PUBLIC_SUPABASE_ANON_KEY: 'anon' };
  const dev = auth({ NODE_ENV: 'development' });

  it('uses the local operator under next dev only for a loopback peer with a loopback Host', () => {
    expect(decideAuthMode(dev, local).kind).toBe('local');
    expect(decideAuthMode(dev, { host: 'localhost:3000', peer: '::1' }).kind).toBe('local');
    expect(decideAuthMode(dev, { host: '[::1]:3000', peer: '::ffff:127.0.0.1' }).kind).toBe('local');
    expect(decideAuthMode(dev, { host: 'localhost', peer: '127.0.0.1' }).kind).toBe('local');
    // DNS rebinding: this machine's browser, an attacker's name
    expect(decideAuthMode(dev, { host: 'evil.example:3000', peer: '127.0.0.1' })).toMatchObject({
      kind: 'misconfigured',
      problem: expect.stringMatching(/only requests made on this machine/),
    });
    // another machine that names localhost in its Host header
    expect(decideAuthMode(dev, { host: 'localhost:3000', peer: '192.168.1.20' }).kind).toBe('misconfigured');
    // no peer stamp (a request that bypassed the server's stamping): never local
    expect(decideAuthMode(dev, { host: 'localhost:3000', peer: null })).toMatchObject({ kind: 'misconfigured', problem: expect.stringMatching(/Reload the page/) });
    expect(decideAuthMode(dev, { host: '192.168.1.20:3000', peer: '192.168.1.20' }).kind).toBe('misconfigured');
    expect(decideAuthMode(auth({ NODE_ENV: 'development', TASKWEAVE_LOCAL_OPERATOR: '0' }), local).kind).toBe('misconfigured');
    expect(decideAuthMode(auth({ NODE_ENV: 'production' }), local).kind).toBe('misconfigured');
  });

  it('prefers Supabase Auth when it is configured, unless local mode is asked for explicitly (and then only locally)', () => {
    expect(decideAuthMode(auth({ NODE_ENV: 'development', ...supabase }), local)).toEqual({ kind: 'supabase', url: supabase.NEXT_PUBLIC_SUPABASE_URL, anonKey: 'anon' });
    const both = auth({ NODE_ENV: 'development', ...supabase, TASKWEAVE_LOCAL_OPERATOR: '1' });
    expect(decideAuthMode(both, local).kind).toBe('local');
    // a foreign request to the same server signs in like anyone else
    expect(decideAuthMode(both, { host: 'evil.example', peer: '127.0.0.1' }).kind).toBe('supabase');
  });

  it('refuses TASKWEAVE_LOCAL_OPERATOR=1 in production without the loud override, and a foreign Host even with it', () => {
    const refused = decideAuthMode(auth({ NODE_ENV: 'production', TASKWEAVE_LOCAL_OPERATOR: '1' }), local);
    expect(refused).toMatchObject({ kind: 'misconfigured', problem: expect.stringMatching(/production builds refuse it/) });
    const unsafe = auth({ NODE_ENV: 'production', TASKWEAVE_LOCAL_OPERATOR: '1', TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION: '1' });
    expect(decideAuthMode(unsafe, local).kind).toBe('local');
    expect(decideAuthMode(unsafe, { host: 'evil.example:3000', peer: '127.0.0.1' }).kind).toBe('misconfigured');
  });

  it('recognises loopback hosts and peers, and nothing that merely looks like one', () => {
    for (const host of ['127.0.0.1', '127.0.0.1:3000', '127.0.0.2:80', 'localhost', 'LOCALHOST:3000', '[::1]', '[::1]:3000']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['localhost.evil.com', 'evil.localhost', '127.0.0.1.nip.io', '127.0.0.1:3000@evil', '::1', '[::2]:3000', '0.0.0.0:3000', '', null]) {
      expect(isLoopbackHost(host), String(host)).toBe(false);
    }
    for (const peer of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.1.2.3']) expect(isLoopbackAddress(peer), peer).toBe(true);
    for (const peer of ['192.168.1.20', '::ffff:10.0.0.1', '127.0.0.256', '', undefined]) expect(isLoopbackAddress(peer), String(peer)).toBe(false);
  });

  it('rejects a malformed environment with every problem named', () => {
    expect(() => parseServerEnv({ DATABASE_URL: 'mysql://x', TASKWEAVE_LOCAL_OPERATOR: 'yes', TASKWEAVE_DB_POOL_SIZE: '0' })).toThrow(
      /DATABASE_URL[\s\S]*TASKWEAVE_DB_POOL_SIZE[\s\S]*TASKWEAVE_LOCAL_OPERATOR must be 1, true, 0 or false/,
    );
    expect(parseServerEnv({ DATABASE_URL: '', TASKWEAVE_LOCAL_OPERATOR: '' }).database.url).toBe('postgresql://postgres:postgres@127.0.0.1:54322/postgres');
  });
});

describe('what operators are told', () => {
  const aggregator = { title: 'Combine', status: 'queued', total: 3, ended: 2, completed: 2 };

  it('describes aggregator progress and what Abort will do', () => {
    expect(describeProgress(aggregator)).toBe('2 of 3 dependencies done, waiting only on this one');
    expect(describeProgress({ ...aggregator, ended: 0 })).toBe('0 of 3 dependencies done, waiting on this one and 2 others');
    expect(predictAbort(aggregator)).toMatch(/starts with partial results: 2 of 3 completed/);
    expect(predictAbort({ ...aggregator, completed: 0, ended: 2 })).toMatch(/cancelled too/);
    expect(predictAbort({ ...aggregator, ended: 1, completed: 1 })).toMatch(/keeps waiting for 1 other task/);
  });

  it('describes results', () => {
    expect(describeSuccess('retry', { title: 'T', status: 'pending' }, [])).toBe('Retried “T”: it is pending again and a worker will pick it up.');
    expect(describeSuccess('abort', { title: 'T', status: 'cancelled' }, [{ ...aggregator, status: 'pending', ended: 3 }])).toMatch(
      /Its aggregator “Combine” is now pending with partial results \(2 of 3 completed\)/,
    );
    expect(describeSuccess('manual', { title: 'T', status: 'completed' }, [{ ...aggregator, status: 'pending', ended: 3, completed: 3 }])).toMatch(
      /has all 3 results and is now pending/,
    );
  });

  it('says who already resolved a review, and when', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    const resolved = { action: 'manual' as const, resolvedBy: 'ada@example.com', resolvedAt: new Date('2026-11-25T10:42:00Z'), taskTitle: 'T' };
    expect(describeFailure('already-resolved', '', resolved, now)).toBe(
      'Nothing changed: “T” was already resolved by ada@example.com at 10:42 UTC (given a manual output).',
    );
    expect(formatTime(new Date('2026-11-24T10:42:00Z'), now)).toBe('10:42 UTC on 24 Nov 2026');
    expect(describeFailure('not-operator', '')).toMatch(/not an operator/);
  });
});
