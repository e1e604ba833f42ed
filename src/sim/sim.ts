// The litmus simulator: a compiled test running on the model's Machine, one scheduler step at a time.
// A step is one of: a CPU's next op or its taking of a pending event (whichever the architecture makes it do
// next), a platform agent's next op, the arrival of one in-flight message at its target, or the passing of
// virtual time to the next deadline. The explorer chooses among the enabled steps; every choice is a race a
// real machine could run. All simulator state (program counters, handler frames, registers, memory, counts)
// lives in the machine's state array, so a state is one Uint32Array.

import { AVIC_FAULT_READS, AVIC_IPI_FAILURE_NAMES, AVIC_TRAP_WRITES, AvicIpiFailure } from '../arch/avic.js';
import { avicIpi } from '../machine/avic.js';
import { DeliveryMode, Icr, Reg, Shorthand, MSR_IA32_TSC_DEADLINE, ApicBase, X2APIC_MSR_BASE } from '../arch/apic.js';
import { MSR_IA32_TIME_STAMP_COUNTER } from '../cpu/msr.js';
import { ACTIVITY_NAMES, Activity, VMX_MODE_NAMES, VmxMode } from '../arch/cpu.js';
import { A } from '../apic/layout.js';
import { EVENT_NAMES, EventKind, eventKind, eventVector, nextEvent, takeEvent } from '../cpu/events.js';
import type { Cpu } from '../cpu/cpu.js';
import { Machine, type TraceEvent } from '../machine/machine.js';
import { Msg } from '../machine/bus.js';
import type { Cond, Dest, Expr, InitItem, LitmusTest, Observable, SendOp, Value } from '../litmus/ast.js';
import { observableName } from '../litmus/print.js';
import { FIXED_WORDS, MAX_DEPTH, NO_PC, P, PC_IDLE, PC_IRET, PC_RSM, compile, observablesOf, type CountKey, type Insn, type ProcCode, type Program } from './program.js';
import { DEFAULT_PROFILE, type Profile } from './profiles.js';

export const enum StepKind {
  CPU = 0,
  AGENT = 1,
  DELIVER = 2,
  TIME = 3,
}
export function stepKind(s: number): StepKind {
  return (s & 3) as StepKind;
}
export function stepIndex(s: number): number {
  return s >>> 2;
}
const step = (k: StepKind, i: number): number => (i << 2) | k;
/** The step that lets time pass. */
export const TIME_STEP = step(StepKind.TIME, 0);

/** Frame kinds on a CPU's handler stack. A VM-exit frame holds the guest's PC while the L1 handler runs. */
const FRAME_INTR = 0, FRAME_NMI = 1, FRAME_SMM = 2, FRAME_VMEXIT = 3;
/** P.VCPU bits. Stored inverted (0 = running) so that the initial encoding is all zeros. */
const VCPU_NOT_RUNNING = 1, VCPU_BLOCKED = 2, VCPU_DEAD = 4;
/** P.PI_FLAGS bits (APICv). RESUME_1/2: the vCPU thread is on its way back into the guest. */
const PI_ON = 1, PI_SN = 2, PI_NOTIFY = 4, PI_RESUME_1 = 8, PI_RESUME_2 = 16;

const MASK64 = (1n << 64n) - 1n;
/** `send` modes in ICR delivery-mode order (SDM Vol 3A 11.6.1, Figure 11-12: 000b fixed ... 111b ExtINT). */
const SEND_MODES = ['fixed', 'lowest', 'smi', 'remote-read', 'nmi', 'init', 'sipi', 'extint'];

export class SimError extends Error {
  override readonly name: string = 'SimError';
}

/** The test needs a feature the profile's implementation does not offer (x2APIC under QEMU TCG 7.2). */
export class UnsupportedError extends SimError {
  override readonly name = 'UnsupportedError';
}

export type OutcomeValue = number | bigint | string;

export class Simulator {
  readonly machine: Machine;
  readonly program: Program;
  readonly observables: Observable[];
  private readonly s: Uint32Array;
  private readonly base: number;
  private traceSink: ((line: string) => void) | null = null;

  constructor(test: LitmusTest | Program, readonly profile: Profile = DEFAULT_PROFILE) {
    this.program = 'blocks' in test ? compile(test) : test;
    const st = this.program.test.settings;
    this.machine = new Machine({
      cpus: st.cpus, vendor: st.vendor, x2apic: st.x2apic, tscDeadline: st.tscDeadline, ioapic: st.ioapic,
      timerRatio: st.timerRatio, delivery: 'queued', extraWords: this.program.words, quirks: profile.quirks,
      ...profile.settings,
      busCapacity: Math.max(64, 8 * st.cpus),
      onTrace: (e: TraceEvent) => this.traceSink?.(`${e.cpu >= 0 ? `P${e.cpu}` : 'platform'} ${e.text}`),
    });
    this.s = this.machine.state;
    this.base = this.machine.extraBase;
    const seen = new Set<string>();
    this.observables = observablesOf(this.program.test).filter((o) => {
      const k = observableName(o);
      return seen.has(k) ? false : (seen.add(k), true);
    });
    this.avic = this.program.test.settings.accel === 'avic';
    this.apicv = this.program.test.settings.accel === 'apicv';
    this.tprShadow = this.program.test.settings.accel === 'tpr-shadow';
    this.vcpus = this.avic || this.apicv || this.tprShadow;
    if (this.avic && this.program.cpus.length > 32) throw new SimError('accel = avic: at most 32 CPUs');
    this.relativeTime = !this.program.cpus.some((code) => code.insns.some((op) =>
      (op.kind === 'rdmsr' || op.kind === 'wrmsr') && (op.msr.index === MSR_IA32_TSC_DEADLINE || op.msr.index === MSR_IA32_TIME_STAMP_COUNTER)));
    this.reset();
  }

  /**
   * Whether states may be compared with absolute time factored out (Machine.relativeHash): true unless the test
   * reads the TSC or uses IA32_TSC_DEADLINE, whose values are absolute times.
   */
  readonly relativeTime: boolean;
  /** The CPUs are vCPUs under AMD AVIC (config accel = avic). */
  readonly avic: boolean;
  /** The CPUs are vCPUs under Intel APICv with posted interrupts (config accel = apicv). */
  readonly apicv: boolean;
  /** The CPUs are Intel vCPUs with a TPR shadow but no virtual-interrupt delivery (config accel = tpr-shadow). */
  readonly tprShadow: boolean;
  /** The CPUs are vCPUs: they run only while on a physical CPU. */
  readonly vcpus: boolean;

  /** The state's hash for the explorer: time-relative when that is sound for this test. */
  hash(): number {
    if (!this.relativeTime) return this.machine.hash();
    return this.machine.relativeHash((copy, now) => {
      for (const code of this.program.cpus) this.relativeWait(copy, code, now);
      for (const code of this.program.agents) this.relativeWait(copy, code, now);
    });
  }

  private relativeWait(copy: Uint32Array, code: ProcCode, now: number): void {
    const at = this.w(code, P.WAIT_LO);
    const t = this.waitUntil(code), left = t > now ? t - now : 0;
    copy[at] = left >>> 0;
    copy[at + 1] = Math.floor(left / 0x100000000);
    if (left === 0) copy[this.w(code, P.WAIT_DEPTH)] = 0;
  }

  /** Lines describing what the model does, while `fn` runs (for witness traces). */
  traced<T>(sink: (line: string) => void, fn: () => T): T {
    this.traceSink = sink;
    try {
      return fn();
    } finally {
      this.traceSink = null;
    }
  }

  // ---------------------------------------------------------------- state words

