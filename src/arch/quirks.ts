// Deviations from the SDM/APM that real implementations have had. The `spec` model has none; a profile
// (src/sim/profiles.ts) turns some on to reproduce an implementation rule by rule. Each quirk is read at the one
// place its rule lives; the evidence for each profile's use of it is in src/sim/profiles.ts and
// docs/profiles-research.md.

/** How lowest-priority delivery picks its target. */
export type LowestPriorityRule = 'architectural' | 'vector-hash' | 'lowest-index';
/** What a software-disabled APIC does with an IRR bit it holds. */
/**
 * What KVM's AVIC incomplete-IPI handler does for a target that was not running (seed 001): wake it (the hardware
 * already set its IRR bit); wake it with KVM's irr_pending hint stale, so it finds nothing and blocks again; re-send
 * the IPI through the emulated ICR (and wake); re-send with svm_deliver_avic_intr kicking instead of waking.
 */
export type AvicIncompleteIpiHandler = 'wake' | 'wake-stale-irr' | 'resend' | 'resend-kick';
/** What an xAPIC MMIO access made in SMM reaches: the APIC, or one RAM page every CPU in SMM shares. */
export type ApicMmioInSmm = 'apic' | 'ram';
export type SoftDisabledIrr = 'spurious' | 'hidden' | 'normal';
/**
 * What a global disable (IA32_APIC_BASE.EN cleared) does to the registers: the power-up state (D-3); nothing, the
 * xAPIC ID set back to the initial one when the APIC is enabled again (KVM kvm_lapic_set_base); only SVR[8] cleared
 * (QEMU apic_set_base).
 */
export type GlobalDisableRule = 'power-up' | 'keep' | 'clear-svr-enable';
/**
 * An LVT timer write of the reserved mode 11b: the mode field keeps its previous value (D-6); or 11b is stored and the
 * timer runs periodic (QEMU looks at bit 17 only; stored even without TSC-deadline mode) or in TSC-deadline mode
 * (Bochs tests bit 18 first).
 */
export type ReservedTimerModeRule = 'keep-old' | 'periodic' | 'tsc-deadline';

