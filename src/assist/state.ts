// The hardware-assist layer's state: a few words per vCPU in the machine's state array (so a snapshot, a restore
// and a hash cover them like any register), and the view of them each assist module works through.

import type { Accel, VmexitKind } from '../arch/assist.js';
import type { Quirks } from '../arch/quirks.js';
import type { Machine } from '../machine/machine.js';

/** Scheduling word bits. Stored so that the initial all-zero encoding is a running vCPU. */
export const Sched = {
  /** Off its physical CPU: AVIC's IsRunning clear (APM Vol 2 15.29.3.1), APICv's vCPU not in VMX non-root. */
  NOT_RUNNING: 1,
  /** Halted and descheduled by the hypervisor until something wakes it. */
  BLOCKED: 2,
  /** A VM entry failed: the vCPU never runs again. */
  DEAD: 4,
} as const;

/** Word offsets per vCPU, by assist. Word 0 is the scheduling word. */
export const W = {
  SCHED: 0,
  /** AVIC: an IPI in progress on this vCPU (1: hardware IsRunning check pending, 2: in the incomplete-IPI exit). */
  AVIC_STAGE: 1,
  AVIC_VECTOR: 2,
  /** Targets still to handle, a bit per vCPU (an AVIC test has at most 32 vCPUs). */
  AVIC_TARGETS: 3,
  /** Targets whose IsRunning the hardware read as clear. */
  AVIC_NOT_RUNNING: 4,
  /** Quirk avicStaleIsRunning: the vCPUs this one saw not running at its last VM entry, a bit per vCPU. */
  AVIC_SEEN_NOT_RUNNING: 5,
  /** APICv: posted-interrupt descriptor flags (Pi below) and the vCPU's resume stage. */
  PI_FLAGS: 1,
  /** APICv: the descriptor's PIR, 256 bits. */
  PIR: 2,
  /** TPR shadow: the VMCS TPR threshold the hypervisor last wrote, a priority class 0-15. */
  TPR_THRESHOLD: 1,
} as const;

/** Words per vCPU under each assist. */
export const WORDS: Readonly<Record<Accel, number>> = { none: 0, avic: 6, apicv: 10, 'tpr-shadow': 2 };

/** APICv posted-interrupt descriptor bits (SDM Vol 3C 30.6: ON, SN), a notification not yet processed, and the two
 *  halves of the hypervisor putting the vCPU back on a CPU (KVM vmx_vcpu_pi_load, then VM entry). */
export const Pi = { ON: 1, SN: 2, NOTIFY: 4, RESUME_1: 8, RESUME_2: 16 } as const;

/** What an assist module sees of the layer. */
export interface AssistCore {
  readonly machine: Machine;
  readonly s: Uint32Array;
  readonly quirks: Readonly<Quirks>;
  /** The index in `s` of vCPU c's word `off`. */
  w(c: number, off: number): number;
  exit(c: number, kind: VmexitKind): void;
  trace(c: number, text: string): void;
  readonly tracing: boolean;
  /** The hypervisor wakes a blocked vCPU (kvm_vcpu_wake_up). */
  wake(c: number): void;
  /** An ICR write emulated by the hypervisor (the machine's own path). */
  emulateIcr(c: number, lo: number, destination: number): boolean;
}
