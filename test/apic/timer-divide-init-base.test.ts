// Two quirks that make the QEMU and Bochs profiles give what those backends gave (CONFORMANCE.md F47, F49):
// divideChangeKeepsExpiry (a TIMER_DCR write leaves the armed expiry where it was) and initResetsApicBase (INIT
// resets IA32_APIC_BASE, so an x2APIC-mode AP returns to xAPIC mode). Each against the architecture's rule through
// the Machine API, and the catalog tests whose answers they change. bochs-2.7's timerModeSwitchKeepsCount (F34) is
// the KVM quirk test/apic/timer.test.ts covers; its catalog test is here.

import { describe, expect, it } from 'vitest';
import { ApicBase, Reg } from '../../src/arch/apic.js';
import { Machine } from '../../src/machine/machine.js';
import { advance, expectProfileGivesOnly, rd, timed, wr } from './helpers.js';

const PERIODIC = 1 << 17;
const TSC_DEADLINE = 2 << 17;
const VEC = 0xec;
const IA32_APIC_BASE = 0x1b;

const ccr = (m: Machine) => rd(m, 0, Reg.TIMER_CCR);

describe('divideChangeKeepsExpiry', () => {
  it('one-shot: the count fires when the old divisor said (D-7: at the new rate from the current count), then is over', () => {
    for (const quirk of [false, true]) {
      const { m, fires } = timed({ quirks: { divideChangeKeepsExpiry: quirk } });
      wr(m, 0, Reg.TIMER_DCR, 0xb); // divide by 1
      wr(m, 0, Reg.LVT_TIMER, VEC);
      wr(m, 0, Reg.TIMER_ICR, 10);
      advance(m, 4);
      wr(m, 0, Reg.TIMER_DCR, 0); // divide by 2
      // D-7: 6 counts left, now at half the rate. The quirk: 4 ticks since the load are 2 counts at the new divisor.
      expect(ccr(m)).toBe(quirk ? 8 : 6);
      advance(m, 9);
      expect(ccr(m)).toBe(quirk ? 6 : 4);
      advance(m, 100);
      expect(fires).toEqual(quirk ? [10] : [16]);
      expect(ccr(m)).toBe(0);
    }
  });

  it('periodic: the held expiry fires, then the count reloads from it at the new divisor', () => {
    const { m, fires } = timed({ quirks: { divideChangeKeepsExpiry: true } });
    wr(m, 0, Reg.TIMER_DCR, 0xb);
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 4);
    wr(m, 0, Reg.TIMER_DCR, 0);
    wr(m, 0, Reg.TIMER_DCR, 0x1); // a second change keeps the first one's held expiry
    advance(m, 10);
    expect(ccr(m)).toBe(10); // reloaded at the expiry
    advance(m, 100);
    expect(fires).toEqual([10, 50, 90]); // periods of 10 counts at divide by 4
  });

  it('a held expiry past 2^53 is exact (the double path gives way to BigInt)', () => {
    const { m, fires } = timed({ quirks: { divideChangeKeepsExpiry: true } });
    const start = 2 ** 53 - 12;
    m.advanceTo(start);
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 10); // divide by 2 (TDCR 0): expires at 2^53 + 8, past what a double holds exactly
    m.advanceTo(start + 2);
    wr(m, 0, Reg.TIMER_DCR, 0xb); // divide by 1: the count's own expiry would be 2^53 - 2; the held one stays
    m.advanceTo(2 ** 53 - 1);
    expect(fires).toEqual([]);
    expect(m.nextDeadline()).toBe(2 ** 53 + 8);
    m.advanceTo(BigInt(start) + 20n);
    expect(fires.length).toBe(1);
  });

  it('a TMICT write, or a switch into TSC-deadline mode, drops the held expiry', () => {
    const { m, fires } = timed({ quirks: { divideChangeKeepsExpiry: true } });
    wr(m, 0, Reg.TIMER_DCR, 0xb);
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 4);
    wr(m, 0, Reg.TIMER_DCR, 0);
    wr(m, 0, Reg.TIMER_ICR, 10); // restarts at divide by 2: expires at 24
    advance(m, 30);
    expect(fires).toEqual([24]);

    const other = timed({ quirks: { divideChangeKeepsExpiry: true } });
    wr(other.m, 0, Reg.TIMER_DCR, 0xb);
    wr(other.m, 0, Reg.LVT_TIMER, VEC);
    wr(other.m, 0, Reg.TIMER_ICR, 10);
    advance(other.m, 4);
    wr(other.m, 0, Reg.TIMER_DCR, 0);
    wr(other.m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    expect(other.m.rdmsr(0, 0x6e0)).toEqual({ ok: true, value: 0n });
    advance(other.m, 100);
    expect(other.fires).toEqual([]);
  });
});

