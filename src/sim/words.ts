// The simulator's part of the machine state (src/sim/program.ts lays it out): each process's program counter,
// registers, counters, wait and handler frames, and the test's memory words, in the machine's Uint32Array after the
// hardware-assist layer's words; and the machine and assist layer the test's settings and profile ask for. The
// Simulator (sim.ts) schedules on top of these.

import type { VmexitKind } from '../arch/assist.js';
import type { Quirks } from '../arch/quirks.js';
import { Assist } from '../assist/assist.js';
import type { Cpu } from '../cpu/cpu.js';
import { Machine, type TraceEvent } from '../machine/machine.js';
import type { Expr, LitmusTest } from '../litmus/ast.js';
import { FrameKind } from '../litmus/ops/types.js';
import { arith } from '../litmus/outcome.js';
import { SimError } from './steps.js';
import { FIXED_WORDS, MAX_DEPTH, P, PC_IDLE, compile, type CountKey, type ProcCode, type Program } from './program.js';
import { DEFAULT_PROFILE, type Profile } from './profile.js';
import { put } from '../arch/writes.js';
import { get64n, set64n } from '../apic/layout.js';

export class SimWords {
  readonly machine: Machine;
  /** The hypervisor and hardware-assist layer the CPUs run under (a pass-through for plain CPUs). */
  readonly assist: Assist;
  readonly program: Program;
  readonly quirks: Readonly<Quirks>;
  protected readonly s: Uint32Array;
  protected readonly base: number;
  protected traceSink: ((line: string) => void) | null = null;

  /** The process whose op runs (ExecCtx). */
  c = -1;
  cpu: Cpu | null = null;
  pc = 0;
  protected cur!: ProcCode;
  readonly idlePc = PC_IDLE;

  constructor(test: LitmusTest | Program, readonly profile: Profile = DEFAULT_PROFILE) {
    this.program = 'blocks' in test ? compile(test) : test;
    const st = this.program.test.settings;
    if (st.accel === 'avic' && st.cpus > 32) throw new SimError('accel = avic: at most 32 CPUs');
    const assistWords = Assist.words(st.cpus, st.accel);
    this.machine = new Machine({
      cpus: st.cpus, vendor: st.vendor, x2apic: st.x2apic, tscDeadline: st.tscDeadline, ioapic: st.ioapic,
      ioapicVersion: st.ioapicVersion, pic: st.pic, ...(st.apicIds ? { apicIds: st.apicIds } : {}),
      timerRatio: st.timerRatio, delivery: 'queued', extraWords: assistWords + this.program.words, quirks: profile.quirks,
      pendingInitSipi: st.accel !== 'none', virtualInterruptDelivery: st.accel === 'apicv',
      ...profile.settings,
      busCapacity: Math.max(64, 8 * st.cpus),
      onTrace: (e: TraceEvent) => this.traceSink?.(`${e.cpu >= 0 ? `P${e.cpu}` : 'platform'} ${e.text}`),
    });
    // Trace text is built only inside `traced`.
    this.machine.setTracing(false);
    this.quirks = this.machine.quirks;
    this.assist = new Assist(this.machine, this.machine.extraBase, {
      accel: st.accel, ipiv: st.ipiv,
      onExit: (c, kind) => this.countExit(c, kind),
      onTrace: (c, text) => this.traceSink?.(`P${c} ${text}`),
    });
    this.s = this.machine.state;
    this.base = this.machine.extraBase + assistWords;
  }

  /** Lines describing what the model does, while `fn` runs (for witness traces). */
  traced<T>(sink: (line: string) => void, fn: () => T): T {
    this.traceSink = sink;
    this.machine.setTracing(true);
    try {
      return fn();
    } finally {
      this.traceSink = null;
      this.machine.setTracing(false);
    }
  }

  // ---------------------------------------------------------------- state words

