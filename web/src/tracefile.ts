// A trace file (`lapis run FILE --json --trace-json`): the answer and the steps of a run to each outcome as text.
// It has no machine state, so its diagrams come from the text alone (classify.ts infers the lane states).

import type { RawStep, RawStepKind, RawTrace, RunAnswer } from './types.js';

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
  traces?: { outcome?: Record<string, number | string>; satisfies?: boolean; nonTerminating?: boolean; steps: { step: string; effects: string[] }[] }[];
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

/** The text traces of a trace file, by outcome key. */
export function tracesOf(t: TraceJson): Map<string, RawTrace> {
  const out = new Map<string, RawTrace>();
  for (const tr of t.traces ?? []) {
    if (!tr.outcome) continue;
    const steps: RawStep[] = tr.steps.map((s) => {
      const kind = kindOf(s.step);
      return { kind, actor: kind === 'cpu' || kind === 'agent' ? s.step.split(' ')[0] : '', text: s.step, effects: s.effects };
    });
    const all = tr.steps.flatMap((s) => [s.step, ...s.effects]).join('\n');
    const cpus = Math.max(0, ...[...all.matchAll(/\bP(\d+)\b/g)].map((m) => Number(m[1]) + 1), ...Object.keys(tr.outcome).map((k) => (/^P(\d+)/.exec(k) ? Number(/^P(\d+)/.exec(k)![1]) + 1 : 0)));
    const agents = [...new Set(steps.filter((s) => s.kind === 'agent').map((s) => s.actor))].sort();
    out.set(keyOf(tr.outcome).key, { test: t.test, profile: t.profile, cpus, agents, vcpus: /kvm:|vcpu |IsRunning/.test(all), steps });
  }
  return out;
}
