// The local APIC timer through the Machine API: one-shot, periodic and TSC-deadline modes, the divide
// configuration, TMICT/TMCCT, and IA32_TSC_DEADLINE. SDM Vol 3A 11.5.4 and 11.5.4.1 (docs/spec-map.md section 4).

import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/arch/apic.js';
import { Machine } from '../../src/machine/machine.js';
import { advance, rd, timed, wr } from './helpers.js';

const IA32_TSC_DEADLINE = 0x6e0;
const MASKED = 1 << 16;
const PERIODIC = 1 << 17;
const TSC_DEADLINE = 2 << 17;
const VEC = 0xec;

const ccr = (m: Machine) => rd(m, 0, Reg.TIMER_CCR);
const pending = (m: Machine, v = VEC) => (rd(m, 0, Reg.IRR0 + 16 * (v >>> 5)) & (1 << (v & 31))) !== 0;
/** Take the timer interrupt and EOI it. */
function handle(m: Machine): void {
  m.cpu(0).setIf(true);
  expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: VEC });
  m.cpu(0).setIf(false);
  wr(m, 0, Reg.EOI, 0);
}
function deadline(m: Machine): bigint {
  const r = m.rdmsr(0, IA32_TSC_DEADLINE);
  if (!r.ok) throw new Error('IA32_TSC_DEADLINE faulted');
  return r.value;
}

describe('one-shot mode', () => {
  it('CCR starts at TMICT and counts down once every divisor TSC ticks (TDCR 0 = divide by 2)', () => {
    const { m } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 100);
    expect(ccr(m)).toBe(100);
    m.advanceBy(1);
    expect(ccr(m)).toBe(100);
    m.advanceBy(1);
    expect(ccr(m)).toBe(99);
    advance(m, 50);
    expect(ccr(m)).toBe(75);
  });

  it.each([
    ['0000b', 0x0, 2], ['0001b', 0x1, 4], ['0010b', 0x2, 8], ['0011b', 0x3, 16],
    ['1000b', 0x8, 32], ['1001b', 0x9, 64], ['1010b', 0xa, 128], ['1011b', 0xb, 1],
  ])('TDCR %s divides by %i', (_name, tdcr, divisor) => {
    const { m, fires } = timed();
    wr(m, 0, Reg.TIMER_DCR, tdcr);
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 1000);
    advance(m, divisor * 10 - 1);
    expect(ccr(m)).toBe(991);
    advance(m, divisor * 10);
    expect(ccr(m)).toBe(990);
    advance(m, divisor * 1000);
    expect(fires).toEqual([divisor * 1000]);
  });

  it('timerRatio multiplies the divisor', () => {
    const { m, fires } = timed({ timerRatio: 3 });
    wr(m, 0, Reg.TIMER_DCR, 0xb); // divide by 1
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 29);
    expect(ccr(m)).toBe(1);
    advance(m, 30);
    expect(fires).toEqual([30]);
  });

  it('timerRatio and the divisor compose (ratio 5, divide by 4: 20 TSC ticks per count)', () => {
    const { m, fires } = timed({ timerRatio: 5 });
    wr(m, 0, Reg.TIMER_DCR, 0x1);
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 7);
    advance(m, 139);
    expect(fires).toEqual([]);
    advance(m, 140);
    expect(fires).toEqual([140]);
  });

  it('fires once when the count reaches 0, and CCR stays 0', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 19);
    expect(pending(m)).toBe(false);
    advance(m, 20);
    expect(pending(m)).toBe(true);
    expect(ccr(m)).toBe(0);
    handle(m);
    advance(m, 10_000);
    expect(fires).toEqual([20]);
    expect(pending(m)).toBe(false);
    expect(ccr(m)).toBe(0);
    expect(rd(m, 0, Reg.TIMER_ICR)).toBe(10);
  });

  it('the timer interrupt is edge-triggered (TMR clear)', () => {
    const { m } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 1);
    m.advanceBy(2);
    expect(pending(m)).toBe(true);
    expect(rd(m, 0, Reg.TMR0 + 16 * (VEC >>> 5))).toBe(0);
  });

  it('advancing past several deadlines in one call fires each timer at its own time', () => {
    const { m, fires } = timed();
    wr(m, 1, Reg.SVR, 0x1ff);
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 1, Reg.LVT_TIMER, 0x50);
    wr(m, 0, Reg.TIMER_ICR, 30);
    wr(m, 1, Reg.TIMER_ICR, 10);
    advance(m, 1000);
    expect(fires).toEqual([60]);
    expect(rd(m, 1, Reg.IRR0 + 0x20) & (1 << 0x10)).not.toBe(0);
  });
});

