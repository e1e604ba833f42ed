// The virtual clock: exact 64-bit time (past 2^53 as well), its end at 2^64, and timer catch-up in closed form
// (a jump fires each timer once; SDM Vol 3A 11.5.4: its later expiries coalesce with the first).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Reg } from '../../src/arch/apic.js';
import { HostError } from '../../src/arch/errors.js';
import { A } from '../../src/apic/layout.js';
import { Machine, type TraceEvent } from '../../src/machine/machine.js';

const IA32_TSC = 0x10;
const IA32_TSC_DEADLINE = 0x6e0;
const MASKED = 1 << 16;
const PERIODIC = 1 << 17;
const TSC_DEADLINE = 2 << 17;
const VEC = 0xec;
const irr = (m: Machine, cpu: number, v = VEC) => (m.apics[cpu].word(A.IRR + (v >>> 5)) & (1 << (v & 31))) !== 0;

function periodic(cpus: number, count: number, onTrace?: (e: TraceEvent) => void): Machine {
  const m = new Machine({ cpus, onTrace });
  for (let i = 0; i < cpus; i++) {
    m.apicWrite(i, Reg.SVR, 0x1ff);
    m.apicWrite(i, Reg.TIMER_DCR, 0xb); // divide by 1
    m.apicWrite(i, Reg.LVT_TIMER, PERIODIC | VEC);
    m.apicWrite(i, Reg.TIMER_ICR, count);
  }
  return m;
}

function expectHostErrorAndNoChange(m: Machine, call: () => unknown): void {
  const before = m.snapshot();
  expect(call).toThrow(HostError);
  expect(m.snapshot()).toEqual(before);
}

