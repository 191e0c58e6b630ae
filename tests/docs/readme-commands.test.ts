// The README's commands are right for the Supabase CLI we pin (3.x), and its hosted steps work.
//
// 1. Rules over every Markdown file we ship: with CLI 3, `supabase db push` without `--remote` targets the
//    local stack, so a documented `db push` must say `--remote`, and so must a `migration up` unless the
//    line says it is for the local stack; and no documented `supabase secrets set` names a secret starting
//    with SUPABASE_ (the platform refuses those).
// 2. The numbered steps of "Deploying to hosted Supabase", run in order against a new local database as
//    far as they can run without the platform: database commands go to that database (`--remote=<url>`
//    instead of the linked project), `create extension` is replaced by stand-ins for pg_net, pg_cron and
//    Vault (the embedded Postgres 17 cannot load them), and login, link, functions deploy, secrets set and
//    auth.users (GoTrue's) are listed as what cannot run here.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { bootstrapSupabaseRoles, supabaseCliEnv } from '../../scripts/lib/database-setup.ts';
import { repoRoot, withDatabase } from '../../scripts/lib/local-config.ts';
import { connect } from '../helpers/database.ts';
import { installPgCron, installPgNet, installVault } from '../helpers/hosted-stand-ins.ts';

const run = promisify(execFile);