  private w(code: ProcCode, off: number): number {
    return this.base + code.base + off;
  }
  pc(code: ProcCode): number {
    return this.s[this.w(code, P.PC)];
  }
  private setPc(code: ProcCode, pc: number): void {
    this.s[this.w(code, P.PC)] = pc >>> 0;
  }
  private regAt(code: ProcCode, name: string): number {
    const slot = code.regs.get(name);
    if (slot === undefined) throw new SimError(`register ${name} has no slot`);
    return this.w(code, FIXED_WORDS + code.counts.size + 2 * slot);
  }
  private getReg(code: ProcCode, cpu: Cpu | null, name: string): bigint {
    if (name === 'sv') return BigInt(cpu?.sipiVector() ?? 0);
    const at = this.regAt(code, name);
    return (BigInt(this.s[at + 1]) << 32n) | BigInt(this.s[at]);
  }
  private setReg(code: ProcCode, name: string, v: bigint): void {
    const at = this.regAt(code, name);
    v &= MASK64;
    this.s[at] = Number(v & 0xffffffffn);
    this.s[at + 1] = Number(v >> 32n);
  }
  private memAt(name: string): number {
    const slot = this.program.memory.get(name);
    if (slot === undefined) throw new SimError(`memory word ${name} has no slot`);
    return this.base + this.program.memoryBase + 2 * slot;
  }
  mem(name: string): bigint {
    const at = this.memAt(name);
    return (BigInt(this.s[at + 1]) << 32n) | BigInt(this.s[at]);
  }
  private setMem(name: string, v: bigint): void {
    const at = this.memAt(name);
    v &= MASK64;
    this.s[at] = Number(v & 0xffffffffn);
    this.s[at + 1] = Number(v >> 32n);
  }
  private count(code: ProcCode, key: CountKey): void {
    const slot = code.counts.get(key);
    if (slot !== undefined) this.s[this.w(code, FIXED_WORDS + slot)]++;
  }
  private waitUntil(code: ProcCode): number {
    const at = this.w(code, P.WAIT_LO);
    return this.s[at + 1] * 0x100000000 + this.s[at];
  }
  private setWait(code: ProcCode, t: number): void {
    const at = this.w(code, P.WAIT_LO);
    this.s[at] = t >>> 0;
    this.s[at + 1] = Math.floor(t / 0x100000000);
    this.s[this.w(code, P.WAIT_DEPTH)] = this.s[this.w(code, P.DEPTH)];
  }
  /** A `wait` is in force at the current handler depth and its time has not come. */
  waiting(code: ProcCode): boolean {
    const t = this.waitUntil(code);
    if (t === 0) return false;
    if (this.s[this.w(code, P.WAIT_DEPTH)] !== this.s[this.w(code, P.DEPTH)]) return false;
    return t > this.machine.now();
  }

  private evaluate(e: Expr, code: ProcCode, cpu: Cpu | null): bigint {
    switch (e.kind) {
      case 'num': return e.value;
      case 'reg': return this.getReg(code, cpu, e.reg);
      case 'bin': {
        const a = this.evaluate(e.left, code, cpu), b = this.evaluate(e.right, code, cpu);
        switch (e.op) {
          case '+': return (a + b) & MASK64;
          case '-': return (a - b) & MASK64;
          case '&': return a & b;
          case '|': return a | b;
          case '^': return a ^ b;
          case '<<': return b >= 64n ? 0n : (a << b) & MASK64;
          case '>>': return b >= 64n ? 0n : a >> b;
        }
      }
    }
  }

  // ---------------------------------------------------------------- the initial state

  /**
   * The initial state (docs/litmus.md, "Initial state"): a CPU with a main block starts active as an OS would
   * leave it (APIC software-enabled with spurious vector 0xFF, IF = 1); one without starts in wait-for-SIPI in its
   * INIT state. `init` items then apply in order.
   */
  reset(): void {
    const m = this.machine, test = this.program.test;
    m.powerOn();
    for (let c = 0; c < this.program.cpus.length; c++) {
      const code = this.program.cpus[c], cpu = m.cpus[c];
      this.setPc(code, NO_PC);
      if (code.main >= 0) {
        cpu.setActivity(Activity.ACTIVE);
        m.apicWrite(c, Reg.SVR, 0x1ff);
        cpu.setIf(true);
        this.setPc(code, code.main);
      } else {
        cpu.setActivity(Activity.WAIT_FOR_SIPI);
      }
    }
    for (const a of this.program.agents) this.setPc(a, a.main);
    for (const it of test.init?.items ?? []) this.applyInit(it);
  }

  private applyInit(it: InitItem): void {
    const m = this.machine;
    switch (it.kind) {
      case 'mem': this.setMem(it.name, it.value); return;
      case 'activity': {
        const act = ACTIVITY_NAMES.indexOf(it.value) as Activity;
        const cpu = m.cpus[it.cpu], code = this.program.cpus[it.cpu];
        if (act === Activity.UNPLUGGED) {
          cpu.unplug();
          this.setPc(code, NO_PC);
        } else {
          cpu.setActivity(act);
          if (act === Activity.WAIT_FOR_SIPI || act === Activity.SHUTDOWN) this.setPc(code, NO_PC);
          else if (this.pc(code) === NO_PC) this.setPc(code, code.main >= 0 ? code.main : PC_IDLE);
        }
        return;
      }
      case 'apic-mode': {
        const lo = (ApicBase.DEFAULT_BASE | (it.cpu === 0 ? ApicBase.BSP : 0)) >>> 0;
        const apic = m.apics[it.cpu];
        const en = it.value === 'disabled' ? 0 : ApicBase.EN, extd = it.value === 'x2apic' ? ApicBase.EXTD : 0;
        // Through xAPIC when going to x2APIC, as software must (SDM Vol 3A 11.12.5).
        if (it.value === 'x2apic' && apic.mode() === 'disabled') apic.writeApicBase(BigInt((lo | ApicBase.EN) >>> 0));
        if (!apic.writeApicBase(BigInt((lo | en | extd) >>> 0)) || apic.mode() !== it.value) {
          throw new UnsupportedError(`init: P${it.cpu}.apic.mode = ${it.value} is not available under profile ${this.profile.name}`);
        }
        return;
      }
      case 'apic-reg': this.initApicReg(it.cpu, it.reg.offset, it.value); return;
      case 'smbase': m.cpus[it.cpu].setSmbase(Number(it.value)); return;
      case 'if': m.cpus[it.cpu].setIf(it.value === 1); return;
      case 'vmx': m.cpus[it.cpu].setVmx(VMX_MODE_NAMES.indexOf(it.value) as VmxMode); return;
      case 'reg': this.setReg(this.program.cpus[it.cpu], it.reg, it.value); return;
      case 'ioapic-entry': {
        const io = m.ioapic;
        if (!io) throw new SimError('init sets an I/O APIC entry but config says ioapic = false');
        const e = it.entry;
        const modes = ['fixed', 'lowest', 'smi', 'remote-read', 'nmi', 'init', 'sipi', 'extint'];
        let lo = (e.vector ?? 0) | (modes.indexOf(e.mode ?? 'fixed') << 8);
        let dest = 0;
        if (e.dest) {
          const d = this.destination(e.dest, -1);
          if (d.logical) lo |= 1 << 11;
          dest = d.destination & 0xff;
        }
        if (e.polarity === 'low') lo |= 1 << 13;
        if (e.trigger === 'level') lo |= 1 << 15;
        if (e.mask === 1) lo |= 1 << 16;
        io.writeRegister(0x11 + 2 * it.pin, (dest << 24) >>> 0);
        io.writeRegister(0x10 + 2 * it.pin, lo);
        return;
      }
    }
  }

  /** An `init` register value: written as software would, except state no write reaches (IRR/ISR/TMR, ESR, ICR). */
  private initApicReg(c: number, offset: number, value: bigint): void {
    const apic = this.machine.apics[c], v = Number(value & 0xffffffffn);
    if (offset >= Reg.ISR0 && offset < Reg.ESR) {
      const which = (offset - Reg.ISR0) >> 7, i = ((offset - Reg.ISR0) >> 4) & 7;
      apic.setWord([A.ISR, A.TMR, A.IRR][which] + i, v);
      return;
    }
    if (offset === Reg.ESR) return apic.setWord(A.ESR, v);
    if (offset === Reg.ICR_LO) return apic.setWord(A.ICR_LO, v);
    if (offset === Reg.ICR_HI) return apic.setWord(A.ICR_HI, v);
    if (offset === Reg.ID) return apic.setWord(A.ID, apic.isX2apic() ? v : v >>> 24);
    if (apic.isX2apic()) apic.x2apicWrite(X2APIC_MSR_BASE + (offset >> 4), BigInt(v));
    else apic.xapicWrite(offset, v);
  }

  // ---------------------------------------------------------------- enabled steps

  /** The CPU's next step, if it has one: a pending event it must take, or its next op. */
  private cpuEnabled(c: number): boolean {
    const cpu = this.machine.cpus[c];
    if (!cpu.present()) return false;
    if (this.vcpus) {
      const code = this.program.cpus[c];
      // A vCPU runs only while it is on a physical CPU (IsRunning); APICv's way back in and its notifications,
      // and AVIC's IPI work, come first.
      const pi = this.s[this.w(code, P.PI_FLAGS)];
      if (pi & (PI_RESUME_1 | PI_RESUME_2)) return true;
      if (this.s[this.w(code, P.VCPU)] & VCPU_NOT_RUNNING) return false;
      if (pi & PI_NOTIFY) return true;
      if (this.s[this.w(code, P.AVIC_STAGE)] !== 0) return true;
    }
    if (nextEvent(cpu) !== EventKind.NONE) return true;
    if (cpu.activity() !== Activity.ACTIVE) return false;
    const code = this.program.cpus[c];
    const pc = this.pc(code);
    if (pc === NO_PC) return false;
    return this.opEnabled(code.insns[pc], code, cpu);
  }

