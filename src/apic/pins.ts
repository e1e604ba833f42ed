// A local APIC's LINT0 and LINT1 input pins and the CR8 view of its TPR: functions over the APIC's words, so that
// localApic.ts keeps to the registers.

import { DeliveryMode, LvtIndex, Lvt } from '../arch/apic.js';
import { A } from './layout.js';
import type { LocalApic } from './localApic.js';

const modeOf = (lvt: number): number => (lvt & Lvt.DELIVERY_MODE_MASK) >>> Lvt.DELIVERY_MODE_SHIFT;

/**
 * Drive LINT0 (pin 0) or LINT1 (pin 1). SDM Vol 3A 11.5.1 Local Vector Table: NMI, SMI, INIT and edge-triggered
 * fixed entries act on the rising edge; a level-triggered fixed LINT0 is held by its Remote IRR until an EOI
 * (LocalApic.signalLvt, eoi); ExtINT "is always level sensitive": the 8259A's INTR, seen while the pin is high
 * (extintLine). A globally disabled APIC leaves the processor "functionally equivalent to an IA-32 processor
 * without an on-chip APIC" (SDM Vol 3A 11.4.3): LINT0 is then its INTR pin and LINT1 its NMI pin.
 */
export function setLint(apic: LocalApic, pin: 0 | 1, asserted: boolean, nmi: () => void): void {
  const bit = 1 << pin, pins = apic.word(A.LINT);
  if (((pins & bit) !== 0) === asserted) return;
  apic.setWord(A.LINT, pins ^ bit);
  if (!asserted) return;
  if (!apic.globallyEnabled()) {
    if (pin === 1) nmi();
    return;
  }
  const i = pin === 0 ? LvtIndex.LINT0 : LvtIndex.LINT1;
  if (modeOf(apic.word(A.LVT + i)) !== DeliveryMode.EXTINT) apic.signalLvt(i);
}

/** The level of LINT0 (pin 0) or LINT1 (pin 1). */
export function lintLevel(apic: LocalApic, pin: 0 | 1): boolean {
  return (apic.word(A.LINT) & (1 << pin)) !== 0;
}

/**
 * Whether the 8259A's INTR reaches the processor through a pin: an unmasked ExtINT entry whose pin is high
 * (its vector field is returned), or, with the APIC globally disabled, LINT0 high (0). -1: no.
 */
export function extintLine(apic: LocalApic): number {
  const pins = apic.word(A.LINT);
  if (pins === 0) return -1;
  if (!apic.globallyEnabled()) return (pins & 1) !== 0 ? 0 : -1;
  for (const i of [LvtIndex.LINT0, LvtIndex.LINT1]) {
    const lvt = apic.word(A.LVT + i);
    if ((pins & (1 << (i - LvtIndex.LINT0))) === 0 || (lvt & Lvt.MASKED) !== 0) continue;
    if (modeOf(lvt) === DeliveryMode.EXTINT) return lvt & Lvt.VECTOR;
  }
  return -1;
}

/** MOV from CR8: TPR[7:4]. SDM Vol 3A 11.8.6.1 Interaction of Task Priorities between CR8 and APIC. */
export function readCr8(apic: LocalApic): number {
  return (apic.word(A.TPR) & 0xff) >>> 4;
}

/** MOV to CR8: TPR[7:4] = CR8[3:0], TPR[3:0] = 0 (SDM Vol 3A 11.8.6.1); false (#GP) when bits 63:4 are set. The
 *  TPR is reached whatever the APIC's mode (decision D-30). */
export function writeCr8(apic: LocalApic, value: bigint): boolean {
  if (value < 0n || value > 0xfn) return false;
  apic.setWord(A.TPR, Number(value) << 4);
  return true;
}
