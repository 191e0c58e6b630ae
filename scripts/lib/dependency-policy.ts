// What "current dependencies" means for Taskweave, written once: the majors we knowingly wait for (with
// the reason, listed in package.json under `waitedFor` and repeated in the README), and the rule that the
// edge functions' import maps pin the same versions the web app and the tests install.
import fs from 'node:fs';
import path from 'node:path';

export interface WaitedFor {
  /** The first major we do not take yet, e.g. 7 for typescript 7.x. */
  major: number;
  reason: string;
}

/** One row of `npm outdated --json`. */
export interface OutdatedEntry {
  current?: string;
  wanted: string;
  latest: string;
}

export interface Finding {
  name: string;
  current: string;
  wanted: string;
  latest: string;
  /** behind within the range package.json allows: `npm update` takes it */
  kind: 'in-range' | 'waited-major' | 'unexpected-major';
  reason?: string;
}

const majorOf = (version: string): number => Number(/^(\d+)/.exec(version)?.[1] ?? Number.NaN);

/** Compares x.y.z versions (prerelease tags ignored): negative when a is older. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[-+]/)[0].split('.').map((n) => Number(n) || 0);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * Classifies what `npm outdated` reports. A newer major fails the check unless package.json's
 * `waitedFor` names that major (or an older one of the same package: waiting for 7 also waits for 8).
 */
export function judgeOutdated(outdated: Record<string, OutdatedEntry>, waitedFor: Record<string, WaitedFor>): Finding[] {
  const findings: Finding[] = [];
  for (const [name, entry] of Object.entries(outdated).sort(([a], [b]) => a.localeCompare(b))) {
    const current = entry.current ?? 'missing';
    const base = { name, current, wanted: entry.wanted, latest: entry.latest };
    // a registry whose `latest` tag points below what we run (graphile-worker's did) has nothing newer
    if (current !== 'missing' && compareVersions(entry.latest, current) <= 0 && current === entry.wanted) continue;
    if (majorOf(entry.latest) > majorOf(entry.wanted)) {
      const waited = waitedFor[name];
      if (waited && waited.major <= majorOf(entry.latest)) findings.push({ ...base, kind: 'waited-major', reason: waited.reason });
      else findings.push({ ...base, kind: 'unexpected-major' });
    } else if (entry.wanted !== entry.latest || current !== entry.wanted) {
      findings.push({ ...base, kind: 'in-range' });
    }
  }
  return findings;
}

export interface PinMismatch {
  functionName: string;
  specifier: string;
  pinned: string;
  installed: string;
}

/**
 * The edge functions pin npm packages in deno.json; where the same package is installed for the web app
 * and the tests (node_modules), the versions must be the same, so what the tests run is what deploys.
 */
export function functionPinMismatches(repoRoot: string): PinMismatch[] {
  const functionsDir = path.join(repoRoot, 'supabase', 'functions');
  const mismatches: PinMismatch[] = [];
  for (const functionName of fs.readdirSync(functionsDir).sort()) {
    const denoJsonPath = path.join(functionsDir, functionName, 'deno.json');
    if (!fs.existsSync(denoJsonPath)) continue;
    const imports = (JSON.parse(fs.readFileSync(denoJsonPath, 'utf8')).imports ?? {}) as Record<string, string>;
    for (const [specifier, target] of Object.entries(imports)) {
      const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)/.exec(target);
      if (!match) continue;
      const [, packageName, pinned] = match;
      const installedManifest = path.join(repoRoot, 'node_modules', packageName, 'package.json');
      if (!fs.existsSync(installedManifest)) continue;
      const installed = JSON.parse(fs.readFileSync(installedManifest, 'utf8')).version as string;
      if (installed !== pinned) mismatches.push({ functionName, specifier, pinned, installed });
    }
  }
  return mismatches;
}

export function readWaitedFor(repoRoot: string): Record<string, WaitedFor> {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  return (pkg.waitedFor ?? {}) as Record<string, WaitedFor>;
}
