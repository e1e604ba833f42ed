// What the VMM hands KVM when it sets a VM up, checked as bytes at the offsets <linux/kvm.h> gives (abi.test.ts checks
// those offsets): the BSP's registers at a loader's entry state, an AP's at INIT and at a SIPI, CPUID consistent with
// lapis, the MSR filter, and the APIC timer's rate from the TSC's.

import { describe, expect, it } from 'vitest';
import { KVM_ABI as K } from '../../src/vmm/abi.js';
import type { EntryState } from '../../src/vmm/boot.js';
import { entryRegisters, initRegisters, sipiRegisters } from '../../src/vmm/regs.js';
import { setU32, u16, u32, u64 } from '../../src/vmm/struct.js';
import { cpuidFor, KVMCLOCK_FEATURES, msrFilter, timerRatio } from '../../src/vmm/vm.js';

function segment(s: Uint8Array, which: 'cs' | 'ds' | 'ss'): Record<string, number> {
  const at = K[`kvm_sregs.${which}`];
  const f = (n: string): number => s[at + K[`kvm_segment.${n}` as keyof typeof K]];
  return { base: u64(s, at + K['kvm_segment.base']), limit: u32(s, at + K['kvm_segment.limit']), selector: u16(s, at + K['kvm_segment.selector']), type: f('type'), db: f('db'), l: f('l'), g: f('g'), present: f('present') };
}

const entry = (mode: EntryState['mode']): EntryState => ({
  mode, rip: 0x1000200, rax: 0x2badb002, rbx: 0x12340, rsi: 0x7000, cs: mode === 'long64' ? 0x10 : 0x08, ds: 0x18, gdtBase: 0x500, gdtLimit: 31, cr3: mode === 'long64' ? 0x9000 : 0,
});

describe('registers', () => {
  it('multiboot: 32-bit protected mode, flat segments, paging off, EAX/EBX as the loader says', () => {
    const sregs = new Uint8Array(K['sizeof kvm_sregs']);
    const regs = entryRegisters(entry('protected32'), sregs);
    expect(segment(sregs, 'cs')).toEqual({ base: 0, limit: 0xffffffff, selector: 0x08, type: 0xb, db: 1, l: 0, g: 1, present: 1 });
    expect(segment(sregs, 'ss')).toEqual({ base: 0, limit: 0xffffffff, selector: 0x18, type: 0x3, db: 1, l: 0, g: 1, present: 1 });
    expect(u64(sregs, K['kvm_sregs.cr0'])).toBe(0x11); // PE | ET
    expect(u64(sregs, K['kvm_sregs.efer'])).toBe(0);
    expect([u64(regs, K['kvm_regs.rax']), u64(regs, K['kvm_regs.rbx']), u64(regs, K['kvm_regs.rip']), u64(regs, K['kvm_regs.rflags'])]).toEqual([0x2badb002, 0x12340, 0x1000200, 2]);
    expect([u64(sregs, K['kvm_sregs.gdt'] + K['kvm_dtable.base']), u16(sregs, K['kvm_sregs.gdt'] + K['kvm_dtable.limit'])]).toEqual([0x500, 31]);
  });

  it('bzImage: long mode (CR0.PG, CR4.PAE, EFER.LME|LMA, CS.L), CR3 the PML4, RSI boot_params', () => {
    const sregs = new Uint8Array(K['sizeof kvm_sregs']);
    const regs = entryRegisters(entry('long64'), sregs);
    expect(segment(sregs, 'cs')).toMatchObject({ selector: 0x10, l: 1, db: 0 });
    expect(u64(sregs, K['kvm_sregs.cr0'])).toBe(0x80000011);
    expect(u64(sregs, K['kvm_sregs.cr4'])).toBe(0x20);
    expect(u64(sregs, K['kvm_sregs.efer'])).toBe(0x500);
    expect(u64(sregs, K['kvm_sregs.cr3'])).toBe(0x9000);
    expect(u64(regs, K['kvm_regs.rsi'])).toBe(0x7000);
  });

  it('INIT: RIP 0xFFF0 in KVM\'s reset segments; a SIPI with vector VV: CS VV00, base VV000, IP 0, real mode', () => {
    expect([u64(initRegisters(), K['kvm_regs.rip']), u64(initRegisters(), K['kvm_regs.rflags'])]).toEqual([0xfff0, 2]);
    const sregs = new Uint8Array(K['sizeof kvm_sregs']);
    const regs = sipiRegisters(0x9a, sregs);
    expect(segment(sregs, 'cs')).toEqual({ base: 0x9a000, limit: 0xffff, selector: 0x9a00, type: 0xb, db: 0, l: 0, g: 0, present: 1 });
    expect([u64(regs, K['kvm_regs.rip']), u64(regs, K['kvm_regs.rflags'])]).toEqual([0, 2]);
  });
});

