// Priority, acceptance, EOI, spurious interrupts, ExtINT and the software-disabled APIC, through the Machine
// API. SDM Vol 3A 11.8.3.1, 11.8.4, 11.8.5, 11.9, 11.4.7.2 (docs/spec-map.md sections 2, 7 and 12).

import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/arch/apic.js';
import { Machine, type MachineConfig } from '../../src/machine/machine.js';
import { machine, rd, wr } from './helpers.js';
import { A } from '../../src/apic/layout.js';

const LEVEL = 1 << 15;
const MASKED = 1 << 16;
const SELF = 1 << 18;
const SVR_ENABLE = 0x100;
const SVR_EOI_SUPPRESS = 0x1000;

function enable(m: Machine, cpu: number, svr = 0x1ff): void {
  wr(m, cpu, Reg.SVR, svr);
}
/** A fixed, edge self-IPI through the ICR. */
function selfIpi(m: Machine, cpu: number, vector: number): void {
  wr(m, cpu, Reg.ICR_LO, SELF | vector);
}
/** A fixed, edge IPI to the APIC with ID `dest` (physical). */
function ipi(m: Machine, from: number, dest: number, lo: number): void {
  wr(m, from, Reg.ICR_HI, dest << 24);
  wr(m, from, Reg.ICR_LO, lo);
}
function bit(m: Machine, cpu: number, base: number, v: number): boolean {
  return (rd(m, cpu, base + 16 * (v >>> 5)) & (1 << (v & 31))) !== 0;
}
const irr = (m: Machine, cpu: number, v: number) => bit(m, cpu, Reg.IRR0, v);
const isr = (m: Machine, cpu: number, v: number) => bit(m, cpu, Reg.ISR0, v);
const tmr = (m: Machine, cpu: number, v: number) => bit(m, cpu, Reg.TMR0, v);
/** Vectors set in a 256-bit register. */
function vectors(m: Machine, cpu: number, base: number): number[] {
  const out: number[] = [];
  for (let v = 0; v < 256; v++) if (bit(m, cpu, base, v)) out.push(v);
  return out;
}
/** Put `v` in service on `cpu` (IF must be 1 and v deliverable). */
function service(m: Machine, cpu: number, v: number): void {
  selfIpi(m, cpu, v);
  expect(m.takeEvent(cpu)).toEqual({ kind: 'intr', vector: v });
}
/** A ready CPU 0: software-enabled, IF = 1. */
function ready(config: Partial<MachineConfig> = {}): Machine {
  const m = machine(config);
  enable(m, 0);
  m.cpu(0).setIf(true);
  return m;
}

/** Program I/O APIC pin `pin` as a fixed, level-triggered, physical entry to APIC `dest`. */
function levelPin(m: Machine, pin: number, vector: number, dest = 0): void {
  const io = m.ioapic;
  if (!io) throw new Error('no I/O APIC');
  io.writeRegister(0x10 + 2 * pin + 1, dest << 24);
  io.writeRegister(0x10 + 2 * pin, LEVEL | vector);
}
function remoteIrr(m: Machine, pin: number): boolean {
  const io = m.ioapic;
  if (!io) throw new Error('no I/O APIC');
  return io.remoteIrr(pin);
}

describe('processor priority (PPR)', () => {
  const hex = (v: number) => (v < 0 ? 'none' : `0x${v.toString(16).padStart(2, '0')}`);
  const PPR_CASES: [number, number, number][] = [
    // [TPR, vector in service or -1, expected PPR]
    [0x00, -1, 0x00],
    [0x35, -1, 0x35],
    [0x00, 0x41, 0x40],
    [0x35, 0x41, 0x40],
    [0x3f, 0x4a, 0x40],
    [0x45, 0x41, 0x45],
    [0x4f, 0x4a, 0x4f],
    [0x40, 0x4f, 0x40],
    [0x50, 0x41, 0x50],
    [0x2f, 0xfe, 0xf0],
    [0xff, 0xfe, 0xff],
    [0xf0, 0x10, 0xf0],
  ];
  it.each(PPR_CASES.map(([t, i, p]) => [hex(t), hex(i), hex(p), t, i, p] as const))(
    'TPR %s with ISRV %s gives PPR %s',
    (_t, _i, _p, tpr, inService, expected) => {
      const m = ready();
      if (inService >= 0) service(m, 0, inService);
      wr(m, 0, Reg.TPR, tpr);
      expect(rd(m, 0, Reg.PPR)).toBe(expected);
    },
  );

  it('PPR follows the highest in-service vector, not the lowest', () => {
    const m = ready();
    service(m, 0, 0x31);
    service(m, 0, 0x62);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([0x31, 0x62]);
    expect(rd(m, 0, Reg.PPR)).toBe(0x60);
  });

  it('PPR drops back to TPR when the ISR empties', () => {
    const m = ready();
    service(m, 0, 0x81);
    wr(m, 0, Reg.TPR, 0x23);
    expect(rd(m, 0, Reg.PPR)).toBe(0x80);
    wr(m, 0, Reg.EOI, 0);
    expect(rd(m, 0, Reg.PPR)).toBe(0x23);
  });
});

