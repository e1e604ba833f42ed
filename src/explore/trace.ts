// Witness traces: the shortest run to each outcome (and a run into a cycle with no way out, if any), replayed on the
// simulator as typed records (records.ts) and labelled by what they show about the test's condition: a witness of an
// outcome that satisfies it, a counterexample to the claim (a `forall` outcome that does not satisfy it, a
// `~exists` one that does, a `forall` run that never ends), or just a run. Counterexamples come first.
import type { Simulator } from '../sim/sim.js';
import { printFinal } from '../litmus/print.js';
import type { ExploreResult } from './explore.js';
import { sortOutcomes } from './answer.js';
import { shortestWitness } from './witness.js';
import { recordRun, TRACE_SCHEMA, type TraceRecord, type TraceRole, type TraceStepRecord } from './records.js';
import { formatTraceText } from './tracetext.js';

export { TRACE_SCHEMA, type TraceRecord, type TraceRole, type TraceStepRecord };
/** A step of a trace (the typed record). */
export type TraceStep = TraceStepRecord;

/** Replay `steps` from the initial state; one typed record per step. */
export function replay(sim: Simulator, steps: readonly number[]): TraceStepRecord[] {
  return recordRun(sim, steps).steps;
}

const ORDER: Record<TraceRole, number> = { counterexample: 0, witness: 1, run: 2 };

/** The traces of a search: the shortest run to each outcome, and one into a cycle; counterexamples first. */
export function traceRecords(sim: Simulator, r: ExploreResult): TraceRecord[] {
  const q = sim.program.test.condition.quantifier;
  const out: TraceRecord[] = [];
  for (const o of sortOutcomes(r.outcomes)) {
    const run = recordRun(sim, shortestWitness(sim, o.key, Math.max(r.states * 2, 1000)) ?? o.witness);
    const role: TraceRole = (q === 'forall' && !o.satisfies) || (q === '~exists' && o.satisfies) ? 'counterexample' : o.satisfies ? 'witness' : 'run';
    out.push({ schema: TRACE_SCHEMA, role, outcome: o.values, key: o.key, satisfies: o.satisfies, initial: run.initial, steps: run.steps });
  }
  if (r.nonTerminatingWitness) {
    const run = recordRun(sim, r.nonTerminatingWitness);
    out.push({ schema: TRACE_SCHEMA, role: q === 'forall' ? 'counterexample' : 'run', nonTerminating: true, initial: run.initial, steps: run.steps });
  }
  sim.reset();
  // A stable sort: within a role, outcomes keep their order and the run into a cycle comes last.
  return out.sort((a, b) => ORDER[a.role] - ORDER[b.role]);
}

/** Text (or JSON-ready) traces of the shortest run to each outcome, and of a non-terminating run if any. */
export function formatTrace(sim: Simulator, r: ExploreResult, json: true): TraceRecord[];
export function formatTrace(sim: Simulator, r: ExploreResult, json: false): string[];
export function formatTrace(sim: Simulator, r: ExploreResult, json: boolean): string[] | TraceRecord[];
export function formatTrace(sim: Simulator, r: ExploreResult, json: boolean): string[] | TraceRecord[] {
  const traces = traceRecords(sim, r);
  if (json) return traces;
  const condition = printFinal(sim.program.test.condition);
  const lanes = { cpus: sim.program.cpus.length, agents: [...sim.program.agentIndex.keys()].sort((a, b) => a - b).map((a) => `D${a}`), hypervisor: sim.vcpus };
  return traces.flatMap((t) => ['', ...formatTraceText(t, condition, lanes)]);
}
