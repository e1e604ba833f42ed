import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { parseLitmus } from '../../src/litmus/parse.js';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { Simulator } from '../../src/sim/sim.js';
import { explore, type ExploreOptions } from '../../src/explore/explore.js';
import { answer } from '../../src/explore/answer.js';
import { bringupLitmus } from '../../src/scenarios/bringup.js';
import { avicRingLitmus } from '../../src/scenarios/avicRing.js';
import { findProfile } from '../../src/sim/profiles.js';
import { smallTest, smallVcpuTest } from './gen.js';
import { OPS } from '../../src/litmus/ops/index.js';
import { forEachOp } from '../../src/litmus/validate.js';

function parse(text: string): LitmusTest {
  const r = parseLitmus(text, 'test.litmus');
  if (!r.ok) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return r.test;
}

function run(text: string, opts: ExploreOptions = {}) {
  const test = parse(text);
  const res = explore(new Simulator(test), opts);
  return { res, ans: answer(test, 'spec', res) };
}

function outcomeKeys(text: string, opts: ExploreOptions): { keys: string[]; complete: boolean; nonTerminating: boolean } {
  const { res } = run(text, opts);
  return { keys: res.outcomes.map((o) => o.key).sort(), complete: res.complete, nonTerminating: res.nonTerminating };
}

const SPIN_FOREVER = `lapis spin
P0 {
L:
  nop
  goto L
}
forall (P0.done = 1)
`;

const SPIN_UNTIL_SET = `lapis spin-until
P0 {
L:
  load r1 = x
  if r1 == 0 goto L
}
P1 {
  store x = 1
}
forall (P0.done = 1)
`;

