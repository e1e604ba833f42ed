// The suite report's refusal categories and reader, and the explanations' matching (src/backends/report.ts,
// explain.ts): the pieces `lapis conformance` is built from.
import { describe, expect, it } from 'vitest';
import { categoryById, parseSuiteJson, refusalCategory, ReportError } from '../../src/backends/report.js';
import { explain, matches, parseExplanations, ExplanationsError } from '../../src/backends/explain.js';
import { suiteLine } from '../../src/backends/cli.js';
import type { ConformRan } from '../../src/backends/conform.js';

describe('refusal categories', () => {
  it('the compiler and backends refusals land in stable categories', () => {
    expect(refusalCategory('config accel = avic', 'the test runs its CPUs as vCPUs under a hardware assist (AVIC/APICv) and a hypervisor the model plays').id).toBe('vcpu-assist');
    expect(refusalCategory('config accel = tpr-shadow', 'the test runs its CPUs as vCPUs under a hardware assist (AVIC, APICv, a TPR shadow) and a hypervisor the model plays').id).toBe('vcpu-assist');
    expect(refusalCategory('ioapic.9 = { vector = 0x39 }', 'the I/O APIC is not compiled yet').id).toBe('ioapic-msi');
    expect(refusalCategory('D0: msi phys 1 vector 0x05', 'device MSIs are not compiled yet').id).toBe('ioapic-msi');
    expect(refusalCategory('P1: timer.ICR = 5', 'arms the APIC timer: its ticks and `wait N` cannot be related on a real machine').id).toBe('apic-timer');
    expect(refusalCategory('wrmsr IA32_TSC_DEADLINE', 'IA32_TSC_DEADLINE is an absolute TSC value: the model\'s TSC starts with the run').id).toBe('tsc-deadline-absolute');
    expect(refusalCategory('x2APIC', "the test's CPUs have no x2APIC (config x2apic = false); this backend's CPUs have it").id).toBe('x2apic-backend');
    expect(refusalCategory('SMI', 'unsupported by this host: KVM here has no SMM').id).toBe('no-smm');
    expect(refusalCategory('NMI', "the test's NMIs need IRET to end NMI blocking: no IRET").id).toBe('no-iret');
  });

  it('an unknown refusal is its own category, by its reason, and reads back', () => {
    const c = refusalCategory('frob', 'frobbing is not compiled');
    expect(c.id).toBe('other: frobbing is not compiled');
    expect(categoryById(c.id).label).toBe('other: frobbing is not compiled');
    expect(categoryById('apic-timer').short).toBe('APIC timer');
  });
});

describe('suite report reader', () => {
  const good = {
    schema: 'lapis-suite/1', kind: 'suite', backend: { name: 'qemu-tcg', description: 'd', version: 'v' }, profile: 'spec', runsPerTest: 1, jobs: 1, dir: 'litmus',
    host: { cpus: 2, cpuModel: 'c', kernel: 'k', arch: 'x64' }, started: '2026-01-01T00:00:00.000Z', elapsedMs: 1,
    tests: [{ file: 'a.litmus', status: 'ran', runs: 1, completed: 1, hung: 0, crashed: 0, unreadable: 0, timedOut: 0, forbidden: 0, boots: 1, elapsedMs: 1, failures: [], outcomes: [{ key: 'x=1', count: 1, verdict: 'allowed', allowedBy: [] }] }],
  };

  it('reads a report that follows the schema', () => {
    expect(parseSuiteJson(JSON.stringify(good), 'g.json').tests[0].file).toBe('a.litmus');
  });

  it('names the file and the field that is wrong', () => {
    expect(() => parseSuiteJson('{', 'x.json')).toThrow(/^x\.json: not JSON/);
    const bad = structuredClone(good);
    bad.tests[0].outcomes[0].verdict = 'maybe';
    expect(() => parseSuiteJson(JSON.stringify(bad), 'b.json')).toThrow(ReportError);
    expect(() => parseSuiteJson(JSON.stringify(bad), 'b.json')).toThrow('b.json: tests[0].outcomes[0].verdict: expected allowed, FORBIDDEN or unexplored');
    const noRefusal = structuredClone(good);
    noRefusal.tests[0].status = 'refused';
    expect(() => parseSuiteJson(JSON.stringify(noRefusal), 'r.json')).toThrow('r.json: tests[0].refusal: expected an object');
  });
});

