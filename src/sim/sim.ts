// The litmus simulator: a compiled test running on the model's Machine (and, for vCPU tests, its hardware-assist
// layer), one scheduler step at a time. A step is one of: a CPU's next op or its taking of a pending event
// (whichever the architecture makes it do next), a platform agent's next op, the arrival of one in-flight message at
// its target, or the passing of virtual time to the next deadline. The explorer chooses among the enabled steps;
// every choice is a race a real machine could run. What each op does is its module's (src/litmus/ops); this class
// only schedules and is the ops' view of the machine (ExecCtx). The program counters, registers and handler frames
// are words.ts's: all simulator state lives in the machine's state array, so a state is one Uint32Array.

import { Reg } from '../arch/apic.js';
import { ACTIVITY_NAMES, Activity, VMX_MODE_NAMES, VmxMode } from '../arch/cpu.js';
import { EVENT_NAMES, EventKind, eventKind, eventVector, nextEvent, takeNext } from '../cpu/events.js';
import { F, type Cpu } from '../cpu/cpu.js';
import { A } from '../apic/layout.js';
import { MSR_IA32_TIME_STAMP_COUNTER } from '../cpu/msr.js';
import { Msg } from '../machine/bus.js';
import { cr8Read, physRead, physWrite, restoreApicBase, restoreLapic, saveLapic } from '../machine/platform.js';
import { DELIVERY_MODE_NAMES, DeliveryMode, MSR_IA32_TSC_DEADLINE } from '../arch/apic.js';
import type { Cond, Expr, LitmusTest, Observable, VmmEvent, VmmPart } from '../litmus/ast.js';
import { observableName } from '../litmus/format.js';
import { opDef } from '../litmus/ops/index.js';
import { FrameKind, type ExecCtx, type OpOf } from '../litmus/ops/types.js';
import { formatValue, holds, outcomeColumns, outcomeKey, valueEquals, type OutcomeValue } from '../litmus/outcome.js';
import { applyInit } from './init.js';
import { SimWords } from './words.js';
import { SimError, StepKind, TIME_STEP, UnsupportedError, step, stepIndex, stepKind } from './steps.js';
import { FIXED_WORDS, MAX_DEPTH, NO_PC, P, PC_IDLE, PC_IRET, PC_RSM, PC_SHUTDOWN, observablesOf, type CountKey, type Insn, type ProcCode, type Program } from './program.js';
import { DEFAULT_PROFILE, type Profile } from './profile.js';
import { put, putFill } from '../arch/writes.js';

export { formatValue, valueEquals, type OutcomeValue };

export { StepKind, TIME_STEP, stepIndex, stepKind, SimError, UnsupportedError };

/** A process's next step, as `enabled` needs it (Simulator.cpuEnabled, agentEnabled): none, the assist's work, an
 *  event (or window exit), an op, or an op that is a `pause` (it does not hold time back). */
const enum CpuNext { NONE, WORK, EVENT, OP, PAUSE }

/** The VM-execution controls for window exits: with neither set there is no window exit (Cpu.windowExitDue), and the
 *  hot paths do not call to ask. */
const WINDOW_CONTROLS = F.INTR_WINDOW | F.NMI_WINDOW;

export class Simulator extends SimWords implements ExecCtx {
  readonly observables: Observable[];

  constructor(test: LitmusTest | Program, profile: Profile = DEFAULT_PROFILE) {
    super(test, profile);
    this.observables = outcomeColumns(observablesOf(this.program.test));
    this.vcpus = this.assist.vcpus;
    this.relativeTime = !this.program.cpus.some((code) => code.insns.some((op) => op.kind === 'rdtsc' ||
      ((op.kind === 'rdmsr' || op.kind === 'wrmsr') && (op.msr.index === MSR_IA32_TSC_DEADLINE || op.msr.index === MSR_IA32_TIME_STAMP_COUNTER))));
    this.reset();
  }