describe('arbitration priority (APR)', () => {
  // [vendor, TPR, in-service vector or -1, requested vector or -1, APR]
  const cases: ['intel' | 'amd', number, number, number, number][] = [
    ['intel', 0x30, -1, -1, 0x30], // TPR alone
    ['intel', 0x35, -1, 0x20, 0x35], // TPR class above the request: APR = TPR
    ['intel', 0x30, -1, 0x48, 0x40], // request above TPR: its class
    ['intel', 0x20, 0x58, -1, 0x00], // TPR[7:4] AND ISRV[7:4] = 2 & 5 = 0 (SDM 11.6.2.4, literally)
    ['intel', 0x60, 0x48, -1, 0x60], // TPR above the in-service class
    ['intel', 0x70, 0x78, -1, 0x70], // equal classes: not "TPR > ISRV": 7 & 7 = 7, low nibble 0
    ['amd', 0x20, 0x58, -1, 0x50], // AMD ArbPri: the higher of TPR and the ISR/IRR classes
    ['amd', 0x35, -1, 0x20, 0x35],
  ];
  it.each(cases)('%s: TPR %i, ISR %i, IRR %i gives APR %i', (vendor, tpr, isr, irr, apr) => {
    const m = machine({ vendor });
    enable(m, 0);
    wr(m, 0, Reg.TPR, tpr);
    if (isr >= 0) m.apics[0].setWord(A.ISR + (isr >>> 5), 1 << (isr & 31));
    if (irr >= 0) m.apics[0].setWord(A.IRR + (irr >>> 5), 1 << (irr & 31));
    expect(rd(m, 0, Reg.APR)).toBe(apr);
  });
});

describe('acceptance and dispatch', () => {
  it('an accepted fixed interrupt sets its IRR bit and leaves ISR alone', () => {
    const m = machine();
    enable(m, 0);
    selfIpi(m, 0, 0x45);
    expect(vectors(m, 0, Reg.IRR0)).toEqual([0x45]);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
  });

  it('taking an interrupt moves the highest IRR vector to ISR', () => {
    const m = machine();
    enable(m, 0);
    selfIpi(m, 0, 0x31);
    selfIpi(m, 0, 0x62);
    m.cpu(0).setIf(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x62 });
    expect(vectors(m, 0, Reg.IRR0)).toEqual([0x31]);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([0x62]);
  });

  it('a lower-class IRR vector waits until the in-service class is EOIed', () => {
    const m = ready();
    selfIpi(m, 0, 0x31);
    selfIpi(m, 0, 0x62);
    m.takeEvent(0);
    expect(m.pendingEvent(0)).toBe('none');
    expect(m.takeEvent(0)).toEqual({ kind: 'none', vector: -1 });
    wr(m, 0, Reg.EOI, 0);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x31 });
  });

  it('a vector whose class equals the TPR class is not deliverable', () => {
    const m = ready();
    wr(m, 0, Reg.TPR, 0x40);
    selfIpi(m, 0, 0x4f);
    expect(m.interruptDeliverable(0)).toBe(false);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(irr(m, 0, 0x4f)).toBe(true);
    selfIpi(m, 0, 0x50);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x50 });
  });

  it('a vector whose class equals the in-service class is not deliverable until EOI', () => {
    const m = ready();
    service(m, 0, 0x45);
    selfIpi(m, 0, 0x4a);
    expect(m.interruptDeliverable(0)).toBe(false);
    wr(m, 0, Reg.EOI, 0);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x4a });
  });

  it('lowering TPR below a pending class makes it deliverable', () => {
    const m = ready();
    wr(m, 0, Reg.TPR, 0x80);
    selfIpi(m, 0, 0x70);
    expect(m.interruptDeliverable(0)).toBe(false);
    wr(m, 0, Reg.TPR, 0x6f);
    expect(m.interruptDeliverable(0)).toBe(true);
  });

  it('a second arrival of a vector already in IRR collapses into the same bit', () => {
    const m = ready();
    m.cpu(0).setIf(false);
    selfIpi(m, 0, 0x40);
    selfIpi(m, 0, 0x40);
    m.cpu(0).setIf(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x40 });
    wr(m, 0, Reg.EOI, 0);
    expect(m.takeEvent(0).kind).toBe('none');
  });

  it('one instance can be pending in IRR while the same vector is in service', () => {
    const m = ready();
    service(m, 0, 0x40);
    selfIpi(m, 0, 0x40);
    expect(isr(m, 0, 0x40)).toBe(true);
    expect(irr(m, 0, 0x40)).toBe(true);
    wr(m, 0, Reg.EOI, 0);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x40 });
  });
});

