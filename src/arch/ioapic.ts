// I/O APIC architectural constants: MMIO offsets, register indices and bit layouts.
// "82093AA" is the Intel 82093AA I/O APIC datasheet (290566-001); "ICH" is the I/O APIC chapter of the
// ICH2..ICH10 datasheets (82801xx, LPC Interface Bridge Registers, "Advanced Programmable Interrupt
// Controller"), whose I/O(x)APIC has version 0x20 and an EOI register.

/** The I/O APIC's default base address (82093AA 3.0: FEC0_0000h; the PC's as firmware leaves it). */
export const IOAPIC_DEFAULT_BASE = 0xfec00000;

/** Memory-mapped registers, offsets from the I/O APIC base. 82093AA 3.1; ICH APIC direct registers (EOI). */
export const IoApicMmio = {
  /** 82093AA 3.1.1 IOREGSEL: bits 7:0 select the indirect register, 31:8 reserved. */
  IOREGSEL: 0x00,
  /** 82093AA 3.1.2 IOWIN: data window onto the register IOREGSEL selects. */
  IOWIN: 0x10,
  /** ICH EOIR (FEC0_0040h): write-only, bits 7:0 a vector; only I/O(x)APICs of version 0x20 have it. */
  EOI: 0x40,
  /** The device decodes only the low address byte (QEMU and KVM alias the 256-byte block over the 4K page). */
  DECODE_MASK: 0xff,
  /** Size of the MMIO window. MP Specification 1.4: I/O APICs are mapped on 4K boundaries. */
  WINDOW_SIZE: 0x1000,
} as const;

/** 82093AA 3.1.1 IOREGSEL: only bits 7:0 are implemented. */
export const IOREGSEL_MASK = 0xff;

/** Indirect register indices (the value written to IOREGSEL). 82093AA 3.2, Table 2. */
export const IoApicReg = {
  /** 82093AA 3.2.1 IOAPICID. */
  ID: 0x00,
  /** 82093AA 3.2.2 IOAPICVER. */
  VER: 0x01,
  /** 82093AA 3.2.3 IOAPICARB. */
  ARB: 0x02,
  /** 82093AA 3.2.4 IOREDTBL[n]: index 0x10 + 2n is bits 31:0, 0x11 + 2n is bits 63:32. */
  REDTBL_BASE: 0x10,
} as const;

/** 82093AA 3.2.1 IOAPICID: bits 27:24 hold the 4-bit ID, the rest is reserved. */
export const IoApicId = {
  SHIFT: 24,
  MASK: 0x0f000000,
} as const;

/** 82093AA 3.2.2 IOAPICVER: bits 7:0 version, bits 23:16 maximum redirection entry (pins - 1). */
export const IoApicVer = {
  MAX_REDIR_SHIFT: 16,
  /** 82093AA 3.2.2: "The version number assigned to the IOAPIC is 11h". */
  V82093AA: 0x11,
  /** ICH VER register: 20h, an I/O(x)APIC with the EOI register (Linux io_apic.c: "2Xh ... PCI 2.2 Compliant"). */
  IOXAPIC: 0x20,
} as const;

/** 82093AA 3.2.3 IOAPICARB: bits 27:24 hold the 4-bit arbitration ID. */
export const IoApicArb = {
  SHIFT: 24,
  MASK: 0x0f000000,
} as const;

/** 82093AA 3.2.4 IOREDTBL: 24 entries, maximum redirection entry 17h. */
export const IOAPIC_PINS = 24;

/** Fields of the low dword (bits 31:0) of a redirection table entry. 82093AA 3.2.4. */
export const Redir = {
  /** Bits 7:0 INTVEC. */
  VECTOR: 0xff,
  /** Bits 10:8 DELMOD. */
  DELIVERY_MODE_SHIFT: 8,
  DELIVERY_MODE_MASK: 0x700,
  /** Bit 11 DESTMOD: 0 physical, 1 logical. */
  DEST_LOGICAL: 1 << 11,
  /** Bit 12 DELIVS (RO): 1 = send pending. */
  DELIVERY_STATUS: 1 << 12,
  /** Bit 13 INTPOL: 0 high active, 1 low active. */
  POLARITY_LOW: 1 << 13,
  /** Bit 14 Remote IRR (RO). */
  REMOTE_IRR: 1 << 14,
  /** Bit 15 trigger mode: 1 level, 0 edge. */
  TRIGGER_LEVEL: 1 << 15,
  /** Bit 16 interrupt mask. */
  MASKED: 1 << 16,
  /** Bits 16:0 minus the read-only DELIVS and Remote IRR; bits 31:17 (of 55:17) are reserved. */
  LO_WRITABLE: 0x0001afff,
  /** Bits 63:56 Destination, i.e. bits 31:24 of the high dword; bits 55:32 are reserved. */
  DEST_SHIFT: 24,
  HI_WRITABLE: 0xff000000,
  /** 82093AA 3.2.4: default value xxx1 xxxx xxxx xxxxh, i.e. masked. */
  RESET_LO: 1 << 16,
  RESET_HI: 0,
} as const;