export interface Quirks {
  /** spurious: D-1; hidden: never presented (stays stale); normal: presented and acknowledged as usual. */
  softDisabledIrr: SoftDisabledIrr;
  /** A software-disabled APIC still accepts new fixed interrupts into IRR. */
  softDisabledAcceptsNew: boolean;
  /** Clearing SVR[8] does not mask the LVT entries, and LVT writes may unmask them. */
  softDisabledLvtNotMasked: boolean;
  /** No ESR: vectors 0-15 are accepted and delivered, nothing is latched, no LVT error interrupt. */
  esrNotModelled: boolean;
  /** INIT resets the APIC ID to its initial value. */
  initResetsApicId: boolean;
  /**
   * INIT resets IA32_APIC_BASE as RESET does: base 0xFEE00000, globally enabled, xAPIC mode (an x2APIC-mode APIC
   * returns to xAPIC mode); the BSP flag is kept.
   */
  initResetsApicBase: boolean;
  /** Switching the LVT timer between one-shot and periodic keeps the count running. */
  timerModeSwitchKeepsCount: boolean;
  /** IA32_TSC_DEADLINE keeps its value after the timer fires. */
  tscDeadlineKeptOnFire: boolean;
  /**
   * ram: xAPIC MMIO accesses made in SMM hit one RAM page (zero at first) that every CPU in SMM shares, never the APIC:
   * a read returns what some CPU wrote there in SMM.
   */
  apicMmioInSmm: ApicMmioInSmm;
  /** An SMI does not make a halted processor runnable: it waits until something else ends the HLT. */
  smiDoesNotWakeHalted: boolean;
  /** RSM keeps only the 32 KiB-aligned part of the SMBASE field (bits 14:0 cleared). */
  smbaseAligned32K: boolean;
  /** The ICR is not validated: self and all-including-self send any delivery mode; level 0 IPIs are sent. */
  icrNoValidity: boolean;
  /** An ICR write with the self shorthand always sends a fixed interrupt, whatever the delivery mode. */
  selfShorthandIsFixed: boolean;
  /** A level-triggered fixed IPI is accepted as level-triggered (TMR set). */
  levelIpiSetsTmr: boolean;
  lowestPriority: LowestPriorityRule;
  /** INIT is taken in SMM at once (the CPU resets out of SMM). */
  initNotBlockedInSmm: boolean;
  /** INIT is taken in VMX root operation at once. */
  initNotBlockedInVmxRoot: boolean;
  /** An INIT that arrives while INIT is blocked is dropped, not latched. */
  initDroppedWhenBlocked: boolean;
  /** INIT discards a latched SMI. */
  initDiscardsLatchedSmi: boolean;
  /** SMI and NMI are not blocked in wait-for-SIPI. */
  smiNmiNotBlockedInWfs: boolean;
  /** SMM entry from HLT records no auto HALT restart: RSM resumes after the HLT. */
  noAutoHaltRestart: boolean;
  /** RSM unblocks NMIs even if they were blocked before the SMI. */
  rsmUnblocksNmi: boolean;
  /**
   * A SIPI arriving in SMM is kept until the first event check after RSM: an INIT pending then (latched in SMM before
   * the SIPI) is taken first and the SIPI starts the CPU; otherwise the SIPI is dropped. An INIT arriving after it
   * erases it.
   */
  sipiLatchedInSmm: boolean;
  /**
   * A SIPI outside wait-for-SIPI stays pending until the processor next takes events: an INIT pending then is taken
   * first and the SIPI starts the processor; otherwise the SIPI is discarded, and it wakes a halted processor.
   */
  sipiHeldUntilTaken: boolean;
  /** The version register does not offer EOI-broadcast suppression (bit 24), so SVR bit 12 is not writable. */
  noEoiBroadcastSuppression: boolean;
  /** An interrupt that an xAPIC TPR write unblocks is taken only after the next instruction (QEMU TCG). */
  tprWriteTakesEffectLate: boolean;
  /** An interrupt that the end of an STI shadow unblocks is taken only after one more instruction. */
  stiWindowLate: boolean;
  /** With PPR = 0 any pending vector is delivered, priority class 0 (vectors 0-15, when accepted at all) included. */
  pprZeroDeliversAny: boolean;
  /** Without x2APIC in CPUID, IA32_APIC_BASE.EXTD is dropped and x2APIC MSRs read 0 / ignore writes, without #GP. */
  x2apicAbsentNoGp: boolean;
  /** Nested VMX without SIPI VM exits: a SIPI to a guest in wait-for-SIPI is discarded. */
  nestedNoSipiExit: boolean;
  /** Nested VMX without the wait-for-SIPI guest activity state: a VM entry into it fails. */
  nestedNoGuestWfs: boolean;
  /** Nested VMX without INIT VM exits: an INIT reaching a guest resets the processor as outside VMX operation. */
  nestedNoInitExit: boolean;
  // -- nested VMX: INIT VM exits (Bochs 2.7) --
  /**
   * An INIT that causes an INIT VM exit stays pending: VMX root operation holds it, the wait-for-SIPI guest state
   * holds it, and every VM entry into an active or halted guest takes another INIT VM exit before the guest's first
   * instruction; VMXOFF lets it reset the processor.
   */
  initVmexitLeavesInitPending: boolean;
  // -- end nested VMX: INIT VM exits --
  /**
   * A SIPI that reaches a processor in guest mode and causes no VM exit is kept pending while it stays in guest mode
   * (dropped at the first event check outside it); meanwhile HLT falls through. An INIT arriving erases it.
   */
  sipiKeptInGuestMode: boolean;
  /**
   * A SIPI outside wait-for-SIPI stays pending until an INIT arrives (which erases it), never acting; meanwhile HLT
   * falls through.
   */
  sipiOutsideWfsPending: boolean;
  /** The AVIC incomplete-IPI handler (target not running): see AvicIncompleteIpiHandler. */
  avicIncompleteIpiHandler: AvicIncompleteIpiHandler;
  /**
   * AMD erratum 1235: the AVIC IPI reads a target's IsRunning as it was at the sender's last VM entry, so a target
   * that blocked since is taken for running: no exit, no wake-up.
   */
  avicStaleIsRunning: boolean;
  /** The AVIC incomplete-IPI handler ignores an invalid-target failure (KVM 2016 to Jan 2023): the IPI is lost for every destination. */
  avicInvalidTargetIgnored: boolean;
  /** The AVIC incomplete-IPI handler ignores an IPI with a vector below 16 (KVM): no ESR error, no delivery. */
  avicInvalidVectorIgnored: boolean;
  /** After a TPR-below-threshold exit the TPR threshold is rewritten only if an interrupt became deliverable (KVM eb90f3417a0c, 2016). */
  tprThresholdStaleAfterExit: boolean;
  /** Hypothetical AVIC hardware that reads IsRunning before it sets the IRR bit (the ordering seed 001 asks about). */
  avicIsRunningBeforeIrr: boolean;
  /** A hypervisor that, putting a vCPU back on a CPU, checks ON (and syncs PIR) before it clears SN. */
  apicvCheckOnBeforeClearingSn: boolean;