describe('CPUID', () => {
  /** A KVM_GET_SUPPORTED_CPUID answer with leaves 1, 0xB and 0x40000001, every register all ones (but 1 ECX[31]). */
  function template(): Uint8Array {
    const leaves = [1, 0xb, 0x40000001], size = K['sizeof kvm_cpuid_entry2'];
    const b = new Uint8Array(K['kvm_cpuid2.entries'] + leaves.length * size);
    setU32(b, K['kvm_cpuid2.nent'], leaves.length);
    leaves.forEach((fn, i) => {
      const e = K['kvm_cpuid2.entries'] + i * size;
      setU32(b, e + K['kvm_cpuid_entry2.function'], fn);
      for (const r of ['eax', 'ebx', 'ecx', 'edx'] as const) setU32(b, e + K[`kvm_cpuid_entry2.${r}`], fn === 1 && r === 'ecx' ? 0x7fffffff : 0xffffffff);
    });
    return b;
  }
  const reg = (b: Uint8Array, i: number, r: 'eax' | 'ebx' | 'ecx' | 'edx'): number => u32(b, K['kvm_cpuid2.entries'] + i * K['sizeof kvm_cpuid_entry2'] + K[`kvm_cpuid_entry2.${r}`]);

  it('leaf 1 and 0xB carry the vCPU\'s APIC ID; x2APIC and TSC-deadline as configured; APIC always', () => {
    const off = cpuidFor(template(), 5, false, false);
    expect(reg(off, 0, 'ebx') >>> 24).toBe(5);
    expect(reg(off, 0, 'ecx') & ((1 << 21) | (1 << 24))).toBe(0);
    expect(reg(off, 0, 'ecx') >>> 31).toBe(1); // a hypervisor is present: the guest finds KVM at 0x40000000
    expect(reg(off, 0, 'edx') & (1 << 9)).not.toBe(0);
    expect(reg(off, 1, 'edx')).toBe(5);
    const on = cpuidFor(template(), 3, true, true);
    expect(reg(on, 0, 'ecx') & ((1 << 21) | (1 << 24))).toBe((1 << 21) | (1 << 24));
    expect(reg(on, 0, 'ebx') & 0xffffff).toBe(0xffffff); // the rest of EBX untouched
  });

  it('of KVM\'s paravirtual features only kvmclock stays (PV EOI and PV IPIs need the in-kernel APIC)', () => {
    const c = cpuidFor(template(), 0, true, true);
    expect(reg(c, 2, 'eax')).toBe(KVMCLOCK_FEATURES >>> 0);
    expect(reg(c, 2, 'edx')).toBe(0);
  });
});

describe('the MSR filter', () => {
  it('denies guest access to IA32_APIC_BASE and IA32_TSC_DEADLINE (they exit to lapis), allows the rest', () => {
    const f = msrFilter(0x7f0000001000n);
    expect(u32(f, K['kvm_msr_filter.flags'])).toBe(K.KVM_MSR_FILTER_DEFAULT_ALLOW);
    const ranges = [0, 1, 2].map((i) => {
      const r = K['kvm_msr_filter.ranges'] + i * K['sizeof kvm_msr_filter_range'];
      return [u32(f, r + K['kvm_msr_filter_range.flags']), u32(f, r + K['kvm_msr_filter_range.base']), u32(f, r + K['kvm_msr_filter_range.nmsrs']), u64(f, r + K['kvm_msr_filter_range.bitmap'])];
    });
    const rw = K.KVM_MSR_FILTER_READ | K.KVM_MSR_FILTER_WRITE;
    expect(ranges).toEqual([[rw, 0x1b, 1, 0x7f0000001000], [rw, 0x6e0, 1, 0x7f0000001000], [0, 0, 0, 0]]);
  });
});

describe('the APIC timer\'s clock', () => {
  it('ticks at 1 GHz (KVM\'s APIC bus cycle) in whole TSC ticks', () => {
    expect(timerRatio(2_995_200)).toBe(3);
    expect(timerRatio(1_000_000)).toBe(1);
    expect(timerRatio(400_000)).toBe(1);
  });
});
