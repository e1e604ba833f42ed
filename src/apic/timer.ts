// The local APIC timer (SDM Vol 3A 11.5.4 APIC Timer, 11.5.4.1 TSC-Deadline Mode) and the clock arithmetic it
// needs. Times are 64-bit TSC tick counts held as two state words. The arithmetic is exact: in doubles while
// every value involved is at most 2^53 (the fast path, where doubles hold integers exactly), in BigInt beyond.

import { LvtIndex, Lvt, TimerMode, timerDivisor } from '../arch/apic.js';
import type { Quirks } from '../arch/quirks.js';
import { A, get64, get64n, set64, set64n } from './layout.js';
import { put } from '../arch/writes.js';

/** The largest integer a double holds exactly: up to here time arithmetic runs in doubles. */
export const SAFE = Number.MAX_SAFE_INTEGER;
/** The clock counts 0..2^64 - 1 (the TSC is 64 bits); nothing happens at or after 2^64. */
export const CLOCK_END = 1n << 64n;

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/**
 * A time as a double: exact up to 2^53, beyond it the next double up, so that a client advancing the clock to the
 * number reaches the time. Infinity when that double is 2^64 or more (no clock value a double can name).
 */
export function timeToNumber(t: bigint): number {
  let n = Number(t);
  if (BigInt(n) < t) {
    f64[0] = n;
    u64[0] += 1n;
    n = f64[0];
  }
  return n >= 2 ** 64 ? Infinity : n;
}

export function timerModeOf(lvt: number): TimerMode {
  return ((lvt & Lvt.TIMER_MODE_MASK) >>> Lvt.TIMER_MODE_SHIFT) as TimerMode;
}

export interface TimerHost {
  /** Virtual time; exact up to 2^53. */
  now(): number;
  /** Virtual time, exact. */
  nowExact(): bigint;
  /** The timer reached zero: signal the LVT timer entry. */
  signal(): void;
  trace?(text: string): void;
}

/** The timer of one local APIC, a view on its words of the machine state. */
export class ApicTimer {
  /** Quirk divideChangeKeepsExpiry, read on every expiry: a field, not a load through the quirks object. */
  private readonly keepsExpiry: boolean;
  constructor(
    private readonly s: Uint32Array,
    private readonly b: number,
    private readonly ratio: number,
    private readonly quirks: Readonly<Quirks>,
    private readonly host: TimerHost,
  ) {
    this.keepsExpiry = quirks.divideChangeKeepsExpiry;
  }

  mode(): TimerMode {
    return this.modeOf(this.s[this.b + A.LVT + LvtIndex.TIMER]);
  }
  /** The mode an LVT timer value runs the timer in: quirk reservedTimerMode says what a stored 11b does. */
  modeOf(lvt: number): TimerMode {
    const m = timerModeOf(lvt);
    if (m !== TimerMode.RESERVED) return m;
    const rule = this.quirks.reservedTimerMode;
    return rule === 'keep-old' ? m : rule === 'periodic' ? TimerMode.PERIODIC : TimerMode.TSC_DEADLINE;
  }
  /** TSC ticks per timer count: timer-ratio x divisor. SDM Vol 3A 11.5.4 APIC Timer. */
  private tick(): number {
    return this.ratio * timerDivisor(this.s[this.b + A.TDCR]);
  }
  /** A count is loaded (TMICT and the count it restarts from are non-zero) and the timer counts down. */
  private counting(mode: TimerMode): boolean {
    const s = this.s, b = this.b;
    return mode !== TimerMode.TSC_DEADLINE && s[b + A.TMICT] !== 0 && s[b + A.TIMER_BASE] !== 0;
  }

  /**
   * SDM Vol 3A 11.5.4 APIC Timer: the current count decrements from the initial count; one-shot stops at 0,
   * periodic reloads the initial count. In TSC-deadline mode it reads 0 (SDM Vol 3A 11.5.4.1).
   */
  currentCount(): number {
    const mode = this.mode();
    if (!this.counting(mode)) return 0;
    const s = this.s, b = this.b, tmict = s[b + A.TMICT], base = s[b + A.TIMER_BASE];
    const periodic = mode === TimerMode.PERIODIC;
    const now = this.host.now(), start = get64(s, b + A.TIMER_START_LO);
    if (now <= SAFE && start <= now) {
      // Below 2^53, floor(a / b) of integers is exact: a quotient r/b below an integer is never within half an ulp.
      const e = Math.floor((now - start) / this.tick());
      if (e < base) return base - e;
      return periodic ? tmict - ((e - base) % tmict) : 0;
    }
    const e = (this.host.nowExact() - get64n(s, b + A.TIMER_START_LO)) / BigInt(this.tick());
    if (e < BigInt(base)) return base - Number(e);
    return periodic ? tmict - Number((e - BigInt(base)) % BigInt(tmict)) : 0;
  }