  private opEnabled(op: Insn, code: ProcCode, cpu: Cpu | null): boolean {
    if (this.waiting(code)) return false;
    if (op.kind === 'await') return this.awaitHolds(op, code, cpu);
    if (op.kind === 'end' && op.main === false && cpu === null) return false;
    return true;
  }

  private awaitHolds(op: Extract<Insn, { kind: 'await' }>, code: ProcCode, cpu: Cpu | null): boolean {
    const v = this.mem(op.loc), want = this.evaluate(op.value, code, cpu);
    return op.cmp === '==' ? v === want : v !== want;
  }

  private agentEnabled(a: number): boolean {
    const code = this.program.agents[a];
    const pc = this.pc(code);
    if (pc === NO_PC) return false;
    const op = code.insns[pc];
    if (op.kind === 'end') return false;
    return this.opEnabled(op, code, null);
  }

  /** Whether a process's only enabled step is a `pause` (it does not hold time back). */
  private pausing(code: ProcCode): boolean {
    const pc = this.pc(code);
    return pc !== NO_PC && code.insns[pc].kind === 'pause';
  }

  /** Fill `out` with every enabled step. Time passes only when nothing but `pause` steps are enabled. */
  enabled(out: number[]): void {
    out.length = 0;
    let holdsTime = false;
    const m = this.machine;
    for (let c = 0; c < this.program.cpus.length; c++) {
      if (!this.cpuEnabled(c)) continue;
      out.push(step(StepKind.CPU, c));
      if (!(nextEvent(m.cpus[c]) === EventKind.NONE && this.pausing(this.program.cpus[c]))) holdsTime = true;
    }
    for (let a = 0; a < this.program.agents.length; a++) {
      if (!this.agentEnabled(a)) continue;
      out.push(step(StepKind.AGENT, a));
      if (!this.pausing(this.program.agents[a])) holdsTime = true;
    }
    const bus = m.bus;
    for (let i = 0; i < bus.count(); i++) {
      if (bus.eligible(i)) {
        out.push(step(StepKind.DELIVER, i));
        holdsTime = true;
      }
    }
    if (!holdsTime && this.nextTime() < Infinity) out.push(step(StepKind.TIME, 0));
  }

  /** The next virtual time something happens: a timer, or the end of a `wait`. */
  nextTime(): number {
    const now = this.machine.now();
    let t = this.machine.nextDeadline();
    const consider = (code: ProcCode): void => {
      const w = this.waitUntil(code);
      if (w > now && w < t) t = w;
    };
    for (const c of this.program.cpus) consider(c);
    for (const a of this.program.agents) consider(a);
    return t;
  }

  // ---------------------------------------------------------------- taking a step

  apply(s: number): void {
    switch (stepKind(s)) {
      case StepKind.CPU: return this.cpuStep(stepIndex(s));
      case StepKind.AGENT: return this.agentStep(stepIndex(s));
      case StepKind.DELIVER: return this.deliverStep(stepIndex(s));
      case StepKind.TIME: {
        const t = this.nextTime();
        this.traceSink?.(`time: advance to ${t}`);
        const irrBefore = this.tprShadow ? this.program.cpus.map((_, c) => this.irrSignature(c)) : null;
        this.machine.advanceTo(t);
        if (irrBefore) for (let c = 0; c < irrBefore.length; c++) if (this.irrSignature(c) !== irrBefore[c]) this.reenter(c, true);
        // Under AVIC and APICv the APIC timer is the hypervisor's: its interrupt wakes a blocked vCPU.
        if (this.vcpus) for (let c = 0; c < this.program.cpus.length; c++) this.wakeIfPending(c);
        return;
      }
    }
  }

  /** A one-line description of a step, before it is taken. */
  describe(s: number): string {
    switch (stepKind(s)) {
      case StepKind.CPU: {
        const c = stepIndex(s), cpu = this.machine.cpus[c];
        const pi = this.s[this.w(this.program.cpus[c], P.PI_FLAGS)];
        if (this.apicv && pi & (PI_RESUME_1 | PI_RESUME_2)) return `P${c} kvm: vcpu_load, ${pi & PI_RESUME_1 ? 'first' : 'second'} half`;
        if (this.apicv && pi & PI_NOTIFY) return `P${c} takes the posted-interrupt notification`;
        if (this.avic && this.s[this.w(this.program.cpus[c], P.AVIC_STAGE)] === 1) return `P${c} avic: IPI completes (IsRunning check)`;
        if (this.avic && this.s[this.w(this.program.cpus[c], P.AVIC_STAGE)] === 2) return `P${c} kvm: incomplete-IPI exit handler`;
        const ev = nextEvent(cpu);
        if (ev !== EventKind.NONE) return `P${c} takes ${ev === EventKind.INTR ? 'interrupt' : EVENT_NAMES[ev]}`;
        const code = this.program.cpus[c];
        return `P${c} ${describeInsn(code.insns[this.pc(code)])}`;
      }
      case StepKind.AGENT: {
        const code = this.program.agents[stepIndex(s)];
        return `D${this.agentName(stepIndex(s))} ${describeInsn(code.insns[this.pc(code)])}`;
      }
      case StepKind.DELIVER: {
        const w = this.machine.bus.record(stepIndex(s));
        const src = Msg.source(w);
        return `bus: ${SEND_MODES[Msg.mode(w)]}${Msg.mode(w) === DeliveryMode.FIXED || Msg.mode(w) === DeliveryMode.LOWEST || Msg.mode(w) === DeliveryMode.STARTUP ? ` 0x${Msg.vector(w).toString(16)}` : ''} from ${src === 0 ? 'platform' : `P${src - 1}`} arrives at P${Msg.target(w)}`;
      }
      case StepKind.TIME:
        return `time passes to ${this.nextTime()}`;
    }
  }

  private agentName(a: number): number {
    for (const [name, i] of this.program.agentIndex) if (i === a) return name;
    return a;
  }

  private deliverStep(i: number): void {
    const target = Msg.target(this.machine.bus.record(i));
    this.deliverOnBus(i);
    // With a hardware assist, messages on the bus are the hypervisor's emulated path: it kicks the target.
    if (this.vcpus) this.wakeIfPending(target);
    if (this.tprShadow) this.reenter(target, true);
  }

  private deliverOnBus(i: number): void {
    const m = this.machine;
    const w = m.bus.record(i);
    const t = Msg.target(w), cpu = m.cpus[t];
    const before = cpu.activity(), vmxBefore = cpu.vmx();
    m.deliver(i);
    if (vmxBefore === VmxMode.NON_ROOT && cpu.vmx() === VmxMode.ROOT) {
      // SDM Vol 3C 26.2: the SIPI to a guest in wait-for-SIPI was a VM exit (cpu.ts sipiInGuest).
      const code = this.program.cpus[t];
      this.vmExit(t, code, this.pc(code), 'vmexit-sipi', code.vmexitSipi);
      return;
    }
    if (before === Activity.WAIT_FOR_SIPI && cpu.activity() === Activity.ACTIVE && Msg.mode(w) === DeliveryMode.STARTUP) {
      const code = this.program.cpus[t];
      this.s[this.w(code, P.DEPTH)] = 0;
      this.setWait(code, 0);
      this.count(code, 'sipi');
      this.setPc(code, code.sipi >= 0 ? code.sipi : PC_IDLE);
      if (code.sipi < 0) cpu.hlt();
    }
  }

  private pushFrame(code: ProcCode, returnPc: number, savedIf: boolean, kind: number): void {
    const d = this.s[this.w(code, P.DEPTH)];
    if (d >= MAX_DEPTH) throw new SimError(`handlers nested deeper than ${MAX_DEPTH}`);
    const at = this.w(code, P.FRAMES + 2 * d);
    this.s[at] = returnPc >>> 0;
    this.s[at + 1] = (savedIf ? 1 : 0) | (kind << 1);
    this.s[this.w(code, P.DEPTH)] = d + 1;
  }

  // ---------------------------------------------------------------- AMD AVIC (accel = avic)

  /**
   * HLT in a vCPU: the hypervisor blocks it, clearing IsRunning (KVM avic_vcpu_blocking), unless an event is
   * already pending (kvm_vcpu_check_block). A blocked vCPU runs again only when something wakes it.
   */
  private halt(c: number, cpu: Cpu, code: ProcCode): void {
    cpu.hlt();
    if (!this.vcpus || nextEvent(cpu) !== EventKind.NONE) return;
    // APICv: a posted interrupt outstanding (ON) keeps the vCPU from blocking (KVM pi_has_pending_interrupt).
    if (this.apicv && this.s[this.w(code, P.PI_FLAGS)] & PI_ON) return;
    this.s[this.w(code, P.VCPU)] |= VCPU_NOT_RUNNING | VCPU_BLOCKED;
    this.traceSink?.(`P${c} vcpu blocked: IsRunning = 0`);
  }

