// Loading a guest the way QEMU's `-kernel` does: a multiboot (v1) ELF, entered in 32-bit protected mode with EAX =
// 0x2BADB002 and EBX = the multiboot information (memory map, command line, modules: `--initrd` is the first module,
// which is how kvm-unit-tests reads its environment), or a Linux bzImage through the 64-bit boot protocol
// (Documentation/arch/x86/boot.rst: boot_params with the setup header, an e820 map, the command line and initrd,
// long mode with identity-mapped page tables, RSI = boot_params). Also the MP table (Intel MultiProcessor
// Specification 1.4, chapter 4) that tells Linux about the CPUs and the I/O APIC.
//
// Planning is pure: `planBoot` reads the image and returns the chunks to write and the BSP's entry state, checking
// that every chunk fits in RAM and that no two overlap, so a malformed image is refused before KVM is touched.
// `place` writes a plan into guest RAM.

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

/** `size` bytes at guest-physical `at`: `bytes` first, zeros after (an ELF segment's bss, a kernel's init_size). */
export interface Chunk {
  at: number;
  size: number;
  bytes: Uint8Array;
  what: string;
}

export interface BootPlan {
  kind: 'multiboot' | 'bzimage';
  entry: EntryState;
  chunks: Chunk[];
}

export interface BootOptions {
  /** The image's name: a multiboot command line is `NAME ARGS`, as QEMU passes it. */
  name: string;
  ramBytes: number;
  append?: string;
  initrd?: Uint8Array;
  /** The CPUs' APIC IDs, the BSP first (the MP table). */
  apicIds: readonly number[];
}

/** Fixed low-memory layout (all below the 640 KiB a PC leaves to software). */
export const Layout = {
  GDT: 0x500,
  ZERO_PAGE: 0x7000,
  PML4: 0x9000,
  CMDLINE: 0x20000,
  /** The MP floating pointer (in the EBDA page) and the configuration table (in the BIOS area). */
  MP_FLOATING: 0x9fc00,
  MP_CONFIG: 0xf0000,
  LOW_RAM_END: 0x9fc00,
} as const;

/** Multiboot 1 spec 3.1.2: the header's magic field. */
export const MB_MAGIC = 0x1badb002;
export const MB_BOOTLOADER_MAGIC = 0x2badb002;
/** Multiboot 1 spec 3.3 Boot information format: mem_*, cmdline, mods, mmap valid. */
export const MBI_MEM = 1 << 0, MBI_CMDLINE = 1 << 2, MBI_MODS = 1 << 3, MBI_MMAP = 1 << 6;
const MBI_SIZE = 88;

/**
 * The GDT: null, flat code32 (0x08), flat code64 (0x10), flat data (0x18). Multiboot spec 3.2 wants a 32-bit
 * read/execute CS and read/write data segments, selectors unspecified; boot.rst's 64-bit protocol wants __BOOT_CS
 * (0x10) execute/read and __BOOT_DS (0x18) read/write, both 4 GiB flat.
 */
const GDT = [0n, 0x00cf9b000000ffffn, 0x00af9b000000ffffn, 0x00cf93000000ffffn];
export const Sel = { CODE32: 0x08, CODE64: 0x10, DATA: 0x18 } as const;

export interface E820 {
  addr: number;
  size: number;
  /** 1 = usable RAM, 2 = reserved. */
  type: 1 | 2;
}

/** The memory map: low RAM, the EBDA page (holding the MP table) and BIOS area reserved, RAM from 1 MiB. */
export function e820Map(ramBytes: number): E820[] {
  return [
    { addr: 0, size: Layout.LOW_RAM_END, type: 1 },
    { addr: Layout.LOW_RAM_END, size: 0xa0000 - Layout.LOW_RAM_END, type: 2 },
    { addr: 0xf0000, size: 0x10000, type: 2 },
    { addr: 0x100000, size: ramBytes - 0x100000, type: 1 },
  ];
}

/** A little-endian byte buffer being built. */
class Buf {
  readonly b: Uint8Array;
  private readonly v: DataView;
  constructor(size: number) {
    this.b = new Uint8Array(size);
    this.v = new DataView(this.b.buffer);
  }
  u8(at: number, x: number): void { this.v.setUint8(at, x); }
  u16(at: number, x: number): void { this.v.setUint16(at, x, true); }
  u32(at: number, x: number): void { this.v.setUint32(at, x >>> 0, true); }
  u64(at: number, x: number | bigint): void { this.v.setBigUint64(at, BigInt(x), true); }
  ascii(at: number, s: string): void {
    for (let i = 0; i < s.length; i++) this.b[at + i] = s.charCodeAt(i);
  }
}

