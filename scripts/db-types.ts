// npm run db:types — the real `supabase gen types --remote=<url>` into the one types file,
// supabase/functions/_shared/database.types.ts, which the function, the web app and the scripts import.
import fs from 'node:fs';
import path from 'node:path';
import { databaseUrl, redactUrl, repoRoot } from './lib/local-config.ts';
import { generateTypes } from './lib/database-setup.ts';

export const TYPE_FILES = [path.join(repoRoot, 'supabase', 'functions', '_shared', 'database.types.ts')];

const url = databaseUrl();
try {
  const types = await generateTypes(url);
  for (const target of TYPE_FILES) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, types);
    console.log(`db:types: wrote ${path.relative(repoRoot, target)} from ${redactUrl(url)}`);
  }
} catch (error) {
  console.error(`db:types failed: ${(error as Error).message}`);
  process.exit(1);
}
