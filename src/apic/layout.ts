import { put } from '../arch/writes.js';
// Word offsets of one local APIC inside the machine's state array. Everything the APIC is lives here;
// derived registers (APR, PPR, current count, x2APIC LDR, delivery status) are computed, never stored.

export const A = {
  /** IA32_APIC_BASE, low and high halves. */
  BASE_LO: 0,
  BASE_HI: 1,
  /** The APIC ID (xAPIC: the 8-bit ID of ID[31:24]; x2APIC: the 32-bit x2APIC ID). */
  ID: 2,
  /** The hardware-assigned initial APIC ID (CPUID); RESET and x2APIC mode restore it. */
  INITIAL_ID: 3,
  TPR: 4,
  LDR: 5,
  DFR: 6,
  SVR: 7,
  ISR: 8,
  TMR: 16,
  IRR: 24,
  /** ESR as software last read it, and the errors latched since the last ESR write. */
  ESR: 32,
  ESR_LATCH: 33,
  LVT: 34,
  ICR_LO: 41,
  ICR_HI: 42,
  TMICT: 43,
  TDCR: 44,
  /** The virtual time at which the count was last loaded, and the count loaded then. */
  TIMER_START_LO: 45,
  TIMER_START_HI: 46,
  TIMER_BASE: 47,
  TSC_DEADLINE_LO: 48,
  TSC_DEADLINE_HI: 49,
  /** The levels of the LINT0 (bit 0) and LINT1 (bit 1) input pins: driven from outside, kept across RESET and INIT. */
  LINT: 50,
  WORDS: 51,
} as const;

export const TWO32 = 0x100000000;

export function get64(s: Uint32Array, i: number): number {
  return s[i + 1] * TWO32 + s[i];
}
export function set64(s: Uint32Array, i: number, v: number): void {
  put(s, i, v >>> 0);
  put(s, i + 1, Math.floor(v / TWO32));
}

/** The 64-bit value of the two words at i (low word first). Most are below 2^32: one BigInt, not four. */
export function get64n(s: Uint32Array, i: number): bigint {
  const hi = s[i + 1];
  return hi === 0 ? BigInt(s[i]) : (BigInt(hi) << 32n) | BigInt(s[i]);
}
/** Write v modulo 2^64 into the two words at i; a value in [0, 2^32) without BigInt arithmetic. */
export function set64n(s: Uint32Array, i: number, v: bigint): void {
  if (v >= 0n && v <= 0xffffffffn) {
    put(s, i, Number(v));
    put(s, i + 1, 0);
    return;
  }
  put(s, i, Number(v & 0xffffffffn));
  put(s, i + 1, Number((v >> 32n) & 0xffffffffn));
}
