// npm run db:reset — wipes and rebuilds Taskweave's database: Supabase's roles on a plain Postgres (skipped
// where they exist), then the real `supabase db reset --remote=<url> --yes`: every migration in
// supabase/migrations and supabase/seed.sql. The CLI's reset drops everything in public and every schema
// it does not know, so a database holding objects Taskweave did not make is refused unless --force.
import { databaseUrl, redactUrl, usesEmbeddedDatabase } from './lib/local-config.ts';
import { enableLocalWebLogin, supabaseDbReset } from './lib/database-setup.ts';
import { ensureSupabaseBasics, foreignObjects, summarizeObjects } from './lib/existing-database.ts';
import { startLocalPostgres } from './lib/local-postgres.ts';

const url = databaseUrl();
const force = process.argv.includes('--force');
try {
  if (usesEmbeddedDatabase()) await startLocalPostgres((line) => console.log(`db: ${line}`));
  const foreign = await foreignObjects(url);
  if (foreign.length && !force) {
    console.error(
      `db:reset refused: ${redactUrl(url)} holds ${foreign.length} object${foreign.length === 1 ? '' : 's'} that Taskweave did not make, ` +
        `which a reset would drop or empty: ${summarizeObjects(foreign)}.\n` +
        'Nothing was changed. To add Taskweave to this database without losing anything, run `npm run db:migrate`. ' +
        'To wipe it anyway, run `npm run db:reset -- --force`.',
    );
    process.exit(1);
  }
  if (foreign.length) console.log(`db: --force: wiping objects Taskweave did not make: ${summarizeObjects(foreign)}`);
  const created = await ensureSupabaseBasics(url);
  if (created.length) {
    console.log('db: a plain Postgres: provided what Supabase\'s image has:');
    for (const line of created) console.log(`db:   ${line}`);
  } else {
    console.log('db: Supabase roles and auth helpers already present; bootstrap skipped');
  }
  console.log(`db: supabase db reset --remote=${redactUrl(url)}`);
  const output = await supabaseDbReset(url, { noSeed: process.argv.includes('--no-seed') });
  for (const line of output.split('\n')) if (/Applying|Seeding|WARN|Finished/i.test(line)) console.log(`db: ${line.trim()}`);
  if (await enableLocalWebLogin(url)) console.log('db: taskweave_web (the web app\'s role) may log in with the local password (loopback only)');
  console.log('db: reset done');
} catch (error) {
  console.error(`db:reset failed: ${(error as Error).message}`);
  process.exit(1);
}
