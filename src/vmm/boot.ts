// Loading a guest into RAM the way QEMU's `-kernel` does: a multiboot (v1) ELF, entered in 32-bit protected mode
// with EAX = 0x2BADB002 and EBX = the multiboot information (memory map, command line, modules: `--initrd` is the
// first module, which is how kvm-unit-tests reads its environment), or a Linux bzImage through the 64-bit boot
// protocol (Documentation/arch/x86/boot.rst: boot_params with the setup header, an e820 map, the command line and
// initrd, long mode with identity-mapped page tables, RSI = boot_params). Also the MP table (Intel MultiProcessor
// Specification 1.4, chapter 4) that tells Linux about the CPUs and the I/O APIC. Pure functions over the RAM bytes.

import { IOAPIC_BASE } from './irqchip.js';

export class BootError extends Error {}

/** The BSP's state at entry. */
export interface EntryState {
  mode: 'protected32' | 'long64';
  rip: number;
  rax: number;
  rbx: number;
  rsi: number;
  /** Flat code and data selectors in the GDT at `gdtBase`. */
  cs: number;
  ds: number;
  gdtBase: number;
  gdtLimit: number;
  /** long64: the PML4. */
  cr3: number;
}

/** Fixed low-memory layout (all below the 640 KiB a PC leaves to software). */
const GDT_AT = 0x500;
const PML4_AT = 0x9000;
const ZERO_PAGE_AT = 0x7000;
const CMDLINE_AT = 0x20000;
const MPTABLE_AT = 0x9fc00;
const LOW_RAM_END = 0x9fc00;

const MB_MAGIC = 0x1badb002;
export const MB_BOOTLOADER_MAGIC = 0x2badb002;
/** Multiboot 1 spec 3.3 Boot information format: mem_*, cmdline, mods, mmap valid. */
const MBI_MEM = 1 << 0, MBI_CMDLINE = 1 << 2, MBI_MODS = 1 << 3, MBI_MMAP = 1 << 6;

export interface E820 {
  addr: number;
  size: number;
  /** 1 = usable RAM, 2 = reserved. */
  type: 1 | 2;
}

/** The memory map: low RAM, the EBDA page (holding the MP table) and BIOS area reserved, RAM from 1 MiB. */
export function e820Map(ramBytes: number): E820[] {
  return [
    { addr: 0, size: LOW_RAM_END, type: 1 },
    { addr: LOW_RAM_END, size: 0xa0000 - LOW_RAM_END, type: 2 },
    { addr: 0xf0000, size: 0x10000, type: 2 },
    { addr: 0x100000, size: ramBytes - 0x100000, type: 1 },
  ];
}

class Ram {
  readonly v: DataView;
  constructor(readonly b: Uint8Array) {
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  check(at: number, n: number, what: string): void {
    if (at < 0 || n < 0 || at + n > this.b.length) throw new BootError(`${what} (0x${at.toString(16)}..0x${(at + n).toString(16)}) does not fit in ${this.b.length >> 20} MiB of RAM`);
  }
  put(at: number, bytes: Uint8Array, what: string): void {
    this.check(at, bytes.length, what);
    this.b.set(bytes, at);
  }
  u8(at: number, v: number): void { this.v.setUint8(at, v); }
  u16(at: number, v: number): void { this.v.setUint16(at, v, true); }
  u32(at: number, v: number): void { this.v.setUint32(at, v >>> 0, true); }
  u64(at: number, v: number): void {
    this.v.setUint32(at, v % 0x100000000, true);
    this.v.setUint32(at + 4, Math.floor(v / 0x100000000), true);
  }
  cstr(at: number, s: string): number {
    const b = new TextEncoder().encode(s + '\0');
    this.put(at, b, 'a command line');
    return at + b.length;
  }
}

/** A GDT: null, then flat code32 (0x08), data (0x10), code64 (0x18), data (0x20), as the entry state selects. */
function writeGdt(ram: Ram): void {
  const entries = [0, 0x00cf9b000000ffffn, 0x00cf93000000ffffn, 0x00af9b000000ffffn, 0x00cf93000000ffffn];
  entries.forEach((e, i) => ram.v.setBigUint64(GDT_AT + i * 8, BigInt(e), true));
}

const align = (v: number, a: number): number => Math.ceil(v / a) * a;

export interface MultibootImage {
  entry: number;
  /** The first byte after the image (ELF memsz included). */
  end: number;
}

/** Is this a multiboot v1 image? (The header is in the first 8192 bytes, 4-byte aligned: spec 3.1.1.) */
export function findMultibootHeader(image: Uint8Array): number {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let at = 0; at + 12 <= Math.min(image.length, 8192); at += 4) {
    const magic = v.getUint32(at, true), flags = v.getUint32(at + 4, true), sum = v.getUint32(at + 8, true);
    if (magic === MB_MAGIC && ((magic + flags + sum) >>> 0) === 0) return at;
  }
  return -1;
}

