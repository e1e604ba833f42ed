// The suite report's refusal categories and reader, and the explanations' matching (src/backends/report.ts,
// explain.ts): the pieces `lapis conformance` is built from.
import { describe, expect, it } from 'vitest';
import { categoryById, parseSuiteJson, refusalCategoryId, ReportError } from '../../src/backends/report.js';
import { backendRefusal, compileTest, CompileRefusal } from '../../src/backends/compile.js';
import { getBackend } from '../../src/backends/backends.js';
import { load, parse } from './helpers.js';
import { classificationSummary, explain, matches, parseExplanations, ExplanationsError } from '../../src/backends/explain.js';
import { suiteLine } from '../../src/backends/cli.js';
import type { ConformRan } from '../../src/backends/conform.js';

describe('refusal categories', () => {
  const refusal = (src: string): CompileRefusal => {
    try {
      compileTest(parse(src));
    } catch (e) {
      if (e instanceof CompileRefusal) return e;
      throw e;
    }
    throw new Error('compiled');
  };
  const test = (body: string, config = 'cpus = 2', extra = ''): string => `lapis t\nconfig { ${config} }\n${body}\n${extra}\nexists (true)\n`;

  it('the compiler says why it refuses as data: the category comes with the refusal, not from its text', () => {
    const cases: [string, string][] = [
      [test('P0 { nop }', 'cpus = 2\n accel = avic'), 'vcpu-assist'],
      [test('P0 { nop }\nD0 { irq 0 pulse }'), 'ioapic-msi'],
      [test('P0 { nop }\nD0 { msi self vector 0x40 }').replace('msi self', 'msi phys 0xff'), 'ioapic-msi'],
      [test('P0 { apic write LVT_TIMER = 0x40030\n wrmsr IA32_TSC_DEADLINE = r1 }', 'cpus = 1'), 'apic-timer'],
      [test('P0 { send init -> all }'), 'bsp-init'],
      [test('P0 { send fixed 0x10 -> P1 }'), 'vector-lt-32'],
      [test('P0 { send smi -> others }'), 'spare-cpu'],
      [test('P0 { nop }\nD0 { hotplug P1 }'), 'hotplug'],
      [test('P0 { vmxon }', 'cpus = 2\n vendor = amd'), 'nested-vmx'],
      [test('P0 { nop }', 'cpus = 2', 'observe P1.smbase'), 'wfs-apic'],
    ];
    for (const [src, category] of cases) expect(refusal(src).category, src).toBe(category);
  });

  it('a backend without TSC-deadline mode refuses a deadline test under its own category, not `other`', () => {
    const c = compileTest(load('litmus/timer-tsc-deadline.litmus'));
    const r = backendRefusal(c, getBackend('qemu-tcg')!);
    expect(r?.category).toBe('no-tsc-deadline');
    expect(backendRefusal(c, getBackend('bochs')!)).toBeNull();
    expect(categoryById('no-tsc-deadline').short).toBe('no TSC-deadline (backend)');
  });

  it('an `other` refusal is its own row, by its reason, and reads back', () => {
    const id = refusalCategoryId('other', 'frobbing is not compiled');
    expect(id).toBe('other: frobbing is not compiled');
    expect(categoryById(id).label).toBe('other: frobbing is not compiled');
    expect(refusalCategoryId('apic-timer', 'whatever')).toBe('apic-timer');
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
    expect(() => parseExplanations(file([{ test: 'tpr' }], [{ kind: 'bug' }]), 'e.json')).toThrow(/kind: expected one of backend-bug, profile, decision, profile-gap, runner, not-established/);
    expect(() => parseExplanations(file([]), 'e.json')).toThrow(/match: expected a non-empty array/);
    expect(() => parseExplanations(file([{ test: 'tpr' }], [{ kind: 'runner' }]), 'e.json')).toThrow(/reference: a runner limit needs the experiment that shows it/);
  });

  it('a runner limit reads, with the experiment that shows it', () => {
    const [e] = parseExplanations(file([{ test: 'tpr' }], [{ kind: 'runner', reference: '--settle 5000' }]), 'e.json');
    expect(e.classification).toEqual([{ kind: 'runner', reference: '--settle 5000' }]);
    // The web app's report view words each kind (not `not established` for one it does not know).
    expect(e.classification.map(classificationSummary)).toEqual(['the runner, not the backend (--settle 5000)']);
    expect(classificationSummary({ kind: 'not-established' })).toBe('not established');
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