  /** The next time after now at which the timer fires; -1n when it is not armed or would fire at or after 2^64. */
  expiryExact(now: bigint): bigint {
    const s = this.s, b = this.b, mode = this.mode();
    if (mode === TimerMode.TSC_DEADLINE) {
      const d = get64n(s, b + A.TSC_DEADLINE_LO);
      return d !== 0n && d > now ? d : -1n;
    }
    if (!this.counting(mode)) return -1n;
    const held = this.keepsExpiry ? get64n(s, b + A.TSC_DEADLINE_LO) : 0n;
    if (held !== 0n) return held > now ? held : -1n;
    const tick = BigInt(this.tick());
    let e = get64n(s, b + A.TIMER_START_LO) + BigInt(s[b + A.TIMER_BASE]) * tick;
    if (e <= now) {
      if (mode !== TimerMode.PERIODIC) return -1n;
      const period = BigInt(s[b + A.TMICT]) * tick;
      e = now - ((now - e) % period) + period;
    }
    return e < CLOCK_END ? e : -1n;
  }

  /** expiryExact(now) as a number (timeToNumber): Infinity when none. `now` is the clock, when the caller has it. */
  expiry(now = this.host.now()): number {
    const s = this.s, b = this.b, mode = this.mode();
    if (now <= SAFE) {
      if (mode === TimerMode.TSC_DEADLINE) {
        const d = get64(s, b + A.TSC_DEADLINE_LO);
        if (d <= SAFE) return d !== 0 && d > now ? d : Infinity;
      } else {
        if (!this.counting(mode)) return Infinity;
        // An expiry a divide change held (quirk divideChangeKeepsExpiry); beyond 2^53, expiryExact below.
        const held = this.keepsExpiry ? get64(s, b + A.TSC_DEADLINE_LO) : 0;
        if (held !== 0 && held <= SAFE) return held > now ? held : Infinity;
        const tick = this.tick(), first = get64(s, b + A.TIMER_START_LO) + s[b + A.TIMER_BASE] * tick;
        // Any product or sum whose exact value exceeds 2^53 rounds to at least 2^53, so these tests are exact (and
        // the floor of a quotient of integers below 2^53 is exact too).
        if (held === 0 && first <= SAFE) {
          if (first > now) return first;
          if (mode !== TimerMode.PERIODIC) return Infinity;
          const period = s[b + A.TMICT] * tick, e = first + (Math.floor((now - first) / period) + 1) * period;
          if (e <= SAFE) return e;
        }
      }
    }
    const e = this.expiryExact(this.host.nowExact());
    return e < 0n ? Infinity : timeToNumber(e);
  }

  /** How many times a timer whose first expiry after now is `first` expires up to `t` (first <= t). */
  expiriesBy(first: bigint, t: bigint): bigint {
    if (this.mode() !== TimerMode.PERIODIC) return 1n;
    return (t - first) / (BigInt(this.s[this.b + A.TMICT]) * BigInt(this.tick())) + 1n;
  }

  /**
   * The timer reached zero (or the TSC reached the deadline). SDM Vol 3A 11.5.4.1: in TSC-deadline mode the
   * timer disarms itself and IA32_TSC_DEADLINE reads 0 afterwards.
   */
  fire(): void {
    const s = this.s, b = this.b, mode = this.mode();
    if (mode === TimerMode.TSC_DEADLINE) {
      if (!this.quirks.tscDeadlineKeptOnFire) set64(s, b + A.TSC_DEADLINE_LO, 0);
    } else if (this.keepsExpiry && (s[b + A.TSC_DEADLINE_LO] !== 0 || s[b + A.TSC_DEADLINE_HI] !== 0)) {
      // The expiry a divide change left armed (quirk divideChangeKeepsExpiry): a periodic count reloads from it at
      // the new divisor, a one-shot count is over (Bochs cpu/apic.cc periodic()).
      const held = get64n(s, b + A.TSC_DEADLINE_LO);
      set64(s, b + A.TSC_DEADLINE_LO, 0);
      if (mode === TimerMode.PERIODIC) {
        set64n(s, b + A.TIMER_START_LO, held);
        put(s, b + A.TIMER_BASE, s[b + A.TMICT]);
      } else put(s, b + A.TIMER_BASE, 0);
    }
    this.host.trace?.('apic: timer fired');
    this.host.signal();
  }

  private setStart(t: number): void {
    if (t <= SAFE) set64(this.s, this.b + A.TIMER_START_LO, t);
    else set64n(this.s, this.b + A.TIMER_START_LO, this.host.nowExact());
  }

  /** SDM Vol 3A 11.5.4: a write to the initial-count register (re)starts the count; 0 stops the timer. */
  writeTmict(value: number): void {
    if (this.mode() === TimerMode.TSC_DEADLINE) return; // SDM Vol 3A 11.5.4.1: ignored
    const s = this.s, b = this.b;
    put(s, b + A.TMICT, value);
    put(s, b + A.TIMER_BASE, value);
    if (this.keepsExpiry) set64(s, b + A.TSC_DEADLINE_LO, 0); // a new count drops an expiry a divide change held
    this.setStart(this.host.now());
  }

