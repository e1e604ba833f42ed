// A VMM's host-side write of a vCPU's IA32_APIC_BASE (KVM_SET_MSRS with host_initiated, or the apic_base of
// KVM_SET_SREGS): no transition is refused, and nothing but the mode's own effect happens (decision D-36).

import { A } from './layout.js';
import type { LocalApic } from './localApic.js';

/**
 * The value is taken as it is (bits above 31 and the BSP flag included). Entering x2APIC mode makes the ID the initial
 * x2APIC ID (SDM Vol 3A 11.12.5.1; KVM kvm_lapic_set_base calls kvm_apic_set_x2apic_id); other registers keep their
 * values, whatever the transition (KVM resets nothing, where a guest's disable may: decision D-3).
 */
export function hostWriteApicBase(apic: LocalApic, value: bigint): void {
  const wasX2 = apic.isX2apic();
  apic.setWord(A.BASE_LO, Number(value & 0xffffffffn));
  apic.setWord(A.BASE_HI, Number((value >> 32n) & 0xffffffffn));
  if (!wasX2 && apic.isX2apic()) apic.setWord(A.ID, apic.word(A.INITIAL_ID));
}
