import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { parseLitmus } from '../../src/litmus/parse.js';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { Simulator } from '../../src/sim/sim.js';
import { StateHasher } from '../../src/explore/hasher.js';
import { VisitedSet } from '../../src/explore/visited.js';
import { WordDiff } from '../../src/explore/diff.js';
import { prng } from '../../src/explore/explore.js';
import { C } from '../../src/cpu/cpu.js';
import { A } from '../../src/apic/layout.js';
import { smallTest, smallVcpuTest } from './gen.js';

function parse(text: string): LitmusTest {
  const r = parseLitmus(text, 'test.litmus');
  if (!r.ok) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return r.test;
}

/** The state as the explorer compares states: time relative to now, in-flight records grouped by channel. */
function comparable(sim: Simulator): string {
  const m = sim.machine, copy = m.state.slice(), now = m.now();
  if (sim.relativeTime) {
    copy[0] = copy[1] = 0;
    for (let c = 0; c < m.cpus.length; c++) m.relativeTimerWords(c, copy);
    for (const code of [...sim.program.cpus, ...sim.program.agents]) sim.relativeWait(copy, code, now);
  }
  const at = m.busBase + 1, records = [...copy.subarray(at, at + copy[m.busBase])];
  const channel = (w: number): number => w & 0x3fffe000;
  records.sort((a, b) => channel(a) - channel(b)); // stable: each channel's order stays
  copy.set(records, at);
  return copy.join(',');
}

/**
 * Random runs: at every step the incremental hash equals the hash from nothing, and states that differ as the
 * explorer compares them have different hashes. Every other step is hashed from the model's write log (begun by
 * beforeStep, as the explorer does), the others from the whole-state compare (no log active).
 */
function checkWalks(text: string, runs: number, seed: number): void {
  const sim = new Simulator(parse(text)), m = sim.machine;
  const hasher = new StateHasher(sim);
  const live = new Int32Array(m.state.buffer, m.state.byteOffset, m.state.length);
  const parent = new Int32Array(m.state.length), parentAux = new Uint32Array(hasher.auxLength), aux = new Uint32Array(hasher.auxLength);
  const rand = prng(seed), steps: number[] = [];
  const seen = new Map<number, string>();
  for (let r = 0; r < runs; r++) {
    sim.reset();
    let h = hasher.full(parentAux);
    for (let d = 0; d < 60; d++) {
      const state = comparable(sim);
      const before = seen.get(h);
      if (before !== undefined) expect(before).toBe(state);
      seen.set(h, state);
      sim.enabled(steps);
      if (steps.length === 0) break;
      parent.set(live);
      if (d % 2 === 0) hasher.beforeStep();
      else hasher.release();
      try {
        sim.apply(steps[Math.floor(rand() * steps.length)]);
      } catch {
        break; // a bus overflow: the walk ends
      }
      h = hasher.child(parent, parentAux, aux);
      expect(h).toBe(hasher.full(parentAux));
    }
  }
}

describe('the incremental state hash', () => {
  const catalog = readdirSync('litmus').filter((f) => f.endsWith('.litmus'));
  it.each(catalog)('agrees with the hash from nothing on random runs of %s', (f) => {
    checkWalks(readFileSync(`litmus/${f}`, 'utf8'), 20, 5);
  });

  it('agrees on random runs of generated tests', () => {
    fc.assert(fc.property(fc.oneof(smallTest, smallVcpuTest), fc.integer(), (text, seed) => checkWalks(text, 5, seed)), { numRuns: 150 });
  });

  it('does not depend on the order of in-flight records of different channels, only on each channel\'s order', () => {
    const sim = new Simulator(parse('lapis two\nconfig {\n  cpus = 3\n}\nP0 {\n  send nmi -> P1\n  send nmi -> P2\n}\nforall (P0.done = 1)\n'));
    const m = sim.machine, hasher = new StateHasher(sim), aux = new Uint32Array(hasher.auxLength);
    sim.apply(0); // P0 sends to P1, then to P2
    sim.apply(0);
    expect(m.bus.count()).toBe(2);
    const h = hasher.full(aux);
    const at = m.busBase + 1, a = m.state[at];
    m.state[at] = m.state[at + 1];
    m.state[at + 1] = a;
    expect(hasher.full(aux)).toBe(h);
    m.state[at + 1] = m.state[at]; // two records of one channel: a different state
    expect(hasher.full(aux)).not.toBe(h);
  });
});