/** Load the ELF's PT_LOAD segments at their physical addresses (ELF32 or ELF64, little-endian x86). */
export function loadElf(image: Uint8Array, ram: Uint8Array): MultibootImage {
  const r = new Ram(ram);
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < 52 || v.getUint32(0) !== 0x7f454c46) throw new BootError('not an ELF file');
  const cls = image[4];
  if ((cls !== 1 && cls !== 2) || image[5] !== 1) throw new BootError('not a little-endian ELF32 or ELF64 file');
  const is64 = cls === 2;
  const num = (at: number): number => (is64 ? Number(v.getBigUint64(at, true)) : v.getUint32(at, true));
  const entry = num(24);
  const phoff = num(is64 ? 32 : 28);
  const phentsize = v.getUint16(is64 ? 54 : 42, true), phnum = v.getUint16(is64 ? 56 : 44, true);
  if (phoff + phnum * phentsize > image.length) throw new BootError('ELF program headers are cut short');
  let end = 0, loaded = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (v.getUint32(ph, true) !== 1) continue; // PT_LOAD
    const offset = num(ph + (is64 ? 8 : 4)), paddr = num(ph + (is64 ? 24 : 12));
    const filesz = num(ph + (is64 ? 32 : 16)), memsz = num(ph + (is64 ? 40 : 20));
    if (offset + filesz > image.length || filesz > memsz) throw new BootError(`ELF segment ${i} is cut short`);
    r.check(paddr, memsz, `ELF segment ${i}`);
    ram.set(image.subarray(offset, offset + filesz), paddr);
    ram.fill(0, paddr + filesz, paddr + memsz);
    end = Math.max(end, paddr + memsz);
    loaded++;
  }
  if (loaded === 0) throw new BootError('the ELF file has no loadable segment');
  return { entry, end };
}

export interface MultibootOptions {
  /** The image's name: the command line QEMU passes is `NAME ARGS`. */
  name: string;
  append?: string;
  initrd?: Uint8Array;
}

/** Multiboot v1 (spec 3.2 Machine state, 3.3 Boot information format): load, then the state at entry. */
export function loadMultiboot(image: Uint8Array, ram: Uint8Array, opts: MultibootOptions): EntryState {
  const hdr = findMultibootHeader(image);
  if (hdr < 0) throw new BootError('no multiboot header in the first 8 KiB');
  const flags = new DataView(image.buffer, image.byteOffset).getUint32(hdr + 4, true);
  if (flags & (1 << 16)) throw new BootError('multiboot a.out kludge (flag 16) images are not supported; give an ELF');
  const r = new Ram(ram);
  const { entry, end } = loadElf(image, ram);
  // QEMU (hw/i386/multiboot.c) puts the modules, their names and the information right after the image.
  let at = align(end, 0x1000);
  let modStart = 0, modEnd = 0;
  if (opts.initrd) {
    modStart = at;
    r.put(at, opts.initrd, 'the initrd module');
    modEnd = at + opts.initrd.length;
    at = align(modEnd, 0x1000);
  }
  const cmdline = at;
  at = align(r.cstr(at, opts.append ? `${opts.name} ${opts.append}` : opts.name), 16);
  const modName = at;
  at = align(r.cstr(at, opts.name), 16);
  const mods = at;
  if (opts.initrd) {
    r.check(at, 16, 'the module list');
    r.u32(at, modStart);
    r.u32(at + 4, modEnd);
    r.u32(at + 8, modName);
    r.u32(at + 12, 0);
    at += 16;
  }
  const mmap = at, map = e820Map(ram.length);
  r.check(at, map.length * 24, 'the memory map');
  for (const e of map) {
    r.u32(at, 20); // size of the entry after this field
    r.u64(at + 4, e.addr);
    r.u64(at + 12, e.size);
    r.u32(at + 20, e.type);
    at += 24;
  }
  const mbi = align(at, 16);
  r.check(mbi, 88, 'the multiboot information');
  ram.fill(0, mbi, mbi + 88);
  r.u32(mbi, MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP);
  r.u32(mbi + 4, 640);
  r.u32(mbi + 8, (ram.length - 0x100000) >> 10);
  r.u32(mbi + 16, cmdline);
  r.u32(mbi + 20, opts.initrd ? 1 : 0);
  r.u32(mbi + 24, mods);
  r.u32(mbi + 44, map.length * 24);
  r.u32(mbi + 48, mmap);
  writeGdt(r);
  return { mode: 'protected32', rip: entry, rax: MB_BOOTLOADER_MAGIC, rbx: mbi, rsi: 0, cs: 0x08, ds: 0x10, gdtBase: GDT_AT, gdtLimit: 5 * 8 - 1, cr3: 0 };
}