const cstr = (s: string): Uint8Array => new TextEncoder().encode(s + '\0');
const align = (v: number, a: number): number => Math.ceil(v / a) * a;

function gdtChunk(): Chunk {
  const g = new Buf(GDT.length * 8);
  GDT.forEach((e, i) => g.u64(i * 8, e));
  return { at: Layout.GDT, size: g.b.length, bytes: g.b, what: 'the GDT' };
}

/** Every chunk inside RAM, none overlapping another. */
function checkChunks(chunks: Chunk[], ramBytes: number): void {
  const hex = (n: number): string => `0x${n.toString(16)}`;
  for (const c of chunks) {
    if (c.at < 0 || c.size < c.bytes.length || c.at + c.size > ramBytes) {
      throw new BootError(`${c.what} (${hex(c.at)}..${hex(c.at + c.size)}) does not fit in ${ramBytes >> 20} MiB of RAM`);
    }
  }
  const sorted = [...chunks].sort((a, b) => a.at - b.at);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1], c = sorted[i];
    if (p.at + p.size > c.at) throw new BootError(`${c.what} (at ${hex(c.at)}) overlaps ${p.what} (${hex(p.at)}..${hex(p.at + p.size)})`);
  }
}

/** Write a plan into guest RAM. */
export function place(plan: BootPlan, ram: Uint8Array): void {
  checkChunks(plan.chunks, ram.length);
  for (const c of plan.chunks) {
    ram.set(c.bytes, c.at);
    ram.fill(0, c.at + c.bytes.length, c.at + c.size);
  }
}

/** The image's kind and how to load it; a BootError says why an image cannot be booted. */
export function planBoot(image: Uint8Array, o: BootOptions): BootPlan {
  const plan = isBzImage(image) ? planBzImage(image, o) : planMultiboot(image, o);
  plan.chunks.push(...mpTable(o.apicIds, 0));
  checkChunks(plan.chunks, o.ramBytes);
  return plan;
}

// ---- multiboot ------------------------------------------------------------------------------------------------

/** Where the multiboot v1 header is (spec 3.1.1: in the first 8192 bytes, 4-byte aligned), or -1. */
export function findMultibootHeader(image: Uint8Array): number {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let at = 0; at + 12 <= Math.min(image.length, 8192); at += 4) {
    const magic = v.getUint32(at, true), flags = v.getUint32(at + 4, true), sum = v.getUint32(at + 8, true);
    if (magic === MB_MAGIC && ((magic + flags + sum) >>> 0) === 0) return at;
  }
  return -1;
}

/** The ELF's PT_LOAD segments at their physical addresses (ELF32 or ELF64, little-endian), and its entry point. */
export function elfSegments(image: Uint8Array): { entry: number; chunks: Chunk[] } {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < 52 || v.getUint32(0) !== 0x7f454c46) throw new BootError('not an ELF file');
  const cls = image[4];
  if ((cls !== 1 && cls !== 2) || image[5] !== 1) throw new BootError('not a little-endian ELF32 or ELF64 file');
  const is64 = cls === 2;
  if (is64 && image.length < 64) throw new BootError('the ELF header is cut short');
  const num = (at: number): number => (is64 ? Number(v.getBigUint64(at, true)) : v.getUint32(at, true));
  const entry = num(24);
  const phoff = num(is64 ? 32 : 28);
  const phentsize = v.getUint16(is64 ? 54 : 42, true), phnum = v.getUint16(is64 ? 56 : 44, true);
  if (phentsize < (is64 ? 56 : 32) || phoff + phnum * phentsize > image.length) throw new BootError('ELF program headers are cut short');
  const chunks: Chunk[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (v.getUint32(ph, true) !== 1) continue; // PT_LOAD
    const offset = num(ph + (is64 ? 8 : 4)), paddr = num(ph + (is64 ? 24 : 12));
    const filesz = num(ph + (is64 ? 32 : 16)), memsz = num(ph + (is64 ? 40 : 20));
    if (offset + filesz > image.length || filesz > memsz) throw new BootError(`ELF segment ${i} is cut short`);
    if (memsz > 0) chunks.push({ at: paddr, size: memsz, bytes: image.subarray(offset, offset + filesz), what: `ELF segment ${i}` });
  }
  if (chunks.length === 0) throw new BootError('the ELF file has no loadable segment');
  return { entry, chunks };
}