describe('explorer', () => {
  it('finds both outcomes of a store/load race', () => {
    const { ans } = run(`lapis race
P0 {
  store x = 1
}
P1 {
  load r1 = x
}
exists (P1:r1 = 0)
`);
    expect(ans.ok).toBe(true);
    expect(ans.observation).toBe('Sometimes');
    expect(ans.outcomes.map((o) => o.values['P1:r1']).sort()).toEqual([0n, 1n]);
  });

  it('reports a cycle with no way out as non-terminating, and forall is then not Ok', () => {
    const { res, ans } = run(SPIN_FOREVER);
    expect(res.nonTerminating).toBe(true);
    expect(res.nonTerminatingWitness).not.toBeNull();
    expect(ans.ok).toBe(false);
  });

  it('does not call a spin loop that another CPU ends non-terminating', () => {
    const { res, ans } = run(SPIN_UNTIL_SET);
    expect(res.nonTerminating).toBe(false);
    expect(ans.ok).toBe(true);
  });

  it('a bound that cuts the search short gives complete: false and never Ok for forall or ~exists', () => {
    const text = bringupLitmus(2, true);
    const { res, ans } = run(text, { maxStates: 10, por: false });
    expect(res.complete).toBe(false);
    expect(res.cutBy).toBe('max-states');
    expect(ans.ok).toBe(false);
    const negated = text.replace(/forall \((.*)\)\n$/, '~exists (~($1))\n');
    expect(negated).toContain('~exists');
    expect(run(negated, { maxStates: 10, por: false }).ans.ok).toBe(false);
    expect(run(negated).ans.ok).toBe(true);
  });

  it('a timeout gives complete: false', () => {
    const { res } = run(bringupLitmus(3, true), { timeoutMs: 0, por: false });
    expect(res.complete).toBe(false);
    expect(res.cutBy).toBe('timeout');
  });

  it('stops at the first counterexample when asked, and the answer is still right', () => {
    const { res, ans } = run(bringupLitmus(4, false), { stopWhenDecided: true });
    expect(res.cutBy).toBe('decided');
    expect(ans.ok).toBe(true); // exists: some AP not booted
    expect(res.states).toBeLessThan(1000);
  });

  it('random runs are reproducible for a seed and never claim completeness', () => {
    const a = outcomeKeys(bringupLitmus(2, false), { random: { runs: 30, seed: 7 } });
    const b = outcomeKeys(bringupLitmus(2, false), { random: { runs: 30, seed: 7 } });
    expect(a).toEqual(b);
    expect(a.complete).toBe(false);
  });

  it('bring-up with SIPI resend boots every AP; the naive protocol can leave one in wait-for-SIPI', () => {
    for (let n = 1; n <= 3; n++) {
      expect(run(bringupLitmus(n, true)).ans.ok).toBe(true);
      const naive = run(bringupLitmus(n, false));
      expect(naive.ans.ok).toBe(true);
      expect(naive.res.outcomes.some((o) => o.satisfies)).toBe(true);
    }
  });

  it('a periodic timer that keeps firing is a cycle (time factored out), reported as non-terminating', () => {
    const { res, ans } = run(readFileSync('litmus/timer-periodic-never-final.litmus', 'utf8'));
    expect(res.complete).toBe(true);
    expect(res.nonTerminating).toBe(true);
    expect(ans.ok).toBe(false);
  });

  it('an interrupt storm a count observes is a cycle too (counts stop at their cap), reported as non-terminating', () => {
    const storm = readFileSync('litmus/ioapic-level-to-edge-clears-remote-irr.litmus', 'utf8');
    const qemu = findProfile('qemu-tcg-7.2');
    if (!qemu) throw new Error('no qemu-tcg-7.2 profile');
    const test = parse(storm);
    const res = explore(new Simulator(test, qemu), {});
    expect(res.complete).toBe(true);
    expect(res.nonTerminating).toBe(true);
    expect(answer(test, qemu.name, res).ok).toBe(false);
  });

  it('a count past its cap reads >=cap, and the cap is above every constant the condition compares it with', () => {
    const text = (n: number, want: number) => `lapis many
P0 {
  repeat ${n} {
    send fixed 0x40 -> self
    wait 1
  }
}
P0 on vector 0x40 {
  eoi
}
exists (P0.count(0x40) = ${want})
`;
    const low = run(text(300, 3));
    expect(low.res.outcomes.map((o) => o.values['P0.count(0x40)'])).toEqual(['>=255']);
    expect(low.ans.ok).toBe(false);
    const high = run(text(300, 300));
    expect(high.res.outcomes.map((o) => o.values['P0.count(0x40)'])).toEqual([300]);
    expect(high.ans.ok).toBe(true);
  });

  it('a count past its cap still orders as itself in v2 comparisons; a count in arithmetic is not capped', () => {
    const text = (cond: string) => `lapis many
P0 {
  repeat 300 {
    send fixed 0x40 -> self
    wait 1
  }
}
P0 on vector 0x40 {
  eoi
}
exists (${cond})
`;
    expect(run(text('P0.count(0x40) >= 3')).ans.ok).toBe(true);
    expect(run(text('3 < P0.count(0x40)')).ans.ok).toBe(true);
    expect(run(text('P0.count(0x40) < 0x100')).ans.ok).toBe(false);
    expect(run(text('P0.count(0x40) <= 300 /\\ P0.count(0x40) > 299')).ans.ok).toBe(true);
    const sum = run(text('P0.count(0x40) + 1 = 301'));
    expect(sum.res.outcomes.map((o) => o.values['P0.count(0x40)'])).toEqual([300]);
    expect(sum.ans.ok).toBe(true);
  });

  it('a masked periodic timer does not keep an idle machine from reaching a final state', () => {
    const { res, ans } = run(readFileSync('litmus/timer-masked-periodic-final.litmus', 'utf8'));
    expect(res.complete).toBe(true);
    expect(res.finals).toBe(1);
    expect(ans.ok).toBe(true);
  });

  it('a test that reads the TSC keeps absolute time in its states', () => {
    const test = parse(`lapis tsc
P0 {
  rdmsr r1 = 0x10
}
observe P0:r1
forall (P0.done = 1)
`);
    expect(new Simulator(test).relativeTime).toBe(false);
    expect(new Simulator(parse(readFileSync('litmus/timer-masked-periodic-final.litmus', 'utf8'))).relativeTime).toBe(true);
  });

  it('a search ends at the root state, complete or cut by any bound (every step and frame undone)', () => {
    const bounds: ExploreOptions[] = [{}, { por: false }, { maxStates: 50, por: false }, { maxDepth: 4 }, { maxMemory: 20_000, por: false }, { symmetry: false }];
    for (const opts of bounds) {
      const sim = new Simulator(parse(bringupLitmus(3, true))), root = sim.machine.snapshot();
      const res = explore(sim, opts);
      expect(res.states).toBeGreaterThan(1);
      expect([...sim.machine.state]).toEqual([...root]);
    }
  });

  it('the catalog bring-up test is the generator output for N = 4', () => {
    expect(readFileSync('litmus/bringup-4.litmus', 'utf8')).toBe(bringupLitmus(4, true));
  });
});

