// Local APIC register file through the Machine API: reset values, read/write masks, read-only and reserved
// registers, unaligned offsets and MMIO decoding. SDM Vol 3A 11.4 (docs/spec-map.md sections 1 and 2).

import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/arch/apic.js';
import { Machine } from '../../src/machine/machine.js';
import { esr, machine, rd, wr } from './helpers.js';

const IA32_APIC_BASE = 0x1b;
const EN = 1n << 11n;
const EXTD = 1n << 10n;
const BSP = 1n << 8n;
const DEFAULT_BASE = 0xfee00000;
const ESR_ILLEGAL_REGISTER = 0x80;


function enable(m: Machine, cpu: number, svr = 0x1ff): void {
  wr(m, cpu, Reg.SVR, svr);
}

const LVTS = [
  ['LVT_CMCI', Reg.LVT_CMCI],
  ['LVT_TIMER', Reg.LVT_TIMER],
  ['LVT_THERMAL', Reg.LVT_THERMAL],
  ['LVT_PMC', Reg.LVT_PMC],
  ['LVT_LINT0', Reg.LVT_LINT0],
  ['LVT_LINT1', Reg.LVT_LINT1],
  ['LVT_ERROR', Reg.LVT_ERROR],
] as const;

const RESERVED_OFFSETS = [
  0x000, 0x010, 0x040, 0x050, 0x060, 0x070, 0x290, 0x2a0, 0x2b0, 0x2c0, 0x2d0, 0x2e0, 0x3a0, 0x3b0, 0x3c0, 0x3d0,
  0x3f0, 0x400, 0x800, 0xff0,
].map((o) => [o.toString(16).padStart(3, '0'), o] as const);

describe('reset values', () => {
  it('ID holds the hardware-assigned APIC ID in bits 31:24', () => {
    const m = machine({ apicIds: [3, 0x7e] });
    expect(rd(m, 0, Reg.ID)).toBe(0x03000000);
    expect(rd(m, 1, Reg.ID)).toBe(0x7e000000);
  });

  it('VERSION reads 0x01060014 on Intel: integrated APIC, max LVT entry 6, EOI-broadcast suppression bit 24', () => {
    const m = machine();
    const v = rd(m, 0, Reg.VERSION);
    expect(v).toBe(0x01060014);
    expect((v >>> 16) & 0xff).toBe(6);
    expect(v & (1 << 24)).not.toBe(0);
  });

  it('VERSION reads 0x00050010 on AMD: max LVT entry 5 (no CMCI) and no bit 24', () => {
    const m = machine({ vendor: 'amd' });
    const v = rd(m, 0, Reg.VERSION);
    expect(v).toBe(0x00050010);
    expect(v & (1 << 24)).toBe(0);
  });

  it('AMD has no LVT CMCI: 0x2F0 is a reserved offset (reads 0, latches ESR bit 7, ignores writes)', () => {
    const m = machine({ vendor: 'amd' });
    enable(m, 0);
    wr(m, 0, Reg.LVT_CMCI, 0x40);
    expect(esr(m, 0)).toBe(ESR_ILLEGAL_REGISTER);
    expect(rd(m, 0, Reg.LVT_CMCI)).toBe(0);
    expect(esr(m, 0)).toBe(ESR_ILLEGAL_REGISTER);
    expect(esr(m, 0)).toBe(0);
  });

  it.each([
    ['TPR', Reg.TPR], ['APR', Reg.APR], ['PPR', Reg.PPR], ['LDR', Reg.LDR], ['ESR', Reg.ESR], ['ICR_LO', Reg.ICR_LO],
    ['ICR_HI', Reg.ICR_HI], ['TIMER_ICR', Reg.TIMER_ICR], ['TIMER_CCR', Reg.TIMER_CCR], ['TIMER_DCR', Reg.TIMER_DCR],
  ])('%s resets to 0', (_name, offset) => {
    const m = machine();
    expect(rd(m, 0, offset)).toBe(0);
    expect(rd(m, 1, offset)).toBe(0);
  });

  it('DFR resets to 0xFFFFFFFF (flat model)', () => {
    const m = machine();
    expect(rd(m, 0, Reg.DFR)).toBe(0xffffffff);
  });

  it('SVR resets to 0xFF: spurious vector FFh and the APIC software-disabled', () => {
    const m = machine();
    expect(rd(m, 0, Reg.SVR)).toBe(0xff);
    expect(rd(m, 1, Reg.SVR)).toBe(0xff);
  });

  it.each(LVTS)('%s resets to 0x00010000 (masked, all else 0)', (_name, offset) => {
    const m = machine();
    expect(rd(m, 0, offset)).toBe(0x00010000);
  });

  it('ISR, TMR and IRR reset to 0', () => {
    const m = machine();
    for (let i = 0; i < 8; i++) {
      expect(rd(m, 0, Reg.ISR0 + 16 * i)).toBe(0);
      expect(rd(m, 0, Reg.TMR0 + 16 * i)).toBe(0);
      expect(rd(m, 0, Reg.IRR0 + 16 * i)).toBe(0);
    }
  });

  it('IA32_APIC_BASE resets to FEE00000h | EN, with BSP set on CPU 0 only', () => {
    const m = machine();
    expect(m.rdmsr(0, IA32_APIC_BASE)).toEqual({ ok: true, value: 0xfee00000n | EN | BSP });
    expect(m.rdmsr(1, IA32_APIC_BASE)).toEqual({ ok: true, value: 0xfee00000n | EN });
  });

  it('powerOn returns a programmed APIC to the reset values', () => {
    const m = machine();
    enable(m, 0, 0x13f);
    wr(m, 0, Reg.TPR, 0x20);
    wr(m, 0, Reg.LDR, 0x01000000);
    wr(m, 0, Reg.DFR, 0);
    wr(m, 0, Reg.LVT_LINT0, 0x700);
    wr(m, 0, Reg.TIMER_DCR, 0xb);
    wr(m, 0, Reg.TIMER_ICR, 1000);
    const fresh = machine().hash();
    m.powerOn();
    expect(m.hash()).toBe(fresh);
    expect(rd(m, 0, Reg.SVR)).toBe(0xff);
    expect(rd(m, 0, Reg.DFR)).toBe(0xffffffff);
  });
});

