// Parallel exploration (docs/explorer.md, "Parallel search"). Worker threads search the state space depth-first,
// each from states it owns: a state belongs to the first worker that adds its hash to a visited table they share (a
// SharedArrayBuffer; lock-free open addressing, a slot claimed by compare-and-exchange). A worker with nobody to
// share with keeps its whole subtree; when a worker is idle, a busy one hands it an unexplored successor through a
// small shared pool. Each worker keeps its outcomes and the edges it followed (as table slots); the coordinator
// merges the outcomes and checks that the edges form no cycle: then no run can go on forever (the graph explored
// with stubborn sets is acyclic only if the whole state graph is, docs/explorer.md), and the answer is the parallel
// one. A cycle means non-termination must be decided: the search is run again, sequentially, with Tarjan's algorithm
// and the cycle proviso. Nothing here imports a thread API: the host starts the threads (Threads; Node's is in
// src/cli/threads.ts) and each runs `exploreShare`.

import { Simulator } from '../sim/sim.js';
import { HostError } from '../arch/errors.js';
import { Reducer } from './por.js';
import { StateHasher } from './hasher.js';
import { copyWords } from './copy.js';
import { UndoStack } from './undo.js';
import { findSymmetry } from './symmetry.js';
import { OutcomeSet, type OutcomeEntry } from './outcomes.js';
import { applyStep, successors } from './successors.js';
import { Deadline } from './deadline.js';
import type { ExploreOptions, ExploreResult, ShareData } from './types.js';

export type { ShareData, Threads, ThreadHandle } from './types.js';

interface ShareResult {
  error?: string;
  /** The states it added to the table. */
  states: number;
  entries: OutcomeEntry[];
  /** The transitions it followed, as pairs of state numbers (SharedTable). */
  edges: Int32Array;
  finals: number;
}

// Control words; then, per thread, the most KiB it has held (beside the shared table and pool). STATES: the state
// numbers handed out in blocks (Share.reserve), at least the states in the table.
const STATES = 0, IDLE = 1, CUT = 2, LOCK = 3, POOLED = 4, WAKE = 5, FINISHED = 6, DONE = 7, CAPACITY = 8, GROW = 9, ARRIVED = 10, GEN = 11;
const CONTROL_WORDS = 12;
/** Estimated bytes of a DFS frame beside its state (as explore.ts counts it). */
const FRAME_BYTES = 160;
/** The table's first capacity. */
const FIRST_CAPACITY = 1 << 14;
const CUTS: ExploreResult['cutBy'][] = [null, 'max-states', 'max-depth', 'max-outcomes', 'timeout', 'decided', 'bus-capacity', 'memory', 'interrupted'];
/** A handed-over state's run from the root is kept up to this length (longer: its outcomes get no witness). */
const POOL_PATH = 10_000;
/** The most steps of a frame one pool item carries. */
const ITEM_STEPS = 64;
/** Pool items per thread. */
const ITEMS_PER_JOB = 4;
/** State numbers a thread takes at a time (fewer as maxStates nears): the counter's cache line is written once per
 *  block, not at every thread's every new state. */
const NUMBER_BLOCK = 1024;

/**
 * The shared visited table: 3 words a slot (the hash's low 32 bits; its high 21 bits with OCCUPIED, and BUSY while
 * the rest is being written; the state's number, from its thread's block of numbers), linear probing over the first
 * `capacity` slots of the buffer (a power of two, in a control word): it starts small and doubles in place when 3/4
 * full (`grow`, while every thread waits), so that the pages it touches are about the states it holds.
 */
