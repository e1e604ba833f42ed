// Parallel exploration (src/explore/parallel.ts) against the sequential explorer. The worker threads run the
// compiled explorer (dist/, which `npm test` builds first).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { parseLitmus } from '../../src/litmus/parse.js';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { Simulator, UnsupportedError } from '../../src/sim/sim.js';
import { explore, type ExploreOptions, type ExploreResult } from '../../src/explore/explore.js';
import { answer } from '../../src/explore/answer.js';
import { bringupLitmus } from '../../src/scenarios/bringup.js';
import { nodeThreads } from '../../src/cli/threads.js';

function parse(text: string): LitmusTest {
  const r = parseLitmus(text, 'test.litmus');
  if (!r.ok) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return r.test;
}

function verdict(test: LitmusTest, r: ExploreResult) {
  const a = answer(test, 'spec', r);
  return { outcomes: a.outcomes.map((o) => ({ values: o.values, satisfies: o.satisfies })), ok: a.ok, complete: a.complete, cutBy: a.cutBy, nonTerminating: a.nonTerminating };
}

function compare(text: string, opts: ExploreOptions = {}): ExploreResult {
  const test = parse(text);
  const one = explore(new Simulator(test), opts);
  const two = explore(new Simulator(test), { ...opts, jobs: 2, threads: nodeThreads });
  expect(verdict(test, two)).toEqual(verdict(test, one));
  // The shared table loses no state and counts none twice, through its growths (each thread moving its part). Under
  // symmetry the states searched depend on which of a class's states came first (reduction starts from it).
  if (one.complete && !one.nonTerminating && opts.symmetry === false) expect(two.states).toBe(one.states);
  // Every witness is a real run to its outcome.
  const sim = new Simulator(test);
  for (const o of two.outcomes) {
    if (o.witness.length === 0) continue;
    sim.reset();
    for (const s of o.witness) sim.apply(s);
    expect(sim.outcome().key).toBe(o.key);
  }
  return two;
}

describe('parallel exploration', () => {
  it('bring-up, with and without symmetry and reduction: the same answers as one thread', () => {
    for (const n of [2, 4]) {
      for (const resend of [true, false]) compare(bringupLitmus(n, resend));
      compare(bringupLitmus(n, true), { symmetry: false });
    }
    compare(bringupLitmus(2, true), { por: false, symmetry: false });
    // 216,835 states: the shared table grows five times under both threads.
    expect(compare(bringupLitmus(3, true), { por: false, symmetry: false }).states).toBe(216_835);
  }, 120_000);

  it('a test that runs forever: the cycle sends the search back to one thread, which finds it', () => {
    const r = compare(readFileSync('litmus/timer-periodic-never-final.litmus', 'utf8'));
    expect(r.nonTerminating).toBe(true);
    expect(r.nonTerminatingWitness).not.toBeNull();
  });

  it('bounds: a cut-short search is never complete', () => {
    const r = explore(new Simulator(parse(bringupLitmus(4, true))), { jobs: 2, threads: nodeThreads, maxStates: 50, symmetry: false });
    expect(r.complete).toBe(false);
    expect(r.cutBy).toBe('max-states');
    expect(r.states).toBeLessThanOrEqual(50);
    // The threads take state numbers in blocks: a cut search has found every number below maxStates but those left in
    // the other thread's block (at most 1,024), and no more.
    const raw = explore(new Simulator(parse(bringupLitmus(3, true))), { jobs: 2, threads: nodeThreads, maxStates: 100_000, por: false, symmetry: false });
    expect(raw.cutBy).toBe('max-states');
    expect(raw.states).toBeLessThanOrEqual(100_000);
    expect(raw.states).toBeGreaterThanOrEqual(100_000 - 1024);
    // A bound the search just fits in: complete with every state, or cut short of the bound (numbers left unused in
    // the other thread's block), never complete with fewer.
    const rawOpts = { por: false, symmetry: false }, all = explore(new Simulator(parse(bringupLitmus(2, true))), rawOpts).states;
    const exact = explore(new Simulator(parse(bringupLitmus(2, true))), { ...rawOpts, jobs: 2, threads: nodeThreads, maxStates: all });
    if (exact.complete) expect(exact.states).toBe(all);
    else expect([exact.cutBy, exact.states <= all]).toEqual(['max-states', true]);
    // The root counts whatever the bound, as in the sequential search.
    for (const jobs of [1, 2]) {
      const none = explore(new Simulator(parse(bringupLitmus(2, true))), { jobs, threads: nodeThreads, maxStates: 0 });
      expect([none.states, none.cutBy]).toEqual([1, 'max-states']);
    }
    const first = explore(new Simulator(parse(bringupLitmus(4, false))), { jobs: 2, threads: nodeThreads, stopWhenDecided: true });
    expect(first.cutBy).toBe('decided');
    expect(answer(parse(bringupLitmus(4, false)), 'spec', first).ok).toBe(true);
  }, 60_000);

  it('interruption, progress and maxMemory reach a parallel search through the calling thread', () => {
    const test = parse(bringupLitmus(3, true)), opts = { jobs: 2, threads: nodeThreads, por: false, symmetry: false };
    let polls = 0;
    const progress: number[] = [];
    const cut = explore(new Simulator(test), { ...opts, interrupted: () => ++polls >= 3, progress: (states) => void progress.push(states) });
    expect(cut.cutBy).toBe('interrupted');
    expect(cut.complete).toBe(false);
    expect(progress.length).toBeGreaterThan(0);
    expect(cut.states).toBeLessThan(216_835);
    // 1 MB holds the pool and a table of some 40,000 states, not the 216,835 of the whole search.
    const small = explore(new Simulator(test), { ...opts, maxMemory: 2 ** 20 });
    expect(small.cutBy).toBe('memory');
    expect(small.complete).toBe(false);
    const room = explore(new Simulator(test), { ...opts, maxMemory: 64 * 2 ** 20 });
    expect(room.complete).toBe(true);
    expect(room.memoryBytes).toBeGreaterThan(12 * room.states);
    expect(room.memoryBytes).toBeLessThanOrEqual(64 * 2 ** 20);
  }, 120_000);

  it('without threads to run on, jobs > 1 is refused', () => {
    expect(() => explore(new Simulator(parse(bringupLitmus(2, true))), { jobs: 2 })).toThrow(/threads/);
  });

  const catalog = readdirSync('litmus').filter((f) => f.endsWith('.litmus'));
  it.each(catalog)('catalog %s: the same answer as one thread', (f) => {
    const text = readFileSync(`litmus/${f}`, 'utf8');
    try {
      new Simulator(parse(text));
    } catch (e) {
      if (e instanceof UnsupportedError) return;
      throw e;
    }
    compare(text, { maxStates: 300_000 });
  }, 120_000);
});