describe('explanations', () => {
  const file = (match: unknown, classification: unknown = [{ kind: 'not-established' }]): string => JSON.stringify({ schema: 'lapis-explanations/1', explanations: [{ id: 'F1', title: 't', match, classification, text: ['a', 'b'] }] });

  it('an outcome pattern matches by name=value parts, spaces or not, within the named backends', () => {
    const [e] = parseExplanations(file([{ test: 'tpr', backends: ['qemu-tcg'], outcome: ['P0:r3 = 0', 'P0.irr(0x45)=0'] }]), 'e.json');
    expect(e.text).toBe('a\nb');
    const m = e.match[0];
    expect(matches(m, 'tpr', 'qemu-tcg', 'P0:r2=0; P0:r3=0; P0.irr(0x45)=0')).toBe(true);
    expect(matches(m, 'tpr', 'bochs', 'P0:r2=0; P0:r3=0; P0.irr(0x45)=0')).toBe(false);
    expect(matches(m, 'tpr', 'qemu-tcg', 'P0:r2=0; P0:r3=1; P0.irr(0x45)=0')).toBe(false);
    // A value that is a prefix of another is not the same value.
    expect(matches(m, 'tpr', 'qemu-tcg', 'P0:r3=0x10; P0.irr(0x45)=0')).toBe(false);
    expect(matches(m, 'other', 'qemu-tcg', 'P0:r3=0; P0.irr(0x45)=0')).toBe(false);
    const [any] = parseExplanations(file([{ test: 'tpr' }]), 'e.json');
    expect(explain([any], 'tpr', 'anything', 'x=1')).toHaveLength(1);
  });

  it('a malformed entry is an error naming it', () => {
    expect(() => parseExplanations(file([{ test: 'tpr', backend: ['qemu-tcg'] }]), 'e.json')).toThrow('e.json: explanations[0] (F1).match[0]: unknown field "backend" (test, backends, outcome)');
    expect(() => parseExplanations(file([{ test: 'tpr' }], [{ kind: 'decision', decision: 'six' }]), 'e.json')).toThrow(ExplanationsError);
    expect(() => parseExplanations(file([{ test: 'tpr' }], [{ kind: 'bug' }]), 'e.json')).toThrow(/kind: expected one of backend-bug, profile, decision, profile-gap, not-established/);
    expect(() => parseExplanations(file([]), 'e.json')).toThrow(/match: expected a non-empty array/);
  });

  it('the checked-in explanations file reads', async () => {
    const { readFileSync } = await import('node:fs');
    const all = parseExplanations(readFileSync('conformance/explanations.json', 'utf8'), 'conformance/explanations.json');
    expect(all.map((e) => e.id)).toContain('F20');
  });
});

describe('suite lines', () => {
  const base: ConformRan = {
    status: 'ran', test: 't', file: 't.litmus', backend: 'qemu-tcg', profile: 'spec', condition: 'forall (true)',
    runs: 3, completed: 0, hung: 0, crashed: 0, unreadable: 3, failures: [{ status: 'unreadable', reason: 'no value for P0.apic.mode', count: 3 }],
    timedOut: 0, outcomes: [], forbidden: 0, ok: true, observation: 'Never', witnesses: { positive: 0, negative: 0 },
    model: { profile: 'spec', answer: null, error: null, allowed: ['x=1'] }, notObserved: ['x=1'], boots: 3, ms: 10, runsPerSecond: 0,
  };
  it('a test whose runs all failed says NO RUN, not ok', () => {
    expect(suiteLine('t.litmus', base)).toMatch(/^t\.litmus +NO RUN +0 runs, 0 hung, 0 crashed, 3 unreadable, 0 timed out;/);
  });
  it('completed runs with only allowed outcomes say ok; a forbidden one says FORBIDDEN k/n', () => {
    const out = { key: 'x=1', values: { x: '1' }, count: 2, satisfies: true, verdict: 'allowed' as const, allowedBy: [] };
    expect(suiteLine('t.litmus', { ...base, completed: 2, unreadable: 1, outcomes: [out] })).toMatch(/^t\.litmus +ok +2 runs/);
    expect(suiteLine('t.litmus', { ...base, completed: 2, unreadable: 1, forbidden: 2, outcomes: [{ ...out, verdict: 'FORBIDDEN' }] })).toMatch(/^t\.litmus +FORBIDDEN 2\/2 +2 runs/);
  });
});
