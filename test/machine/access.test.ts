// The xAPIC doors of the embedding API: mmioRead/mmioWrite (a physical address) and apicRead/apicWrite (a page
// offset) are one access path, so every quirk that touches xAPIC accesses applies to both alike.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Reg } from '../../src/arch/apic.js';
import { Machine } from '../../src/machine/machine.js';
import type { Quirks } from '../../src/arch/quirks.js';

const BASE = 0xfee00000;
const REGS = [Reg.TPR, Reg.EOI, Reg.SVR, Reg.ICR_HI, Reg.ICR_LO, Reg.LVT_TIMER, Reg.TIMER_ICR, Reg.ESR, Reg.LDR, Reg.DFR];

describe('xAPIC access doors', () => {
  const quirkSets: Partial<Quirks>[] = [{}, { tprWriteTakesEffectLate: true }, { apicMmioInSmm: 'ram' }];
  it.each(quirkSets.map((q) => [JSON.stringify(q), q] as const))('MMIO and offset accesses leave the same state (quirks %s)', (_name, quirks) => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ reg: fc.constantFrom(...REGS), value: fc.integer({ min: 0, max: 0xffffffff }), read: fc.boolean(), smi: fc.boolean() }), { maxLength: 20 }),
        (ops) => {
          const a = new Machine({ cpus: 2, quirks }), b = new Machine({ cpus: 2, quirks });
          for (const op of ops) {
            if (op.smi) for (const m of [a, b]) {
              m.smi(0);
              m.takeEvent(0);
            }
            if (op.read) expect(a.mmioRead(0, BASE + op.reg)).toBe(b.apicRead(0, op.reg));
            else {
              a.mmioWrite(0, BASE + op.reg, op.value);
              b.apicWrite(0, op.reg, op.value);
            }
            expect(a.pendingEvent(0)).toBe(b.pendingEvent(0));
            expect(a.hash()).toBe(b.hash());
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the QEMU TPR quirk holds an unblocked interrupt one instruction through either door', () => {
    for (const door of ['mmio', 'offset'] as const) {
      const m = new Machine({ cpus: 1, quirks: { tprWriteTakesEffectLate: true } });
      m.apicWrite(0, Reg.SVR, 0x1ff);
      m.apicWrite(0, Reg.TPR, 0xf0);
      m.cpus[0].sti();
      m.apicWrite(0, Reg.ICR_LO, 0x40040); // fixed 0x40 to self
      expect(m.interruptDeliverable(0)).toBe(false);
      if (door === 'mmio') m.mmioWrite(0, BASE + Reg.TPR, 0);
      else m.apicWrite(0, Reg.TPR, 0);
      expect(m.interruptDeliverable(0), door).toBe(false);
      m.cpus[0].beginInstruction();
      m.cpus[0].beginInstruction();
      expect(m.interruptDeliverable(0), door).toBe(true);
    }
  });
});
