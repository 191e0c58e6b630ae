// The resolve-review server action's body: checks the viewer, parses, calls the database, revalidates,
// and answers { message, errors } in words — against a real database.
import { describe, expect, it, vi } from 'vitest';
import { operator, plainUser, useTestDatabase } from '../helpers/database.ts';
import type { Claims } from '../../src/lib/db/identity.ts';
import { useAppPool } from './fixtures/app-pool.ts';
import { seedFanOut } from './fixtures/seed.ts';

vi.mock('server-only', () => ({}));
const { decideFromForm } = await import('../../src/features/reviews/service.ts');
const { dataApiTypes } = await import('../../src/lib/server/db.ts');
type Viewer = Parameters<typeof decideFromForm>[0] extends { viewer: () => Promise<infer V> } ? V : never;

const db = useTestDatabase();
const app = useAppPool(db, dataApiTypes);

function deps(viewer: Viewer) {
  const revalidate = vi.fn();
  return { deps: { viewer: async () => viewer, sql: app, revalidate, log: vi.fn() }, revalidate };
}
const asOperator = (email = 'ada@example.com'): Viewer => ({
  kind: 'operator',
  claims: operator(email, email === 'ada@example.com' ? undefined : '00000000-0000-4000-8000-00000000a0a9').claims as Claims,
  name: email,
  mode: 'supabase',
});
const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};

describe('resolve review action', () => {
  it('retries, revalidates and says what happened', async () => {
    const { failed } = await seedFanOut(db.sql, { title: 'Action retry' });
    const { deps: d, revalidate } = deps(asOperator());
    const state = await decideFromForm(d, form({ reviewId: failed[0].reviewId, action: 'retry' }));
    expect(state).toMatchObject({ status: 'success', errors: {}, reviewId: failed[0].reviewId, action: 'retry' });
    expect(state.message).toBe('Retried “Research vendor 2”: it is pending again and a worker will pick it up. Its aggregator “Combine the vendor research” still waits for 2 tasks.');
    expect(revalidate).toHaveBeenCalledWith(failed[0].taskId);
  });

  it('manual output: invalid JSON comes back as a field error and changes nothing', async () => {
    const { failed } = await seedFanOut(db.sql, { title: 'Action manual' });
    const { deps: d, revalidate } = deps(asOperator());
    const bad = await decideFromForm(d, form({ reviewId: failed[0].reviewId, action: 'manual', manualFormat: 'json', manualOutput: '{oops' }));
    expect(bad.status).toBe('error');
    expect(bad.errors.manualOutput?.[0]).toMatch(/not valid JSON/);
    expect(revalidate).not.toHaveBeenCalled();
    const [{ status }] = await db.sql`select status from taskweave.human_reviews where id = ${failed[0].reviewId}`;
    expect(status).toBe('open');

    const good = await decideFromForm(d, form({ reviewId: failed[0].reviewId, action: 'manual', manualFormat: 'json', manualOutput: '{"price": 9}' }));
    expect(good).toMatchObject({ status: 'success' });
    expect(good.message).toMatch(/^Saved your output for “Research vendor 2”: it is completed\./);
  });

  it('a second operator is told who resolved it first', async () => {
    const { failed } = await seedFanOut(db.sql, { title: 'Action race' });
    await decideFromForm(deps(asOperator()).deps, form({ reviewId: failed[0].reviewId, action: 'abort' }));
    const { deps: d, revalidate } = deps(asOperator('grace@example.com'));
    const state = await decideFromForm(d, form({ reviewId: failed[0].reviewId, action: 'retry' }));
    expect(state.status).toBe('error');
    expect(state.message).toMatch(/^Nothing changed: “Research vendor 2” was already resolved by ada@example\.com at \d\d:\d\d UTC \(aborted\)\.$/);
    // the queue changed under this operator: refresh it
    expect(revalidate).toHaveBeenCalled();
  });

  it('refuses non-operators and signed-out visitors before touching the database', async () => {
    const { failed } = await seedFanOut(db.sql, { title: 'Action refused' });
    const sql = vi.fn(app);
    const notOperator = await decideFromForm(
      { viewer: async () => ({ kind: 'not-operator', name: 'bob@example.com' }), sql, revalidate: vi.fn() },
      form({ reviewId: failed[0].reviewId, action: 'retry' }),
    );
    expect(notOperator).toMatchObject({ status: 'error', message: expect.stringMatching(/not an operator/) });
    const signedOut = await decideFromForm({ viewer: async () => ({ kind: 'signed-out' }), sql, revalidate: vi.fn() }, form({ reviewId: failed[0].reviewId, action: 'retry' }));
    expect(signedOut.message).toMatch(/Sign in again/);
    expect(sql).not.toHaveBeenCalled();
    // and if one got through anyway, the database itself refuses a plain user
    const forged = await decideFromForm(
      { viewer: async () => ({ kind: 'operator', claims: plainUser().claims as Claims, name: 'bob', mode: 'supabase' }), sql: app, revalidate: vi.fn() },
      form({ reviewId: failed[0].reviewId, action: 'retry' }),
    );
    expect(forged).toMatchObject({ status: 'error', message: 'The database refused: your account is not an operator.' });
  });

  it('rejects malformed submissions with words, not stack traces', async () => {
    const { deps: d } = deps(asOperator());
    const state = await decideFromForm(d, form({ reviewId: 'x', action: 'explode' }));
    expect(state).toMatchObject({ status: 'error', message: 'The request was incomplete; reload the page and try again.' });
  });
});
