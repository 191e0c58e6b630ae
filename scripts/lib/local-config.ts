// One place for the local stack's defaults (docs/contracts.md §5). Every script and test reads them from here.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// TASKWEAVE_DB_PORT moves the embedded server (e.g. a second checkout running its suite beside this one)
export const LOCAL_DB_PORT = Number(process.env.TASKWEAVE_DB_PORT || 54322);
export const LOCAL_DB_HOST = '127.0.0.1';
export const LOCAL_DB_USER = 'postgres';
export const LOCAL_DB_PASSWORD = 'postgres';
export const LOCAL_DB_URL = `postgresql://${LOCAL_DB_USER}:${LOCAL_DB_PASSWORD}@${LOCAL_DB_HOST}:${LOCAL_DB_PORT}/postgres`;
export const FUNCTIONS_PORT = 54321;
export const WEB_PORT = 3000;

/** Major version of the bundled server; a data folder made by another major cannot be opened. */
export const EMBEDDED_PG_MAJOR = 17;

export const dataDir = path.resolve(process.env.TASKWEAVE_DATA_DIR ?? path.join(repoRoot, '.data'));
export const pgDataDir = path.join(dataDir, 'postgres');
export const pgLogFile = path.join(dataDir, 'postgres.log');

/** The database every script talks to: DATABASE_URL when set (a real Supabase stack or project), else the embedded server. */
export function databaseUrl(): string {
  return process.env.DATABASE_URL || LOCAL_DB_URL;
}

export function usesEmbeddedDatabase(): boolean {
  return !process.env.DATABASE_URL;
}

/** Replace the database name of a Postgres URL, keeping credentials, host and options. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A URL safe to print: the password is masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '*****';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