describe('read/write masks', () => {
  it('TPR keeps bits 7:0', () => {
    const m = machine();
    wr(m, 0, Reg.TPR, 0xffffffff);
    expect(rd(m, 0, Reg.TPR)).toBe(0xff);
    wr(m, 0, Reg.TPR, 0x12345678);
    expect(rd(m, 0, Reg.TPR)).toBe(0x78);
  });

  it('LDR keeps bits 31:24', () => {
    const m = machine();
    wr(m, 0, Reg.LDR, 0xffffffff);
    expect(rd(m, 0, Reg.LDR)).toBe(0xff000000);
    wr(m, 0, Reg.LDR, 0x12345678);
    expect(rd(m, 0, Reg.LDR)).toBe(0x12000000);
  });

  it('DFR keeps the model in bits 31:28 and reads bits 27:0 as 1', () => {
    const m = machine();
    wr(m, 0, Reg.DFR, 0);
    expect(rd(m, 0, Reg.DFR)).toBe(0x0fffffff);
    wr(m, 0, Reg.DFR, 0xf0000000);
    expect(rd(m, 0, Reg.DFR)).toBe(0xffffffff);
  });

  it('SVR keeps vector, APIC enable, focus disable and EOI-broadcast suppression on Intel', () => {
    const m = machine();
    wr(m, 0, Reg.SVR, 0xffffffff);
    expect(rd(m, 0, Reg.SVR)).toBe(0x13ff);
    wr(m, 0, Reg.SVR, 0x1000 | 0x0f);
    expect(rd(m, 0, Reg.SVR)).toBe(0x100f);
  });

  it('SVR bit 12 is reserved when VERSION bit 24 is clear (AMD)', () => {
    const m = machine({ vendor: 'amd' });
    wr(m, 0, Reg.SVR, 0xffffffff);
    expect(rd(m, 0, Reg.SVR)).toBe(0x3ff);
  });

  it('SVR spurious vector bits 3:0 are writable (not hard-wired to 1 as on P6)', () => {
    const m = machine();
    wr(m, 0, Reg.SVR, 0x130);
    expect(rd(m, 0, Reg.SVR) & 0xff).toBe(0x30);
  });

  it.each([
    // Writes of all ones (the timer with periodic mode, since mode 11b is reserved); delivery status (12) and
    // remote IRR (14) are read-only and read 0.
    ['LVT_CMCI', Reg.LVT_CMCI, 0xffffffff, 0x000107ff],
    ['LVT_TIMER', Reg.LVT_TIMER, 0xfffbffff, 0x000300ff],
    ['LVT_THERMAL', Reg.LVT_THERMAL, 0xffffffff, 0x000107ff],
    ['LVT_PMC', Reg.LVT_PMC, 0xffffffff, 0x000107ff],
    ['LVT_LINT0', Reg.LVT_LINT0, 0xffffffff, 0x0001a7ff],
    ['LVT_LINT1', Reg.LVT_LINT1, 0xffffffff, 0x0001a7ff],
    ['LVT_ERROR', Reg.LVT_ERROR, 0xffffffff, 0x000100ff],
  ])('%s keeps only its writable fields', (_name, offset, value, expected) => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, offset, value);
    expect(rd(m, 0, offset)).toBe(expected);
    wr(m, 0, offset, 0);
    expect(rd(m, 0, offset)).toBe(0);
  });

  it('LVT timer mode bits 18:17 read back the mode written (one-shot, periodic, TSC-deadline)', () => {
    const m = machine();
    enable(m, 0);
    for (const mode of [0, 1, 2, 0]) {
      wr(m, 0, Reg.LVT_TIMER, 0x40 | (mode << 17));
      expect(rd(m, 0, Reg.LVT_TIMER)).toBe(0x40 | (mode << 17));
    }
  });

  it('TDCR keeps bits 0, 1 and 3', () => {
    const m = machine();
    wr(m, 0, Reg.TIMER_DCR, 0xffffffff);
    expect(rd(m, 0, Reg.TIMER_DCR)).toBe(0xb);
    wr(m, 0, Reg.TIMER_DCR, 0x4);
    expect(rd(m, 0, Reg.TIMER_DCR)).toBe(0);
  });

  it('ICR high keeps the destination in bits 31:24', () => {
    const m = machine();
    wr(m, 0, Reg.ICR_HI, 0xffffffff);
    expect(rd(m, 0, Reg.ICR_HI)).toBe(0xff000000);
    wr(m, 0, Reg.ICR_HI, 0x00ffffff);
    expect(rd(m, 0, Reg.ICR_HI)).toBe(0);
  });

  it('ICR low keeps its writable fields and reads delivery status 0 when idle', () => {
    const m = machine();
    // Delivery mode 111b is reserved for IPIs: nothing is sent, but the register holds the value.
    wr(m, 0, Reg.ICR_LO, 0xffffffff);
    expect(rd(m, 0, Reg.ICR_LO)).toBe(0x000ccfff);
  });

  it('ICR low reads delivery status 1 while its IPI is in flight (queued delivery)', () => {
    const m = machine({ delivery: 'queued' });
    wr(m, 0, Reg.ICR_HI, 0x01000000);
    wr(m, 0, Reg.ICR_LO, 0x4400); // NMI to APIC 1
    expect(rd(m, 0, Reg.ICR_LO)).toBe(0x5400);
    m.deliver(0);
    expect(rd(m, 0, Reg.ICR_LO)).toBe(0x4400);
  });

  it('ID bits 31:24 are writable in xAPIC mode (decision D-5)', () => {
    const m = machine();
    wr(m, 0, Reg.ID, 0xffffffff);
    expect(rd(m, 0, Reg.ID)).toBe(0xff000000);
  });
});

