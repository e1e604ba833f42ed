// Conditions beyond the contract's `LOC = V` (docs/litmus.md, "What is new in v2"): comparisons of two locations,
// orderings, arithmetic, chained ranges; judged by the one evaluator (src/litmus/outcome.ts).

import { describe, expect, it } from 'vitest';
import type { Observable } from '../../src/litmus/ast.js';
import { observableName, printCond } from '../../src/litmus/format.js';
import { holds } from '../../src/litmus/outcome.js';
import { allObservables } from '../../src/litmus/validate.js';
import { errorsOf, mustParse, stripPos } from './helpers.js';

const test = (cond: string): ReturnType<typeof mustParse> => mustParse(`lapis T\nP0 {\n  nop\n}\nP1 {\n  nop\n}\nexists (${cond})\n`);

/** The condition over the given observable values (by canonical name; absent: unknown). */
function judge(cond: string, values: Record<string, number | bigint | string>): boolean {
  return holds(test(cond).condition.cond, (o: Observable) => values[observableName(o)]);
}

describe('comparisons beyond LOC = V', () => {
  it('compares two locations', () => {
    expect(judge('P0:r3 = P0:r0', { 'P0:r3': 5n, 'P0:r0': 5n })).toBe(true);
    expect(judge('P0:r3 = P0:r0', { 'P0:r3': 5n, 'P0:r0': 6n })).toBe(false);
    expect(judge('P0:r3 != P0:r0', { 'P0:r3': 5n, 'P0:r0': 6n })).toBe(true);
    expect(judge('x = y', { x: 0n, y: 0n })).toBe(true);
  });

  it('orders unsigned 64-bit values, and arithmetic wraps as in expressions', () => {
    expect(judge('P0:r1 - P0:r0 >= 0x10000', { 'P0:r1': 0x10010n, 'P0:r0': 0x10n })).toBe(true);
    expect(judge('P0:r1 - P0:r0 >= 0x10000', { 'P0:r1': 0x10n, 'P0:r0': 0x11n })).toBe(true); // wraps to 2^64 - 1
    expect(judge('P0:r1 < P0:r0', { 'P0:r1': 1n, 'P0:r0': (1n << 64n) - 1n })).toBe(true);
    expect(judge('(P0:r0 & 0xff) <= 0x15', { 'P0:r0': 0x1014n })).toBe(true);
    expect(judge('P0:r0 >> 24 = 3', { 'P0:r0': 0x03000000n })).toBe(true);
    expect(judge('P0:r0 << 64 = 0', { 'P0:r0': 7n })).toBe(true);
    expect(judge('P0:r0 ^ P0:r1 | 1 = 1', { 'P0:r0': 6n, 'P0:r1': 6n })).toBe(true);
  });

  it('reads a chain as a range: lo <= T <= hi', () => {
    const t = test('0x10 <= P0:r0 & 0xff <= 0x15');
    expect(t.condition.cond.kind).toBe('and');
    for (const [v, want] of [[0x0fn, false], [0x10n, true], [0x15n, true], [0x16n, false], [0x110n, true]] as const) {
      expect(judge('0x10 <= P0:r0 & 0xff <= 0x15', { 'P0:r0': v })).toBe(want);
    }
  });

  it('an unknown value (a `?` of a real machine) equals nothing and orders with nothing', () => {
    expect(judge('P0:r0 = P0:r1', { 'P0:r0': 1n })).toBe(false);
    expect(judge('P0:r0 != P0:r1', { 'P0:r0': 1n })).toBe(true);
    expect(judge('P0:r0 < P0:r1', { 'P0:r0': 1n })).toBe(false);
    expect(judge('P0:r0 >= P0:r1', { 'P0:r0': 1n })).toBe(false);
  });

  it('compares two states of one kind, and a state with its names', () => {
    expect(judge('P0.activity = P1.activity', { 'P0.activity': 'halted', 'P1.activity': 'halted' })).toBe(true);
    expect(judge('P0.activity != P1.activity', { 'P0.activity': 'halted', 'P1.activity': 'active' })).toBe(true);
    expect(judge('P0.activity = halted', { 'P0.activity': 'halted' })).toBe(true);
  });

  it('keeps the contract form as it was: LOC = V is a `cmp` node', () => {
    const c = test('P0:r0 = 5 /\\ P1.activity = halted').condition.cond;
    expect(stripPos(c)).toEqual({
      kind: 'and',
      left: { kind: 'cmp', loc: { kind: 'reg', cpu: 0, reg: 'r0' }, op: '=', value: { kind: 'num', value: 5n } },
      right: { kind: 'cmp', loc: { kind: 'activity', cpu: 1 }, op: '=', value: { kind: 'sym', name: 'halted' } },
    });
  });

  it('tells a parenthesised term from a parenthesised condition', () => {
    expect(test('(P0:r0 + 1) = 2').condition.cond.kind).toBe('rel');
    expect(test('(P0:r0 = 1)').condition.cond.kind).toBe('cmp');
    expect(test('((P0:r0 = 1) \\/ ~(x = 2))').condition.cond.kind).toBe('or');
    expect(test('(P0.count(0x30) + P1.count(0x30)) = 2').condition.cond.kind).toBe('rel');
  });

  it('makes every observable of a term an outcome column', () => {
    const names = allObservables(test('P0:r1 - P0:r0 >= P1.count(0x30) /\\ x < y')).map(observableName);
    expect(names).toEqual(['P0:r1', 'P0:r0', 'P1.count(0x30)', 'x', 'y']);
  });

  it('prints a condition that parses back to the same tree', () => {
    for (const c of ['P0:r3 = P0:r0', '(P0:r0 & 0xff) - 1 < 0x16', '0x10 <= P0:r0 <= 0x15', 'P0.activity != P1.activity', '5 = P0:r0']) {
      const once = test(c).condition.cond;
      expect(stripPos(test(printCond(once)).condition.cond)).toEqual(stripPos(once));
    }
  });
});

describe('condition errors', () => {
  it('a state compares whole, with = or !=, to its names or a state of its kind', () => {
    expect(errorsOf('lapis T\nP0 {\n  nop\n}\nexists (P0.activity < halted)\n')).toContain('`P0.activity` is a state: compare it with `=` or `!=`, not `<`');
    expect(errorsOf('lapis T\nP0 {\n  nop\n}\nexists (P0.activity = P0.apic.mode)\n')).toContain('it cannot equal `P0.apic.mode`');
    expect(errorsOf('lapis T\nP0 {\n  nop\n}\nexists (P0.activity + 1 = 2)\n')).toContain('`P0.activity` is a state, not a number');
    expect(errorsOf('lapis T\nP0 {\n  nop\n}\nexists (P0:r0 + 1 = halted)\n')).toContain('`halted` is a state name');
    expect(errorsOf('lapis T\nP0 {\n  nop\n}\nexists (P0.activity = 3)\n')).toContain('found the number 3');
  });

  it('asks for a comparison after a term', () => {
    expect(errorsOf('lapis T\nP0 {\n  nop\n}\nexists (P0:r0 + 1)\n')).toContain('expected `=`, `!=`, `<`, `>`, `<=` or `>=`');
  });
});
