// Deviations from the SDM/APM that real implementations have had. The `spec` model has none; a profile
// (src/sim/profiles.ts) turns some on to reproduce an implementation rule by rule. Each device reads the
// quirk at the one place its rule lives.

export interface Quirks {
  /**
   * A software-disabled APIC presents nothing from IRR, so a held interrupt stays pending until INIT
   * (KVM before bb34e690e934, "KVM: LAPIC: Fix pending interrupt in IRR blocked by software disable LAPIC";
   * seed 004). Spec: decision D-1.
   */
  softDisabledHidesIrr: boolean;
  /** An INIT arriving while INIT is blocked (SMM, VMX root) is dropped, not latched (Bochs 2.7 cpu/apic.cc deliver_INIT). */
  initDroppedWhenBlocked: boolean;
  /** xAPIC MMIO accesses made in SMM do not reach the APIC: reads return 0 (seed 003, KVM of 2015). */
  apicMmioUnmappedInSmm: boolean;
  /** Switching the LVT timer between one-shot and periodic keeps the count running (KVM apic_update_lvtt). */
  timerModeSwitchKeepsCount: boolean;
}

export const NO_QUIRKS: Readonly<Quirks> = Object.freeze({
  softDisabledHidesIrr: false,
  initDroppedWhenBlocked: false,
  apicMmioUnmappedInSmm: false,
  timerModeSwitchKeepsCount: false,
});
