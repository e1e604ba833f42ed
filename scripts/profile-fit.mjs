// How much of what each backend did its own profile allows: for every outcome in the 1,000-run suite reports
// (conformance/results/*.json), whether the backend's profile (the pairs below) has it among the outcomes of a
// complete exploration. Prints runs and distinct outcomes allowed per backend; with --misfits, the tests and counts
// it does not allow. Run `npm run build` first. A measure for profile work (docs/profiles.md, "How close"), not a
// test: timing outcomes the model leaves out by design (a host that runs a vCPU late, CONFORMANCE.md F50, F55) stay.
import { readFileSync, readdirSync } from 'node:fs';
import { parseLitmus } from '../dist/litmus/parse.js';
import { runTest } from '../dist/explore/run.js';
import { findProfile } from '../dist/sim/profiles.js';

const RESULTS = 'conformance/results/', LITMUS = 'litmus/';
const PROFILE_OF = { 'qemu-tcg': 'qemu-tcg-7.2', 'qemu10-tcg': 'qemu10-tcg', bochs: 'bochs-2.7', 'bochs-svm': 'bochs-2.7', 'qemu-kvm': 'kvm-pvm-6.18', 'qemu-kvm-split': 'kvm-pvm-6.18' };
const allowed = new Map();
const totals = {};
for (const file of readdirSync(RESULTS).filter((f) => f.endsWith('.json')).sort()) {
  const report = JSON.parse(readFileSync(RESULTS + file, 'utf8'));
  const backend = report.backend.name, profile = PROFILE_OF[backend];
  if (!profile) continue;
  const t = (totals[backend] ??= { profile, runs: 0, fit: 0, outcomes: 0, fitOutcomes: 0, misfits: [] });
  for (const test of report.tests) {
    if (!test.outcomes?.length) continue;
    const key = `${profile} ${test.file}`;
    if (!allowed.has(key)) {
      const parsed = parseLitmus(readFileSync(LITMUS + test.file, 'utf8'), test.file);
      const run = parsed.ok ? runTest(parsed.test, findProfile(profile), {}) : null;
      allowed.set(key, run?.result?.complete ? new Set(run.result.outcomes.map((o) => o.key)) : null);
    }
    const set = allowed.get(key);
    if (!set) continue;
    for (const o of test.outcomes) {
      t.runs += o.count;
      t.outcomes++;
      if (set.has(o.key)) {
        t.fit += o.count;
        t.fitOutcomes++;
      } else t.misfits.push(`${test.file}: ${o.count} x ${o.key}`);
    }
  }
}
for (const [backend, t] of Object.entries(totals)) {
  console.log(`${backend} (${t.profile}): ${t.fit} of ${t.runs} runs (${((100 * t.fit) / t.runs).toFixed(1)}%), ${t.fitOutcomes} of ${t.outcomes} outcomes`);
  if (process.argv.includes('--misfits')) for (const m of t.misfits) console.log(`  ${m}`);
}
