// Exhaustive exploration of a litmus test's state space: iterative depth-first search over the simulator's
// steps with a visited set of state hashes, Tarjan's algorithm to find cycles with no way out (non-termination),
// bounds that end a run early (reported as complete: false, never as a false Ok), and a random-walk mode for
// tests too large to exhaust.

import type { Simulator } from '../sim/sim.js';
import { VisitedSet } from './visited.js';
import { StateHasher } from './hasher.js';
import { findSymmetry } from './symmetry.js';
import { OutcomeSet } from './outcomes.js';
import { applyStep, successors } from './successors.js';
import { HostError } from '../arch/errors.js';
import type { ExploreOptions, ExploreResult, Outcome } from './types.js';

export type { ExploreOptions, ExploreResult, Outcome } from './types.js';
import { Reducer } from './por.js';
import { Deadline } from './deadline.js';
import { copyWords } from './copy.js';
import { UndoStack } from './undo.js';
import { TarjanStack } from './tarjan.js';

interface Frame {
  /** The hasher's sums for this state (src/explore/hasher.ts). */
  aux: Uint32Array;
  /** Where the undo stack's entries for the step into this state start (src/explore/undo.ts). */
  undoFrom: number;
  hash: number;
  steps: number[];
  next: number;
  index: number;
  lowlink: number;
  /** Position of this state on the Tarjan stack (stable while the frame is open). */
  tpos: number;
  /** An edge leaves toward a state whose SCC is complete. */
  exit: boolean;
  selfLoop: boolean;
  /** The step that led here from the parent frame. */
  via: number;
  /** Every enabled step, when `steps` is a reduced subset of them (null: not reduced). */
  all: number[] | null;
  /** The array `all` uses. */
  enabled: number[];
  /** Cycle proviso: a reduced step closed a cycle, so the rest must be followed too. */
  expand: boolean;
  /** What the frame counts toward maxMemory beside its state. */
  bytes: number;
}

/** The bounds when none is given (shown in `lapis run --help`). */
export const DEFAULT_MAX_STATES = 5_000_000;
export const DEFAULT_MAX_DEPTH = 100_000;

/** Runs deeper than this keep no DFS path as their witness. */
const WITNESS_DEPTH = 10_000;
/** Estimated bytes of a DFS frame (beside its sums and step lists). */
const FRAME_BYTES = 160;

