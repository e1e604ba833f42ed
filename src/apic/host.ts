// What a local APIC is configured with and what it asks of the machine around it (the clock, the bus, the I/O
// APIC), and the shapes of its register accesses.

import { Reg, type DeliveryMode } from '../arch/apic.js';
import type { Vendor } from '../arch/cpu.js';
import type { Quirks } from '../arch/quirks.js';

/** xAPIC registers software can only read: writes to them are ignored (SDM Vol 3A 11.4.1 Table 11-1). */
export const XAPIC_READ_ONLY: ReadonlySet<number> = new Set([Reg.VERSION, Reg.APR, Reg.PPR, Reg.RRD, Reg.TIMER_CCR]);

export type ApicMode = 'disabled' | 'xapic' | 'x2apic' | 'invalid';

export interface ApicConfig {
  vendor: Vendor;
  /** Deviations a profile reproduces (src/arch/quirks.ts); all false for the architecture. */
  quirks: Readonly<Quirks>;
  /** CPUID.01H:ECX[21]: x2APIC supported (IA32_APIC_BASE.EXTD writable). */
  x2apic: boolean;
  /** CPUID.01H:ECX[24]: TSC-deadline timer mode supported. */
  tscDeadline: boolean;
  /** TSC ticks per APIC timer tick at divide-by-1. */
  timerRatio: number;
  /** CPUID.80000008H:EAX[7:0]; IA32_APIC_BASE bits at and above it are reserved. */
  maxPhysAddr: number;
  /**
   * The APIC is a virtual-APIC page under APICv virtual-interrupt delivery (SDM Vol 3C 30.2): pending vectors are
   * evaluated from VIRR/VPPR and delivered with VISR set, without reading the virtual SVR (decision D-24).
   */
  virtualInterruptDelivery?: boolean;
}

export interface ApicHost {
  /** Virtual time in TSC ticks; exact up to 2^53. */
  now(): number;
  /** Virtual time, exact. */
  nowExact(): bigint;
  /** An ICR write: put the IPI on the APIC bus. */
  sendIpi(source: number, icrLo: number, destination: number, x2apic: boolean): void;
  /** Whether an IPI this APIC sent is still in flight (xAPIC ICR delivery status). */
  ipiInFlight(source: number): boolean;
  /** EOI of a level-triggered vector, broadcast to the I/O APICs. */
  eoiBroadcast(vector: number): void;
  /** An LVT entry with delivery mode NMI, SMI, INIT or ExtINT: signal this APIC's own processor. */
  localEvent(cpu: number, mode: DeliveryMode, vector: number): void;
  trace?(cpu: number, text: string): void;
}

/** The result of an MSR access: a #GP fault or success. SDM Vol 3A 11.12.1.3 Reserved Bit Checking. */
export const GP = 'GP' as const;

