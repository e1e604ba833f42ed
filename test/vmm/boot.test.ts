// The loaders (src/vmm/boot.ts) on real images: kvm-unit-tests' .flat files (multiboot ELF), cross-checked with
// readelf, and a Linux bzImage (/boot/vmlinuz-*, or $LAPIS_BZIMAGE); a synthetic bzImage and malformed images for
// the rest. `npm run setup` puts both on the machine (kvm-unit-tests built into LAPIS_KUT_DIR, Debian's kernel
// unpacked into LAPIS_LINUX_DIR): a missing image fails its test, it is never skipped.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BootError, BP, Layout, MB_BOOTLOADER_MAGIC, place, planBoot, type BootPlan } from '../../src/vmm/boot.js';

const KUT = process.env.LAPIS_KUT_DIR ?? '/opt/lapis/kvm-unit-tests';
const FLATS = existsSync(join(KUT, 'x86')) ? readdirSync(join(KUT, 'x86')).filter((f) => f.endsWith('.flat')).map((f) => join(KUT, 'x86', f)) : [];
const SETUP_BZIMAGE = join(process.env.LAPIS_LINUX_DIR ?? '/opt/lapis/linux', 'vmlinuz');
const BZIMAGE = process.env.LAPIS_BZIMAGE ?? (existsSync(SETUP_BZIMAGE) ? SETUP_BZIMAGE : existsSync('/boot') ? readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')).map((f) => join('/boot', f))[0] : undefined);
const MiB = 1 << 20;
/** The image a test needs is there, or the test fails saying how to get it. */
function need(ok: boolean, why: string): void {
  if (!ok) throw new Error(`${why}: \`npm run setup\` provides it`);
}

const u16 = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8);
const u32 = (b: Uint8Array, at: number): number => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
const u64 = (b: Uint8Array, at: number): number => u32(b, at) + u32(b, at + 4) * 2 ** 32;
const cstrAt = (b: Uint8Array, at: number): string => Buffer.from(b.subarray(at, b.indexOf(0, at))).toString('latin1');
/** Byte-for-byte equality (vitest's deep equality is slow on megabytes). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const ascii = (b: Uint8Array, at: number, n: number): string => Buffer.from(b.subarray(at, at + n)).toString('latin1');

function loaded(image: Uint8Array, ramBytes: number, o: { name?: string; append?: string; initrd?: Uint8Array; cpus?: number } = {}): { plan: BootPlan; ram: Uint8Array } {
  const plan = planBoot(image, { name: o.name ?? 'image', ramBytes, append: o.append, initrd: o.initrd, apicIds: Array.from({ length: o.cpus ?? 1 }, (_, i) => i) });
  const ram = new Uint8Array(ramBytes).fill(0xcc); // dirty RAM: what a loader must zero, it zeroes
  place(plan, ram);
  return { plan, ram };
}

describe('multiboot: kvm-unit-tests .flat images', () => {
  it('found kvm-unit-tests images to load', () => {
    need(FLATS.length > 0, `no kvm-unit-tests .flat files in ${KUT}/x86`);
    expect(FLATS.map((f) => basename(f))).toContain('apic.flat');
  });

  for (const flat of FLATS) {
    it(`${basename(flat)}: segments where readelf says, bss zeroed, the multiboot information QEMU would give`, () => {
      const image = new Uint8Array(readFileSync(flat));
      const initrd = new TextEncoder().encode('TEST_DEVICE=0\n');
      const { plan, ram } = loaded(image, 64 * MiB, { name: basename(flat), append: '-v', initrd });
      // readelf, an independent reading of the ELF: the entry and every PT_LOAD.
      const hdr = execFileSync('readelf', ['-hlW', flat], { encoding: 'utf8' });
      expect(plan.entry.rip).toBe(Number(/Entry point address:\s+(0x[0-9a-f]+)/.exec(hdr)?.[1]));
      const loads = [...hdr.matchAll(/^\s+LOAD\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)/gm)];
      expect(loads.length).toBeGreaterThan(0);
      for (const [, off, paddr, filesz, memsz] of loads.map((m) => m.map(Number))) {
        expect(same(ram.subarray(paddr, paddr + filesz), image.subarray(off, off + filesz))).toBe(true);
        expect(same(ram.subarray(paddr + filesz, paddr + memsz), new Uint8Array(memsz - filesz))).toBe(true);
      }
      // Multiboot spec 3.2: EAX the magic, EBX the information; 32-bit protected mode, flat segments.
      expect(plan.entry).toMatchObject({ mode: 'protected32', rax: MB_BOOTLOADER_MAGIC });
      const mbi = plan.entry.rbx;
      expect(u32(ram, mbi) & 0b1001101).toBe(0b1001101); // mem, cmdline, mods, mmap
      expect(u32(ram, mbi + 8)).toBe((64 * MiB - MiB) / 1024); // mem_upper, KiB from 1 MiB
      expect(cstrAt(ram, u32(ram, mbi + 16))).toBe(`${basename(flat)} -v`);
      expect(u32(ram, mbi + 20)).toBe(1);
      const mod = u32(ram, mbi + 24);
      expect(same(ram.subarray(u32(ram, mod), u32(ram, mod + 4)), initrd)).toBe(true);
      const mmap: number[][] = [];
      for (let at = u32(ram, mbi + 48); at < u32(ram, mbi + 48) + u32(ram, mbi + 44); at += u32(ram, at) + 4) mmap.push([u64(ram, at + 4), u64(ram, at + 12), u32(ram, at + 20)]);
      expect(mmap).toContainEqual([0x100000, 64 * MiB - 0x100000, 1]);
      // The module and the information lie after the image's bss, not in it.
      const end = Math.max(...loads.map((m) => Number(m[2]) + Number(m[4])));
      expect(u32(ram, mod)).toBeGreaterThanOrEqual(end);
      expect(mbi).toBeGreaterThan(end);
    });
  }
});

describe('multiboot: refusals', () => {
  const elf = (): Uint8Array => new Uint8Array(readFileSync(FLATS.find((f) => f.endsWith('apic.flat')) ?? FLATS[0]));

  it('an image too big for --mem, or with no header of either kind, is refused with the reason', () => {
    need(FLATS.length > 0, `no kvm-unit-tests .flat files in ${KUT}/x86`);
    expect(() => loaded(elf(), 8 * MiB)).toThrow(/ELF segment \d+ \(0x[0-9a-f]+\.\.0x[0-9a-f]+\) does not fit in 8 MiB of RAM/);
    expect(() => loaded(new TextEncoder().encode('just text, not a kernel'.repeat(40)), 64 * MiB)).toThrow(/neither a multiboot image .* nor a Linux bzImage/);
    const cut = elf().slice(0, 4096); // the multiboot header is in the first 8 KiB; the segments are not
    expect(() => loaded(cut, 64 * MiB)).toThrow(BootError);
    expect(() => loaded(cut, 64 * MiB)).toThrow(/cut short/);
  });

  it('a segment over the loader\'s own structures is refused, not silently overwritten', () => {
    // A minimal ELF32 with a multiboot header and one PT_LOAD at 0x400, over the GDT at 0x500.
    const b = new Uint8Array(0x200);
    const v = new DataView(b.buffer);
    b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
    v.setUint32(24, 0x400, true); // entry
    v.setUint32(28, 52, true); // phoff
    v.setUint16(42, 32, true); // phentsize
    v.setUint16(44, 1, true); // phnum
    v.setUint32(52, 1, true); // PT_LOAD
    v.setUint32(56, 0x100, true); // offset
    v.setUint32(64, 0x400, true); // paddr
    v.setUint32(68, 0x100, true); // filesz
    v.setUint32(72, 0x200, true); // memsz
    v.setUint32(0x100, 0x1badb002, true);
    v.setUint32(0x108, (0x100000000 - 0x1badb002) >>> 0, true);
    expect(() => loaded(b, 64 * MiB)).toThrow(/the GDT .* overlaps ELF segment 0|ELF segment 0 .* overlaps|overlaps/);
  });
});

/** A bzImage with the 2.15 setup header, `sects` setup sectors and a protected-mode kernel of `kernel` bytes. */
function syntheticBzImage(o: { version?: number; xloadflags?: number; kernel?: number; initSize?: number } = {}): Uint8Array {
  const sects = 1, kernel = o.kernel ?? 0x3000;
  const b = new Uint8Array((sects + 1) * 512 + kernel);
  const v = new DataView(b.buffer);
  b[BP.SETUP_SECTS] = sects;
  v.setUint16(BP.BOOT_FLAG, 0xaa55, true);
  b.set([0xeb, 0x66], BP.JUMP); // the header ends at 0x268
  v.setUint32(BP.HEADER, 0x53726448, true);
  v.setUint16(BP.VERSION, o.version ?? 0x20f, true);
  b[BP.LOADFLAGS] = 0x80; // CAN_USE_HEAP
  v.setUint32(BP.INITRD_ADDR_MAX, 0x7fffffff, true);
  v.setUint32(BP.KERNEL_ALIGNMENT, 0x200000, true);
  v.setUint16(BP.XLOADFLAGS, o.xloadflags ?? 0b11, true);
  v.setUint32(BP.CMDLINE_SIZE, 64, true);
  v.setBigUint64(BP.PREF_ADDRESS, 0x1000000n, true);
  v.setUint32(BP.INIT_SIZE, o.initSize ?? 0x800000, true);
  for (let i = 0; i < kernel; i++) b[(sects + 1) * 512 + i] = (i * 7 + 3) & 0xff;
  return b;
}

