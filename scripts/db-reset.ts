// npm run db:reset — Supabase's roles on a plain Postgres (skipped where they exist), then the real
// `supabase db reset --remote=<url> --yes`: every migration in supabase/migrations and supabase/seed.sql.
import { databaseUrl, redactUrl, usesEmbeddedDatabase } from './lib/local-config.ts';
import { bootstrapSupabaseRoles, hasSupabaseRoles, supabaseDbReset } from './lib/database-setup.ts';
import { LocalDatabaseError, startLocalPostgres } from './lib/local-postgres.ts';

const url = databaseUrl();
try {
  if (usesEmbeddedDatabase()) await startLocalPostgres((line) => console.log(`db: ${line}`));
  if (usesEmbeddedDatabase() || !(await hasSupabaseRoles(url))) {
    console.log(`db: applying Supabase roles and auth helpers to ${redactUrl(url)}`);
    await bootstrapSupabaseRoles(url);
  } else {
    console.log('db: Supabase roles already present; skipping the bootstrap');
  }
  console.log(`db: supabase db reset --remote=${redactUrl(url)}`);
  const output = await supabaseDbReset(url, { noSeed: process.argv.includes('--no-seed') });
  for (const line of output.split('\n')) if (/Applying|Seeding|WARN|Finished/i.test(line)) console.log(`db: ${line.trim()}`);
  console.log('db: reset done');
} catch (error) {
  if (error instanceof LocalDatabaseError) {
    console.error(`db:reset failed: ${error.message}`);
    process.exit(1);
  }
  console.error(`db:reset failed: ${(error as Error).message}`);
  process.exit(1);
}
