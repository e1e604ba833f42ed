import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { parseLitmus } from '../../src/litmus/parse.js';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { Simulator } from '../../src/sim/sim.js';
import { findProfile, type Profile } from '../../src/sim/profiles.js';
import { explore, type ExploreOptions, type ExploreResult } from '../../src/explore/explore.js';
import { answer } from '../../src/explore/answer.js';
import { findSymmetry } from '../../src/explore/symmetry.js';
import { bringupLitmus } from '../../src/scenarios/bringup.js';
import { smallTest, symmetricTest } from './gen.js';

function parse(text: string): LitmusTest {
  const r = parseLitmus(text, 'test.litmus');
  if (!r.ok) throw new Error(`${r.errors.map((e) => e.format()).join('\n')}\n${text}`);
  return r.test;
}

/** What an answer says, with and without symmetry alike: outcomes, Ok, completeness, non-termination. */
function verdict(test: LitmusTest, r: ExploreResult, profile = 'spec') {
  const a = answer(test, profile, r);
  return { outcomes: a.outcomes.map((o) => ({ values: o.values, satisfies: o.satisfies })), ok: a.ok, observation: a.observation, complete: a.complete, nonTerminating: a.nonTerminating };
}

/** Each outcome's witness, replayed from the initial state, ends in a final state with that outcome. */
function witnessesHold(test: LitmusTest, r: ExploreResult, profile?: Profile): void {
  const sim = new Simulator(test, profile);
  const steps: number[] = [];
  for (const o of r.outcomes) {
    if (o.witness.length === 0 && r.outcomes.length > 0 && o.count > 0) {
      // A witness is dropped only for runs deeper than the explorer keeps paths for.
      expect(r.states).toBeGreaterThan(0);
    }
    sim.reset();
    for (const s of o.witness) sim.apply(s);
    sim.enabled(steps);
    expect(steps).toEqual([]);
    expect(sim.outcome().key).toBe(o.key);
  }
}

function compare(text: string, opts: ExploreOptions = {}, profile?: Profile): { symmetric: boolean; complete: boolean } {
  const test = parse(text);
  const full = explore(new Simulator(test, profile), { ...opts, symmetry: false });
  if (!full.complete) return { symmetric: false, complete: false };
  const reduced = explore(new Simulator(test, profile), opts);
  expect(verdict(test, reduced, profile?.name)).toEqual(verdict(test, full, profile?.name));
  if (reduced.symmetry) expect(reduced.states).toBeLessThanOrEqual(full.states);
  witnessesHold(test, reduced, profile);
  return { symmetric: reduced.symmetry !== null, complete: true };
}

