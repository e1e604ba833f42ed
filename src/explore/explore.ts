// Exhaustive exploration of a litmus test's state space: iterative depth-first search over the simulator's
// steps with a visited set of state hashes, Tarjan's algorithm to find cycles with no way out (non-termination),
// bounds that end a run early (reported as complete: false, never as a false Ok), and a random-walk mode for
// tests too large to exhaust.

import { StepKind, TIME_STEP, stepKind, type Simulator, type OutcomeValue } from '../sim/sim.js';
import { VisitedSet } from './visited.js';
import { Reducer } from './por.js';
import { HostError } from '../arch/errors.js';

export interface ExploreOptions {
  maxStates?: number;
  maxDepth?: number;
  /** Wall-clock time for the search; the clock is read at least every few milliseconds of work. */
  timeoutMs?: number;
  /**
   * Bytes the search may hold: the visited set, the states on the DFS stack (and their pool), the stack's frames,
   * the Tarjan stack and the outcomes' witnesses. Reaching it ends the search, cut by 'memory'.
   */
  maxMemory?: number;
  /** Random mode: this many random runs instead of exhaustive search. */
  random?: { runs: number; seed: number };
  /**
   * Stop at the first final state that decides the answer: one satisfying an `exists`, or one violating a
   * `forall` / `~exists` (a counterexample). The result is then `complete: false`, cut by 'decided'.
   */
  stopWhenDecided?: boolean;
  /** Stop when this many distinct outcomes have been seen (default 100,000): a test whose outcomes never end. */
  maxOutcomes?: number;
  /** Partial-order reduction (stubborn sets, src/explore/por.ts); default on. */
  por?: boolean;
  /** Called now and then with the number of states so far and the depth of the run (for a progress line). */
  progress?: (states: number, depth: number) => void;
  /** Polled now and then: true ends the search with what it found so far (cut by 'interrupted': Ctrl-C). */
  interrupted?: () => boolean;
}

export interface Outcome {
  key: string;
  values: Record<string, OutcomeValue>;
  satisfies: boolean;
  /** Final states with this outcome. */
  count: number;
  /** The steps of one run reaching it, from the initial state. */
  witness: number[];
}

export interface ExploreResult {
  outcomes: Outcome[];
  states: number;
  finals: number;
  complete: boolean;
  /** Why exploration stopped early, when it did. */
  cutBy: 'max-states' | 'max-depth' | 'max-outcomes' | 'timeout' | 'memory' | 'random' | 'decided' | 'bus-capacity' | 'interrupted' | null;
  nonTerminating: boolean;
  /** One run into a cycle with no way out, when there is one. */
  nonTerminatingWitness: number[] | null;
  ms: number;
  /** Bytes of the visited-set table. */
  visitedBytes: number;
  /** Bytes the search held at its peak, as `maxMemory` counts them. */
  memoryBytes: number;
}

