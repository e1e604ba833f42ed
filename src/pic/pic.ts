// A minimal 8259A: one controller (the PC's master, ports 20h/21h; no cascade), fully nested priority, edge or level
// inputs, the initialization sequence (ICW1-ICW4), the mask (OCW1), EOI (OCW2) and the IRR/ISR read select (OCW3).
// Enough for ExtINT to be delivered and acknowledged (INTA) through LINT0 or I/O APIC pin 0. "8259A" is the Intel
// 8259A datasheet; decision D-35 says what is left out.

import { HostError, checkU32 } from '../arch/errors.js';
import { Icw1, Icw4, Ocw, PIC_INPUTS, PIC_SPURIOUS_IRQ, PIC_VECTOR_BASE_MASK } from '../arch/pic.js';
import { put, putFill } from '../arch/writes.js';

/** Word offsets of the state, relative to `base`. */
const W = {
  IRR: 0,
  ISR: 1,
  IMR: 2,
  /** Input levels, bit n = IRn high. */
  LINES: 3,
  /** ICW2's T7-T3. */
  BASE: 4,
  /** The initialization step (bits 1:0: 0 done, 1 ICW2, 2 ICW3, 3 ICW4) and the mode bits below. */
  MODE: 5,
} as const;
const M = { STEP: 3, SNGL: 1 << 2, IC4: 1 << 3, LTIM: 1 << 4, AEOI: 1 << 5, READ_ISR: 1 << 6 } as const;

/** The vector base a PC's firmware gives the master 8259A (IBM PC/AT: INT 08h-0Fh). */
export const FIRMWARE_VECTOR_BASE = 0x08;

export class Pic {
  static readonly WORDS = 6;

  constructor(private readonly s: Uint32Array, private readonly b: number, private readonly onChange: () => void) {
    if (!Number.isInteger(b) || b < 0 || b + Pic.WORDS > s.length) throw new HostError('bad-argument', `the 8259A needs ${Pic.WORDS} words at ${b}`);
  }

  /**
   * Power-up, as a PC's firmware leaves the master (decision D-35): initialized, edge-triggered, vectors 08h-0Fh,
   * every input masked, reads select IRR. The input levels are the devices' and survive.
   */
  reset(): void {
    const lines = this.s[this.b + W.LINES];
    putFill(this.s, 0, this.b, this.b + Pic.WORDS);
    put(this.s, this.b + W.LINES, lines);
    put(this.s, this.b + W.BASE, FIRMWARE_VECTOR_BASE);
    put(this.s, this.b + W.IMR, 0xff);
  }

  private get mode(): number {
    return this.s[this.b + W.MODE];
  }

  /** A write to the command port (A0 = 0) or the data port (A0 = 1). */
  write(a0: 0 | 1, value: number): void {
    checkU32(value, '8259A value');
    const s = this.s, b = this.b, v = value & 0xff, mode = this.mode;
    if (a0 === 0 && (v & Icw1.IS_ICW1) !== 0) {
      // 8259A "Initialization Command Words": ICW1 clears the IMR and the edge-sense latches (IRR), selects IRR for
      // reads, and starts the sequence; without IC4 the ICW4 functions are 0.
      put(s, b + W.IMR, 0);
      put(s, b + W.ISR, 0);
      put(s, b + W.IRR, (v & Icw1.LTIM) !== 0 ? s[b + W.LINES] & 0xff : 0);
      put(s, b + W.MODE, 1 | (v & Icw1.SNGL ? M.SNGL : 0) | (v & Icw1.IC4 ? M.IC4 : 0) | (v & Icw1.LTIM ? M.LTIM : 0));
    } else if (a0 === 1 && (mode & M.STEP) !== 0) {
      const step = mode & M.STEP;
      let next = 0;
      if (step === 1) {
        put(s, b + W.BASE, v & PIC_VECTOR_BASE_MASK);
        next = (mode & M.SNGL) === 0 ? 2 : (mode & M.IC4) !== 0 ? 3 : 0;
      } else if (step === 2) {
        next = (mode & M.IC4) !== 0 ? 3 : 0; // ICW3: the cascade wiring, which has no effect here
      } else if ((v & Icw4.AEOI) !== 0) {
        put(s, b + W.MODE, s[b + W.MODE] | M.AEOI);
      }
      put(s, b + W.MODE, (s[b + W.MODE] & ~M.STEP) | next);
    } else if (a0 === 1) {
      put(s, b + W.IMR, v); // OCW1
    } else if ((v & Ocw.KIND_MASK) === Ocw.OCW3) {
      const rd = v & Ocw.OCW3_READ_MASK;
      if (rd === Ocw.READ_IRR) put(s, b + W.MODE, s[b + W.MODE] & ~M.READ_ISR);
      else if (rd === Ocw.READ_ISR) put(s, b + W.MODE, s[b + W.MODE] | M.READ_ISR);
    } else if ((v & Ocw.KIND_MASK) === Ocw.OCW2) {
      const cmd = v & Ocw.OCW2_CMD_MASK;
      if (cmd === Ocw.NONSPECIFIC_EOI) {
        const isr = s[b + W.ISR];
        if (isr !== 0) put(s, b + W.ISR, isr & (isr - 1)); // the highest priority in service: the lowest IR number
      } else if (cmd === Ocw.SPECIFIC_EOI) {
        put(s, b + W.ISR, s[b + W.ISR] & ~(1 << (v & 7)));
      }
    }
    this.onChange();
  }