const OCCUPIED = 0x80000000 | 0, BUSY = 0x40000000, HI = 0x1fffff;
export class SharedTable {
  private readonly a: Int32Array;
  constructor(buf: SharedArrayBuffer, private readonly c: Int32Array) {
    this.a = new Int32Array(buf);
  }
  static create(slots: number): SharedArrayBuffer {
    return new SharedArrayBuffer(12 * slots);
  }
  /** A table of `room` slots with its own control words, at `capacity` slots (one thread: tests and tools). */
  static alone(room: number, capacity: number): SharedTable {
    const c = new Int32Array(new SharedArrayBuffer(4 * CONTROL_WORDS));
    c[CAPACITY] = capacity;
    return new SharedTable(SharedTable.create(room), c);
  }
  /** The entry in slot i: [hash low word, high word with its flags, number], for tests. */
  slot(i: number): [number, number, number] {
    return [this.a[3 * i], this.a[3 * i + 1], this.a[3 * i + 2]];
  }
  /** The slots the buffer has room for. */
  get room(): number {
    return this.a.length / 3;
  }
  get capacity(): number {
    return Atomics.load(this.c, CAPACITY);
  }
  /** Add hash h as state number `id`: id if this call added it, else -1 - the number it has. */
  insert(h: number, id: number): number {
    const lo = h | 0, hi = (((h - (h >>> 0)) / 0x100000000) & HI) | OCCUPIED, a = this.a, mask = this.capacity - 1;
    for (let i = (h >>> 0) & mask; ; i = (i + 1) & mask) {
      let w = Atomics.load(a, 3 * i + 1);
      if (w === 0) {
        w = Atomics.compareExchange(a, 3 * i + 1, 0, hi | BUSY);
        if (w === 0) {
          Atomics.store(a, 3 * i, lo);
          Atomics.store(a, 3 * i + 2, id);
          Atomics.store(a, 3 * i + 1, hi);
          return id;
        }
      }
      while ((w & BUSY) !== 0) w = Atomics.load(a, 3 * i + 1);
      if (w === hi && Atomics.load(a, 3 * i) === lo) return -1 - Atomics.load(a, 3 * i + 2);
    }
  }
  /** Hash h's number, or -1 when it is not in the table. */
  find(h: number): number {
    const lo = h | 0, hi = (((h - (h >>> 0)) / 0x100000000) & HI) | OCCUPIED, a = this.a, mask = this.capacity - 1;
    for (let i = (h >>> 0) & mask; ; i = (i + 1) & mask) {
      let w = Atomics.load(a, 3 * i + 1);
      while ((w & BUSY) !== 0) w = Atomics.load(a, 3 * i + 1);
      if (w === 0) return -1;
      if (w === hi && Atomics.load(a, 3 * i) === lo) return Atomics.load(a, 3 * i + 2);
    }
  }

  /**
   * Double the capacity, moving the entries in place (no other thread may touch the table meanwhile): no copy of the
   * table, whose fresh pages would cost a page fault each (10.5 us on this host). The new half is zero: no slot past
   * the capacity was ever written. The old slots are taken in order from just after an empty one (the first), so
   * that each cluster is taken from its start: an entry leaves its slot and is placed again from its new home (its
   * old home h, or h plus the old capacity). A probe must not pass an entry still to be taken, whose slot could then
   * empty between the placed entry's home and it:
   * - from h it passes only slots of its cluster taken before it, and lands at or before its own, now empty;
   * - from the new half it passes only entries placed again, unless it wraps past the end. It wraps only when the new
   *   half is full from the start s of its cluster to the end. The entries are fewer than the old capacity, so s is in
   *   the new half; these entries and this one all have old homes at or past s less the old capacity, and are more
   *   than the old slots there: the old cluster wrapped too, into the slots before the first empty one, which are
   *   taken last. This entry is one of those, and wraps only over slots taken before it, to its own at most.
   */
  grow(): void {
    const a = this.a, cap = this.capacity, mask = 2 * cap - 1;
    let start = 0;
    while (a[3 * start + 1] !== 0) start++;
    for (let k = 1; k <= cap; k++) {
      const j = (start + k) & (cap - 1), hi = a[3 * j + 1];
      if (hi === 0) continue;
      const lo = a[3 * j], id = a[3 * j + 2];
      a[3 * j + 1] = 0;
      let i = (lo >>> 0) & mask;
      while (a[3 * i + 1] !== 0) i = (i + 1) & mask;
      a[3 * i] = lo;
      a[3 * i + 1] = hi;
      a[3 * i + 2] = id;
    }
    Atomics.store(this.c, CAPACITY, 2 * cap);
  }
}

/**
 * A search with `jobs` threads; `sequential` is the one-thread explorer (for a state graph with a cycle). The
 * caller gives maxStates and maxDepth (explore.ts has the defaults).
 */