describe('the write log behind the incremental hash', () => {
  const text = 'lapis one\nconfig {\n  cpus = 2\n}\nP0 {\n  send nmi -> P1\n}\nforall (P0.done = 1)\n';

  it('hashes a step from the words it wrote as the hash from nothing does', () => {
    const sim = new Simulator(parse(text)), m = sim.machine, hasher = new StateHasher(sim, null, true);
    const aux = new Uint32Array(hasher.auxLength), parent = Int32Array.from(m.state);
    hasher.full(aux);
    hasher.beforeStep();
    sim.apply(0); // P0 writes the ICR: the IPI goes on the bus
    expect(m.bus.count()).toBe(1);
    expect(hasher.child(parent, aux, aux)).toBe(hasher.full(new Uint32Array(hasher.auxLength)));
    hasher.release();
  });

  it('with checkWrites, throws where a step changed a word without a noted write (which the hash would miss)', () => {
    const sim = new Simulator(parse(text)), m = sim.machine, word = m.cpuBase(1) + C.WORDS + A.TPR;
    const checked = new StateHasher(sim, null, true), aux = new Uint32Array(checked.auxLength);
    checked.full(aux);
    checked.beforeStep();
    m.state[word] ^= 0x10; // past put: the log does not see it
    expect(() => checked.child(Int32Array.from(m.state, (v, i) => (i === word ? v ^ 0x10 : v)), aux, new Uint32Array(checked.auxLength)))
      .toThrow(`state word ${word} changed in a step without a noted write`);
    checked.release();
    // Unchecked, the step's hash stays the parent's: the state it names is not the live one.
    m.state[word] ^= 0x10;
    const hasher = new StateHasher(sim), parentAux = new Uint32Array(hasher.auxLength), parent = Int32Array.from(m.state);
    const parentHash = hasher.full(parentAux);
    hasher.beforeStep();
    m.state[word] ^= 0x10;
    expect(hasher.child(parent, parentAux, new Uint32Array(hasher.auxLength))).toBe(parentHash);
    expect(hasher.full(new Uint32Array(hasher.auxLength))).not.toBe(parentHash);
    hasher.release();
  });

  it('with checkWrites, throws where a step changed the bus without a noted write (its hash counts the bus only then)', () => {
    const sim = new Simulator(parse(text)), m = sim.machine, count = m.busBase;
    const checked = new StateHasher(sim, null, true), aux = new Uint32Array(checked.auxLength);
    checked.full(aux);
    const parent = Int32Array.from(m.state);
    checked.beforeStep();
    m.state[count + 1] = 0x1234; // past put: a record the log does not see
    m.state[count] = 1;
    expect(() => checked.child(parent, aux, new Uint32Array(checked.auxLength))).toThrow(`state word ${count} changed in a step without a noted write`);
    checked.release();
  });

  it('counts each written word once a step across the wrap-around of its step stamps', () => {
    const sim = new Simulator(parse(text)), m = sim.machine, hasher = new StateHasher(sim);
    // Every word stamped 1 long ago: after the wrap-around, stamp 1 must not find them counted.
    (hasher as unknown as { seen: Uint32Array }).seen.fill(1);
    (hasher as unknown as { stamp: number }).stamp = 0xffffffff;
    const start = m.snapshot();
    for (let step = 0; step < 3; step++) {
      m.restore(start);
      const aux = new Uint32Array(hasher.auxLength), parent = Int32Array.from(m.state);
      hasher.full(aux);
      hasher.beforeStep();
      sim.apply(0);
      expect(hasher.child(parent, aux, aux)).toBe(hasher.full(new Uint32Array(hasher.auxLength)));
    }
    expect((hasher as unknown as { stamp: number }).stamp).toBe(3);
    hasher.release();
  });

  it('without a log compares with the parent state; a whole state put back during a step is logged; a log over two steps still hashes and undoes right', () => {
    const sim = new Simulator(parse(text)), m = sim.machine, hasher = new StateHasher(sim);
    const fresh = (): Uint32Array => new Uint32Array(hasher.auxLength);
    const live = new Int32Array(m.state.buffer, m.state.byteOffset, m.state.length);
    const start = m.snapshot();
    sim.apply(0); // P0 sends: the IPI is on the bus
    const sent = m.snapshot();
    const hashOf = (state: Uint32Array): { aux: Uint32Array; words: Int32Array } => {
      m.restore(state);
      const aux = fresh();
      hasher.full(aux);
      return { aux, words: Int32Array.from(state) };
    };
    // No log: the step is found by the compare with the parent; without the parent there is nothing to go by.
    const p = hashOf(start);
    sim.apply(0);
    expect(hasher.child(p.words, p.aux, fresh())).toBe(hasher.full(fresh()));
    expect(() => hasher.child(null, p.aux, fresh())).toThrow('no write log');
    expect(hasher.undo(live)).toBe(false);
    // A whole state put back during the step (Machine.restore): the log notes each word it changes.
    const q = hashOf(start);
    hasher.beforeStep();
    m.restore(sent);
    expect(hasher.child(null, q.aux, fresh())).toBe(hasher.full(fresh()));
    expect(hasher.undo(live)).toBe(true);
    expect([...m.state]).toEqual([...start]);
    // A log over two steps, the state copied back past put between them: the words the first step noted are the
    // parent's again (their first entries hold the parent's values), those the second changed were noted.
    const r = hashOf(start);
    hasher.beforeStep();
    sim.apply(0);
    m.state.set(start);
    sim.apply(0);
    expect(hasher.child(null, r.aux, fresh())).toBe(hasher.full(fresh()));
    hasher.undo(live);
    expect([...m.state]).toEqual([...start]);
    hasher.release();
  });
});

