// lapis fingerprint on the checked-in conformance reports: the profile built for each implementation is the one that
// best explains its report, and conformance/explanations.json agrees with the model on which profiles allow each
// FORBIDDEN outcome it explains by a profile.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fingerprint, type Fingerprint, type FingerprintCache } from '../../src/backends/fingerprint.js';
import { parseSuiteJson, type SuiteJson } from '../../src/backends/report.js';
import { matches, parseExplanations } from '../../src/backends/explain.js';

const EXPLANATIONS = parseExplanations(readFileSync('conformance/explanations.json', 'utf8'), 'explanations.json');
const cache: FingerprintCache = new Map();
const done = new Map<string, { report: SuiteJson; f: Fingerprint }>();

function of(name: string): { report: SuiteJson; f: Fingerprint } {
  let r = done.get(name);
  if (!r) {
    const report = parseSuiteJson(readFileSync(`conformance/results/${name}.json`, 'utf8'), name);
    r = { report, f: fingerprint(report, 'litmus', cache) };
    done.set(name, r);
  }
  return r;
}

// qemu-kvm's reports were recorded on this host's KVM (Linux 6.18 kvm-pvm), whose profile is kvm-pvm-6.18.
const BEST: [string, RegExp][] = [['qemu-tcg', /^qemu-tcg-7\.2$/], ['qemu10-tcg', /^qemu10-tcg$/], ['bochs', /^bochs-2\.7$/], ['qemu-kvm', /^kvm-(20\d\d|pvm-6\.18)/]];

describe('lapis fingerprint', () => {
  it.each(BEST)('%s: the best profile is the one built for it, ahead of spec', (name, want) => {
    const { f } = of(name);
    expect(f.base).toMatch(want);
    const spec = f.ranking.find((s) => s.profile === 'spec')!;
    expect(f.ranking[0].testsUnexplained).toBeLessThan(spec.testsUnexplained);
    expect(f.best.unexplained).toBeLessThanOrEqual(f.ranking[0].unexplained);
  }, 300_000);

  it.each(BEST.map(([n]) => n))('%s: of the profiles explanations.json names for a FORBIDDEN outcome, one allows it (or cannot decide)', (name) => {
    const { report, f } = of(name);
    const wrong: string[] = [];
    for (const t of report.tests) {
      for (const o of t.outcomes) {
        if (o.verdict !== 'FORBIDDEN') continue;
        for (const e of EXPLANATIONS) {
          if (!e.match.some((m) => matches(m, t.file.replace(/\.litmus$/, ''), report.backend.name, o.key))) continue;
          for (const c of e.classification) {
            if (c.kind !== 'profile') continue;
            if (c.profiles.every((p) => f.judgements.get(p)?.get(`${t.file}\0${o.key}`) === 'forbidden')) wrong.push(`${e.id}: ${c.profiles.join(', ')} all forbid ${t.file} ${o.key}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  }, 300_000);

  it.each(BEST.map(([n]) => n))('%s: what spec forbids and no single quirk explains, explanations.json explains as a bug, a decision, a gap or not established', (name) => {
    const { report, f } = of(name);
    let checked = 0;
    for (const u of f.unexplained) {
      const t = report.tests.find((x) => x.file === u.file)!;
      if (t.outcomes.find((o) => o.key === u.key)?.verdict !== 'FORBIDDEN') continue;
      const es = EXPLANATIONS.filter((e) => e.match.some((m) => matches(m, u.file.replace(/\.litmus$/, ''), report.backend.name, u.key)));
      expect(es.map((e) => e.id), `${u.file} ${u.key}`).not.toEqual([]);
      if (u.explainers.length > 0) continue;
      checked++;
      expect(es.flatMap((e) => e.classification).some((c) => c.kind !== 'profile'), `${u.file} ${u.key}: ${es.map((e) => e.id).join(', ')}`).toBe(true);
    }
    expect(checked).toBeGreaterThan(0);
  }, 300_000);
});