export function exploreParallel(sim: Simulator, opts: ExploreOptions, t0: number, sequential: (sim: Simulator, opts: ExploreOptions) => ExploreResult): ExploreResult {
  const threads = opts.threads;
  if (!threads) throw new HostError('bad-argument', 'jobs > 1 needs threads to run on (ExploreOptions.threads; in Node, nodeThreads from src/cli/threads)');
  const jobs = opts.jobs!, root = sim.machine.snapshot();
  // The root counts whatever the bound, as in the sequential search.
  const maxStates = Math.max(1, opts.maxStates!), maxMemory = opts.maxMemory ?? Infinity;
  const poolBytes = 4 * itemWords(root.length) * ITEMS_PER_JOB * jobs;
  // One buffer for the table (threads cannot hand each other a new one while they search): room for maxStates at
  // 3/4 full, up to 2^26 slots (768 MB of address space; only the part in use is ever written), and within
  // maxMemory beside the pool.
  let room = FIRST_CAPACITY;
  while (room * 0.75 < maxStates && room < 1 << 26 && 24 * room + poolBytes <= maxMemory) room *= 2;
  const sym = opts.symmetry === false ? null : findSymmetry(sim).symmetry;
  const control = new SharedArrayBuffer(4 * (CONTROL_WORDS + jobs)), c = new Int32Array(control);
  c[CAPACITY] = FIRST_CAPACITY;
  const base: Omit<ShareData, 'index'> = {
    test: sim.program.test, profile: sim.profile, root, jobs, por: opts.por !== false, symmetry: sym !== null,
    stopWhenDecided: opts.stopWhenDecided ?? false, maxStates, maxDepth: opts.maxDepth!, maxOutcomes: opts.maxOutcomes ?? 100_000,
    maxMemory, deadline: opts.timeoutMs !== undefined ? performance.timeOrigin + t0 + opts.timeoutMs : Infinity,
    control, table: SharedTable.create(room), pool: new SharedArrayBuffer(poolBytes),
  };
  // The calling thread searches too (as thread 0, from the root), and collects the others' results when done; it
  // alone can report progress and poll the interruption (functions do not cross threads).
  const handles = Array.from({ length: jobs - 1 }, (_, i) => threads.start({ ...base, index: i + 1 }));
  const results: (ShareResult | undefined)[] = new Array(jobs).fill(undefined);
  try {
    exploreShare({ ...base, index: 0 }, (r) => (results[0] = r), { progress: opts.progress, interrupted: opts.interrupted }, { sim, sym });
    for (;;) {
      for (let i = 1; i < jobs; i++) results[i] ??= handles[i - 1].receive() as ShareResult | undefined;
      if (results.every((r) => r !== undefined)) break;
      Atomics.wait(c, FINISHED, Atomics.load(c, FINISHED), 50);
    }
  } finally {
    for (const h of handles) h.terminate();
    // Thread 0 searched on the caller's simulator: it is left at the root, as it was given.
    sim.machine.restore(root);
  }
  const failed = results.find((r) => r!.error !== undefined);
  if (failed) throw new Error(`a search thread failed: ${failed.error}`);
  const cut = CUTS[Atomics.load(c, CUT)];
  // State numbers are below both (a block's unused numbers are states no edge names).
  if (cut === null && hasCycle(results.map((r) => r!.edges), Math.min(Atomics.load(c, STATES), maxStates))) {
    const left = opts.timeoutMs !== undefined ? Math.max(0, opts.timeoutMs - (performance.now() - t0)) : undefined;
    return { ...sequential(sim, { ...opts, jobs: 1, timeoutMs: left }), ms: performance.now() - t0 };
  }

  const outcomes = new OutcomeSet(sim, sym, opts.maxOutcomes ?? 100_000, false);
  for (const r of results) for (const e of r!.entries) outcomes.add(e.key, e.values, () => e.satisfies, e.path, e.from, e.count);
  const cutBy = cut ?? outcomes.cut;
  return {
    outcomes: outcomes.list(), states: results.reduce((n, r) => n + r!.states, 0), finals: results.reduce((n, r) => n + r!.finals, 0),
    complete: cutBy === null, cutBy, nonTerminating: false, nonTerminatingWitness: null, ms: performance.now() - t0,
    visitedBytes: 12 * Atomics.load(c, CAPACITY), memoryBytes: memoryOf(c, jobs, poolBytes), symmetry: sym?.describe() ?? null,
  };
}

/** A pool item: the run's length and steps, the state, its number, the count of its steps to follow and them. */
function itemWords(stateWords: number): number {
  return 3 + POOL_PATH + stateWords + ITEM_STEPS;
}