describe('read-only registers', () => {
  /** A machine with something in every read-only register: ISR, IRR, TMR, PPR and a running timer. */
  function busy(): Machine {
    const m = machine();
    enable(m, 0);
    m.cpu(0).setIf(true);
    wr(m, 0, Reg.ICR_LO, 0x40000 | 0x51); // self IPI 0x51
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x51 });
    m.cpu(0).setIf(false);
    m.msi(0xfee00000, 0xc000 | 0x62); // level MSI: IRR and TMR
    wr(m, 0, Reg.TIMER_ICR, 1000);
    m.advanceBy(100);
    return m;
  }

  it.each([
    ['VERSION', Reg.VERSION], ['APR', Reg.APR], ['PPR', Reg.PPR], ['RRD', Reg.RRD], ['TIMER_CCR', Reg.TIMER_CCR],
    ['ISR2', Reg.ISR0 + 0x20], ['ISR3', Reg.ISR0 + 0x30], ['TMR3', Reg.TMR0 + 0x30], ['IRR3', Reg.IRR0 + 0x30],
    ['ISR7', Reg.ISR0 + 0x70], ['TMR0', Reg.TMR0], ['IRR7', Reg.IRR0 + 0x70],
  ])('%s ignores writes and latches no error', (_name, offset) => {
    const m = busy();
    const before = rd(m, 0, offset);
    const hash = m.hash();
    wr(m, 0, offset, 0xffffffff);
    wr(m, 0, offset, 0);
    expect(m.hash()).toBe(hash);
    expect(rd(m, 0, offset)).toBe(before);
    expect(esr(m, 0)).toBe(0);
  });

  it('the busy fixture really has non-zero read-only registers', () => {
    const m = busy();
    expect(rd(m, 0, Reg.PPR)).toBe(0x50);
    expect(rd(m, 0, Reg.ISR0 + 0x20)).toBe(1 << 0x11);
    expect(rd(m, 0, Reg.IRR0 + 0x30)).toBe(1 << 2);
    expect(rd(m, 0, Reg.TMR0 + 0x30)).toBe(1 << 2);
    expect(rd(m, 0, Reg.TIMER_CCR)).toBe(1000 - 50);
  });
});