/** Multiboot v1 (spec 3.2 Machine state, 3.3 Boot information format). */
export function planMultiboot(image: Uint8Array, o: BootOptions): BootPlan {
  const hdr = findMultibootHeader(image);
  if (hdr < 0) throw new BootError('neither a multiboot image (no multiboot header in the first 8 KiB) nor a Linux bzImage');
  const flags = new DataView(image.buffer, image.byteOffset).getUint32(hdr + 4, true);
  if (flags & (1 << 16)) throw new BootError('multiboot a.out kludge (flag 16) images are not supported; give an ELF');
  const { entry, chunks } = elfSegments(image);
  const end = Math.max(...chunks.map((c) => c.at + c.size));
  // QEMU (hw/i386/multiboot.c) puts the modules, their names and the information right after the image.
  let at = align(end, 0x1000);
  let modStart = 0, modEnd = 0;
  if (o.initrd) {
    modStart = at;
    modEnd = at + o.initrd.length;
    chunks.push({ at, size: o.initrd.length, bytes: o.initrd, what: 'the initrd module' });
    at = align(modEnd, 0x1000);
  }
  const cmdline = cstr(o.append ? `${o.name} ${o.append}` : o.name), modName = cstr(o.name);
  const map = e820Map(o.ramBytes);
  // One block: command line, module name, module list, memory map, then the information itself.
  const off = { cmdline: 0, modName: align(cmdline.length, 16) };
  const offMods = off.modName + align(modName.length, 16);
  const offMmap = offMods + (o.initrd ? 16 : 0);
  const offMbi = align(offMmap + map.length * 24, 16);
  const info = new Buf(offMbi + MBI_SIZE);
  info.b.set(cmdline, off.cmdline);
  info.b.set(modName, off.modName);
  if (o.initrd) {
    info.u32(offMods, modStart);
    info.u32(offMods + 4, modEnd);
    info.u32(offMods + 8, at + off.modName);
  }
  map.forEach((e, i) => {
    const m = offMmap + i * 24;
    info.u32(m, 20); // size of the entry after this field
    info.u64(m + 4, e.addr);
    info.u64(m + 12, e.size);
    info.u32(m + 20, e.type);
  });
  info.u32(offMbi, MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP);
  info.u32(offMbi + 4, 640);
  info.u32(offMbi + 8, (o.ramBytes - 0x100000) / 1024); // KiB from 1 MiB, as QEMU's MBI_MEM_UPPER
  info.u32(offMbi + 16, at + off.cmdline);
  info.u32(offMbi + 20, o.initrd ? 1 : 0);
  info.u32(offMbi + 24, at + offMods);
  info.u32(offMbi + 44, map.length * 24);
  info.u32(offMbi + 48, at + offMmap);
  chunks.push({ at, size: info.b.length, bytes: info.b, what: 'the multiboot information' });
  chunks.push(gdtChunk());
  const entryState: EntryState = {
    mode: 'protected32', rip: entry, rax: MB_BOOTLOADER_MAGIC, rbx: at + offMbi, rsi: 0,
    cs: Sel.CODE32, ds: Sel.DATA, gdtBase: Layout.GDT, gdtLimit: GDT.length * 8 - 1, cr3: 0,
  };
  return { kind: 'multiboot', entry: entryState, chunks };
}

// ---- Linux bzImage, 64-bit boot protocol ---------------------------------------------------------------------

/** Offsets in the setup header / boot_params (Documentation/arch/x86/boot.rst, zero-page.rst). */
export const BP = {
  E820_ENTRIES: 0x1e8, SETUP_SECTS: 0x1f1, BOOT_FLAG: 0x1fe, JUMP: 0x200, HEADER: 0x202, VERSION: 0x206,
  TYPE_OF_LOADER: 0x210, LOADFLAGS: 0x211, RAMDISK_IMAGE: 0x218, RAMDISK_SIZE: 0x21c, CMD_LINE_PTR: 0x228,
  INITRD_ADDR_MAX: 0x22c, KERNEL_ALIGNMENT: 0x230, RELOCATABLE: 0x234, XLOADFLAGS: 0x236, CMDLINE_SIZE: 0x238,
  PREF_ADDRESS: 0x258, INIT_SIZE: 0x260, E820_TABLE: 0x2d0,
} as const;
const XLF_KERNEL_64 = 1 << 0;
const LOADED_HIGH = 1 << 0;