interface Frame {
  state: Uint32Array;
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
/** Estimated bytes of a DFS frame (beside its state and step lists), a Tarjan entry, an outcome (beside its witness). */
const FRAME_BYTES = 160, TARJAN_BYTES = 24, OUTCOME_BYTES = 400;

/**
 * The search's wall-clock deadline and its interruption (Ctrl-C), checked every `every` steps, with `every` adapted
 * so that the clock is read every 1-4 ms of work whatever a step costs (a state of a 256-CPU test can take
 * milliseconds, one of a 2-CPU test microseconds).
 */
class Deadline {
  private every = 1;
  private left = 1;
  private last: number;
  constructor(
    private readonly at: number,
    t0: number,
    private readonly opts: ExploreOptions,
    /** What the progress line shows: states so far and the depth of the run. */
    private readonly where: () => [number, number],
  ) {
    this.last = t0;
  }
  /** Count one step; 'timeout' once the deadline has passed, 'interrupted' once the search is asked to stop. */
  check(): 'timeout' | 'interrupted' | null {
    if (--this.left > 0) return null;
    const now = performance.now(), dt = now - this.last;
    this.last = now;
    if (dt < 1 && this.every < 1 << 16) this.every *= 2;
    else if (dt > 4 && this.every > 1) this.every >>>= 1;
    this.left = this.every;
    if (this.opts.progress) this.opts.progress(...this.where());
    if (now > this.at) return 'timeout';
    return this.opts.interrupted?.() ? 'interrupted' : null;
  }
  /** Read the clock now (for work that is slow in one piece). */
  passedNow(): boolean {
    return performance.now() > this.at;
  }
}

export function explore(sim: Simulator, opts: ExploreOptions = {}): ExploreResult {
  const t0 = performance.now();
  if (opts.random) return randomRuns(sim, opts, t0);
  const maxStates = opts.maxStates ?? DEFAULT_MAX_STATES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxOutcomes = opts.maxOutcomes ?? 100_000;
  const m = sim.machine;
  const visited = new VisitedSet();
  const deadline = new Deadline(opts.timeoutMs !== undefined ? t0 + opts.timeoutMs : Infinity, t0, opts, () => [visited.size, stack.length]);
  const maxMemory = opts.maxMemory ?? Infinity, stateBytes = m.state.byteLength;
  /** Bytes of the frames' step lists and the outcomes' witnesses and keys. */
  let listBytes = 0, peakMemory = 0;
  const memory = (): number => visited.bytes() + (stack.length + pool.length) * stateBytes + listBytes + tHash.length * TARJAN_BYTES;

  const outcomes = new Map<string, Outcome>();
  const stack: Frame[] = [];
  /** Tarjan stack: hashes of states whose SCC is not complete, with their exit flags and self-loops. */
  const tHash: number[] = [], tExit: boolean[] = [], tSelf: boolean[] = [];
  let nextIndex = 0, finals = 0, cutBy: ExploreResult['cutBy'] = null;
  let nonTerminatingWitness: number[] | null = null;
  const pool: Uint32Array[] = [];

  const path = (): number[] => stack.slice(1).map((f) => f.via);

  const reducer = opts.por === false ? null : new Reducer(sim);
  // A reduction can be slow in one piece (many CPUs): it gives up, unreduced, once the deadline has passed.
  const expired = opts.timeoutMs !== undefined ? () => deadline.passedNow() : undefined;
  const push = (hash: number, via: number): void => {
    const all: number[] = [];
    sim.enabled(all);
    if (all.length === 1 && stepKind(all[0]) === StepKind.TIME && timeChangesNothing(sim, hash)) all.length = 0;
    let steps = all, reducedFrom: number[] | null = null;
    if (reducer) {
      const sub: number[] = [];
      if (reducer.reduce(all, sub, expired)) {
        steps = sub;
        reducedFrom = all;
      }
    }
    const bytes = FRAME_BYTES + 8 * (reducedFrom ? steps.length + all.length : all.length);
    const final = all.length === 0 ? sim.outcome() : null;
    if (via >= 0 && maxMemory < Infinity) {
      // What this state adds: its slot (and the table's growth, when both tables live), its buffer, its frame,
      // its Tarjan entry and, for a new outcome, the witness.
      let need = memory() + visited.growthBytes() + (pool.length === 0 ? stateBytes : 0) + bytes + TARJAN_BYTES;
      if (final && !outcomes.has(final.key)) need += OUTCOME_BYTES + 8 * stack.length + 2 * final.key.length;
      if (need > maxMemory) {
        cutBy = 'memory';
        return;
      }
    }
    const state = pool.pop() ?? new Uint32Array(m.state.length);
    state.set(m.state);
    const index = nextIndex++;
    visited.add(hash, index);
    const tpos = tHash.length;
    tHash.push(hash);
    tExit.push(false);
    tSelf.push(false);
    listBytes += bytes;
    stack.push({ state, hash, steps, next: 0, index, lowlink: index, tpos, exit: false, selfLoop: false, via, all: reducedFrom, expand: false, bytes });
    if (final) {
      finals++;
      const { key, values } = final;
      let o = outcomes.get(key);
      if (!o) {
        if (outcomes.size >= maxOutcomes) {
          cutBy = 'max-outcomes';
          return;
        }
        // A deep run's path is not kept (traces find the shortest run by BFS instead): unbounded outcomes at
        // great depth would otherwise fill memory with paths.
        o = { key, values, satisfies: sim.holds(sim.program.test.condition.cond), count: 0, witness: stack.length <= WITNESS_DEPTH ? path() : [] };
        outcomes.set(key, o);
        listBytes += OUTCOME_BYTES + 8 * o.witness.length + 2 * key.length;
      }
      o.count++;
      if (opts.stopWhenDecided && cutBy === null && o.satisfies === (quantifier === 'exists')) cutBy = 'decided';
    }
    peakMemory = Math.max(peakMemory, memory());
  };

  const quantifier = sim.program.test.condition.quantifier;
  push(sim.hash(), -1);
  while (stack.length > 0) {
    const f = stack[stack.length - 1];
    if (f.next < f.steps.length && cutBy === null) {
      const cut = deadline.check();
      if (cut !== null) {
        cutBy = cut;
        continue;
      }
      const s = f.steps[f.next++];
      m.state.set(f.state);
      if (!applyStep(sim, s)) {
        cutBy = 'bus-capacity';
        continue;
      }
      const h = sim.hash();
      const idx = visited.index(h);
      if (idx === undefined) {
        if (visited.size >= maxStates) {
          cutBy = 'max-states';
          continue;
        }
        if (stack.length > maxDepth) {
          cutBy = 'max-depth';
          continue;
        }
        push(h, s);
      } else if (idx >= 0) {
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
      const done = new Set(f.steps);
      f.steps = [...f.steps, ...f.all.filter((s) => !done.has(s))];
      f.all = null;
      continue;
    }
    // All successors done: close the frame.
    stack.pop();
    pool.push(f.state);
    listBytes -= f.bytes;
    tExit[f.tpos] = f.exit;
    tSelf[f.tpos] = f.selfLoop;
    const parent = stack[stack.length - 1];
    if (f.lowlink === f.index) {
      // f is the root of an SCC: everything above it on the Tarjan stack belongs to it.
      const at = f.tpos;
      let exits = false, size = 0, selfLoop = false;
      for (let i = at; i < tHash.length; i++) {
        exits ||= tExit[i];
        selfLoop ||= tSelf[i];
        visited.setIndex(tHash[i], -1);
        size++;
      }
      tHash.length = at;
      tExit.length = at;
      tSelf.length = at;
      if (!exits && (size > 1 || selfLoop) && cutBy === null) {
        nonTerminatingWitness ??= [...path(), ...(f.via >= 0 ? [f.via] : [])];
      }
      if (parent) parent.exit = true;
    } else if (parent && f.lowlink < parent.lowlink) {
      parent.lowlink = f.lowlink;
    }
  }

  return {
    outcomes: [...outcomes.values()],
    states: visited.size,
    finals,
    complete: cutBy === null,
    cutBy,
    nonTerminating: nonTerminatingWitness !== null,
    nonTerminatingWitness,
    ms: performance.now() - t0,
    visitedBytes: visited.bytes(),
    memoryBytes: peakMemory,
  };
}

/**
 * Whether letting time pass would only move the clock: every process is idle and the next deadline (a masked
 * timer, say) changes nothing once time is factored out. Such a state is final: nothing can happen any more.
 */
function timeChangesNothing(sim: Simulator, hash: number): boolean {
  if (!sim.relativeTime) return false;
  const m = sim.machine, saved = m.snapshot();
  sim.apply(TIME_STEP);
  const same = sim.hash() === hash;
  m.restore(saved);
  return same;
}

/**
 * Take a step; false when it would overflow the APIC bus's in-flight capacity (a test that sends without end,
 * e.g. a loop of IPIs nobody receives): the state space is unbounded there, so the search is cut short.
 */
function applyStep(sim: Simulator, s: number): boolean {
  try {
    sim.apply(s);
    return true;
  } catch (e) {
    if (e instanceof HostError && e.code === 'bus-full') return false;
    throw e;
  }
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
      if (seen.bytes() + seen.growthBytes() + listBytes + 8 * path.length > maxMemory) {
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
          listBytes += OUTCOME_BYTES + 8 * path.length + 2 * key.length;
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
    memoryBytes: seen.bytes() + listBytes,
  };
}