describe('the visited set', () => {
  it('holds what was added, with Tarjan indices, across growth; 10-15 bytes per state', () => {
    const v = new VisitedSet();
    const rand = prng(3), keys: number[] = [];
    let added = 0, again = 0, minPer = Infinity, maxPer = 0;
    for (let i = 0; i < 200_000; i++) {
      const h = Math.floor(rand() * 2 ** 21) * 2 ** 32 + Math.floor(rand() * 2 ** 32);
      keys.push(h);
      if (v.add(h, i % 7 === 0 ? i : -1)) added++;
      if (v.add(h, 5)) again++;
      if (v.size > 2000) {
        minPer = Math.min(minPer, v.bytes() / v.size);
        maxPer = Math.max(maxPer, v.bytes() / v.size);
      }
    }
    expect([added, again, v.size]).toEqual([keys.length, 0, keys.length]);
    expect(maxPer).toBeLessThanOrEqual(15.01);
    expect(minPer).toBeGreaterThanOrEqual(10);
    expect(keys.filter((h, i) => v.index(h) !== (i % 7 === 0 ? i : -1))).toEqual([]);
    for (let i = 0; i < keys.length; i += 7) v.setIndex(keys[i], -1);
    expect(keys.filter((h) => v.index(h) !== -1)).toEqual([]);
    const absent = Array.from({ length: 1000 }, () => Math.floor(rand() * 2 ** 53));
    expect(absent.filter((h) => v.has(h))).toEqual([]);
    expect(v.has(0)).toBe(false);
    expect(v.add(0, -1)).toBe(true);
    expect(v.has(0)).toBe(true);
  });
});

describe('the word compare', () => {
  it('finds every word where two states differ, in WebAssembly SIMD and in JavaScript', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 700 }), fc.array(fc.tuple(fc.nat(), fc.integer())), (n, changes) => {
      const a = new Int32Array(n + 37).map((_, i) => i * 7919), b = a.slice();
      for (const [at, v] of changes) b[at % b.length] = v;
      const want = [...a.subarray(0, n)].flatMap((x, i) => (x !== b[i] ? [i] : []));
      const simd = new WordDiff(n, a.length), js = new WordDiff(n, a.length, false);
      // Node 20 has WebAssembly SIMD: without this the first compare would silently be the JavaScript one too.
      expect([simd.simd, js.simd]).toEqual([true, false]);
      for (const d of [simd, js]) {
        expect([...d.at.subarray(0, d.differ(a, b))]).toEqual(want);
        expect([...d.at.subarray(0, d.differ(b, b))]).toEqual([]);
      }
    }), { numRuns: 300 });
  });
});
