// The machine's doors the litmus v2 ops use (docs/litmus.md, "What is new in v2"): CPUID's interrupt fields, CR8,
// physical decoding, RESET of one processor, LINT pins, a VMM's host-side access, and x2APIC IDs above 0xFF.
import { describe, expect, it } from 'vitest';
import { HostError } from '../../src/arch/errors.js';
import { Reg } from '../../src/arch/apic.js';
import { A } from '../../src/apic/layout.js';
import { Machine } from '../../src/machine/machine.js';
import { cpuid, cr8Read, cr8Write, physRead, physWrite, restoreApicBase, restoreLapic, saveLapic } from '../../src/machine/platform.js';
import { machine, rd, wr } from '../apic/helpers.js';

describe('CPUID', () => {
  it('leaf 1: the initial APIC ID, x2APIC and TSC-deadline bits as configured, the APIC bit following IA32_APIC_BASE.EN', () => {
    const m = new Machine({ cpus: 2, apicIds: [0, 7], x2apic: true, tscDeadline: false });
    expect(cpuid(m, 1, 1)).toEqual({ eax: 0, ebx: 0x07000000, ecx: 1 << 21, edx: 1 << 9 });
    wr(m, 1, Reg.ID, 0x09000000); // software writes the ID: CPUID still says the initial one
    expect(cpuid(m, 1, 1).ebx).toBe(0x07000000);
    expect(m.wrmsr(1, 0x1b, 0xfee00000n).ok).toBe(true);
    expect(cpuid(m, 1, 1).edx).toBe(0);
    expect(cpuid(new Machine({ cpus: 1, x2apic: false, tscDeadline: true }), 0, 1).ecx).toBe(1 << 24);
  });

  it('leaf 0BH: the x2APIC ID in EDX for every sub-leaf; other leaves give nothing', () => {
    const m = new Machine({ cpus: 2, apicIds: [0, 0x123] });
    expect(cpuid(m, 1, 0xb, 0).edx).toBe(0x123);
    expect(cpuid(m, 1, 0xb, 1).edx).toBe(0x123);
    expect(cpuid(m, 1, 1).ebx).toBe(0x23000000);
    expect(cpuid(m, 1, 0x80000008)).toEqual({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
  });
});

describe('CR8', () => {
  it('is TPR[7:4]; a write clears TPR[3:0]; bits 63:4 raise #GP', () => {
    const m = machine();
    wr(m, 0, Reg.TPR, 0x5a);
    expect(cr8Read(m, 0)).toBe(5);
    expect(cr8Write(m, 0, 0xcn)).toBe(true);
    expect(rd(m, 0, Reg.TPR)).toBe(0xc0);
    expect(cr8Write(m, 0, 0x10n)).toBe(false);
    expect(rd(m, 0, Reg.TPR)).toBe(0xc0);
  });

  it('reaches the TPR in x2APIC mode and while the APIC is globally disabled (D-30)', () => {
    const m = machine();
    expect(m.wrmsr(0, 0x1b, 0xfee00100n).ok).toBe(true);
    expect(cr8Write(m, 0, 3n)).toBe(true);
    expect(cr8Read(m, 0)).toBe(3);
    expect(m.wrmsr(0, 0x1b, 0xfee00900n).ok).toBe(true);
    expect(m.wrmsr(0, 0x1b, 0xfee00d00n).ok).toBe(true);
    expect(cr8Write(m, 0, 9n)).toBe(true);
    const tpr = m.rdmsr(0, 0x808);
    expect(tpr.ok && tpr.value).toBe(0x90n);
  });
});

describe('physical addresses', () => {
  it('the CPU\'s own APIC page where IA32_APIC_BASE puts it; the old base then reads all ones (D-31)', () => {
    const m = machine();
    const version = physRead(m, 0, 0xfee00030);
    expect(version).toBe(rd(m, 0, Reg.VERSION));
    expect(m.wrmsr(0, 0x1b, 0xfed40900n).ok).toBe(true);
    expect(physRead(m, 0, 0xfed40030)).toBe(version);
    expect(physRead(m, 0, 0xfee00030)).toBe(0xffffffff);
    physWrite(m, 0, 0xfed40080, 0x40);
    expect(rd(m, 0, Reg.TPR)).toBe(0x40);
  });

  it('the I/O APIC window at FEC00000H: IOREGSEL, IOWIN and the version-0x20 EOI register', () => {
    const m = new Machine({ cpus: 1, ioapicVersion: 0x20 });
    physWrite(m, 0, 0xfec00000, 0x01);
    expect(physRead(m, 0, 0xfec00010) & 0xff).toBe(0x20);
    const old = new Machine({ cpus: 1, ioapicVersion: 0x11 });
    physWrite(old, 0, 0xfec00000, 0x01);
    expect(physRead(old, 0, 0xfec00010) & 0xff).toBe(0x11);
  });

  it('a globally disabled or x2APIC-mode APIC decodes nothing; writes there are lost', () => {
    const m = machine();
    expect(m.wrmsr(0, 0x1b, 0xfee00100n).ok).toBe(true);
    physWrite(m, 0, 0xfee00080, 0xff);
    expect(physRead(m, 0, 0xfee00080)).toBe(0xffffffff);
    expect(m.apic(0).word(A.TPR)).toBe(0);
  });

  it('misuse is a HostError', () => {
    expect(() => physRead(machine(), 0, -4)).toThrow(HostError);
    expect(() => physWrite(machine(), 0, 0xfee00080, 2 ** 32)).toThrow(HostError);
  });
});

describe('RESET of one processor', () => {
  it('returns it to the power-up state: SMBASE 30000H, xAPIC mode, the initial APIC ID, nothing latched', () => {
    const m = new Machine({ cpus: 2, apicIds: [0, 5] });
    const cpu = m.cpu(1);
    cpu.setSmbase(0x40000);
    expect(m.wrmsr(1, 0x1b, 0xfee00800n).ok).toBe(true);
    expect(m.wrmsr(1, 0x1b, 0xfee00c00n).ok).toBe(true);
    m.nmi(1);
    m.smi(1);
    m.reset(1);
    expect(cpu.smbase()).toBe(0x30000);
    expect(m.apic(1).mode()).toBe('xapic');
    expect(m.apic(1).id()).toBe(5);
    expect(m.waitingForSipi(1)).toBe(true);
    expect(m.pendingEvent(1)).toBe('none');
    expect(m.apic(0).isBsp()).toBe(true);
    m.reset(0);
    expect(m.apic(0).isBsp()).toBe(true);
    expect(m.cpu(0).activity()).toBe(0);
  });

  it('is not held: in SMM, in VMX root, with GIF = 0', () => {
    const m = new Machine({ cpus: 2, vendor: 'amd' });
    m.smi(1);
    m.cpu(1).receiveSipi(0x10);
    m.takeEvent(1);
    expect(m.cpu(1).inSmm()).toBe(true);
    m.cpu(1).setGif(false);
    m.reset(1);
    expect(m.cpu(1).inSmm()).toBe(false);
    expect(m.cpu(1).gif()).toBe(true);
  });
});

describe('LINT pins', () => {
  it('an NMI entry on LINT1 acts on the rising edge only', () => {
    const m = machine();
    wr(m, 0, Reg.SVR, 0x1ff);
    wr(m, 0, Reg.LVT_LINT1, 0x400);
    m.setLint(0, 1, true);
    expect(m.takeEvent(0).kind).toBe('nmi');
    m.cpu(0).iret(false);
    m.setLint(0, 1, true);
    expect(m.pendingEvent(0)).toBe('none');
    m.setLint(0, 1, false);
    m.setLint(0, 1, true);
    expect(m.pendingEvent(0)).toBe('nmi');
  });

  it('a level-triggered fixed LINT0 is held by Remote IRR until its EOI, then accepted again while high', () => {
    const m = machine();
    wr(m, 0, Reg.SVR, 0x1ff);
    m.cpu(0).setIf(true);
    wr(m, 0, Reg.LVT_LINT0, 0x8000 | 0x41);
    m.setLint(0, 0, true);
    expect(rd(m, 0, Reg.LVT_LINT0) & 0x4000).toBe(0x4000);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x41 });
    wr(m, 0, Reg.LVT_LINT0, 0x8000 | 0x41); // a write keeps the read-only Remote IRR
    expect(rd(m, 0, Reg.LVT_LINT0) & 0x4000).toBe(0x4000);
    wr(m, 0, Reg.EOI, 0);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x41 }); // still high: again
    m.setLint(0, 0, false);
    wr(m, 0, Reg.EOI, 0);
    expect(rd(m, 0, Reg.LVT_LINT0) & 0x4000).toBe(0);
    expect(m.pendingEvent(0)).toBe('none');
  });

  it('with the APIC globally disabled LINT1 is the NMI pin', () => {
    const m = machine();
    expect(m.wrmsr(0, 0x1b, 0xfee00100n).ok).toBe(true);
    m.setLint(0, 1, true);
    expect(m.pendingEvent(0)).toBe('nmi');
  });
});