/** What a search holds as maxMemory counts it: the shared table and pool, and each thread's peak (in KiB). */
function memoryOf(c: Int32Array, jobs: number, poolBytes: number): number {
  let kib = 0;
  for (let i = 0; i < jobs; i++) kib += Atomics.load(c, CONTROL_WORDS + i);
  return 12 * Atomics.load(c, CAPACITY) + poolBytes + 1024 * kib;
}

/** Whether the edges (pairs of state numbers below n) hold a cycle: Kahn's algorithm. */
function hasCycle(edges: Int32Array[], n: number): boolean {
  const indeg = new Int32Array(n), first = new Int32Array(n + 1);
  let total = 0;
  for (const e of edges) {
    for (let i = 0; i < e.length; i += 2) {
      first[e[i] + 1]++;
      indeg[e[i + 1]]++;
    }
    total += e.length / 2;
  }
  for (let v = 0; v < n; v++) first[v + 1] += first[v];
  const fill = first.slice(0, n), next = new Int32Array(total);
  for (const e of edges) for (let i = 0; i < e.length; i += 2) next[fill[e[i]]++] = e[i + 1];
  const ready: number[] = [];
  for (let v = 0; v < n; v++) if (indeg[v] === 0) ready.push(v);
  let removed = 0;
  while (ready.length > 0) {
    const v = ready.pop()!;
    for (let k = first[v]; k < first[v + 1]; k++) {
      removed++;
      if (--indeg[next[k]] === 0) ready.push(next[k]);
    }
  }
  return removed !== total;
}

interface Frame {
  aux: Uint32Array;
  /** Where the undo stack's entries for the step into this state start (src/explore/undo.ts). */
  undoFrom: number;
  /** Its number in the shared table. */
  id: number;
  steps: number[];
  /** Scratch for the enabled steps. */
  enabled: number[];
  next: number;
  via: number;
}

/** The calling thread's simulator and symmetry, which its share uses rather than building them again. */
interface Own {
  sim: Simulator;
  sym: ReturnType<typeof findSymmetry>['symmetry'];
}

/** One thread's part of a parallel search; `send` gets its result once; `hooks` (the calling thread's) are called now and then. */
export function exploreShare(data: ShareData, send: (result: ShareResult) => void, hooks: Pick<ExploreOptions, 'progress' | 'interrupted'> = {}, own?: Own): void {
  const c = new Int32Array(data.control);
  let result: ShareResult = { states: 0, entries: [], edges: new Int32Array(0), finals: 0 };
  try {
    result = new Share(data, c, hooks, own).run();
  } catch (e) {
    result.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    Atomics.store(c, DONE, 1);
    Atomics.notify(c, WAKE);
    Atomics.notify(c, GEN);
  }
  send(result);
  Atomics.add(c, FINISHED, 1);
  Atomics.notify(c, FINISHED);
}

/** One worker: a depth-first search from each state it is handed, and the hand-overs to idle workers. */
class Share {
  private readonly sim: Simulator;
  private readonly live: Int32Array;
  private readonly hasher: StateHasher;
  private readonly table: SharedTable;
  private readonly reducer: Reducer | null;
  private readonly outcomes: OutcomeSet;
  private readonly aux: Uint32Array;
  private readonly pool: Int32Array;
  private readonly itemWords: number;
  private readonly poolItems: number;
  /** Scratch for a hand-over: the frames given from and how many of their steps. */
  private readonly giveAt: number[] = [];
  private readonly giveSteps: number[] = [];
  private readonly stack: Frame[] = [];
  private readonly frames: Frame[] = [];
  /** The way back to each stacked frame's state: the live state is always the top frame's, as in the sequential
   *  search (docs/explorer.md, "The way back"). */
  private readonly undo = new UndoStack();
  /** Scratch for a hand-over: a stacked frame's state, rebuilt from the live state and the undo stack. */
  private readonly given: Int32Array;
  /** The run from the root to the state this search started from (null: too long to keep). */
  private prefix: number[] | null = [];
  private edges = new Int32Array(1 << 12);
  private nEdges = 0;
  private finals = 0;
  /** This thread's block of state numbers: the next one, and the end of the block. */
  private number = 0;
  private numberEnd = 0;
  /** The states it added. */
  private added = 0;
  private work = 0;
  private readonly deadline: Deadline;
  /** Bytes of a frame's hasher sums. */
  private readonly auxBytes: number;

