// The error status register and the LVT error entry, through the Machine API. SDM Vol 3A 11.5.3 Error Handling
// and 11.12.8 Error Handling in x2APIC Mode (docs/spec-map.md section 3).

import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/arch/apic.js';
import { Machine } from '../../src/machine/machine.js';
import { esr, machine, rd, wr } from './helpers.js';

const SEND_ILLEGAL_VECTOR = 1 << 5;
const RECEIVE_ILLEGAL_VECTOR = 1 << 6;
const ILLEGAL_REGISTER = 1 << 7;
const MASKED = 1 << 16;
const SELF = 1 << 18;
const IA32_APIC_BASE = 0x1b;
const X2APIC = 0xfee00000n | (1n << 11n) | (1n << 10n);
const MSR_ESR = 0x828;

function enable(m: Machine, cpu: number): void {
  wr(m, cpu, Reg.SVR, 0x1ff);
}
function ipi(m: Machine, from: number, dest: number, lo: number): void {
  wr(m, from, Reg.ICR_HI, dest << 24);
  wr(m, from, Reg.ICR_LO, lo);
}
function irrVectors(m: Machine, cpu: number): number[] {
  const out: number[] = [];
  for (let w = 0; w < 8; w++) {
    const x = rd(m, cpu, Reg.IRR0 + 16 * w);
    for (let b = 0; b < 32; b++) if (x & (1 << b)) out.push(w * 32 + b);
  }
  return out;
}
function x2(m: Machine, cpu: number): void {
  expect(m.wrmsr(cpu, IA32_APIC_BASE, X2APIC)).toEqual({ ok: true });
}
function x2esr(m: Machine, cpu: number): bigint {
  expect(m.wrmsr(cpu, MSR_ESR, 0n)).toEqual({ ok: true });
  const r = m.rdmsr(cpu, MSR_ESR);
  if (!r.ok) throw new Error('ESR read faulted');
  return r.value;
}

describe('send illegal vector (bit 5)', () => {
  it.each([0, 1, 5, 15])('a fixed IPI with vector %i is not sent and sets Send Illegal Vector', (vector) => {
    const m = machine();
    enable(m, 0);
    enable(m, 1);
    ipi(m, 0, 1, vector);
    expect(esr(m, 0)).toBe(SEND_ILLEGAL_VECTOR);
    expect(esr(m, 1)).toBe(0); // nothing arrived, so the receiver saw no illegal vector
    expect(irrVectors(m, 1)).toEqual([]);
  });

  it('a fixed self IPI with vector < 16 is not sent: only the send error is latched', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.ICR_LO, SELF | 0x0f);
    expect(esr(m, 0)).toBe(SEND_ILLEGAL_VECTOR);
  });

  it('a lowest-priority IPI with vector < 16 is not sent and sets Send Illegal Vector (the model sends lowest priority)', () => {
    const m = machine();
    enable(m, 1);
    ipi(m, 0, 1, 0x100 | 0x03);
    expect(esr(m, 0)).toBe(SEND_ILLEGAL_VECTOR);
    expect(esr(m, 1)).toBe(0);
  });

  it('vector 16 is legal: a fixed IPI with vector 0x10 is delivered without error', () => {
    const m = machine();
    enable(m, 1);
    ipi(m, 0, 1, 0x10);
    expect(esr(m, 0)).toBe(0);
    expect(irrVectors(m, 1)).toEqual([0x10]);
  });

  it('an NMI IPI ignores its vector: vector 0 is no error and is delivered', () => {
    const m = machine();
    m.cpu(1).receiveSipi(0x10);
    ipi(m, 0, 1, 0x400);
    expect(esr(m, 0)).toBe(0);
    expect(m.takeEvent(1).kind).toBe('nmi');
  });
});

describe('receive illegal vector (bit 6)', () => {
  it('an MSI with vector 5 is refused and sets Receive Illegal Vector at the receiver', () => {
    const m = machine();
    enable(m, 1);
    m.msi(0xfee00000 + (1 << 12), 0x05);
    expect(irrVectors(m, 1)).toEqual([]);
    expect(esr(m, 1)).toBe(RECEIVE_ILLEGAL_VECTOR);
    expect(esr(m, 0)).toBe(0);
  });

  it('an I/O APIC message with vector 3 sets Receive Illegal Vector', () => {
    const m = machine();
    enable(m, 0);
    const io = m.ioapic;
    if (!io) throw new Error('no I/O APIC');
    io.writeRegister(0x11, 0);
    io.writeRegister(0x10, 0x03);
    m.pulse(0);
    expect(irrVectors(m, 0)).toEqual([]);
    expect(esr(m, 0)).toBe(RECEIVE_ILLEGAL_VECTOR);
  });

  it('a local LVT entry with vector < 16 sets Receive Illegal Vector', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.LVT_LINT0, 0x07); // fixed, vector 7
    m.lint(0, 0);
    expect(irrVectors(m, 0)).toEqual([]);
    expect(esr(m, 0)).toBe(RECEIVE_ILLEGAL_VECTOR);
  });
});

