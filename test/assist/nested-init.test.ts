// INIT and nested virtualization: the INIT VM exit (SDM Vol 3C 26.2), INIT blocked in the wait-for-SIPI guest state
// (SDM Vol 3C 26.2, 27.6.2), #VMEXIT(INIT) leaving INIT pending on AMD (decision D-39), and Bochs 2.7's INIT that
// stays pending after an INIT VM exit (quirk initVmexitLeavesInitPending). The Bochs and SVM outcomes are read from
// the saved conformance reports, so what is checked is that the model reproduces what the implementations did.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Activity, VmxMode } from '../../src/arch/cpu.js';
import { modelOutcomes } from '../../src/backends/conform.js';
import { heldEvents, nextEvent, EventKind } from '../../src/cpu/events.js';
import { runLitmus } from '../../src/explore/run.js';
import { parseLitmus } from '../../src/litmus/parse.js';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { Machine } from '../../src/machine/machine.js';
import { profile, type Profile } from '../../src/sim/profile.js';
import { DEFAULT_PROFILE, findProfile } from '../../src/sim/profiles.js';

const EXPECTED = JSON.parse(readFileSync('litmus/expected.json', 'utf8')) as Record<string, Record<string, string>>;

interface ReportTest { file: string; status: string; completed: number; timedOut: number; runs: number; outcomes: { key: string; count: number }[] }
function reported(backend: string, file: string): ReportTest {
  const r = JSON.parse(readFileSync(`conformance/results/${backend}.json`, 'utf8')) as { tests: ReportTest[] };
  const t = r.tests.find((x) => x.file === file);
  if (!t) throw new Error(`${file} is not in conformance/results/${backend}.json`);
  return t;
}
function load(file: string): LitmusTest {
  const p = parseLitmus(readFileSync(`litmus/${file}`, 'utf8'), file);
  if (!p.ok) throw new Error(p.errors[0].format());
  return p.test;
}
function named(name: string): Profile {
  const p = findProfile(name);
  if (!p) throw new Error(`no profile ${name}`);
  return p;
}
const onlyQuirk = profile('spec-init-pending', 'spec with the Bochs 2.7 INIT VM exit only', [
  { quirk: 'initVmexitLeavesInitPending', behaviour: 'test', evidence: 'test' },
]);
const allowed = (file: string, p: Profile): string[] => modelOutcomes(load(file), p).allowed.slice().sort();

describe('seed 002 on Bochs 2.7 (CONFORMANCE.md N1)', () => {
  const file = 'seed-002-nested-sipi-exit.litmus';
  const observed = reported('bochs', file).outcomes.map((o) => o.key).sort();

  it('bochs-2.7 allows exactly the outcomes Bochs gave, and spec and kvm-2020-nested allow none of them', () => {
    expect(observed.length).toBeGreaterThan(0);
    expect(allowed(file, named('bochs-2.7'))).toEqual(observed);
    for (const p of [DEFAULT_PROFILE, named('kvm-2020-nested')]) {
      for (const key of observed) expect(allowed(file, p)).not.toContain(key);
    }
  });

  it('the quirk alone turns spec\'s answer into Bochs\'s', () => {
    expect(allowed(file, onlyQuirk)).toEqual(observed);
  });

  it('spec and kvm-2020-nested keep the answers litmus/expected.json records', () => {
    for (const p of ['spec', 'kvm-2020-nested', 'bochs-2.7']) {
      expect(runLitmus(readFileSync(`litmus/${file}`, 'utf8'), { profile: p }).result).toBe(EXPECTED[file][p]);
    }
  });
});

describe('nested-init-exit-then-resume on Bochs 2.7 (N2)', () => {
  const file = 'nested-init-exit-then-resume.litmus';
  const text = readFileSync(`litmus/${file}`, 'utf8');

  it('bochs-2.7: the INIT exits at every VM entry, a run that never ends, as no Bochs run ended', () => {
    const a = runLitmus(text, { profile: 'bochs-2.7' });
    expect(a.nonTerminating).toBe(true);
    expect(a.outcomes).toEqual([]);
    const r = reported('bochs', file);
    expect(r.completed).toBe(0);
    expect(r.timedOut).toBe(r.runs);
  });

  it('spec and kvm-2020-nested: one INIT exit, the guest goes on', () => {
    for (const p of ['spec', 'kvm-2020-nested']) {
      const a = runLitmus(text, { profile: p });
      expect(a.nonTerminating).toBe(false);
      expect(a.result).toBe(EXPECTED[file][p]);
      expect(a.result).toBe('Ok');
    }
  });
});

