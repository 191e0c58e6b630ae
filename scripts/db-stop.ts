// npm run db:stop — stop the embedded Postgres cleanly (its data stays in .data/postgres).
import { usesEmbeddedDatabase } from './lib/local-config.ts';
import { LocalDatabaseError, stopLocalPostgres } from './lib/local-postgres.ts';

if (!usesEmbeddedDatabase()) {
  console.log('DATABASE_URL is set; there is no embedded server to stop.');
  process.exit(0);
}
try {
  const outcome = await stopLocalPostgres();
  console.log(outcome === 'stopped' ? 'db: stopped' : 'db: not running');
} catch (error) {
  if (error instanceof LocalDatabaseError) {
    console.error(`db:stop failed: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