describe('periodic mode', () => {
  it('reloads TMICT and fires once every period', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 100);
    expect(fires).toEqual([20, 40, 60, 80, 100]);
  });

  it('CCR runs TMICT..1 and is back at TMICT right after each fire', () => {
    const { m } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 18);
    expect(ccr(m)).toBe(1);
    advance(m, 20);
    expect(ccr(m)).toBe(10);
    advance(m, 25);
    expect(ccr(m)).toBe(8);
  });

  it('delivers one interrupt per period when each is handled', () => {
    const { m } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 50);
    for (let k = 1; k <= 4; k++) {
      advance(m, 100 * k - 1);
      expect(pending(m)).toBe(false);
      advance(m, 100 * k);
      expect(pending(m)).toBe(true);
      handle(m);
    }
  });

  it('a periodic timer with TMICT 1 fires every count', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.TIMER_DCR, 0xb);
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 1);
    advance(m, 5);
    expect(fires).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('TMICT and TDCR writes', () => {
  it('a TMICT write mid-count restarts the count with the new value', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 100);
    advance(m, 60);
    expect(ccr(m)).toBe(70);
    wr(m, 0, Reg.TIMER_ICR, 50);
    expect(ccr(m)).toBe(50);
    advance(m, 159);
    expect(fires).toEqual([]);
    advance(m, 160);
    expect(fires).toEqual([160]);
    advance(m, 300); // the old count would have expired at 200
    expect(fires).toEqual([160]);
  });

  it('a TMICT write after a one-shot expired arms it again', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 5);
    advance(m, 100);
    wr(m, 0, Reg.TIMER_ICR, 5);
    advance(m, 200);
    expect(fires).toEqual([10, 110]);
  });

  it('a TMICT write of 0 stops a one-shot timer', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 100);
    advance(m, 50);
    wr(m, 0, Reg.TIMER_ICR, 0);
    expect(ccr(m)).toBe(0);
    advance(m, 10_000);
    expect(fires).toEqual([]);
    expect(m.nextDeadline()).toBe(Infinity);
  });

  it('a TMICT write of 0 stops a periodic timer', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 50);
    wr(m, 0, Reg.TIMER_ICR, 0);
    advance(m, 10_000);
    expect(fires).toEqual([20, 40]);
    expect(ccr(m)).toBe(0);
  });

  it('a TDCR change mid-count continues from the current count at the new rate', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 100);
    advance(m, 40); // 20 counts at divide-by-2
    expect(ccr(m)).toBe(80);
    wr(m, 0, Reg.TIMER_DCR, 0x2); // divide by 8
    expect(ccr(m)).toBe(80);
    advance(m, 120);
    expect(ccr(m)).toBe(70);
    advance(m, 40 + 80 * 8 - 1);
    expect(fires).toEqual([]);
    advance(m, 40 + 80 * 8);
    expect(fires).toEqual([680]);
  });

  it('a TDCR change in periodic mode keeps the period length TMICT at the new rate', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 10); // 5 counts left at divide-by-2
    wr(m, 0, Reg.TIMER_DCR, 0xb); // divide by 1
    advance(m, 30);
    expect(fires).toEqual([15, 25]);
  });

  it('a TDCR write with the timer stopped just sets the divisor', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.TIMER_DCR, 0xb);
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 10);
    expect(fires).toEqual([10]);
  });
});