  /** The hypervisor wakes a blocked vCPU (kvm_vcpu_wake_up); a preempted or running one is left as it is. */
  private wake(c: number): void {
    const code = this.program.cpus[c], v = this.w(code, P.VCPU);
    if (!(this.s[v] & VCPU_BLOCKED) || this.s[v] & VCPU_DEAD) return;
    if (this.apicv) {
      // The vCPU thread wakes and goes back in through vcpu_load (apicvStep), still off the CPU until then.
      this.s[v] = VCPU_NOT_RUNNING;
      this.s[this.w(code, P.PI_FLAGS)] |= PI_RESUME_1;
      this.traceSink?.(`P${c} vcpu woken`);
      return;
    }
    this.s[v] = 0;
    this.traceSink?.(`P${c} vcpu woken: IsRunning = 1`);
  }

  // ---------------------------------------------------------------- Intel TPR shadow without virtual-interrupt delivery (accel = tpr-shadow)

  /** The IRR as one number, to tell whether time set a bit (the timer's interrupt kicks the vCPU). */
  private irrSignature(c: number): number {
    let h = 0;
    for (let i = 0; i < 8; i++) h = (Math.imul(h, 31) + this.machine.apics[c].word(A.IRR + i)) | 0;
    return h;
  }

  /**
   * The TPR threshold a hypervisor writes before VM entry so that lowering the TPR below the class of the highest
   * interrupt the TPR holds back causes a VM exit (SDM Vol 3C 30.1.2 TPR Virtualization; KVM
   * vmx_update_cr8_intercept: 0 when nothing is pending or the TPR does not block it, else its class).
   */
  private cr8Intercept(c: number): number {
    const apic = this.machine.apics[c], irr = apic.highestIrr(), tpr = apic.tpr() >>> 4;
    return irr < 0 || tpr < irr >>> 4 ? 0 : irr >>> 4;
  }

  /**
   * The hypervisor goes back into vCPU c after handling an exit: with `recompute` (KVM_REQ_EVENT pending) it writes
   * the TPR threshold afresh. SDM Vol 3C 28.2.1.1 Checks on VM-Execution Control Fields: with "use TPR shadow" 1 and
   * "virtualize APIC accesses" and "virtual-interrupt delivery" 0 (KVM's x2APIC mode without APICv: vmx_set_virtual_
   * apic_mode clears "virtualize APIC accesses"), TPR threshold[3:0] must not exceed VTPR[7:4]; otherwise the VM
   * entry fails (VM-instruction error 7, KVM_EXIT_FAIL_ENTRY "hardware error 0x7") and the vCPU never runs again.
   */
  private reenter(c: number, recompute: boolean): void {
    const code = this.program.cpus[c], at = this.w(code, P.TPR_THRESHOLD), apic = this.machine.apics[c];
    if (this.s[this.w(code, P.VCPU)] & VCPU_DEAD) return;
    if (recompute) this.s[at] = this.cr8Intercept(c);
    if (apic.isX2apic() && this.s[at] > apic.tpr() >>> 4) {
      this.count(code, 'vmexit-entry-failure');
      this.s[this.w(code, P.VCPU)] = VCPU_NOT_RUNNING | VCPU_BLOCKED | VCPU_DEAD;
      this.traceSink?.(`P${c} VM entry fails: TPR threshold ${this.s[at]} > VTPR[7:4] ${apic.tpr() >>> 4} (hardware error 0x7)`);
    }
  }

  /**
   * A guest TPR write under a TPR shadow (MOV to the virtualized TPR, or the x2APIC TPR MSR): SDM Vol 3C 30.1.2,
   * if VTPR[7:4] drops below TPR threshold[3:0], a trap-like VM exit "TPR below threshold". KVM's handler
   * (handle_tpr_below_threshold) calls apic_update_ppr, which asks for a new threshold only when an interrupt has
   * become deliverable; under tprThresholdStaleAfterExit that is all, otherwise the threshold is set afresh.
   */
  private tprWritten(c: number, code: ProcCode): void {
    const apic = this.machine.apics[c];
    if (apic.tpr() >>> 4 >= this.s[this.w(code, P.TPR_THRESHOLD)]) return;
    this.count(code, 'vmexit-tpr-below-threshold');
    this.traceSink?.(`P${c} VM exit: TPR below threshold`);
    this.reenter(c, !this.profile.quirks.tprThresholdStaleAfterExit || apic.deliverableVector() >= 0);
  }

  // ---------------------------------------------------------------- Intel APICv posted interrupts (accel = apicv)

  /**
   * A posted interrupt (SDM Vol 3C 30.6 Posted-Interrupt Processing; VT-d 5.2.3 for device posting): set the
   * vector's PIR bit; if ON was clear, set it and, unless SN suppresses notifications, notify: a running vCPU's
   * CPU gets the notification vector (the vCPU processes it at its next step), a blocked vCPU is woken by the
   * hypervisor's wake-up handler. With ON already set, nothing more: a notification is outstanding.
   */
  private post(vector: number, t: number): void {
    const code = this.program.cpus[t], pi = this.w(code, P.PI_FLAGS);
    this.s[this.w(code, P.PIR + (vector >>> 5))] |= 1 << (vector & 31);
    if (this.s[pi] & PI_ON) return;
    this.s[pi] |= PI_ON;
    if (this.s[pi] & PI_SN) return;
    const v = this.s[this.w(code, P.VCPU)];
    if (!(v & VCPU_NOT_RUNNING)) this.s[pi] |= PI_NOTIFY;
    else if (v & VCPU_BLOCKED) this.wake(t);
  }

  /**
   * The EOI-exit bitmap the hypervisor keeps for vCPU c: the vectors the I/O APIC routes to it level-triggered
   * (KVM kvm_ioapic_scan_entry), derived from the redirection table as it is now.
   */
  private eoiExitBitmap(c: number, vector: number): boolean {
    const io = this.machine.ioapic;
    if (!io) return false;
    const targets: number[] = [];
    for (let pin = 0; pin < 24; pin++) {
      const e = io.entry(pin);
      if (e.vector !== vector || !e.levelTriggered || e.masked) continue;
      const message = { vector, mode: e.deliveryMode, levelTriggered: true, assert: true, logical: e.logical, shorthand: Shorthand.NONE, destination: e.destination, x2apic: false };
      const n = this.machine.bus.targets(-1, message, targets);
      for (let i = 0; i < n; i++) if (targets[i] === c) return true;
    }
    return false;
  }