describe('EOI', () => {
  it('EOI clears the highest ISR bit, not the lowest', () => {
    const m = ready();
    service(m, 0, 0x31);
    service(m, 0, 0x62);
    wr(m, 0, Reg.EOI, 0);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([0x31]);
    wr(m, 0, Reg.EOI, 0);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
  });

  it('the value written to the xAPIC EOI register does not matter', () => {
    const m = ready();
    service(m, 0, 0x31);
    wr(m, 0, Reg.EOI, 0xdeadbeef);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
  });

  it('EOI with an empty ISR changes nothing', () => {
    const m = ready();
    selfIpi(m, 0, 0x31);
    m.cpu(0).setIf(false);
    const hash = m.hash();
    wr(m, 0, Reg.EOI, 0);
    expect(m.hash()).toBe(hash);
  });

  it('EOI of a level-triggered vector broadcasts to the I/O APIC and clears Remote IRR', () => {
    const m = ready();
    levelPin(m, 5, 0x40);
    m.irq(5, true);
    expect(remoteIrr(m, 5)).toBe(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x40 });
    m.irq(5, false);
    expect(remoteIrr(m, 5)).toBe(true);
    wr(m, 0, Reg.EOI, 0);
    expect(remoteIrr(m, 5)).toBe(false);
  });

  it('the EOI broadcast re-delivers a level pin that is still asserted', () => {
    const m = ready();
    levelPin(m, 5, 0x40);
    m.irq(5, true);
    m.takeEvent(0);
    expect(irr(m, 0, 0x40)).toBe(false);
    wr(m, 0, Reg.EOI, 0);
    expect(remoteIrr(m, 5)).toBe(true);
    expect(irr(m, 0, 0x40)).toBe(true);
  });

  it('SVR bit 12 suppresses the EOI broadcast: Remote IRR stays set', () => {
    const m = machine();
    enable(m, 0, 0x1ff | SVR_EOI_SUPPRESS);
    m.cpu(0).setIf(true);
    levelPin(m, 5, 0x40);
    m.irq(5, true);
    m.takeEvent(0);
    m.irq(5, false);
    wr(m, 0, Reg.EOI, 0);
    expect(isr(m, 0, 0x40)).toBe(false);
    expect(remoteIrr(m, 5)).toBe(true);
  });

  it('EOI of an edge-triggered vector does not broadcast', () => {
    const m = ready();
    enable(m, 1);
    levelPin(m, 6, 0x31, 1); // level 0x31 accepted by CPU 1: Remote IRR set on pin 6
    m.irq(6, true);
    m.irq(6, false);
    expect(remoteIrr(m, 6)).toBe(true);
    expect(tmr(m, 1, 0x31)).toBe(true);
    service(m, 0, 0x31); // the same vector, edge, on CPU 0
    expect(tmr(m, 0, 0x31)).toBe(false);
    wr(m, 0, Reg.EOI, 0);
    expect(isr(m, 0, 0x31)).toBe(false);
    expect(remoteIrr(m, 6)).toBe(true);
  });

  it('an edge arrival of a vector clears its TMR bit, so its EOI no longer broadcasts', () => {
    const m = ready();
    levelPin(m, 5, 0x40);
    m.irq(5, true);
    expect(tmr(m, 0, 0x40)).toBe(true);
    m.takeEvent(0);
    m.irq(5, false);
    selfIpi(m, 0, 0x40); // the same vector, edge, lands in IRR while 0x40 is in service
    expect(tmr(m, 0, 0x40)).toBe(false);
    wr(m, 0, Reg.EOI, 0);
    expect(remoteIrr(m, 5)).toBe(true);
  });
});

