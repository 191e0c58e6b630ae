// The web app's own login role, taskweave_web (migration 20261206004100_web_role.sql): not a superuser,
// not the owner, a NOINHERIT member of authenticated. The web app logs in as it and reaches Taskweave only
// inside withClaims (identity.ts), which switches to authenticated with the viewer's claims. The
// migrations create it NOLOGIN; a deployment gives it a password. Locally the dev and test scripts do
// that with LOCAL_WEB_ROLE_PASSWORD, on a loopback database only (scripts/lib/database-setup.ts).

export const WEB_ROLE = 'taskweave_web';

/** Public like the local `postgres:postgres`: it is set only on a database that listens on loopback. */
export const LOCAL_WEB_ROLE_PASSWORD = 'taskweave-web-local';

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * DATABASE_URL with the web role's name and password in place of its credentials. Supavisor names a
 * user `<role>.<project-ref>`: the project part is kept.
 */
export function webRoleUrl(databaseUrl: string, password: string): string {
  const url = new URL(databaseUrl);
  const user = decodeURIComponent(url.username);
  const dot = user.indexOf('.');
  url.username = encodeURIComponent(dot > 0 ? `${WEB_ROLE}${user.slice(dot)}` : WEB_ROLE);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** The role a connection URL logs in as (without a Supavisor project suffix). */
export function loginRoleOf(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).username).split('.')[0];
}
