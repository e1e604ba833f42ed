// Profiles: the SDM model (`spec`) and named real implementations, each the architecture plus a list of
// deviations (quirks, src/arch/quirks.ts) with the evidence for each. docs/profiles-research.md has the longer
// notes; a deviation is listed here only when the model reproduces it.

import { DEFAULT_PROFILE, profile, type Deviation, type Profile } from './profile.js';

export { DEFAULT_PROFILE, type Deviation, type Profile };

const KVM = 'torvalds/linux arch/x86/kvm';

const kvmCommon: Deviation[] = [
  { quirk: 'levelIpiSetsTmr', behaviour: 'a level-triggered fixed IPI sets TMR, so its EOI is broadcast to the I/O APIC', evidence: `${KVM}/lapic.c __apic_accept_irq: kvm_lapic_set_vector(vector, apic->regs + APIC_TMR) when trig_mode` },
  { quirk: 'icrNoValidity', behaviour: 'the ICR is not validated: self-NMI/INIT/SMI are delivered, level 0 IPIs are sent', evidence: `${KVM}/lapic.c kvm_apic_send_ipi / kvm_irq_delivery_to_apic (no Table 11-3 check)` },
  { quirk: 'esrNotModelled', behaviour: 'ESR always reads 0; vectors 0-15 are accepted and delivered', evidence: `${KVM}/lapic.c __apic_read (APIC_ESR not latched), __apic_accept_irq (no vector check)` },
  { quirk: 'lowestPriority', value: 'vector-hash', behaviour: 'lowest priority picks the (vector mod n)-th candidate, ignoring TPR', evidence: `${KVM}/lapic.c kvm_vector_to_index (vector_hashing, default on)` },
  { quirk: 'tprThresholdStaleAfterExit', behaviour: 'after a TPR-below-threshold exit the threshold is rewritten only if an interrupt became deliverable: a stale threshold above VTPR fails the next VM entry where that is checked (x2APIC without APICv)', evidence: `${KVM}/vmx/vmx.c handle_tpr_below_threshold calls apic_update_ppr instead of raising KVM_REQ_EVENT since eb90f3417a0c ("KVM: vmx: speed up TPR below threshold vmexits", 2016); LKML June 2026 "KVM: VMX: Raise KVM_REQ_EVENT on TPR below threshold exit" (Carlos López): "KVM: entry failed, hardware error 0x7"` },
  { quirk: 'timerModeSwitchKeepsCount', behaviour: 'one-shot <-> periodic keeps the count; only TSC-deadline switches disarm', evidence: `${KVM}/lapic.c apic_update_lvtt (dedf9c5e2169)` },  { quirk: 'globalDisable', value: 'keep', behaviour: 'clearing IA32_APIC_BASE.EN resets no register; enabling the APIC again sets the xAPIC ID back to the vCPU\'s', evidence: `${KVM}/lapic.c kvm_lapic_set_base: on an EN change only static_branch_inc(&apic_hw_disabled) (disable) or kvm_apic_set_xapic_id(apic, vcpu->vcpu_id) (enable); the register page is reset only by kvm_lapic_reset. Observed: decision-d3-global-disable-resets reads TPR 0x40 and SVR 0x1ff on qemu-kvm (CONFORMANCE.md F14). Not established for kernels before 2016 (kvm-unit-tests: "old KVMs do not reset xAPIC ID"), so kvm-2015 keeps D-3` },
  { quirk: 'bspFlagWritable', behaviour: 'a WRMSR to IA32_APIC_BASE stores bit 8 (BSP) as written', evidence: `${KVM}/x86.c kvm_set_apic_base checks the reserved bits (0x2ff, EXTD without x2APIC) and the transitions, then kvm_lapic_set_base keeps the value whole (vcpu->arch.apic_base = value). Observed: decision-d2-bsp-flag-write-ignored reads 0xfee00800 on qemu-kvm (CONFORMANCE.md F15)` },
];

/** kvm_apic_has_interrupt before bb34e690e934 (July 2019) returned -1 for a software-disabled APIC (seed 004). */
const softDisabledHidden: Deviation = {
  quirk: 'softDisabledIrr', value: 'hidden',
  behaviour: 'a software-disabled APIC presents nothing from IRR: a held bit stays stale',
  evidence: `${KVM}/lapic.c kvm_apic_has_interrupt: if (!apic_enabled(apic)) return -1; fixed by bb34e690e934 "KVM: LAPIC: Fix pending interrupt in IRR blocked by software disable LAPIC"`,
};
/** After bb34e690e934: the held bit is taken as itself. */
const softDisabledNormal: Deviation = {
  quirk: 'softDisabledIrr', value: 'normal',
  behaviour: 'a software-disabled APIC presents a held IRR bit as the interrupt itself, not as a spurious one',
  evidence: `${KVM}/lapic.c bb34e690e934 (July 2019): "skip soft disable APIC checking when clearing IRR and set ISR"; observed on qemu-kvm here (CONFORMANCE.md F24: count(0x40) = 1)`,
};
/** Nested VMX before v5.11 (bf0cd88ce363): no wait-for-SIPI guest state, no SIPI VM exit (seed 002). */
const nestedBefore511: Deviation[] = [
  { quirk: 'nestedNoSipiExit', behaviour: 'a SIPI to an L2 vCPU is discarded: L1 never gets a SIPI VM exit', evidence: `seed 002 (LKML, Nov 2020, "KVM: x86: emulate wait-for-SIPI and SIPI-VMExit"); ${KVM}/lapic.c kvm_apic_accept_events cleared KVM_APIC_SIPI while INIT was latched (vmx_apic_init_signal_blocked returned nested.vmxon); fixed by bf0cd88ce363 and 1c96dcceaeb3 (v5.11)` },
  { quirk: 'nestedNoGuestWfs', behaviour: 'no wait-for-SIPI guest activity state: a VM entry into it fails the guest-state checks', evidence: `${KVM}/vmx/nested.c nested_check_guest_non_reg_state accepted only GUEST_ACTIVITY_ACTIVE and GUEST_ACTIVITY_HLT (EXIT_REASON_INVALID_STATE to L1); VMX_MISC_ACTIVITY_WAIT_SIPI advertised only from bf0cd88ce363 (v5.11)` },
];
/** KVM before 4b9852f4f389 (v5.4): no INIT latching in VMX operation, no INIT VM exit. */
const initBefore54: Deviation[] = [
  { quirk: 'initNotBlockedInVmxRoot', behaviour: 'INIT is latched only in SMM; in VMX root it resets at once', evidence: `${KVM}/lapic.c kvm_apic_accept_events before 4b9852f4f389 "KVM: x86: Fix INIT signal handling in various CPU states" (Liran Alon, v5.4): if (is_smm(vcpu)) only` },
  { quirk: 'nestedNoInitExit', behaviour: 'an INIT reaching an L2 vCPU resets it as outside VMX: L1 gets no INIT VM exit', evidence: `4b9852f4f389 (v5.4) introduced the INIT VM exit (its kvm-unit-test: "If there is an INIT signal pending when CPU is in VMX non-root mode, it result in VMExit with (reason == 3)"); before it kvm_apic_accept_events reset the vCPU (M: read from the commit, not from the older code)` },
];