  /** OR the PIR into the virtual IRR, clear it and ON (SDM Vol 3C 30.6, steps of posted-interrupt processing). */
  private syncPir(c: number, code: ProcCode): void {
    const apic = this.machine.apics[c];
    for (let w = 0; w < 8; w++) {
      const at = this.w(code, P.PIR + w);
      let bits = this.s[at];
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits);
        apic.acceptFixed((w << 5) | b, false);
        bits &= ~(1 << b);
      }
      this.s[at] = 0;
    }
    this.s[this.w(code, P.PI_FLAGS)] &= ~PI_ON;
  }

  /**
   * The vCPU's own APICv steps: the notification's processing, and the two halves of going back onto a CPU. KVM's
   * order (arch/x86/kvm/vmx/posted_intr.c vmx_vcpu_pi_load: "Clear SN before reading the bitmap"): clear SN, then
   * sync an outstanding PIR before VM entry. Under apicvCheckOnBeforeClearingSn the halves are swapped, and a post
   * between them is neither synced nor notified.
   */
  private apicvStep(c: number, code: ProcCode): void {
    const pi = this.w(code, P.PI_FLAGS), flags = this.s[pi];
    const swapped = this.profile.quirks.apicvCheckOnBeforeClearingSn;
    const clearSn = (): void => void (this.s[pi] &= ~PI_SN);
    const sync = (): void => {
      if (this.s[pi] & PI_ON) this.syncPir(c, code);
    };
    if (flags & PI_RESUME_1) {
      if (swapped) sync();
      else clearSn();
      this.s[pi] = (this.s[pi] & ~PI_RESUME_1) | PI_RESUME_2;
      this.traceSink?.(`P${c} kvm: vcpu_load ${swapped ? 'checks ON' : 'clears SN'}`);
      return;
    }
    if (flags & PI_RESUME_2) {
      if (swapped) clearSn();
      else sync();
      this.s[pi] &= ~PI_RESUME_2;
      this.s[this.w(code, P.VCPU)] = 0;
      this.traceSink?.(`P${c} kvm: ${swapped ? 'clears SN' : 'syncs PIR'} and enters the guest`);
      return;
    }
    // The notification vector arrived while the vCPU runs: posted-interrupt processing.
    this.s[pi] &= ~PI_NOTIFY;
    if (this.s[pi] & PI_ON) this.syncPir(c, code);
    this.traceSink?.(`P${c} posted-interrupt notification: PIR synced into vIRR`);
  }

  /**
   * A fixed IPI from an APICv vCPU to others. Without IPI virtualization the ICR write is a trap-like APIC-write VM
   * exit (SDM Vol 3C 30.4.3.3) and the hypervisor delivers the interrupt to each destination as a posted interrupt
   * (KVM __apic_accept_irq -> vmx_deliver_interrupt: PIR, ON, then the notification or a wake-up). With IPI
   * virtualization (`ipiv = true`, SDM Vol 3C 30.1.6 IPI Virtualization) the processor posts a fixed, edge,
   * physical-destination IPI without a shorthand itself, through the PID-pointer table: no VM exit. Either way the
   * destinations are posted to in this step; a logical or broadcast one still exits.
   */
  private apicvSend(op: SendOp, c: number, code: ProcCode): void {
    const m = this.machine, d = this.destination(op.dest, c);
    const message = { vector: op.vector ?? 0, mode: DeliveryMode.FIXED, levelTriggered: false, assert: true, logical: d.logical, shorthand: d.shorthand, destination: d.destination, x2apic: m.apics[c].isX2apic() };
    const virtualized = this.program.test.settings.ipiv && !d.logical && d.shorthand === Shorthand.NONE
      && !(message.x2apic ? d.destination >>> 0 === 0xffffffff : (d.destination & 0xff) === 0xff);
    if (!virtualized) this.count(code, 'vmexit-apic-write');
    const targets: number[] = [];
    const n = m.bus.targets(c, message, targets);
    for (let i = 0; i < n; i++) this.post(message.vector, targets[i]);
    this.traceSink?.(`P${c} ${virtualized ? 'ipi virtualization' : 'APIC-write VM exit: kvm'} posts 0x${message.vector.toString(16)} to ${n === 0 ? 'no one' : Array.from(targets.slice(0, n), (t) => `P${t}`).join(', ')}`);
  }

  private wakeIfPending(c: number): void {
    if (nextEvent(this.machine.cpus[c]) !== EventKind.NONE) this.wake(c);
  }

  /**
   * An ICR write under AVIC. APM Vol 2 15.29.3.2 Interprocessor Interrupts: the hardware first checks the write
   * (avicIpi: type, vector, table entries); a failure is #VMEXIT(AVIC_INCOMPLETE_IPI), trap-like (after the write),
   * with no IRR bit set, and the hypervisor's handler runs before the vCPU's next instruction (this step). Otherwise
   * "for every valid destination: atomically set the appropriate IRR bit in each of the destinations' vAPIC backing
   * page; check the IsRunning status of each destination; if set, send a doorbell", then "if any destinations are
   * identified as not currently scheduled ... cause a #VMEXIT" (cause 1). This step sets the IRR bits; the
   * sender's next step reads IsRunning (avicStep). Under the avicIsRunningBeforeIrr quirk the order is the other
   * way round. Doorbells need no model: a running vCPU takes its IRR at its next boundary.
   */
  private avicSend(op: SendOp, c: number, code: ProcCode): void {
    const m = this.machine, d = this.destination(op.dest, c);
    const message = {
      vector: op.vector ?? 0, mode: SEND_MODES.indexOf(op.mode) as DeliveryMode, levelTriggered: (op.trigger ?? 'edge') === 'level', assert: (op.level ?? 'assert') === 'assert',
      logical: d.logical, shorthand: d.shorthand, destination: d.destination, x2apic: m.apics[c].isX2apic(),
    };
    const targets: number[] = [];
    const { cause, n } = avicIpi(m, c, message, targets);
    if (cause !== -1) {
      this.count(code, 'vmexit-incomplete-ipi');
      const q = this.profile.quirks;
      // KVM avic_incomplete_ipi_interception: causes 0 and 2 emulate the ICR write (the invalid-target case only
      // since Jan 2023); cause 4 is ignored (KVM, Sept 2023; earlier KVM logged "Unknown IPI interception").
      const ignored = (cause === AvicIpiFailure.INVALID_TARGET && q.avicInvalidTargetIgnored) || (cause === AvicIpiFailure.INVALID_IPI_VECTOR && q.avicInvalidVectorIgnored);
      this.traceSink?.(`P${c} avic: #VMEXIT incomplete IPI (${AVIC_IPI_FAILURE_NAMES[cause]}): kvm ${ignored ? 'ignores it' : 'emulates the ICR write'}`);
      if (!ignored) this.send(op, c, code);
      return;
    }
    let mask = 0;
    for (let i = 0; i < n; i++) mask |= 1 << targets[i];
    this.s[this.w(code, P.AVIC_VECTOR)] = message.vector;
    this.s[this.w(code, P.AVIC_TARGETS)] = mask >>> 0;
    if (this.profile.quirks.avicIsRunningBeforeIrr) {
      this.s[this.w(code, P.AVIC_NOT_RUNNING)] = this.notRunning(mask);
    } else {
      for (let i = 0; i < n; i++) m.apics[targets[i]].acceptFixed(message.vector, false);
    }
    this.s[this.w(code, P.AVIC_STAGE)] = 1;
    this.traceSink?.(`P${c} avic: ipi 0x${message.vector.toString(16)} to mask 0x${mask.toString(16)}${this.profile.quirks.avicIsRunningBeforeIrr ? ' (IsRunning read first)' : ': IRR set'}`);
  }

  private notRunning(mask: number): number {
    let out = 0;
    for (let t = 0; t < this.program.cpus.length; t++) {
      if (mask & (1 << t) && this.s[this.w(this.program.cpus[t], P.VCPU)] & VCPU_NOT_RUNNING) out |= 1 << t;
    }
    return out >>> 0;
  }

  /** The second half of an AVIC IPI on the hardware, then the hypervisor's incomplete-IPI handler, a target a step. */
  private avicStep(c: number, code: ProcCode): void {
    const m = this.machine, stage = this.w(code, P.AVIC_STAGE), targets = this.w(code, P.AVIC_TARGETS);
    const vector = this.s[this.w(code, P.AVIC_VECTOR)];
    if (this.s[stage] === 1) {
      let notRunning: number;
      if (this.profile.quirks.avicIsRunningBeforeIrr) {
        notRunning = this.s[this.w(code, P.AVIC_NOT_RUNNING)];
        for (let t = 0; t < this.program.cpus.length; t++) if (this.s[targets] & (1 << t)) m.apics[t].acceptFixed(vector, false);
      } else {
        notRunning = this.notRunning(this.s[targets]);
      }
      this.s[this.w(code, P.AVIC_NOT_RUNNING)] = 0;
      if (notRunning === 0) {
        this.s[stage] = 0;
        this.s[targets] = 0;
        this.s[this.w(code, P.AVIC_VECTOR)] = 0;
        return;
      }
      // #VMEXIT(AVIC_INCOMPLETE_IPI), cause 1: IPI target not running.
      this.count(code, 'vmexit-incomplete-ipi');
      this.s[stage] = 2;
      // KVM of early 2019 re-sends to every destination of the ICR; the fixed handler wakes the ones not running.
      if (!this.profile.quirks.avicIncompleteIpiResends) this.s[targets] = notRunning;
      this.traceSink?.(`P${c} avic: #VMEXIT incomplete IPI (target not running: mask 0x${notRunning.toString(16)})`);
      return;
    }
    const mask = this.s[targets];
    const t = 31 - Math.clz32(mask & -mask);
    if (this.profile.quirks.avicIncompleteIpiResends) {
      // svm.c (2019): avic_incomplete_ipi_interception emulates the ICR write: kvm_apic_set_irr + kick.
      m.apics[t].acceptFixed(vector, false);
      this.traceSink?.(`P${c} kvm: incomplete-IPI handler re-sends vector 0x${vector.toString(16)} to P${t}`);
    } else {
      this.traceSink?.(`P${c} kvm: incomplete-IPI handler wakes P${t}`);
    }
    this.wake(t);
    this.s[targets] = (mask & ~(1 << t)) >>> 0;
    if (this.s[targets] === 0) {
      this.s[stage] = 0;
      this.s[this.w(code, P.AVIC_VECTOR)] = 0;
    }
  }

  /** A VM exit to the L1 hypervisor: the guest's PC is kept in a frame, and L1's handler (or idle loop) runs. */
  private vmExit(c: number, code: ProcCode, guestPc: number, kind: 'vmexit-init' | 'vmexit-sipi', handler: number): void {
    this.pushFrame(code, guestPc, false, FRAME_VMEXIT);
    this.count(code, kind);
    this.setPc(code, handler >= 0 ? handler : PC_IDLE);
    if (handler < 0) this.machine.cpus[c].hlt();
    this.traceSink?.(`P${c} ${kind}: L1 handler${handler < 0 ? ' (none: L1 idles)' : ''}`);
  }

  /** The kind of the innermost frame, or -1. */
  private topFrameKind(code: ProcCode): number {
    const d = this.s[this.w(code, P.DEPTH)];
    return d === 0 ? -1 : this.s[this.w(code, P.FRAMES + 2 * (d - 1)) + 1] >>> 1;
  }

  private popFrame(code: ProcCode): { pc: number; savedIf: boolean } {
    const d = this.s[this.w(code, P.DEPTH)] - 1;
    if (d < 0) throw new SimError('return from a handler with no frame');
    const at = this.w(code, P.FRAMES + 2 * d);
    const r = { pc: this.s[at], savedIf: (this.s[at + 1] & 1) !== 0 };
    this.s[at] = 0;
    this.s[at + 1] = 0;
    this.s[this.w(code, P.DEPTH)] = d;
    return r;
  }

  private cpuStep(c: number): void {
    const m = this.machine, cpu = m.cpus[c], code = this.program.cpus[c];
    if (this.apicv && this.s[this.w(code, P.PI_FLAGS)] & (PI_RESUME_1 | PI_RESUME_2 | PI_NOTIFY)) return this.apicvStep(c, code);
    if (this.avic && this.s[this.w(code, P.AVIC_STAGE)] !== 0) return this.avicStep(c, code);
    if (nextEvent(cpu) !== EventKind.NONE) return this.takeEvent(c, cpu, code);
    const pc = this.pc(code);
    const op = code.insns[pc];
    cpu.beginInstruction();
    const next = this.execCpu(op, c, cpu, code);
    if (next !== undefined) this.setPc(code, next);
  }

  private takeEvent(c: number, cpu: Cpu, code: ProcCode): void {
    const pc = this.pc(code);
    const ifBefore = cpu.interruptsEnabled();
    const taken = takeEvent(cpu);
    const kind = eventKind(taken), vector = eventVector(taken);
    switch (kind) {
      case EventKind.SMI:
        this.pushFrame(code, pc, false, FRAME_SMM);
        this.count(code, 'smi');
        this.setPc(code, code.smi >= 0 ? code.smi : PC_RSM);
        return;
      case EventKind.INIT:
        this.s.fill(0, this.w(code, P.DEPTH), this.w(code, P.FRAMES + 2 * MAX_DEPTH));
        this.setWait(code, 0);
        // The BSP goes to the reset vector, where a litmus test has no code: it halts there with IF = 0
        // (docs/litmus.md, "Running"); an AP waits for a SIPI.
        if (cpu.activity() === Activity.ACTIVE && !cpu.apic.isBsp()) {
          // An AP active right after INIT was started by a SIPI kept from SMM (quirk sipiLatchedInSmm).
          this.count(code, 'sipi');
          this.setPc(code, code.sipi >= 0 ? code.sipi : PC_IDLE);
          if (code.sipi < 0) cpu.hlt();
        } else if (cpu.activity() === Activity.ACTIVE) {
          cpu.hlt();
          this.setPc(code, PC_IDLE);
        } else this.setPc(code, NO_PC);
        return;
      case EventKind.INIT_VMEXIT:
        // SDM Vol 3C 26.2 Other Causes of VM Exits: INIT in VMX non-root operation exits to the VMM (L1).
        this.vmExit(c, code, pc, 'vmexit-init', code.vmexitInit);
        return;
      case EventKind.NMI:
        this.pushFrame(code, pc, ifBefore, FRAME_NMI);
        cpu.setIf(false);
        this.count(code, 'nmi');
        this.setPc(code, code.nmi >= 0 ? code.nmi : PC_IRET);
        this.traceSink?.(`P${c} nmi: enter handler`);
        return;
      case EventKind.SIPI_DISCARD:
        this.traceSink?.(`P${c} sipi discarded: not in wait-for-sipi`);
        return;
      case EventKind.EXTINT:
      case EventKind.INTR: {
        this.pushFrame(code, pc, ifBefore, FRAME_INTR);
        cpu.setIf(false);
        this.count(code, vector);
        const h = code.vectors.get(vector);
        this.setPc(code, h ?? PC_IRET);
        this.traceSink?.(`P${c} interrupt: vector 0x${vector.toString(16)}${h === undefined ? ' (no handler: IRET)' : ''}`);
        // Without virtual-interrupt delivery the hypervisor injected it at a VM entry, after which KVM
        // (vcpu_enter_guest: inject_pending_event, then update_cr8_intercept) sets the threshold afresh.
        if (this.tprShadow) this.reenter(c, true);
        return;
      }
    }
  }

  private fault(code: ProcCode, c: number, what: string): void {
    this.s[this.w(code, P.FAULTS)]++;
    this.traceSink?.(`P${c} #GP: ${what}`);
  }

  /** Execute one CPU op; returns the next PC (undefined: unchanged by the op itself). */
  private execCpu(op: Insn, c: number, cpu: Cpu, code: ProcCode): number | undefined {
    const m = this.machine, pc = this.pc(code), next = pc + 1;
    switch (op.kind) {
      case 'store': this.setMem(op.loc, this.evaluate(op.value, code, cpu)); return next;
      case 'load': this.setReg(code, op.reg, this.mem(op.loc)); return next;
      case 'assign': this.setReg(code, op.reg, this.evaluate(op.value, code, cpu)); return next;
      case 'await': return next;
      case 'apic-write':
        m.apicWrite(c, op.reg.offset, Number(this.evaluate(op.value, code, cpu) & 0xffffffffn));
        // APM Vol 2 15.29.3.1: a write AVIC does not accelerate is a trap-like #VMEXIT(AVIC_NOACCEL); the
        // hypervisor's handler completes it before the vCPU's next instruction, so it is one step here.
        if (this.avic && !m.apics[c].isX2apic() && AVIC_TRAP_WRITES.has(op.reg.offset)) this.count(code, 'vmexit-noaccel');
        if (this.tprShadow && op.reg.offset === Reg.TPR) this.tprWritten(c, code);
        return next;
      case 'apic-read':
        if (this.avic && !m.apics[c].isX2apic() && AVIC_FAULT_READS.has(op.reg.offset)) this.count(code, 'vmexit-noaccel');
        this.setReg(code, op.dst, BigInt(m.apicRead(c, op.reg.offset) ?? 0));
        return next;
      case 'wrmsr': {
        const r = m.wrmsr(c, op.msr.index, this.evaluate(op.value, code, cpu));
        if (!r.ok) this.fault(code, c, `wrmsr 0x${op.msr.index.toString(16)}`);
        else if (this.tprShadow && op.msr.index === X2APIC_MSR_BASE + (Reg.TPR >> 4)) this.tprWritten(c, code);
        return next;
      }
      case 'rdmsr': {
        const r = m.rdmsr(c, op.msr.index);
        if (r.ok) this.setReg(code, op.dst, r.value);
        else this.fault(code, c, `rdmsr 0x${op.msr.index.toString(16)}`);
        return next;
      }
      case 'send':
        // AVIC accelerates a fixed self-IPI in the sender's own backing page; every other ICR write goes through
        // the tables (avicSend).
        if (this.avic && !(op.mode === 'fixed' && op.dest.kind === 'self' && (op.trigger ?? 'edge') === 'edge')) this.avicSend(op, c, code);
        else if (this.apicv && op.mode === 'fixed' && (op.trigger ?? 'edge') === 'edge' && op.dest.kind !== 'self' && (op.vector ?? 0) >= 16) this.apicvSend(op, c, code);
        else this.send(op, c, code);
        return next;
      case 'sti': cpu.sti(); return next;
      case 'cli': cpu.cli(); return next;
      case 'hlt': this.halt(c, cpu, code); return next;
      case 'pause': case 'nop': return next;
      case 'eoi':
        if (this.apicv) {
          if (m.apics[c].virtualEoi((v) => this.eoiExitBitmap(c, v)).exited) this.count(code, 'vmexit-eoi');
          return next;
        }
        // APM Vol 2 15.29.3.1: AVIC accelerates EOI only for an edge-triggered vector; for a level-triggered one
        // (TMR set) it traps (AVIC_NOACCEL) and the hypervisor broadcasts the EOI to the I/O APIC.
        if (this.avic && m.apics[c].highestIsr() >= 0 && m.apics[c].tmr(m.apics[c].highestIsr())) this.count(code, 'vmexit-noaccel');
        if (m.apics[c].isX2apic()) m.wrmsr(c, X2APIC_MSR_BASE + (Reg.EOI >> 4), 0n);
        else m.apicWrite(c, Reg.EOI, 0);
        // Without virtual-interrupt delivery an EOI exits (APIC-access or MSR-write VM exit); KVM's apic_set_eoi
        // raises KVM_REQ_EVENT, so the threshold is set afresh before the vCPU goes on.
        if (this.tprShadow) this.reenter(c, true);
        return next;
      case 'rsm': {
        if (!cpu.rsm()) {
          this.fault(code, c, 'rsm outside SMM (#UD)');
          return next;
        }
        const f = this.popFrame(code);
        if (f.pc === PC_IDLE && cpu.activity() === Activity.ACTIVE) this.halt(c, cpu, code);
        return f.pc;
      }
      case 'iret': {
        const f = this.popFrame(code);
        cpu.iret(f.savedIf);
        if (f.pc === PC_IDLE) this.halt(c, cpu, code);
        return f.pc;
      }
      case 'end':
        if (op.main) this.s[this.w(code, P.FLAGS)] |= 1;
        this.halt(c, cpu, code);
        return PC_IDLE;
      case 'smbase': cpu.writeSaveStateSmbase(Number(this.evaluate(op.value, code, cpu) & 0xffffffffn)); return next;
      case 'vmxon':
        if (cpu.vmx() !== VmxMode.OFF) this.fault(code, c, 'vmxon in VMX operation');
        else cpu.setVmx(VmxMode.ROOT);
        return next;
      case 'vmxoff':
        // SDM Vol 3C 24.8: leaving VMX operation unblocks INIT; a latched INIT is then taken.
        if (cpu.vmx() !== VmxMode.ROOT) this.fault(code, c, 'vmxoff outside VMX root operation');
        else cpu.setVmx(VmxMode.OFF);
        return next;
      case 'vmentry': return this.vmEntry(op.mode, c, cpu, code, next);
      case 'wait': this.setWait(code, m.now() + op.ticks * this.program.test.settings.timerRatio); return next;
      case 'goto': return op.target;
      case 'if': return this.compare(this.getReg(code, cpu, op.reg), op.cmp, this.evaluate(op.value, code, cpu)) ? op.target : next;
      case 'ioapic-write': {
        const io = m.ioapic;
        if (io) io.writeRegister(op.reg.index, Number(this.evaluate(op.value, code, cpu) & 0xffffffffn));
        return next;
      }
      default:
        throw new SimError(`op ${op.kind} cannot run on a CPU`);
    }
  }

  /**
   * VM entry from an L1 exit handler (VMRESUME with a guest activity state). SDM Vol 3C 27.6.2 Activity State: the
   * guest may be entered in wait-for-SIPI when IA32_VMX_MISC reports it (not on AMD SVM, not under the
   * nestedNoGuestWfs quirk: the entry fails, a fault). `vmentry sipi` is L1 emulating the SIPI its exit reported:
   * the guest starts at its SIPI code with `sv` = the exit qualification.
   */
  private vmEntry(mode: 'resume' | 'wait-for-sipi' | 'sipi', c: number, cpu: Cpu, code: ProcCode, next: number): number {
    if (cpu.vmx() !== VmxMode.ROOT || this.topFrameKind(code) !== FRAME_VMEXIT) {
      this.fault(code, c, 'vmentry without a VM exit to return from');
      return next;
    }
    if (mode === 'wait-for-sipi' && (cpu.apic.vendor() === 'amd' || this.profile.quirks.nestedNoGuestWfs)) {
      this.fault(code, c, 'VM entry failed: wait-for-SIPI guest activity state not supported');
      return next;
    }
    const f = this.popFrame(code);
    cpu.setVmx(VmxMode.NON_ROOT);
    if (mode === 'wait-for-sipi') {
      cpu.setActivity(Activity.WAIT_FOR_SIPI);
      return NO_PC;
    }
    cpu.setActivity(Activity.ACTIVE);
    if (mode === 'sipi') {
      this.count(code, 'sipi');
      if (code.sipi >= 0) return code.sipi;
      cpu.hlt();
      return PC_IDLE;
    }
    if (f.pc === NO_PC) cpu.setActivity(Activity.WAIT_FOR_SIPI);
    return f.pc;
  }

  private compare(a: bigint, cmp: string, b: bigint): boolean {
    switch (cmp) {
      case '==': return a === b;
      case '!=': return a !== b;
      case '<': return a < b;
      case '>': return a > b;
      case '<=': return a <= b;
      default: return a >= b;
    }
  }

  /** Resolve a litmus destination to ICR fields. `Pk` is physical with Pk's current APIC ID. */
  private destination(d: Dest, _self: number): { shorthand: Shorthand; logical: boolean; destination: number } {
    switch (d.kind) {
      case 'cpu': {
        // Pk's APIC ID: its current one, or, for an empty slot, the one the slot's processor will have.
        const cpu = this.machine.cpus[d.cpu];
        const id = cpu.present() ? cpu.apic.id() : this.machine.config.apicIds[d.cpu];
        return { shorthand: Shorthand.NONE, logical: false, destination: id };
      }
      case 'phys': return { shorthand: Shorthand.NONE, logical: false, destination: d.id };
      case 'logical': return { shorthand: Shorthand.NONE, logical: true, destination: d.mask };
      case 'self': return { shorthand: Shorthand.SELF, logical: false, destination: 0 };
      case 'all': return { shorthand: Shorthand.ALL, logical: false, destination: 0 };
      case 'others': return { shorthand: Shorthand.OTHERS, logical: false, destination: 0 };
    }
  }

  /** `send`: the ICR write(s) a kernel would do (xAPIC: ICR_HI then ICR_LO as one step; x2APIC: one WRMSR). */
  private send(op: SendOp, c: number, code: ProcCode): void {
    const m = this.machine, apic = m.apics[c];
    const d = this.destination(op.dest, c);
    const level = op.level ?? 'assert', trigger = op.trigger ?? 'edge';
    const lo = (op.vector ?? 0) | (SEND_MODES.indexOf(op.mode) << Icr.DELIVERY_MODE_SHIFT) | (d.logical ? Icr.DEST_LOGICAL : 0)
      | (level === 'assert' ? Icr.LEVEL_ASSERT : 0) | (trigger === 'level' ? Icr.TRIGGER_LEVEL : 0) | (d.shorthand << Icr.SHORTHAND_SHIFT);
    if (apic.isX2apic()) {
      const r = m.wrmsr(c, X2APIC_MSR_BASE + (Reg.ICR_LO >> 4), (BigInt(d.destination >>> 0) << 32n) | BigInt(lo >>> 0));
      if (!r.ok) this.fault(code, c, 'wrmsr X2APIC_ICR');
    } else {
      m.apicWrite(c, Reg.ICR_HI, ((d.destination & 0xff) << 24) >>> 0);
      m.apicWrite(c, Reg.ICR_LO, lo);
    }
  }

  private agentStep(a: number): void {
    const code = this.program.agents[a], m = this.machine;
    const pc = this.pc(code), op = code.insns[pc], next = pc + 1;
    let to = next;
    switch (op.kind) {
      case 'store': this.setMem(op.loc, this.evaluate(op.value, code, null)); break;
      case 'load': this.setReg(code, op.reg, this.mem(op.loc)); break;
      case 'assign': this.setReg(code, op.reg, this.evaluate(op.value, code, null)); break;
      case 'await': case 'pause': case 'nop': break;
      case 'wait': this.setWait(code, m.now() + op.ticks * this.program.test.settings.timerRatio); break;
      case 'goto': to = op.target; break;
      case 'if': if (this.compare(this.getReg(code, null, op.reg), op.cmp, this.evaluate(op.value, code, null))) to = op.target; break;
      case 'signal': {
        const targets = op.target === 'all' ? m.cpus.map((c) => c.index) : [op.target];
        for (const t of targets) {
          if (op.signal === 'smi') m.smi(t);
          else if (op.signal === 'nmi') m.nmi(t);
          else m.init(t);
          if (this.vcpus) this.wakeIfPending(t);
        }
        break;
      }
      case 'irq': {
        if (!m.ioapic) throw new SimError('irq: config says ioapic = false');
        if (op.action === 'pulse') m.pulse(op.gsi);
        else m.irq(op.gsi, op.action === 'assert');
        break;
      }
      case 'msi': {
        const d = this.destination(op.dest, -1);
        const mode = ['fixed', 'lowest', 'smi', 'remote-read', 'nmi', 'init', 'sipi', 'extint'].indexOf(op.mode ?? 'fixed') as DeliveryMode;
        m.send(0, { vector: op.vector, mode, levelTriggered: false, assert: true, logical: d.logical, shorthand: d.shorthand, destination: d.destination, x2apic: m.apics.some((x) => x.isX2apic()) && d.destination > 0xff });
        break;
      }
      case 'preempt': {
        // The host scheduler takes the vCPU off its physical CPU: IsRunning clears (APM Vol 2 15.29.3.1); under
        // APICv, KVM suppresses notifications (vmx_vcpu_pi_put sets SN) and a notification not yet processed is
        // left as ON in the descriptor.
        const cc = this.program.cpus[op.cpu], v = this.w(cc, P.VCPU), pi = this.w(cc, P.PI_FLAGS);
        if (this.s[v] & VCPU_NOT_RUNNING || this.s[pi] & (PI_RESUME_1 | PI_RESUME_2)) break;
        this.s[v] |= VCPU_NOT_RUNNING;
        if (this.apicv) this.s[pi] = (this.s[pi] | PI_SN) & ~PI_NOTIFY;
        break;
      }
      case 'resume': {
        // A preempted vCPU runs again (under APICv through vcpu_load, apicvStep); a blocked one stays blocked
        // until something wakes it.
        const cc = this.program.cpus[op.cpu], v = this.w(cc, P.VCPU);
        if (this.s[v] & VCPU_BLOCKED || !(this.s[v] & VCPU_NOT_RUNNING)) break;
        if (this.apicv) this.s[this.w(cc, P.PI_FLAGS)] |= PI_RESUME_1;
        else this.s[v] &= ~VCPU_NOT_RUNNING;
        break;
      }
      case 'post': this.post(op.vector, op.cpu); break;
      case 'hotplug': {
        // An ACPI insert of a slot that holds a processor changes nothing (docs/litmus.md, decision D-22).
        if (m.cpus[op.cpu].present()) break;
        m.hotplug(op.cpu);
        this.setPc(this.program.cpus[op.cpu], NO_PC);
        break;
      }
      case 'unplug': {
        if (!m.cpus[op.cpu].present()) break; // ejecting an empty slot changes nothing (D-22)
        m.unplug(op.cpu);
        const cc = this.program.cpus[op.cpu];
        this.s.fill(0, this.w(cc, P.FLAGS), this.w(cc, P.FRAMES + 2 * MAX_DEPTH));
        this.setPc(cc, NO_PC);
        break;
      }
      case 'end': to = NO_PC; break;
      default: throw new SimError(`op ${op.kind} cannot run on an agent`);
    }
    this.setPc(code, to);
  }

  // ---------------------------------------------------------------- observables and the condition

  /** The value of an observable in the current state. */
  value(o: Observable): OutcomeValue {
    const m = this.machine;
    switch (o.kind) {
      case 'mem': return this.mem(o.name);
      case 'reg': return this.getReg(this.program.cpus[o.cpu], m.cpus[o.cpu], o.reg);
      case 'agent-reg': {
        const a = this.program.agentIndex.get(o.agent);
        return a === undefined ? 0n : this.getReg(this.program.agents[a], null, o.reg);
      }
      case 'activity': return ACTIVITY_NAMES[m.cpus[o.cpu].activity()];
      case 'smm': return m.cpus[o.cpu].inSmm() ? 1 : 0;
      case 'done': return (this.s[this.w(this.program.cpus[o.cpu], P.FLAGS)] & 1) as number;
      case 'faults': return this.s[this.w(this.program.cpus[o.cpu], P.FAULTS)];
      case 'smbase': return m.cpus[o.cpu].smbase();
      case 'apic-mode': return m.apics[o.cpu].mode();
      case 'count': {
        const code = this.program.cpus[o.cpu], slot = code.counts.get(o.of);
        return slot === undefined ? 0 : this.s[this.w(code, FIXED_WORDS + slot)];
      }
      case 'irr': return m.apics[o.cpu].irr(o.vector) ? 1 : 0;
      case 'isr': return m.apics[o.cpu].isr(o.vector) ? 1 : 0;
      case 'tmr': return m.apics[o.cpu].tmr(o.vector) ? 1 : 0;
      case 'apic-reg': return Math.max(m.apics[o.cpu].peek(o.reg.offset), 0);
      case 'remote-irr': return m.ioapic?.remoteIrr(o.pin) ? 1 : 0;
      case 'vmx': return VMX_MODE_NAMES[m.cpus[o.cpu].vmx()];
      case 'running': return this.s[this.w(this.program.cpus[o.cpu], P.VCPU)] & VCPU_NOT_RUNNING ? 0 : 1;
      case 'pir': return this.s[this.w(this.program.cpus[o.cpu], P.PIR + (o.vector >>> 5))] & (1 << (o.vector & 31)) ? 1 : 0;
      case 'vmexits': {
        const code = this.program.cpus[o.cpu], slot = code.counts.get(`vmexit-${o.of}`);
        return slot === undefined ? 0 : this.s[this.w(code, FIXED_WORDS + slot)];
      }
    }
  }

  holds(c: Cond): boolean {
    switch (c.kind) {
      case 'true': return true;
      case 'false': return false;
      case 'not': return !this.holds(c.arg);
      case 'and': return this.holds(c.left) && this.holds(c.right);
      case 'or': return this.holds(c.left) || this.holds(c.right);
      case 'cmp': {
        const eq = valueEquals(this.value(c.loc), c.value);
        return c.op === '=' ? eq : !eq;
      }
    }
  }

  /** The outcome key and values of the current (final) state. */
  outcome(): { key: string; values: Record<string, OutcomeValue> } {
    const values: Record<string, OutcomeValue> = {};
    const parts: string[] = [];
    for (const o of this.observables) {
      const name = observableName(o), v = this.value(o);
      values[name] = v;
      parts.push(`${name}=${formatValue(v)}`);
    }
    return { key: parts.join('; '), values };
  }
}

