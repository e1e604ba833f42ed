// Local APIC architectural constants: register offsets, MSR numbers and bit layouts.
// Section numbers follow the current Intel SDM, where the APIC is Vol 3A chapter 11
// ("Advanced Programmable Interrupt Controller (APIC)"); older editions number it chapter 10.

/** SDM Vol 3A 11.4.1 The Local APIC Block Diagram, Table 11-1 Local APIC Register Address Map. */
export const Reg = {
  ID: 0x020,
  VERSION: 0x030,
  TPR: 0x080,
  APR: 0x090,
  PPR: 0x0a0,
  EOI: 0x0b0,
  RRD: 0x0c0,
  LDR: 0x0d0,
  DFR: 0x0e0,
  SVR: 0x0f0,
  ISR0: 0x100,
  TMR0: 0x180,
  IRR0: 0x200,
  ESR: 0x280,
  LVT_CMCI: 0x2f0,
  ICR_LO: 0x300,
  ICR_HI: 0x310,
  LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330,
  LVT_PMC: 0x340,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_ICR: 0x380,
  TIMER_CCR: 0x390,
  TIMER_DCR: 0x3e0,
  /** x2APIC only (MSR 0x83F); no xAPIC MMIO counterpart. SDM Vol 3A 11.12.11 SELF IPI Register. */
  SELF_IPI: 0x3f0,
} as const;

/** Register names as the litmus format and traces spell them (SDM names), with their MMIO offset. */
export const REGISTER_NAMES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const [name, off] of Object.entries(Reg)) {
    if (name.endsWith('0') && (name.startsWith('ISR') || name.startsWith('TMR') || name.startsWith('IRR'))) {
      const base = name.slice(0, 3);
      for (let i = 0; i < 8; i++) m.set(`${base}${i}`, off + i * 0x10);
    } else {
      m.set(name, off);
    }
  }
  return m;
})();

/** The SDM name of the register at an MMIO offset, or undefined for a reserved offset. */
export function registerName(offset: number): string | undefined {
  for (const [name, off] of REGISTER_NAMES) if (off === offset) return name;
  return undefined;
}

/** SDM Vol 3A 11.4.4 Local APIC Status and Location: IA32_APIC_BASE MSR (0x1B). */
export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
export const ApicBase = {
  BSP: 1 << 8,
  /** x2APIC enable (EXTD). SDM Vol 3A 11.12.1 Detecting and Enabling x2APIC Mode. */
  EXTD: 1 << 10,
  /** APIC global enable (EN). */
  EN: 1 << 11,
  /** Bits 0-7 and 9 are reserved. */
  RESERVED_LOW: 0x2ff,
  DEFAULT_BASE: 0xfee00000,
} as const;

/** SDM Vol 3A 11.12.1.2 x2APIC Register Address Space: MSR = 0x800 + (MMIO offset >> 4). */
export const X2APIC_MSR_BASE = 0x800;
export const X2APIC_MSR_LAST = 0x8ff;
export function x2apicMsrToOffset(msr: number): number {
  return (msr - X2APIC_MSR_BASE) << 4;
}
export function offsetToX2apicMsr(offset: number): number {
  return X2APIC_MSR_BASE + (offset >> 4);
}

/** x2APIC MSR names for the litmus format (X2APIC_ICR etc.). */
export const X2APIC_MSR_NAMES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const [name, off] of REGISTER_NAMES) {
    if (name === 'ICR_LO') m.set('X2APIC_ICR', offsetToX2apicMsr(off));
    else if (name !== 'ICR_HI') m.set(`X2APIC_${name}`, offsetToX2apicMsr(off));
  }
  return m;
})();

/** SDM Vol 3A 11.5.1 Local Vector Table: LVT entry fields. */
export const Lvt = {
  VECTOR: 0xff,
  DELIVERY_MODE_SHIFT: 8,
  DELIVERY_MODE_MASK: 0x700,
  DELIVERY_STATUS: 1 << 12,
  POLARITY: 1 << 13,
  REMOTE_IRR: 1 << 14,
  TRIGGER_LEVEL: 1 << 15,
  MASKED: 1 << 16,
  TIMER_MODE_SHIFT: 17,
  TIMER_MODE_MASK: 3 << 17,
} as const;

/** LVT entries in the order of the state layout. */
export enum LvtIndex {
  CMCI = 0,
  TIMER = 1,
  THERMAL = 2,
  PMC = 3,
  LINT0 = 4,
  LINT1 = 5,
  ERROR = 6,
}
export const LVT_COUNT = 7;
export const LVT_OFFSETS: readonly number[] = [
  Reg.LVT_CMCI, Reg.LVT_TIMER, Reg.LVT_THERMAL, Reg.LVT_PMC, Reg.LVT_LINT0, Reg.LVT_LINT1, Reg.LVT_ERROR,
];

/**
 * Writable bits of each LVT entry (SDM Vol 3A 11.5.1 Local Vector Table, Figure 11-8).
 * Timer: vector, mask, timer mode (bits 17-18; bit 18 = TSC-deadline). No delivery mode.
 * CMCI/thermal/PMC: vector, delivery mode, mask. LINT0/1: vector, delivery mode, polarity, trigger, mask.
 * Error: vector, mask. Delivery status and remote IRR are read-only.
 */