describe('reservedTimerMode', () => {
  it('LVT timer 11b: the previous mode stays (D-6); QEMU stores it and counts periodic; Bochs stores it and is in TSC-deadline mode', () => {
    for (const rule of ['keep-old', 'periodic', 'tsc-deadline'] as const) {
      const { m, fires } = timed({ tscDeadline: true, quirks: { reservedTimerMode: rule } });
      wr(m, 0, Reg.TIMER_DCR, 0xb);
      wr(m, 0, Reg.LVT_TIMER, VEC); // one-shot
      wr(m, 0, Reg.LVT_TIMER, (3 << 17) | VEC);
      expect(rd(m, 0, Reg.LVT_TIMER)).toBe(rule === 'keep-old' ? VEC : (3 << 17) | VEC);
      wr(m, 0, Reg.TIMER_ICR, 10); // ignored in TSC-deadline mode
      advance(m, 35);
      expect(fires, rule).toEqual(rule === 'keep-old' ? [10] : rule === 'periodic' ? [10, 20, 30] : []);
    }
  });
});

describe('initResetsApicBase', () => {
  it('INIT keeps x2APIC mode and a relocated base (SDM Vol 3A 11.12.5.1); Bochs resets IA32_APIC_BASE as RESET does', () => {
    for (const quirk of [false, true]) {
      const m = new Machine({ cpus: 2, x2apic: true, quirks: { initResetsApicBase: quirk } });
      const base = (0xfed40000n | BigInt(ApicBase.EN)) | BigInt(ApicBase.EXTD);
      expect(m.wrmsr(1, IA32_APIC_BASE, 0xfed40000n | BigInt(ApicBase.EN)).ok).toBe(true);
      expect(m.wrmsr(1, IA32_APIC_BASE, base).ok).toBe(true);
      m.cpu(1).init();
      const r = m.rdmsr(1, IA32_APIC_BASE);
      expect(r).toEqual({ ok: true, value: quirk ? BigInt((ApicBase.DEFAULT_BASE | ApicBase.EN) >>> 0) : base });
      expect(m.cpu(1).apic.mode()).toBe(quirk ? 'xapic' : 'x2apic');
      // The ID is kept either way: in xAPIC mode the register shows it in bits 31:24.
      expect(m.cpu(1).apic.id()).toBe(1);
    }
  });

  it('keeps the BSP flag', () => {
    const m = new Machine({ cpus: 2, x2apic: true, quirks: { initResetsApicBase: true } });
    m.cpu(0).init();
    const r = m.rdmsr(0, IA32_APIC_BASE);
    expect(r.ok && (r.value & BigInt(ApicBase.BSP)) !== 0n).toBe(true);
  });
});

describe('the catalog tests these profile changes answer', () => {
  it.each([
    // F47: every QEMU and Bochs run fired at tick 10.
    ['timer-divide-change-midcount.litmus', 'qemu-tcg-7.2', 'P0:r1=1; P0:r2=1; P0.count(0x30)=1'],
    ['timer-divide-change-midcount.litmus', 'qemu10-tcg', 'P0:r1=1; P0:r2=1; P0.count(0x30)=1'],
    ['timer-divide-change-midcount.litmus', 'bochs-2.7', 'P0:r1=1; P0:r2=1; P0.count(0x30)=1'],
    // F49: every Bochs run.
    ['init-keeps-x2apic-mode.litmus', 'bochs-2.7', 'P1.activity=wait-for-sipi; P1.apic.mode=xapic; P1.apic.ID=0x1000000; P1.apic.TPR=0; P1.apic.SVR=0xff; P1.faults=0'],
    // F34: every Bochs run.
    ['timer-oneshot-to-periodic-disarms.litmus', 'bochs-2.7', 'P0.count(0x30)=2'],
  ])('%s under %s gives exactly what the backend gave (%s), and spec does not', (file, profile, outcome) => {
    expectProfileGivesOnly(file, profile, outcome);
  });
});