export function explore(sim: Simulator, opts: ExploreOptions = {}): ExploreResult {
  const t0 = performance.now();
  if (opts.random) return randomRuns(sim, opts, t0);
  if ((opts.jobs ?? 1) > 1) {
    if (!opts.threads) throw new HostError('bad-argument', 'jobs > 1 needs threads to run on (ExploreOptions.threads; in Node, nodeThreads from src/cli/threads)');
    return opts.threads.search(sim, { ...opts, maxStates: opts.maxStates ?? DEFAULT_MAX_STATES, maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH }, t0, explore);
  }
  const maxStates = opts.maxStates ?? DEFAULT_MAX_STATES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxOutcomes = opts.maxOutcomes ?? 100_000;
  const m = sim.machine;
  const visited = new VisitedSet();
  const deadline = new Deadline(opts.timeoutMs !== undefined ? t0 + opts.timeoutMs : Infinity, t0, opts, () => [visited.size, stack.length]);
  const stack: Frame[] = [];
  /** Tarjan stack: hashes of states whose SCC is not complete, with their exit flags and self-loops. */
  const tarjan = new TarjanStack();
  let nextIndex = 0, finals = 0, cutBy: ExploreResult['cutBy'] = null;
  let nonTerminatingWitness: number[] | null = null;
  /** Frames of closed states, reused (a search allocates nothing per state once its stack is as deep as it gets). */
  const framePool: Frame[] = [];
  // The live state is always the top frame's: a step is undone from its write log, a closed frame's step from the
  // undo stack (src/explore/undo.ts). No frame keeps a copy of its state.
  const live = new Int32Array(m.state.buffer, m.state.byteOffset, m.state.length);
  const undo = new UndoStack();
  const sym = opts.symmetry === false ? null : findSymmetry(sim).symmetry;
  const hasher = new StateHasher(sim, sym, opts.checkWrites ?? false);
  /** The hasher's sums for the live state. */
  const aux = new Uint32Array(hasher.auxLength);
  const outcomes = new OutcomeSet(sim, sym, maxOutcomes, opts.stopWhenDecided ?? false);
  const maxMemory = opts.maxMemory ?? Infinity, auxBytes = aux.byteLength;
  /** Bytes of the open frames' step lists. */
  let listBytes = 0, peakMemory = 0;
  const memory = (): number => visited.bytes() + visited.stackBytes() + (stack.length + framePool.length) * auxBytes + undo.bytes() + listBytes + tarjan.bytes() + outcomes.bytes;

  const path = (): number[] => stack.slice(1).map((f) => f.via);

  const reducer = opts.por === false ? null : new Reducer(sim);
  // A reduction can be slow in one piece (many CPUs): it gives up, unreduced, once the deadline has passed.
  const expired = opts.timeoutMs !== undefined ? () => deadline.passedNow() : undefined;
  /** The live state is new: a frame for it (its step's writes are in the log), unless maxMemory cuts the search. */
  const push = (hash: number, via: number): void => {
    const pooled = framePool.length > 0;
    const f = framePool.pop() ?? {
      aux: new Uint32Array(aux.length), undoFrom: 0, hash: 0, steps: [], next: 0, index: 0, lowlink: 0,
      tpos: 0, exit: false, selfLoop: false, via: 0, all: null, enabled: [], expand: false, bytes: 0,
    };
    // Saved before the steps are worked out: that may take a step and put the state back (the log notes both).
    const need = via >= 0 && maxMemory < Infinity ? undo.growthBytes(hasher.log.n) : 0;
    f.undoFrom = via >= 0 ? undo.save(hasher.log) : undo.top;
    f.all = successors(sim, reducer, f.steps, f.enabled, expired) ? f.enabled : null;
    f.bytes = FRAME_BYTES + 8 * (f.all ? f.steps.length + f.all.length : f.steps.length);
    const final = f.steps.length === 0 ? sim.outcome() : null;
    if (via >= 0 && maxMemory < Infinity) {
      // What this state adds: its slot (and the table's growth, when both tables live), its sums, its frame, its
      // undo entries, its Tarjan entry (the stack's growth) and, for a new outcome, the witness.
      let total = memory() + need + visited.growthBytes(true) + (pooled ? 0 : auxBytes) + f.bytes + tarjan.growthBytes();
      if (final && !outcomes.entries.has(final.key)) total += OutcomeSet.entryBytes(final.key, stack.length);
      if (total > maxMemory) {
        undo.top = f.undoFrom;
        framePool.push(f);
        cutBy = 'memory';
        return;
      }
    }
    copyWords(f.aux, aux);
    const index = nextIndex++;
    visited.add(hash, index);
    f.tpos = tarjan.push(hash);
    f.hash = hash;
    f.next = 0;
    f.index = f.lowlink = index;
    f.exit = f.selfLoop = f.expand = false;
    f.via = via;
    listBytes += f.bytes;
    stack.push(f);
    if (final) {
      finals++;
      // A deep run's path is not kept (traces find the shortest run by BFS instead): unbounded outcomes at
      // great depth would otherwise fill memory with paths.
      outcomes.final(stack.length <= WITNESS_DEPTH ? path() : [], final);
      cutBy ??= outcomes.cut;
    }
    peakMemory = Math.max(peakMemory, memory());
  };

  /** Undo the step just taken (the live state is the top frame's again). */
  const back = (): void => {
    if (!hasher.undo(live)) throw new Error('explore: a step without a write log cannot be undone');
  };

  push(hasher.full(aux), -1);
  while (stack.length > 0) {
    const f = stack[stack.length - 1];
    if (f.next < f.steps.length && cutBy === null) {
      const cut = deadline.check();
      if (cut !== null) {
        cutBy = cut;
        continue;
      }
      const s = f.steps[f.next++];
      hasher.beforeStep();
      if (!applyStep(sim, s)) {
        back();
        cutBy = 'bus-capacity';
        continue;
      }
      const h = hasher.child(null, f.aux, aux);
      const idx = visited.index(h);
      if (idx === undefined) {
        if (visited.size >= maxStates) cutBy = 'max-states';
        else if (stack.length > maxDepth) cutBy = 'max-depth';
        else push(h, s);
        if (stack[stack.length - 1] === f) back();
        continue;
      }
      back();
      if (idx >= 0) {
        if (h === f.hash) f.selfLoop = true;
        if (idx < f.lowlink) f.lowlink = idx;
        if (f.all) f.expand = true;
      } else {
        f.exit = true;
      }
      continue;
    }
    if (f.all && f.expand && cutBy === null) {
      // Cycle proviso: a reduced expansion must not close a cycle that ignores the other steps forever.
      for (const s of f.all) if (!f.steps.includes(s)) f.steps.push(s);
      f.all = null;
      continue;
    }
    // All successors done: close the frame, and go back to its parent's state.
    stack.pop();
    undo.restore(live, f.undoFrom);
    framePool.push(f);
    listBytes -= f.bytes;
    tarjan.setFlags(f.tpos, f.exit, f.selfLoop);
    const parent = stack[stack.length - 1];
    if (f.lowlink === f.index) {
      // f is the root of an SCC: everything above it on the Tarjan stack belongs to it.
      const at = f.tpos;
      let exits = false, size = 0, selfLoop = false;
      for (let i = at; i < tarjan.length; i++) {
        exits ||= tarjan.exitAt(i);
        selfLoop ||= tarjan.selfAt(i);
        visited.setIndex(tarjan.hashAt(i), -1);
        size++;
      }
      tarjan.truncate(at);
      if (!exits && (size > 1 || selfLoop) && cutBy === null) {
        nonTerminatingWitness ??= [...path(), ...(f.via >= 0 ? [f.via] : [])];
      }
      if (parent) parent.exit = true;
    } else if (parent && f.lowlink < parent.lowlink) {
      parent.lowlink = f.lowlink;
    }
  }

  hasher.release();
  return {
    outcomes: outcomes.list(),
    states: visited.size,
    finals,
    complete: cutBy === null,
    cutBy,
    nonTerminating: nonTerminatingWitness !== null,
    nonTerminatingWitness,
    ms: performance.now() - t0,
    visitedBytes: visited.bytes(),
    memoryBytes: peakMemory,
    symmetry: sym?.describe() ?? null,
  };
}

