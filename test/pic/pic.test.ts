// The minimal 8259A (src/pic/pic.ts) and its wiring: INT to every LINT0 and to I/O APIC pin 0, INTA through ExtINT.
import { describe, expect, it } from 'vitest';
import { HostError } from '../../src/arch/errors.js';
import { Reg } from '../../src/arch/apic.js';
import { Machine } from '../../src/machine/machine.js';
import { rd, wr } from '../apic/helpers.js';

function pc(cpus = 1): Machine {
  const m = new Machine({ cpus, pic: true });
  for (let c = 0; c < cpus; c++) {
    wr(m, c, Reg.SVR, 0x1ff);
    m.cpu(c).setIf(true);
  }
  return m;
}

/** ICW1 (edge, single, ICW4), ICW2 = base, ICW4 (AEOI as asked), OCW1 = mask. */
function program(m: Machine, base: number, mask: number, aeoi = false): void {
  m.picWrite(0x20, 0x13);
  m.picWrite(0x21, base);
  m.picWrite(0x21, aeoi ? 0x03 : 0x01);
  m.picWrite(0x21, mask);
}

describe('8259A', () => {
  it('powers up as a PC firmware leaves it: vectors 08h-0Fh, every input masked', () => {
    const m = pc();
    expect(m.picRead(0x21)).toBe(0xff);
    m.picInput(1, true);
    expect(m.pic?.int()).toBe(false);
    m.picWrite(0x21, 0);
    expect(m.pic?.inta()).toBe(0x09);
  });

  it('the initialization sequence sets the vector base; ICW1 clears the mask and the requests', () => {
    const m = pc();
    m.picInput(3, true);
    program(m, 0x30, 0x00);
    expect(m.picRead(0x20)).toBe(0); // the edge latched before ICW1 is gone
    m.picInput(3, false);
    m.picInput(3, true);
    expect(m.pic?.inta()).toBe(0x33);
  });

  it('fully nested: IR0 first; an input in service holds lower ones until its EOI; OCW3 selects IRR or ISR', () => {
    const m = pc();
    program(m, 0x20, 0);
    m.picInput(5, true);
    m.picInput(2, true);
    expect(m.pic?.inta()).toBe(0x22);
    m.picWrite(0x20, 0x0b);
    expect(m.picRead(0x20)).toBe(1 << 2);
    m.picWrite(0x20, 0x0a);
    expect(m.picRead(0x20)).toBe(1 << 5);
    expect(m.pic?.pending()).toBe(-1); // IR5 waits for IR2's EOI
    m.picWrite(0x20, 0x20); // non-specific EOI
    expect(m.pic?.inta()).toBe(0x25);
    m.picWrite(0x20, 0x65); // specific EOI of IR5
    m.picWrite(0x20, 0x0b);
    expect(m.picRead(0x20)).toBe(0);
  });

  it('an INTA with nothing requested answers IR7 without setting ISR (a spurious interrupt)', () => {
    const m = pc();
    program(m, 0x40, 0);
    expect(m.pic?.inta()).toBe(0x47);
    m.picWrite(0x20, 0x0b);
    expect(m.picRead(0x20)).toBe(0);
  });

  it('AEOI leaves nothing in service; level mode follows the line', () => {
    const m = pc();
    program(m, 0x20, 0, true);
    m.picInput(4, true);
    expect(m.pic?.inta()).toBe(0x24);
    m.picWrite(0x20, 0x0b);
    expect(m.picRead(0x20)).toBe(0);
    m.picInput(4, false);
    m.picWrite(0x20, 0x1b); // ICW1 with LTIM
    m.picWrite(0x21, 0x20);
    m.picWrite(0x21, 0x01);
    m.picWrite(0x21, 0x00);
    m.picInput(6, true);
    expect(m.pic?.int()).toBe(true);
    m.picInput(6, false);
    expect(m.pic?.int()).toBe(false);
  });

  it('INT reaches a CPU through LINT0 in ExtINT mode, and its INTA gives the 8259A\'s vector', () => {
    const m = pc(2);
    program(m, 0x30, 0);
    wr(m, 0, Reg.LVT_LINT0, 0x700);
    m.picInput(1, true);
    expect(m.pendingEvent(0)).toBe('extint');
    expect(m.pendingEvent(1)).toBe('none'); // its LINT0 is masked
    expect(m.takeEvent(0)).toEqual({ kind: 'extint', vector: 0x31 });
    expect(m.pendingEvent(0)).toBe('none'); // IR1 in service: INT low
    expect(rd(m, 0, Reg.ISR0 + 0x10)).toBe(0); // ExtINT bypasses IRR and ISR (SDM Vol 3A 11.5.1)
  });

  it('a globally disabled APIC leaves LINT0 as the INTR pin', () => {
    const m = pc();
    program(m, 0x50, 0);
    expect(m.wrmsr(0, 0x1b, 0xfee00100n).ok).toBe(true);
    m.picInput(0, true);
    expect(m.takeEvent(0)).toEqual({ kind: 'extint', vector: 0x50 });
  });

  it('INT drives I/O APIC pin 0: an ExtINT entry there is acknowledged by the 8259A', () => {
    const m = pc();
    program(m, 0x60, 0);
    m.ioapic?.writeRegister(0x11, 0);
    m.ioapic?.writeRegister(0x10, 0x700);
    m.picInput(2, true);
    expect(m.ioapic?.pinAsserted(0)).toBe(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'extint', vector: 0x62 });
  });

  it('host misuse is a HostError: no 8259A, a bad port or input, LINT0 driven by hand', () => {
    const bare = new Machine({ cpus: 1 });
    expect(() => bare.picInput(0, true)).toThrow(HostError);
    const m = pc();
    expect(() => m.picWrite(0x22, 0)).toThrow(HostError);
    expect(() => m.picInput(8, true)).toThrow(HostError);
    expect(() => m.setLint(0, 0, true)).toThrow(HostError);
  });
});
