// An outcome: the values of a test's observables in a final state, its identity, and the one evaluator of the
// final condition over it. The explorer (values read from the model) and the conformance runner (values a real
// machine reported) both judge outcomes here, so the two cannot disagree on what a condition means.

import type { BinOp, Cond, Observable, RelOp, Term, Value } from './ast.js';
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
    case 'rel':
      return relate(termValue(c.left, value), c.op, termValue(c.right, value));
  }
}

const MASK64 = (1n << 64n) - 1n;

/** `a op b` on 64-bit registers (docs/litmus.md, "Values"): `+ - <<` wrap modulo 2^64, `>>` is logical, a shift by
 *  64 or more gives 0. Programs (the simulator) and conditions compute alike. */
export function arith(op: BinOp, a: bigint, b: bigint): bigint {
  switch (op) {
    case '+': return (a + b) & MASK64;
    case '-': return (a - b) & MASK64;
    case '&': return a & b;
    case '|': return a | b;
    case '^': return a ^ b;
    case '<<': return b >= 64n ? 0n : (a << b) & MASK64;
    case '>>': return b >= 64n ? 0n : a >> b;
  }
}

/** A term's value: numbers as 64-bit unsigned bigints (arithmetic wraps, `>>` is logical, as in expressions), a
 *  state name as its string; undefined when an observable is unknown or arithmetic meets a name. */
export function termValue(t: Term, value: (o: Observable) => OutcomeValue | undefined): bigint | string | undefined {
  switch (t.kind) {
    case 'num': return t.value;
    case 'sym': return t.name;
    case 'obs': {
      const v = value(t.loc);
      return v === undefined || typeof v === 'string' ? v : BigInt(v);
    }
    case 'bin': {
      const a = termValue(t.left, value), b = termValue(t.right, value);
      return typeof a === 'bigint' && typeof b === 'bigint' ? arith(t.op, a, b) : undefined;
    }
  }
}

/** `=` holds for equal numbers or equal names, `!=` otherwise (an unknown value equals nothing, as in `LOC = V`);
 *  the orderings hold only between two known numbers, unsigned. */
function relate(a: bigint | string | undefined, op: RelOp, b: bigint | string | undefined): boolean {
  const known = a !== undefined && b !== undefined;
  if (op === '=' || op === '!=') return (known && a === b) === (op === '=');
  if (typeof a !== 'bigint' || typeof b !== 'bigint') return false;
  switch (op) {
    case '<': return a < b;
    case '>': return a > b;
    case '<=': return a <= b;
    case '>=': return a >= b;
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
