// supabase/schema.sql is the one place to read the schema as it is now: it must be what `npm run db:dump`
// makes from today's migrations, so a migration merged without regenerating it fails here.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { dumpSchema } from '../../scripts/lib/schema-dump.ts';
import { useTestDatabase } from '../helpers/database.ts';

const db = useTestDatabase();

describe('supabase/schema.sql', () => {
  it('is the current schema of the migrations (run `npm run db:dump` after changing a migration)', async () => {
    const fresh = await dumpSchema(db.sql);
    // what a reader comes for is there: the API, the internals, the triggers, the grants
    expect(fresh).toContain('CREATE OR REPLACE FUNCTION taskweave.complete_and_claim(');
    expect(fresh).toContain('CREATE OR REPLACE FUNCTION taskweave_private.guard_task_transition()');
    expect(fresh).toContain('CREATE TRIGGER tasks_check_aggregator_dependencies');
    expect(fresh).toMatch(/grant execute on function taskweave\.claim_tasks\([^)]*\) to service_role;/);
    expect(fs.readFileSync(path.join(repoRoot, 'supabase', 'schema.sql'), 'utf8'), 'supabase/schema.sql is stale').toBe(fresh);
  });

  it('is the same text however often it is made', async () => {
    expect(await dumpSchema(db.sql)).toBe(await dumpSchema(db.sql));
  });
});
