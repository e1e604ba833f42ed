// The explorer's public shapes: its options and answer, and how a host starts the threads of a parallel search
// (kept apart so that explore.ts, parallel.ts and outcomes.ts share them without importing each other).

import type { LitmusTest } from '../litmus/ast.js';
import type { Profile } from '../sim/profile.js';
import type { OutcomeValue, Simulator } from '../sim/sim.js';

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
  /** Symmetry reduction (interchangeable CPUs, src/explore/symmetry.ts) when the test has a symmetry; default on. */
  symmetry?: boolean;
  /**
   * Check the model's write path (src/arch/writes.ts): after every step, compare the whole state with the one it began
   * from and throw where a word changed without a noted write (the incremental hash would have missed it) or where the
   * log's values would not undo the step; every eighth step, check the incremental hash against the hash from
   * nothing. For tests; a search is about 2.5x slower with it. One thread: a search with `jobs` > 1 does not check.
   */
  checkWrites?: boolean;
  /** Called now and then with the number of states so far and the depth of the run (for a progress line). */
  progress?: (states: number, depth: number) => void;
  /** Polled now and then: true ends the search with what it found so far (cut by 'interrupted': Ctrl-C). */
  interrupted?: () => boolean;
  /**
   * Search with this many threads (src/explore/parallel.ts; default 1), started by `threads` (in Node:
   * nodeThreads, src/cli/threads.ts). Outcomes and the answer are the same; non-termination is decided by a
   * sequential search when the state graph has a cycle.
   */
  jobs?: number;
  threads?: Threads;
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
  /** The symmetry the search used (which CPUs were interchangeable), or null. */
  symmetry: string | null;
}

/** A thread the host started to run `exploreShare(data, send)`. */
export interface ThreadHandle {
  /** The message the thread sent, if it has (never blocks). */
  receive(): unknown;
  terminate(): void;
}

/** How to start threads: Node's worker_threads (src/cli/threads.ts), a browser's Web Workers; and the parallel
 *  search that runs on them (`exploreParallel` of src/explore/parallel.ts), so that an explorer used without threads
 *  (the web app's worker) carries no parallel search. */
export interface Threads {
  start(data: ShareData): ThreadHandle;
  search: (sim: Simulator, opts: ExploreOptions, t0: number, sequential: (sim: Simulator, opts: ExploreOptions) => ExploreResult) => ExploreResult;
}

/** What a worker gets (structured-cloned). */
export interface ShareData {
  test: LitmusTest;
  profile: Profile;
  root: Uint32Array;
  index: number;
  jobs: number;
  por: boolean;
  symmetry: boolean;
  stopWhenDecided: boolean;
  maxStates: number;
  maxDepth: number;
  maxOutcomes: number;
  /** Bytes the search may hold (ExploreOptions.maxMemory), or Infinity. */
  maxMemory: number;
  /** Wall-clock deadline (ms since the epoch), or Infinity. */
  deadline: number;
  control: SharedArrayBuffer;
  table: SharedArrayBuffer;
  pool: SharedArrayBuffer;
}