/** With the in-kernel I/O APIC (kernel-irqchip=on), no directed EOI. */
const kvmNoDirectedEoi: Deviation = {
  quirk: 'noEoiBroadcastSuppression',
  behaviour: 'with the in-kernel I/O APIC the version register has no bit 24, so SVR bit 12 is not kept and every level EOI is broadcast',
  evidence: `${KVM}/lapic.c kvm_apic_set_version: APIC_LVR_DIRECTED_EOI only "if (guest has X2APIC && !ioapic_in_kernel(vcpu->kvm))" ("KVM emulates 82093AA datasheet (with in-kernel IOAPIC implementation) which doesn't have EOI register"); observed on qemu-kvm (CONFORMANCE.md F37)`,
};

/** KVM's AVIC incomplete-IPI handler of early 2019 (seed 001). */
const avicResend: Deviation = {
  quirk: 'avicIncompleteIpiHandler', value: 'resend',
  behaviour: 'the AVIC_INCOMPLETE_IPI (target not running) handler re-sends the IPI through the emulated ICR instead of only waking the target',
  evidence: 'bb218fbcfaaa "svm: Fix AVIC incomplete IPI emulation" (Suravee Suthikulpanit, early 2019): avic_incomplete_ipi_interception calls kvm_lapic_reg_write(APIC_ICR); seed 001 (Oren Twaig, March 2019); reverted by 4a58038b9e42 ("the change coud potentially cause an extra IPI ... the issue mentioned in the commit bb218fbcfaaa was misdiagnosed", Reported-by: Oren Twaig)',
};

/** Under AVIC (only there: KVM's emulated ICR delivers vectors 0-15, esrNotModelled). */
const avicInvalidVector: Deviation = {
  quirk: 'avicInvalidVectorIgnored',
  behaviour: 'an AVIC IPI with a vector below 16 is dropped: no delivery, no ESR error',
  evidence: `${KVM}/svm/avic.c avic_incomplete_ipi_interception: AVIC_IPI_FAILURE_INVALID_IPI_VECTOR "Invalid IPI with vector < 16": break (Maxim Levitsky, Sept 2023; before it, "Unknown IPI interception"; Zen 2 drops the IPI without an exit)`,
};

/** KVM in RHEL 7 of October 2015 (seed 003). */
const kvm2015: Deviation[] = [
    { quirk: 'apicMmioInSmm', value: 'ram', behaviour: 'in SMM the xAPIC page is a RAM page all vCPUs in SMM share (zero at first): APIC ID reads return 0, writes never reach the APIC', evidence: 'seed 003 (edk2-devel, Laszlo Ersek, 21 Oct 2015): "the APIC_ID read (at mmio 0xfee00020) *within* SMM fails with EPT_VIOLATION, without apic_read actually happening", GetApicId() returns 0x00 on KVM, and disabling EPT does not help; the fix, f0d648bdf0a5 "KVM: x86: map/unmap private slots in __x86_set_memory_region" (Paolo Bonzini, 12 Oct 2015: the APIC-access private memslot was missing from the SMM address space), is named by no message of the thread (M: the mechanism matches all three observations; the RAM page is the model of "a never-populated page", M)' },
    { quirk: 'initResetsApicId', behaviour: 'INIT resets a software-written xAPIC ID', evidence: 'seed 003: d28bc9dd25ce ("KVM: x86: INIT ... APIC ID") not yet backported to RHEL 7' },
    softDisabledHidden,
    kvmNoDirectedEoi,
    ...initBefore54,
    ...nestedBefore511,
    ...kvmCommon.filter((d) => d.quirk !== 'lowestPriority' && d.quirk !== 'tprThresholdStaleAfterExit' && d.quirk !== 'globalDisable'),
];

/**
 * QEMU's APIC page and timer, the same code in 7.2.22 and 10.0.2 (issue 12 item 9; docs/kvm-unit-tests.md "Why each
 * check fails on QEMU"). `file` is where 7.2 keeps x86_cpu_apic_realize (10: target/i386/cpu-apic.c).
 */
