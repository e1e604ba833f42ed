// The answer to a litmus test's question, as the contract's "The answer" section defines it: Ok/No, the
// observation (Never / Sometimes / Always), witnesses, and the herd-style text and JSON renderings.

import type { LitmusTest } from '../litmus/ast.js';
import { printFinal } from '../litmus/print.js';
import { formatValue, type OutcomeValue } from '../sim/sim.js';
import type { ExploreResult, Outcome } from './explore.js';

/**
 * Ok / No: the condition holds or not (No also from a cut-short search that found a counterexample); Incomplete:
 * the search was cut short before it decided; Unsupported: the profile's implementation cannot run the test.
 */
export type Result = 'Ok' | 'No' | 'Incomplete' | 'Unsupported';

export interface Answer {
  test: string;
  profile: string;
  condition: string;
  result: Result;
  /** Why the test is Unsupported (only then). */
  reason?: string;
  ok: boolean;
  observation: 'Never' | 'Sometimes' | 'Always';
  outcomes: { values: Record<string, OutcomeValue>; satisfies: boolean; count: number }[];
  witnesses: { positive: number; negative: number };
  complete: boolean;
  cutBy: ExploreResult['cutBy'];
  nonTerminating: boolean;
  states: number;
  finals: number;
  ms: number;
}

/**
 * `exists` is Ok when some final state satisfies the condition (a witness is proof even from a partial run);
 * `~exists` when none does and exploration was complete; `forall` when all do, exploration was complete and
 * no run loops forever without reaching a final state (docs/litmus.md, "The answer").
 */
export function answer(test: LitmusTest, profile: string, r: ExploreResult): Answer {
  const positive = r.outcomes.filter((o) => o.satisfies).reduce((n, o) => n + o.count, 0);
  const negative = r.outcomes.filter((o) => !o.satisfies).reduce((n, o) => n + o.count, 0);
  const q = test.condition.quantifier;
  const ok = q === 'exists' ? positive > 0 : q === '~exists' ? r.complete && positive === 0 : r.complete && negative === 0 && !r.nonTerminating;
  const observation = positive === 0 ? 'Never' : negative === 0 ? 'Always' : 'Sometimes';
  // A counterexample decides No even when the search was cut short.
  const refuted = r.complete || (q === 'forall' ? negative > 0 : q === '~exists' && positive > 0);
  return {
    test: test.name, profile, condition: printFinal(test.condition), result: ok ? 'Ok' : refuted ? 'No' : 'Incomplete', ok, observation,
    outcomes: sortOutcomes(r.outcomes).map((o) => ({ values: o.values, satisfies: o.satisfies, count: o.count })),
    witnesses: { positive, negative }, complete: r.complete, cutBy: r.cutBy, nonTerminating: r.nonTerminating,
    states: r.states, finals: r.finals, ms: Math.round(r.ms * 100) / 100,
  };
}

/** The answer for a test the profile cannot run (UnsupportedError): no states, no outcomes. */
export function unsupportedAnswer(test: LitmusTest, profile: string, reason: string): Answer {
  return {
    test: test.name, profile, condition: printFinal(test.condition), result: 'Unsupported', reason, ok: false, observation: 'Never',
    outcomes: [], witnesses: { positive: 0, negative: 0 }, complete: false, cutBy: null, nonTerminating: false, states: 0, finals: 0, ms: 0,
  };
}

export function sortOutcomes(o: Outcome[]): Outcome[] {
  return [...o].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The herd-style text rendering. */
export function formatAnswer(a: Answer): string[] {
  const kind = a.condition.startsWith('forall') ? 'Required' : 'Allowed';
  if (a.result === 'Unsupported') return [`Test ${a.test} ${kind} (profile ${a.profile})`, `Unsupported: ${a.reason ?? ''}`, `Condition ${a.condition}`];
  const lines = [`Test ${a.test} ${kind} (profile ${a.profile})`, `States ${a.finals}`];
  for (const o of a.outcomes) {
    lines.push(`${o.satisfies ? ':>' : '  '}${Object.entries(o.values).map(([k, v]) => `${k}=${formatValue(v)};`).join(' ')}`);
  }
  lines.push(a.ok ? 'Ok' : 'No');
  lines.push('Witnesses', `Positive: ${a.witnesses.positive} Negative: ${a.witnesses.negative}`);
  lines.push(`Condition ${a.condition}`);
  if (!a.complete) lines.push(`Incomplete: exploration cut short by ${a.cutBy}; complete: false`);
  if (a.nonTerminating) lines.push('Non-terminating: some run loops forever without reaching a final state');
  lines.push(`Observation ${a.test} ${a.observation} ${a.witnesses.positive} ${a.witnesses.negative}`);
  lines.push(`Time ${a.test} ${(a.ms / 1000).toFixed(3)}s, ${a.states} states explored`);
  return lines;
}