describe('the INIT kept after an INIT VM exit (quirk initVmexitLeavesInitPending)', () => {
  const afterExit = (p: Profile, handler: string) => runLitmus(`lapis kept-init
config { cpus = 2 }
init {
  after = 0
  handled = 0
  P1.vmx = non-root
}
P0 { send init -> P1 }
P1 { wait 5 }
P1 on vmexit init { ${handler} }
observe P1.vmx, P1.activity, after, handled
exists (P1.vmx = off)`, { profile: p });

  it('VMXOFF in the exit handler lets the kept INIT reset the CPU: it waits for a SIPI', () => {
    const kept = afterExit(onlyQuirk, 'vmxoff\n  store after = 1');
    expect(kept.outcomes.map((o) => [o.values['P1.activity'], o.values.after])).toEqual([['wait-for-sipi', 0]]);
    const spec = afterExit(DEFAULT_PROFILE, 'vmxoff\n  store after = 1');
    expect(spec.outcomes.map((o) => [o.values['P1.activity'], o.values.after])).toEqual([['halted', 1]]);
  });

  it('held in VMX root while L1 runs: the handler finishes', () => {
    const kept = afterExit(onlyQuirk, 'store handled = 1');
    expect(kept.outcomes.map((o) => [o.values.handled, o.values['P1.vmx']])).toEqual([[1, 'root']]);
  });
});

describe('INIT in the wait-for-SIPI guest state (SDM Vol 3C 26.2, 27.6.2)', () => {
  it('is held, with no VM exit, and exits once the guest is active', () => {
    const m = new Machine({ cpus: 2 });
    const cpu = m.cpus[1];
    cpu.setVmx(VmxMode.NON_ROOT);
    cpu.setActivity(Activity.WAIT_FOR_SIPI);
    cpu.receiveInit();
    expect(nextEvent(cpu)).toBe(EventKind.NONE);
    expect(heldEvents(cpu).map((h) => h.blockedBy)).toEqual(['wait-for-SIPI guest state']);
    cpu.setActivity(Activity.ACTIVE);
    expect(nextEvent(cpu)).toBe(EventKind.INIT_VMEXIT);
  });

  it('bochs-2.7 latches it there (its VM entry unmasks INIT) rather than dropping it', () => {
    const file = 'nested-init-blocked-in-guest-wfs.litmus';
    expect(allowed(file, named('bochs-2.7'))).toEqual(allowed(file, DEFAULT_PROFILE));
  });
});

describe('AMD: #VMEXIT(INIT) leaves INIT pending (decision D-39)', () => {
  const exitThenHandler = (vendor: 'intel' | 'amd') => runLitmus(`lapis svm-init
config { cpus = 2
  vendor = ${vendor} }
init {
  handled = 0
  P1.vmx = non-root
}
P0 { send init -> P1 }
P1 { wait 5 }
P1 on vmexit init { store handled = 1 }
observe P1.vmx, P1.activity, P1.vmexits(init)
exists (handled = 1)`);

  it('the host is INITed before its exit handler runs; on Intel the exit consumes the INIT', () => {
    const amd = exitThenHandler('amd').outcomes.map((o) => [o.values.handled, o.values['P1.vmx'], o.values['P1.activity'], o.values['P1.vmexits(init)']]);
    expect(amd).toEqual([[0, 'off', 'wait-for-sipi', 1]]);
    const intel = exitThenHandler('intel').outcomes.map((o) => [o.values.handled, o.values['P1.vmx'], o.values['P1.vmexits(init)']]);
    expect(intel).toEqual([[1, 'root', 1]]);
  });

  it('spec allows every outcome the SVM backends gave for nested-sipi-cleared-on-svm', () => {
    const file = 'nested-sipi-cleared-on-svm.litmus';
    const specAllows = allowed(file, DEFAULT_PROFILE);
    let seen = 0;
    for (const b of ['qemu-tcg', 'qemu10-tcg', 'bochs-svm']) {
      for (const o of reported(b, file).outcomes) {
        expect(specAllows).toContain(o.key);
        seen++;
      }
    }
    expect(seen).toBeGreaterThan(0);
  });
});
