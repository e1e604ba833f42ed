// How sure a frequency measured on a backend is: the Wilson score interval for a binomial proportion (E. B. Wilson,
// "Probable inference, the law of succession, and statistical inference", JASA 22 (1927)). CONFORMANCE.md gives each
// outcome's share of a test's completed runs with it: unlike the normal approximation p ± z·sqrt(p(1-p)/n), it stays
// inside [0, 1] and does not collapse to a point when an outcome was seen in none or all of the runs (0 of 1000 runs
// still allows up to 0.38 %).

/** z for a two-sided 95 % interval: the 0.975 quantile of the standard normal distribution. */
export const Z95 = 1.959963984540054;

/** The Wilson score interval of `k` successes in `n` trials: [low, high] within [0, 1]. n = 0: [0, 1] (nothing
 *  known). Throws on counts that are not whole, negative, or k > n. */
export function wilson(k: number, n: number, z = Z95): [number, number] {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n) throw new RangeError(`wilson: need whole 0 <= k <= n, got ${k}/${n}`);
  if (n === 0) return [0, 1];
  const p = k / n, z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At k = 0 and k = n the bound is exactly 0 or 1; computed, it can miss by an ulp.
  return [k === 0 ? 0 : Math.max(0, centre - half), k === n ? 1 : Math.min(1, centre + half)];
}

/** A share in percent, with digits that the run count can support: `53`, `4.3`, `0.38`. */
export function percent(x: number): string {
  const v = x * 100;
  if (v === 0 || v === 100) return String(v);
  const digits = v >= 10 && v <= 90 ? 0 : v >= 1 && v <= 99 ? 1 : 2;
  const t = v.toFixed(digits);
  return t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t;
}

/** `k/n (lo-hi %)`: the count and its 95 % Wilson interval. */
export function frequencyText(k: number, n: number): string {
  const [lo, hi] = wilson(k, n);
  return `${k}/${n} (${percent(lo)}–${percent(hi)} %)`;
}
