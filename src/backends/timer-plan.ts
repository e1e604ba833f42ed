// Whether a test that arms the APIC timer can run on a real machine without host delays changing its outcome.

import { Lvt, MSR_IA32_TSC_DEADLINE, Reg, TimerMode, timerDivisor } from '../arch/apic.js';
import { timerModeOf } from '../apic/timer.js';
import type { CpuBlock, LitmusTest, Op } from '../litmus/ast.js';
import { forEachOp, writtenRegs } from '../litmus/validate.js';

/** Deadlines at or past this many model ticks are not compiled (the guest's conversions are 32-bit in model ticks). */
const MAX_DEADLINE_TICKS = 2 ** 32;

const writesDeadline = (op: Op): op is Extract<Op, { kind: 'wrmsr' }> => op.kind === 'wrmsr' && op.msr.index === MSR_IA32_TSC_DEADLINE;

/** The least distance, in model ticks, between a timer expiry and an op of the test for the outcome not to turn on
 *  the real machine's timing. */
export const TIMER_MARGIN_TICKS = 2;

interface TimerNeeds {
  needs: { tscDeadlineMode: boolean; timerTiming: string | null };
}

/**
 * A test that arms the APIC timer through TIMER_ICR runs with one model tick = TIMER_WAIT_US_PER_TICK µs of guest
 * time: `wait N` busy-waits N of them (TSC) and every TIMER_ICR value is multiplied by the timer ticks
 * (divide-by-1) in one of them, calibrated at boot (TIMER_CCR reads are divided back, rounded up). The timer then
 * counts the model's ticks at the test's divide configuration (SDM Vol 3A 11.5.4). A test is compiled only when
 * its shape lets the model's ticks stand for the machine's: one CPU, a straight-line main block, handlers that
 * neither wait nor touch the timer, constant timer writes, no periodic count left running (an unmasked periodic
 * timer never stopped has no final state in the model), and no op of the main block within TIMER_MARGIN_TICKS of
 * an expiry of a count it runs beside (the ops' own cost, a few hundred instructions, must not decide which comes
 * first).
 *
 * Then, on a backend whose timer and guest run on one clock of guest instructions (Bochs: its timer, TSC and PIT
 * advance with the instructions executed, `ips`, never with the host's time), that is enough: every run gives the
 * one outcome. A vCPU of QEMU or KVM may instead be descheduled for milliseconds at any point while the timer keeps
 * host time, which only ever makes the ops later: a test whose ops run between arming a count and its expiry (plus
 * the margin), that reads TIMER_CCR at the tick it armed the count, or that runs ops after arming a periodic count
 * (how many periods pass would turn on the delays) records why in `needs.timerTiming`, and backends without that
 * one clock refuse it (compile.ts backendRefusal).
 */