  // QEMU TCG's own APIC (issue 12 item 9, docs/kvm-unit-tests.md "A qemu10-tcg profile").
  /** The xAPIC page decodes whatever IA32_APIC_BASE says: globally disabled and in x2APIC mode, MMIO reaches the registers. */
  apicMmioDecodedWhenDisabled: boolean;
  /** A new base written to IA32_APIC_BASE is kept (RDMSR returns it), but the xAPIC page stays at 0xFEE00000. */
  apicBaseRelocationIgnored: boolean;
  /**
   * A one-shot <-> periodic switch keeps TMICT and recomputes the count from the last TMICT write under the new mode:
   * an expired one-shot count starts again as periodic; a periodic count past its first period is 0 as one-shot.
   */
  timerModeSwitchRecomputes: boolean;
  /**
   * A TIMER_DCR write does not move an armed expiry: the count fires when the old divisor said, TIMER_CCR reads the
   * time since the count was loaded at the new divisor, and after that expiry a periodic count reloads at the new
   * divisor while a one-shot count is over.
   */
  divideChangeKeepsExpiry: boolean;
  /** Once IA32_APIC_BASE.EN is cleared a write cannot set it again (no #GP; the base field is kept). */
  apicNotReenabled: boolean;
  /** Once IA32_APIC_BASE.EN is cleared every write to IA32_APIC_BASE is dropped, without #GP, whatever it holds (Bochs). */
  apicBaseWritesIgnoredWhenDisabled: boolean;
  /**
   * The switch into x2APIC mode does not derive the LDR (SDM Vol 3A 11.12.10.2): it reads the xAPIC logical ID (bits
   * 31:24 of the xAPIC LDR) until a later IA32_APIC_BASE write in x2APIC mode derives it (Bochs).
   */
  x2apicLdrNotDerivedOnEntry: boolean;
  /**
   * An x2APIC WRMSR to an LVT, TIMER_DCR, SELF IPI or the ICR does not check reserved bits (SDM Vol 3A 11.12.1.3): the
   * low half is taken as an xAPIC write takes it (SELF IPI: its vector byte). The upper half is still checked.
   */
  x2apicLvtIpiReservedUnchecked: boolean;
  /**
   * x2APIC MSRs as QEMU's register file (apic_register_read/write): WRMSR faults only for ID, LDR, DFR, ICR_HI and
   * unknown registers, checks no reserved bit or upper half, ignores writes to read-only registers; RDMSR answers
   * EOI (0), APR and ICR_HI.
   */
  x2apicMsrUnchecked: boolean;
  /** WRMSR IA32_APIC_BASE raises no #GP for reserved bits: they and bits 63:32 are dropped (QEMU 7.2). */
  apicBaseReservedBitsIgnored: boolean;
  /** The BSP flag of IA32_APIC_BASE takes what is written (D-2: the write is ignored). */
  bspFlagWritable: boolean;
  /** What clearing IA32_APIC_BASE.EN does to the registers: see GlobalDisableRule. */
  globalDisable: GlobalDisableRule;
  /** What an LVT timer write of the reserved mode 11b does: see ReservedTimerModeRule. */
  reservedTimerMode: ReservedTimerModeRule;
  /** No CMCI LVT entry (offset 0x2F0) on an Intel APIC: 6 LVT entries, the version register's max LVT entry 5. */
  noCmciLvt: boolean;
  /** The version register's max LVT entry reads 5 (six entries) although the CMCI entry at 0x2F0 is there. */
  versionCountsSixLvts: boolean;
  /** A read of a physical address nothing decodes returns 0, not all ones (D-31). */
  unassignedReadsZero: boolean;
  /** The I/O APIC's arbitration register (IOAPICARB) reads 0 instead of the ID loaded into it (Bochs). */
  ioapicArbitrationReadsZero: boolean;
}

