// A catalog guest's disk image as `lapis vmm` boots it. The image (src/backends/build.ts) is a boot sector that has
// the BIOS read sectors 1..127 (stage 2, linked at STAGE2_BASE), enables A20, enters 32-bit protected mode with flat
// segments and jumps to stage 2's first byte (guest/runtime.asm, `boot_sector`). lapis vmm has no BIOS; it boots a
// multiboot ELF the way QEMU's -kernel does, which leaves the CPU in that same state (Multiboot 1 spec 3.2 "Machine
// state": 32-bit protected mode, flat code and data segments, A20 enabled, IF = 0). So the lapis-vmm backend
// wraps stage 2 in an ELF32 whose one PT_LOAD puts it at STAGE2_BASE, entered at its first byte, with a multiboot
// header in the file's first 8 KiB: the boot sector's job, done by the loader. Stage 2 sets up its own GDT, stack
// and IDT (`stage2_entry`), so it does not depend on which of the two brought it there.

import { MB_MAGIC } from '../vmm/boot.js';
import { MAX_STAGE2_BYTES } from './guest-abi.js';

/** Where the boot sector copies stage 2 and where it is linked (guest/lapis.inc STAGE2_BASE). */
export const STAGE2_BASE = 0x100000;
/** Stage 2 starts at the disk's second sector. */
const STAGE2_OFFSET = 512;

export class GuestImageError extends Error {
  override name = 'GuestImageError';
}

const ELF_HEADER = 52, PHDR = 32, MB_HEADER = 12;
/** The segment's bytes start here in the file (4-byte aligned, after the headers). */
const DATA_AT = 128;

/** The multiboot ELF that boots `disk`'s stage 2 as its boot sector would. Throws GuestImageError for a disk that is
 *  not a guest image (no boot signature, or too short to hold stage 2). */
export function stage2Elf(disk: Uint8Array): Uint8Array {
  if (disk.length < STAGE2_OFFSET + MAX_STAGE2_BYTES) {
    throw new GuestImageError(`a guest disk image holds a boot sector and ${MAX_STAGE2_BYTES} bytes of stage 2; this one has ${disk.length} bytes`);
  }
  if (disk[510] !== 0x55 || disk[511] !== 0xaa) throw new GuestImageError('not a guest disk image: no boot signature (0x55 0xAA) at byte 510');
  return flatElf(disk.subarray(STAGE2_OFFSET, STAGE2_OFFSET + MAX_STAGE2_BYTES), STAGE2_BASE);
}

/** A multiboot ELF32 that loads the flat binary `code` at `base` and enters it at its first byte. */
export function flatElf(code: Uint8Array, base: number): Uint8Array {
  const elf = new Uint8Array(DATA_AT + code.length);
  const v = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0); // ELF, 32-bit, little-endian, version 1 (System V ABI 4.1 "ELF Header")
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(20, 1, true); // EV_CURRENT
  v.setUint32(24, base, true); // e_entry: the first byte (stage 2's: where the boot sector jumps)
  v.setUint32(28, ELF_HEADER, true); // e_phoff
  v.setUint16(40, ELF_HEADER, true); // e_ehsize
  v.setUint16(42, PHDR, true); // e_phentsize
  v.setUint16(44, 1, true); // e_phnum
  const ph = ELF_HEADER;
  v.setUint32(ph, 1, true); // PT_LOAD
  v.setUint32(ph + 4, DATA_AT, true); // p_offset
  v.setUint32(ph + 8, base, true); // p_vaddr
  v.setUint32(ph + 12, base, true); // p_paddr: where a multiboot loader puts it
  v.setUint32(ph + 16, code.length, true); // p_filesz (stage 2: every sector the boot sector copies)
  v.setUint32(ph + 20, code.length, true); // p_memsz
  v.setUint32(ph + 24, 7, true); // PF_R | PF_W | PF_X
  v.setUint32(ph + 28, 4, true); // p_align
  // Multiboot 1 spec 3.1.1: the header within the first 8192 bytes, 32-bit aligned; flags 0 (bit 16 clear: the
  // loader reads the ELF's program headers).
  const mb = ph + PHDR;
  v.setUint32(mb, MB_MAGIC, true);
  v.setUint32(mb + 4, 0, true);
  v.setUint32(mb + 8, (0x100000000 - MB_MAGIC) >>> 0, true);
  if (mb + MB_HEADER > DATA_AT) throw new Error('stage2Elf: the headers overlap the segment');
  elf.set(code, DATA_AT);
  return elf;
}
