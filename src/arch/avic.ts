// AMD AVIC (Advanced Virtual Interrupt Controller) constants. AMD APM Vol 2 15.29 "Advanced Virtual Interrupt
// Controller"; the #VMEXIT codes are in APM Vol 2 Appendix C "SVM Intercept Exit Codes".

import { Reg } from './apic.js';

/** #VMEXIT(AVIC_INCOMPLETE_IPI) and #VMEXIT(AVIC_NOACCEL). APM Vol 2 15.29.3.2, 15.29.3.1; Appendix C. */
export const SVM_EXIT_AVIC_INCOMPLETE_IPI = 0x401;
export const SVM_EXIT_AVIC_NOACCEL = 0x402;

/**
 * AVIC_INCOMPLETE_IPI, EXITINFO2[63:32] (ID): why the hardware could not complete an ICR write. APM Vol 2
 * 15.29.3.2 Interprocessor Interrupts, the table of IPI delivery failure causes. Cause 4 appears in later APM
 * revisions; Zen 2 parts were seen to drop such an IPI without an exit (KVM "add support for Invalid IPI Vector
 * interception", Sept 2023).
 */
export enum AvicIpiFailure {
  /** Not a fixed, edge-triggered interrupt: the hypervisor must emulate the ICR write. */
  INVALID_INT_TYPE = 0,
  /** The IRR bits are set, but one or more destinations' IsRunning is 0: the hypervisor must wake them. */
  TARGET_NOT_RUNNING = 1,
  /** A destination's physical or logical APIC ID table entry is invalid: no IRR bit is set for anyone. */
  INVALID_TARGET = 2,
  /** A valid physical APIC ID table entry whose backing page pointer is not usable. */
  INVALID_BACKING_PAGE = 3,
  /** Vector 0-15. */
  INVALID_IPI_VECTOR = 4,
}
export const AVIC_IPI_FAILURE_NAMES = ['invalid interrupt type', 'target not running', 'invalid target', 'invalid backing page', 'invalid vector'] as const;

/**
 * The logical APIC ID table index of one MDA bit (APM Vol 2 15.29.2.4 Logical APIC ID Table): flat mode indexes
 * by the bit's position (entries 0-7), cluster mode by cluster * 4 + bit (entries 0-59; cluster 15 is broadcast).
 */
export function avicLogicalIndex(flat: boolean, cluster: number, bit: number): number {
  return flat ? bit : cluster * 4 + bit;
}

/**
 * xAPIC register writes that AVIC does not accelerate and reports after the write as a trap-like
 * #VMEXIT(AVIC_NOACCEL) (APM Vol 2 15.29.3.1 Virtual APIC Register Accesses): the hypervisor finishes the write
 * (e.g. updates the logical APIC ID table on LDR or DFR). TPR and ICR are accelerated; EOI is accelerated only
 * for an edge-triggered vector (avicEoiTraps). The list is the one KVM's handler trusts
 * (arch/x86/kvm/svm/avic.c is_avic_unaccelerated_access_trap).
 */
export const AVIC_TRAP_WRITES: ReadonlySet<number> = new Set([
  Reg.ID, Reg.LDR, Reg.DFR, Reg.SVR, Reg.ESR,
  Reg.LVT_TIMER, Reg.LVT_THERMAL, Reg.LVT_PMC, Reg.LVT_LINT0, Reg.LVT_LINT1, Reg.LVT_ERROR,
  Reg.TIMER_ICR, Reg.TIMER_DCR,
]);

/**
 * Reads AVIC does not serve from the backing page: the current count changes with time, so the read is a
 * fault-like #VMEXIT(AVIC_NOACCEL) and the hypervisor emulates it (APM Vol 2 15.29.3.1).
 */
export const AVIC_FAULT_READS: ReadonlySet<number> = new Set([Reg.TIMER_CCR]);
