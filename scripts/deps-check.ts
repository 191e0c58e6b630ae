// npm run deps:check — what is behind, from the registry (`npm outdated`), and whether we chose it.
// Fails (exit 1) on a newer major that package.json's `waitedFor` does not name, and on an edge
// function pin that differs from the installed version of the same package. In-range updates are listed,
// not failed: `npm update` takes them.
import { spawnSync } from 'node:child_process';
import { functionPinMismatches, judgeOutdated, readWaitedFor, type OutdatedEntry } from './lib/dependency-policy.ts';
import { repoRoot } from './lib/local-config.ts';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = spawnSync(npm, ['outdated', '--json', '--long'], { cwd: repoRoot, encoding: 'utf8' });
// npm outdated exits 1 when anything is outdated; only unparseable output is an error here
let outdated: Record<string, OutdatedEntry>;
try {
  outdated = JSON.parse(run.stdout || '{}');
} catch {
  console.error(`deps:check: could not read npm outdated's answer:\n${run.stderr || run.stdout}`);
  process.exit(2);
}

const findings = judgeOutdated(outdated, readWaitedFor(repoRoot));
const mismatches = functionPinMismatches(repoRoot);

const rows = findings.map((f) => [f.name, f.current, f.wanted, f.latest, f.kind === 'in-range' ? 'update in range' : f.kind === 'waited-major' ? `waited for: ${f.reason}` : 'NEW MAJOR, not named in package.json waitedFor']);
if (rows.length === 0) console.log('deps:check: every dependency is at its newest version.');
else {
  const header = ['package', 'current', 'wanted', 'latest', 'status'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.min(r[i].length, i === 4 ? 200 : 40))));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}
for (const m of mismatches) {
  console.log(`edge function ${m.functionName}: deno.json pins ${m.specifier} at ${m.pinned}, node_modules has ${m.installed}`);
}

const unexpected = findings.filter((f) => f.kind === 'unexpected-major');
if (unexpected.length > 0 || mismatches.length > 0) {
  console.error(
    `deps:check: ${unexpected.length} major update(s) nobody has decided on, ${mismatches.length} edge function pin(s) out of step. ` +
      'Take the major (and change the code), or name it in package.json "waitedFor" with the reason and in the README.',
  );
  process.exit(1);
}