describe('masking and software disable', () => {
  it('a masked LVT timer counts down but delivers nothing', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, MASKED | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 10);
    expect(ccr(m)).toBe(5);
    advance(m, 100);
    expect(ccr(m)).toBe(0);
    expect(fires).toEqual([20]); // it expired...
    expect(pending(m)).toBe(false); // ...but no interrupt
    wr(m, 0, Reg.LVT_TIMER, VEC); // unmasking afterwards does not deliver the lost expiry
    expect(pending(m)).toBe(false);
  });

  it('a masked periodic timer keeps its period; unmasking delivers from the next expiry', () => {
    const { m } = timed();
    wr(m, 0, Reg.LVT_TIMER, MASKED | PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 30);
    expect(ccr(m)).toBe(5);
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    advance(m, 39);
    expect(pending(m)).toBe(false);
    advance(m, 40);
    expect(pending(m)).toBe(true);
  });

  it('the timer keeps counting while the APIC is software-disabled, with no interrupt', () => {
    const { m } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    wr(m, 0, Reg.SVR, 0xff);
    advance(m, 45);
    expect(ccr(m)).toBe(8);
    expect(pending(m)).toBe(false);
  });
});

describe('mode switches', () => {
  it('one-shot -> periodic disarms the timer (SDM Vol 3A 11.5.4.1: a mode change disarms)', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 8);
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    expect(ccr(m)).toBe(0);
    expect(rd(m, 0, Reg.TIMER_ICR)).toBe(0);
    advance(m, 60);
    expect(fires).toEqual([]);
  });

  it('periodic -> one-shot disarms the timer', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 26);
    wr(m, 0, Reg.LVT_TIMER, VEC);
    expect(ccr(m)).toBe(0);
    advance(m, 1000);
    expect(fires).toEqual([20]);
  });

  it('with the KVM quirk, one-shot -> periodic keeps counting from the current count, then reloads', () => {
    const { m, fires } = timed({ quirks: { timerModeSwitchKeepsCount: true } });
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 8);
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    expect(ccr(m)).toBe(6);
    advance(m, 60);
    expect(fires).toEqual([20, 40, 60]);
  });

  it('with the KVM quirk, periodic -> one-shot keeps counting from the current count and then stops', () => {
    const { m, fires } = timed({ quirks: { timerModeSwitchKeepsCount: true } });
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 26); // second period, 7 left
    wr(m, 0, Reg.LVT_TIMER, VEC);
    expect(ccr(m)).toBe(7);
    advance(m, 1000);
    expect(fires).toEqual([20, 40]);
    expect(ccr(m)).toBe(0);
  });

  it('with the QEMU quirk, an expired one-shot switched to periodic runs again at the phase of its first load', () => {
    for (const quirk of [false, true]) {
      const { m, fires } = timed({ quirks: { timerModeSwitchRecomputes: quirk } });
      wr(m, 0, Reg.LVT_TIMER, VEC);
      wr(m, 0, Reg.TIMER_ICR, 10); // expires at 20
      advance(m, 50);
      wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
      // 25 counts since the load: 15 past the first expiry, 5 into the second period of 10
      expect(ccr(m)).toBe(quirk ? 5 : 0);
      expect(rd(m, 0, Reg.TIMER_ICR)).toBe(quirk ? 10 : 0);
      advance(m, 100);
      expect(fires).toEqual(quirk ? [20, 60, 80, 100] : [20]);
    }
  });

  it('with the QEMU quirk, periodic -> one-shot counts on within the first period and fires once; past it reads 0 and never fires', () => {
    for (const [at, count, want] of [[8, 6, [20]], [26, 0, [20]]] as const) {
      const { m, fires } = timed({ quirks: { timerModeSwitchRecomputes: true } });
      wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
      wr(m, 0, Reg.TIMER_ICR, 10);
      advance(m, at);
      wr(m, 0, Reg.LVT_TIMER, VEC);
      expect(ccr(m)).toBe(count);
      advance(m, 1000);
      expect(fires).toEqual(want);
    }
  });

  it('with the QEMU quirk an expired one-shot keeps its phase in the relative state: two phases are two states (one under spec)', () => {
    for (const quirk of [false, true]) {
      const hashAt = (t: number): number => {
        const { m } = timed({ quirks: { timerModeSwitchRecomputes: quirk } });
        wr(m, 0, Reg.LVT_TIMER, VEC);
        wr(m, 0, Reg.TIMER_ICR, 10);
        advance(m, t);
        return m.relativeHash();
      };
      expect(hashAt(50) === hashAt(60)).toBe(!quirk);
    }
  });

  it('rewriting the LVT timer in the same mode does not disturb the count', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 9);
    wr(m, 0, Reg.LVT_TIMER, 0x51);
    advance(m, 20);
    expect(fires).toEqual([20]);
    expect(pending(m, 0x51)).toBe(true);
  });

  it('switching from one-shot to TSC-deadline disarms the count-down timer', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    wr(m, 0, Reg.TIMER_ICR, 100);
    advance(m, 10);
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    expect(ccr(m)).toBe(0);
    expect(rd(m, 0, Reg.TIMER_ICR)).toBe(0);
    advance(m, 1000);
    expect(fires).toEqual([]);
    // and it stays disarmed when the mode switches back
    wr(m, 0, Reg.LVT_TIMER, VEC);
    advance(m, 2000);
    expect(fires).toEqual([]);
  });

  it('switching from periodic to TSC-deadline disarms the count-down timer', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 30);
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    advance(m, 1000);
    expect(fires).toEqual([20]);
  });

  it('switching from TSC-deadline to one-shot disarms the deadline', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    m.wrmsr(0, IA32_TSC_DEADLINE, 500n);
    wr(m, 0, Reg.LVT_TIMER, VEC);
    advance(m, 1000);
    expect(fires).toEqual([]);
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    expect(deadline(m)).toBe(0n);
    advance(m, 2000);
    expect(fires).toEqual([]);
  });

  it('switching from TSC-deadline to periodic disarms the deadline', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    m.wrmsr(0, IA32_TSC_DEADLINE, 500n);
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    advance(m, 1000);
    expect(fires).toEqual([]);
  });

  it('the reserved timer mode 11b is not taken: the mode stays as it was (decision D-6)', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    wr(m, 0, Reg.LVT_TIMER, (3 << 17) | VEC);
    expect(rd(m, 0, Reg.LVT_TIMER)).toBe(PERIODIC | VEC);
    advance(m, 40);
    expect(fires).toEqual([20, 40]);
  });
});