export const LVT_WRITABLE: readonly number[] = [
  0x000107ff, // CMCI
  0x000700ff, // TIMER
  0x000107ff, // THERMAL
  0x000107ff, // PMC
  0x0001a7ff, // LINT0
  0x0001a7ff, // LINT1
  0x000100ff, // ERROR
];

/** SDM Vol 3A 11.5.4 APIC Timer: LVT timer mode field. */
export enum TimerMode {
  ONE_SHOT = 0,
  PERIODIC = 1,
  TSC_DEADLINE = 2,
  RESERVED = 3,
}

/** SDM Vol 3A 11.9 Spurious Interrupt: SVR fields. */
export const Svr = {
  VECTOR: 0xff,
  APIC_ENABLED: 1 << 8,
  FOCUS_DISABLED: 1 << 9,
  EOI_BROADCAST_SUPPRESSION: 1 << 12,
} as const;

/** SDM Vol 3A 11.5.3 Error Handling, Figure 11-9 Error Status Register. */
export const Esr = {
  SEND_CHECKSUM: 1 << 0,
  RECEIVE_CHECKSUM: 1 << 1,
  SEND_ACCEPT: 1 << 2,
  RECEIVE_ACCEPT: 1 << 3,
  REDIRECTABLE_IPI: 1 << 4,
  SEND_ILLEGAL_VECTOR: 1 << 5,
  RECEIVE_ILLEGAL_VECTOR: 1 << 6,
  ILLEGAL_REGISTER_ADDRESS: 1 << 7,
} as const;

/** SDM Vol 3A 11.6.1 Interrupt Command Register (ICR), Figure 11-12. */
export const Icr = {
  VECTOR: 0xff,
  DELIVERY_MODE_SHIFT: 8,
  DELIVERY_MODE_MASK: 0x700,
  DEST_LOGICAL: 1 << 11,
  DELIVERY_STATUS: 1 << 12,
  LEVEL_ASSERT: 1 << 14,
  TRIGGER_LEVEL: 1 << 15,
  SHORTHAND_SHIFT: 18,
  SHORTHAND_MASK: 3 << 18,
  /** xAPIC: writable bits of ICR low (delivery status is read-only). */
  XAPIC_LO_WRITABLE: 0x000ccfff,
  /** xAPIC: ICR high holds the destination in bits 31:24. */
  XAPIC_HI_WRITABLE: 0xff000000,
  /**
   * x2APIC: reserved bits of the low half. SDM Vol 3A 11.12.9 ICR Operation in x2APIC Mode (Figure 11-28):
   * bits 12 (delivery status is gone), 13, 16-17 and 20-31 are reserved.
   */
  X2APIC_LO_RESERVED: 0xfff33000,
} as const;

/** ICR destination shorthand. SDM Vol 3A 11.6.1. */
export enum Shorthand {
  NONE = 0,
  SELF = 1,
  ALL = 2,
  OTHERS = 3,
}

/** Delivery modes of the ICR, LVT, I/O APIC and MSI. SDM Vol 3A 11.6.1 and 11.5.1. */
export enum DeliveryMode {
  FIXED = 0,
  LOWEST = 1,
  SMI = 2,
  REMOTE_READ = 3,
  NMI = 4,
  INIT = 5,
  STARTUP = 6,
  EXTINT = 7,
}

/** Delivery-mode names in code order (the one table: ICR, LVT, I/O APIC redirection entries and MSI data). */
export const DELIVERY_MODE_NAMES = ['fixed', 'lowest', 'smi', 'remote-read', 'nmi', 'init', 'sipi', 'extint'] as const;
export type DeliveryModeName = (typeof DELIVERY_MODE_NAMES)[number];

/** The delivery-mode field value of a mode's name. */
export function deliveryMode(name: DeliveryModeName): DeliveryMode {
  return DELIVERY_MODE_NAMES.indexOf(name) as DeliveryMode;
}

/** SDM Vol 3A 11.5.4 APIC Timer, Figure 11-10 Divide Configuration Register: bits 0,1,3. */
export function timerDivisor(dcr: number): number {
  const code = (dcr & 3) | ((dcr >> 1) & 4);
  return code === 7 ? 1 : 2 << code;
}
export const TDCR_WRITABLE = 0xb;

/**
 * SDM Vol 3A 11.4.8 Local APIC Version Register: bits 7:0 version, 23:16 max LVT entry (entries - 1),
 * bit 24 EOI-broadcast suppression supported. AMD APM Vol 2 16.3.4 APIC Version Register.
 */
export const VersionReg = {
  INTEGRATED_INTEL: 0x14,
  INTEGRATED_AMD: 0x10,
  EOI_SUPPRESSION_SUPPORTED: 1 << 24,
} as const;

export const SPURIOUS_RESET = 0xff;
export const DFR_FLAT = 0xffffffff;

/** Vectors 0-15 are illegal for fixed and lowest-priority delivery. SDM Vol 3A 11.5.2 Valid Interrupt Vectors. */
export const FIRST_LEGAL_VECTOR = 16;

/** The x2APIC broadcast destination and the xAPIC one. SDM Vol 3A 11.12.10 and 11.6.2.3. */
export const X2APIC_BROADCAST = 0xffffffff;
export const XAPIC_BROADCAST = 0xff;
