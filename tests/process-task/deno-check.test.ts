// The function's modules type-check under Deno with its own import map (deno.json) and lock (deno.lock,
// --frozen: an import the lock does not pin is an error): the same files vitest runs in Node.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { denoBinary } from '../../scripts/lib/deno-binaries.ts';

const run = promisify(execFile);

describe('process-task under Deno', () => {
  it('passes deno check with the pinned import map', async () => {
    const cwd = path.join(repoRoot, 'supabase', 'functions', 'process-task');
    const { stdout, stderr } = await run(denoBinary('current'), ['check', '--frozen', 'index.ts'], {
      cwd,
      env: { ...process.env, NO_COLOR: '1' },
    });
    // execFile rejects on a non-zero exit; Deno prints "Check" only when the result is not cached yet
    // a fresh cache prints package downloads such as `es-errors`: look for Deno's own error lines
    expect(`${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, '')).not.toMatch(/^error:|\[ERROR\]/m);
  }, 60_000);
});
