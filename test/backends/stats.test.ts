// The Wilson score interval CONFORMANCE.md gives each outcome's frequency with (src/backends/stats.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { frequencyText, percent, wilson } from '../../src/backends/stats.js';

describe('wilson', () => {
  it('gives the published intervals (Newcombe 1998, Statistics in Medicine 17:857, Table I, method 3)', () => {
    const cases: [number, number, number, number][] = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [k, n, lo, hi] of cases) {
      const [l, h] = wilson(k, n);
      expect(l, `${k}/${n}`).toBeCloseTo(lo, 4);
      expect(h, `${k}/${n}`).toBeCloseTo(hi, 4);
    }
  });

  it('an outcome seen in no run, or in every run, keeps a one-sided bound of z²/(n+z²)', () => {
    const [l0, h0] = wilson(0, 1000);
    expect(l0).toBe(0);
    expect(h0).toBeCloseTo(0.0038268, 6);
    const [l1, h1] = wilson(1000, 1000);
    expect(h1).toBe(1);
    expect(l1).toBeCloseTo(1 - 0.0038268, 6);
  });

  it('holds the observed share, stays in [0, 1], is symmetric in k and n-k, and narrows with more runs', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, f) => {
      const k = Math.round(f * n);
      const [lo, hi] = wilson(k, n);
      const [lo2, hi2] = wilson(n - k, n);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
      expect(lo).toBeLessThanOrEqual(k / n + 1e-12);
      expect(hi).toBeGreaterThanOrEqual(k / n - 1e-12);
      expect(lo).toBeCloseTo(1 - hi2, 9);
      expect(hi).toBeCloseTo(1 - lo2, 9);
      const [lo10, hi10] = wilson(10 * k, 10 * n);
      expect(hi10 - lo10).toBeLessThan(hi - lo);
    }));
  });

  it('refuses counts that are not counts; no runs says nothing', () => {
    expect(() => wilson(3, 2)).toThrow(RangeError);
    expect(() => wilson(-1, 2)).toThrow(RangeError);
    expect(() => wilson(0.5, 2)).toThrow(RangeError);
    expect(wilson(0, 0)).toEqual([0, 1]);
  });
});

describe('frequency text', () => {
  it('prints the count and the interval in percent, with the digits the share needs', () => {
    expect(frequencyText(53, 100)).toBe('53/100 (43–62 %)');
    expect(frequencyText(0, 1000)).toBe('0/1000 (0–0.38 %)');
    expect(frequencyText(1000, 1000)).toBe('1000/1000 (99.62–100 %)');
    expect(percent(0.1)).toBe('10');
    expect(percent(0.043)).toBe('4.3');
    expect(percent(0.05)).toBe('5');
  });
});