describe('symmetry reduction', () => {
  it('finds the APs of the bring-up interchangeable, with the BSP and the agent as drivers', () => {
    const found = findSymmetry(new Simulator(parse(bringupLitmus(4, true))));
    expect(found.symmetry?.cpus).toEqual([1, 2, 3, 4]);
    expect(found.symmetry?.describe()).toBe('P1, P2, P3, P4 interchangeable (2 families in P0; 1 family in D0)');
  });

  it.each([1, 2, 3, 4])('bring-up with %i APs: the same answers and fewer states, with and without the resend', (n) => {
    for (const resend of [true, false]) {
      for (const por of [true, false]) {
        if (!por && n > 2) continue;
        compare(bringupLitmus(n, resend), { por });
      }
    }
    const full = explore(new Simulator(parse(bringupLitmus(4, true))), { symmetry: false });
    const reduced = explore(new Simulator(parse(bringupLitmus(4, true))));
    expect(reduced.states).toBeLessThan(full.states / 2);
  });

  it('says why a test has none', () => {
    const why = (text: string): string | undefined => findSymmetry(new Simulator(parse(text))).why;
    const apsNamed = (op: string): string => `lapis t\nconfig {\n  cpus = 3\n}\nP0 {\n  ${op}\n}\nP1 on sipi {\n  nop\n}\nP2 on sipi {\n  nop\n}\nforall (P0.done = 1)\n`;
    expect(why(apsNamed('send sipi 0x10 -> P2'))).toMatch(/outside a family/);
    expect(why(apsNamed('send lowest 0x40 -> P1'))).toMatch(/lowest-priority/);
    expect(why(apsNamed('send fixed 0x40 -> logical 0x3'))).toMatch(/logical/);
    expect(why(apsNamed('nop'))).toBeUndefined();
    const twice = (between: string): string => apsNamed(`send nmi -> P1\n  send nmi -> P2\n${between}  send nmi -> P1\n  send nmi -> P2`);
    expect(why(twice(''))).toMatch(/without a `wait`/);
    expect(why(twice('  wait 5\n'))).toBeUndefined();
    expect(why(apsNamed('load r1 = x\n  send nmi -> P1\n  send nmi -> P2'))).toBeUndefined();
    expect(why(apsNamed('send nmi -> P1\n  send nmi -> P2\n  send nmi -> P0'))).toMatch(/names a CPU that drives/);
  });

  it('SMM: members sharing a state-save map are not interchangeable when driven; SMBASEs of their own are identities', () => {
    const found = (text: string, profile = 'spec') => findSymmetry(new Simulator(parse(text), findProfile(profile)!));
    /** P1 and P2 each get an SMI from D0 (a family); `init` and `handler` vary. */
    const smis = (init: string, handler: string, extra = ''): string =>
      `lapis t\nconfig {\n  cpus = 3\n}\ninit {\n  P1.activity = halted\n  P2.activity = halted\n${init}}\nD0 {\n  smi -> P1\n  smi -> P2\n}\n` +
      `P1 on smi {\n${handler}  rsm\n}\nP2 on smi {\n${handler}  rsm\n}\n${extra}forall (P0.done = 1)\n`;
    const own = '  P1.smbase = 0x41000\n  P2.smbase = 0x42000\n';
    // One SMBASE (0x30000 for both): SMM entries write each other's map, so driving them one by one is order-dependent.
    expect(found(smis('', '')).why).toMatch(/may share its state-save map/);
    // SMBASEs of their own: interchangeable, under RSM's 32 KiB alignment too (one SMI each: they never meet).
    expect(found(smis(own, '')).symmetry?.cpus).toEqual([1, 2]);
    expect(found(smis(own, ''), 'qemu-tcg-2015').symmetry?.cpus).toEqual([1, 2]);
    // ... unless a handler changes or reads SMBASE, or it is observed.
    expect(found(smis(own, '  smbase = 0x50000\n')).why).toMatch(/SMBASE field/);
    expect(found(smis(own, '  smram read r1 = SMBASE\n')).why).toMatch(/SMBASE field/);
    expect(found(smis(own, '', 'observe P1.smbase, P2.smbase\n')).why).toMatch(/smbase observed/);
    // Under kvm-2015 the xAPIC page in SMM is RAM every CPU shares: members touching it must not be driven.
    expect(found(smis(own, '  apic write TPR = 0x20\n'), 'kvm-2015').why).toMatch(/apicMmioInSmm/);
    expect(found(smis(own, '  apic write TPR = 0x20\n')).symmetry?.cpus).toEqual([1, 2]);
    // Each case gives the answers of the search without symmetry.
    for (const [text, profile] of [[smis(own, '  smram read r1 = AUTO_HALT_RESTART\n', 'observe P1:r1, P2:r1\n'), 'qemu-tcg-2015'], [smis('', '  smram write AUTO_HALT_RESTART = 1\n'), 'spec']] as const) {
      compare(text, {}, findProfile(profile)!);
    }
  });

  it('the bring-up under every profile that aligns SMBASE or shares the SMM page keeps its symmetry', () => {
    for (const profile of ['qemu-tcg-2015', 'kvm-2015']) {
      expect(findSymmetry(new Simulator(parse(bringupLitmus(3, true)), findProfile(profile)!)).symmetry?.cpus).toEqual([1, 2, 3]);
      compare(bringupLitmus(3, false), {}, findProfile(profile)!);
    }
  });

  const catalog = readdirSync('litmus').filter((f) => f.endsWith('.litmus'));
  const expected = JSON.parse(readFileSync('litmus/expected.json', 'utf8')) as Record<string, Record<string, string>>;
  const symmetric = catalog.filter((f) => {
    try {
      return findSymmetry(new Simulator(parse(readFileSync(`litmus/${f}`, 'utf8')))).symmetry !== null;
    } catch {
      return false;
    }
  });
  it('catalog tests with a symmetry exist (the next check is not empty)', () => {
    expect(symmetric.length).toBeGreaterThanOrEqual(3);
  });
  it.each(symmetric)('catalog %s: the same answers under every profile it names', (f) => {
    for (const name of Object.keys(expected[f] ?? { spec: 'Ok' })) {
      if (expected[f][name] === 'Unsupported') continue;
      compare(readFileSync(`litmus/${f}`, 'utf8'), {}, findProfile(name)!);
    }
  });

  it('generated tests with interchangeable CPUs: the same answers, and every witness a real run', () => {
    let symmetricRuns = 0, runs = 0;
    // Profiles where SMM differs: spec; the xAPIC page in SMM as one shared RAM page (kvm-2015); RSM aligning
    // SMBASE to its 32 KiB tile (qemu-tcg-2015).
    fc.assert(fc.property(symmetricTest, fc.boolean(), fc.constantFrom('spec', 'kvm-2015', 'qemu-tcg-2015'), (text, por, profile) => {
      const r = compare(text, { por, maxStates: 40_000 }, findProfile(profile)!);
      if (r.complete) runs++;
      if (r.symmetric) symmetricRuns++;
    }), { numRuns: 250 });
    // Most draws keep their symmetry, so the property says something.
    expect(symmetricRuns).toBeGreaterThan(runs / 3);
  }, 600_000);

  it('generated tests without a designed symmetry: the same answers', () => {
    fc.assert(fc.property(smallTest, (text) => void compare(text, { maxStates: 30_000 })), { numRuns: 60 });
  }, 300_000);
});
