// Regenerates docs/profiles.md's fingerprint tables, and with --update-expected the non-spec columns of
// litmus/expected.json, from the model (run `npm run build` first). The spec answers are never written here: they
// are what the SDM requires, worked out by hand. Review the git diff of both files before committing: every
// difference from spec must be explained by a deviation the profile lists (the `because` column).
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { parseLitmus } from '../dist/litmus/parse.js';
import { runTest } from '../dist/explore/run.js';
import { PROFILES } from '../dist/sim/profiles.js';

const dir = 'litmus/';
const expected = JSON.parse(readFileSync(dir + 'expected.json', 'utf8'));
const BECAUSE = [
  ['esr-', 'esrNotModelled'], ['level-ipi-sent-as-edge', 'levelIpiSetsTmr'], ['nmi-self-shorthand', 'icrNoValidity'],
  ['lowest-priority', 'lowestPriority'], ['timer-oneshot-to-periodic', 'timerModeSwitchKeepsCount'],
  ['seed-003', 'apicMmioUnmappedInSmm'], ['init-keeps-written-apic-id', 'initResetsApicId'],
  ['seed-004', 'softDisabledIrr'], ['soft-disable-held-irr', 'softDisabledIrr'], ['soft-disable-drops-new-fixed', 'softDisabledAcceptsNew'],
  ['soft-disable-lvt-mask-forced', 'softDisabledLvtNotMasked'], ['soft-reenable-keeps-lvt-masked', 'softDisabledLvtNotMasked'],
  ['init-keeps-latched-smi', 'initDiscardsLatchedSmi'], ['nested-init-in-root', 'initNotBlockedInVmxRoot'], ['init-', 'initNotBlockedInSmm'],
  ['smi-auto-halt-restart', 'noAutoHaltRestart'], ['smi-in-wfs', 'smiNmiNotBlockedInWfs'], ['nmi-blocked-after-rsm', 'rsmUnblocksNmi'],
  ['seed-002', 'nestedNoSipiExit, nestedNoGuestWfs'],
  ['sipi-halted-not-latched', 'sipiHeldUntilTaken'],
  ['eoi-broadcast-suppressed', 'noEoiBroadcastSuppression'],
  ['tpr-holds-until-lowered', 'tprWriteTakesEffectLate'],
  ['ioapic-level-to-edge-clears-remote-irr', 'noEoiBroadcastSuppression (the EOI broadcast clears Remote IRR while the line is high: an interrupt storm, cut at the depth bound)'],
  ['nested-sipi-exit', 'nestedNoSipiExit'],
  ['seed-001', 'avicIncompleteIpiResends'],
  ['apicv-resume-clears-sn-first', 'apicvCheckOnBeforeClearingSn'],
  ['tpr-shadow-threshold-stale', 'tprThresholdStaleAfterExit'],
  ['kut-apic-timer-mode-tmict', 'timerModeSwitchKeepsCount'], ['kut-apic-timer-oneshot-to-periodic', 'timerModeSwitchKeepsCount'],
];
function because(profile, file) {
  if (profile === 'qemu-tcg-7.2' && ['x2apic-not-supported-gp', 'x2apic-msr-in-xapic-gp', 'disabled-to-x2apic-gp', 'extd-without-en-gp', 'kut-apic-disabled-to-', 'kut-apic-xapic-to-invalid', 'kut-apic-x2apic-unsupported'].some((t) => file.startsWith(t))) return 'x2apicAbsentNoGp (no x2APIC under TCG: no #GP either)';
  if (profile === 'qemu-tcg-7.2' && (file.includes('x2apic') || file.startsWith('tpr-shadow-threshold-stale'))) return 'no x2APIC under TCG (CPUID)';
  if (profile === 'qemu-tcg-7.2' && file.includes('deadline')) return 'no TSC-deadline timer under TCG (CPUID)';
  if (profile === 'bochs-2.7' && (file.startsWith('timer-tsc-deadline') || file.startsWith('kut-apic-tsc-deadline'))) return 'tscDeadlineKeptOnFire';
  if (profile === 'bochs-2.7' && file.startsWith('nested-init-in-root')) return 'initDroppedWhenBlocked (the INIT held in VMX root is lost)';
  if (file.startsWith('esr-receive-illegal-vector') && profile === 'qemu-tcg-7.2') return 'esrNotModelled, pprZeroDeliversAny (the vector is accepted, then taken)';
  if (file.startsWith('avic-invalid-target')) return 'avicInvalidTargetIgnored';
  if (file.startsWith('avic-invalid-vector')) return PROFILES.find((p) => p.name === profile)?.quirks.avicInvalidVectorIgnored ? 'avicInvalidVectorIgnored' : 'esrNotModelled (the emulated ICR write delivers vector 5)';
  if (file.startsWith('avic-')) return profile === 'avic-isrunning-first' ? 'avicIsRunningBeforeIrr' : 'avicIncompleteIpiResends';
  if (file.startsWith('seed-001') && profile === 'avic-isrunning-first') return 'avicIsRunningBeforeIrr';
  if (file.startsWith('seed-000')) return profile.includes('patch') ? 'sipiLatchedInSmm' : 'initNotBlockedInSmm (INIT resets P1 out of SMM, so the SIPIs find it in wait-for-SIPI)';
  for (const [prefix, q] of BECAUSE) if (file.startsWith(prefix)) return q;
  return '(unexplained: add the deviation or fix the model)';
}

const diffs = {};
for (const f of readdirSync(dir).filter((x) => x.endsWith('.litmus')).sort()) {
  const r = parseLitmus(readFileSync(dir + f, 'utf8'), f);
  if (!r.ok) throw new Error(`${f} does not parse`);
  for (const p of PROFILES) {
    if (p.name === 'spec') continue;
    const { answer } = runTest(r.test, p, {});
    // Cut short (e.g. an interrupt storm: counts grow without end) the model decides nothing: 'Incomplete'.
    const got = answer.result === 'Unsupported' ? 'Unsupported' : !answer.complete ? 'Incomplete' : answer.ok ? 'Ok' : 'No';
    if (process.argv.includes('--update-expected')) (expected[f] ??= {})[p.name] = got;
    if (got !== expected[f]?.spec) (diffs[p.name] ??= []).push([f.replace('.litmus', ''), got]);
  }
}
if (process.argv.includes('--update-expected')) writeFileSync(dir + 'expected.json', JSON.stringify(expected, null, 2) + '\n');

const doc = readFileSync('docs/profiles.md', 'utf8');
const begin = '<!-- fingerprints:begin -->', end = '<!-- fingerprints:end -->';
const tables = PROFILES.filter((p) => p.name !== 'spec').map((p) => [
  `### ${p.name}`, '', '| test | answer | because |', '|---|---|---|',
  ...(diffs[p.name] ?? []).map(([f, got]) => `| ${f} | ${got} | ${because(p.name, f)} |`), '',
].join('\n')).join('\n');
writeFileSync('docs/profiles.md', doc.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), `${begin}\n${tables}${end}`));
console.log(Object.fromEntries(Object.entries(diffs).map(([k, v]) => [k, v.length])));