export function isBzImage(image: Uint8Array): boolean {
  if (image.length < 0x264) return false;
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return v.getUint16(BP.BOOT_FLAG, true) === 0xaa55 && v.getUint32(BP.HEADER, true) === 0x53726448; // "HdrS"
}

/** A bzImage for the 64-bit boot protocol (boot.rst "64-bit BOOT PROTOCOL"). */
export function planBzImage(image: Uint8Array, o: BootOptions): BootPlan {
  if (!isBzImage(image)) throw new BootError('not a Linux bzImage (no HdrS setup header)');
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const version = v.getUint16(BP.VERSION, true);
  if (version < 0x20c || !(v.getUint16(BP.XLOADFLAGS, true) & XLF_KERNEL_64)) {
    throw new BootError(`this bzImage (boot protocol ${version >> 8}.${version & 0xff}) has no 64-bit entry point (needs 2.12 and XLF_KERNEL_64)`);
  }
  const setupSects = image[BP.SETUP_SECTS] || 4; // boot.rst: "If this field is 0, the real value is 4"
  const kernelAt = (setupSects + 1) * 512;
  if (kernelAt >= image.length) throw new BootError('the bzImage has no protected-mode kernel after its setup sectors');
  const pref = Number(v.getBigUint64(BP.PREF_ADDRESS, true));
  const kalign = v.getUint32(BP.KERNEL_ALIGNMENT, true) || 0x200000;
  const loadAt = pref >= 0x100000 && pref % kalign === 0 ? pref : align(0x1000000, kalign);
  const kernel = image.subarray(kernelAt);
  // init_size: the memory the kernel needs from where it is loaded while it decompresses and starts.
  const initSize = Math.max(v.getUint32(BP.INIT_SIZE, true), kernel.length);
  const chunks: Chunk[] = [{ at: loadAt, size: initSize, bytes: kernel, what: 'the kernel (its init_size)' }];

  // boot_params: zeroed, then the setup header copied from the image (0x1F1 up to the end the jump at 0x200 gives).
  const zp = new Buf(0x1000);
  const hdrEnd = 0x202 + image[BP.JUMP + 1];
  zp.b.set(image.subarray(BP.SETUP_SECTS, Math.min(hdrEnd, 0x1000)), BP.SETUP_SECTS);
  zp.u8(BP.TYPE_OF_LOADER, 0xff); // undefined loader
  zp.u8(BP.LOADFLAGS, zp.b[BP.LOADFLAGS] | LOADED_HIGH);
  const cmdSize = v.getUint32(BP.CMDLINE_SIZE, true) || 255;
  const cmd = cstr(o.append ?? '');
  if (cmd.length - 1 > cmdSize) throw new BootError(`the command line is ${cmd.length - 1} bytes; this kernel takes ${cmdSize}`);
  chunks.push({ at: Layout.CMDLINE, size: cmd.length, bytes: cmd, what: 'the command line' });
  zp.u32(BP.CMD_LINE_PTR, Layout.CMDLINE);
  if (o.initrd) {
    // As high as initrd_addr_max and RAM allow, page aligned (boot.rst: "as high as possible").
    const max = Math.min(v.getUint32(BP.INITRD_ADDR_MAX, true) || 0x37ffffff, o.ramBytes - 1);
    const at = Math.floor((max + 1 - o.initrd.length) / 0x1000) * 0x1000;
    if (at < loadAt + initSize) throw new BootError(`the initrd (${o.initrd.length} bytes) does not fit between the kernel and ${max + 1 >= o.ramBytes ? 'the end of RAM' : 'initrd_addr_max'}; give more --mem`);
    chunks.push({ at, size: o.initrd.length, bytes: o.initrd, what: 'the initrd' });
    zp.u32(BP.RAMDISK_IMAGE, at);
    zp.u32(BP.RAMDISK_SIZE, o.initrd.length);
  }
  const map = e820Map(o.ramBytes);
  zp.u8(BP.E820_ENTRIES, map.length);
  map.forEach((e, i) => {
    const at = BP.E820_TABLE + i * 20;
    zp.u64(at, e.addr);
    zp.u64(at + 8, e.size);
    zp.u32(at + 16, e.type);
  });
  chunks.push({ at: Layout.ZERO_PAGE, size: 0x1000, bytes: zp.b, what: 'boot_params' });
  chunks.push(gdtChunk());
  chunks.push(identityPageTables());
  const entry: EntryState = {
    mode: 'long64', rip: loadAt + 0x200, rax: 0, rbx: 0, rsi: Layout.ZERO_PAGE,
    cs: Sel.CODE64, ds: Sel.DATA, gdtBase: Layout.GDT, gdtLimit: GDT.length * 8 - 1, cr3: Layout.PML4,
  };
  return { kind: 'bzimage', entry, chunks };
}