function qemuApicPage(file = 'target/i386/cpu-sysemu.c', memory = 'softmmu/memory.c'): Deviation[] {
  return [
    { quirk: 'noCmciLvt', behaviour: 'the APIC has 6 LVT entries, no CMCI (offset 0x2F0 is not a register): the version register reads 0x50014', evidence: 'qemu include/hw/i386/apic_internal.h APIC_LVT_NB 6 (timer, thermal, performance, LINT0, LINT1, error); hw/intc/apic.c version register s->version | ((APIC_LVT_NB - 1) << 16). Observed: VERSION = 0x50014 in every kut-apic-* run on qemu-tcg and qemu10-tcg (conformance/results/qemu-tcg*.json, qemu10-tcg*.json) and in kvm-unit-tests apic_disable' },
    { quirk: 'unassignedReadsZero', behaviour: 'a read of a physical address nothing decodes returns 0 (D-31: all ones)', evidence: `qemu ${memory} unassigned_mem_read: return 0. Observed: kut-apic-base-relocate, the read at the new base (nothing there, as QEMU never moves the page) gives 0 (25/25 runs on qemu-tcg, 92/92 on qemu10-tcg)` },
    { quirk: 'apicMmioDecodedWhenDisabled', behaviour: 'the xAPIC page decodes whatever IA32_APIC_BASE says: globally disabled and in x2APIC mode, MMIO reads and writes reach the registers', evidence: `qemu hw/intc/apic.c apic_mem_read/apic_mem_write (no EN or EXTD test: they look only at the offset); ${file} x86_cpu_apic_realize (one region for every CPU, never unmapped). Observed: kvm-unit-tests apic_disable "*0xfee00030: 50014", "*0xfee00080: f0" on QEMU 10 (docs/kvm-unit-tests.md); kut-apic-disable-mmio (VERSION and a TPR write through the page while disabled: 998/998 judged runs on qemu-tcg, 1000/1000 on qemu10-tcg) and kut-apic-x2apic-disable-mmio (1000/1000 on qemu10-tcg), conformance/results/qemu-tcg-slow.json, qemu10-tcg.json` },
    { quirk: 'apicBaseRelocationIgnored', behaviour: 'a new base written to IA32_APIC_BASE is kept (RDMSR returns it) but the registers stay at 0xFEE00000', evidence: `qemu ${file} x86_cpu_apic_realize (apic_mmio_map_once: mapped at the initial base, never moved); hw/intc/apic.c apic_set_base (stores s->apicbase only). Observed: kvm-unit-tests "apicbase: relocate apic" fails on QEMU 10; kut-apic-base-relocate reads the registers at 0xFEE00000 after the move (25/25 runs on qemu-tcg, 92/92 on qemu10-tcg; the new base reads 0, QEMU's value for an address nothing decodes, D-31)` },
    { quirk: 'globalDisable', value: 'clear-svr-enable', behaviour: 'clearing IA32_APIC_BASE.EN clears only SVR[8]: TPR, LVTs and the rest keep their values (D-3: the power-up state)', evidence: 'qemu hw/intc/apic.c apic_set_base (7.2 and 10): "if (!(val & MSR_IA32_APICBASE_ENABLE)) { ... s->spurious_vec &= ~APIC_SV_ENABLE; }", nothing else reset. Observed: decision-d3-global-disable-resets reads TPR 0x40 and SVR 0xff after disable and enable in every run on qemu-tcg and qemu10-tcg (CONFORMANCE.md F14)' },
    { quirk: 'reservedTimerMode', value: 'periodic', behaviour: 'an LVT timer write of the reserved mode 11b is stored (bit 18 too, with no TSC-deadline mode) and the timer runs periodic: only bit 17 decides', evidence: 'qemu hw/intc/apic.c apic_mem_write (7.2) / apic_register_write (10) case 0x32 ... 0x37: s->lvt[n] = val, no mask; hw/intc/apic_common.c apic_next_timer tests APIC_LVT_TIMER_PERIODIC only. Observed: decision-d6-reserved-timer-mode reads 0x60041 in every run on qemu-tcg and qemu10-tcg (CONFORMANCE.md F11)' },
    { quirk: 'timerModeSwitchRecomputes', behaviour: 'a one-shot <-> periodic switch keeps TMICT and recomputes the count from the last TMICT write under the new mode: an expired one-shot count starts again as periodic; a periodic count past its first period reads 0 as one-shot and never fires', evidence: 'qemu hw/intc/apic.c apic_mem_write/apic_register_write LVT timer case (apic_timer_update); hw/intc/apic_common.c apic_next_timer, apic_get_current_count (elapsed time since initial_count_load_time, under the current mode). Observed: kvm-unit-tests "TMCCT should stay at zero" fails on QEMU 10; kut-apic-timer-expired-to-periodic (TIMER_CCR back at TMICT after the switch), kut-apic-timer-periodic-to-oneshot (0 at once), kut-apic-timer-mode-tmict (TMICT kept) on qemu-tcg and qemu10-tcg (CONFORMANCE.md K4)' },
    { quirk: 'divideChangeKeepsExpiry', behaviour: 'a TIMER_DCR write changes the count\'s rate but not the armed QEMU timer: the count fires when the old divisor said, and TIMER_CCR reads the time since the TMICT write at the new divisor', evidence: 'qemu hw/intc/apic.c apic_mem_write (7.2) / apic_register_write (10) case 0x3e: divide_conf and count_shift are set without apic_timer_update; apic_get_current_count uses the new count_shift. Observed: timer-divide-change-midcount fires at tick 10, not 16 (r1 = 1), in 1,000 of 1,000 runs on qemu-tcg and on qemu10-tcg (CONFORMANCE.md F47). Not modelled: at that expiry apic_timer re-arms a one-shot count from initial_count_load_time at the new rate when that is later (apic_next_timer), so QEMU fires it a second time; the runner reads counts when the test ends, before that second expiry' },
  ];
}