export const NO_QUIRKS: Readonly<Quirks> = Object.freeze({
  softDisabledIrr: 'spurious',
  softDisabledAcceptsNew: false,
  softDisabledLvtNotMasked: false,
  esrNotModelled: false,
  initResetsApicId: false,
  initResetsApicBase: false,
  timerModeSwitchKeepsCount: false,
  tscDeadlineKeptOnFire: false,
  apicMmioInSmm: 'apic',
  smiDoesNotWakeHalted: false,
  smbaseAligned32K: false,
  icrNoValidity: false,
  selfShorthandIsFixed: false,
  levelIpiSetsTmr: false,
  lowestPriority: 'architectural',
  initNotBlockedInSmm: false,
  initNotBlockedInVmxRoot: false,
  initDroppedWhenBlocked: false,
  initDiscardsLatchedSmi: false,
  smiNmiNotBlockedInWfs: false,
  noAutoHaltRestart: false,
  rsmUnblocksNmi: false,
  sipiLatchedInSmm: false,
  sipiHeldUntilTaken: false,
  noEoiBroadcastSuppression: false,
  tprWriteTakesEffectLate: false,
  stiWindowLate: false,
  pprZeroDeliversAny: false,
  x2apicAbsentNoGp: false,
  nestedNoSipiExit: false,
  nestedNoGuestWfs: false,
  nestedNoInitExit: false,
  initVmexitLeavesInitPending: false,
  sipiKeptInGuestMode: false,
  sipiOutsideWfsPending: false,
  avicIncompleteIpiHandler: 'wake',
  avicStaleIsRunning: false,
  avicInvalidTargetIgnored: false,
  avicInvalidVectorIgnored: false,
  tprThresholdStaleAfterExit: false,
  avicIsRunningBeforeIrr: false,
  apicvCheckOnBeforeClearingSn: false,

  apicMmioDecodedWhenDisabled: false,
  apicBaseRelocationIgnored: false,
  timerModeSwitchRecomputes: false,
  divideChangeKeepsExpiry: false,
  apicNotReenabled: false,
  apicBaseWritesIgnoredWhenDisabled: false,
  apicBaseReservedBitsIgnored: false,
  x2apicLdrNotDerivedOnEntry: false,
  x2apicLvtIpiReservedUnchecked: false,
  x2apicMsrUnchecked: false,
  bspFlagWritable: false,
  globalDisable: 'power-up',
  reservedTimerMode: 'keep-old',
  noCmciLvt: false,
  versionCountsSixLvts: false,
  unassignedReadsZero: false,
  ioapicArbitrationReadsZero: false,
} satisfies Quirks);