// ---- Linux bzImage, 64-bit boot protocol ---------------------------------------------------------------------------

/** Offsets in the setup header / boot_params (Documentation/arch/x86/boot.rst, zero-page.rst). */
const BP = {
  E820_ENTRIES: 0x1e8, SETUP_SECTS: 0x1f1, BOOT_FLAG: 0x1fe, JUMP: 0x200, HEADER: 0x202, VERSION: 0x206,
  TYPE_OF_LOADER: 0x210, LOADFLAGS: 0x211, RAMDISK_IMAGE: 0x218, RAMDISK_SIZE: 0x21c, CMD_LINE_PTR: 0x228,
  INITRD_ADDR_MAX: 0x22c, KERNEL_ALIGNMENT: 0x230, RELOCATABLE: 0x234, XLOADFLAGS: 0x236, CMDLINE_SIZE: 0x238,
  PREF_ADDRESS: 0x258, INIT_SIZE: 0x260, E820_TABLE: 0x2d0,
} as const;
const XLF_KERNEL_64 = 1 << 0;

export interface LinuxOptions {
  append?: string;
  initrd?: Uint8Array;
}

export function isBzImage(image: Uint8Array): boolean {
  if (image.length < 0x264) return false;
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return v.getUint16(BP.BOOT_FLAG, true) === 0xaa55 && v.getUint32(BP.HEADER, true) === 0x53726448; // "HdrS"
}

/** Load a bzImage for the 64-bit boot protocol (boot.rst "64-bit BOOT PROTOCOL"). */
export function loadBzImage(image: Uint8Array, ram: Uint8Array, opts: LinuxOptions): EntryState {
  if (!isBzImage(image)) throw new BootError('not a Linux bzImage (no HdrS setup header)');
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const version = v.getUint16(BP.VERSION, true);
  if (version < 0x20c || !(v.getUint16(BP.XLOADFLAGS, true) & XLF_KERNEL_64)) {
    throw new BootError(`this bzImage (boot protocol ${version >> 8}.${version & 0xff}) has no 64-bit entry point (needs 2.12 and XLF_KERNEL_64)`);
  }
  const r = new Ram(ram);
  const setupSects = image[BP.SETUP_SECTS] || 4;
  const kernelAt = (setupSects + 1) * 512;
  const pref = Number(v.getBigUint64(BP.PREF_ADDRESS, true));
  const align2 = v.getUint32(BP.KERNEL_ALIGNMENT, true) || 0x200000;
  const loadAt = pref >= 0x100000 ? pref : align(0x1000000, align2);
  const initSize = v.getUint32(BP.INIT_SIZE, true);
  r.check(loadAt, Math.max(initSize, image.length - kernelAt), 'the kernel');
  ram.set(image.subarray(kernelAt), loadAt);

  // boot_params: zeroed, then the setup header copied from the image (0x1F1 up to the end the jump at 0x200 gives).
  const zp = ZERO_PAGE_AT;
  ram.fill(0, zp, zp + 0x1000);
  const hdrEnd = 0x202 + image[BP.JUMP + 1];
  ram.set(image.subarray(BP.SETUP_SECTS, hdrEnd), zp + BP.SETUP_SECTS);
  r.u8(zp + BP.TYPE_OF_LOADER, 0xff);
  r.u8(zp + BP.LOADFLAGS, ram[zp + BP.LOADFLAGS] | 0x01); // LOADED_HIGH
  const cmdSize = v.getUint32(BP.CMDLINE_SIZE, true) || 255;
  const cmd = opts.append ?? '';
  if (cmd.length > cmdSize) throw new BootError(`the command line is ${cmd.length} bytes; this kernel takes ${cmdSize}`);
  r.cstr(CMDLINE_AT, cmd);
  r.u32(zp + BP.CMD_LINE_PTR, CMDLINE_AT);
  if (opts.initrd) {
    const max = Math.min(v.getUint32(BP.INITRD_ADDR_MAX, true) || 0x37ffffff, ram.length - 1);
    const at = Math.floor((max + 1 - opts.initrd.length) / 0x1000) * 0x1000;
    if (at < loadAt + initSize) throw new BootError(`the initrd (${opts.initrd.length} bytes) does not fit above the kernel; give more --mem`);
    r.put(at, opts.initrd, 'the initrd');
    r.u32(zp + BP.RAMDISK_IMAGE, at);
    r.u32(zp + BP.RAMDISK_SIZE, opts.initrd.length);
  }
  const map = e820Map(ram.length);
  r.u8(zp + BP.E820_ENTRIES, map.length);
  map.forEach((e, i) => {
    const at = zp + BP.E820_TABLE + i * 20;
    r.u64(at, e.addr);
    r.u64(at + 8, e.size);
    r.u32(at + 16, e.type);
  });
  writeGdt(r);
  writeIdentityPageTables(r);
  return { mode: 'long64', rip: loadAt + 0x200, rax: 0, rbx: 0, rsi: zp, cs: 0x18, ds: 0x20, gdtBase: GDT_AT, gdtLimit: 5 * 8 - 1, cr3: PML4_AT };
}