/** Follow the 4-level page tables from CR3 for a virtual address (2 MiB pages): the physical address. */
function translate(ram: Uint8Array, cr3: number, va: number): number {
  const pml4e = u64(ram, cr3 + 8 * Math.floor(va / 2 ** 39));
  const pdpte = u64(ram, (pml4e & ~0xfff) + 8 * (Math.floor(va / 2 ** 30) % 512));
  const pde = u64(ram, (pdpte & ~0xfff) + 8 * (Math.floor(va / 2 ** 21) % 512));
  expect(pde & 0x81).toBe(0x81); // present, 2 MiB page
  return (pde - (pde % 2 ** 21)) + (va % 2 ** 21);
}

describe('bzImage: the 64-bit boot protocol', () => {
  it('kernel at its preferred address, boot_params with the setup header, command line, initrd, e820; long mode', () => {
    const image = syntheticBzImage();
    const initrd = new Uint8Array(5000).fill(0x5a);
    const { plan, ram } = loaded(image, 64 * MiB, { append: 'console=ttyS0 quiet', initrd });
    expect(same(ram.subarray(0x1000000, 0x1000000 + 0x3000), image.subarray(1024))).toBe(true);
    const zp = Layout.ZERO_PAGE;
    expect(plan.entry).toMatchObject({ mode: 'long64', rip: 0x1000200, rsi: zp, cs: 0x10, ds: 0x18 });
    // boot.rst: the setup header is copied from 0x1F1 up to 0x202 + the jump's byte; the loader fields are set.
    expect(same(ram.subarray(zp + 0x1f1, zp + 0x210), image.subarray(0x1f1, 0x210))).toBe(true);
    expect(ram[zp + BP.TYPE_OF_LOADER]).toBe(0xff);
    expect(ram[zp + BP.LOADFLAGS]).toBe(0x81); // LOADED_HIGH added, CAN_USE_HEAP kept
    expect(cstrAt(ram, u32(ram, zp + BP.CMD_LINE_PTR))).toBe('console=ttyS0 quiet');
    const rd = u32(ram, zp + BP.RAMDISK_IMAGE);
    expect(u32(ram, zp + BP.RAMDISK_SIZE)).toBe(5000);
    expect(same(ram.subarray(rd, rd + 5000), initrd)).toBe(true);
    expect(rd % 4096).toBe(0);
    expect(rd + 5000).toBeLessThanOrEqual(64 * MiB);
    expect(rd).toBeGreaterThanOrEqual(0x1000000 + 0x800000); // above the kernel's init_size
    const e820 = Array.from({ length: ram[zp + BP.E820_ENTRIES] }, (_, i) => [u64(ram, zp + BP.E820_TABLE + 20 * i), u64(ram, zp + BP.E820_TABLE + 20 * i + 8), u32(ram, zp + BP.E820_TABLE + 20 * i + 16)]);
    expect(e820).toEqual([[0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2], [0x100000, 63 * MiB, 1]]);
    // The GDT's __BOOT_CS is 64-bit code, __BOOT_DS flat data; the page tables map the first 4 GiB 1:1.
    expect(u64(ram, Layout.GDT + 0x10) / 2 ** 32 >>> 0).toBe(0x00af9b00);
    expect(u64(ram, Layout.GDT + 0x18) / 2 ** 32 >>> 0).toBe(0x00cf9300);
    for (const va of [0, 0x1000200, zp, rd, 0xfee00000, 0xfec00010]) expect(translate(ram, plan.entry.cr3, va)).toBe(va);
  });

  it('refuses a kernel with no 64-bit entry, a command line longer than it takes, an initrd with no room', () => {
    expect(() => loaded(syntheticBzImage({ version: 0x20b }), 64 * MiB)).toThrow(/boot protocol 2\.11.*no 64-bit entry point/);
    expect(() => loaded(syntheticBzImage({ xloadflags: 0 }), 64 * MiB)).toThrow(/no 64-bit entry point/);
    expect(() => loaded(syntheticBzImage(), 64 * MiB, { append: 'x'.repeat(65) })).toThrow(/command line is 65 bytes; this kernel takes 64/);
    expect(() => loaded(syntheticBzImage(), 32 * MiB, { initrd: new Uint8Array(9 * MiB) })).toThrow(/initrd .* does not fit .* give more --mem/);
    expect(() => loaded(syntheticBzImage({ initSize: 64 * MiB }), 64 * MiB)).toThrow(/the kernel .* does not fit in 64 MiB/);
  });

  it(`a real kernel: ${BZIMAGE ?? '(none)'}`, () => {
    need(BZIMAGE !== undefined && existsSync(BZIMAGE), 'no Linux bzImage ($LAPIS_LINUX_DIR/vmlinuz, /boot/vmlinuz-* or $LAPIS_BZIMAGE)');
    const image = new Uint8Array(readFileSync(BZIMAGE as string));
    const initrd = new Uint8Array(1 << 16).fill(7);
    const { plan, ram } = loaded(image, 256 * MiB, { append: 'console=ttyS0', initrd });
    const setup = (image[0x1f1] || 4) + 1;
    expect(same(ram.subarray(0x1000000, 0x1000000 + image.length - setup * 512), image.subarray(setup * 512))).toBe(true);
    // The version string the header points at (boot.rst kernel_version: offset + 0x200) is readable from boot_params.
    const zp = Layout.ZERO_PAGE;
    const version = cstrAt(image, u16(ram, zp + 0x20e) + 0x200);
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(u16(ram, zp + BP.VERSION)).toBeGreaterThanOrEqual(0x20c);
    expect(plan.entry.rip).toBe(0x1000200);
    expect(same(ram.subarray(u32(ram, zp + BP.RAMDISK_IMAGE), u32(ram, zp + BP.RAMDISK_IMAGE) + initrd.length), initrd)).toBe(true);
  });
});

