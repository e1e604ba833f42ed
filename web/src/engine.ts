// The web app's one door into the model: parse, explore, find the shortest run to an outcome, and replay a run
// step by step reading the machine after each step. Only this file and profiles.ts import from src/ (this one runs in
// the worker, handed each profile as data so that it bundles no profile table); the rest of web/src sees the plain
// data of types.ts. When the library's runLitmus lands, `run` becomes a call to it.

import { parseLitmus } from '../../src/litmus/parse.js';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { Simulator, StepKind, formatValue, stepIndex, stepKind } from '../../src/sim/sim.js';
import type { Profile } from '../../src/sim/profile.js';
import { explore } from '../../src/explore/explore.js';
import { answer, sortOutcomes } from '../../src/explore/answer.js';
import { shortestWitness } from '../../src/explore/witness.js';
import { machineState, wire } from '../../src/explore/state.js';
import type { Parsed, ProfileData, RawStep, RawStepKind, RawTrace, RunAnswer, TestInfo } from './types.js';

export class EngineError extends Error {}

export function parse(text: string): Parsed {
  const r = parseLitmus(text, 'test.litmus');
  if (!r.ok) return { ok: false, errors: r.errors.map((d) => ({ line: d.line, col: d.col, message: d.message })) };
  return { ok: true, info: info(r.test) };
}

function info(t: LitmusTest): TestInfo {
  const agents = t.blocks.flatMap((b) => (b.kind === 'agent' ? [`D${b.agent}`] : []));
  const st = t.settings;
  return {
    name: t.name, description: t.description, cpus: st.cpus, agents: [...new Set(agents)],
    vcpus: st.accel === 'avic' || st.accel === 'apicv' || st.accel === 'tpr-shadow', quantifier: t.condition.quantifier,
  };
}

function load(text: string): LitmusTest {
  const r = parseLitmus(text, 'test.litmus');
  if (!r.ok) throw new EngineError(r.errors.map((d) => `${d.line}:${d.col}: ${d.message}`).join('\n'));
  return r.test;
}

function simulator(text: string, profile: ProfileData): Simulator {
  try {
    const p: Profile = { ...profile, deviations: [] };
    return new Simulator(load(text), p);
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw new EngineError(e instanceof Error ? e.message : String(e));
  }
}

export interface RunOptions {
  maxStates?: number;
  timeoutMs?: number;
  progress?: (states: number) => void;
}

/** Explore every interleaving and answer the test's question (`lapis run --json`). */
export function run(text: string, profile: ProfileData, opts: RunOptions = {}): RunAnswer {
  const sim = simulator(text, profile);
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
export function witness(text: string, profile: ProfileData, key: string, fallback: number[], budget: number): number[] {
  const sim = simulator(text, profile);
  return shortestWitness(sim, key, Math.max(budget, 1000)) ?? fallback;
}

const KINDS: Record<number, RawStepKind> = { [StepKind.CPU]: 'cpu', [StepKind.AGENT]: 'agent', [StepKind.DELIVER]: 'deliver', [StepKind.TIME]: 'time' };

/**
 * Replay `steps` from the initial state, recording each step's description, the model's trace lines, the messages
 * it put on the bus or delivered, and the machine after it. A step the profile does not enable stops the replay
 * (a run of one profile replayed under another).
 */
export function replay(text: string, profile: ProfileData, steps: readonly number[]): RawTrace {
  const sim = simulator(text, profile);
  const t = info(sim.program.test);
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