/** QEMU TCG rules of 7.2.22 that 10.0.2 has too (file names as in 7.2). */
const qemuTcgShared: Deviation[] = [
    { quirk: 'initNotBlockedInSmm', behaviour: 'INIT is taken at once in SMM and resets the CPU out of SMM', evidence: 'qemu accel/tcg/cpu-exec.c cpu_handle_interrupt: CPU_INTERRUPT_INIT is not masked by HF_SMM_MASK; do_cpu_init' },
    { quirk: 'sipiHeldUntilTaken', behaviour: 'a SIPI outside wait-for-SIPI waits until the CPU next takes events: an INIT pending then acts first and the SIPI starts the CPU; otherwise it is dropped, ending a HLT', evidence: 'qemu target/i386/helper.c do_cpu_init keeps CPU_INTERRUPT_SIPI; accel/tcg/cpu-exec.c cpu_handle_interrupt takes CPU_INTERRUPT_INIT first; target/i386/cpu.c x86_cpu_pending_interrupt returns CPU_INTERRUPT_SIPI (has_work). Observed: CONFORMANCE.md F2 (sipi-halted-not-latched, 62-74 of 100 runs). In SMM the SIPI is eaten at the next event check (df32e5c568c9 "i386/cpu: Prevent delivering SIPI during SMM in TCG mode", Oct 2025, in the installed stable 7.2.22: do_cpu_sipi returns while HF_SMM_MASK)' },
    { quirk: 'noEoiBroadcastSuppression', behaviour: 'no EOI-broadcast suppression: the version register has bit 24 clear and SVR bit 12 is dropped, so every level-triggered EOI reaches the I/O APIC', evidence: 'qemu hw/intc/apic.c apic_mem_read case 0x03 (s->version 0x14 | LVT count), apic_mem_write case 0x0f (spurious_vec = val & 0x1ff). Observed on QEMU 7.2 and 10 TCG: eoi-broadcast-suppressed (Remote IRR cleared), ioapic-level-to-edge-clears-remote-irr (interrupt storm)' },
    { quirk: 'pprZeroDeliversAny', behaviour: 'with PPR = 0 the highest IRR vector is delivered whatever its class: an illegal vector 0-15 it accepted is taken through its IDT gate', evidence: 'qemu hw/intc/apic.c apic_irq_pending: "if (ppr && (irrv & 0xf0) <= (ppr & 0xf0)) return -1" (no class test when PPR is 0). Observed: esr-receive-illegal-vector on QEMU 7.2 and 10 TCG, count(5) = 1' },
    { quirk: 'initDiscardsLatchedSmi', behaviour: 'INIT drops a pending SMI (only a pending SIPI survives)', evidence: 'qemu target/i386/helper.c do_cpu_init: keeps only CPU_INTERRUPT_SIPI of interrupt_request' },
    { quirk: 'smiNmiNotBlockedInWfs', behaviour: 'SMI and NMI are taken in wait-for-SIPI', evidence: 'qemu target/i386/tcg/sysemu/seg_helper.c x86_cpu_exec_interrupt: no wait_for_sipi check for SMI/NMI' },
    { quirk: 'noAutoHaltRestart', behaviour: 'RSM never returns to HLT', evidence: 'qemu target/i386/tcg/sysemu/smm_helper.c do_smm_enter: no auto HALT restart field' },
    { quirk: 'softDisabledIrr', value: 'hidden', behaviour: 'held IRR bits are not presented while software-disabled', evidence: 'qemu hw/intc/apic.c apic_irq_pending: if (!(s->spurious_vec & APIC_SV_ENABLE)) return 0' },
    { quirk: 'softDisabledAcceptsNew', behaviour: 'new fixed interrupts are accepted while software-disabled', evidence: 'qemu hw/intc/apic.c apic_set_irq: no SVR test' },
    { quirk: 'softDisabledLvtNotMasked', behaviour: 'clearing SVR[8] does not mask the LVT entries', evidence: 'qemu hw/intc/apic.c apic_mem_write case 0x0f' },
    { quirk: 'esrNotModelled', behaviour: 'no send/receive illegal vector errors; vectors 0-15 are delivered', evidence: 'qemu hw/intc/apic.c apic_set_irq (no vector test), apic_mem_write case 0x28' },
    { quirk: 'icrNoValidity', behaviour: 'no ICR validation: self or all-including-self with NMI, SMI or INIT is delivered', evidence: 'qemu hw/intc/apic.c apic_deliver' },
    { quirk: 'levelIpiSetsTmr', behaviour: 'a level-triggered fixed IPI sets TMR', evidence: 'qemu hw/intc/apic.c apic_deliver passes trigger_mode to apic_set_irq' },
    { quirk: 'lowestPriority', value: 'lowest-index', behaviour: 'lowest priority goes to the first APIC of the destination set', evidence: 'qemu hw/intc/apic.c apic_bus_deliver: "XXX: search for focus processor, arbitration"' },
];

/** QEMU TCG 7.2 (Debian bookworm): QEMU's own APIC and TCG CPUs. */
const qemuTcg: Deviation[] = [
    ...qemuTcgShared,
    { quirk: 'tprWriteTakesEffectLate', behaviour: 'an interrupt that lowering the TPR unblocks is taken after the next instruction, not at once', evidence: 'qemu accel/tcg: interrupts are recognised between translation blocks; hw/intc/apic.c apic_mem_write case 0x08 (TPR) only calls apic_update_irq, which raises CPU_INTERRUPT_HARD for the next block. Observed: CONFORMANCE.md F1 (tpr-holds-until-lowered, 100/100 on QEMU 7.2 TCG; QEMU 10 takes it at once)' },
    { quirk: 'x2apicAbsentNoGp', behaviour: 'without x2APIC (as its TCG has none) IA32_APIC_BASE.EXTD is dropped and x2APIC MSRs read 0 and ignore writes, all without #GP', evidence: 'qemu hw/intc/apic.c apic_set_base keeps only the base, BSP and EN bits; target/i386/tcg/sysemu/misc_helper.c helper_rdmsr/helper_wrmsr default cases (val = 0; "XXX: exception?"). Observed: CONFORMANCE.md F12 (x2apic-not-supported-gp, 100/100)' },
    ...qemuApicPage(),
    { quirk: 'apicNotReenabled', behaviour: 'once IA32_APIC_BASE.EN is cleared a write cannot set it again (no #GP; the base field is kept) and CPUID.1:EDX[9] stays clear', evidence: 'qemu hw/intc/apic.c apic_set_base: "if disabled, cannot be enabled again" (EN kept from s->apicbase; cpu_clear_apic_feature); SDM Vol 3A 11.4.3 allows it only on the 3-wire APIC bus (P6). Observed: kut-apic-disabled-to-xapic and kut-apic-disable-mmio (EN still 0 after the write, 999/999 and 998/998 judged runs on qemu-tcg, conformance/results/qemu-tcg-slow.json); kvm-unit-tests apic.flat aborts at "APIC should be fully enabled by startup code" (docs/kvm-unit-tests.md). Not modelled: QEMU delivers to such an APIC once SVR[8] is set again (apic_bus_deliver tests no EN); the model keeps it disabled' },
    { quirk: 'apicBaseReservedBitsIgnored', behaviour: 'WRMSR IA32_APIC_BASE raises no #GP: reserved bits (bit 0, bit 52) and bits 63:32 are dropped, the MSR keeps its base, BSP and EN', evidence: 'qemu 7.2.22 hw/intc/apic.c apic_set_base: "s->apicbase = (val & 0xfffff000) | (s->apicbase & (MSR_IA32_APICBASE_BSP | MSR_IA32_APICBASE_ENABLE))", no check; target/i386/tcg/sysemu/misc_helper.c helper_wrmsr calls cpu_set_apic_base, which returns nothing. Observed: kut-apic-base-reserved reads 0xfee00900 and no fault in every run on qemu-tcg (CONFORMANCE.md K3); QEMU 10 faults (apic_set_base_check)' },
];

/**
 * QEMU 10.0.2 TCG: qemu-tcg-7.2's deviations, checked against the 10.0.2 source (docs/kvm-unit-tests.md "A qemu10-tcg
 * profile"), less three: the interrupt a TPR write unblocks is taken at once (CONFORMANCE.md F1 is QEMU 7.2 only),
 * x2APIC exists (TCG_EXT_FEATURES has CPUID_EXT_X2APIC; apic_set_base_check faults EXTD without it), and apic_set_base
 * enables a disabled APIC again ("Transition from disabled mode to xAPIC").
 */
