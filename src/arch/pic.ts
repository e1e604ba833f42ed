// The 8259A Programmable Interrupt Controller: command words and bit layouts. "8259A" is the Intel 8259A datasheet
// (231468-003); port numbers are the PC's (IBM PC/AT Technical Reference: master command 20h, data 21h).

/** I/O ports of the master 8259A on a PC: A0 = 0 is the command port, A0 = 1 the data port. */
export const PIC_COMMAND = 0x20;
export const PIC_DATA = 0x21;

/** 8259A "Initialization Command Words": ICW1 is a write to A0 = 0 with D4 = 1. */
export const Icw1 = {
  /** D0 IC4: ICW4 will be written. */
  IC4: 1 << 0,
  /** D1 SNGL: single 8259A (no ICW3). */
  SNGL: 1 << 1,
  /** D3 LTIM: level triggered mode. */
  LTIM: 1 << 3,
  /** D4: this is ICW1. */
  IS_ICW1: 1 << 4,
} as const;

/** 8259A ICW4: D1 AEOI (automatic end of interrupt). */
export const Icw4 = { AEOI: 1 << 1 } as const;

/** 8259A "Operation Command Words" at A0 = 0: D4:D3 = 00 is OCW2, 01 is OCW3. */
export const Ocw = {
  KIND_MASK: 0x18,
  OCW2: 0x00,
  OCW3: 0x08,
  /** OCW2 R, SL, EOI (D7:D5): 001 non-specific EOI, 011 specific EOI (level in D2:D0). */
  OCW2_CMD_MASK: 0xe0,
  NONSPECIFIC_EOI: 0x20,
  SPECIFIC_EOI: 0x60,
  /** OCW3 RR, RIS (D1:D0): 10 read IRR, 11 read ISR on the next read of A0 = 0. */
  OCW3_READ_MASK: 0x03,
  READ_IRR: 0x02,
  READ_ISR: 0x03,
} as const;

/** 8259A: IR0..IR7, IR0 the highest priority (fully nested mode); the vector is T7-T3 of ICW2 and the IR level. */
export const PIC_INPUTS = 8;
export const PIC_VECTOR_BASE_MASK = 0xf8;
/** 8259A "Interrupt Sequence": with no request left at INTA, the 8259A answers IR7 (a spurious interrupt). */
export const PIC_SPURIOUS_IRQ = 7;