describe('reserved and unaligned offsets', () => {
  it.each(RESERVED_OFFSETS)('reserved offset 0x%s reads 0', (_hex, offset) => {
    const m = machine();
    expect(rd(m, 0, offset)).toBe(0);
  });

  it.each(RESERVED_OFFSETS)('a read of reserved offset 0x%s latches ESR bit 7', (_hex, offset) => {
    const m = machine();
    rd(m, 0, offset);
    expect(esr(m, 0)).toBe(ESR_ILLEGAL_REGISTER);
  });

  it.each(RESERVED_OFFSETS)('a write to reserved offset 0x%s latches ESR bit 7 and changes no register', (_hex, offset) => {
    const m = machine();
    wr(m, 0, offset, 0xffffffff);
    expect(esr(m, 0)).toBe(ESR_ILLEGAL_REGISTER);
    // Only the ESR changed: the machine equals a fresh one that published the same error.
    const ref = machine();
    rd(ref, 0, 0x040);
    wr(ref, 0, Reg.ESR, 0);
    expect(m.hash()).toBe(ref.hash());
  });

  it('the illegal-register error is invisible until the next ESR write, and the write after that clears it', () => {
    const m = machine();
    rd(m, 0, 0x3f0);
    expect(rd(m, 0, Reg.ESR)).toBe(0);
    wr(m, 0, Reg.ESR, 0);
    expect(rd(m, 0, Reg.ESR)).toBe(ESR_ILLEGAL_REGISTER);
    expect(rd(m, 0, Reg.ESR)).toBe(ESR_ILLEGAL_REGISTER);
    wr(m, 0, Reg.ESR, 0);
    expect(rd(m, 0, Reg.ESR)).toBe(0);
  });

  it('SELF IPI (0x3F0) does not exist in xAPIC mode: a write sends nothing', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, 0x3f0, 0x40);
    expect(rd(m, 0, Reg.IRR0 + 0x20)).toBe(0);
    expect(esr(m, 0)).toBe(ESR_ILLEGAL_REGISTER);
  });

  it('EOI is write-only: a read returns 0 without an error', () => {
    const m = machine();
    expect(rd(m, 0, Reg.EOI)).toBe(0);
    expect(esr(m, 0)).toBe(0);
  });

  it('an unaligned read returns 0 and latches no error (decision D-4)', () => {
    const m = machine();
    wr(m, 0, Reg.TPR, 0x55);
    for (const off of [0x081, 0x082, 0x084, 0x088, 0x08c]) expect(rd(m, 0, off)).toBe(0);
    expect(esr(m, 0)).toBe(0);
  });

  it('an unaligned write is ignored (decision D-4)', () => {
    const m = machine();
    wr(m, 0, Reg.TPR, 0x55);
    const hash = m.hash();
    wr(m, 0, 0x084, 0xff);
    wr(m, 0, 0x0f4, 0x1ff);
    wr(m, 0, 0x044, 0); // unaligned inside a reserved slot: still ignored, no ESR
    expect(m.hash()).toBe(hash);
    expect(rd(m, 0, Reg.TPR)).toBe(0x55);
    expect(esr(m, 0)).toBe(0);
  });
});