/** Linux's smp_scan_config, independently: the floating pointer in 0x9FC00..0xA0000 on a 16-byte boundary. */
function parseMpTable(ram: Uint8Array): { cpus: { id: number; bsp: boolean }[]; ioapic: { id: number; address: number }; irqs: number[][]; lints: number[][] } {
  const sum = (a: number, n: number): number => ram.subarray(a, a + n).reduce((s, x) => (s + x) & 0xff, 0);
  let fp = -1;
  for (let a = 0x9fc00; a < 0xa0000; a += 16) if (ascii(ram, a, 4) === '_MP_' && sum(a, 16) === 0) fp = a;
  expect(fp).toBeGreaterThanOrEqual(0);
  const t = u32(ram, fp + 4), len = u16(ram, t + 4);
  expect(ascii(ram, t, 4)).toBe('PCMP');
  expect(sum(t, len)).toBe(0);
  expect(u32(ram, t + 36)).toBe(0xfee00000);
  const out = { cpus: [] as { id: number; bsp: boolean }[], ioapic: { id: -1, address: 0 }, irqs: [] as number[][], lints: [] as number[][] };
  let at = t + 44;
  for (let i = 0; i < u16(ram, t + 34); i++) {
    const type = ram[at];
    if (type === 0) out.cpus.push({ id: ram[at + 1], bsp: (ram[at + 3] & 2) !== 0 });
    if (type === 2) out.ioapic = { id: ram[at + 1], address: u32(ram, at + 4) };
    if (type === 3) out.irqs.push([ram[at + 5], ram[at + 6], ram[at + 7]]);
    if (type === 4) out.lints.push([ram[at + 1], ram[at + 6], ram[at + 7]]);
    at += type === 0 ? 20 : 8;
  }
  expect(at).toBe(t + len);
  return out;
}

describe('the MP table', () => {
  for (const cpus of [1, 4, 64]) {
    it(`${cpus} CPU(s): one entry each (the first the BSP), the I/O APIC at 0xFEC00000, ISA IRQs 0-15 on pins 0-15`, () => {
      const { ram } = loaded(syntheticBzImage(), 32 * MiB, { cpus });
      const mp = parseMpTable(ram);
      expect(mp.cpus).toEqual(Array.from({ length: cpus }, (_, i) => ({ id: i, bsp: i === 0 })));
      expect(mp.ioapic).toEqual({ id: 0, address: 0xfec00000 });
      expect(mp.irqs).toEqual(Array.from({ length: 16 }, (_, i) => [i, 0, i]));
      expect(mp.lints).toEqual([[3, 0xff, 0], [1, 0xff, 1]]);
    });
  }
});
