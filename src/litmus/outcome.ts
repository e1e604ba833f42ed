// An outcome: the values of a test's observables in a final state, its identity, and the one evaluator of the
// final condition over it. The explorer (values read from the model) and the conformance runner (values a real
// machine reported) both judge outcomes here, so the two cannot disagree on what a condition means.

import type { Cond, Observable, Value } from './ast.js';
import { observableName } from './format.js';

export type OutcomeValue = number | bigint | string;

/** Does `v` equal the condition's value? Names compare with names, numbers with numbers. */
export function valueEquals(v: OutcomeValue, want: Value): boolean {
  if (want.kind === 'sym') return typeof v === 'string' && v === want.name;
  if (typeof v === 'string') return false;
  return BigInt(v) === want.value;
}

/** Numbers below 10 in decimal, others in hex; names as they are. */
export function formatValue(v: OutcomeValue): string {
  if (typeof v === 'string') return v;
  const n = BigInt(v);
  return n > 9n ? `0x${n.toString(16)}` : n.toString();
}

/** The condition over an outcome; `value` gives an observable's value (undefined: unknown, never equal). */
export function holds(c: Cond, value: (o: Observable) => OutcomeValue | undefined): boolean {
  switch (c.kind) {
    case 'true': return true;
    case 'false': return false;
    case 'not': return !holds(c.arg, value);
    case 'and': return holds(c.left, value) && holds(c.right, value);
    case 'or': return holds(c.left, value) || holds(c.right, value);
    case 'cmp': {
      const v = value(c.loc);
      const eq = v !== undefined && valueEquals(v, c.value);
      return c.op === '=' ? eq : !eq;
    }
  }
}

/** An outcome's identity: `name=value; name=value` in observable order (the form CONFORMANCE.md shows). */
export function outcomeKey(values: Readonly<Record<string, OutcomeValue>>, names: readonly string[]): string {
  return names.map((n) => `${n}=${formatValue(values[n])}`).join('; ');
}

/** The observables of `observe` and of the final condition, without repeats, in order: an outcome's columns. */
export function outcomeColumns(all: readonly Observable[]): Observable[] {
  const seen = new Set<string>();
  return all.filter((o) => {
    const k = observableName(o);
    return seen.has(k) ? false : (seen.add(k), true);
  });
}