describe('trigger mode register', () => {
  it('TMR is set when a level-triggered interrupt is accepted', () => {
    const m = ready();
    levelPin(m, 2, 0x73);
    m.irq(2, true);
    expect(irr(m, 0, 0x73)).toBe(true);
    expect(tmr(m, 0, 0x73)).toBe(true);
    expect(vectors(m, 0, Reg.TMR0)).toEqual([0x73]);
  });

  it('TMR is set by a level-triggered MSI', () => {
    const m = ready();
    m.msi(0xfee00000, 0xc000 | 0x91);
    expect(tmr(m, 0, 0x91)).toBe(true);
  });

  it('TMR is cleared when the vector is accepted edge-triggered', () => {
    const m = ready();
    m.cpu(0).setIf(false);
    m.msi(0xfee00000, 0xc000 | 0x91);
    expect(tmr(m, 0, 0x91)).toBe(true);
    m.msi(0xfee00000, 0x91);
    expect(tmr(m, 0, 0x91)).toBe(false);
    expect(irr(m, 0, 0x91)).toBe(true);
  });

  it('an edge-triggered interrupt leaves TMR clear', () => {
    const m = ready();
    m.cpu(0).setIf(false);
    selfIpi(m, 0, 0x91);
    expect(vectors(m, 0, Reg.TMR0)).toEqual([]);
  });
});

describe('spurious interrupts', () => {
  it('acknowledge with nothing deliverable returns the spurious vector and leaves ISR untouched', () => {
    const m = ready();
    selfIpi(m, 0, 0x45);
    expect(m.pendingEvent(0)).toBe('intr');
    // The INTA race: TPR is raised between the presentation and the acknowledge.
    wr(m, 0, Reg.TPR, 0x50);
    expect(m.apic(0).acknowledge()).toBe(0xff);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
    expect(vectors(m, 0, Reg.IRR0)).toEqual([0x45]);
  });

  it('the spurious vector is SVR[7:0]', () => {
    const m = machine();
    enable(m, 0, SVR_ENABLE | 0x3f);
    expect(m.apic(0).acknowledge()).toBe(0x3f);
    enable(m, 0, SVR_ENABLE | 0xe7);
    expect(m.apic(0).acknowledge()).toBe(0xe7);
  });

  it('with nothing pending, takeEvent takes nothing and the ISR stays empty', () => {
    const m = ready();
    expect(m.takeEvent(0)).toEqual({ kind: 'none', vector: -1 });
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
  });

  it('a spurious acknowledge needs no EOI: a following EOI finds the earlier in-service vector', () => {
    const m = ready();
    service(m, 0, 0x31);
    expect(m.apic(0).acknowledge()).toBe(0xff);
    wr(m, 0, Reg.EOI, 0);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
  });
});

describe('ExtINT', () => {
  it('LINT0 in ExtINT mode delivers an extint event that bypasses IRR and ISR', () => {
    const m = ready();
    wr(m, 0, Reg.LVT_LINT0, 0x700 | 0x08);
    m.lint(0, 0);
    expect(m.pendingEvent(0)).toBe('extint');
    expect(vectors(m, 0, Reg.IRR0)).toEqual([]);
    expect(m.takeEvent(0)).toEqual({ kind: 'extint', vector: 0x08 });
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
    expect(rd(m, 0, Reg.PPR)).toBe(0);
  });

  it('ExtINT is maskable: it waits for IF = 1', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.LVT_LINT0, 0x700 | 0x20);
    m.lint(0, 0);
    expect(m.takeEvent(0).kind).toBe('none');
    m.cpu(0).setIf(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'extint', vector: 0x20 });
  });

  it('ExtINT ignores TPR and PPR', () => {
    const m = ready();
    wr(m, 0, Reg.TPR, 0xff);
    wr(m, 0, Reg.LVT_LINT0, 0x700 | 0x20);
    m.lint(0, 0);
    expect(m.takeEvent(0)).toEqual({ kind: 'extint', vector: 0x20 });
  });

  it('a masked LINT0 in ExtINT mode delivers nothing', () => {
    const m = ready();
    wr(m, 0, Reg.LVT_LINT0, MASKED | 0x700 | 0x20);
    m.lint(0, 0);
    expect(m.takeEvent(0).kind).toBe('none');
  });

  it('an I/O APIC entry in ExtINT mode delivers an extint event', () => {
    const m = ready();
    const io = m.ioapic;
    if (!io) throw new Error('no I/O APIC');
    io.writeRegister(0x10 + 1, 0);
    io.writeRegister(0x10, 0x700);
    m.pulse(0);
    expect(m.takeEvent(0).kind).toBe('extint');
    expect(vectors(m, 0, Reg.IRR0)).toEqual([]);
  });
});

