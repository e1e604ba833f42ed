// Intel's TPR shadow without virtual-interrupt delivery: the VMCS TPR threshold the hypervisor writes before every
// VM entry, the TPR-below-threshold exit, and the VM-entry check that makes a stale threshold fatal.
// SDM Vol 3C 30.1.2 TPR Virtualization; 28.2.1.1 Checks on VM-Execution Control Fields; KVM
// vmx_update_cr8_intercept and handle_tpr_below_threshold.

import { A } from '../apic/layout.js';
import { Sched, W, type AssistCore } from './state.js';
import { put } from '../arch/writes.js';

/** The IRR as one number, to tell whether time set a bit (the timer's interrupt kicks the vCPU). */
export function irrSignature(a: AssistCore, c: number): number {
  const apic = a.machine.apics[c];
  let h = 0;
  for (let i = 0; i < 8; i++) h = (Math.imul(h, 31) + apic.word(A.IRR + i)) | 0;
  return h;
}

/**
 * The TPR threshold a hypervisor writes before VM entry so that lowering the TPR below the class of the highest
 * interrupt the TPR holds back causes a VM exit (KVM vmx_update_cr8_intercept: 0 when nothing is pending or the TPR
 * does not block it, else its class).
 */
function cr8Intercept(a: AssistCore, c: number): number {
  const apic = a.machine.apics[c], irr = apic.highestIrr(), tpr = apic.tpr() >>> 4;
  return irr < 0 || tpr < irr >>> 4 ? 0 : irr >>> 4;
}

/**
 * The hypervisor goes back into vCPU c after handling an exit: with `recompute` (KVM_REQ_EVENT pending) it writes
 * the TPR threshold afresh. SDM Vol 3C 28.2.1.1: with "use TPR shadow" 1 and "virtualize APIC accesses" and
 * "virtual-interrupt delivery" 0 (KVM's x2APIC mode without APICv: vmx_set_virtual_apic_mode clears "virtualize
 * APIC accesses"), TPR threshold[3:0] must not exceed VTPR[7:4]; otherwise the VM entry fails (VM-instruction error
 * 7, KVM_EXIT_FAIL_ENTRY "hardware error 0x7") and the vCPU never runs again.
 */
export function reenter(a: AssistCore, c: number, recompute: boolean): void {
  const s = a.s, at = a.w(c, W.TPR_THRESHOLD), sched = a.w(c, W.SCHED), apic = a.machine.apics[c];
  if (s[sched] & Sched.DEAD) return;
  if (recompute) put(s, at, cr8Intercept(a, c));
  if (apic.isX2apic() && s[at] > apic.tpr() >>> 4) {
    a.exit(c, 'entry-failure');
    put(s, sched, Sched.NOT_RUNNING | Sched.BLOCKED | Sched.DEAD);
    if (a.tracing) a.trace(c, `VM entry fails: TPR threshold ${s[at]} > VTPR[7:4] ${apic.tpr() >>> 4} (hardware error 0x7)`);
  }
}

/**
 * A guest TPR write under a TPR shadow (MOV to the virtualized TPR, or the x2APIC TPR MSR): if VTPR[7:4] drops below
 * TPR threshold[3:0], a trap-like VM exit "TPR below threshold" (SDM Vol 3C 30.1.2). KVM's handler calls
 * apic_update_ppr, which asks for a new threshold only when an interrupt has become deliverable; under
 * tprThresholdStaleAfterExit that is all, otherwise the threshold is set afresh.
 */
export function tprWritten(a: AssistCore, c: number): void {
  const apic = a.machine.apics[c];
  if (apic.tpr() >>> 4 >= a.s[a.w(c, W.TPR_THRESHOLD)]) return;
  a.exit(c, 'tpr-below-threshold');
  if (a.tracing) a.trace(c, 'VM exit: TPR below threshold');
  reenter(a, c, !a.quirks.tprThresholdStaleAfterExit || apic.deliverableVector() >= 0);
}