describe('a VMM\'s host-side access (D-36)', () => {
  it('save and restore the register state; IA32_APIC_BASE is restored on its own, without #GP checks', () => {
    const m = machine();
    wr(m, 1, Reg.SVR, 0x1ff);
    wr(m, 1, Reg.TPR, 0x30);
    const saved = new Uint32Array(A.WORDS);
    saveLapic(m, 1, saved);
    wr(m, 1, Reg.TPR, 0);
    restoreLapic(m, 1, saved);
    expect(rd(m, 1, Reg.TPR)).toBe(0x30);
    expect(m.wrmsr(1, 0x1b, 0xfee00c00n).ok).toBe(true);
    restoreApicBase(m, 1, 0xfee00800n); // x2APIC -> xAPIC: a guest would #GP
    expect(m.apic(1).mode()).toBe('xapic');
    expect(() => restoreLapic(m, 1, new Uint32Array(3))).toThrow(HostError);
  });

  it('a value IA32_APIC_BASE cannot hold is a HostError even from the host, and changes nothing (KVM kvm_set_apic_base)', () => {
    const m = new Machine({ cpus: 2, x2apic: false, maxPhysAddr: 36 });
    const before = m.snapshot();
    for (const bad of [0xfee00801n, 0xfee00a00n, 0xfee00400n, 0xfee00c00n, 1n << 36n, -1n]) {
      expect(() => restoreApicBase(m, 1, bad)).toThrow(HostError);
    }
    expect(() => restoreApicBase(m, 1, 5 as unknown as bigint)).toThrow(HostError);
    expect(m.snapshot()).toEqual(before);
    expect(() => restoreApicBase(new Machine({ cpus: 1 }), 0, 0xfee00400n)).toThrow(HostError); // EXTD without EN: invalid
  });

  it('entering x2APIC mode through the host write makes the ID the initial x2APIC ID', () => {
    const m = new Machine({ cpus: 2, apicIds: [0, 4] });
    wr(m, 1, Reg.ID, 0x09000000);
    restoreApicBase(m, 1, 0xfee00c00n);
    expect(m.apic(1).id()).toBe(4);
  });
});

describe('x2APIC IDs above 0xFF (D-37)', () => {
  it('no 8-bit xAPIC destination names such a CPU; in x2APIC mode its ID does', () => {
    const m = new Machine({ cpus: 2, apicIds: [0, 0x100], delivery: 'immediate' });
    wr(m, 1, Reg.SVR, 0x1ff);
    wr(m, 0, Reg.SVR, 0x1ff);
    expect(m.apic(1).matchesPhysical(0x00)).toBe(false);
    expect(m.apic(0).matchesPhysical(0x00)).toBe(true);
    expect(m.wrmsr(1, 0x1b, 0xfee00c00n).ok).toBe(true);
    expect(m.apic(1).matchesPhysical(0x100)).toBe(true);
  });
});