/** 4 GiB identity-mapped with 2 MiB pages: the PML4, a PDPT after it, four page directories after that. */
function identityPageTables(): Chunk {
  const t = new Buf(6 * 0x1000);
  const pml4 = Layout.PML4, pdpt = pml4 + 0x1000;
  t.u64(0, pdpt | 3); // present, writable
  for (let i = 0; i < 4; i++) {
    const pd = pml4 + 0x2000 + i * 0x1000;
    t.u64(0x1000 + i * 8, pd | 3);
    for (let j = 0; j < 512; j++) t.u64(pd - pml4 + j * 8, (i * 512 + j) * 0x200000 + 0x83); // present, writable, 2 MiB
  }
  return { at: pml4, size: t.b.length, bytes: t.b, what: 'the page tables' };
}

// ---- MP table --------------------------------------------------------------------------------------------------

/** The byte that makes the sum of `b` zero (the byte's own slot must hold 0). */
function checksum(b: Uint8Array): number {
  let s = 0;
  for (const x of b) s = (s + x) & 0xff;
  return (0x100 - s) & 0xff;
}

/**
 * MultiProcessor Specification 1.4: the floating pointer (4.1) and the configuration table (4.2) with a processor
 * entry per CPU (4.3.1, the first is the BSP), an ISA bus (4.3.2), the I/O APIC (4.3.3), an I/O interrupt entry per
 * ISA IRQ 0-15 to pin n (4.3.4; no override: pc-testdev line n is pin n) and LINT0 ExtINT / LINT1 NMI (4.3.5).
 * The floating pointer is at 0x9FC00, the EBDA page the e820 map reserves, where Linux's smp_scan_config looks; the
 * table (1.5 KiB for 64 CPUs) in the reserved BIOS area at 0xF0000. The I/O APIC's ID is its IOAPICID register's
 * reset value, 0 (82093AA 3.2.1), as QEMU's MADT gives it (ACPI_BUILD_IOAPIC_ID).
 */
export function mpTable(apicIds: readonly number[], ioapicId: number): Chunk[] {
  const bytes = (n: number, x: number): number[] => Array.from({ length: n }, (_, i) => Math.floor(x / 2 ** (8 * i)) & 0xff);
  const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
  const entries: number[][] = [];
  // Processor: type 0, APIC ID, APIC version 0x14, flags EN | BP (BSP), signature (family 6), features FPU | APIC.
  apicIds.forEach((id, i) => entries.push([0, id & 0xff, 0x14, i === 0 ? 3 : 1, ...bytes(4, 0x600), ...bytes(4, 0x201), ...bytes(8, 0)]));
  entries.push([1, 0, ...ascii('ISA   ')]);
  entries.push([2, ioapicId, 0x20, 1, ...bytes(4, IOAPIC_BASE)]);
  for (let irq = 0; irq < 16; irq++) entries.push([3, 0, 0, 0, 0, irq, ioapicId, irq]); // INT, conforming, bus 0
  entries.push([4, 3, 0, 0, 0, 0, 0xff, 0]); // ExtINT to every LINT0
  entries.push([4, 1, 0, 0, 0, 0, 0xff, 1]); // NMI to every LINT1
  const body = entries.flat();
  const len = 44 + body.length;
  const t = new Buf(len);
  t.ascii(0, 'PCMP');
  t.u16(4, len);
  t.u8(6, 4); // spec revision 1.4
  t.ascii(8, 'LAPIS   LAPIS-VMM   ');
  t.u16(34, entries.length);
  t.u32(36, 0xfee00000);
  t.b.set(body, 44);
  t.u8(7, checksum(t.b));
  const fp = new Buf(16);
  fp.ascii(0, '_MP_');
  fp.u32(4, Layout.MP_CONFIG);
  fp.u8(8, 1); // length in 16-byte units
  fp.u8(9, 4);
  fp.u8(10, checksum(fp.b));
  return [
    { at: Layout.MP_FLOATING, size: 16, bytes: fp.b, what: 'the MP floating pointer' },
    { at: Layout.MP_CONFIG, size: len, bytes: t.b, what: 'the MP configuration table' },
  ];
}
