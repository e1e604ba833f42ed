// The web app's one door into the model: explore, find the shortest run to an outcome, and replay a run step by step
// reading the machine after each step. It runs in the worker, handed each test parsed (front.ts) and each profile
// as data (profiles.ts), so that it bundles no parser and no profile table; those two and testinfo.ts are the page's
// other imports from src/, and the rest of web/src sees the plain data of types.ts. When the library's runLitmus
// lands, `run` becomes a call to it.

import type { LitmusTest } from '../../src/litmus/ast.js';
import { Simulator, StepKind, formatValue, stepIndex, stepKind } from '../../src/sim/sim.js';
import type { Profile } from '../../src/sim/profile.js';
import { explore } from '../../src/explore/explore.js';
import { answer, sortOutcomes } from '../../src/explore/answer.js';
import { shortestWitness } from '../../src/explore/witness.js';
import { machineState, wire } from '../../src/explore/state.js';
import { testInfo } from './testinfo.js';
import type { ProfileData, RawStep, RawStepKind, RawTrace, RunAnswer } from './types.js';

export class EngineError extends Error {}

function simulator(test: LitmusTest, profile: ProfileData): Simulator {
  try {
    const p: Profile = { ...profile, deviations: [] };
    return new Simulator(test, p);
  } catch (e) {
    throw new EngineError(e instanceof Error ? e.message : String(e));
  }
}

export interface RunOptions {
  maxStates?: number;
  timeoutMs?: number;
  progress?: (states: number) => void;
}

/** Explore every interleaving and answer the test's question (`lapis run --json`). */
export function run(test: LitmusTest, profile: ProfileData, opts: RunOptions = {}): RunAnswer {
  const sim = simulator(test, profile);
  const r = explore(sim, { maxStates: opts.maxStates, timeoutMs: opts.timeoutMs, progress: opts.progress });
  const a = answer(sim.program.test, sim.profile.name, r);
  return {
    test: a.test, profile: a.profile, condition: a.condition, ok: a.ok, observation: a.observation,
    outcomes: sortOutcomes(r.outcomes).map((o) => ({ key: o.key, values: formatValues(o.values), satisfies: o.satisfies, count: o.count, witness: o.witness })),
    witnesses: a.witnesses, complete: a.complete, cutBy: a.cutBy, nonTerminating: a.nonTerminating,
    nonTerminatingWitness: r.nonTerminatingWitness, states: a.states, finals: a.finals, ms: a.ms,
  };
}

function formatValues(v: Record<string, number | bigint | string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = formatValue(x);
  return out;
}

/** The shortest run to the outcome `key` (breadth-first, within `budget` states), else `fallback`. */
export function witness(test: LitmusTest, profile: ProfileData, key: string, fallback: number[], budget: number): number[] {
  const sim = simulator(test, profile);
  return shortestWitness(sim, key, Math.max(budget, 1000)) ?? fallback;
}

const KINDS: Record<number, RawStepKind> = { [StepKind.CPU]: 'cpu', [StepKind.AGENT]: 'agent', [StepKind.DELIVER]: 'deliver', [StepKind.TIME]: 'time' };

/**
 * Replay `steps` from the initial state, recording each step's description, the model's trace lines, the messages
 * it put on the bus or delivered, and the machine after it. A step the profile does not enable stops the replay
 * (a run of one profile replayed under another).
 */
export function replay(test: LitmusTest, profile: ProfileData, steps: readonly number[]): RawTrace {
  const sim = simulator(test, profile);
  const t = testInfo(sim.program.test);
  sim.reset();
  const out: RawTrace = { test: t.name, profile: profile.name, cpus: t.cpus, agents: t.agents, vcpus: sim.vcpus, steps: [], initial: machineState(sim) };
  const enabled: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    sim.enabled(enabled);
    if (!enabled.includes(s)) {
      out.blockedAt = i;
      break;
    }
    const before = sim.machine.inFlight();
    const kind = KINDS[stepKind(s)];
    const text = sim.describe(s);
    const entry: RawStep = { kind, actor: kind === 'cpu' || kind === 'agent' ? text.split(' ')[0] : '', text, effects: [] };
    if (kind === 'deliver') entry.arrived = wire(before[stepIndex(s)]);
    sim.traced((line) => entry.effects.push(line), () => sim.apply(s));
    const after = sim.machine.inFlight();
    const kept = before.length - (kind === 'deliver' ? 1 : 0);
    entry.sent = after.slice(Math.max(0, kept)).map(wire);
    entry.state = machineState(sim);
    out.steps.push(entry);
  }
  return out;
}