describe('partial-order reduction keeps every final outcome', () => {
  it.each([1, 2, 3])('bring-up with %i APs, both protocols', (n) => {
    for (const resend of [true, false]) {
      const text = bringupLitmus(n, resend);
      expect(outcomeKeys(text, { por: true })).toEqual(outcomeKeys(text, { por: false }));
    }
  });

  const catalog = readdirSync('litmus').filter((f) => f.endsWith('.litmus') && !f.startsWith('bringup'));
  it.each(catalog)('catalog %s', (f) => {
    const text = readFileSync(`litmus/${f}`, 'utf8');
    const full = outcomeKeys(text, { por: false, maxStates: 300_000 });
    if (!full.complete) return;
    expect(outcomeKeys(text, { por: true })).toEqual(full);
  });

  it('under RSM\'s 32 KiB alignment (qemu-tcg-2015) CPUs of one tile share a state-save map from their second SMI', () => {
    // P2's handler sets the auto HALT restart field; P1 reads 1 only when P2's SMM entry or write reached its map.
    const text = `lapis tile
config {
  cpus = 3
}
init {
  P1.smbase = 0x41000
  P2.smbase = 0x42000
  h1 = 9
  P1.activity = halted
  P2.activity = halted
}
D0 {
  smi -> P1
  smi -> P2
  smi -> P1
  smi -> P2
}
P1 on smi {
  smram read r1 = AUTO_HALT_RESTART
  store h1 = r1
  rsm
}
P2 on smi {
  smram write AUTO_HALT_RESTART = 1
  rsm
}
observe h1
exists (h1 = 1)
`;
    const keys = (por: boolean) => explore(new Simulator(parse(text), findProfile('qemu-tcg-2015')!), { por }).outcomes.map((o) => o.key).sort();
    expect(keys(false)).toEqual(['h1=0', 'h1=1']);
    expect(keys(true)).toEqual(keys(false));
  });

  /** Where full exploration completes, the reduced one finds the same outcomes and the same non-termination. The full
   *  one checks the model's write path too: every word a step changed was noted (src/arch/writes.ts). */
  const porAgrees = (text: string): void => {
    const full = outcomeKeys(text, { por: false, maxStates: 30_000, checkWrites: true });
    fc.pre(full.complete);
    const reduced = outcomeKeys(text, { por: true, maxStates: 30_000 });
    expect(reduced.keys).toEqual(full.keys);
    expect(reduced.nonTerminating).toBe(full.nonTerminating);
  };

  /** P0's handler moves SMBASE in the state-save map P1's handler reads: shared while both are in SMM at 0x30000. */
  const sharedSaveMap = (init: string, p0: string, agent: string): string => `lapis smram-shared
config {
  cpus = 2
}
init {
  x = 0
${init}
}
P0 {
${p0}
  nop
}
P1 {
  nop
}
P0 on smi {
  smram write SMBASE = 0x40000
  rsm
}
P1 on smi {
  smram read r1 = SMBASE
  rsm
}
D0 {
${agent}
  smi -> P1
}
observe P1:r1
exists (P1:r1 = 0x40000)
`;
  it.each([
    ['an I/O APIC entry set up in init', '  ioapic.1 = { vector = 0, mode = smi, dest = P0 }', '', '  irq 1 pulse'],
    ['an I/O APIC entry the guest writes', '  ioapic.1 = { vector = 0x30, dest = P0 }', '  ioapic write REDTBL1_LO = 0x200', '  irq 1 pulse'],
    ['LVT LINT1', '', '  apic write LVT_LINT1 = 0x200', '  lint1 P0 pulse'],
    ['an MSI', '', '', '  msi P0 vector 0 mode smi'],
    ['a VMM\'s pending SMI', '', '', '  vmm set P0 smi-pending = 1'],
  ])('CPUs that share a state-save map, one taking its SMI through %s', (_route, init, p0, agent) => {
    const text = sharedSaveMap(init, p0, agent);
    const full = outcomeKeys(text, { por: false });
    expect(full.keys.some((k) => k.includes('P1:r1=0x40000'))).toBe(true);
    expect(outcomeKeys(text, { por: true })).toEqual(full);
  });

  it.each([
    ['wrote its xAPIC ID register', '  apic write ID = 0', ''],
    // Software-disabled by the zeroed SVR, it still takes an NMI.
    ['had a zeroed APIC restored by a VMM', '', '  vmm restore P1 lapic'],
  ])('a message to P0 also reaches P1 when P1 %s (the same APIC ID)', (_how, p1, agent) => {
    const text = `lapis id-alias
config {
  cpus = 2
}
init {
  x = 0
}
P0 {
  send nmi -> P0
}
P1 {
${p1}
  nop
}
P1 on nmi {
  store x = 9
}
D0 {
${agent}
  nop
}
observe P1.activity
exists (x = 9)
`;
    const full = outcomeKeys(text, { por: false });
    expect(full.keys.some((k) => k.includes('x=9'))).toBe(true);
    expect(outcomeKeys(text, { por: true })).toEqual(full);
  });

  it('random small tests (IPIs, pins, SMM, TPR, EOI, MSRs, VMX, I/O APIC, MSIs, hot-plug, control flow)', () => {
    fc.assert(fc.property(smallTest, porAgrees), { numRuns: 120 });
  }, 180_000);

  it('random small vCPU tests (AVIC, APICv, TPR shadow: preempt, resume, post, HLT)', () => {
    fc.assert(fc.property(smallVcpuTest, porAgrees), { numRuns: 80 });
  }, 180_000);

  it('the generators use every op kind there is (a new op must be added to them)', () => {
    const seen = new Set<string>();
    for (const text of [...fc.sample(smallTest, { numRuns: 400, seed: 7 }), ...fc.sample(smallVcpuTest, { numRuns: 200, seed: 7 })]) {
      for (const b of parse(text).blocks) forEachOp(b.body, (op) => seen.add(op.kind));
    }
    expect([...seen].sort()).toEqual(Object.keys(OPS).sort());
  });
});

describe('the AVIC ring scenario (bench)', () => {
  it('every vCPU takes its IPI once under spec; the 2019 incomplete-IPI handler delivers twice', () => {
    const test = parse(avicRingLitmus(3));
    const spec = explore(new Simulator(test), {});
    expect(answer(test, 'spec', spec).ok).toBe(true);
    const kvm = findProfile('kvm-2019-avic');
    if (!kvm) throw new Error('no kvm-2019-avic profile');
    const old = explore(new Simulator(test, kvm), {});
    expect(old.complete).toBe(true);
    expect(answer(test, kvm.name, old).ok).toBe(false);
    expect(old.outcomes.some((o) => /count\(0x80\)=2/.test(o.key))).toBe(true);
  });
});
