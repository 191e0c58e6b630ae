// npm run db:dump — the current schema of `taskweave` and `taskweave_private` -> supabase/schema.sql, the
// one place to read what every table and function is now (the migrations are its history). One command
// after any migration change: with the embedded server (the default) it dumps a fresh database built from
// the migrations alone (the test template, no seed, whatever the dev database holds); with DATABASE_URL it
// dumps that database as it is. tests/sql/schema-dump.test.ts fails while the committed file is stale.
import fs from 'node:fs';
import path from 'node:path';
import { databaseUrl, redactUrl, repoRoot, usesEmbeddedDatabase } from './lib/local-config.ts';
import { adminClient, bootstrapSupabaseRoles, createDatabaseFromTemplate, ensureTemplateDatabase } from './lib/database-setup.ts';
import { startLocalPostgres } from './lib/local-postgres.ts';
import { dumpSchema } from './lib/schema-dump.ts';

export const SCHEMA_FILE = path.join(repoRoot, 'supabase', 'schema.sql');

async function dump(url: string) {
  const sql = adminClient(url);
  try {
    return await dumpSchema(sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

const url = databaseUrl();
try {
  let text: string;
  if (usesEmbeddedDatabase()) {
    await startLocalPostgres(() => {});
    await bootstrapSupabaseRoles(url);
    const fresh = await createDatabaseFromTemplate(url, await ensureTemplateDatabase(url), 'taskweave_dump');
    try {
      text = await dump(fresh.url);
    } finally {
      await fresh.drop();
    }
  } else {
    text = await dump(url);
  }
  fs.writeFileSync(SCHEMA_FILE, text);
  console.log(`db:dump: wrote ${path.relative(repoRoot, SCHEMA_FILE)} from ${usesEmbeddedDatabase() ? 'the migrations' : redactUrl(url)}`);
} catch (error) {
  console.error(`db:dump failed: ${(error as Error).message}`);
  process.exit(1);
}
