// The visited set against a Map, on operation sequences that crowd hashes together: many share a home slot or sit at
// the table's end (so probes wrap), lookups that miss are followed by adds (as the explorer does) or by other
// operations first, and the table grows under them.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VisitedSet } from '../../src/explore/visited.js';

/** A 53-bit hash whose low word is `lo` (its home slot is lo scaled to the table) and high bits `hi`. */
const hash = (lo: number, hi: number): number => hi * 2 ** 32 + lo;

const crowded = fc.tuple(
  // Low words from a few clusters: the table's start, a middle point, and its very end (probes wrap to slot 0).
  fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 2 ** 31 - 32, max: 2 ** 31 + 32 }), fc.integer({ min: 2 ** 32 - 64, max: 2 ** 32 - 1 })),
  fc.integer({ min: 0, max: 2 ** 21 - 1 }),
).map(([lo, hi]) => hash(lo, hi));

type Op = { kind: 'index' | 'add' | 'indexThenAdd' | 'close'; h: number; index: number };
const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('index', 'add', 'indexThenAdd', 'indexThenAdd', 'close'),
  h: crowded,
  index: fc.integer({ min: -1, max: 1000 }),
}) as fc.Arbitrary<Op>;

describe('the visited set', () => {
  it('answers as a Map does on crowded hashes, through growth, with adds after lookups that missed', () => {
    fc.assert(fc.property(fc.array(op, { minLength: 100, maxLength: 1000, size: 'max' }), (ops) => {
      const v = new VisitedSet(16), ref = new Map<number, number>();
      for (const { kind, h, index } of ops) {
        if (kind === 'index') expect(v.index(h)).toBe(ref.get(h));
        else if (kind === 'close') {
          if (ref.has(h)) {
            v.setIndex(h, -1);
            ref.set(h, -1);
          }
        } else {
          if (kind === 'indexThenAdd') expect(v.index(h)).toBe(ref.get(h));
          expect(v.add(h, index)).toBe(!ref.has(h));
          if (!ref.has(h)) ref.set(h, index < 0 ? -1 : index);
        }
        expect(v.size).toBe(ref.size);
      }
      for (const [h, index] of ref) expect(v.index(h)).toBe(index);
    }), { numRuns: 100, endOnFailure: true }); // not shrunk: a thousand operations shrink for minutes
  });

  it('keeps room in the table for the states on the Tarjan stack, which enter it when their component is complete', () => {
    const v = new VisitedSet(16);
    const hs = Array.from({ length: 1000 }, (_, i) => hash(Math.imul(i + 1, 0x9e3779b1) >>> 0, i));
    hs.forEach((h, i) => expect(v.add(h, i)).toBe(true));
    expect(v.bytes() / 8 * 0.8).toBeGreaterThanOrEqual(v.size);
    expect(hs.map((h) => v.index(h))).toEqual(hs.map((_, i) => i));
    for (const h of hs) v.setIndex(h, -1);
    expect(hs.every((h) => v.index(h) === -1 && v.has(h))).toBe(true);
    expect([v.size, v.add(hs[0], 5)]).toEqual([1000, false]);
    expect(() => v.setIndex(hs[1], 3)).toThrow('cannot go back on the Tarjan stack');
  });

  it('adds after lookups that missed, another add between them, and a hash that wraps past the table\'s end', () => {
    const v = new VisitedSet(16);
    const a = hash(2 ** 32 - 1, 1), b = hash(2 ** 32 - 1, 2), c = hash(0, 3);
    expect(v.index(a)).toBeUndefined();
    expect(v.index(b)).toBeUndefined();
    // a and b share the last slot as home: one of them wraps to slot 0, and c (home 0) goes past it.
    expect(v.add(a, -1)).toBe(true);
    expect(v.add(b, 4)).toBe(true);
    expect(v.index(c)).toBeUndefined();
    expect(v.add(c, 5)).toBe(true);
    expect([v.index(a), v.index(b), v.index(c), v.size]).toEqual([-1, 4, 5, 3]);
  });
});