  /**
   * Whether states may be compared with absolute time factored out (Machine.relativeHash): true unless the test
   * reads the TSC or uses IA32_TSC_DEADLINE, whose values are absolute times.
   */
  readonly relativeTime: boolean;
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

  /** A process's wait words in `copy` (laid out as the state) relative to now, as hash() has them. */
  relativeWait(copy: Uint32Array, code: ProcCode, now: number): void {
    const at = this.w(code, P.WAIT_LO);
    const t = this.waitUntil(code), left = t > now ? t - now : 0;
    copy[at] = left >>> 0;
    copy[at + 1] = Math.floor(left / 0x100000000);
    if (left === 0) copy[this.w(code, P.WAIT_DEPTH)] = 0;
  }

  // ---------------------------------------------------------------- ExecCtx: the running process's view

  /** The running agent's index, or -1 (a CPU): its name in traces (`P1`, `D0`) is built only by `trace`. */
  private agent = -1;
  private enter(code: ProcCode, c: number, cpu: Cpu | null, agent = -1): void {
    this.cur = code;
    this.agent = agent;
    this.c = c;
    this.cpu = cpu;
    this.pc = this.pcOf(code);
  }
  eval(e: Expr): bigint {
    return this.evaluate(e, this.cur, this.cpu);
  }
  reg(name: string): bigint {
    return this.getReg(this.cur, this.cpu, name);
  }
  setReg(name: string, v: bigint): void {
    this.setRegOf(this.cur, name, v);
  }
  fault(what: string): void {
    put(this.s, this.w(this.cur, P.FAULTS), this.s[this.w(this.cur, P.FAULTS)] + 1);
    this.traceSink?.(`P${this.c} #GP: ${what}`);
  }
  trace(line: string): void {
    this.traceSink?.(`${this.agent >= 0 ? `D${this.agentName(this.agent)}` : `P${this.c}`} ${line}`);
  }
  wait(ticks: number): void {
    this.setWait(this.cur, this.machine.now() + ticks * this.program.test.settings.timerRatio);
  }
  halt(): void {
    this.assist.hlt(this.c);
  }
  apicWrite(offset: number, value: number): void {
    this.assist.apicWrite(this.c, offset, value);
  }
  apicRead(offset: number): number {
    return this.assist.apicRead(this.c, offset);
  }
  wrmsr(msr: number, value: bigint): boolean {
    return this.assist.wrmsr(this.c, msr, value);
  }
  rdmsr(msr: number): bigint | null {
    return this.assist.rdmsr(this.c, msr);
  }
  eoi(): void {
    this.assist.eoi(this.c);
  }
  icrWrite(lo: number, destination: number): void {
    if (!this.assist.icrWrite(this.c, lo, destination)) this.fault('wrmsr X2APIC_ICR');
  }
  signal(kind: 'smi' | 'nmi' | 'init', target: number): void {
    this.assist.signal(kind, target);
  }
  hotplug(target: number): void {
    // An ACPI insert of a slot that holds a processor, or an eject of an empty one, changes nothing (D-22).
    if (this.machine.cpus[target].present()) return;
    this.machine.hotplug(target);
    this.setPc(this.program.cpus[target], NO_PC);
  }
  unplug(target: number): void {
    if (!this.machine.cpus[target].present()) return;
    this.machine.unplug(target);
    const cc = this.program.cpus[target];
    putFill(this.s, 0, this.w(cc, P.FLAGS), this.w(cc, P.FRAMES + 2 * MAX_DEPTH));
    this.assist.reset(target);
    this.setPc(cc, NO_PC);
  }
  preempt(target: number): void {
    this.assist.preempt(target);
  }
  resume(target: number): void {
    this.assist.resume(target);
  }
  post(vector: number, target: number): void {
    this.assist.post(vector, target);
  }
  observe(o: Observable): OutcomeValue {
    return this.value(o);
  }
  cr8Write(value: bigint): boolean {
    return this.assist.cr8Write(this.c, value);
  }
  cr8Read(): number {
    return cr8Read(this.machine, this.c);
  }
  physRead(address: number): number {
    const a = this.machine.apics[this.c];
    return a.decodesMmio(address) ? this.assist.apicRead(this.c, address - a.mmioBase()) : physRead(this.machine, this.c, address);
  }
  physWrite(address: number, value: number): void {
    const a = this.machine.apics[this.c];
    if (a.decodesMmio(address)) this.assist.apicWrite(this.c, address - a.mmioBase(), value);
    else physWrite(this.machine, this.c, address, value);
  }
  /** RESET# of CPU `target`: the processor starts over (Cpu.reset); its program does too, as after INIT (the BSP
   *  halts at the reset vector, an AP waits for a SIPI), with its handler frames gone. */
  resetPin(target: number): void {
    const m = this.machine, cpu = m.cpus[target], code = this.program.cpus[target];
    if (!cpu.present()) return;
    m.reset(target);
    putFill(this.s, 0, this.w(code, P.DEPTH), this.w(code, P.FRAMES + 2 * MAX_DEPTH));
    this.setWait(code, 0);
    if (cpu.activity() === Activity.ACTIVE) {
      cpu.hlt();
      this.setPc(code, PC_IDLE);
    } else this.setPc(code, NO_PC);
    this.assist.kick(target);
  }
  lint(target: number, pin: 0 | 1, asserted: boolean): void {
    this.machine.setLint(target, pin, asserted);
    this.assist.kick(target);
  }
  picInput(irq: number, high: boolean): void {
    this.machine.picInput(irq, high);
    for (let c = 0; c < this.machine.cpus.length; c++) this.assist.kick(c);
  }
  private vmmSlot(target: number): Uint32Array {
    const at = this.base + this.program.vmmBase + target * A.WORDS;
    return this.s.subarray(at, at + A.WORDS);
  }
  vmmSave(target: number): void {
    // Saved apart and then put word by word: a write through the slot's view would bypass the write log.
    const saved = (this.vmmScratch ??= new Uint32Array(A.WORDS)), at = this.base + this.program.vmmBase + target * A.WORDS;
    saveLapic(this.machine, target, saved);
    for (let i = 0; i < A.WORDS; i++) put(this.s, at + i, saved[i]);
  }
  private vmmScratch: Uint32Array | undefined;
  vmmRestore(target: number, part: VmmPart): void {
    const slot = this.vmmSlot(target);
    if (part === 'lapic') restoreLapic(this.machine, target, slot);
    else restoreApicBase(this.machine, target, (BigInt(slot[A.BASE_HI]) << 32n) | BigInt(slot[A.BASE_LO]));
    this.assist.kick(target);
  }
  vmmEvent(target: number, event: VmmEvent, on: boolean): void {
    this.machine.cpus[target].setEvent(event, on);
    this.assist.kick(target);
  }
  readonly shutdownPc = PC_SHUTDOWN;
  /**
   * VM entry from an L1 exit handler (VMRESUME with a guest activity state). SDM Vol 3C 27.6.2: HLT, or
   * wait-for-SIPI if IA32_VMX_MISC reports it (under nestedNoGuestWfs the 27.3.1.5 guest-state check fails it, 27.8: a
   * VM exit, reason 33 | bit 31, to L1, which has no handler for it here and idles). AMD SVM has no guest activity
   * state: a fault. `vmentry sipi` is L1 emulating the SIPI its exit reported: the guest starts at its SIPI code, `sv` = the
   * vector. The window-exiting controls hold for the guest until the exit they cause (SDM Vol 3C 26.2); RVI is the
   * virtual APIC's IRR (decision D-20), so a requested vector above VPPR is delivered as the guest runs (SDM Vol 3C
   * 30.2.1 Evaluation of Pending Virtual Interrupts).
   */
  vmEntry(mode: OpOf<'vmentry'>['mode'], controls: { intrWindow: boolean; nmiWindow: boolean; rvi: number | null }): number {
    const cpu = this.cpu!, code = this.cur, next = this.pc + 1;
    if (cpu.vmx() !== VmxMode.ROOT || this.topFrame() !== FrameKind.VMEXIT) {
      this.fault('vmentry without a VM exit to return from');
      return next;
    }
    if ((mode === 'wait-for-sipi' || mode === 'hlt') && cpu.apic.vendor() === 'amd') {
      this.fault(`VMRUN has no ${mode} guest state (SVM)`);
      return next;
    }
    if (mode === 'wait-for-sipi' && this.quirks.nestedNoGuestWfs) {
      this.count(code, 'vmexit-entry-failure');
      this.traceSink?.(`P${this.c} VM entry failed (invalid guest state: activity state wait-for-SIPI not in IA32_VMX_MISC; quirk nestedNoGuestWfs), exit reason 0x80000021: L1 idles`);
      cpu.hlt();
      return PC_IDLE;
    }
    const f = this.popFrame();
    cpu.setVmx(VmxMode.NON_ROOT);
    cpu.setWindowExiting(controls.intrWindow, controls.nmiWindow);
    if (controls.rvi !== null) {
      const a = cpu.apic, w = A.IRR + (controls.rvi >>> 5);
      a.setWord(w, a.word(w) | (1 << (controls.rvi & 31)));
    }
    if (mode === 'hlt') {
      cpu.hlt();
      return f.pc === NO_PC ? PC_IDLE : f.pc;
    }
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

  // ---------------------------------------------------------------- the initial state

  /**
   * The initial state (docs/litmus.md, "Initial state"): a CPU with a main block starts active as an OS would
   * leave it (APIC software-enabled with spurious vector 0xFF, IF = 1); one without starts in wait-for-SIPI in its
   * INIT state. `init` items then apply in order.
   */
  reset(): void {
    const m = this.machine;
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
    for (const it of this.program.test.init?.items ?? []) {
      applyInit(this.machine, it, {
        setMem: (name, v) => this.setMem(name, v),
        setReg: (cpu, name, v) => this.setRegOf(this.program.cpus[cpu], name, v),
        setPc: (cpu, at) => {
          const code = this.program.cpus[cpu];
          if (at === 'none') this.setPc(code, NO_PC);
          else if (at === 'shutdown') this.setPc(code, PC_SHUTDOWN);
          else if (this.pcOf(code) === NO_PC) this.setPc(code, code.main >= 0 ? code.main : PC_IDLE);
        },
        unsupported: (what) => {
          throw new UnsupportedError(`init: ${what} is not available under profile ${this.profile.name}`);
        },
      });
    }
  }

  // ---------------------------------------------------------------- enabled steps

  /**
   * The CPU's next step, if it has one: the assist's work, a pending event it must take (or a window VM exit), or
   * its next op (a `pause` or not). Which of them, so that `enabled` need not ask the event ladder or the op again.
   */
  private cpuEnabled(c: number): CpuNext {
    const cpu = this.machine.cpus[c];
    if (!cpu.present()) return CpuNext.NONE;
    if (this.vcpus) {
      const next = this.assist.next(c);
      if (next !== 'guest') return next === 'work' ? CpuNext.WORK : CpuNext.NONE;
    }
    if (nextEvent(cpu) !== EventKind.NONE || (cpu.has(WINDOW_CONTROLS) && this.windowExit(cpu) !== null)) return CpuNext.EVENT;
    if (cpu.activity() !== Activity.ACTIVE) return CpuNext.NONE;
    const code = this.program.cpus[c];
    const pc = this.pcOf(code);
    if (pc === NO_PC) return CpuNext.NONE;
    return this.opEnabled(pc, code, c, cpu) ? this.pausesAt(code, pc) ? CpuNext.PAUSE : CpuNext.OP : CpuNext.NONE;
  }

  private opEnabled(pc: number, code: ProcCode, c: number, cpu: Cpu | null): boolean {
    if (this.waiting(code)) return false;
    // The op's kind is read only for the two ops without a def: ops of every kind pass here, so the read is slow.
    const def = code.defs[pc];
    if (def === null) {
      const op = code.insns[pc];
      return op.kind === 'end' ? op.main !== false || cpu !== null : true;
    }
    if (!def.enabled) return true;
    this.enter(code, c, cpu);
    return def.enabled(code.insns[pc] as never, this);
  }

  /** Agent a's next op, if it is enabled (OP, or PAUSE for a `pause`), else NONE. */
  private agentEnabled(a: number): CpuNext {
    const code = this.program.agents[a];
    const pc = this.pcOf(code);
    if (pc === NO_PC) return CpuNext.NONE;
    if (code.defs[pc] === null && code.insns[pc].kind === 'end') return CpuNext.NONE;
    return this.opEnabled(pc, code, -1, null) ? this.pausesAt(code, pc) ? CpuNext.PAUSE : CpuNext.OP : CpuNext.NONE;
  }

  /** Whether a process's next op is a `pause` (it does not hold time back). */
  pausing(code: ProcCode): boolean {
    const pc = this.pcOf(code);
    return pc !== NO_PC && this.pausesAt(code, pc);
  }

  /** Whether the op at pc is a `pause`. */
  private pausesAt(code: ProcCode, pc: number): boolean {
    const p = code.defs[pc]?.pauses;
    return p === true || (typeof p === 'function' && p(code.insns[pc] as never));
  }

  /** Fill `out` with every enabled step. Time passes only when nothing but `pause` steps are enabled. */
  enabled(out: number[]): void {
    // Emptied by pops: an array set to length 0 loses its backing store in V8, and the next push allocates one.
    while (out.length > 0) out.pop();
    let holdsTime = false;
    const m = this.machine;
    for (let c = 0; c < this.program.cpus.length; c++) {
      const next = this.cpuEnabled(c);
      if (next === CpuNext.NONE) continue;
      out.push(step(StepKind.CPU, c));
      // Time waits for an event (or a window exit) to be taken, and for any step but a `pause` (the assist's work:
      // unless its CPU's next op is one).
      if (next === CpuNext.EVENT || next === CpuNext.OP || (next === CpuNext.WORK && (this.eventDue(c) || !this.pausing(this.program.cpus[c])))) holdsTime = true;
    }
    for (let a = 0; a < this.program.agents.length; a++) {
      const next = this.agentEnabled(a);
      if (next === CpuNext.NONE) continue;
      out.push(step(StepKind.AGENT, a));
      if (next === CpuNext.OP) holdsTime = true;
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
    // Loops, not a closure over `t`: `enabled` asks this for most states, and a closure would be allocated each time.
    let t = this.machine.nextDeadline();
    const cpus = this.program.cpus, agents = this.program.agents;
    for (let i = 0; i < cpus.length; i++) {
      const w = this.waitUntil(cpus[i]);
      if (w > now && w < t) t = w;
    }
    for (let i = 0; i < agents.length; i++) {
      const w = this.waitUntil(agents[i]);
      if (w > now && w < t) t = w;
    }
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
        for (let c = 0; c < this.program.cpus.length; c++) if (this.waiting(this.program.cpus[c])) this.machine.cpus[c].instructionsRun();
        this.assist.advanceTo(t);
        return;
      }
    }
  }

