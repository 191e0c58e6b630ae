// npm run functions:lock — refresh each function's deno.lock after changing its deno.json, with the Deno
// line of Supabase's edge runtime (2.1). That Deno reads only lockfile version 4, and a newer Deno writes
// version 5, which the edge runtime cannot read; a newer Deno still reads version 4 (--frozen leaves it as it is).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { denoBinary, denoEnv } from './lib/deno-binaries.ts';
import { FUNCTIONS_DIR, FUNCTION_NAMES } from './lib/function-server.ts';

const deno = denoBinary('edge');
for (const name of FUNCTION_NAMES) {
  const dir = path.join(FUNCTIONS_DIR, name);
  const lock = path.join(dir, 'deno.lock');
  if (fs.existsSync(lock) && (JSON.parse(fs.readFileSync(lock, 'utf8')) as { version?: string }).version !== '4') {
    console.log(`functions:lock: ${name}/deno.lock is not version 4; writing it anew`);
    fs.rmSync(lock);
  }
  execFileSync(deno, ['install'], { cwd: dir, stdio: 'inherit', env: { ...process.env, ...denoEnv('edge') } });
  console.log(`functions:lock: ${name}/deno.lock (version ${(JSON.parse(fs.readFileSync(lock, 'utf8')) as { version: string }).version})`);
}
