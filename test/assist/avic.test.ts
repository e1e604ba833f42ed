// The AVIC hardware's check of an ICR write (src/assist/avic.ts): failure causes in order and the destinations
// the physical and logical APIC ID tables give. AMD APM Vol 2 15.29.3.2 Interprocessor Interrupts.

import { describe, expect, it } from 'vitest';
import { DFR_FLAT, DeliveryMode, Reg, Shorthand } from '../../src/arch/apic.js';
import { AvicIpiFailure } from '../../src/arch/avic.js';
import { avicIpi } from '../../src/assist/avic.js';
import type { Message } from '../../src/machine/bus.js';
import { Machine } from '../../src/machine/machine.js';

function machine(cpus = 4): Machine {
  const m = new Machine({ cpus });
  return m;
}
function msg(over: Partial<Message>): Message {
  return { vector: 0x80, mode: DeliveryMode.FIXED, levelTriggered: false, assert: true, logical: false, shorthand: Shorthand.NONE, destination: 1, x2apic: false, ...over };
}
function run(m: Machine, source: number, over: Partial<Message>): { cause: number; targets: number[] } {
  const out: number[] = [];
  const r = avicIpi(m, source, msg(over), out);
  return { cause: r.cause, targets: out.slice(0, r.n).sort() };
}
function setLdr(m: Machine, c: number, ldr: number, flat = true): void {
  m.apicWrite(c, Reg.DFR, flat ? DFR_FLAT : 0x0fffffff);
  m.apicWrite(c, Reg.LDR, ldr);
}

describe('AVIC ICR check (APM Vol 2 15.29.3.2)', () => {
  it('a fixed edge IPI to a vCPU\'s physical ID goes to it', () => {
    expect(run(machine(), 0, { destination: 2 })).toEqual({ cause: -1, targets: [2] });
  });

  it('any type but fixed, or a level-triggered fixed IPI, is cause 0 (invalid interrupt type)', () => {
    const m = machine();
    for (const mode of [DeliveryMode.LOWEST, DeliveryMode.NMI, DeliveryMode.INIT, DeliveryMode.STARTUP, DeliveryMode.SMI, DeliveryMode.EXTINT]) {
      expect(run(m, 0, { mode }).cause).toBe(AvicIpiFailure.INVALID_INT_TYPE);
    }
    expect(run(m, 0, { levelTriggered: true }).cause).toBe(AvicIpiFailure.INVALID_INT_TYPE);
  });

  it('a vector below 16 is cause 4 (invalid vector), checked after the type', () => {
    const m = machine();
    for (const vector of [0, 5, 15]) expect(run(m, 0, { vector }).cause).toBe(AvicIpiFailure.INVALID_IPI_VECTOR);
    expect(run(m, 0, { vector: 16 }).cause).toBe(-1);
    expect(run(m, 0, { vector: 5, mode: DeliveryMode.NMI }).cause).toBe(AvicIpiFailure.INVALID_INT_TYPE);
  });

  it('a physical ID no vCPU has, or an unplugged vCPU\'s, is cause 2 (invalid target)', () => {
    const m = machine();
    expect(run(m, 0, { destination: 7 }).cause).toBe(AvicIpiFailure.INVALID_TARGET);
    m.unplug(3);
    expect(run(m, 0, { destination: 3 }).cause).toBe(AvicIpiFailure.INVALID_TARGET);
  });

  it('shorthands and the physical broadcast skip invalid entries instead of failing', () => {
    const m = machine();
    m.unplug(3);
    expect(run(m, 0, { destination: 0xff })).toEqual({ cause: -1, targets: [0, 1, 2] });
    expect(run(m, 0, { shorthand: Shorthand.OTHERS })).toEqual({ cause: -1, targets: [1, 2] });
  });

  it('flat logical: every MDA bit needs a valid entry; one invalid bit fails the IPI for all', () => {
    const m = machine();
    setLdr(m, 1, 0x02000000);
    setLdr(m, 2, 0x04000000);
    expect(run(m, 0, { logical: true, destination: 0x06 })).toEqual({ cause: -1, targets: [1, 2] });
    expect(run(m, 0, { logical: true, destination: 0x0e }).cause).toBe(AvicIpiFailure.INVALID_TARGET);
    expect(run(m, 0, { logical: true, destination: 0x00 })).toEqual({ cause: -1, targets: [] });
  });

  it('a vCPU fills one logical entry, its lowest LDR bit: an IPI to its other bit is an invalid target', () => {
    const m = machine();
    setLdr(m, 1, 0x06000000);
    expect(run(m, 0, { logical: true, destination: 0x02 })).toEqual({ cause: -1, targets: [1] });
    expect(run(m, 0, { logical: true, destination: 0x04 }).cause).toBe(AvicIpiFailure.INVALID_TARGET);
  });

  it('cluster logical: entries are cluster * 4 + bit', () => {
    const m = machine();
    for (let c = 0; c < 4; c++) m.apicWrite(c, Reg.DFR, 0x0fffffff);
    setLdr(m, 1, 0x21000000, false);
    setLdr(m, 2, 0x22000000, false);
    setLdr(m, 3, 0x11000000, false);
    expect(run(m, 0, { logical: true, destination: 0x23 })).toEqual({ cause: -1, targets: [1, 2] });
    expect(run(m, 0, { logical: true, destination: 0x11 })).toEqual({ cause: -1, targets: [3] });
    expect(run(m, 0, { logical: true, destination: 0x12 }).cause).toBe(AvicIpiFailure.INVALID_TARGET);
  });
});
