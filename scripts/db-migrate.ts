// npm run db:migrate — adds Taskweave to a database, or brings it up to date: the migrations this database
// has not had, applied by the real Supabase CLI (`supabase migration up`). Never resets, never drops.
// On a plain Postgres (no Supabase roles) it first provides what Supabase's image would (and says what).
import { databaseUrl, redactUrl, usesEmbeddedDatabase } from './lib/local-config.ts';
import { migrateDatabase, UnsafeDatabaseError } from './lib/existing-database.ts';
import { enableLocalWebLogin } from './lib/database-setup.ts';
import { LocalDatabaseError, startLocalPostgres } from './lib/local-postgres.ts';

const url = databaseUrl();
try {
  if (usesEmbeddedDatabase()) await startLocalPostgres((line) => console.log(`db: ${line}`));
  console.log(`db: migrating ${redactUrl(url)}`);
  const { bootstrapped, applied } = await migrateDatabase(url, { embedded: usesEmbeddedDatabase() });
  if (bootstrapped.length) {
    console.log('db: a plain Postgres: provided what Supabase\'s image has:');
    for (const line of bootstrapped) console.log(`db:   ${line}`);
  }
  if (applied.length) {
    console.log(`db: applied ${applied.length} migration${applied.length === 1 ? '' : 's'}:`);
    for (const file of applied) console.log(`db:   ${file}`);
  } else {
    console.log('db: already up to date: no migration to apply');
  }
  if (await enableLocalWebLogin(url)) console.log('db: taskweave_web (the web app\'s role) may log in with the local password (loopback only)');
  console.log('db: done; nothing was dropped or reset');
} catch (error) {
  const known = error instanceof UnsafeDatabaseError || error instanceof LocalDatabaseError;
  console.error(`db:migrate failed: ${known ? (error as Error).message : ((error as Error).stack ?? error)}`);
  process.exit(1);
}
