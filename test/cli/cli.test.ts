// The lapis command line, run as a user runs it (node dist/cli/main.js; `npm test` builds dist first).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lapis, lapisWith, jsonOut } from '../helpers/lapis.js';


function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'lapis-cli-'));
}

const BROKEN = `lapis broken
P0 {
  apic write SVRR = 0x1ff
}
exists (P0.done = 1)
`;

describe('lapis run', () => {
  it('answers a seed test herd-style and exits 0 when Ok', () => {
    const r = lapis('run', 'litmus/seed-003-apic-id-in-smm.litmus');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Test APIC-ID-in-SMM Required \(profile spec\)/m);
    expect(r.out).toMatch(/^Ok$/m);
    expect(r.out).toMatch(/^Observation APIC-ID-in-SMM Always 1 0$/m);
  });

  it('exits 1 when the answer is No (the seed bug under its profile)', () => {
    const r = lapis('run', 'litmus/seed-003-apic-id-in-smm.litmus', '--profile', 'kvm-2015');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^No$/m);
  });

  it('--json prints the contract fields', () => {
    const r = lapis('run', 'litmus/seed-000-sipi-during-smm.litmus', '--json');
    const j = jsonOut(r);
    expect(j).toMatchObject({ test: 'SIPI-during-SMM', profile: 'spec', ok: true, observation: 'Sometimes', complete: true, nonTerminating: false });
    expect(j.condition).toBe('exists (P1.activity = wait-for-sipi /\\ booted = 0)');
    expect(j.witnesses).toEqual({ positive: 1, negative: 1 });
    expect(j.outcomes).toContainEqual(expect.objectContaining({ values: { 'P1.activity': 'wait-for-sipi', booted: 0 }, satisfies: true }));
    expect(typeof j.states).toBe('number');
    expect(typeof j.ms).toBe('number');
  });

  it('--trace prints a step-by-step witness in tracepoint style', () => {
    const r = lapis('run', 'litmus/seed-000-sipi-during-smm.litmus', '--trace');
    expect(r.out).toMatch(/Witness of outcome P1.activity=wait-for-sipi; booted=0, which satisfies exists/);
    expect(r.out).toMatch(/^ +4 +0 +takes smi\n +smi: enter SMM smbase=0x30000$/m);
    expect(r.out).toMatch(/sipi 0x10 discarded: in SMM/);
  });

  it('--trace-json gives the steps as JSON', () => {
    const j = jsonOut(lapis('run', 'litmus/seed-003-apic-id-in-smm.litmus', '--json', '--trace-json'));
    expect(j.traces[0].steps.length).toBeGreaterThan(3);
    expect(j.traces[0].steps[0]).toMatchObject({ index: 1, kind: expect.any(String), text: expect.any(String), changed: expect.any(Object) });
  });

  it('a cut-short run says complete: false and is never Ok for forall', () => {
    const r = lapis('run', 'litmus/bringup-4.litmus', '--max-states', '20', '--no-por', '--json');
    const j = jsonOut(r);
    expect(j.complete).toBe(false);
    expect(j.ok).toBe(false);
    expect(j.result).toBe('Incomplete');
    expect(r.code).toBe(3);
  });

  it('--no-symmetry and --jobs 2 give the same answer (outcomes, Ok, complete) as the default search', () => {
    const outcomesOf = (...args: string[]) => {
      const r = lapis('run', 'litmus/bringup-4.litmus', '--json', ...args);
      expect(r.code).toBe(0);
      const j = jsonOut(r);
      return { outcomes: j.outcomes.map((o: { values: unknown; satisfies: boolean }) => [o.values, o.satisfies]), ok: j.ok, complete: j.complete, states: j.states };
    };
    const plain = outcomesOf(), noSym = outcomesOf('--no-symmetry'), jobs = outcomesOf('--jobs', '2');
    expect({ ...noSym, states: 0 }).toEqual({ ...plain, states: 0 });
    expect({ ...jobs, states: 0 }).toEqual({ ...plain, states: 0 });
    expect(plain.states).toBeLessThan(noSym.states);
  });

  it('a malformed file gets file:line:col, the line, a caret, and exit 2', () => {
    const dir = tmp();
    try {
      writeFileSync(join(dir, 'broken.litmus'), BROKEN);
      const r = lapis('run', join(dir, 'broken.litmus'));
      expect(r.code).toBe(2);
      expect(r.err).toContain(`${join(dir, 'broken.litmus')}:3:14: error:`);
      expect(r.err).toContain('  apic write SVRR = 0x1ff\n');
      expect(r.err).toMatch(/\n {13}\^/);
      expect(r.err).toContain('SVR');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('runs a catalog test by its name from any directory; --version; list names the catalog', () => {
    const r = lapisWith({ cwd: tmpdir() }, 'run', 'seed-000-sipi-during-smm', '--json');
    expect(r.code, r.err).toBe(0);
    expect(jsonOut(r)).toMatchObject({ test: 'SIPI-during-SMM', result: 'Ok' });
    expect(lapis('--version').out.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    expect(lapis('list').out).toMatch(/^seed-003-apic-id-in-smm +\S/m);
  });

  it('an unknown profile or option is a usage error (exit 2)', () => {
    expect(lapis('run', 'litmus/seed-003-apic-id-in-smm.litmus', '--profile', 'nope').code).toBe(2);
    expect(lapis('run', '--bogus').code).toBe(2);
    expect(lapis('run', 'litmus/seed-003-apic-id-in-smm.litmus', '--max-states', 'lots').code).toBe(2);
  });
});

describe('lapis check, profiles, suite, seeds', () => {
  it('check validates without running', () => {
    const r = lapis('check', 'litmus/seed-000-sipi-during-smm.litmus', 'litmus/bringup-4.litmus');
    expect(r.code).toBe(0);
    expect(r.out).toContain('ok (SIPI-during-SMM)');
  });

  it('backends lists every real machine with its availability and features', () => {
    const r = lapis('backends');
    expect(r.code).toBe(0);
    for (const b of ['qemu-tcg', 'qemu10-tcg', 'qemu-kvm', 'qemu-kvm-split', 'qemu-kvm-off', 'bochs', 'bochs-svm']) expect(r.out).toMatch(new RegExp(`^${b} +(available|unavailable: )`, 'm'));
    expect(r.out).toMatch(/^qemu-tcg +available\n.*\n  x2apic: no/m);
    // A feature that is a value (the I/O APIC's version), not a yes/no.
    expect(r.out).toMatch(/^qemu-tcg +available\n(?:  .*\n)*?  ioapicVersion: 0x20$/m);
    expect(r.out).not.toContain('undefined');
  });

  it('profiles lists every profile with its deviations and evidence', () => {
    const r = lapis('profiles');
    for (const p of ['spec', 'kvm-2015', 'kvm-2019', 'kvm-2024', 'qemu-tcg-7.2', 'bochs-2.7']) expect(r.out).toMatch(new RegExp(`^${p}: `, 'm'));
    expect(r.out).toContain('initDroppedWhenBlocked');
    expect(r.out).toContain('bb34e690e934');
  });

  it('the README and docs/profiles.md name every profile', () => {
    const names = [...lapis('profiles').out.matchAll(/^([a-z0-9.-]+): /gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(10);
    const readme = readFileSync('README.md', 'utf8'), doc = readFileSync('docs/profiles.md', 'utf8');
    expect(names.filter((n) => !readme.includes(`\`${n}\``))).toEqual([]);
    expect(names.filter((n) => n !== 'spec' && !doc.includes(`### ${n}\n`))).toEqual([]);
  });

  it('suite prints a table, writes JUnit, and exits 1 on a mismatch', () => {
    const dir = tmp();
    try {
      copyFileSync('litmus/seed-003-apic-id-in-smm.litmus', join(dir, 'a.litmus'));
      copyFileSync('litmus/seed-004-stale-irr-after-soft-disable.litmus', join(dir, 'b.litmus'));
      writeFileSync(join(dir, 'expected.json'), JSON.stringify({ 'a.litmus': { spec: 'Ok', 'kvm-2015': 'No' }, 'b.litmus': { spec: 'Ok' } }));
      const ok = lapis('suite', dir, '--junit', join(dir, 'out.xml'));
      expect(ok.code).toBe(0);
      expect(ok.out).toMatch(/APIC-ID-in-SMM\s+kvm-2015\s+No\s+No/);
      expect(ok.out).toContain('3 passed, 0 failed');
      expect(readFileSync(join(dir, 'out.xml'), 'utf8')).toContain('<testsuite name="lapis" tests="3" failures="0" errors="0" skipped="0">');
      writeFileSync(join(dir, 'expected.json'), JSON.stringify({ 'a.litmus': { spec: 'No' }, 'b.litmus': { spec: 'Ok' } }));
      const bad = lapis('suite', dir);
      expect(bad.code).toBe(1);
      expect(bad.out).toContain('MISMATCH');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('suite understands Incomplete (a search cut short) and Unsupported (x2APIC under qemu-tcg-7.2)', () => {
    const dir = tmp();
    try {
      copyFileSync('litmus/bringup-4.litmus', join(dir, 'a.litmus'));
      copyFileSync('litmus/init-keeps-x2apic-mode.litmus', join(dir, 'b.litmus'));
      writeFileSync(join(dir, 'expected.json'), JSON.stringify({ 'a.litmus': { spec: 'Ok', 'kvm-2019': 'Incomplete' }, 'b.litmus': { 'qemu-tcg-7.2': 'Unsupported' } }));
      const cut = lapis('suite', dir, '--max-states', '20', '--junit', join(dir, 'out.xml'));
      expect(cut.out).toMatch(/bringup-4\s+kvm-2019\s+Incomplete\s+Incomplete/i);
      expect(cut.out).toMatch(/INIT-keeps-x2APIC\s+qemu-tcg-7.2\s+Unsupported\s+Unsupported/);
      expect(cut.out).toMatch(/spec\s+Ok\s+Incomplete\s.*MISMATCH/);
      expect(cut.out).toContain('2 passed, 1 failed');
      expect(readFileSync(join(dir, 'out.xml'), 'utf8')).toContain('<failure message="expected Ok, got Incomplete"/>');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('suite refuses an expected.json that does not follow its schema: one line per error, exit 2', () => {
    const dir = tmp();
    try {
      copyFileSync('litmus/bringup-4.litmus', join(dir, 'a.litmus'));
      writeFileSync(join(dir, 'expected.json'), JSON.stringify({ 'a.litmus': { spec: 'Maybe' } }));
      const r = lapis('suite', dir);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`${join(dir, 'expected.json')}: /a.litmus/spec: must be one of "Ok", "No", "Unsupported", not "Maybe"`);
      expect(r.err).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('seeds (npm start) prints the seed table with every answer as expected', () => {
    const r = lapis('seeds');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/stale-IRR-after-soft-disable\s+kvm-2019\s+No/);
    expect(r.out).toMatch(/APIC-ID-in-SMM\s+kvm-2015\s+No/);
    expect(r.out).toMatch(/AVIC-incomplete-IPI\s+kvm-2019-avic\s+No/);
    // Every profile the threads' discussions need (docs/profiles.md, one section per seed).
    expect(r.out).toMatch(/AVIC-incomplete-IPI\s+avic-isrunning-first\s+No/);
    expect(r.out).toMatch(/AVIC-incomplete-IPI\+missed-wakeup\s+avic-erratum-1235\s+No/);
    expect(r.out).toMatch(/SIPI-during-SMM\+lost-smi\s+kvm-2024-sipi-patch\s+No/);
    expect(r.out).toMatch(/nested-SIPI-exit\s+kvm-2020-nested-v1\s+No/);
    expect(r.out).toMatch(/APIC-ID-in-SMM\+BSP-hang\s+kvm-2015-pre-smi-wake\s+No/);
    expect(r.out).toMatch(/stale-IRR-after-soft-disable\s+kvm-pvm-6.18\s+No/);
    expect(r.out).toContain('Every seed answer is the expected one.');
  });
});