/** Problems with the CLI commands a Markdown text documents (empty when none). */
export function commandProblems(markdown: string): string[] {
  const problems: string[] = [];
  markdown.split('\n').forEach((line, i) => {
    const where = `line ${i + 1}`;
    for (const match of line.matchAll(/supabase\s+(db\s+push|migration\s+up)\b([^`\n]*)/g)) {
      const [command, verb, rest] = match;
      if (/--remote\b/.test(rest)) continue;
      if (/^migration\s+up/.test(verb) && /\blocal\b/i.test(line)) continue;
      problems.push(`${where}: \`${command.trim()}\` without --remote targets the local stack with CLI 3`);
    }
    for (const match of line.matchAll(/supabase\s+secrets\s+set\s+([^`\n]*)/g)) {
      for (const name of match[1].matchAll(/(?:^|\s)(SUPABASE_\w*)=/g)) {
        problems.push(`${where}: \`supabase secrets set ${name[1]}=…\`: the platform refuses secrets that start with SUPABASE_`);
      }
    }
  });
  return problems;
}

function shippedMarkdown(): string[] {
  const docs = fs.readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f));
  return ['README.md', 'CHANGELOG.md', ...docs].filter((f) => fs.existsSync(path.join(repoRoot, f)));
}

/** The bash commands of the README's hosted section, step by step. */
export function hostedSteps(readme: string): { step: number; commands: string[] }[] {
  const start = readme.indexOf('## Deploying to hosted Supabase');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const steps: { step: number; commands: string[] }[] = [];
  let current: { step: number; commands: string[] } | undefined;
  let inBlock = false;
  for (const line of section.split('\n')) {
    const numbered = /^(\d+)\. /.exec(line);
    if (numbered && !inBlock) {
      current = { step: Number(numbered[1]), commands: [] };
      steps.push(current);
    } else if (/^\s*```bash\s*$/.test(line)) {
      inBlock = true;
    } else if (/^\s*```\s*$/.test(line)) {
      inBlock = false;
    } else if (inBlock && current && line.trim()) {
      current.commands.push(line.trim());
    }
  }
  return steps;
}

describe('documented Supabase CLI commands', () => {
  it('the rule catches a hosted db push or migration up without --remote, and a SUPABASE_ secret', () => {
    expect(commandProblems('run `npx supabase db push` on the project')).toHaveLength(1);
    expect(commandProblems('hosted: `supabase migration up`')).toHaveLength(1);
    expect(commandProblems('`npx supabase secrets set SUPABASE_DB_URL=postgres://…`')).toHaveLength(1);
    expect(commandProblems('`npx supabase secrets set LLM_PROVIDER=openai SUPABASE_URL=https://x`')).toHaveLength(1);
    expect(commandProblems('`npx supabase db push --remote`, `supabase migration up` (local), `supabase secrets set TASKWEAVE_DB_URL=…`')).toEqual([]);
  });

  it.each(shippedMarkdown())('%s documents only commands that do what they say', (file) => {
    expect(commandProblems(fs.readFileSync(path.join(repoRoot, file), 'utf8'))).toEqual([]);
  });
});

describe('the README\'s hosted steps, run against a local database', () => {
  const server = inject('serverUrl');
  const name = `taskweave_readme_${crypto.randomBytes(4).toString('hex')}`;
  const url = withDatabase(server, name);
  afterAll(async () => {
    const admin = connect(server, 1);
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end({ timeout: 2 });
  });

  it('every step that can run here works, in order; the rest need the platform', { timeout: 300_000 }, async () => {
    const admin = connect(server, 1);
    await admin.unsafe(`create database ${name}`);
    await admin.end({ timeout: 2 });
    await bootstrapSupabaseRoles(url); // what a Supabase project has before any step
    const sql = connect(url, 1);
    const steps = hostedSteps(fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8'));
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i + 1));
    const ran: string[] = [];
    const needsPlatform: string[] = [];
    try {
      for (const { commands } of steps) {
        for (const command of commands) {
          // a role belongs to the whole server, not to this test's database: giving taskweave_web a password
          // here would change the one every other test's web pool logs in with
          if (/^npx supabase (login|link|functions deploy|secrets set)\b/.test(command) || /auth\.users|alter role/.test(command)) {
            needsPlatform.push(command.split(' ').slice(0, 4).join(' '));
            continue;
          }
          if (/create extension/.test(command)) {
            await installPgNet(sql);
            await installPgCron(sql);
            await installVault(sql, {});
            ran.push('create extension (stand-ins)');
            continue;
          }
          const local = command
            .replace(/--remote(?!=)/, `--remote=${url} --yes`)
            .replace(/DATABASE_URL='[^']*'/, `DATABASE_URL='${url}'`);
          expect(local, `a step this test cannot run: ${command}`).not.toBe(command);
          const { stdout, stderr } = await run('bash', ['-c', local], { cwd: repoRoot, env: supabaseCliEnv(url), maxBuffer: 16 * 1024 * 1024 }).catch(
            (error: { stdout?: string; stderr?: string; message: string }) => {
              throw new Error(`README step failed: ${command}\n${error.stdout ?? ''}${error.stderr ?? error.message}`);
            },
          );
          ran.push(command.split(' ').slice(0, 4).join(' '));
          if (/npm run doctor/.test(command)) expect(`${stdout}${stderr}`).toContain('ok   hosted dispatch is on');
        }
      }
      expect(needsPlatform).toEqual([
        'npx supabase login',
        'npx supabase link --project-ref',
        'npx supabase functions deploy',
        'npx supabase functions deploy',
        'npx supabase secrets set',
        'npx supabase secrets set',
        'npx supabase db query', // the operator: auth.users is GoTrue's
        'npx supabase db query', // the web app's role's password: roles are the server's
      ]);
      // the role that step gives a password exists, made by the migrations without one
      expect(await sql`select rolname from pg_roles where rolname = 'taskweave_web'`).toHaveLength(1);
      expect(ran.length).toBeGreaterThanOrEqual(8);
      // what the steps left: every migration, the cap, the Vault secrets, the tick
      const [{ settings }] = await sql`select taskweave.get_settings() as settings`;
      expect(settings.max_running).toBe(20);
      expect((await sql`select name from vault.secrets order by name`).map((r) => r.name)).toEqual(['process_task_secret', 'process_task_url']);
      expect(await sql`select jobname, schedule from cron.job`).toEqual([{ jobname: 'taskweave-hosted-tick', schedule: '5 seconds' }]);
      const [{ status }] = await sql`select taskweave.hosted_dispatch_status() as status`;
      expect(status).toMatchObject({ ready: true, problems: [] });
    } finally {
      await sql.end({ timeout: 2 });
    }
  });
});