// Its settings leave x2APIC as the test configures it (QEMU 10 offers it, and hides it with -x2apic: a setting of true
// would override a test's `x2apic = false`); TCG has no TSC-deadline timer.
const qemu10Tcg: Deviation[] = [
  ...qemuTcgShared.map((d) => ({ ...d, evidence: `${d.evidence.replaceAll('tcg/sysemu/', 'tcg/system/')} (the same code in 10.0.2)` })),
  ...qemuApicPage('target/i386/cpu-apic.c', 'system/memory.c'),
  { quirk: 'x2apicMsrUnchecked', behaviour: 'x2APIC MSRs are the register file without the SDM\'s checks: WRMSR faults only for ID, LDR, DFR, ICR_HI and registers QEMU does not have; reserved bits, upper halves and non-zero EOI values are taken; writes to read-only registers are dropped; RDMSR of EOI reads 0', evidence: 'qemu 10.0.2 hw/intc/apic.c apic_msr_write/apic_msr_read -> apic_register_write (return -1 only for 0x02, 0x0d, 0x0e, 0x31 in x2APIC mode and unknown indices; 0x03, 0x09, 0x0a, 0x10-0x28, 0x39: break; 0x08 s->tpr = val; 0x0b apic_eoi whatever the value; 0x30 and 0x3f deliver unchecked) and apic_register_read (0x0b: val = 0; 0x0e and unknown: -1). Observed: x2apic-gp-cases 2 faults of 7 in every run on qemu10-tcg (CONFORMANCE.md F56)' },
];