  /** A read of the command port (IRR or ISR, as OCW3 selected) or the data port (IMR). */
  read(a0: 0 | 1): number {
    if (a0 === 1) return this.s[this.b + W.IMR];
    return this.s[this.b + ((this.mode & M.READ_ISR) !== 0 ? W.ISR : W.IRR)];
  }

  /**
   * Drive input IRn. Edge mode: a rising edge sets the IRR bit, which stays until INTA (as QEMU's i8259 keeps it); level
   * mode (ICW1 LTIM): the IRR bit follows the level.
   */
  setInput(irq: number, high: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq >= PIC_INPUTS) throw new HostError('bad-argument', `8259A input must be 0..${PIC_INPUTS - 1}, got ${irq}`);
    const s = this.s, b = this.b, bit = 1 << irq;
    const was = (s[b + W.LINES] & bit) !== 0;
    if (was === high) return;
    put(s, b + W.LINES, s[b + W.LINES] ^ bit);
    if ((this.mode & M.LTIM) !== 0) put(s, b + W.IRR, high ? s[b + W.IRR] | bit : s[b + W.IRR] & ~bit);
    else if (high) put(s, b + W.IRR, s[b + W.IRR] | bit);
    this.onChange();
  }

  /** The IR level the 8259A asks the processor to service, or -1: the highest-priority unmasked request above
   *  every level in service (8259A "Fully Nested Mode": IR0 highest). */
  pending(): number {
    const s = this.s, b = this.b;
    const req = s[b + W.IRR] & ~s[b + W.IMR] & 0xff, isr = s[b + W.ISR];
    if (req === 0) return -1;
    const irq = 31 - Math.clz32(req & -req);
    const inService = isr === 0 ? PIC_INPUTS : 31 - Math.clz32(isr & -isr);
    return irq < inService ? irq : -1;
  }

  /** The INT output. */
  int(): boolean {
    return this.pending() >= 0;
  }

  /**
   * Interrupt acknowledge: the vector of the highest request, whose ISR bit is set (not in AEOI mode) and whose
   * edge-triggered IRR bit is cleared. With no request left, the 8259A answers IR7 without setting ISR
   * (8259A "Interrupt Sequence": a default IR7, the spurious interrupt).
   */
  inta(): number {
    const s = this.s, b = this.b, irq = this.pending();
    const base = s[b + W.BASE];
    if (irq < 0) {
      this.onChange();
      return base | PIC_SPURIOUS_IRQ;
    }
    const bit = 1 << irq;
    if ((this.mode & M.AEOI) === 0) put(s, b + W.ISR, s[b + W.ISR] | bit);
    if ((this.mode & M.LTIM) === 0) put(s, b + W.IRR, s[b + W.IRR] & ~bit);
    this.onChange();
    return base | irq;
  }
}
