// The committed database types must be what `supabase gen types` makes from the migrations today:
// a migration that changes a column without `npm run db:types` fails here, not at run time.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateTypes } from '../../scripts/lib/database-setup.ts';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { useTestDatabase } from '../helpers/database.ts';

const db = useTestDatabase();

describe('generated database types', () => {
  it('match the migrations (run `npm run db:types` after changing a migration)', async () => {
    const fresh = await generateTypes(db.url);
    expect(fresh).toContain('create_aggregator_task');
    const file = 'supabase/functions/_shared/database.types.ts';
    expect(fs.readFileSync(path.join(repoRoot, file), 'utf8'), file).toBe(fresh);
  });
});
