// Witness traces: the steps of a run reaching each outcome, replayed on the simulator with the model's own
// trace lines (KVM-tracepoint style: `P1 smi: enter SMM smbase=0x30000`).
import type { Simulator } from '../sim/sim.js';
import type { ExploreResult } from './explore.js';
import { sortOutcomes } from './answer.js';
import { shortestWitness } from './witness.js';

export interface TraceStep {
  step: string;
  effects: string[];
}

/** Replay `steps` from the initial state; returns one entry per step. */
export function replay(sim: Simulator, steps: readonly number[]): TraceStep[] {
  sim.reset();
  const out: TraceStep[] = [];
  for (const s of steps) {
    const entry: TraceStep = { step: sim.describe(s), effects: [] };
    sim.traced((line) => entry.effects.push(line), () => sim.apply(s));
    out.push(entry);
  }
  return out;
}

/** Text (or JSON-ready) traces of the shortest run to each outcome, and of a non-terminating run if any. */
export function formatTrace(sim: Simulator, r: ExploreResult, json: boolean): string[] | object[] {
  const lines: string[] = [];
  const objs: object[] = [];
  for (const o of sortOutcomes(r.outcomes)) {
    const steps = shortestWitness(sim, o.key, Math.max(r.states * 2, 1000)) ?? o.witness;
    const t = replay(sim, steps);
    if (json) objs.push({ outcome: o.values, satisfies: o.satisfies, steps: t });
    else {
      lines.push('', `Witness for ${o.satisfies ? 'satisfying ' : ''}outcome ${o.key} (${t.length} steps):`);
      t.forEach((e, i) => {
        lines.push(`  ${String(i + 1).padStart(3)}. ${e.step}`);
        for (const x of e.effects) if (x !== e.step) lines.push(`         ${x}`);
      });
    }
  }
  if (r.nonTerminatingWitness) {
    const t = replay(sim, r.nonTerminatingWitness);
    if (json) objs.push({ nonTerminating: true, steps: t });
    else {
      lines.push('', `A run into a cycle with no way out (${t.length} steps):`);
      t.forEach((e, i) => lines.push(`  ${String(i + 1).padStart(3)}. ${e.step}`));
    }
  }
  sim.reset();
  return json ? objs : lines;
}
