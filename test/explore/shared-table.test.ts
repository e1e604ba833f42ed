// The parallel explorer's shared visited table (src/explore/parallel.ts): its growth moves the entries in place,
// taking each cluster from its start; the wrap-arounds are where that could go wrong.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SharedTable } from '../../src/explore/parallel.js';

const OCCUPIED = 0x80000000 | 0;

/** The linear-probing invariant: every slot from an entry's home to it is occupied. */
function probesHold(t: SharedTable): void {
  const cap = t.capacity;
  for (let i = 0; i < cap; i++) {
    const [lo, hi] = t.slot(i);
    if (hi === 0) continue;
    expect(hi & OCCUPIED).toBe(OCCUPIED);
    for (let j = (lo >>> 0) & (cap - 1); j !== i; j = (j + 1) & (cap - 1)) expect(t.slot(j)[1]).not.toBe(0);
  }
}

describe('shared visited table', () => {
  it('growth keeps every entry under its number and the probing invariant, clusters wrapping included', () => {
    // Hashes crowd a few homes at the ends of the old and new halves, so that clusters wrap around both.
    const hashes = (cap: number) => fc.uniqueArray(
      fc.tuple(fc.constantFrom(0, 1, cap - 2, cap - 1, cap, cap + 1, 2 * cap - 2, 2 * cap - 1), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 0x1fffff }))
        .map(([home, d, high]) => high * 0x100000000 + ((home + d * 4 * cap) >>> 0)),
      { minLength: 1, maxLength: (3 * cap) >> 2 });
    fc.assert(fc.property(fc.integer({ min: 3, max: 7 }).chain((k) => fc.tuple(fc.constant(1 << k), hashes(1 << k), fc.integer({ min: 1, max: 3 }))), ([cap, hs, growths]) => {
      const t = SharedTable.alone(cap << growths, cap);
      hs.forEach((h, id) => expect(t.insert(h, id)).toBe(id));
      for (let g = 0; g < growths; g++) {
        t.grow();
        expect(t.capacity).toBe(cap << (g + 1));
        probesHold(t);
        hs.forEach((h, id) => expect(t.insert(h, 1000 + id)).toBe(-1 - id));
        let n = 0;
        for (let i = 0; i < t.capacity; i++) if (t.slot(i)[1] !== 0) n++;
        expect(n).toBe(hs.length);
      }
    }), { numRuns: 300 });
  });
});
