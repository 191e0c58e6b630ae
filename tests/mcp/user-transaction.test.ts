// The connection the MCP tools get for a user's token (supabase/functions/_shared/user-transaction.ts):
// every query, fragment-built or not, runs in a transaction as authenticated with the user's claims, and
// nothing that would run on the login's own power is offered.
import { describe, expect, it } from 'vitest';
import { operator, plainUser, useTestDatabase } from '../helpers/database.ts';
import { createRoot } from '../helpers/tasks.ts';
import { asUser } from '../../supabase/functions/_shared/user-transaction.ts';

const db = useTestDatabase();

describe('asUser', () => {
  it('runs tagged, fragment-built and unsafe queries, and begin, as authenticated with the claims', async () => {
    const root = await createRoot(db.sql, 'as user');
    const ada = asUser(db.sql, operator('ada@example.com').claims!);
    const [who] = await ada`select current_user as role, auth.jwt() ->> 'email' as email, session_user as login`;
    expect(who).toEqual({ role: 'authenticated', email: 'ada@example.com', login: 'postgres' });
    const filter = ada`and t.id = ${root.id}`;
    const [row] = await ada`select t.title from taskweave.tasks t where true ${filter}`;
    expect(row.title).toBe('as user');
    const [unsafe] = await ada.unsafe('select current_user as role');
    expect(unsafe.role).toBe('authenticated');
    const [values] = await ada`select 1 as one`.values();
    expect(values).toEqual([1]);
    const inTx = await ada.begin(async (tx) => (await tx`select current_user as role`)[0].role);
    expect(inTx).toBe('authenticated');
    // a plain user sees nothing through the same door
    const bob = asUser(db.sql, plainUser().claims!);
    expect(await bob`select count(*)::int as n from taskweave.tasks`.then(([r]) => r.n)).toBe(0);
  });

  it('refuses what would run outside the user\'s transaction', async () => {
    const ada = asUser(db.sql, operator().claims!);
    expect(() => ada`select 1`.execute()).toThrow(/not available on a user's connection/);
    expect(() => (ada as unknown as { listen: unknown }).listen).toThrow(/not available on a user's connection/);
    expect(() => (ada as unknown as { reserve: unknown }).reserve).toThrow(/not available on a user's connection/);
  });
});
