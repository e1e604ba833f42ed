// What the explorer's memory bound counts of Tarjan's stack and the visited set's index of the states on it: the
// bytes they really hold, and, before a push or an add, exactly what it will allocate.
import { describe, expect, it } from 'vitest';
import { TarjanStack } from '../../src/explore/tarjan.js';
import { VisitedSet } from '../../src/explore/visited.js';
import { prng } from '../../src/explore/explore.js';

describe("Tarjan's stack", () => {
  it('keeps each entry with its flags across growth, and counts its bytes and its growth exactly', () => {
    const t = new TarjanStack(), rand = prng(11), hashes: number[] = [];
    let grew = 0;
    for (let i = 0; i < 5000; i++) {
      const before = t.bytes(), growth = t.growthBytes();
      const h = Math.floor(rand() * 2 ** 53);
      expect(t.push(h)).toBe(i);
      hashes.push(h);
      if (growth > 0) grew++;
      // A growth allocates the new arrays, which the stack then holds: exactly what growthBytes said.
      expect(t.bytes()).toBe(growth > 0 ? growth : before);
      t.setFlags(i, i % 3 === 0, i % 5 === 0);
    }
    expect(grew).toBeGreaterThan(3);
    expect(t.bytes()).toBeGreaterThanOrEqual(9 * t.length);
    expect(hashes.filter((h, i) => t.hashAt(i) !== h)).toEqual([]);
    expect(hashes.filter((_, i) => t.exitAt(i) !== (i % 3 === 0) || t.selfAt(i) !== (i % 5 === 0))).toEqual([]);
    t.truncate(10);
    expect(t.length).toBe(10);
    expect(t.push(1)).toBe(10);
    expect([t.exitAt(10), t.selfAt(10)]).toEqual([false, false]);
  });
});

describe('the visited set, as the memory bound counts it', () => {
  it('says before each add what it allocates: the table growth and the Tarjan index growth, each exactly', () => {
    const v = new VisitedSet(), rand = prng(12);
    let tableGrew = 0, indexGrew = 0;
    for (let i = 0; i < 20_000; i++) {
      const onStack = i % 3 === 0, growth = v.growthBytes(onStack), table = v.bytes(), index = v.stackBytes();
      // Every third state stays on the Tarjan stack (its index grows); the rest complete at once.
      v.add(Math.floor(rand() * 2 ** 53), onStack ? i : -1);
      const t = v.bytes() !== table ? v.bytes() : 0, x = v.stackBytes() !== index ? v.stackBytes() : 0;
      if (t > 0) tableGrew++;
      if (x > 0) indexGrew++;
      expect(t + x).toBe(growth);
    }
    expect([tableGrew, indexGrew].every((n) => n > 3)).toBe(true);
    // The index holds its entries at a load of at most 1/2: 12 bytes a slot, 24 or more an entry.
    expect(v.stackBytes()).toBeGreaterThanOrEqual(24 * Math.ceil(20_000 / 3));
  });
});
