// Staying current is a check: the rule deps:check applies to `npm outdated`, the majors we wait for
// named with their reason in package.json and the README, the edge functions pinned to what the tests
// install, and the Node the npm scripts run on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareVersions, functionPinMismatches, judgeOutdated, readWaitedFor } from '../../scripts/lib/dependency-policy.ts';
import { repoRoot } from '../../scripts/lib/local-config.ts';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));

describe('deps:check', () => {
  const waited = { typescript: { major: 7, reason: 'typescript-eslint needs < 6.1' } };

  it('fails a newer major nobody named, lists a waited-for one with its reason, and lists in-range updates', () => {
    const findings = judgeOutdated(
      {
        eslint: { current: '9.39.5', wanted: '9.39.5', latest: '10.16.0' },
        typescript: { current: '6.0.3', wanted: '6.0.3', latest: '7.0.2' },
        next: { current: '16.4.6', wanted: '16.5.0', latest: '16.5.0' },
      },
      waited,
    );
    expect(findings).toEqual([
      { name: 'eslint', current: '9.39.5', wanted: '9.39.5', latest: '10.16.0', kind: 'unexpected-major' },
      { name: 'next', current: '16.4.6', wanted: '16.5.0', latest: '16.5.0', kind: 'in-range' },
      { name: 'typescript', current: '6.0.3', wanted: '6.0.3', latest: '7.0.2', kind: 'waited-major', reason: 'typescript-eslint needs < 6.1' },
    ]);
  });

  it('waiting for a major also covers the ones after it, but not a package we never named', () => {
    const [ts8, other] = judgeOutdated(
      { typescript: { current: '6.0.3', wanted: '6.0.3', latest: '8.0.0' }, zod: { current: '4.6.7', wanted: '4.6.7', latest: '5.0.0' } },
      waited,
    );
    expect(ts8.kind).toBe('waited-major');
    expect(other.kind).toBe('unexpected-major');
  });

  it('ignores a latest tag that points below what we run', () => {
    expect(judgeOutdated({ 'graphile-worker': { current: '0.18.0', wanted: '0.18.0', latest: '0.17.3' } }, {})).toEqual([]);
    expect(compareVersions('0.17.3', '0.18.0')).toBeLessThan(0);
    expect(compareVersions('18.4.0-beta.17', '17.10.0-beta.17')).toBeGreaterThan(0);
  });

  it('names every waited-for major in the README, with its reason', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const waitedFor = readWaitedFor(repoRoot);
    expect(Object.keys(waitedFor).length).toBeGreaterThan(0);
    for (const [name, { major, reason }] of Object.entries(waitedFor)) {
      expect(reason.length, name).toBeGreaterThan(20);
      expect(readme, `README names ${name} ${major}`).toContain(`\`${name}\` ${major}`);
    }
  });
});

describe('the edge functions pin what the tests install', () => {
  it('every npm package in a deno.json is at the version in node_modules', () => {
    expect(functionPinMismatches(repoRoot)).toEqual([]);
  });

  it('finds a pin that differs', () => {
    const scratch = fs.mkdtempSync(path.join(repoRoot, 'node_modules', '.pins-'));
    try {
      fs.mkdirSync(path.join(scratch, 'supabase', 'functions', 'f'), { recursive: true });
      fs.writeFileSync(path.join(scratch, 'supabase', 'functions', 'f', 'deno.json'), JSON.stringify({ imports: { zod: 'npm:zod@1.0.0', x: 'npm:/@scope/x@1.0.0/' } }));
      fs.mkdirSync(path.join(scratch, 'node_modules', 'zod'), { recursive: true });
      fs.writeFileSync(path.join(scratch, 'node_modules', 'zod', 'package.json'), JSON.stringify({ version: '4.6.7' }));
      expect(functionPinMismatches(scratch)).toEqual([{ functionName: 'f', specifier: 'zod', pinned: '1.0.0', installed: '4.6.7' }]);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('Node', () => {
  it('the npm scripts run on the Node 22 LTS that the devDependency installs, whatever the system Node', () => {
    expect(pkg.engines.node).toMatch(/^>=22/);
    expect(pkg.devDependencies.node).toMatch(/^\^?22\./);
    expect(process.versions.node.split('.')[0]).toBe('22');
    const viaNpm = execFileSync('npm', ['exec', '--', 'node', '--version'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    expect(viaNpm).toMatch(/^v22\./);
  });
});