  /**
   * A divide change mid-count: the count continues from its current value at the new rate (decision D-7). Quirk
   * divideChangeKeepsExpiry: the expiry armed before stays (held in the TSC-deadline words, unused outside that
   * mode), and TIMER_CCR reads the time since the count was loaded at the new divisor.
   */
  writeTdcr(value: number): void {
    const s = this.s, b = this.b;
    if (this.keepsExpiry) {
      const mode = this.mode();
      if (mode !== TimerMode.TSC_DEADLINE && s[b + A.TSC_DEADLINE_LO] === 0 && s[b + A.TSC_DEADLINE_HI] === 0) {
        const e = this.expiryExact(this.host.nowExact());
        if (e > 0n) set64n(s, b + A.TSC_DEADLINE_LO, e);
      }
    } else this.rebase();
    put(s, b + A.TDCR, value);
  }

  /** Make the current count the base count, from the last whole count boundary. */
  rebase(): void {
    const s = this.s, b = this.b;
    if (s[b + A.TMICT] === 0 || s[b + A.TIMER_BASE] === 0) return;
    const count = this.currentCount();
    const now = this.host.now(), start = get64(s, b + A.TIMER_START_LO), tick = this.tick();
    if (now <= SAFE && start <= now) {
      set64(s, b + A.TIMER_START_LO, start + Math.floor((now - start) / tick) * tick);
    } else {
      const n = this.host.nowExact();
      set64n(s, b + A.TIMER_START_LO, n - ((n - get64n(s, b + A.TIMER_START_LO)) % BigInt(tick)));
    }
    put(s, b + A.TIMER_BASE, count);
  }

  /** Disarm: a write to the LVT timer that changes the mode (SDM Vol 3A 11.5.4.1). */
  disarm(): void {
    const s = this.s, b = this.b;
    put(s, b + A.TMICT, 0);
    put(s, b + A.TIMER_BASE, 0);
    set64(s, b + A.TSC_DEADLINE_LO, 0);
  }

  /**
   * Whether the time since an expired count was loaded still matters modulo the period: periodic, or one-shot under
   * quirk timerModeSwitchRecomputes (a switch to periodic resumes at that phase).
   */
  private folds(mode: TimerMode): boolean {
    return mode === TimerMode.PERIODIC || this.quirks.timerModeSwitchRecomputes;
  }

  /**
   * Write the timer words into `copy` (at `at`, the APIC's layout) relative to now: the start time becomes the
   * elapsed time since the count was loaded (capped once a one-shot expired, folded modulo the period once a
   * periodic timer fired), and the TSC deadline the time left.
   */
  relativeWords(copy: Uint32Array, at: number, now = this.host.now()): void {
    const s = this.s, b = this.b, mode = this.mode();
    const start = get64(s, b + A.TIMER_START_LO), d = get64(s, b + A.TSC_DEADLINE_LO);
    if (now > SAFE || start > now || d > SAFE) {
      this.relativeWordsExact(copy, at);
      return;
    }
    let elapsed = 0;
    if (this.counting(mode)) {
      const tick = this.tick(), first = s[b + A.TIMER_BASE] * tick;
      elapsed = now - start;
      if (elapsed >= first) elapsed = this.folds(mode) ? first + ((elapsed - first) % (s[b + A.TMICT] * tick)) : first;
    }
    set64(copy, at + A.TIMER_START_LO, elapsed);
    set64(copy, at + A.TSC_DEADLINE_LO, d > now ? d - now : d === 0 ? 0 : 1);
  }
  private relativeWordsExact(copy: Uint32Array, at: number): void {
    const s = this.s, b = this.b, now = this.host.nowExact(), mode = this.mode();
    let elapsed = 0n;
    if (this.counting(mode)) {
      const tick = BigInt(this.tick()), first = BigInt(s[b + A.TIMER_BASE]) * tick;
      elapsed = now - get64n(s, b + A.TIMER_START_LO);
      if (elapsed >= first) elapsed = this.folds(mode) ? first + ((elapsed - first) % (BigInt(s[b + A.TMICT]) * tick)) : first;
    }
    set64n(copy, at + A.TIMER_START_LO, elapsed);
    const d = get64n(s, b + A.TSC_DEADLINE_LO);
    set64n(copy, at + A.TSC_DEADLINE_LO, d > now ? d - now : d === 0n ? 0n : 1n);
  }

  /** IA32_TSC_DEADLINE as software reads it: 0 outside TSC-deadline mode. */
  tscDeadline(): bigint {
    return this.mode() === TimerMode.TSC_DEADLINE ? get64n(this.s, this.b + A.TSC_DEADLINE_LO) : 0n;
  }

  /**
   * WRMSR IA32_TSC_DEADLINE. SDM Vol 3A 11.5.4.1 TSC-Deadline Mode: outside TSC-deadline mode writes are
   * ignored and reads return 0; any non-zero value arms the timer, 0 disarms; a deadline at or before the
   * current TSC fires at once.
   */
  writeTscDeadline(value: bigint): void {
    if (this.mode() !== TimerMode.TSC_DEADLINE) return;
    set64n(this.s, this.b + A.TSC_DEADLINE_LO, value);
    if (value !== 0n && value <= this.host.nowExact()) this.fire();
  }
}