export const PROFILES: readonly Profile[] = [
  DEFAULT_PROFILE,
  profile('kvm-2015', 'KVM in RHEL 7 (3.10.0-3xx) with QEMU, October 2015: seed 003, SMBASE relocation stuck with 2 VCPUs.', kvm2015),
  profile('kvm-2015-pre-smi-wake', 'kvm-2015 without "KVM: x86: fix SMI to halted VCPU" (73917739334c), which seed 003\'s kernel had backported: a halted AP never takes the relocation SMI.', [
    { quirk: 'smiDoesNotWakeHalted', behaviour: 'an SMI to a halted vCPU leaves it halted (not runnable) until something else wakes it', evidence: '73917739334c "KVM: x86: fix SMI to halted VCPU" (Paolo Bonzini, 2015, Cc stable): "An SMI to a halted VCPU must wake it up, hence a VCPU with a pending SMI must be considered runnable. Fixes: 64d6067057d9"; seed 003: "with Paolo\'s following patches backported ... KVM: x86: fix SMI to halted VCPU"' },
    ...kvm2015,
  ]),
  profile('kvm-2019', 'KVM of July 2019 (before bb34e690e934): seed 004, stale IRR after software disable.', [
    softDisabledHidden,
    ...initBefore54,
    ...nestedBefore511,
    kvmNoDirectedEoi,
    ...kvmCommon,
  ]),
  profile('kvm-2020-nested', 'KVM nested VMX of September 2020, before wait-for-SIPI and the SIPI VM exit were emulated: seed 002.', [
    ...nestedBefore511,
    softDisabledNormal,
    kvmNoDirectedEoi,
    ...kvmCommon,
  ]),
  profile('kvm-2020-nested-v1', 'KVM nested VMX with v1 of seed 002\'s patch (Yadong Qi, 22 Sep 2020): wait-for-SIPI guest state and SIPI exits, and the kvm_apic_accept_events hunk Paolo Bonzini rejected.', [
    { quirk: 'sipiKeptInGuestMode', behaviour: 'a SIPI that reaches a vCPU in guest mode without a VM exit stays in pending_events while it is in guest mode (HLT falls through meanwhile), dropped once it leaves', evidence: `20200922052343.84388-1-yadong.qi@intel.com (v1): ${KVM}/lapic.c kvm_apic_accept_events clears KVM_APIC_SIPI only "&& !is_guest_mode(vcpu)"; Paolo Bonzini (5 Nov 2020): "SIPI must be cleared unconditionally on SVM; the "!is_guest_mode" test in that case is incorrect"; kvm_vcpu_has_events counts pending_events (kvm_apic_has_events), so a halting L2 vCPU does not block (M: the effect is read from the code, not observed)` },
    softDisabledNormal,
    kvmNoDirectedEoi,
    ...kvmCommon,
  ]),
  profile('kvm-2020-11-sipi-latched', 'kvm/queue between 1c96dcceaeb3 (5 Nov 2020) and f57ad63a835c (3 Dec 2020): SIPIs latched outside wait-for-SIPI; never in a release.', [
    { quirk: 'sipiOutsideWfsPending', behaviour: 'a SIPI to a vCPU not in wait-for-SIPI stays in pending_events until an INIT arrives and erases it; meanwhile HLT falls through', evidence: `f57ad63a835c "KVM: x86: ignore SIPIs that are received while not in wait-for-sipi state" (Maxim Levitsky, 3 Dec 2020): "we accidently started latching SIPIs that are received while the cpu is not waiting for them. This causes vCPUs to never enter a halted state"; 1c96dcceaeb3 read pending_events with smp_load_acquire instead of xchg; ${KVM}/lapic.c __apic_accept_irq APIC_DM_INIT sets pending_events = 1 << KVM_APIC_INIT (M: the next INIT erases the SIPI, it is not replayed)` },
    softDisabledNormal,
    kvmNoDirectedEoi,
    ...kvmCommon,
  ]),
  profile('kvm-2019-avic', 'KVM SVM with AVIC, March 2019: the incomplete-IPI exit handler of seed 001.', [
    avicResend,
    { quirk: 'avicInvalidTargetIgnored', behaviour: 'an AVIC_INCOMPLETE_IPI for an invalid target is ignored: a logical IPI whose mask names one vCPU-less ID is lost for every destination', evidence: `${KVM}/svm.c avic_incomplete_ipi_interception (18f40c53e10f, 2016): case AVIC_IPI_FAILURE_INVALID_TARGET: WARN_ONCE ... break; fixed by "KVM: SVM: Process ICR on AVIC IPI delivery failure due to invalid target" (Sean Christopherson, Jan 2023)` },
    avicInvalidVector,
    softDisabledHidden,
    ...initBefore54,
    ...nestedBefore511,
    kvmNoDirectedEoi,
    ...kvmCommon,
  ]),
  profile('avic-isrunning-first', 'Hypothetical AVIC hardware that reads IsRunning before setting the IRR bit: the ordering seed 001 asks about.', [
    { quirk: 'avicIsRunningBeforeIrr', behaviour: 'the IPI reads the target\'s IsRunning, then sets its IRR: a target that blocks in between is never woken', evidence: 'seed 001 (Oren Twaig): "if it doesn\'t [set IRR before reading IsRunning] ... the receiving cpu will never see the IRR bit"; APM Vol 2 15.29.3.2 orders it the other way' },
  ]),
  profile('avic-resend-kick', 'KVM of early 2019 with the change Suravee Suthikulpanit proposed in seed 001: the re-sending handler, and svm_deliver_avic_intr kicking (KVM_REQ_EVENT) instead of waking. Not merged.', [
    { ...avicResend, value: 'resend-kick', behaviour: 'the incomplete-IPI handler re-sends the IPI, and svm_deliver_avic_intr kicks the target with KVM_REQ_EVENT instead of waking it: the vector is still in IRR twice', evidence: 'seed 001, Suravee Suthikulpanit (11 Mar 2019): svm_deliver_avic_intr "should also have been changed from kvm_vcpu_wake_up() to kvm_vcpu_kick()"; Oren Twaig: "Not sure if this would address the problem ... vcpu B will get two interrupts instead of one" (the model: it does not address it)' },
  ]),
  profile('avic-wake-stale-irr', 'Hypothetical KVM AVIC handler of seed 001\'s missed wake-up: wake-only, with KVM\'s irr_pending hint stale, so the woken target blocks again until another interrupt.', [
    { quirk: 'avicIncompleteIpiHandler', value: 'wake-stale-irr', behaviour: 'the incomplete-IPI handler wakes the target, but its irr_pending is false: it finds no interrupt and blocks again until another event arrives through KVM', evidence: 'seed 001, Suravee Suthikulpanit: "prior to this patch, vcpu B was never get scheduled to run unless there are other interrupts (e.g. timer)", "The issue was caused by the apic->irr_pending not set to true when trying to get vcpu B scheduled"; the revert 4a58038b9e42 calls that diagnosis mistaken, and irr_pending can be false under AVIC only while AVIC is inhibited (66fa226c131f, 2022): hypothetical (M)' },
  ]),
  profile('avic-erratum-1235', 'AMD Family 17h (Zen1/Zen2) with AVIC IPI virtualization and KVM before 8de4a1c8164e: an IsRunning bit cleared recently is read as set.', [
    { quirk: 'avicStaleIsRunning', behaviour: 'the AVIC IPI reads a target\'s IsRunning as it was at the sender\'s last VM entry: a target that blocked since is taken for running, so there is no exit and no wake-up', evidence: '8de4a1c8164e "KVM: SVM: Disable (x2)AVIC IPI virtualization if CPU has erratum #1235" (Maxim Levitsky, 2025): "hardware doesn\'t reliably detect changes to the \'IsRunning\' bit during ICR write emulation, and might fail to VM-Exit on the sending vCPU, if IsRunning was recently cleared ... can lead to hung vCPUs"; workaround: enable_ipiv off on family 0x17, never setting IsRunning (d921665e01ba). H for the effect, M for "since the sender\'s last VM entry" as the model of "recently"' },
  ]),
  profile('pi-check-before-sn', 'A hypervisor that, putting a vCPU back on a CPU, checks ON and syncs PIR before clearing SN.', [
    { quirk: 'apicvCheckOnBeforeClearingSn', behaviour: 'a posted interrupt that lands between the ON check and the SN clear is neither synced nor notified', evidence: 'torvalds/linux arch/x86/kvm/vmx/posted_intr.c vmx_vcpu_pi_load: "Clear SN before reading the bitmap. The VT-d firmware writes the bitmap and reads SN atomically (5.2.3 in the spec)"' },
  ]),
  profile('kvm-2024', 'KVM of April 2024: seed 000, SIPI during SMM. INIT, SIPI and SMM as the architecture; the lapic.c habits of every KVM.', [...kvmCommon, softDisabledNormal, kvmNoDirectedEoi, avicInvalidVector]),
  profile('kvm-pvm-6.18', 'This host\'s KVM (Linux 6.18 with the kvm_pvm module; the 32-bit guest runs in its instruction emulator): kvm-2024, with interrupt windows recognised one instruction late. Observed, mechanism not established.', [
    { quirk: 'stiWindowLate', behaviour: 'an interrupt that the end of an STI shadow unblocks is taken only after one more instruction: with CLI one instruction after STI+NOP it stays in IRR', evidence: 'CONFORMANCE.md F33: seed-004 (STI; NOP; CLI) left 0xEC in IRR in 49 of 50 runs on qemu-kvm here, took it in 1; F24: with a HLT idle loop and IF = 1 the held vector is taken as itself (so not softDisabledIrr = hidden). PVM (arch/x86/kvm/pvm/pvm.c handle_non_pvm_mode, the emulation batch) checks KVM_REQ_EVENT but, unlike VMX handle_invalid_guest_state, no interrupt window (L: four copies of the module read, none is this build). The 1 run in 50 is kvm-2024\'s outcome, which this profile does not allow' },
    { quirk: 'tprWriteTakesEffectLate', behaviour: 'an interrupt that lowering the TPR unblocks is taken after the next instruction', evidence: 'CONFORMANCE.md F1: tpr-holds-until-lowered, 50/50 runs on qemu-kvm and 30/30 on qemu-kvm-split here, as QEMU 7.2 TCG (the same emulator path as stiWindowLate, L)' },
    ...kvmCommon, softDisabledNormal, kvmNoDirectedEoi, avicInvalidVector,
  ]),
  profile('kvm-2024-sipi-patch', 'KVM with the patch proposed in seed 000 (not merged): a SIPI arriving in SMM is kept instead of dropped.', [
    { quirk: 'sipiLatchedInSmm', behaviour: 'a SIPI received in SMM stays pending until the first event check after RSM: behind an INIT latched in SMM it starts the CPU; with no INIT pending it is dropped, so a later INIT never replays it', evidence: `seed 000: "[PATCH] KVM/x86: Do not clear SIPI while in SMM" (Boris Ostrovsky, April 2024), rejected by Paolo Bonzini; the diff is not in the archives read (M: from its subject and the code it patched): ${KVM}/lapic.c kvm_apic_accept_events clears KVM_APIC_SIPI when !kvm_apic_init_sipi_allowed, which the patch skips while is_smm; after RSM (KVM_REQ_EVENT) it takes KVM_APIC_INIT, then clears KVM_APIC_SIPI and delivers it only in INIT_RECEIVED; __apic_accept_irq APIC_DM_INIT sets pending_events = 1 << KVM_APIC_INIT` },
    softDisabledNormal,
    kvmNoDirectedEoi,
    ...kvmCommon,
  ]),
  profile('qemu-tcg-7.2', "QEMU 7.2 (Debian bookworm) without KVM: QEMU's own APIC (hw/intc/apic.c) and TCG CPUs.", qemuTcg, { x2apic: false, tscDeadline: false }),
  profile('qemu10-tcg', "QEMU 10.0.2 (bookworm-backports) without KVM: QEMU's own APIC and TCG CPUs, with x2APIC. qemu-tcg-7.2's rules (the same code) without the late TPR write and with x2APIC and APIC re-enabling; a SIPI taken in SMM from wait-for-SIPI (df32e5c568c9 is not in 10.0.2) is not modelled.", qemu10Tcg, { tscDeadline: false }),
  profile('qemu-tcg-2015', 'QEMU TCG before "target-i386: allow any alignment for SMBASE" (2015; seed 003\'s environment had it): the qemu-tcg-7.2 rules and a 32 KiB-aligned SMBASE at RSM. Other differences of 2015 QEMU are not modelled.', [
    { quirk: 'smbaseAligned32K', behaviour: 'RSM loads SMBASE & ~0x7fff: OVMF\'s 2 KiB SMRAM tiles collapse, two CPUs end with one SMBASE', evidence: 'qemu target-i386/smm_helper.c helper_rsm (several copies of 2015): "if (val & 0x20000) { env->smbase = ldl_phys(... sm_state + 0x7ef8) & ~0x7fff; }"; seed 003 lists "target-i386: allow any alignment for SMBASE" among the patches its QEMU needed (commit id not found; M for the effect on the thread\'s tiles)' },
    ...qemuTcg,
  ], { x2apic: false, tscDeadline: false }),

  profile('bochs-2.7', 'Bochs 2.7 (cpu/apic.cc, cpu/event.cc, cpu/smm.cc).', [
    { quirk: 'initDroppedWhenBlocked', behaviour: 'an INIT that arrives while INIT is masked (VMX root; not GIF = 0, not the wait-for-SIPI guest state) is dropped, not latched', evidence: 'bochs cpu/event.cc deliver_INIT: if (! is_masked_event(BX_EVENT_INIT)) signal_event(BX_EVENT_INIT); cpu/svm.cc CLGI clears only svm_gif, and handleAsyncEvent takes a pending INIT only when SVM_GIF (litmus/gif-holds-init)' },
    { quirk: 'initNotBlockedInSmm', behaviour: 'SMM entry masks only SMI and NMI: INIT in SMM resets the CPU at once', evidence: 'bochs cpu/smm.cc enter_system_management_mode: mask_event(BX_EVENT_SMI | BX_EVENT_NMI ...)' },
    { quirk: 'rsmUnblocksNmi', behaviour: 'RSM always unmasks NMI, even when the SMI came inside an NMI handler', evidence: 'bochs cpu/smm.cc RSM: unmask_event(BX_EVENT_SMI | BX_EVENT_NMI ...)' },
    { quirk: 'selfShorthandIsFixed', behaviour: 'an ICR write with the self shorthand sends a fixed interrupt whatever the mode', evidence: 'bochs cpu/apic.cc send_ipi: APIC_DEST_SELF -> trigger_irq(vector, ...)' },
    { quirk: 'noAutoHaltRestart', behaviour: 'RSM continues after the HLT an SMI interrupted', evidence: 'observed on Debian Bochs 2.7: CONFORMANCE.md F6 (smi-auto-halt-restart, 100/100 runs)' },
    { quirk: 'softDisabledIrr', value: 'normal', behaviour: 'a software-disabled APIC presents held IRR bits as ordinary interrupts', evidence: 'bochs cpu/apic.cc service_local_apic / acknowledge_int: no software-enable test' },
    { quirk: 'softDisabledAcceptsNew', behaviour: 'new fixed interrupts are accepted while software-disabled', evidence: 'bochs cpu/apic.cc trigger_irq: no software-enable test' },
    { quirk: 'tscDeadlineKeptOnFire', behaviour: 'IA32_TSC_DEADLINE keeps its value after the timer fires', evidence: 'bochs cpu/apic.cc periodic(): the one-shot branch leaves ticksInitial; get_tsc_deadline returns it' },
    { quirk: 'divideChangeKeepsExpiry', behaviour: 'a TIMER_DCR write changes the divide factor but not the armed timer: the count fires when the old divisor said, TIMER_CCR reads the time since the TMICT write at the new divisor, and at that expiry a periodic count reloads at the new divisor', evidence: 'bochs cpu/apic.cc at REL_2_7_FINAL: set_divide_configuration sets timer_divide_factor only (no activate_timer_ticks); get_current_timer_count divides the time since ticksInitial by the new factor; periodic() reloads with timer_initial x timer_divide_factor. Observed: timer-divide-change-midcount r1 = 1 in 1,000 of 1,000 runs (CONFORMANCE.md F47)' },
    { quirk: 'timerModeSwitchKeepsCount', behaviour: 'one-shot <-> periodic keeps the count running; only a switch to or from TSC-deadline disarms, and the mode at expiry decides whether the count reloads', evidence: 'bochs cpu/apic.cc at REL_2_7_FINAL: set_lvt_entry deactivates the timer only when bit 18 (TSC-deadline) changes; periodic() reloads timer_initial if the LVT says periodic when the count expires, else deactivates. Observed: timer-oneshot-to-periodic-disarms count(0x30) = 2 in 1,000 of 1,000 runs (CONFORMANCE.md F34)' },
    { quirk: 'apicBaseWritesIgnoredWhenDisabled', behaviour: 'once IA32_APIC_BASE.EN is clear every WRMSR to it is dropped without #GP: the APIC cannot be enabled again, and the invalid EN = 0/EXTD = 1 and disabled -> x2APIC writes fault no more than they take', evidence: 'bochs cpu/msr.cc relocate_apic at REL_2_7_FINAL: the checks and the store run only "if (msr.apicbase & 0x800)", else BX_INFO("APIC global enable bit cleared") and return 1. Observed: kut-apic-disabled-to-xapic, -disabled-to-invalid, -disabled-to-x2apic, -disable-mmio, -base-relocate, -id-xapic, -id-x2apic read a disabled APIC in every run (CONFORMANCE.md K1)' },
    { quirk: 'noEoiBroadcastSuppression', behaviour: 'no EOI-broadcast suppression: the version register has bit 24 clear and SVR bit 12 is dropped, so every level-triggered EOI reaches the I/O APIC', evidence: 'bochs cpu/apic.cc at REL_2_7_FINAL: apic_version_id = 0x00050014 ("P4 has 6 LVT entries"); write_spurious_interrupt_register keeps bits 0-9 only; receive_EOI broadcasts every level-triggered EOI (apic_bus_broadcast_eoi). Observed: VERSION 0x50014 in every run of kut-apic-disable-mmio and kut-apic-base-relocate (CONFORMANCE.md K1)' },
    { quirk: 'versionCountsSixLvts', behaviour: 'the version register says six LVT entries (max LVT entry 5), though LVT_CMCI at 0x2F0 reads and writes as a register', evidence: 'bochs cpu/apic.cc at REL_2_7_FINAL: apic_version_id = 0x00050014 for an xAPIC; read_aligned and the write path handle BX_LAPIC_LVT_CMCI. Observed: VERSION 0x50014 (K1)' },
    { quirk: 'bspFlagWritable', behaviour: 'a WRMSR to IA32_APIC_BASE stores bit 8 (BSP) as written', evidence: 'bochs cpu/msr.cc relocate_apic at REL_2_7_FINAL: msr.apicbase = val_64, bit 8 not among the reserved bits 0x2ff. Observed: decision-d2-bsp-flag-write-ignored reads 0xfee00800 in every run (CONFORMANCE.md F15)' },
    { quirk: 'x2apicLdrNotDerivedOnEntry', behaviour: 'entering x2APIC mode from xAPIC leaves the LDR at the xAPIC logical ID (0 after RESET) instead of deriving it from the x2APIC ID; a later IA32_APIC_BASE write in x2APIC mode derives it', evidence: 'bochs cpu/apic.cc bx_local_apic_c::set_base at REL_2_7_FINAL: "if (mode == BX_APIC_X2APIC_MODE) ldr = ((apic_id & 0xfffffff0) << 16) | (1 << (apic_id & 0xf));" runs before "mode = (newbase >> 10) & 3", so on the old mode; read_x2apic returns ldr, match_logical_addr compares it; fixed by 9b5c43821 ("Init LDR whenever x2APIC mode is enabled (#250)", January 2024). Observed: x2apic-enable-from-xapic reads X2APIC_LDR 0 in every run (CONFORMANCE.md F16)' },
    { quirk: 'x2apicLvtIpiReservedUnchecked', behaviour: 'an x2APIC WRMSR to an LVT, TIMER_DCR, SELF IPI or ICR takes reserved bits without #GP (the value masked as an xAPIC write); TPR, SVR, EOI, ESR and every upper half are checked', evidence: 'bochs cpu/apic.cc write_x2apic at REL_2_7_FINAL: reserved-bit checks only for the upper half (all but ICR), TPR (bits 31:8), SVR (31:9) and EOI/ESR (non-zero); SELF_IPI: trigger_irq(val32_lo & 0xff); ICR_LO: send_ipi(val32_hi, val32_lo); the LVTs and TIMER_DIVIDE_CFG: "use legacy write". Observed: x2apic-gp-cases counts 5 #GPs of 7 in every run, the SELF IPI and ICR writes with reserved bits taking none (CONFORMANCE.md F17)' },
    { quirk: 'reservedTimerMode', value: 'tsc-deadline', behaviour: 'an LVT timer write of the reserved mode 11b is stored, and with bit 18 set the timer is in TSC-deadline mode (TMICT writes ignored, IA32_TSC_DEADLINE arms it)', evidence: 'bochs cpu/apic.cc at REL_2_7_FINAL: set_lvt_entry masks the timer LVT with 0x000710ff (bits 18:17 kept); set_initial_timer_count returns "if (timervec & 0x40000)", set_tsc_deadline needs it. Observed: decision-d6-reserved-timer-mode reads 0x60041 in every run (CONFORMANCE.md F11)' },
    { quirk: 'ioapicArbitrationReadsZero', behaviour: 'the I/O APIC\'s arbitration register (IOAPICARB, index 2) reads 0 and ignores writes', evidence: 'bochs iodev/ioapic.cc read_aligned at REL_2_7_FINAL: case 0x02: BX_INFO("IOAPIC: arbitration ID unsupported, returned 0"), data stays 0. Observed: kut-ioapic-arbitration reads 0 twice in every run (CONFORMANCE.md K6)' },
    { quirk: 'initResetsApicBase', behaviour: 'INIT resets IA32_APIC_BASE as RESET does: an x2APIC-mode AP returns to xAPIC mode (its ID reads in the xAPIC form), a relocated base returns to 0xFEE00000', evidence: 'bochs cpu/init.cc BX_CPU_C::reset at REL_2_7_FINAL (INIT is reset(BX_RESET_SOFTWARE)): msr.apicbase = BX_LAPIC_BASE_ADDR | 0x900 and lapic.set_base for every reset type; cpu/apic.cc bx_local_apic_c::reset sets mode = BX_APIC_XAPIC_MODE. Observed: init-keeps-x2apic-mode gave mode xapic and ID 0x1000000 in 1,000 of 1,000 runs (CONFORMANCE.md F49)' },
    { quirk: 'initVmexitLeavesInitPending', behaviour: 'the INIT that caused an INIT VM exit stays pending: held in VMX root and in the wait-for-SIPI guest state, it exits again at every VM entry into an active guest, and VMXOFF lets it reset the CPU', evidence: 'bochs cpu/event.cc handleAsyncEvent at REL_2_7_FINAL: VMexit(VMX_VMEXIT_INIT, 0) longjmps before reset(BX_RESET_SOFTWARE), the only clear of BX_EVENT_INIT ("reset will clear pending INIT"); cpu/vmx.cc VMexit: mask_event(BX_EVENT_INIT), VMLAUNCH/VMRESUME: unmask_event(BX_EVENT_INIT), VMXOFF: unmask_event(BX_EVENT_INIT); handleWaitForEvent looks at no event in wait-for-SIPI; fixed by 88f881c6d (Satoshi Tanda, July 2022, "Fix that the INIT signal remains pending even after delivery of VM-exit/#VMEXIT(INIT)"); probe guest/tests/vmx-probe.asm (~120 INIT exits in 5 ms after one INIT); CONFORMANCE.md N1, N2' },
  ]),
];

export function findProfile(name: string): Profile | undefined {
  return PROFILES.find((p) => p.name === name);
}