describe('software-disabled APIC (SVR[8] = 0)', () => {
  it('clearing SVR[8] sets the mask bit of every LVT entry', () => {
    const m = machine();
    enable(m, 0);
    const lvts = [Reg.LVT_CMCI, Reg.LVT_TIMER, Reg.LVT_THERMAL, Reg.LVT_PMC, Reg.LVT_LINT0, Reg.LVT_LINT1, Reg.LVT_ERROR];
    for (const o of lvts) wr(m, 0, o, 0x40);
    wr(m, 0, Reg.SVR, 0xff);
    for (const o of lvts) expect(rd(m, 0, o)).toBe(MASKED | 0x40);
  });

  it('LVT mask bits cannot be cleared while software-disabled', () => {
    const m = machine();
    const lvts = [Reg.LVT_CMCI, Reg.LVT_TIMER, Reg.LVT_THERMAL, Reg.LVT_PMC, Reg.LVT_LINT0, Reg.LVT_LINT1, Reg.LVT_ERROR];
    for (const o of lvts) {
      wr(m, 0, o, 0x41);
      expect(rd(m, 0, o)).toBe(MASKED | 0x41);
    }
  });

  it('the forced masks stay after re-enabling, until software rewrites the entries', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.LVT_LINT1, 0x400);
    wr(m, 0, Reg.SVR, 0xff);
    enable(m, 0);
    expect(rd(m, 0, Reg.LVT_LINT1)).toBe(MASKED | 0x400);
    wr(m, 0, Reg.LVT_LINT1, 0x400);
    expect(rd(m, 0, Reg.LVT_LINT1)).toBe(0x400);
  });

  it('a masked-by-disable LINT1 NMI entry delivers nothing', () => {
    const m = machine();
    enable(m, 0);
    wr(m, 0, Reg.LVT_LINT1, 0x400);
    wr(m, 0, Reg.SVR, 0xff);
    m.lint(0, 1);
    expect(m.takeEvent(0).kind).toBe('none');
  });

  it('new fixed interrupts are dropped: self IPI, MSI and I/O APIC', () => {
    const m = machine();
    m.cpu(0).setIf(true);
    selfIpi(m, 0, 0x40);
    m.msi(0xfee00000, 0x41);
    const io = m.ioapic;
    if (!io) throw new Error('no I/O APIC');
    io.writeRegister(0x11, 0);
    io.writeRegister(0x10, 0x42);
    m.pulse(0);
    expect(vectors(m, 0, Reg.IRR0)).toEqual([]);
    expect(m.takeEvent(0).kind).toBe('none');
    enable(m, 0);
    expect(vectors(m, 0, Reg.IRR0)).toEqual([]);
  });

  it('SVR is the only switch: the same self IPI is accepted once SVR[8] is set', () => {
    const m = machine();
    selfIpi(m, 0, 0x40);
    expect(irr(m, 0, 0x40)).toBe(false);
    enable(m, 0);
    selfIpi(m, 0, 0x40);
    expect(irr(m, 0, 0x40)).toBe(true);
  });

  it('IRR and ISR bits are held (not flushed) when the APIC is software-disabled', () => {
    const m = ready();
    service(m, 0, 0x51);
    m.cpu(0).setIf(false);
    selfIpi(m, 0, 0x62);
    wr(m, 0, Reg.SVR, 0xff);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([0x51]);
    expect(vectors(m, 0, Reg.IRR0)).toEqual([0x62]);
  });

  it('a held IRR bit is still presented and is acknowledged as the spurious vector (decision D-1)', () => {
    const m = ready();
    m.cpu(0).setIf(false);
    selfIpi(m, 0, 0x62);
    wr(m, 0, Reg.SVR, 0x37); // software-disable, spurious vector 0x37
    expect(m.pendingEvent(0)).toBe('none'); // IF = 0
    m.cpu(0).setIf(true);
    expect(m.pendingEvent(0)).toBe('intr');
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x37 });
    expect(vectors(m, 0, Reg.IRR0)).toEqual([]);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
    expect(m.takeEvent(0).kind).toBe('none');
  });

  it('a held IRR bit still respects PPR while software-disabled', () => {
    const m = ready();
    m.cpu(0).setIf(false);
    selfIpi(m, 0, 0x62);
    wr(m, 0, Reg.SVR, 0xff);
    wr(m, 0, Reg.TPR, 0x60);
    m.cpu(0).setIf(true);
    expect(m.pendingEvent(0)).toBe('none');
    wr(m, 0, Reg.TPR, 0);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0xff });
  });

  it('seed 004: a timer interrupt pending in IRR when the guest clears SVR[8] drains and does not stay stale', () => {
    const m = machine();
    enable(m, 0, 0x1ff);
    wr(m, 0, Reg.LVT_TIMER, 0xec); // one-shot, vector 0xEC
    wr(m, 0, Reg.TIMER_ICR, 10);
    m.advanceBy(20); // divide by 2: fires at t = 20 while IF = 0
    expect(irr(m, 0, 0xec)).toBe(true);
    // The CPU goes offline: it software-disables its APIC with the timer IRR bit still set.
    wr(m, 0, Reg.SVR, 0xff);
    expect(rd(m, 0, Reg.LVT_TIMER) & MASKED).not.toBe(0);
    // Interrupts are enabled again: the pending bit drains as a spurious interrupt.
    m.cpu(0).setIf(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0xff });
    // The CPU comes back online: nothing stale in IRR (Linux's apic_pending_intr_clear finds it clean).
    enable(m, 0, 0x1ff);
    expect(vectors(m, 0, Reg.IRR0)).toEqual([]);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
    expect(m.takeEvent(0).kind).toBe('none');
  });

  it('an EOI while software-disabled still retires the in-service vector', () => {
    const m = ready();
    service(m, 0, 0x51);
    wr(m, 0, Reg.SVR, 0xff);
    wr(m, 0, Reg.EOI, 0);
    expect(vectors(m, 0, Reg.ISR0)).toEqual([]);
  });

  it('an NMI IPI is delivered to a software-disabled APIC', () => {
    const m = machine();
    m.cpu(1).receiveSipi(0x10); // CPU 1 running
    ipi(m, 0, 1, 0x400); // NMI, sent by a software-disabled APIC too
    expect(m.takeEvent(1)).toEqual({ kind: 'nmi', vector: 2 });
  });

  it('an INIT IPI is delivered to a software-disabled APIC', () => {
    const m = machine();
    m.cpu(1).receiveSipi(0x10);
    ipi(m, 0, 1, 0x4500);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(m.waitingForSipi(1)).toBe(true);
  });

  it('an SMI IPI is delivered to a software-disabled APIC', () => {
    const m = machine();
    m.cpu(1).receiveSipi(0x10);
    ipi(m, 0, 1, 0x4200);
    expect(m.takeEvent(1).kind).toBe('smi');
    expect(m.cpu(1).inSmm()).toBe(true);
  });

  it('a SIPI is delivered to a software-disabled APIC in wait-for-SIPI', () => {
    const m = machine();
    expect(m.waitingForSipi(1)).toBe(true);
    ipi(m, 0, 1, 0x4600 | 0x9a);
    expect(m.waitingForSipi(1)).toBe(false);
    expect(m.cpu(1).sipiVector()).toBe(0x9a);
  });

  it('the NMI pin is still taken while software-disabled', () => {
    const m = machine();
    m.nmi(0);
    expect(m.takeEvent(0)).toEqual({ kind: 'nmi', vector: 2 });
  });

  it('a software-disabled APIC can still send fixed IPIs', () => {
    const m = machine();
    enable(m, 1);
    ipi(m, 0, 1, 0x40);
    expect(irr(m, 1, 0x40)).toBe(true);
  });
});
