// The endpoint's modules type-check under Deno with its own deno.json and the committed deno.lock
// (--frozen: a lock that no longer matches the import map fails here, not at deploy time).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/lib/local-config.ts';
import { denoBinary } from '../../scripts/lib/deno-binaries.ts';

const run = promisify(execFile);

describe('mcp under Deno', () => {
  it('passes deno check with the pinned import map and the frozen lock', async () => {
    const cwd = path.join(repoRoot, 'supabase', 'functions', 'mcp');
    const { stdout, stderr } = await run(denoBinary('current'), ['check', '--frozen', 'index.ts', 'schemas.ts'], {
      cwd,
      env: { ...process.env, NO_COLOR: '1' },
    });
    // execFile rejects on a non-zero exit; a check answered from Deno's cache prints nothing at all
    // a fresh cache prints package downloads such as `es-errors`: look for Deno's own error lines
    expect(`${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, '')).not.toMatch(/^error:|\[ERROR\]/m);
  }, 120_000);
});
