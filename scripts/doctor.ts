// npm run doctor [-- <database url>] [--hosted] — checks a database (DATABASE_URL, an argument, or the local
// default) for what Taskweave needs: Supabase's roles, every migration, sane settings for the connection
// budget, row level security, and hosted dispatch (pg_net, pg_cron, Vault secrets, the cron job, recent
// failed calls). Prints each problem with its fix; exits 1 when there is one. Changes nothing.
// Hosted dispatch counts as a problem on a non-loopback address or with --hosted; locally it is a note.
import postgres from 'postgres';
import { formatFindings, runChecks } from './lib/doctor.ts';
import { databaseUrl, redactUrl } from './lib/local-config.ts';

const args = process.argv.slice(2);
const hosted = args.includes('--hosted');
const url = args.find((a) => !a.startsWith('--')) ?? databaseUrl();
const positive = (value: string | undefined, fallback: number) => (Number(value) > 0 ? Math.trunc(Number(value)) : fallback);

console.log(`Taskweave doctor: ${redactUrl(url)}`);
const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10, prepare: false });
try {
  const findings = await runChecks(sql as never, url, {
    hosted,
    functionPool: positive(process.env.PROCESS_TASK_DB_POOL, 2),
    webPool: positive(process.env.TASKWEAVE_DB_POOL_SIZE, 10) + 1,
  });
  console.log(formatFindings(findings));
  process.exitCode = findings.some((f) => !f.ok) ? 1 : 0;
} catch (error) {
  const e = error as { code?: string; message: string };
  console.log(`  FAIL cannot check the database: ${e.message}${e.code ? ` (${e.code})` : ''}`);
  console.log(
    '       fix: check the URL and password (Dashboard -> Connect); from an IPv4-only network use the session pooler ' +
      '(postgres.<ref>@aws-0-<region>.pooler.supabase.com:5432); locally start the database with npm run db:start',
  );
  process.exitCode = 1;
} finally {
  await sql.end({ timeout: 2 });
}