/** 4 GiB identity-mapped with 2 MiB pages: PML4 at 0x9000, PDPT at 0xA000, four page directories from 0xB000. */
function writeIdentityPageTables(r: Ram): void {
  r.b.fill(0, PML4_AT, PML4_AT + 6 * 0x1000);
  r.u64(PML4_AT, (PML4_AT + 0x1000) | 3);
  for (let i = 0; i < 4; i++) {
    const pd = PML4_AT + 0x2000 + i * 0x1000;
    r.u64(PML4_AT + 0x1000 + i * 8, pd | 3);
    for (let j = 0; j < 512; j++) r.u64(pd + j * 8, (i * 512 + j) * 0x200000 + 0x83); // present, writable, 2 MiB
  }
}

// ---- MP table ------------------------------------------------------------------------------------------------------

export interface MpTableOptions {
  apicIds: readonly number[];
  ioapicId: number;
  /** I/O APIC pins (24). */
  pins: number;
}

/**
 * MultiProcessor Specification 1.4: the floating pointer (4.1) and the configuration table (4.2) with a processor
 * entry per CPU (4.3.1, the first is the BSP), an ISA bus (4.3.2), the I/O APIC (4.3.3), an I/O interrupt entry per
 * ISA IRQ 0-15 to pin n (4.3.4; no override: pc-testdev line n is pin n) and LINT0 ExtINT / LINT1 NMI (4.3.5).
 * Written at 0x9FC00, the EBDA page the e820 map reserves, where Linux's smp_scan_config looks.
 */
export function writeMpTable(ram: Uint8Array, o: MpTableOptions): number {
  const r = new Ram(ram);
  const fp = MPTABLE_AT, tbl = fp + 16;
  const entries: number[][] = [];
  const bytes = (n: number, v: number): number[] => Array.from({ length: n }, (_, i) => Math.floor(v / 2 ** (8 * i)) & 0xff);
  o.apicIds.forEach((id, i) => entries.push([0, id, 0x14, i === 0 ? 3 : 1, ...bytes(4, 0x600), ...bytes(4, 0x201), ...bytes(8, 0)]));
  entries.push([1, 0, ...[...'ISA   '].map((c) => c.charCodeAt(0))]);
  entries.push([2, o.ioapicId, 0x20, 1, ...bytes(4, IOAPIC_BASE)]);
  for (let irq = 0; irq < 16; irq++) entries.push([3, 0, 0, 0, 0, irq, o.ioapicId, irq]);
  entries.push([4, 3, 0, 0, 0, 0, 0xff, 0]);
  entries.push([4, 1, 0, 0, 0, 0, 0xff, 1]);
  const body = entries.flat();
  const len = 44 + body.length;
  r.check(fp, 16 + len, 'the MP table');
  ram.fill(0, fp, fp + 16 + len);
  ram.set([...'PCMP'].map((c) => c.charCodeAt(0)), tbl);
  r.u16(tbl + 4, len);
  r.u8(tbl + 6, 4); // spec revision 1.4
  ram.set([...'LAPIS   LAPIS-VMM   '].map((c) => c.charCodeAt(0)), tbl + 8);
  r.u16(tbl + 34, entries.length);
  r.u32(tbl + 36, 0xfee00000);
  ram.set(body, tbl + 44);
  ram[tbl + 7] = checksum(ram.subarray(tbl, tbl + len));
  ram.set([...'_MP_'].map((c) => c.charCodeAt(0)), fp);
  r.u32(fp + 4, tbl);
  r.u8(fp + 8, 1); // length in 16-byte units
  r.u8(fp + 9, 4);
  ram[fp + 10] = checksum(ram.subarray(fp, fp + 16));
  return fp;
}

/** The byte that makes the sum of `b` zero (the byte's own slot must hold 0). */
function checksum(b: Uint8Array): number {
  let s = 0;
  for (const x of b) s = (s + x) & 0xff;
  return (0x100 - s) & 0xff;
}
