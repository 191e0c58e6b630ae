// The two Deno lines the functions run on: `current` (npm `deno`, what developers run) and `edge` (npm
// alias `deno-2-1` = deno@2.1.9: the 2.1 line Supabase's edge runtime vendors, hosted and under
// `supabase functions serve`). Both npm packages declare a bin named `deno`, so node_modules/.bin/deno is
// whichever npm linked last: every caller takes its binary from here, by package, never from .bin.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './local-config.ts';

export type DenoLine = 'current' | 'edge';
export const DENO_PACKAGES: Record<DenoLine, string> = { current: 'deno', edge: 'deno-2-1' };
/** The Deno line of Supabase's edge runtime; tests/process-task/deno-2-1.test.ts checks the installed binary says so. */
export const EDGE_DENO_VERSION = '2.1.9';

const require = createRequire(import.meta.url);
const resolved = new Map<DenoLine, string>();

/**
 * The executable itself (not the package's Node wrapper, which would outlive a kill of its parent). The
 * package's own installer finds its platform binary (@deno/<platform>, nested under the alias) and links it.
 */
export function denoBinary(line: DenoLine = 'current'): string {
  const known = resolved.get(line);
  if (known) return known;
  const dir = path.join(repoRoot, 'node_modules', DENO_PACKAGES[line]);
  if (!fs.existsSync(path.join(dir, 'install_api.cjs'))) {
    throw new Error(`npm package ${DENO_PACKAGES[line]} is not installed (run npm ci)`);
  }
  let exe: string;
  try {
    exe = (require(path.join(dir, 'install_api.cjs')) as { runInstall(): string }).runInstall();
  } catch (error) {
    throw new Error(`no ${DENO_PACKAGES[line]} binary for ${process.platform}-${process.arch}: ${(error as Error).message}`);
  }
  resolved.set(line, exe);
  return exe;
}

/**
 * The environment a Deno of this line needs beyond the caller's. The 2.1 line gets a cache of its own (a
 * newer Deno's cache is not guaranteed readable by an older one) unless DENO_DIR is set, and, since Deno 2.1
 * does not read SSL_CERT_FILE (newer Deno does), that CA file as DENO_CERT: behind a proxy with its own CA,
 * npm downloads fail without it.
 */
export function denoEnv(line: DenoLine, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (line !== 'edge') return {};
  const extra: Record<string, string> = {};
  if (!env.DENO_DIR) extra.DENO_DIR = path.join(repoRoot, 'node_modules', '.cache', 'deno-2-1');
  if (!env.DENO_CERT && env.SSL_CERT_FILE) extra.DENO_CERT = env.SSL_CERT_FILE;
  return extra;
}