export function checkTimer(test: LitmusTest, plan: TimerNeeds, no: (reason: string) => never): void {
  const timing = (reason: string): void => {
    plan.needs.timerTiming ??= reason;
  };
  const timerRegs: ReadonlySet<number> = new Set([Reg.TIMER_ICR, Reg.TIMER_DCR, Reg.LVT_TIMER]);
  const mains = test.blocks.filter((b): b is CpuBlock => b.kind === 'cpu' && b.handler === 'main');
  const touches = (b: CpuBlock): boolean => {
    let w = false;
    forEachOp(b.body, (op) => {
      if ((op.kind === 'apic-write' && timerRegs.has(op.reg.offset)) || writesDeadline(op)) w = true;
    });
    return w;
  };
  const timerMains = mains.filter(touches);
  if (timerMains.length > 1) no('the APIC timer is written by more than one CPU: the ticks at which the CPUs act cannot be related on a real machine');
  const main = timerMains[0] ?? (test.settings.cpus === 1 ? mains.find((b) => b.cpu === 0) : undefined);
  if (!main) return no('arms the APIC timer outside a main block');
  // The other CPUs: each main block must wait, first, for a word only the timer's CPU stores, after its counts are
  // over (checked below): then nothing they do meets the timer, and their ticks need not be related to its.
  const gates = new Map<string, number>();
  for (const b of mains) {
    if (b === main) continue;
    const first = b.body.find((op) => op.kind !== 'label');
    if (first?.kind !== 'await' || first.value.kind !== 'num' || (first.cmp === '==') === (first.value.value === 0n) || test.init?.items.some((it) => it.kind === 'mem' && it.name === first.loc)) {
      no(`arms the APIC timer on P${main.cpu} while P${b.cpu} runs ops that are not ordered after it (only other CPUs that first await a word the timer's CPU stores are analysed)`);
    }
    gates.set(first.loc, b.cpu);
  }
  for (const b of test.blocks) {
    if (b === main) continue;
    forEachOp(b.body, (op) => {
      if (op.kind === 'store' && gates.has(op.loc)) no(`${op.loc}, which P${gates.get(op.loc)} awaits before anything meets the timer, is stored outside P${main.cpu}'s main block (line ${op.pos.line})`);
    });
  }
  for (const b of test.blocks) {
    if (b.kind === 'agent') no('arms the APIC timer in a test with an agent');
    if (b === main) continue;
    forEachOp(b.body, (op) => {
      // (Another CPU's main block may wait: it runs after the gate, when the counts are over.)
      if (op.kind === 'wait' && !mains.includes(b as CpuBlock)) no(`a handler waits (line ${op.pos.line}): the ticks at which it runs cannot be related on a real machine`);
      if (op.kind === 'apic-write' && timerRegs.has(op.reg.offset)) no(`a handler writes ${op.reg.name ?? hex(op.reg.offset)} (line ${op.pos.line})`);
      if (writesDeadline(op)) no(`a handler writes IA32_TSC_DEADLINE (line ${op.pos.line})`);
    });
  }
  let dcr = 0;
  let lvt = 0x10000;
  for (const it of test.init?.items ?? []) {
    if (it.kind === 'apic-reg' && it.reg.offset === Reg.TIMER_DCR) dcr = Number(it.value);
    if (it.kind === 'apic-reg' && it.reg.offset === Reg.LVT_TIMER) lvt = Number(it.value);
  }
  let t = 0;
  const opTimes: number[] = [];
  /** The ticks of the TIMER_ICR writes: each ends the count armed before it (SDM Vol 3A 11.5.4: a write restarts
   *  the count, 0 stops it). */
  const icrWrites: number[] = [];
  /** `now`: a deadline at or before the write (it fires at the write, SDM Vol 3A 11.5.4.1), which no op races. */
  const arms: { at: number; line: number; period: number; periodic: boolean; masked: boolean; deadline: boolean; now?: boolean }[] = [];
  /** Registers whose value is the TSC read by an `rdtsc` of the main block (a time at or before any later op's). */
  const tscRegs = new Set<string>();
  /** A count is loaded (the last TIMER_ICR write was not 0), and the first one-shot <-> periodic switch of one. */
  let counting = false;
  let modeSwitch: { at: number; line: number } | null = null;
  /** When the timer's CPU first stores each word another CPU awaits. */
  const gateAt = new Map<string, number>();
  for (const op of main.body) {
    if (op.kind === 'label' || op.kind === 'goto' || op.kind === 'if' || op.kind === 'repeat') {
      no(`control flow in the main block (line ${op.pos.line}): only straight-line timer tests are analysed`);
    }
    if (op.kind === 'wait') {
      t += op.ticks;
      continue;
    }
    opTimes.push(t);
    if (op.kind === 'store' && gates.has(op.loc) && !gateAt.has(op.loc)) gateAt.set(op.loc, t);
    if (writesDeadline(op) && timerModeOf(lvt) === TimerMode.TSC_DEADLINE) {
      // SDM Vol 3A 11.5.4.1 TSC-Deadline Mode: a write arms the timer to fire when the TSC reaches the value (at once
      // if it has already), 0 disarms it; in the other modes the write is ignored. Like a TIMER_ICR write, it ends
      // the count armed before it.
      plan.needs.tscDeadlineMode = true;
      const v = op.value;
      const now = v.kind === 'reg' && tscRegs.has(v.reg);
      if (v.kind !== 'num' && !now) return no(`a computed IA32_TSC_DEADLINE (line ${op.pos.line}) other than a TSC the main block read`);
      const deadline = v.kind === 'num' ? Number(v.value) : t;
      if (deadline >= MAX_DEADLINE_TICKS) return no(`an IA32_TSC_DEADLINE of ${deadline} model ticks (line ${op.pos.line}): the guest converts deadlines below 2^32 ticks`);
      icrWrites.push(t);
      counting = deadline > 0;
      if (deadline > 0) arms.push({ at: t, line: op.pos.line, period: Math.max(0, deadline - t), periodic: false, masked: (lvt & Lvt.MASKED) !== 0, deadline: true, now: deadline <= t });
    }
    for (const r of writtenRegs(op)) tscRegs.delete(r);
    if (op.kind === 'rdtsc') tscRegs.add(op.dst);
    if (op.kind === 'apic-read' && op.reg.offset === Reg.TIMER_CCR && arms.some((a) => a.at === t && !a.deadline)) {
      timing(`TIMER_CCR is read (line ${op.pos.line}) at the tick its count was armed: what it reads turns on the real machine's delays`);
    }
    if (op.kind !== 'apic-write') continue;
    const r = op.reg.offset;
    if (!timerRegs.has(r)) continue;
    const value = op.value;
    if (value.kind !== 'num') return no(`a computed ${op.reg.name ?? hex(r)} (line ${op.pos.line})`);
    const v = Number(value.value & 0xffffffffn);
    if (r === Reg.TIMER_DCR) dcr = v;
    else if (r === Reg.LVT_TIMER) {
      // SDM Vol 3A 11.5.4.1: the mode change disarms the count (D-7), but KVM keeps counting and QEMU recomputes the
      // count under the new mode (quirks timerModeSwitchKeepsCount, timerModeSwitchRecomputes): there the ops after
      // it meet a count that runs on.
      const from = timerModeOf(lvt), to = timerModeOf(v);
      if (counting && from !== to && from !== TimerMode.TSC_DEADLINE && to !== TimerMode.TSC_DEADLINE) modeSwitch ??= { at: opTimes.length, line: op.pos.line };
      lvt = v;
    } else {
      counting = v > 0;
      icrWrites.push(t);
      if (v > 0) {
        // TSC-deadline mode (10) ignores the count in the model; a backend without it may count one-shot: analysed
        // as one-shot.
        const deadline = timerModeOf(lvt) === TimerMode.TSC_DEADLINE;
        if (deadline) plan.needs.tscDeadlineMode = true;
        arms.push({ at: t, line: op.pos.line, period: v * timerDivisor(dcr), periodic: timerModeOf(lvt) === TimerMode.PERIODIC, masked: (lvt & Lvt.MASKED) !== 0, deadline });
      }
    }
  }
  if (modeSwitch !== null && opTimes.length > modeSwitch.at) {
    timing(`ops run after the timer mode switch at line ${modeSwitch.line}: a machine that keeps counting across it (KVM, QEMU) makes them meet a count whose value turns on the real machine's delays`);
  }
  for (const [loc, cpu] of gates) {
    const at = gateAt.get(loc);
    if (at === undefined) return no(`P${cpu} awaits ${loc}, which P${main.cpu}'s main block never stores`);
    const late = arms.find((a) => {
      const end = icrWrites.find((x) => x > a.at) ?? Infinity;
      return a.periodic ? end > at : Math.min(end, a.at + a.period + TIMER_MARGIN_TICKS) > at;
    });
    if (late) no(`P${main.cpu} stores ${loc} at tick ${at}, which P${cpu} awaits, while the count armed at line ${late.line} may still run: P${cpu}'s ops would meet the timer`);
    if (icrWrites.some((x) => x >= at)) no(`P${main.cpu} writes TIMER_ICR after storing ${loc}, which P${cpu} awaits: P${cpu}'s ops would meet the timer`);
  }
  for (const a of arms) {
    if (a.now) continue;
    if (a.periodic && !a.masked && opTimes.every((x) => x <= a.at)) {
      no(`the periodic count armed at line ${a.line} is never stopped: the model has no final state (every run would end at the time limit)`);
    }
    const later = opTimes.filter((x) => x > a.at);
    if (a.periodic && later.length > 0) {
      timing(`ops run at tick ${later[0]} after the periodic count armed at line ${a.line}: how many periods have passed by then turns on the real machine's delays`);
    }
    const expiry = a.at + a.period;
    const early = later.find((x) => x < expiry + TIMER_MARGIN_TICKS);
    if (early !== undefined) {
      timing(`an op runs at tick ${early}, before the count armed at line ${a.line} expires at tick ${expiry} (plus ${TIMER_MARGIN_TICKS}): a descheduled vCPU may run it after the expiry`);
    }
    // The count runs until the next TIMER_ICR write; an op of that stretch (the write included) within the margin
    // of one of its expiries races it on any machine.
    const end = icrWrites.find((x) => x > a.at) ?? Infinity;
    for (const x of later) {
      if (x > end) break;
      const k = a.periodic ? Math.max(1, Math.round((x - a.at) / a.period)) : 1;
      const at = a.at + k * a.period;
      if (Math.abs(x - at) < TIMER_MARGIN_TICKS) {
        no(`an op runs at tick ${x}, within ${TIMER_MARGIN_TICKS} ticks of the expiry at tick ${at} of the count armed at line ${a.line}: the ops' own cost decides which comes first`);
      }
    }
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
