import { describe, expect, it } from 'vitest';
import { decideAuthMode, isLoopbackHost } from '../../src/lib/auth/mode.ts';
import { formatTime } from '../../src/lib/format.ts';
import { describeFailure, describeProgress, describeSuccess, predictAbort } from '../../src/lib/review-messages.ts';

describe('auth mode', () => {
  const supabase = { NEXT_PUBLIC_SUPABASE_URL: 'https://x.supabase.co', NEXT_PUBLIC_SUPABASE_ANON_KEY: 'anon' };

  it('uses the local operator under next dev on loopback only', () => {
    expect(decideAuthMode({ NODE_ENV: 'development' }, '127.0.0.1:3000').kind).toBe('local');
    expect(decideAuthMode({ NODE_ENV: 'development' }, 'localhost:3000').kind).toBe('local');
    expect(decideAuthMode({ NODE_ENV: 'development' }, '[::1]:3000').kind).toBe('local');
    expect(decideAuthMode({ NODE_ENV: 'development' }, '192.168.1.20:3000').kind).toBe('misconfigured');
    expect(decideAuthMode({ NODE_ENV: 'development', TASKWEAVE_LOCAL_OPERATOR: '0' }, 'localhost:3000').kind).toBe('misconfigured');
    expect(decideAuthMode({ NODE_ENV: 'production' }, 'localhost:3000').kind).toBe('misconfigured');
  });

  it('prefers Supabase Auth when it is configured, unless local mode is asked for explicitly', () => {
    expect(decideAuthMode({ NODE_ENV: 'development', ...supabase }, 'localhost:3000')).toEqual({ kind: 'supabase', url: supabase.NEXT_PUBLIC_SUPABASE_URL, anonKey: 'anon' });
    expect(decideAuthMode({ NODE_ENV: 'development', ...supabase, TASKWEAVE_LOCAL_OPERATOR: '1' }, 'localhost').kind).toBe('local');
  });

  it('refuses TASKWEAVE_LOCAL_OPERATOR=1 in production without the loud override', () => {
    const refused = decideAuthMode({ NODE_ENV: 'production', TASKWEAVE_LOCAL_OPERATOR: '1' }, 'localhost');
    expect(refused).toMatchObject({ kind: 'misconfigured', problem: expect.stringMatching(/production builds refuse it/) });
    expect(decideAuthMode({ NODE_ENV: 'production', TASKWEAVE_LOCAL_OPERATOR: '1', TASKWEAVE_UNSAFE_LOCAL_OPERATOR_IN_PRODUCTION: '1' }, 'x').kind).toBe('local');
  });

  it('recognises loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.2:80')).toBe(true);
    expect(isLoopbackHost('localhost.evil.com')).toBe(false);
    expect(isLoopbackHost(null)).toBe(false);
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
