// runLitmus, the explorer as a library: the answer object of `lapis run --json`.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostError, LitmusError, runLitmus } from '../../src/index.js';
import { bringupLitmus } from '../../src/scenarios/bringup.js';

const SEED = readFileSync('litmus/seed-000-sipi-during-smm.litmus', 'utf8');
const X2APIC = readFileSync('litmus/init-keeps-x2apic-mode.litmus', 'utf8');

describe('runLitmus', () => {
  it('answers under a profile given by name, with the answer fields', () => {
    const spec = runLitmus(SEED);
    expect(spec).toMatchObject({ test: 'SIPI-during-SMM', profile: 'spec', result: 'Ok', ok: true, complete: true, cutBy: null });
    expect(spec.traces).toBeUndefined();
    const patched = runLitmus(SEED, { profile: 'kvm-2024-sipi-patch' });
    expect(patched.profile).toBe('kvm-2024-sipi-patch');
    expect(patched.result).toBe('No');
  });

  it('a test that does not parse throws LitmusError with located diagnostics; an unknown profile, HostError', () => {
    let err: unknown;
    try {
      runLitmus('lapis T\nP0 {\n  frob\n}\nexists (x = 1)\n', { file: 'mine.litmus' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LitmusError);
    expect((err as LitmusError).diagnostics[0]).toMatchObject({ file: 'mine.litmus', line: 3 });
    expect(() => runLitmus(SEED, { profile: 'nope' })).toThrow(HostError);
  });

  it('a test the profile cannot run is answered Unsupported, with the reason', () => {
    const a = runLitmus(X2APIC, { profile: 'qemu-tcg-7.2' });
    expect(a).toMatchObject({ result: 'Unsupported', ok: false, complete: false, states: 0, outcomes: [] });
    expect(a.reason).toMatch(/x2apic is not available under profile qemu-tcg-7.2/);
  });

  it('limits cut the search short: Incomplete and complete: false, never Ok for forall', () => {
    const a = runLitmus(bringupLitmus(3, true), { maxStates: 50, por: false });
    expect(a).toMatchObject({ result: 'Incomplete', ok: false, complete: false, cutBy: 'max-states' });
    // A counterexample decides No even from a search cut short.
    const first = runLitmus('lapis F\nP0 {\n  store x = 1\n}\nP1 {\n  load r1 = x\n}\nforall (P1:r1 = 1)\n', { first: true });
    expect(first).toMatchObject({ result: 'No', complete: false, cutBy: 'decided' });
  });

  it('an interrupted search returns what it found so far, cut by interrupted', () => {
    let polls = 0;
    const a = runLitmus(bringupLitmus(3, true), { por: false, interrupted: () => ++polls >= 3 });
    expect(a).toMatchObject({ complete: false, cutBy: 'interrupted', result: 'Incomplete' });
    expect(a.states).toBeGreaterThan(0);
    expect(a.states).toBeLessThan(runLitmus(bringupLitmus(3, true), { por: false }).states);
    const r = runLitmus(bringupLitmus(3, true), { random: { runs: 100, seed: 7 }, interrupted: () => true });
    expect(r).toMatchObject({ cutBy: 'interrupted', states: 0 });
  });

  it('trace adds the shortest run to each outcome, as JSON (no bigint)', () => {
    const a = runLitmus(SEED, { trace: true });
    expect(a.traces).toHaveLength(a.outcomes.length);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });
});
