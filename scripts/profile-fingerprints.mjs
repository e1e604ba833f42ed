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
  ['smm-apic-mmio-reaches-apic', 'apicMmioInSmm (in SMM the xAPIC page is a RAM page all CPUs share)'], ['init-keeps-written-apic-id', 'initResetsApicId'],
  ['seed-004', 'softDisabledIrr'], ['soft-disable-held-irr', 'softDisabledIrr'], ['soft-disable-drops-new-fixed', 'softDisabledAcceptsNew'],
  ['soft-disable-lvt-mask-forced', 'softDisabledLvtNotMasked'], ['soft-reenable-keeps-lvt-masked', 'softDisabledLvtNotMasked'],
  ['init-keeps-latched-smi', 'initDiscardsLatchedSmi'], ['init-keeps-x2apic-mode', 'initResetsApicBase (INIT returns the AP to xAPIC mode: its ID reads 0x1000000)'], ['nested-init-in-root', 'initNotBlockedInVmxRoot'], ['init-', 'initNotBlockedInSmm'],
  ['smi-auto-halt-restart', 'noAutoHaltRestart'], ['smram-save-state-fields', 'noAutoHaltRestart (no auto HALT restart field: RSM resumes after the HLT)'], ['smi-in-wfs', 'smiNmiNotBlockedInWfs'], ['nmi-blocked-after-rsm', 'rsmUnblocksNmi'],
  ['nested-sipi-to-running-l2', 'sipiKeptInGuestMode (the SIPI stays pending in guest mode: HLT falls through)'],
  ['nested-wfs-entry-unsupported', 'nestedNoGuestWfs (the VM entry into wait-for-SIPI fails: exit reason 0x80000021)'],
  ['sipi-to-running-hlt', 'sipiOutsideWfsPending (the SIPI stays pending: HLT falls through)'],
  ['sipi-halted-not-latched', 'sipiHeldUntilTaken'],
  ['eoi-broadcast-suppressed', 'noEoiBroadcastSuppression'],
  ['tpr-holds-until-lowered', 'tprWriteTakesEffectLate'], ['nmi-in-sti-shadow', 'stiWindowLate (after the NMI handler\'s IRET the interrupt still waits one instruction)'],
  ['ioapic-level-to-edge-clears-remote-irr', 'noEoiBroadcastSuppression (the EOI broadcast clears Remote IRR while the line is high: an interrupt storm, a cycle with no way out)'],
  ['nested-sipi-exit', 'nestedNoSipiExit'],
  ['seed-001', 'avicIncompleteIpiHandler = resend (the handler re-sends the IPI: taken twice)'],
  ['apicv-resume-clears-sn-first', 'apicvCheckOnBeforeClearingSn'],
  ['tpr-shadow-threshold-stale', 'tprThresholdStaleAfterExit'],
  ['kut-apic-timer-mode-tmict', 'timerModeSwitchKeepsCount'], ['kut-apic-timer-oneshot-to-periodic', 'timerModeSwitchKeepsCount'],
];
/** QEMU TCG's APIC page, timer and bus (issue 12 item 9): the quirk behind each test a QEMU profile answers apart. */
function qemuBecause(profile, file) {
  const tcg72 = profile.startsWith('qemu-tcg');
  if (file.startsWith('x2apic-gp-cases') && !tcg72) return 'x2apicMsrUnchecked (only the DFR and ID writes fault: 2 of 7)';
  if (file.startsWith('kut-apic-id-xapic')) return 'globalDisable = clear-svr-enable (the written xAPIC ID survives the disable)';
  if (file.startsWith('kut-apic-base-reserved') && tcg72) return 'apicBaseReservedBitsIgnored (no #GP: the reserved bits are dropped)';
  if (file.startsWith('kut-apic-disabled-to-xapic') && tcg72) return 'apicNotReenabled';
  if (file.startsWith('x2apic-via-disabled-to-xapic') && tcg72) return 'x2apicAbsentNoGp, apicNotReenabled (EXTD dropped, then EN cannot be set again)';
  if (file.startsWith('kut-apic-disable-mmio')) return `apicMmioDecodedWhenDisabled, noCmciLvt${tcg72 ? ', apicNotReenabled' : ''} (the page answers while disabled: VERSION 0x50014, the TPR write takes)`;
  if (file.startsWith('kut-apic-x2apic-disable-mmio') || file.startsWith('x2apic-mmio-not-decoded')) return tcg72 ? null : 'apicMmioDecodedWhenDisabled (the page answers in x2APIC mode)';
  if (file.startsWith('kut-apic-base-relocate')) return `apicBaseRelocationIgnored, unassignedReadsZero, noCmciLvt${tcg72 ? ', apicNotReenabled' : ''}`;
  if (file.startsWith('apic-base-relocate-enabled')) return 'apicBaseRelocationIgnored (the old base answers, the new one does not)';
  if (file.startsWith('kut-apic-timer-') || file.startsWith('timer-oneshot-to-periodic') || file.startsWith('timer-mode-switch-')) return 'timerModeSwitchRecomputes';
  if (file.includes('deadline')) return 'no TSC-deadline timer under TCG (CPUID)';
  if (file.startsWith('timer-divide-change')) return 'divideChangeKeepsExpiry (the count fires when the old divisor said)';
  return null;
}

