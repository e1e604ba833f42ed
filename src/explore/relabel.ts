// A run to a permutation of a final state (symmetry.ts reports the outcomes of every permutation of the final
// states it reaches; a witness must be a real run). The proof in docs/explorer.md ("Symmetry") made a procedure:
// take the run found, rename its steps by the permutation (the members' steps, the arrivals at them, the family
// blocks of the drivers), let each driver run its blocks in member order again, and order everything else as the
// dependences between steps require (their footprints, por.ts; a message's send before its arrival; time against
// everything). The dependences cannot form a cycle (the proof), so a topological order exists; it is replayed on a
// fresh simulator to turn arrivals back into bus indices.

import { Simulator, StepKind, stepIndex, stepKind, TIME_STEP } from '../sim/sim.js';
import { step } from '../sim/steps.js';
import { Reducer } from './por.js';
import type { Symmetry } from './symmetry.js';

const CHANNEL = 0x40000000;
const KEY = 0x3fffe000;

interface Event {
  kind: StepKind;
  /** CPU index, agent index + 256, CHANNEL | key for an arrival, -1 for time. */
  proc: number;
  /** The driver whose step this is (index in sym.drivers), or -1. */
  driver: number;
  /** For a driver's step in a family: the family's index, and the block (member) it is in; else -1. */
  family: number;
  block: number;
  r: Uint32Array | null;
  w: Uint32Array | null;
  /** For an arrival: the event that sent the record. */
  producer: number;
}

function meets(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] & b[i]) !== 0) return true;
  return false;
}

function dependent(a: Event, b: Event): boolean {
  if (a.kind === StepKind.TIME || b.kind === StepKind.TIME) return true;
  if (a.proc === b.proc) return true;
  return meets(a.w!, b.w!) || meets(a.w!, b.r!) || meets(a.r!, b.w!);
}

/**
 * The steps of a run from the initial state to the final state that `path` reaches with the members permuted so
 * that member j has the state member from[j] had.
 */
export function permutedWitness(sim: Simulator, sym: Symmetry, path: readonly number[], from: readonly number[]): number[] {
  const run = new Simulator(sim.program, sim.profile);
  const m = run.machine, prog = run.program, reducer = new Reducer(run);
  const events: Event[] = [];
  const queues = new Map<number, number[]>();
  const driverOf = (proc: number): number => {
    const code = proc < 256 ? prog.cpus[proc] : prog.agents[proc - 256];
    return sym.drivers.findIndex((d) => d.code === code);
  };
  for (const s of path) {
    const kind = stepKind(s);
    const e: Event = { kind, proc: -1, driver: -1, family: -1, block: -1, r: null, w: null, producer: -1 };
    let count = m.bus.count();
    if (kind === StepKind.DELIVER) {
      const key = m.bus.record(stepIndex(s)) & KEY;
      e.proc = CHANNEL | key;
      e.producer = queues.get(key)?.shift() ?? -1;
      count--;
    } else if (kind !== StepKind.TIME) {
      e.proc = kind === StepKind.CPU ? stepIndex(s) : 256 + stepIndex(s);
      e.driver = driverOf(e.proc);
      if (e.driver >= 0) {
        const d = sym.drivers[e.driver], pc = run.pcOf(d.code);
        e.family = d.families.findIndex((f) => pc >= f.start && pc < f.end);
        if (e.family >= 0) e.block = Math.floor((pc - d.families[e.family].start) / d.families[e.family].len);
      }
    }
    if (kind !== StepKind.TIME) ({ r: e.r, w: e.w } = reducer.footprintOf(s));
    run.apply(s);
    for (let i = count; i < m.bus.count(); i++) {
      const key = m.bus.record(i) & KEY;
      queues.set(key, [...(queues.get(key) ?? []), events.length]);
    }
    events.push(e);
  }

  // Rename: member k becomes member perm[k].
  const n = sym.cpus.length, perm = new Array<number>(n);
  from.forEach((k, j) => (perm[k] = j));
  const cpu = (c: number): number => {
    const k = sym.cpus.indexOf(c);
    return k < 0 ? c : sym.cpus[perm[k]];
  };
  const target = (key: number): number => {
    const t = cpu((key >>> 13) & 0xff), src = (key >>> 21) & 0x1ff;
    return ((t << 13) | ((src === 0 ? 0 : cpu(src - 1) + 1) << 21)) >>> 0;
  };

  // The order to keep: dependences between steps of different processes (and of one process that is not a
  // driver), and each driver's steps with its family blocks in member order.
  const len = events.length, succ: number[][] = events.map(() => []), indeg = new Array<number>(len).fill(0);
  const edge = (a: number, b: number): void => {
    succ[a].push(b);
    indeg[b]++;
  };
  for (let j = 0; j < len; j++) {
    for (let i = 0; i < j; i++) {
      const a = events[i], b = events[j];
      if (a.driver >= 0 && a.driver === b.driver) continue;
      if (dependent(a, b) || b.producer === i) edge(i, j);
    }
  }
  for (let d = 0; d < sym.drivers.length; d++) {
    const own = events.map((e, i) => (e.driver === d ? i : -1)).filter((i) => i >= 0);
    const order: number[] = [];
    for (let i = 0; i < own.length; ) {
      const f = events[own[i]].family;
      let j = i + 1;
      if (f >= 0) while (j < own.length && events[own[j]].family === f) j++;
      const run = own.slice(i, j);
      // A stable sort by the renamed block keeps each block's own steps in order.
      if (f >= 0) run.sort((x, y) => perm[events[x].block] - perm[events[y].block]);
      order.push(...run);
      i = j;
    }
    for (let i = 1; i < order.length; i++) edge(order[i - 1], order[i]);
  }
  const ready: number[] = [];
  for (let i = 0; i < len; i++) if (indeg[i] === 0) ready.push(i);
  const out: number[] = [], list: number[] = [];
  run.reset();
  while (ready.length > 0) {
    let at = 0;
    for (let i = 1; i < ready.length; i++) if (ready[i] < ready[at]) at = i;
    const i = ready.splice(at, 1)[0], e = events[i];
    let s: number;
    if (e.kind === StepKind.TIME) s = TIME_STEP;
    else if (e.kind === StepKind.DELIVER) {
      const key = target(e.proc & KEY);
      let k = 0;
      while (k < m.bus.count() && (m.bus.record(k) & KEY) !== key) k++;
      s = step(StepKind.DELIVER, k);
    } else s = e.kind === StepKind.CPU ? step(StepKind.CPU, cpu(e.proc)) : step(StepKind.AGENT, e.proc - 256);
    run.enabled(list);
    if (!list.includes(s)) throw new Error(`relabel: step ${out.length + 1} (${run.describe(s)}) is not enabled; the symmetry's conditions missed a dependence`);
    run.apply(s);
    out.push(s);
    for (const j of succ[i]) if (--indeg[j] === 0) ready.push(j);
  }
  if (out.length !== len) throw new Error('relabel: the dependences form a cycle; the symmetry\'s conditions missed one');
  return out;
}