/** A small, seedable PRNG (mulberry32) so random runs are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomRuns(sim: Simulator, opts: ExploreOptions, t0: number): ExploreResult {
  const { runs, seed } = opts.random!;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const rand = prng(seed);
  const m = sim.machine;
  const root = m.snapshot();
  const outcomes = new Map<string, Outcome>();
  const seen = new VisitedSet();
  // Progress is reported once a run, below.
  const deadline = new Deadline(opts.timeoutMs !== undefined ? t0 + opts.timeoutMs : Infinity, t0, { interrupted: opts.interrupted }, () => [0, 0]);
  const maxMemory = opts.maxMemory ?? Infinity;
  let finals = 0, cutBy: ExploreResult['cutBy'] = 'random', listBytes = 0;
  const steps: number[] = [];
  for (let r = 0; r < runs && cutBy === 'random'; r++) {
    m.restore(root);
    const path: number[] = [];
    for (let d = 0; d < maxDepth; d++) {
      const cut = deadline.check();
      if (cut !== null) {
        cutBy = cut;
        break;
      }
      if (seen.bytes() + seen.stackBytes() + seen.growthBytes(false) + listBytes + 8 * path.length > maxMemory) {
        cutBy = 'memory';
        break;
      }
      seen.add(sim.hash(), -1);
      sim.enabled(steps);
      if (steps.length === 0) {
        finals++;
        const { key, values } = sim.outcome();
        let o = outcomes.get(key);
        if (!o) {
          o = { key, values, satisfies: sim.holds(sim.program.test.condition.cond), count: 0, witness: [...path] };
          outcomes.set(key, o);
          listBytes += OutcomeSet.entryBytes(key, path.length);
        }
        o.count++;
        break;
      }
      const s = steps[Math.floor(rand() * steps.length)];
      path.push(s);
      if (!applyStep(sim, s)) break;
    }
    opts.progress?.(seen.size, path.length);
  }
  m.restore(root);
  return {
    outcomes: [...outcomes.values()], states: seen.size, finals, complete: false, cutBy,
    nonTerminating: false, nonTerminatingWitness: null, ms: performance.now() - t0, visitedBytes: seen.bytes(),
    memoryBytes: seen.bytes() + seen.stackBytes() + listBytes, symmetry: null,
  };
}