describe('time past 2^53', () => {
  it('advancing past 2^53 with a periodic timer of one tick ends, and the clock and count stay exact', () => {
    const m = new Machine({ cpus: 1 });
    m.advanceTo(2n ** 53n - 3n);
    m.apicWrite(0, Reg.SVR, 0x1ff);
    m.apicWrite(0, Reg.TIMER_DCR, 0xb);
    m.apicWrite(0, Reg.LVT_TIMER, PERIODIC | VEC);
    m.apicWrite(0, Reg.TIMER_ICR, 5);
    m.advanceBy(7); // 2^53 + 4: two counts into the second period
    expect(m.tsc()).toBe(2n ** 53n + 4n);
    expect(m.rdmsr(0, IA32_TSC)).toEqual({ ok: true, value: 2n ** 53n + 4n });
    expect(m.apicRead(0, Reg.TIMER_CCR)).toBe(3);
    expect(irr(m, 0)).toBe(true);
    // The next expiry, 2^53 + 7, is not a double: nextDeadline names the next double up, which reaches it.
    expect(m.nextDeadline()).toBe(2 ** 53 + 8);
    m.advanceTo(m.nextDeadline());
    expect(m.tsc()).toBe(2n ** 53n + 8n);
    expect(m.apicRead(0, Reg.TIMER_CCR)).toBe(4);
  });

  it('a periodic timer near 2^64 stops expiring at the clock end', () => {
    const m = periodic(1, 1);
    m.apicWrite(0, Reg.TIMER_ICR, 0);
    m.advanceTo(2n ** 64n - 10n);
    m.apicWrite(0, Reg.TIMER_ICR, 3);
    m.advanceTo(2n ** 64n - 1n);
    expect(irr(m, 0)).toBe(true);
    expect(m.apicRead(0, Reg.TIMER_CCR)).toBe(3 - (9 % 3));
    expect(m.nextDeadline()).toBe(Infinity);
  });

  it('IA32_TSC_DEADLINE holds any 64-bit value exactly and fires when the clock reaches it', () => {
    const m = new Machine({ cpus: 1 });
    m.apicWrite(0, Reg.SVR, 0x1ff);
    m.apicWrite(0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    const d = 2n ** 64n - 1n;
    expect(m.wrmsr(0, IA32_TSC_DEADLINE, d)).toEqual({ ok: true });
    expect(m.rdmsr(0, IA32_TSC_DEADLINE)).toEqual({ ok: true, value: d });
    // No double below 2^64 reaches it: a number client sees no deadline; a bigint client can go there.
    expect(m.nextDeadline()).toBe(Infinity);
    m.advanceTo(d - 1n);
    expect(irr(m, 0)).toBe(false);
    m.advanceTo(d);
    expect(irr(m, 0)).toBe(true);
    expect(m.rdmsr(0, IA32_TSC_DEADLINE)).toEqual({ ok: true, value: 0n });
    // A deadline at 2^53 + 1 (not a double) is reported as the next double up, and fires exactly there.
    m.restore(new Machine({ cpus: 1 }).snapshot());
    m.apicWrite(0, Reg.SVR, 0x1ff);
    m.apicWrite(0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    m.wrmsr(0, IA32_TSC_DEADLINE, 2n ** 53n + 1n);
    expect(m.nextDeadline()).toBe(2 ** 53 + 2);
    m.advanceTo(2n ** 53n);
    expect(irr(m, 0)).toBe(false);
    m.advanceBy(1n);
    expect(irr(m, 0)).toBe(true);
  });

  it('a time at or past 2^64, negative, fractional or not a number is a HostError and changes nothing', () => {
    const m = periodic(2, 10);
    m.advanceTo(100);
    for (const t of [2 ** 64, 2n ** 64n, 2n ** 70n, 99, 99n, -1, -1n, 100.5, Number.NaN, Infinity, '200' as unknown as number]) {
      expectHostErrorAndNoChange(m, () => m.advanceTo(t));
    }
    for (const dt of [-1, -1n, 0.25, Number.NaN, Infinity, 2n ** 64n, 2 ** 64, 2n ** 64n - 100n]) {
      expectHostErrorAndNoChange(m, () => m.advanceBy(dt));
    }
    m.advanceBy(2n ** 64n - 101n);
    expect(m.tsc()).toBe(2n ** 64n - 1n);
    expectHostErrorAndNoChange(m, () => m.advanceBy(1));
  });
});

describe('a jump fires each timer once (closed form)', () => {
  it('10^8 ticks of a one-tick period on 8 CPUs: one expiry each, the rest coalesced into the pending IRR bit', () => {
    const traces: TraceEvent[] = [];
    const m = periodic(8, 1, (e) => traces.push(e));
    m.advanceBy(100_000_000);
    for (let i = 0; i < 8; i++) expect(irr(m, i)).toBe(true);
    expect(traces.filter((e) => e.text === 'apic: timer fired').map((e) => [e.cpu, e.time])).toEqual(Array.from({ length: 8 }, (_, i) => [i, 1]));
    expect(traces.filter((e) => e.text.includes('coalesced')).map((e) => e.text)).toEqual(
      new Array(8).fill('apic: timer expired 99999999 more times by 100000000, coalesced with the first'),
    );
    // 2^60 ticks more: the same cost.
    m.advanceBy(2n ** 60n);
    expect(m.tsc()).toBe(2n ** 60n + 100_000_000n);
  });

  it('timers fire in the order of their first expiry, each at that time', () => {
    const fired: [number, number][] = [];
    const m = new Machine({ cpus: 3, onTrace: (e) => e.text === 'apic: timer fired' && fired.push([e.cpu, e.time]) });
    for (const [cpu, count] of [[0, 30], [1, 10], [2, 20]]) {
      m.apicWrite(cpu, Reg.SVR, 0x1ff);
      m.apicWrite(cpu, Reg.TIMER_DCR, 0xb);
      m.apicWrite(cpu, Reg.LVT_TIMER, VEC);
      m.apicWrite(cpu, Reg.TIMER_ICR, count);
    }
    m.advanceTo(1000);
    expect(fired).toEqual([[1, 10], [2, 20], [0, 30]]);
    expect(m.now()).toBe(1000);
  });

  // A random small timer set-up on 1-3 CPUs: each CPU's mode, count, divider, vectors (illegal ones too, which
  // latch an ESR bit and signal the error LVT), masks and software enable, at a random start time.
  const cpuSetup = fc.record({
    enabled: fc.boolean(),
    mode: fc.constantFrom(0, PERIODIC, PERIODIC, TSC_DEADLINE),
    masked: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
    vector: fc.oneof({ arbitrary: fc.integer({ min: 16, max: 255 }), weight: 5 }, { arbitrary: fc.integer({ min: 0, max: 15 }), weight: 1 }),
    errorLvt: fc.oneof(fc.constant(MASKED), fc.integer({ min: 0, max: 255 })),
    divide: fc.constantFrom(0, 1, 2, 3, 8, 9, 0xa, 0xb),
    count: fc.integer({ min: 1, max: 12 }),
    deadline: fc.integer({ min: 1, max: 400 }),
    delay: fc.integer({ min: 0, max: 40 }),
  });
  const scenario = fc.record({
    ratio: fc.integer({ min: 1, max: 3 }),
    cpus: fc.array(cpuSetup, { minLength: 1, maxLength: 3 }),
    jumps: fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 4 }),
  });
  type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

  /** Build the scenario with every time shifted by `offset`; returns the machine. */
  function build(sc: Scenario, offset: bigint): Machine {
    const m = new Machine({ cpus: sc.cpus.length, timerRatio: sc.ratio });
    m.advanceTo(offset);
    sc.cpus.forEach((c, i) => {
      m.advanceBy(c.delay);
      if (c.enabled) m.apicWrite(i, Reg.SVR, 0x1ff);
      m.apicWrite(i, Reg.LVT_ERROR, c.errorLvt);
      m.apicWrite(i, Reg.TIMER_DCR, c.divide);
      m.apicWrite(i, Reg.LVT_TIMER, c.mode | c.vector | (c.masked ? MASKED : 0));
      if (c.mode === TSC_DEADLINE) m.wrmsr(i, IA32_TSC_DEADLINE, offset + BigInt(c.deadline));
      else m.apicWrite(i, Reg.TIMER_ICR, c.count);
    });
    return m;
  }
  /** Step one expiry at a time: the reference the closed form must equal. */
  function stepTo(m: Machine, t: bigint): void {
    for (;;) {
      let next = -1n;
      for (const a of m.apics) {
        const e = a.timer.expiryExact(m.tsc());
        if (e >= 0n && (next < 0n || e < next)) next = e;
      }
      if (next < 0n || next > t) break;
      m.advanceTo(next);
    }
    m.advanceTo(t);
  }
  /** What the guest sees of each CPU: IRR, ESR latch, the current count and the time to the next expiry. */
  function observe(m: Machine, offset: bigint): unknown[] {
    return m.apics.map((a) => {
      const deadline = a.timer.tscDeadline(), next = a.timer.expiryExact(m.tsc());
      return [
        [...Array(8).keys()].map((w) => a.word(A.IRR + w)), a.word(A.ESR_LATCH), a.timer.currentCount(),
        deadline === 0n ? 0n : deadline - offset, next < 0n ? -1n : next - m.tsc(),
      ];
    });
  }

  it('equals stepping one expiry at a time, on random small cases', () => {
    fc.assert(
      fc.property(scenario, (sc) => {
        const a = build(sc, 0n), b = build(sc, 0n);
        for (const dt of sc.jumps) {
          a.advanceBy(dt);
          stepTo(b, b.tsc() + BigInt(dt));
          expect(a.snapshot()).toEqual(b.snapshot());
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is the same past 2^53 and near 2^64 (exact arithmetic) as near 0, up to the shift of every time', () => {
    fc.assert(
      fc.property(scenario, fc.constantFrom(2n ** 53n - 100n, 2n ** 60n + 12345n, 2n ** 64n - 20000n), (sc, offset) => {
        const a = build(sc, 0n), b = build(sc, offset);
        expect(observe(b, offset)).toEqual(observe(a, 0n));
        expect(b.relativeHash()).toBe(a.relativeHash());
        for (const dt of sc.jumps) {
          a.advanceBy(dt);
          b.advanceBy(dt);
          expect(observe(b, offset)).toEqual(observe(a, 0n));
          expect(b.relativeHash()).toBe(a.relativeHash());
        }
      }),
      { numRuns: 300 },
    );
  });
});