  constructor(private readonly data: ShareData, private readonly c: Int32Array, private readonly hooks: Pick<ExploreOptions, 'progress' | 'interrupted'>, own?: Own) {
    // The deadline is in the epoch's milliseconds; this thread's clock starts at its own timeOrigin.
    this.deadline = new Deadline(data.deadline - performance.timeOrigin, performance.now(), hooks,
      () => [Math.min(Atomics.load(c, STATES), data.maxStates), (this.prefix?.length ?? 0) + this.stack.length]);
    this.sim = own?.sim ?? new Simulator(data.test, data.profile);
    const m = this.sim.machine;
    m.restore(data.root);
    const sym = own ? own.sym : data.symmetry ? findSymmetry(this.sim).symmetry : null;
    this.hasher = new StateHasher(this.sim, sym);
    this.table = new SharedTable(data.table, c);
    this.reducer = data.por ? new Reducer(this.sim) : null;
    this.outcomes = new OutcomeSet(this.sim, sym, data.maxOutcomes, data.stopWhenDecided);
    this.live = new Int32Array(m.state.buffer, m.state.byteOffset, m.state.length);
    this.aux = new Uint32Array(this.hasher.auxLength);
    this.pool = new Int32Array(data.pool);
    this.itemWords = itemWords(m.state.length);
    this.poolItems = data.pool.byteLength / 4 / this.itemWords;
    this.auxBytes = this.aux.byteLength;
    this.given = new Int32Array(m.state.length);
  }

  run(): ShareResult {
    let more = true;
    if (this.data.index === 0) {
      const id = this.insert(this.hasher.full(this.aux));
      if (id !== null) this.push(id, -1);
    } else more = this.take();
    while (more) {
      this.search();
      more = this.take();
    }
    this.account();
    this.hasher.release();
    return { states: this.added, entries: [...this.outcomes.entries.values()], edges: this.edges.slice(0, this.nEdges), finals: this.finals };
  }

  private cut(why: ExploreResult['cutBy']): void {
    Atomics.compareExchange(this.c, CUT, 0, CUTS.indexOf(why));
  }

  /**
   * Add h to the shared table: its number if new, else -1 - its number; null when there is no number for it (the
   * search is cut: maxStates, or a table with no room to grow).
   */
  private insert(h: number): number | null {
    if (Atomics.load(this.c, GROW) !== 0) this.barrier();
    if (this.number === this.numberEnd) {
      // A state already there needs no number: only a new one may find them all handed out, and cut the search.
      const seen = this.table.find(h);
      if (seen >= 0) return -1 - seen;
      if (!this.reserve()) return null;
    }
    const id = this.table.insert(h, this.number);
    if (id >= 0) {
      this.number++;
      this.added++;
    }
    return id;
  }

  /**
   * Take the next block of state numbers, and make room in the table for every number handed out: it grows (every
   * thread at the barrier) past 3/4 full. False, with the search cut, when the numbers below maxStates are all handed
   * out, or the table has no room to grow (maxMemory, or 2^26 slots). Blocks shrink as maxStates nears; a search
   * cut there has found all but the numbers other threads hold unused (at most a block each), so a state space that
   * just fits the bound may be reported cut, never complete with a state missing.
   */
  private reserve(): boolean {
    const c = this.c, t = this.table, max = this.data.maxStates;
    const block = Math.max(1, Math.min(NUMBER_BLOCK, Math.floor((max - Atomics.load(c, STATES)) / (4 * this.data.jobs))));
    const start = Atomics.add(c, STATES, block);
    if (start >= max) {
      this.cut('max-states');
      return false;
    }
    const end = Math.min(start + block, max);
    while (4 * end > 3 * t.capacity) {
      if (t.capacity >= t.room) {
        this.cut(this.data.maxMemory < Infinity ? 'memory' : 'max-states');
        return false;
      }
      const cap = t.capacity;
      // Idle threads wait on WAKE: they come to the barrier now rather than at their next timeout.
      if (Atomics.compareExchange(c, GROW, 0, 1) === 0) Atomics.notify(c, WAKE);
      this.barrier();
      // Not grown: the search ended meanwhile (a cut, or another thread's error).
      if (t.capacity === cap) return false;
    }
    this.number = start;
    this.numberEnd = end;
    return true;
  }

