// supabase/functions/.env.example is what a user hands to `supabase functions serve` and to
// `supabase secrets set --env-file`: no name may start with SUPABASE_ (the CLI skips those), and every
// name must be one the functions read.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../scripts/lib/local-config.ts';

const functionsDir = path.join(repoRoot, 'supabase', 'functions');
const example = fs.readFileSync(path.join(functionsDir, '.env.example'), 'utf8');
const names = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
const sources = ['process-task/config.ts', 'process-task/index.ts', 'mcp/config.ts', 'mcp/index.ts', '_shared/bearer.ts', '_shared/function-env.ts']
  .map((file) => fs.readFileSync(path.join(functionsDir, file), 'utf8'))
  .join('\n');

describe('supabase/functions/.env.example', () => {
  it('names no SUPABASE_ secret, only settings the functions read, and stays out of git', () => {
    expect(names.length).toBeGreaterThan(8);
    expect(names.filter((n) => n.startsWith('SUPABASE_'))).toEqual([]);
    for (const name of names) expect(sources, name).toContain(name);
    expect(fs.readFileSync(path.join(repoRoot, '.gitignore'), 'utf8').split('\n')).toContain('supabase/functions/.env');
  });
});