describe('TSC-deadline mode', () => {
  it('fires when the TSC reaches the deadline and clears IA32_TSC_DEADLINE', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    expect(m.wrmsr(0, IA32_TSC_DEADLINE, 300n)).toEqual({ ok: true });
    expect(deadline(m)).toBe(300n);
    advance(m, 299);
    expect(pending(m)).toBe(false);
    advance(m, 300);
    expect(pending(m)).toBe(true);
    expect(fires).toEqual([300]);
    expect(deadline(m)).toBe(0n);
    handle(m);
    advance(m, 10_000);
    expect(fires).toEqual([300]);
  });

  it('a deadline at or before the current TSC fires at once', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    advance(m, 1000);
    m.wrmsr(0, IA32_TSC_DEADLINE, 1n);
    expect(pending(m)).toBe(true);
    expect(deadline(m)).toBe(0n);
    handle(m);
    m.wrmsr(0, IA32_TSC_DEADLINE, 1000n);
    expect(pending(m)).toBe(true);
    expect(fires).toEqual([1000, 1000]);
  });

  it('writing 0 to IA32_TSC_DEADLINE disarms the timer', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    m.wrmsr(0, IA32_TSC_DEADLINE, 300n);
    m.wrmsr(0, IA32_TSC_DEADLINE, 0n);
    advance(m, 1000);
    expect(fires).toEqual([]);
  });

  it('a new deadline replaces the armed one', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    m.wrmsr(0, IA32_TSC_DEADLINE, 300n);
    m.wrmsr(0, IA32_TSC_DEADLINE, 700n);
    advance(m, 1000);
    expect(fires).toEqual([700]);
  });

  it('the deadline is in TSC ticks: neither TDCR nor timerRatio scales it', () => {
    const { m, fires } = timed({ timerRatio: 7 });
    wr(m, 0, Reg.TIMER_DCR, 0xa);
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    m.wrmsr(0, IA32_TSC_DEADLINE, 123n);
    advance(m, 1000);
    expect(fires).toEqual([123]);
  });

  it('a masked LVT timer in TSC-deadline mode expires and clears the MSR without an interrupt', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, MASKED | TSC_DEADLINE | VEC);
    m.wrmsr(0, IA32_TSC_DEADLINE, 300n);
    advance(m, 400);
    expect(fires).toEqual([300]);
    expect(pending(m)).toBe(false);
    expect(deadline(m)).toBe(0n);
  });

  it('TMICT writes are ignored and CCR reads 0 in TSC-deadline mode', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    expect(rd(m, 0, Reg.TIMER_ICR)).toBe(0);
    expect(ccr(m)).toBe(0);
    advance(m, 1000);
    expect(fires).toEqual([]);
  });

  it('CCR reads 0 in TSC-deadline mode even with a deadline armed', () => {
    const { m } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    m.wrmsr(0, IA32_TSC_DEADLINE, 300n);
    advance(m, 100);
    expect(ccr(m)).toBe(0);
  });

  it('IA32_TSC_DEADLINE writes outside TSC-deadline mode are ignored and it reads 0', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, VEC);
    expect(m.wrmsr(0, IA32_TSC_DEADLINE, 300n)).toEqual({ ok: true });
    expect(deadline(m)).toBe(0n);
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    expect(deadline(m)).toBe(0n);
    advance(m, 1000);
    expect(fires).toEqual([]);
  });

  it('an IA32_TSC_DEADLINE write in the past outside TSC-deadline mode fires nothing', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    advance(m, 100);
    expect(m.wrmsr(0, IA32_TSC_DEADLINE, 50n)).toEqual({ ok: true });
    expect(fires).toEqual([]);
    expect(pending(m)).toBe(false);
  });

  it('IA32_TSC_DEADLINE raises #GP on read and write when tscDeadline is false', () => {
    const { m } = timed({ tscDeadline: false });
    expect(m.rdmsr(0, IA32_TSC_DEADLINE)).toEqual({ ok: false, fault: 'GP' });
    expect(m.wrmsr(0, IA32_TSC_DEADLINE, 300n)).toEqual({ ok: false, fault: 'GP' });
  });

  it('without TSC-deadline support, LVT timer bit 18 is reserved and the mode stays count-down', () => {
    const { m, fires } = timed({ tscDeadline: false });
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    expect(rd(m, 0, Reg.LVT_TIMER)).toBe(VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 20);
    expect(fires).toEqual([20]);
  });

  it('a deadline of 2^64 - 1 stays armed and does not fire', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, TSC_DEADLINE | VEC);
    expect(m.wrmsr(0, IA32_TSC_DEADLINE, 0xffffffffffffffffn)).toEqual({ ok: true });
    expect(deadline(m)).not.toBe(0n);
    expect(deadline(m) > 0xfffffffffffff000n).toBe(true);
    advance(m, 1_000_000);
    expect(fires).toEqual([]);
  });
});

describe('INIT and snapshots', () => {
  it('INIT stops the timer and resets TMICT, TDCR and the LVT timer', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.TIMER_DCR, 0xb);
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('init');
    expect(rd(m, 0, Reg.TIMER_ICR)).toBe(0);
    expect(rd(m, 0, Reg.TIMER_DCR)).toBe(0);
    expect(rd(m, 0, Reg.LVT_TIMER)).toBe(MASKED);
    advance(m, 1000);
    expect(fires).toEqual([]);
  });

  it('restoring a snapshot taken mid-count replays the same expiry', () => {
    const { m, fires } = timed();
    wr(m, 0, Reg.LVT_TIMER, PERIODIC | VEC);
    wr(m, 0, Reg.TIMER_ICR, 10);
    advance(m, 7);
    const snap = m.snapshot();
    const hash = m.hash();
    advance(m, 50);
    m.restore(snap);
    expect(m.hash()).toBe(hash);
    expect(ccr(m)).toBe(7);
    advance(m, 50);
    expect(fires).toEqual([20, 40, 20, 40]);
  });
});