describe('latching', () => {
  it('errors are not visible in ESR until ESR is written', () => {
    const m = machine();
    ipi(m, 0, 1, 0x05);
    expect(rd(m, 0, Reg.ESR)).toBe(0);
    wr(m, 0, Reg.ESR, 0);
    expect(rd(m, 0, Reg.ESR)).toBe(SEND_ILLEGAL_VECTOR);
  });

  it('errors accumulate in the latch until the next ESR write', () => {
    const m = machine();
    ipi(m, 0, 1, 0x05);
    rd(m, 0, 0x040);
    m.msi(0xfee00000, 0x02);
    expect(esr(m, 0)).toBe(SEND_ILLEGAL_VECTOR | RECEIVE_ILLEGAL_VECTOR | ILLEGAL_REGISTER);
  });

  it('an ESR write clears the latch: a second write with no new error publishes 0', () => {
    const m = machine();
    rd(m, 0, 0x040);
    expect(esr(m, 0)).toBe(ILLEGAL_REGISTER);
    expect(esr(m, 0)).toBe(0);
  });

  it('reading ESR does not clear it', () => {
    const m = machine();
    rd(m, 0, 0x040);
    wr(m, 0, Reg.ESR, 0);
    expect(rd(m, 0, Reg.ESR)).toBe(ILLEGAL_REGISTER);
    expect(rd(m, 0, Reg.ESR)).toBe(ILLEGAL_REGISTER);
  });

  it('an error after the ESR write waits for the following write', () => {
    const m = machine();
    rd(m, 0, 0x040);
    wr(m, 0, Reg.ESR, 0);
    ipi(m, 0, 1, 0x05);
    expect(rd(m, 0, Reg.ESR)).toBe(ILLEGAL_REGISTER);
    expect(esr(m, 0)).toBe(SEND_ILLEGAL_VECTOR);
  });

  it('the value written to the xAPIC ESR does not matter', () => {
    const m = machine();
    wr(m, 0, Reg.ESR, 0xffffffff);
    expect(rd(m, 0, Reg.ESR)).toBe(0);
  });

  it('errors are per APIC', () => {
    const m = machine();
    rd(m, 0, 0x040);
    expect(esr(m, 1)).toBe(0);
    expect(esr(m, 0)).toBe(ILLEGAL_REGISTER);
  });

  it('INIT clears the ESR and its latch', () => {
    const m = machine();
    rd(m, 0, 0x040);
    wr(m, 0, Reg.ESR, 0);
    rd(m, 0, 0x050);
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('init');
    expect(rd(m, 0, Reg.ESR)).toBe(0);
    expect(esr(m, 0)).toBe(0);
  });
});

describe('LVT error interrupt', () => {
  it('an error raises the LVT error vector when the entry is unmasked', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.LVT_ERROR, 0xfe);
    rd(m, 0, 0x040);
    expect(irrVectors(m, 0)).toEqual([0xfe]);
    m.cpu(0).setIf(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0xfe });
    expect(esr(m, 0)).toBe(ILLEGAL_REGISTER);
  });

  it('every error raises the interrupt, including receive errors', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.LVT_ERROR, 0xfe);
    m.msi(0xfee00000, 0x01);
    expect(irrVectors(m, 0)).toEqual([0xfe]);
  });

  it('the error interrupt is edge-triggered (TMR clear)', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.LVT_ERROR, 0xfe);
    rd(m, 0, 0x040);
    expect(rd(m, 0, Reg.TMR0 + 0x70)).toBe(0);
  });

  it('a masked LVT error entry raises no interrupt but the error is still recorded', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.LVT_ERROR, MASKED | 0xfe);
    rd(m, 0, 0x040);
    expect(irrVectors(m, 0)).toEqual([]);
    expect(esr(m, 0)).toBe(ILLEGAL_REGISTER);
  });

  it('a software-disabled APIC records errors but raises no error interrupt', () => {
    const m = machine();
    wr(m, 0, Reg.LVT_ERROR, 0xfe); // forced masked
    rd(m, 0, 0x040);
    expect(irrVectors(m, 0)).toEqual([]);
    expect(esr(m, 0)).toBe(ILLEGAL_REGISTER);
  });
});

describe('x2APIC mode', () => {
  it('a write of a non-zero value to the x2APIC ESR raises #GP and publishes nothing', () => {
    const m = machine();
    x2(m, 0);
    expect(m.wrmsr(0, 0x830, 0x05n)).toEqual({ ok: true }); // fixed IPI, vector 5: Send Illegal Vector
    for (const v of [1n, 0x80n, 0xffffffffn, 1n << 32n]) expect(m.wrmsr(0, MSR_ESR, v)).toEqual({ ok: false, fault: 'GP' });
    expect(m.rdmsr(0, MSR_ESR)).toEqual({ ok: true, value: 0n });
    expect(x2esr(m, 0)).toBe(BigInt(SEND_ILLEGAL_VECTOR));
  });

  it('a write of 0 to the x2APIC ESR publishes the latch', () => {
    const m = machine();
    x2(m, 0);
    m.msi(0xfee00000, 0x04);
    expect(m.rdmsr(0, MSR_ESR)).toEqual({ ok: true, value: 0n });
    expect(x2esr(m, 0)).toBe(BigInt(RECEIVE_ILLEGAL_VECTOR));
    expect(x2esr(m, 0)).toBe(0n);
  });

  it('an x2APIC SELF IPI with vector < 16 is not sent and sets Send Illegal Vector', () => {
    const m = machine();
    x2(m, 0);
    m.wrmsr(0, 0x80f, 0x1ffn);
    expect(m.wrmsr(0, 0x83f, 0x0an)).toEqual({ ok: true });
    expect(x2esr(m, 0)).toBe(BigInt(SEND_ILLEGAL_VECTOR));
    expect(m.rdmsr(0, 0x820)).toEqual({ ok: true, value: 0n });
  });

  it('an x2APIC reserved MSR raises #GP instead of setting Illegal Register Address', () => {
    const m = machine();
    x2(m, 0);
    expect(m.rdmsr(0, 0x804)).toEqual({ ok: false, fault: 'GP' });
    expect(m.wrmsr(0, 0x804, 0n)).toEqual({ ok: false, fault: 'GP' });
    expect(x2esr(m, 0)).toBe(0n);
  });
});
