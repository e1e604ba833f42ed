// A trace file (`lapis run FILE --json --trace-json`): the answer and a run to each outcome. A lapis-trace/1 run
// (schemas/trace.schema.json) has the machine before its first step and what each step changed, so the machine after
// every step is rebuilt here and the diagrams are as exact as a replay's. A file from before typed records has the
// steps' text only: its diagrams come from the text (classify.ts infers the lane states).

import type { TraceRecord, TraceStepRecord } from '../../src/explore/trace.js';
import type { CpuChange, CpuState, MachineState, WireMsg } from '../../src/explore/state.js';
import type { RawStep, RawStepKind, RawTrace, RunAnswer } from './types.js';

/** A run of a file from before typed records: each step's line and the model's trace lines. */
interface TextTrace {
  outcome?: Record<string, number | string>;
  satisfies?: boolean;
  nonTerminating?: boolean;
  steps: { step: string; effects: string[] }[];
}

interface TraceJson {
  test: string;
  profile: string;
  condition: string;
  ok: boolean;
  observation: RunAnswer['observation'];
  outcomes: { values: Record<string, number | string>; satisfies: boolean; count: number }[];
  witnesses: { positive: number; negative: number };
  complete: boolean;
  cutBy: string | null;
  nonTerminating: boolean;
  states: number;
  finals: number;
  ms: number;
  traces?: (TraceRecord | TextTrace)[];
}

export function isTraceJson(v: unknown): v is TraceJson {
  const t = v as Partial<TraceJson>;
  return typeof v === 'object' && v !== null && typeof t.test === 'string' && Array.isArray(t.outcomes) && typeof t.condition === 'string';
}

/** As `lapis run` formats a value (sim.ts formatValue): above 9 in hex. */
function format(v: number | string): string {
  if (typeof v === 'string') return v;
  return v > 9 ? `0x${v.toString(16)}` : String(v);
}

function keyOf(values: Record<string, number | string>): { key: string; values: Record<string, string> } {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[k] = format(v);
  return { key: Object.entries(out).map(([k, v]) => `${k}=${v}`).join('; '), values: out };
}

export function answerOf(t: TraceJson): RunAnswer {
  return {
    test: t.test, profile: t.profile, condition: t.condition, ok: t.ok, observation: t.observation,
    outcomes: t.outcomes.map((o) => ({ ...keyOf(o.values), satisfies: o.satisfies, count: o.count, witness: [] })),
    witnesses: t.witnesses, complete: t.complete, cutBy: t.cutBy, nonTerminating: t.nonTerminating, nonTerminatingWitness: null,
    states: t.states, finals: t.finals, ms: t.ms,
  };
}

function kindOf(text: string): RawStepKind {
  if (text.startsWith('bus: ')) return 'deliver';
  if (text.startsWith('time ')) return 'time';
  return text.startsWith('D') ? 'agent' : 'cpu';
}

const KINDS: Record<TraceStepRecord['kind'], RawStepKind> = { op: 'cpu', event: 'cpu', hypervisor: 'cpu', delivery: 'deliver', time: 'time' };

function isRecord(t: TraceRecord | TextTrace): t is TraceRecord {
  return (t as TraceRecord).schema === 'lapis-trace/1';
}

/** Latched signals in the order the model lists them (src/explore/state.ts): the SIPI, with its vector, last. */
const LATCH_ORDER = ['init', 'smi', 'nmi', 'extint'];
const latchRank = (x: string): number => (LATCH_ORDER.includes(x) ? LATCH_ORDER.indexOf(x) : LATCH_ORDER.length);

/** The CPU after a step: its state before with the step's changes applied. */
export function applyChange(cpu: CpuState, ch: CpuChange): CpuState {
  const out: Record<string, unknown> = { ...cpu };
  for (const [k, c] of Object.entries(ch)) {
    if ('from' in c) out[k] = c.to;
    else {
      const was = out[k] as (number | string)[];
      const v = [...was.filter((x) => !(c.cleared ?? []).includes(x)), ...(c.set ?? [])];
      out[k] = typeof v[0] === 'number' ? (v as number[]).sort((a, b) => a - b) : (v as string[]).sort((a, b) => latchRank(a) - latchRank(b));
    }
  }
  return out as unknown as CpuState;
}

const sameMsg = (a: WireMsg, b: WireMsg): boolean => a.source === b.source && a.target === b.target && a.mode === b.mode && a.vector === b.vector;

/** The machine after each step of a typed run, rebuilt from its initial state and the steps' changes. */
function statesOf(t: TraceRecord): MachineState[] {
  let m = t.initial;
  return t.steps.map((s) => {
    const inFlight = [...m.inFlight];
    if (s.message) {
      const at = inFlight.findIndex((w) => sameMsg(w, s.message!));
      if (at >= 0) inFlight.splice(at, 1);
    }
    inFlight.push(...s.sent);
    m = {
      time: s.time, inFlight, observables: { ...m.observables, ...(s.observed ?? {}) },
      cpus: m.cpus.map((c, i) => (s.changed[`P${i}`] ? applyChange(c, s.changed[`P${i}`]) : c)),
    };
    return m;
  });
}

function stepOf(s: TraceStepRecord, state: MachineState): RawStep {
  const kind = s.kind === 'op' && s.agent !== undefined ? 'agent' : KINDS[s.kind];
  // The hypervisor's work is drawn from its text (`P0 kvm: ...`), as a replay's is.
  const actor = kind === 'cpu' || kind === 'agent' ? s.text.split(' ')[0] : '';
  const r: RawStep = { kind, actor, text: s.text, effects: s.effects, sent: s.sent, state };
  if (s.message) r.arrived = s.message;
  return r;
}

function textSteps(tr: TextTrace): RawStep[] {
  return tr.steps.map((s) => {
    const kind = kindOf(s.step);
    return { kind, actor: kind === 'cpu' || kind === 'agent' ? s.step.split(' ')[0] : '', text: s.step, effects: s.effects };
  });
}

/** The traces of a trace file, by outcome key. */
export function tracesOf(t: TraceJson): Map<string, RawTrace> {
  const out = new Map<string, RawTrace>();
  for (const tr of t.traces ?? []) {
    if (!tr.outcome) continue;
    const key = keyOf(tr.outcome as Record<string, number | string>).key;
    if (isRecord(tr)) {
      const states = statesOf(tr);
      const agents = [...new Set(tr.steps.filter((s) => s.agent !== undefined).map((s) => s.lane))].sort();
      out.set(key, { test: t.test, profile: t.profile, cpus: tr.initial.cpus.length, agents, vcpus: tr.initial.cpus.some((c) => c.running !== null), initial: tr.initial, steps: tr.steps.map((s, i) => stepOf(s, states[i])) });
      continue;
    }
    const steps = textSteps(tr);
    const all = tr.steps.flatMap((s) => [s.step, ...s.effects]).join('\n');
    const cpus = Math.max(0, ...[...all.matchAll(/\bP(\d+)\b/g)].map((m) => Number(m[1]) + 1), ...Object.keys(tr.outcome).map((k) => (/^P(\d+)/.exec(k) ? Number(/^P(\d+)/.exec(k)![1]) + 1 : 0)));
    const agents = [...new Set(steps.filter((s) => s.kind === 'agent').map((s) => s.actor))].sort();
    out.set(key, { test: t.test, profile: t.profile, cpus, agents, vcpus: /kvm:|vcpu |IsRunning/.test(all), steps });
  }
  return out;
}
