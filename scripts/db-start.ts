// npm run db:start — the embedded Postgres on 127.0.0.1:54322 (docs/contracts.md §5). Idempotent.
import { redactUrl, usesEmbeddedDatabase, databaseUrl } from './lib/local-config.ts';
import { LocalDatabaseError, startLocalPostgres } from './lib/local-postgres.ts';

if (!usesEmbeddedDatabase()) {
  console.log(`DATABASE_URL is set (${redactUrl(databaseUrl())}); not starting the embedded server.`);
  process.exit(0);
}
try {
  const outcome = await startLocalPostgres((line) => console.log(`db: ${line}`));
  console.log(outcome === 'started' ? `db: ready at ${redactUrl(databaseUrl())}` : `db: already running at ${redactUrl(databaseUrl())}`);
} catch (error) {
  if (error instanceof LocalDatabaseError) {
    console.error(`db:start failed: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
