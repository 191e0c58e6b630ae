// Once per `vitest run`: a real Postgres (the embedded server unless DATABASE_URL is set) with
// Supabase's roles, and a template database at the current migrations made by the real Supabase CLI.
import type { TestProject } from 'vitest/node';
import { databaseUrl, usesEmbeddedDatabase } from '../scripts/lib/local-config.ts';
import { bootstrapSupabaseRoles, enableLocalWebLogin, ensureTemplateDatabase, hasSupabaseRoles } from '../scripts/lib/database-setup.ts';
import { startLocalPostgres } from '../scripts/lib/local-postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string;
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject) {
  const url = databaseUrl();
  if (usesEmbeddedDatabase()) await startLocalPostgres((line) => console.log(`[test db] ${line}`));
  if (usesEmbeddedDatabase() || !(await hasSupabaseRoles(url))) await bootstrapSupabaseRoles(url);
  const template = await ensureTemplateDatabase(url);
  // the web app's pool logs in as taskweave_web (the migrations made it; roles are per server)
  await enableLocalWebLogin(url);
  project.provide('serverUrl', url);
  project.provide('templateDatabase', template);
}