describe('MMIO decoding', () => {
  it('the APIC decodes exactly the 4K page at its base in xAPIC mode', () => {
    const m = machine();
    expect(m.mmioRead(0, DEFAULT_BASE + Reg.VERSION)).toBe(0x01060014);
    expect(m.mmioRead(0, DEFAULT_BASE + 0xff0)).toBe(0);
    expect(m.mmioRead(0, DEFAULT_BASE + 0x1000)).toBeUndefined();
    expect(m.mmioRead(0, DEFAULT_BASE - 0x10)).toBeUndefined();
    expect(m.mmioWrite(0, DEFAULT_BASE + 0x1000 + Reg.TPR, 0x20)).toBe(false);
    expect(rd(m, 0, Reg.TPR)).toBe(0);
  });

  it('relocating IA32_APIC_BASE moves the page: the new base decodes and the old one does not', () => {
    const m = machine();
    expect(m.wrmsr(0, IA32_APIC_BASE, 0xfed00000n | EN)).toEqual({ ok: true });
    expect(m.mmioRead(0, 0xfed00000 + Reg.VERSION)).toBe(0x01060014);
    expect(m.mmioRead(0, DEFAULT_BASE + Reg.VERSION)).toBeUndefined();
    expect(m.mmioWrite(0, 0xfed00000 + Reg.TPR, 0x30)).toBe(true);
    expect(m.mmioWrite(0, DEFAULT_BASE + Reg.TPR, 0x40)).toBe(false);
    expect(m.mmioRead(0, 0xfed00000 + Reg.TPR)).toBe(0x30);
    expect(m.apicRead(0, Reg.TPR)).toBe(0x30);
  });

  it('relocation is per processor: another CPU still decodes the default base', () => {
    const m = machine();
    m.wrmsr(0, IA32_APIC_BASE, 0xfed00000n | EN);
    expect(m.mmioRead(1, DEFAULT_BASE + Reg.ID)).toBe(0x01000000);
    expect(m.mmioRead(1, 0xfed00000 + Reg.ID)).toBeUndefined();
  });

  it('a base above 4G decodes at its full physical address', () => {
    const m = machine({ maxPhysAddr: 40 });
    const base = 0x80_fee00000;
    expect(m.wrmsr(0, IA32_APIC_BASE, BigInt(base) | EN)).toEqual({ ok: true });
    expect(m.mmioRead(0, base + Reg.VERSION)).toBe(0x01060014);
    expect(m.mmioRead(0, DEFAULT_BASE + Reg.VERSION)).toBeUndefined();
  });

  it('x2APIC mode decodes no MMIO, and MMIO writes have no effect', () => {
    const m = machine();
    m.wrmsr(0, IA32_APIC_BASE, 0xfee00000n | EN | EXTD);
    expect(m.mmioRead(0, DEFAULT_BASE + Reg.VERSION)).toBeUndefined();
    expect(m.apicRead(0, Reg.TPR)).toBeUndefined();
    expect(m.mmioWrite(0, DEFAULT_BASE + Reg.TPR, 0x20)).toBe(false);
    expect(m.rdmsr(0, 0x808)).toEqual({ ok: true, value: 0n });
  });

  it('a globally disabled APIC decodes no MMIO', () => {
    const m = machine();
    m.wrmsr(0, IA32_APIC_BASE, 0xfee00000n);
    expect(m.mmioRead(0, DEFAULT_BASE + Reg.VERSION)).toBeUndefined();
    expect(m.mmioWrite(0, DEFAULT_BASE + Reg.SVR, 0x1ff)).toBe(false);
    m.wrmsr(0, IA32_APIC_BASE, 0xfee00000n | EN);
    expect(m.mmioRead(0, DEFAULT_BASE + Reg.SVR)).toBe(0xff);
  });

  it('MMIO decoding is per processor: disabling CPU 0 leaves CPU 1 decoding', () => {
    const m = machine();
    m.wrmsr(0, IA32_APIC_BASE, 0xfee00000n);
    expect(m.mmioRead(1, DEFAULT_BASE + Reg.VERSION)).toBe(0x01060014);
  });
});
