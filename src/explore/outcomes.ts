// The outcomes of a search: each final state's observables, how many final states had them, and a run reaching
// it. With symmetry every permutation of a final state is reachable too: its outcome is recorded with the run found
// and the permutation, and the permutation's own run is worked out only when asked for (relabel.ts).

import type { Simulator } from '../sim/sim.js';
import type { Symmetry } from './symmetry.js';
import { permutedWitness } from './relabel.js';
import type { Outcome } from './types.js';

/** One outcome as a search records it (plain data: a parallel search's workers send these). */
export interface OutcomeEntry {
  key: string;
  values: Outcome['values'];
  satisfies: boolean;
  count: number;
  /** A run reaching it; with `from`, a run reaching the final state whose permutation (symmetry.ts) it is. */
  path: number[];
  from: number[] | null;
}

/** Estimated bytes of an outcome beside its witness and key. */
const OUTCOME_BYTES = 400;

export class OutcomeSet {
  readonly entries = new Map<string, OutcomeEntry>();
  /** What the entries hold, as ExploreOptions.maxMemory counts it. */
  bytes = 0;
  /** Why the search must stop: too many outcomes, or (stopWhenDecided) one that decides the answer. */
  cut: 'max-outcomes' | 'decided' | null = null;
  private readonly exists: boolean;

  constructor(
    private readonly sim: Simulator,
    private readonly sym: Symmetry | null,
    private readonly maxOutcomes: number,
    private readonly stopWhenDecided: boolean,
  ) {
    this.exists = sim.program.test.condition.quantifier === 'exists';
  }

  /** What an outcome with this key and a witness of this length holds (ExploreOptions.maxMemory). */
  static entryBytes(key: string, witness: number): number {
    return OUTCOME_BYTES + 8 * witness + 2 * key.length;
  }

  /** The live state is final, reached by `path` (empty: not kept); `outcome` is its sim.outcome(). */
  final(path: number[], outcome = this.sim.outcome()): void {
    const sim = this.sim, cond = sim.program.test.condition.cond;
    const { key, values } = outcome;
    if (!this.add(key, values, () => sim.holds(cond), path, null, 1)) return;
    // With symmetry, every permutation of this final state is reachable too (docs/explorer.md, "Symmetry").
    const seen = new Set([key]);
    this.sym?.orbit(cond, (k, v, sat, from) => {
      if (seen.has(k)) return true;
      seen.add(k);
      return this.add(k, v, () => sat, path, from, 1);
    });
  }

  /** Count `count` final states with this outcome; false when there are too many outcomes. */
  add(key: string, values: Outcome['values'], satisfies: () => boolean, path: number[], from: number[] | null, count: number): boolean {
    let o = this.entries.get(key);
    if (!o) {
      if (this.entries.size >= this.maxOutcomes) {
        this.cut = 'max-outcomes';
        return false;
      }
      o = { key, values, satisfies: satisfies(), count: 0, path, from };
      this.entries.set(key, o);
      this.bytes += OutcomeSet.entryBytes(key, path.length);
    } else if (path.length > 0 && (o.path.length === 0 || (o.from !== null && from === null))) {
      o.path = path;
      o.from = from;
    }
    o.count += count;
    if (this.stopWhenDecided && this.cut === null && o.satisfies === this.exists) this.cut = 'decided';
    return true;
  }

  /** The outcomes, each with its witness (a permutation's computed when first read). */
  list(): Outcome[] {
    const sim = this.sim, sym = this.sym;
    return [...this.entries.values()].map((e) => {
      const o: Outcome = { key: e.key, values: e.values, satisfies: e.satisfies, count: e.count, witness: e.path };
      if (e.from !== null && sym && e.path.length > 0) {
        let w: number[] | null = null;
        const from = e.from, path = e.path;
        Object.defineProperty(o, 'witness', { get: () => (w ??= permutedWitness(sim, sym, path, from)), enumerable: true });
      }
      return o;
    });
  }
}