  /** Publish what this thread holds (its peak, in KiB) and cut the search when all together pass maxMemory. */
  private account(): void {
    const c = this.c, at = CONTROL_WORDS + this.data.index;
    const own = (this.stack.length + this.frames.length) * (this.auxBytes + FRAME_BYTES) + this.undo.bytes() + this.edges.byteLength + this.outcomes.bytes;
    const kib = Math.ceil(own / 1024);
    if (kib > Atomics.load(c, at)) Atomics.store(c, at, kib);
    if (this.data.maxMemory < Infinity && memoryOf(c, this.data.jobs, this.data.pool.byteLength) > this.data.maxMemory) this.cut('memory');
  }

  /** Wait for every thread; the last to come grows the table. */
  private barrier(): void {
    const c = this.c, gen = Atomics.load(c, GEN);
    if (Atomics.add(c, ARRIVED, 1) + 1 === this.data.jobs) {
      this.table.grow();
      Atomics.store(c, ARRIVED, 0);
      Atomics.store(c, GROW, 0);
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
      return;
    }
    while (Atomics.load(c, GEN) === gen && Atomics.load(c, DONE) === 0) Atomics.wait(c, GEN, gen, 20);
  }

  private edge(from: number, to: number): void {
    if (this.nEdges + 2 > this.edges.length) {
      const e = new Int32Array(this.edges.length * 2);
      e.set(this.edges);
      this.edges = e;
    }
    this.edges[this.nEdges++] = from;
    this.edges[this.nEdges++] = to;
  }

  private path(): number[] {
    const p = this.prefix;
    if (p === null || p.length + this.stack.length - 1 > POOL_PATH) return [];
    return [...p, ...this.stack.slice(1).map((f) => f.via)];
  }

  private frame(): Frame {
    return this.frames.pop() ?? { aux: new Uint32Array(this.aux.length), undoFrom: 0, id: 0, steps: [], enabled: [], next: 0, via: 0 };
  }

  /** The live state is new (number id): a frame for it (its step's writes, when it has one, are in the log). */
  private push(id: number, via: number): void {
    const f = this.frame();
    // Saved before the steps are worked out: that may take a step and put the state back (the log notes both).
    f.undoFrom = via >= 0 ? this.undo.save(this.hasher.log) : this.undo.top;
    copyWords(f.aux, this.aux);
    f.id = id;
    f.next = 0;
    f.via = via;
    successors(this.sim, this.reducer, f.steps, f.enabled);
    this.stack.push(f);
    if (f.steps.length === 0) {
      this.finals++;
      this.outcomes.final(this.path());
      if (this.outcomes.cut) this.cut(this.outcomes.cut);
    }
  }

  /** Step from frame f, the top frame, by s: the next state's number (or -1 - its number when already there, the
   *  live state f's again; null, the live state f's again, when the bus overflowed or the state got no number). */
  private step(f: Frame, s: number): number | null {
    this.hasher.beforeStep();
    if (!applyStep(this.sim, s)) {
      this.back();
      this.cut('bus-capacity');
      return null;
    }
    const id = this.insert(this.hasher.child(null, f.aux, this.aux));
    if (id === null) {
      this.back();
      return null;
    }
    this.edge(f.id, id >= 0 ? id : -1 - id);
    if (id < 0) this.back();
    return id;
  }

  /** Undo the step just taken (the live state is the top frame's again). */
  private back(): void {
    if (!this.hasher.undo(this.live)) throw new Error('parallel search: a step without a write log cannot be undone');
  }

  /** Close the top frame: the live state is its parent's again. */
  private pop(): void {
    const f = this.stack.pop()!;
    this.undo.restore(this.live, f.undoFrom);
    this.frames.push(f);
  }

  private search(): void {
    const c = this.c, stack = this.stack, data = this.data;
    while (stack.length > 0) {
      if (Atomics.load(c, CUT) !== 0) {
        while (stack.length > 0) this.pop();
        return;
      }
      const f = stack[stack.length - 1];
      if (f.next >= f.steps.length) {
        this.pop();
        continue;
      }
      const cut = this.deadline.check();
      if (cut !== null) this.cut(cut);
      if ((++this.work & 255) === 0) this.account();
      if ((this.work & 15) === 0 && Atomics.load(c, IDLE) > 0 && Atomics.load(c, POOLED) === 0) this.handOver();
      const s = f.steps[f.next++];
      const id = this.step(f, s);
      if (id === null || id < 0) continue;
      if ((this.prefix?.length ?? 0) + stack.length > data.maxDepth) this.cut('max-depth');
      else this.push(id, s);
      if (stack[stack.length - 1] === f) this.back();
    }
  }