export function valueEquals(v: OutcomeValue, want: Value): boolean {
  if (want.kind === 'sym') return typeof v === 'string' && v === want.name;
  if (typeof v === 'string') return false;
  return BigInt(v) === want.value;
}

export function formatValue(v: OutcomeValue): string {
  if (typeof v === 'string') return v;
  const n = BigInt(v);
  return n > 9n ? `0x${n.toString(16)}` : n.toString();
}

function describeInsn(op: Insn): string {
  switch (op.kind) {
    case 'iret': return 'iret';
    case 'end': return op.main ? 'end of main block' : 'idle (hlt loop)';
    case 'goto': return 'goto';
    case 'if': return `if ${op.reg} ${op.cmp} ...`;
    case 'send': return `send ${op.mode}${op.vector !== null ? ` 0x${op.vector.toString(16)}` : ''} -> ${destName(op.dest)}`;
    case 'store': return `store ${op.loc}`;
    case 'load': return `load ${op.reg} = ${op.loc}`;
    case 'apic-write': return `apic write ${op.reg.name ?? `0x${op.reg.offset.toString(16)}`}`;
    case 'apic-read': return `apic read ${op.dst} = ${op.reg.name ?? `0x${op.reg.offset.toString(16)}`}`;
    case 'wrmsr': return `wrmsr ${op.msr.name ?? `0x${op.msr.index.toString(16)}`}`;
    case 'rdmsr': return `rdmsr ${op.dst} = ${op.msr.name ?? `0x${op.msr.index.toString(16)}`}`;
    case 'signal': return `${op.signal} -> ${op.target === 'all' ? 'all' : `P${op.target}`}`;
    case 'irq': return `irq ${op.gsi} ${op.action}`;
    case 'msi': return `msi -> ${destName(op.dest)} vector 0x${op.vector.toString(16)}`;
    case 'hotplug': case 'unplug': return `${op.kind} P${op.cpu}`;
    case 'wait': return `wait ${op.ticks}`;
    case 'await': return `await ${op.loc} ${op.cmp} ...`;
    case 'assign': return `${op.reg} = ...`;
    case 'ioapic-write': return `ioapic write ${op.reg.name ?? op.reg.index}`;
    default: return op.kind;
  }
}

function destName(d: Dest): string {
  switch (d.kind) {
    case 'cpu': return `P${d.cpu}`;
    case 'phys': return `phys 0x${d.id.toString(16)}`;
    case 'logical': return `logical 0x${d.mask.toString(16)}`;
    default: return d.kind;
  }
}

