import { SEED_SCENARIOS } from '../scenarios/seeds.js';

/** Print the seed table; returns the exit code (0 when every modelled scenario gives the architectural answer). */
export function runSeeds(withTrace: boolean, print: (line: string) => void): number {
  const rows: string[][] = [['scenario', 'seed', 'profile', 'answer', 'check', 'ms']];
  let failures = 0;
  for (const s of SEED_SCENARIOS) {
    if (s.pending) {
      rows.push([s.name, s.seed, 'spec', `(${s.pending})`, 'pending', '']);
      continue;
    }
    const t0 = performance.now();
    const r = s.run();
    const ms = (performance.now() - t0).toFixed(2);
    if (!r.ok) failures++;
    rows.push([s.name, s.seed, 'spec', r.answer, r.ok ? 'Ok' : 'No', ms]);
    if (withTrace) {
      print(`# ${s.name}: ${s.question}`);
      for (const line of r.trace) print(`  ${line}`);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const [i, r] of rows.entries()) {
    print(r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
    if (i === 0) print(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  return failures === 0 ? 0 : 1;
}