  /**
   * Someone is idle and the pool is empty: give away half of the stack's work, as stack splitting does. From each
   * frame, the bottom first (the largest subtrees, likely), half of the steps it has yet to follow (rounded up; the
   * top frame's rounded down, so that this thread keeps some) go to the pool as one item: the frame's state, its
   * number, its run from the root and those steps. The taker goes on from that frame as if it had pushed it. Items
   * are written top frame first, so that the bottom frame's is taken first.
   */
  private handOver(): void {
    const stack = this.stack, top = stack.length - 1, at = this.giveAt, k = this.giveSteps;
    at.length = k.length = 0;
    this.lock();
    const room = this.poolItems - this.c[POOLED];
    for (let i = 0; i <= top && at.length < room; i++) {
      const left = stack[i].steps.length - stack[i].next, give = Math.min(ITEM_STEPS, i === top ? left >> 1 : (left + 1) >> 1);
      if (give === 0) continue;
      at.push(i);
      k.push(give);
    }
    const pool = this.pool, L = this.live.length, p = this.prefix, given = this.given;
    // Each frame's state: the live state (the top frame's) with the steps of the frames above it undone, the top
    // frame's first (the items go top frame first).
    copyWords(given, this.live);
    let undone = this.undo.top;
    for (let j = at.length - 1; j >= 0; j--) {
      const g = stack[at[j]], item = this.c[POOLED]++ * this.itemWords, n = p === null ? -1 : p.length + at[j];
      const from = at[j] + 1 < stack.length ? stack[at[j] + 1].undoFrom : undone;
      this.undo.rewind(given, from, undone);
      undone = from;
      if (n < 0 || n > POOL_PATH) pool[item] = -1;
      else {
        pool[item] = n;
        for (let x = 0; x < p!.length; x++) pool[item + 1 + x] = p![x];
        for (let x = 1; x <= at[j]; x++) pool[item + p!.length + x] = stack[x].via;
      }
      let w = item + 1 + POOL_PATH;
      pool.set(given, w);
      w += L;
      pool[w++] = g.id;
      pool[w++] = k[j];
      for (let x = g.steps.length - k[j]; x < g.steps.length; x++) pool[w++] = g.steps[x];
      g.steps.length -= k[j];
    }
    if (at.length > 0) Atomics.add(this.c, WAKE, 1);
    this.unlock();
    if (at.length > 0) Atomics.notify(this.c, WAKE);
  }

  private lock(): void {
    while (Atomics.compareExchange(this.c, LOCK, 0, 1) !== 0) Atomics.wait(this.c, LOCK, 1, 1);
  }
  private unlock(): void {
    Atomics.store(this.c, LOCK, 0);
    Atomics.notify(this.c, LOCK, 1);
  }

  /** Wait for a handed-over state and start from it (true), or learn that the search is over (false). */
  private take(): boolean {
    const c = this.c, pool = this.pool, L = this.live.length;
    this.lock();
    Atomics.add(c, IDLE, 1);
    for (;;) {
      if (c[DONE] === 0 && c[CUT] === 0 && c[POOLED] > 0) {
        const at = --c[POOLED] * this.itemWords, n = pool[at], w = at + 1 + POOL_PATH;
        this.prefix = n >= 0 ? Array.from(pool.subarray(at + 1, at + 1 + n)) : null;
        this.live.set(pool.subarray(w, w + L));
        const f = this.frame();
        f.undoFrom = this.undo.top = 0;
        f.id = pool[w + L];
        f.steps.length = 0;
        for (let x = 0, k = pool[w + L + 1]; x < k; x++) f.steps.push(pool[w + L + 2 + x]);
        Atomics.sub(c, IDLE, 1);
        this.unlock();
        this.hasher.full(this.aux);
        copyWords(f.aux, this.aux);
        f.next = 0;
        f.via = -1;
        this.stack.push(f);
        return true;
      }
      if (c[DONE] !== 0 || c[CUT] !== 0 || Atomics.load(c, IDLE) === this.data.jobs) {
        Atomics.store(c, DONE, 1);
        this.unlock();
        Atomics.notify(c, WAKE);
        Atomics.notify(c, GEN);
        return false;
      }
      const wake = Atomics.load(c, WAKE);
      this.unlock();
      if (this.hooks.interrupted?.()) this.cut('interrupted');
      if (Atomics.load(c, GROW) !== 0) this.barrier();
      else Atomics.wait(c, WAKE, wake, 20);
      this.lock();
    }
  }
}
