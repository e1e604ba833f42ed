// npm start: the seed threads' litmus tests on the model, under `spec` and under the profile of each thread's
// implementation, with the expected answers from litmus/expected.json.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runTest } from '../explore/run.js';
import { loadTest } from './run.js';
import { ProfileSet } from './profiles.js';
import { loadExpectations, meets } from './expected.js';
import { catalogDir } from './package.js';

/** Reserved seed tests that wait for the hardware-assist layers (issue 5). */
const RESERVED: [string, string][] = [];

/**
 * The profiles each seed thread's discussion needs, shown beside `spec` (expected.json has them all): the
 * implementations the thread ran, the patches it proposed (merged or not), the versions before and after, and the
 * hypotheses it raised (docs/profiles.md, one section per seed).
 */
const THREAD_PROFILES: [string, string[]][] = [
  ['seed-000-', ['kvm-2024', 'kvm-2024-sipi-patch', 'qemu-tcg-7.2', 'bochs-2.7']],
  ['seed-001-', ['kvm-2019-avic', 'avic-resend-kick', 'avic-wake-stale-irr', 'avic-isrunning-first', 'avic-erratum-1235']],
  ['seed-002-', ['kvm-2019', 'kvm-2020-nested', 'kvm-2020-nested-v1', 'kvm-2020-11-sipi-latched', 'kvm-2024']],
  ['seed-003-', ['kvm-2015', 'kvm-2015-pre-smi-wake', 'qemu-tcg-2015', 'qemu-tcg-7.2']],
  ['seed-004-', ['kvm-2019', 'kvm-2024', 'kvm-pvm-6.18', 'qemu-tcg-7.2', 'bochs-2.7']],
];

/** Print the seed table; returns the exit code (0 when every answer is the expected one). */
export function runSeeds(withTrace: boolean, print: (line: string) => void): number {
  const dir = catalogDir();
  if (!existsSync(dir)) {
    print(`lapis: no litmus catalog at ${dir}`);
    return 2;
  }
  const expect = loadExpectations(dir);
  const named = new ProfileSet(undefined);
  const files = readdirSync(dir).filter((f) => /^seed-\d{3}-.*\.litmus$/.test(f)).sort();
  const rows: string[][] = [['test', 'profile', 'answer', 'expected', 'states', 'time']];
  let failures = 0;
  for (const f of files) {
    const t = loadTest(join(dir, f));
    if ('errors' in t) {
      for (const e of t.errors) print(e);
      failures++;
      continue;
    }
    const wanted = expect[f] ?? { spec: undefined };
    const shown = ['spec', ...(THREAD_PROFILES.find(([prefix]) => f.startsWith(prefix))?.[1] ?? [])];
    for (const profile of shown) {
      const expected = wanted[profile];
      const r = runTest(t.test, named.get(profile), {});
      const got = r.answer.result;
      if (expected === undefined || !meets(expected, r.answer)) failures++;
      rows.push([t.test.name, profile, got === 'Unsupported' ? got : `${got} (${r.answer.observation.toLowerCase()})`, expected ?? '-', String(r.answer.states), `${r.answer.ms.toFixed(1)} ms`]);
      if (withTrace) print(`# ${f} under ${profile}: ${r.answer.condition}`);
    }
  }
  for (const [name, why] of RESERVED) rows.push([name, '-', `reserved (${why})`, '-', '', '']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const [i, r] of rows.entries()) {
    print(r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
    if (i === 0) print(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  print(failures === 0 ? 'Every seed answer is the expected one.' : `${failures} seed answer(s) differ from litmus/expected.json.`);
  return failures === 0 ? 0 : 1;
}