  /** Where word `off` (P) of a process's simulator words is in the state. */
  w(code: ProcCode, off: number): number {
    return this.base + code.base + off;
  }
  /** A process's program counter. */
  pcOf(code: ProcCode): number {
    return this.s[this.w(code, P.PC)];
  }
  protected setPc(code: ProcCode, pc: number): void {
    put(this.s, this.w(code, P.PC), pc >>> 0);
  }
  regAt(code: ProcCode, name: string): number {
    const slot = code.regs.get(name);
    if (slot === undefined) throw new SimError(`register ${name} has no slot`);
    return this.w(code, FIXED_WORDS + code.counts.size + 2 * slot);
  }
  protected getReg(code: ProcCode, cpu: Cpu | null, name: string): bigint {
    if (name === 'sv') return BigInt(cpu?.sipiVector() ?? 0);
    return get64n(this.s, this.regAt(code, name));
  }
  /** Register rK of process `code` (the initial state's `init` sets them too). */
  setRegOf(code: ProcCode, name: string, v: bigint): void {
    set64n(this.s, this.regAt(code, name), v);
  }
  memAt(name: string): number {
    const slot = this.program.memory.get(name);
    if (slot === undefined) throw new SimError(`memory word ${name} has no slot`);
    return this.base + this.program.memoryBase + 2 * slot;
  }
  mem(name: string): bigint {
    return get64n(this.s, this.memAt(name));
  }
  setMem(name: string, v: bigint): void {
    set64n(this.s, this.memAt(name), v);
  }
  /** Counters stop at the program's countCap and read `>=cap` there (src/sim/program.ts). */
  protected count(code: ProcCode, key: CountKey): void {
    const slot = code.counts.get(key);
    if (slot === undefined) return;
    const at = this.w(code, FIXED_WORDS + slot);
    if (this.s[at] < this.program.countCap) put(this.s, at, this.s[at] + 1);
  }
  protected countExit(c: number, kind: VmexitKind): void {
    this.count(this.program.cpus[c], `vmexit-${kind}`);
  }
  protected waitUntil(code: ProcCode): number {
    const at = this.w(code, P.WAIT_LO);
    return this.s[at + 1] * 0x100000000 + this.s[at];
  }
  protected setWait(code: ProcCode, t: number): void {
    const at = this.w(code, P.WAIT_LO);
    put(this.s, at, t >>> 0);
    put(this.s, at + 1, Math.floor(t / 0x100000000));
    put(this.s, this.w(code, P.WAIT_DEPTH), this.s[this.w(code, P.DEPTH)]);
  }
  /** A `wait` is in force at the current handler depth and its time has not come. */
  waiting(code: ProcCode): boolean {
    const t = this.waitUntil(code);
    if (t === 0) return false;
    if (this.s[this.w(code, P.WAIT_DEPTH)] !== this.s[this.w(code, P.DEPTH)]) return false;
    return t > this.machine.now();
  }

  protected evaluate(e: Expr, code: ProcCode, cpu: Cpu | null): bigint {
    switch (e.kind) {
      case 'num': return e.value;
      case 'reg': return this.getReg(code, cpu, e.reg);
      case 'bin': return arith(e.op, this.evaluate(e.left, code, cpu), this.evaluate(e.right, code, cpu));
    }
  }

  // ---------------------------------------------------------------- handler frames

  topFrame(): FrameKind {
    const d = this.s[this.w(this.cur, P.DEPTH)];
    return d === 0 ? FrameKind.NONE : ((this.s[this.w(this.cur, P.FRAMES + 2 * (d - 1)) + 1] >>> 1) as FrameKind);
  }
  popFrame(): { pc: number; savedIf: boolean } {
    const code = this.cur, d = this.s[this.w(code, P.DEPTH)] - 1;
    if (d < 0) throw new SimError('return from a handler with no frame');
    const at = this.w(code, P.FRAMES + 2 * d);
    const r = { pc: this.s[at], savedIf: (this.s[at + 1] & 1) !== 0 };
    put(this.s, at, 0);
    put(this.s, at + 1, 0);
    put(this.s, this.w(code, P.DEPTH), d);
    return r;
  }
  protected pushFrame(code: ProcCode, returnPc: number, savedIf: boolean, kind: FrameKind): void {
    const d = this.s[this.w(code, P.DEPTH)];
    if (d >= MAX_DEPTH) throw new SimError(`handlers nested deeper than ${MAX_DEPTH}`);
    const at = this.w(code, P.FRAMES + 2 * d);
    put(this.s, at, returnPc >>> 0);
    put(this.s, at + 1, (savedIf ? 1 : 0) | (kind << 1));
    put(this.s, this.w(code, P.DEPTH), d + 1);
  }
}