  /** A one-line description of a step, before it is taken. */
  describe(s: number): string {
    switch (stepKind(s)) {
      case StepKind.CPU: {
        const c = stepIndex(s), cpu = this.machine.cpus[c];
        if (this.vcpus && this.assist.next(c) === 'work') return this.assist.describeWork(c);
        const window = this.windowExit(cpu);
        if (window !== null) return `P${c} VM exit (${window}-window)`;
        const ev = nextEvent(cpu);
        if (ev !== EventKind.NONE) return `P${c} takes ${ev === EventKind.INTR ? 'interrupt' : EVENT_NAMES[ev]}`;
        const code = this.program.cpus[c];
        return `P${c} ${describeInsn(code.insns[this.pcOf(code)])}`;
      }
      case StepKind.AGENT: {
        const code = this.program.agents[stepIndex(s)];
        return `D${this.agentName(stepIndex(s))} ${describeInsn(code.insns[this.pcOf(code)])}`;
      }
      case StepKind.DELIVER: {
        const w = this.machine.bus.record(stepIndex(s));
        const src = Msg.source(w), mode = Msg.mode(w);
        const v = mode === DeliveryMode.FIXED || mode === DeliveryMode.LOWEST || mode === DeliveryMode.STARTUP ? ` 0x${Msg.vector(w).toString(16)}` : '';
        return `bus: ${DELIVERY_MODE_NAMES[mode]}${v} from ${src === 0 ? 'platform' : `P${src - 1}`} arrives at P${Msg.target(w)}`;
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
    const m = this.machine;
    const w = m.bus.record(i);
    const t = Msg.target(w), cpu = m.cpus[t];
    const before = cpu.activity(), vmxBefore = cpu.vmx();
    m.deliver(i);
    if (vmxBefore === VmxMode.NON_ROOT && cpu.vmx() === VmxMode.ROOT) {
      // SDM Vol 3C 26.2 Other Causes of VM Exits: the SIPI to a guest in wait-for-SIPI was a VM exit.
      const code = this.program.cpus[t];
      this.vmExit(t, code, this.pcOf(code), 'vmexit-sipi', code.vmexitSipi);
    } else if (before === Activity.WAIT_FOR_SIPI && cpu.activity() === Activity.ACTIVE && Msg.mode(w) === DeliveryMode.STARTUP) {
      this.startAtSipi(cpu, this.program.cpus[t]);
    }
    // With a hardware assist, messages on the bus are the hypervisor's emulated path: it kicks the target.
    this.assist.delivered(t);
  }

  /** A SIPI started the CPU: its SIPI code runs from a clean handler stack (or it idles without one). */
  private startAtSipi(cpu: Cpu, code: ProcCode): void {
    put(this.s, this.w(code, P.DEPTH), 0);
    this.setWait(code, 0);
    this.count(code, 'sipi');
    this.setPc(code, code.sipi >= 0 ? code.sipi : PC_IDLE);
    if (code.sipi < 0) cpu.hlt();
  }

  /** A VM exit to the L1 hypervisor: the guest's PC is kept in a frame, and L1's handler (or idle loop) runs. */
  private vmExit(c: number, code: ProcCode, guestPc: number, kind: `vmexit-${'init' | 'sipi' | 'intr-window' | 'nmi-window'}`, handler: number): void {
    this.pushFrame(code, guestPc, false, FrameKind.VMEXIT);
    this.count(code, kind);
    this.setPc(code, handler >= 0 ? handler : PC_IDLE);
    if (handler < 0) this.machine.cpus[c].hlt();
    this.traceSink?.(`P${c} ${kind}: L1 handler${handler < 0 ? ' (none: L1 idles)' : ''}`);
  }

  private cpuStep(c: number): void {
    const cpu = this.machine.cpus[c], code = this.program.cpus[c];
    if (this.vcpus && this.assist.next(c) === 'work') return this.assist.work(c);
    const window = cpu.has(WINDOW_CONTROLS) ? this.windowExit(cpu) : null;
    if (window !== null) {
      // The exit clears its control, as L1's handler would before its next entry (docs/litmus.md).
      cpu.setWindowExiting(window === 'nmi' ? cpu.has(F.INTR_WINDOW) : false, window === 'intr' ? cpu.has(F.NMI_WINDOW) : false);
      cpu.setVmx(VmxMode.ROOT);
      const pc = this.pcOf(code);
      cpu.setActivity(Activity.ACTIVE);
      return this.vmExit(c, code, pc, `vmexit-${window}-window`, window === 'nmi' ? code.vmexitNmiWindow : code.vmexitIntrWindow);
    }
    const event = nextEvent(cpu);
    if (event !== EventKind.NONE) return this.takeEvent(c, cpu, code, event);
    cpu.beginInstruction();
    this.enter(code, c, cpu);
    this.setPc(code, this.execInsn(code.insns[this.pc]));
  }

  /** Run one instruction of the current process; returns its next PC. */
  private execInsn(op: Insn): number {
    const def = this.cur.defs[this.pc];
    if (def !== null) return def.exec(op as never, this);
    switch (op.kind) {
      case 'iret': {
        const f = this.popFrame();
        this.cpu!.iret(f.savedIf);
        if (f.pc === PC_IDLE) this.halt();
        return f.pc;
      }
      case 'end':
        if (this.cpu === null) return NO_PC;
        if (op.main) put(this.s, this.w(this.cur, P.FLAGS), this.s[this.w(this.cur, P.FLAGS)] | 1);
        this.halt();
        return PC_IDLE;
      default:
        throw new Error(`op ${op.kind} has no def (program.ts builds one for every op but end and iret)`);
    }
  }

  /** CPU c's next step takes an event or a window VM exit, not its next op. */
  eventDue(c: number): boolean {
    const cpu = this.machine.cpus[c];
    return nextEvent(cpu) !== EventKind.NONE || this.windowExit(cpu) !== null;
  }

  /**
   * The window VM exit the CPU takes at this boundary, if any: SMI and INIT come first, then the NMI-window exit, the
   * NMI, the interrupt-window exit, and external interrupts (SDM Vol 3C 26.2 and Vol 3A 7.9 Table 7-2).
   */
  private windowExit(cpu: Cpu): 'nmi' | 'intr' | null {
    const w = cpu.windowExitDue();
    if (w === null) return null;
    const ev = nextEvent(cpu);
    if (ev === EventKind.SMI || ev === EventKind.INIT || ev === EventKind.INIT_VMEXIT || ev === EventKind.SIPI_DISCARD) return null;
    return w === 'intr' && ev === EventKind.NMI ? null : w;
  }

  /** CPU c takes `event`, which nextEvent has just named. */
  private takeEvent(c: number, cpu: Cpu, code: ProcCode, event: EventKind): void {
    const pc = this.pcOf(code);
    const ifBefore = cpu.interruptsEnabled();
    // Where the event is taken (`Pn.in-shadow(...)`): inside an STI or MOV SS shadow.
    const shadow = code.counts.size > 0 && cpu.has(F.STI_SHADOW | F.MOVSS_SHADOW);
    const taken = takeNext(cpu, event);
    const kind = eventKind(taken), vector = eventVector(taken);
    if (shadow) this.count(code, kind === EventKind.SMI ? 'shadow-smi' : kind === EventKind.NMI ? 'shadow-nmi' : `shadow-${vector}`);
    switch (kind) {
      case EventKind.SMI:
        this.pushFrame(code, pc, false, FrameKind.SMM);
        this.count(code, 'smi');
        this.setPc(code, code.smi >= 0 ? code.smi : PC_RSM);
        return;
      case EventKind.INIT:
        putFill(this.s, 0, this.w(code, P.DEPTH), this.w(code, P.FRAMES + 2 * MAX_DEPTH));
        this.setWait(code, 0);
        // The BSP goes to the reset vector, where a litmus test has no code: it halts there with IF = 0
        // (docs/litmus.md, "Running"); an AP waits for a SIPI.
        if (cpu.activity() === Activity.ACTIVE && !cpu.apic.isBsp()) {
          // An AP active right after INIT was started by a SIPI kept behind it (Cpu.receiveSipi).
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
        this.pushFrame(code, pc, ifBefore, FrameKind.NMI);
        cpu.setIf(false);
        this.count(code, 'nmi');
        this.setPc(code, code.nmi >= 0 ? code.nmi : PC_IRET);
        this.traceSink?.(`P${c} nmi: enter handler`);
        return;
      case EventKind.SIPI_DISCARD: return; // Cpu.discardHeldSipi traced it
      case EventKind.EXTINT:
      case EventKind.INTR: {
        this.pushFrame(code, pc, ifBefore, FrameKind.INTR);
        cpu.setIf(false);
        this.count(code, vector);
        const h = code.vectors.get(vector);
        this.setPc(code, h ?? PC_IRET);
        this.traceSink?.(`P${c} interrupt: vector 0x${vector.toString(16)}${h === undefined ? ' (no handler: IRET)' : ''}`);
        this.assist.interruptTaken(c);
        return;
      }
    }
  }

  private agentStep(a: number): void {
    const code = this.program.agents[a];
    this.enter(code, -1, null, a);
    this.setPc(code, this.execInsn(code.insns[this.pc]));
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
      case 'count': return this.counted(o.cpu, o.of);
      case 'irr': return m.apics[o.cpu].irr(o.vector) ? 1 : 0;
      case 'isr': return m.apics[o.cpu].isr(o.vector) ? 1 : 0;
      case 'tmr': return m.apics[o.cpu].tmr(o.vector) ? 1 : 0;
      case 'apic-reg': return Math.max(m.apics[o.cpu].peek(o.reg.offset), 0);
      case 'remote-irr': return m.ioapic?.remoteIrr(o.pin) ? 1 : 0;
      case 'vmx': return VMX_MODE_NAMES[m.cpus[o.cpu].vmx()];
      case 'running': return this.assist.isRunning(o.cpu) ? 1 : 0;
      case 'pir': return this.assist.pir(o.cpu, o.vector) ? 1 : 0;
      case 'vmexits': return this.counted(o.cpu, `vmexit-${o.of}`);
      case 'gif': return m.cpus[o.cpu].gif() ? 1 : 0;
      case 'in-shadow': return this.counted(o.cpu, `shadow-${o.of}`);
    }
  }

  private counted(cpu: number, key: CountKey): number | string {
    const n = this.rawCount(cpu, key), cap = this.program.countCap;
    return n >= cap ? `>=${cap}` : n;
  }
  private rawCount(cpu: number, key: CountKey): number {
    const code = this.program.cpus[cpu], slot = code.counts.get(key);
    return slot === undefined ? 0 : this.s[this.w(code, FIXED_WORDS + slot)];
  }

  /** A count that stopped at the cap reads as the cap here: above every constant the condition compares it with
   *  (program.ts countCap), so `=`, `<`, `>=` ... answer as for the real count. */
  holds(c: Cond): boolean {
    return holds(c, (o) => {
      if (o.kind === 'count') return this.rawCount(o.cpu, o.of);
      if (o.kind === 'vmexits') return this.rawCount(o.cpu, `vmexit-${o.of}`);
      if (o.kind === 'in-shadow') return this.rawCount(o.cpu, `shadow-${o.of}`);
      return this.value(o);
    });
  }

  /** The outcome key and values of the current (final) state. */
  outcome(): { key: string; values: Record<string, OutcomeValue> } {
    const values: Record<string, OutcomeValue> = {};
    const names: string[] = [];
    for (const o of this.observables) {
      const name = observableName(o);
      values[name] = this.value(o);
      names.push(name);
    }
    return { key: outcomeKey(values, names), values };
  }
}

function describeInsn(op: Insn): string {
  switch (op.kind) {
    case 'iret': return 'iret';
    case 'end': return op.main ? 'end of main block' : 'idle (hlt loop)';
    default: return opDef(op).describe(op as never);
  }
}