function because(profile, file) {
  if (file.startsWith('decision-d6-reserved-timer-mode')) return `reservedTimerMode = ${PROFILES.find((p) => p.name === profile)?.quirks.reservedTimerMode} (11b is stored)`;
  if (file.startsWith('decision-d2-bsp-flag')) return 'bspFlagWritable';
  const rule = PROFILES.find((p) => p.name === profile)?.quirks.globalDisable;
  if (file.startsWith('decision-d3-global-disable') && rule !== 'power-up') return `globalDisable = ${rule} (TPR kept${rule === 'keep' ? ', SVR too' : '; only SVR[8] cleared'})`;
  if (profile.startsWith('qemu')) {
    const q = qemuBecause(profile, file);
    if (q !== null) return q;
  }
  if (file.startsWith('kut-apic-timer-')) return 'timerModeSwitchKeepsCount';
  if (file.startsWith('kut-ioapic-simultaneous') && profile === 'kvm-pvm-6.18') return 'stiWindowLate (both interrupts wait one more instruction after STI; NOP: the handlers see `after` = 1)';
  if (profile.startsWith('qemu-tcg') && ['x2apic-not-supported-gp', 'x2apic-msr-in-xapic-gp', 'disabled-to-x2apic-gp', 'extd-without-en-gp', 'kut-apic-disabled-to-', 'kut-apic-xapic-to-invalid', 'kut-apic-x2apic-unsupported'].some((t) => file.startsWith(t))) return 'x2apicAbsentNoGp (no x2APIC under TCG: no #GP either)';
  if (profile.startsWith('qemu-tcg') && (file.includes('x2apic') || file.startsWith('tpr-shadow-threshold-stale'))) return 'no x2APIC under TCG (CPUID)';
  if (profile.startsWith('qemu-tcg') && file.includes('deadline')) return 'no TSC-deadline timer under TCG (CPUID)';
  if (profile === 'bochs-2.7' && (file.startsWith('timer-tsc-deadline') || file.startsWith('kut-apic-tsc-deadline'))) return 'tscDeadlineKeptOnFire';
  if (profile === 'bochs-2.7' && ['decision-d3-global-disable-resets', 'disabled-to-x2apic-gp', 'x2apic-via-disabled-to-xapic', 'kut-apic-disabled-to-', 'kut-apic-id-', 'kut-apic-disable-cr8'].some((t) => file.startsWith(t))) return 'apicBaseWritesIgnoredWhenDisabled (the APIC stays globally disabled: no #GP, and its page reads all ones)';
  if (profile === 'bochs-2.7' && (file.startsWith('kut-apic-disable-mmio') || file.startsWith('kut-apic-base-relocate'))) return 'apicBaseWritesIgnoredWhenDisabled, noEoiBroadcastSuppression, versionCountsSixLvts (disabled for good; VERSION 0x50014)';
  if (profile === 'bochs-2.7' && ['x2apic-enable-from-xapic', 'dest-x2apic-cluster', 'kut-ioapic-logical-dest-x2apic'].some((t) => file.startsWith(t))) return 'x2apicLdrNotDerivedOnEntry (the x2APIC LDR stays 0: no logical destination matches)';
  if (profile === 'bochs-2.7' && file.startsWith('x2apic-gp-cases')) return 'x2apicLvtIpiReservedUnchecked (SELF IPI and ICR take their reserved bits: 5 faults)';
  if (profile === 'bochs-2.7' && file.startsWith('kut-ioapic-arbitration')) return 'ioapicArbitrationReadsZero';
  if (profile === 'bochs-2.7' && file.startsWith('timer-divide-change')) return 'divideChangeKeepsExpiry (the count fires when the old divisor said)';
  if (profile === 'bochs-2.7' && file.startsWith('nested-init-in-root')) return 'initDroppedWhenBlocked (the INIT held in VMX root is lost)';
  if (file.startsWith('esr-receive-illegal-vector') && profile.startsWith('qemu-tcg')) return 'esrNotModelled, pprZeroDeliversAny (the vector is accepted, then taken)';
  if (file.startsWith('avic-invalid-target')) return 'avicInvalidTargetIgnored';
  if (file.startsWith('avic-invalid-vector')) return PROFILES.find((p) => p.name === profile)?.quirks.avicInvalidVectorIgnored ? 'avicInvalidVectorIgnored' : 'esrNotModelled (the emulated ICR write delivers vector 5)';
  if ((file.startsWith('avic-') || file.startsWith('seed-001')) && profile === 'avic-isrunning-first') return 'avicIsRunningBeforeIrr (a target that blocks between the IsRunning read and the IRR write is never woken)';
  if ((file.startsWith('avic-') || file.startsWith('seed-001')) && profile === 'avic-wake-stale-irr') return 'avicIncompleteIpiHandler = wake-stale-irr (the woken target finds no interrupt and blocks again)';
  if ((file.startsWith('avic-') || file.startsWith('seed-001')) && profile === 'avic-erratum-1235') return 'avicStaleIsRunning (a target that blocked since the sender\'s last VM entry is read as running: no exit, no wake-up)';
  if (file.startsWith('avic-') || file.startsWith('seed-001')) return 'avicIncompleteIpiHandler = resend (the handler re-sends the IPI: taken twice)';
  const q = PROFILES.find((p) => p.name === profile)?.quirks;
  if (q?.smiDoesNotWakeHalted && /smm|smbase|smi|smram/.test(file)) return 'smiDoesNotWakeHalted (a halted CPU does not take its SMI until something else wakes it)';
  if (q?.smbaseAligned32K && file.startsWith('smbase-')) return 'smbaseAligned32K (RSM rounds the SMBASE field down to 32 KiB)';
  if (file.startsWith('seed-004') && profile === 'kvm-pvm-6.18') return 'stiWindowLate (the vector unblocked by the end of the STI shadow waits one more instruction: CLI comes first)';
  if (file.startsWith('seed-004-tsc-deadline') && profile.startsWith('qemu-tcg')) return 'no TSC-deadline timer under TCG (CPUID): the read of IRR7 finds nothing';
  if (file.startsWith('seed-004')) return 'softDisabledIrr = hidden (the held bit is never presented while software-disabled)';
  if (file.startsWith('seed-003') && q?.smiDoesNotWakeHalted) return 'smiDoesNotWakeHalted (the halted P1 never takes the relocation SMI)';
  if (file.startsWith('seed-003') && q?.smbaseAligned32K) return 'smbaseAligned32K (RSM rounds 0x7ffc1800 down to 0x7ffc0000)';
  if (file.startsWith('seed-003')) return 'apicMmioInSmm (P1 reads APIC ID 0 from the RAM page and takes CPU 0\'s tile)';
  if (profile === 'kvm-2020-11-sipi-latched' && !file.startsWith('seed-000-extra-sipi')) return 'sipiOutsideWfsPending (a SIPI reached a CPU not in wait-for-SIPI: it stays pending and every later HLT falls through, so the CPU never idles)';
  if (profile === 'kvm-2020-nested-v1' && (file.startsWith('nested-sipi-') || file.startsWith('nested-svm-sipi-'))) return 'sipiKeptInGuestMode (the SIPI stays pending in guest mode: L2\'s HLT falls through, for ever in its idle loop)';
  if (q?.nestedNoInitExit && (file.startsWith('seed-002') || file.startsWith('nested-sipi-') || file.startsWith('nested-wfs-entry') || file.startsWith('nested-init-exit') || file.startsWith('nested-init-blocked-in-guest-wfs'))) return 'nestedNoInitExit (the INIT resets L2\'s vCPU as outside VMX: no INIT exit to L1)';
  if (q?.initVmexitLeavesInitPending && (file.startsWith('seed-002') || file.startsWith('nested-init-exit'))) return 'initVmexitLeavesInitPending (the INIT exits again at every VM entry into an active guest: L2 never runs)';
  if (file.startsWith('nested-init-blocked-in-guest-wfs')) return 'nestedNoSipiExit (the SIPI to L2 waiting for it is discarded: no SIPI exit, the held INIT never exits)';
  if (file.startsWith('seed-002')) return 'nestedNoSipiExit, nestedNoGuestWfs (the VM entry into wait-for-SIPI fails; no SIPI exit)';
  if (file.startsWith('seed-000-extra-sipi') && profile === 'kvm-2020-11-sipi-latched') return 'sipiOutsideWfsPending (the pending SIPI ends the HLT)';
  if (file.startsWith('seed-000-extra-sipi')) return 'sipiHeldUntilTaken (a pending SIPI is work for a halted CPU: the HLT ends)';
  if (file.startsWith('seed-000-ovmf-pen')) return 'initNotBlockedInSmm (INIT resets P1 out of SMM: its SMI handler is cut short)';
  if (file.startsWith('seed-000')) return profile.includes('patch') ? 'sipiLatchedInSmm (the SIPIs kept in SMM start P1 after the latched INIT)' : 'initNotBlockedInSmm (INIT resets P1 out of SMM, so the SIPIs find it in wait-for-SIPI)';
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
