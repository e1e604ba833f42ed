// Partial-order reduction: stubborn sets over processes (Valmari), so that at each state the explorer follows
// only the steps of a set of processes that no step outside the set can interfere with. Stubborn sets preserve
// every final (terminal) state; with the cycle proviso in explore.ts they also keep cycles with no way out.
//
// Processes are the CPUs, the platform agents, and the in-flight message channels (source, target) (messages of
// one channel arrive in order, decision D-11). Each step has a footprint over shared objects: a memory word, a
// CPU's whole state (`cpu:c`: everything that decides its next step), its addressing configuration (`cfg:c`: APIC
// ID, LDR, DFR, mode, presence, read when a message is addressed), its ICR delivery status (`stat:c`), and the
// I/O APIC. Each process also has a static "future" footprint: everything any of its code could touch, including
// the CPUs its messages may reach. A set T is closed when, for each enabled step in T, every process whose future
// conflicts with that step is in T, and for each disabled process in T, every process that could enable it is.
// Time cannot pass while T holds an enabled instantaneous step that nothing outside T can disable, so processes
// that only time can enable need no enabler (docs/explorer.md).

import type { Insn, ProcCode } from '../sim/program.js';
import { NO_PC } from '../sim/program.js';
import { StepKind, stepIndex, stepKind, type Simulator } from '../sim/sim.js';
import { Activity, DEFAULT_SMBASE } from '../arch/cpu.js';
import { EventKind, nextEvent } from '../cpu/events.js';
import { Msg } from '../machine/bus.js';
import { Reg } from '../arch/apic.js';
import type { Dest, Expr, Settings } from '../litmus/ast.js';
import { opDef } from '../litmus/ops/index.js';
import type { FootprintCtx } from '../litmus/ops/types.js';

class Bits {
  constructor(readonly w: Uint32Array) {}
  static of(n: number): Bits {
    return new Bits(new Uint32Array((n + 31) >>> 5));
  }
  set(i: number): void {
    this.w[i >>> 5] |= 1 << (i & 31);
  }
  has(i: number): boolean {
    return (this.w[i >>> 5] & (1 << (i & 31))) !== 0;
  }
  or(o: Bits): void {
    for (let i = 0; i < this.w.length; i++) this.w[i] |= o.w[i];
  }
  meets(o: Bits): boolean {
    for (let i = 0; i < this.w.length; i++) if ((this.w[i] & o.w[i]) !== 0) return true;
    return false;
  }
  clear(): void {
    this.w.fill(0);
  }
}

interface Footprint {
  r: Bits;
  w: Bits;
}

function conflict(a: Footprint, b: Footprint): boolean {
  return a.w.meets(b.w) || a.w.meets(b.r) || a.r.meets(b.w);
}

export class Reducer {
  private readonly n: number;
  private readonly nMem: number;
  private readonly objects: number;
  private readonly cpuFuture: Footprint[];
  /** Per CPU, the other CPUs that may be in SMM with its SMBASE at the same time (D-26). */
  readonly sharers: readonly number[][];
  /** Whether a CPU may answer another's APIC ID (idsMayAlias). */
  private readonly idsMayAlias: boolean;
  /** An agent is never interrupted: its future is the code reachable from its PC. */
  private readonly agentFutureAt: Footprint[][];
  private readonly cur: Footprint;
  private readonly tmp: Footprint;
  private readonly procs: number;
  private readonly inT: Uint8Array;
  private readonly work: number[] = [];
  /** Per process: its enabled step in the current state, or -1. */
  private readonly stepOf: Int32Array;

  constructor(private readonly sim: Simulator) {
    const p = sim.program;
    this.n = p.cpus.length;
    this.nMem = p.memory.size;
    this.objects = this.nMem + 4 * this.n + 1;
    // Decision D-26: CPUs in SMM with one SMBASE share their state-save map, so a CPU's SMM entry and its handler's
    // save-state writes may write every CPU that may be in SMM with the same SMBASE.
    this.sharers = saveMapSharers(sim, this.n);
    this.idsMayAlias = idsMayAlias(sim);
    this.cpuFuture = p.cpus.map((code, c) => this.future(code, c));
    this.cpuFuture.forEach((f, c) => {
      for (const d of this.sharers[c]) f.w.set(this.cpuObj(d));
    });
    this.agentFutureAt = p.agents.map((code) => this.futuresByPc(code));
    this.cur = this.fp();
    this.tmp = this.fp();
    // CPUs, agents, then channels (source 0..n, target 0..n-1).
    this.procs = this.n + p.agents.length + (this.n + 1) * this.n;
    this.inT = new Uint8Array(this.procs);
    this.stepOf = new Int32Array(this.procs);
  }

  private fp(): Footprint {
    return { r: Bits.of(this.objects), w: Bits.of(this.objects) };
  }
  private cpuObj(c: number): number {
    return this.nMem + c;
  }
  private cfgObj(c: number): number {
    return this.nMem + this.n + c;
  }
  private statObj(c: number): number {
    return this.nMem + 2 * this.n + c;
  }
  private ioapicObj(): number {
    return this.nMem + 3 * this.n;
  }
  /** Logical addressing (LDR, DFR): INIT resets it. */
  private lcfgObj(c: number): number {
    return this.nMem + 3 * this.n + 1 + c;
  }
  /** A message that may reach every CPU: when it arrives it changes the CPU, and INIT its logical addressing. */
  private allCpus(f: Footprint): void {
    for (let c = 0; c < this.n; c++) {
      f.w.set(this.cpuObj(c));
      f.w.set(this.lcfgObj(c));
    }
  }

  /** Everything a process's code could touch, whenever it runs (handlers included). */
  private future(code: ProcCode, c: number): Footprint {
    const f = this.fp();
    if (c >= 0) {
      f.w.set(this.cpuObj(c));
      f.w.set(this.lcfgObj(c));
    }
    for (const op of code.insns) this.opFootprint(op, c, f, true);
    return f;
  }

  /** For each PC, the footprint of every instruction reachable from it. */
  private futuresByPc(code: ProcCode): Footprint[] {
    const out: Footprint[] = [];
    for (let pc = 0; pc < code.insns.length; pc++) {
      const f = this.fp(), seen = new Set<number>(), todo = [pc];
      while (todo.length > 0) {
        const i = todo.pop()!;
        if (seen.has(i) || i >= code.insns.length) continue;
        seen.add(i);
        const op = code.insns[i];
        this.opFootprint(op, -1, f, true);
        if (op.kind === 'end') continue;
        if (op.kind === 'goto') todo.push(op.target);
        else {
          if (op.kind === 'if') todo.push(op.target);
          todo.push(i + 1);
        }
      }
      out.push(f);
    }
    return out;
  }

  /** Targets a destination may reach: one CPU, or all (`Pk` is Pk's APIC ID when sent: another CPU may share it). */
  private destCpu(d: Dest): number {
    return d.kind === 'cpu' && !this.idsMayAlias ? d.cpu : -1;
  }

  /**
   * Addressing a message reads the targets' configuration (decision D-10): physical addressing their APIC ID,
   * mode and presence (`cfg`), logical addressing also LDR and DFR (`lcfg`), lowest priority their priorities
   * (`cpu`). Its arrival, later, writes the target.
   */
  private addDest(d: Dest, f: Footprint, future: boolean, lowest: boolean): void {
    const k = this.destCpu(d);
    const logical = d.kind === 'logical';
    for (let c = 0; c < this.n; c++) {
      if (k >= 0 && c !== k) continue;
      f.r.set(this.cfgObj(c));
      if (logical) f.r.set(this.lcfgObj(c));
      if (lowest) f.r.set(this.cpuObj(c));
      if (future) {
        f.w.set(this.cpuObj(c));
        f.w.set(this.lcfgObj(c));
      }
    }
  }

  /** Add one op's footprint (its module's). `future`: include the effects of the messages it sends when they arrive. */
  private opFootprint(op: Insn, c: number, f: Footprint, future: boolean): void {
    if (op.kind === 'end' || op.kind === 'iret') return;
    const x = this.fx;
    x.c = c;
    x.future = future;
    x.f = f;
    opDef(op).footprint(op as never, x);
  }

  private readonly fx = new Fx(this);

  get settings(): Settings {
    return this.sim.program.test.settings;
  }
  writeCpuConfigAndLogical(f: Footprint, c: number): void {
    f.w.set(this.cfgObj(c));
    f.w.set(this.lcfgObj(c));
  }

  /** The footprint objects as an op module names them (FootprintCtx). */
  mem(name: string): number {
    return this.sim.program.memory.get(name)!;
  }
  /** A CPU's whole state and its logical addressing, which INIT resets. */
  writeCpu(f: Footprint, c: number): void {
    f.w.set(this.cpuObj(c));
    f.w.set(this.lcfgObj(c));
  }
  writeCfg(f: Footprint, c: number): void {
    f.w.set(this.cfgObj(c));
  }
  writeStatus(f: Footprint, c: number): void {
    f.w.set(this.statObj(c));
  }
  writeIoapic(f: Footprint): void {
    f.w.set(this.ioapicObj());
  }
  readCpu(f: Footprint, c: number): void {
    f.r.set(this.cpuObj(c));
  }
  readIoapic(f: Footprint): void {
    f.r.set(this.ioapicObj());
  }
  writeAllCpus(f: Footprint): void {
    this.allCpus(f);
  }
  dest(f: Footprint, d: Dest, future: boolean, lowest: boolean): void {
    this.addDest(d, f, future, lowest);
  }

  /** What could enable a disabled op (its module's `waitsFor`, as reads in `need`); false if nothing can. */
  private waitsFor(op: Insn, c: number, need: Footprint): boolean {
    if (op.kind === 'end' || op.kind === 'iret') return false;
    const def = opDef(op);
    if (!def.waitsFor) return false;
    const x = this.fx;
    x.c = c;
    x.future = false;
    x.f = need;
    def.waitsFor(op as never, x);
    return true;
  }

  private channelOf(w: number): number {
    return this.n + this.sim.program.agents.length + Msg.source(w) * this.n + Msg.target(w);
  }

  /**
   * The footprint of an enabled step in the live state, as bit sets over the objects (reads, writes), leaving out
   * the I/O APIC: for relabel.ts, which reorders runs of tests whose I/O APIC nothing uses.
   */
  footprintOf(step: number): { r: Uint32Array; w: Uint32Array } {
    this.current(-1, step);
    const r = this.cur.r.w.slice(), w = this.cur.w.w.slice(), io = this.ioapicObj();
    r[io >>> 5] &= ~(1 << (io & 31));
    w[io >>> 5] &= ~(1 << (io & 31));
    return { r, w };
  }

  /** The footprint of process p's enabled step (into this.cur). */
  private current(p: number, step: number): void {
    const f = this.cur;
    f.r.clear();
    f.w.clear();
    const sim = this.sim;
    switch (stepKind(step)) {
      case StepKind.CPU: {
        const c = stepIndex(step);
        f.w.set(this.cpuObj(c));
        if (sim.vcpus && sim.assist.next(c) === 'work') {
          // The assist's own step: an AVIC IPI's IsRunning check or exit handler reads and wakes its targets (within
          // the sender's static future: its sends' destinations); APICv's steps touch only this vCPU.
          if (sim.assist.accel === 'avic') this.allCpus(f);
          return;
        }
        if (sim.eventDue(c)) {
          f.w.set(this.lcfgObj(c)); // INIT resets LDR and DFR
          if (nextEvent(sim.machine.cpus[c]) === EventKind.SMI) for (const d of this.sharers[c]) f.w.set(this.cpuObj(d)); // the shared save map (D-26)
          // An ExtINT's acknowledge reaches the 8259A, whose INT drives every LINT0 and I/O APIC pin 0.
          if (this.settings.pic) {
            this.allCpus(f);
            f.w.set(this.ioapicObj());
          }
          return;
        }
        const code = sim.program.cpus[c];
        this.opFootprint(code.insns[sim.pcOf(code)], c, f, false);
        return;
      }
      case StepKind.AGENT: {
        const code = sim.program.agents[stepIndex(step)];
        this.opFootprint(code.insns[sim.pcOf(code)], -1, f, false);
        return;
      }
      case StepKind.DELIVER: {
        const w = sim.machine.bus.record(stepIndex(step));
        this.channelFootprint(w, f);
        return;
      }
      default:
        void p;
        this.allCpus(f);
    }
  }

  /**
   * An arrival changes its target, and may end its sender's "send pending" status. Arrivals commute with each
   * other; only a read of the ICR observes the status, so the roles are swapped for `stat`: an arrival "reads"
   * it and an ICR read "writes" it, which makes exactly those two conflict.
   */
  private channelFootprint(w: number, f: Footprint): void {
    f.w.set(this.cpuObj(Msg.target(w)));
    f.w.set(this.lcfgObj(Msg.target(w)));
    const src = Msg.source(w);
    if (src > 0) f.r.set(this.statObj(src - 1));
  }

  private futureOf(p: number): Footprint | null {
    const n = this.n, a = this.sim.program.agents.length;
    if (p < n) return this.cpuFuture[p];
    if (p < n + a) {
      const code = this.sim.program.agents[p - n];
      const pc = this.sim.pcOf(code);
      return pc === NO_PC ? null : this.agentFutureAt[p - n][pc];
    }
    return this.channelLive[p] ? this.channelFutures[p] : null;
  }
  private channelLive = new Uint8Array(0);
  private channelFutures: Footprint[] = [];

  /**
   * Reduce `enabled` (every enabled step) to a stubborn subset, written to `out`. Returns false when no
   * reduction applies (out = enabled), or when `expired` says time is up before one is found.
   */
  reduce(enabled: readonly number[], out: number[], expired?: () => boolean): boolean {
    // Emptied by pops: an array set to length 0 loses its backing store (sim.enabled).
    while (out.length > 0) out.pop();
    if (enabled.length <= 1) {
      out.push(...enabled);
      return false;
    }
    const sim = this.sim, n = this.n, nAgents = sim.program.agents.length;
    this.stepOf.fill(-1);
    if (this.channelLive.length !== this.procs) {
      this.channelLive = new Uint8Array(this.procs);
      this.channelFutures = Array.from({ length: this.procs }, () => this.fp());
    }
    this.channelLive.fill(0);
    const bus = sim.machine.bus;
    for (let i = 0; i < bus.count(); i++) {
      const w = bus.record(i), ch = this.channelOf(w);
      if (!this.channelLive[ch]) {
        this.channelLive[ch] = 1;
        const f = this.channelFutures[ch];
        f.r.clear();
        f.w.clear();
        this.channelFootprint(w, f);
      }
    }
    const seeds: number[] = [];
    for (const s of enabled) {
      let p: number;
      switch (stepKind(s)) {
        case StepKind.CPU: p = stepIndex(s); break;
        case StepKind.AGENT: p = n + stepIndex(s); break;
        case StepKind.DELIVER: p = this.channelOf(bus.record(stepIndex(s))); break;
        default:
          out.push(...enabled);
          return false; // time passing: every process takes part
      }
      this.stepOf[p] = s;
      if (!this.isPause(s)) seeds.push(p);
    }
    if (seeds.length === 0) {
      out.push(...enabled);
      return false;
    }
    let best: number[] | null = null;
    for (const seed of seeds) {
      if (expired?.()) break;
      const t = this.closure(seed, n, nAgents, best ? best.length : enabled.length);
      if (t && (!best || t.length < best.length)) {
        best = t;
        if (best.length === 1) break;
      }
    }
    if (!best || best.length >= enabled.length) {
      out.push(...enabled);
      return false;
    }
    for (const s of enabled) {
      const p = this.procOfStep(s, n);
      if (best.includes(p)) out.push(s);
    }
    return true;
  }

  private procOfStep(s: number, n: number): number {
    switch (stepKind(s)) {
      case StepKind.CPU: return stepIndex(s);
      case StepKind.AGENT: return n + stepIndex(s);
      default: return this.channelOf(this.sim.machine.bus.record(stepIndex(s)));
    }
  }

  private isPause(s: number): boolean {
    const k = stepKind(s), sim = this.sim;
    if (k === StepKind.CPU) {
      const c = stepIndex(s);
      if (sim.eventDue(c)) return false;
      const code = sim.program.cpus[c];
      return sim.pausing(code);
    }
    if (k === StepKind.AGENT) return sim.pausing(sim.program.agents[stepIndex(s)]);
    return false;
  }

  /** The closed set from `seed` as a list of processes with an enabled step, or null if it reaches `limit`. */
  private closure(seed: number, n: number, nAgents: number, limit: number): number[] | null {
    const inT = this.inT;
    inT.fill(0);
    const work = this.work;
    while (work.length > 0) work.pop();
    inT[seed] = 1;
    work.push(seed);
    const enabledMembers: number[] = [];
    while (work.length > 0) {
      const p = work.pop()!;
      const s = this.stepOf[p];
      if (s >= 0) {
        enabledMembers.push(p);
        if (enabledMembers.length >= limit) return null;
        this.current(p, s);
        for (let r = 0; r < this.procs; r++) {
          if (inT[r]) continue;
          const g = this.futureOf(r);
          if (g && conflict(this.cur, g)) {
            inT[r] = 1;
            work.push(r);
          }
        }
      } else {
        // Disabled: add what could enable it. Time needs no enabler (it cannot pass while T holds an
        // enabled instantaneous step), so a process waiting only for time adds nothing.
        const need = this.tmp;
        need.r.clear();
        need.w.clear();
        if (!this.enablers(p, n, nAgents, need)) continue;
        for (let r = 0; r < this.procs; r++) {
          if (inT[r]) continue;
          const g = this.futureOf(r);
          if (g && g.w.meets(need.r)) {
            inT[r] = 1;
            work.push(r);
          }
        }
      }
    }
    return enabledMembers;
  }

  /** The objects whose change could enable disabled process p (as reads in `need`); false if none. */
  private enablers(p: number, n: number, nAgents: number, need: Footprint): boolean {
    const sim = this.sim;
    if (p < n) {
      const cpu = sim.machine.cpus[p], code = sim.program.cpus[p];
      need.r.set(this.cpuObj(p));
      if (cpu.activity() === Activity.ACTIVE) {
        const pc = sim.pcOf(code);
        if (pc !== NO_PC && !sim.waiting(code)) this.waitsFor(code.insns[pc], p, need);
      }
      return true;
    }
    if (p < n + nAgents) {
      const code = sim.program.agents[p - n];
      const pc = sim.pcOf(code);
      if (pc === NO_PC || sim.waiting(code)) return false;
      return this.waitsFor(code.insns[pc], -1, need);
    }
    return false; // a channel with records always has an eligible one
  }
}

/** The reducer as an op's footprint sees it: objects named by what they stand for. */
class Fx implements FootprintCtx {
  c = -1;
  future = false;
  f!: Footprint;
  constructor(private readonly r: Reducer) {}
  get settings(): Settings {
    return this.r.settings;
  }
  readMem(name: string): void {
    this.f.r.set(this.r.mem(name));
  }
  writeMem(name: string): void {
    this.f.w.set(this.r.mem(name));
  }
  writeOwnConfig(): void {
    if (this.c >= 0) this.r.writeCpuConfigAndLogical(this.f, this.c);
  }
  readOwnStatus(): void {
    if (this.c >= 0) this.r.writeStatus(this.f, this.c);
  }
  dest(d: Dest, lowest: boolean, now = false): void {
    this.r.dest(this.f, d, this.future || now, lowest);
  }
  writeCpu(cpu: number): void {
    this.r.writeCpu(this.f, cpu);
  }
  writeAllCpus(): void {
    this.r.writeAllCpus(this.f);
  }
  writeSaveMap(): void {
    if (this.c >= 0) for (const d of this.r.sharers[this.c]) this.r.writeCpu(this.f, d);
  }
  writeIoapic(): void {
    this.r.writeIoapic(this.f);
  }
  writeCpuConfig(cpu: number): void {
    this.r.writeCfg(this.f, cpu);
  }
  readCpu(cpu: number): void {
    this.r.readCpu(this.f, cpu);
  }
  readIoapic(): void {
    this.r.readIoapic(this.f);
  }
}

/**
 * Whether a message addressed to `Pk` may also reach another CPU: one whose APIC ID may become Pk's (a write of the
 * xAPIC ID register, through its name or MMIO at any base; a VMM's restore of a saved APIC; an `init` of the ID),
 * or an initial ID an 8-bit xAPIC destination cannot tell apart (0xFF, the broadcast; one above 0xFF).
 */
function idsMayAlias(sim: Simulator): boolean {
  const p = sim.program, ids = p.test.settings.apicIds;
  if (ids !== null && ids.some((id) => id >= 0xff)) return true;
  if ((p.test.init?.items ?? []).some((it) => it.kind === 'apic-reg' && it.reg.offset === Reg.ID)) return true;
  return [...p.cpus, ...p.agents].some((code) => code.insns.some((op) =>
    (op.kind === 'apic-write' && op.reg.offset === Reg.ID) || (op.kind === 'mmio-write' && (op.addr & 0xff0) === Reg.ID)
    || (op.kind === 'vmm-restore' && op.part === 'lapic')));
}

/**
 * For each CPU, the other CPUs that may share its SMRAM state-save map: both may take an SMI (an `smi ->` pin, a late
 * or lost one, an SMI IPI or MSI, a VMM's pending SMI, or an LVT or redirection entry that may hold the SMI delivery
 * mode: then any CPU) and their SMBASEs may be equal. A CPU's possible SMBASEs are its initial one (init, else
 * 0x30000, which hot-plug and RESET restore), the constants its handlers write to the SMBASE field, under quirk
 * smbaseAligned32K each as RSM loads it when the CPU may take a second SMI, and those of every CPU it may share a map
 * with; a computed value may be anything.
 */
export function saveMapSharers(sim: Simulator, n: number): number[][] {
  const p = sim.program;
  const any = new Array<boolean>(n).fill(false);
  const values = Array.from({ length: n }, () => new Set<number>());
  const init = new Map<number, number>();
  for (const it of p.test.init?.items ?? []) if (it.kind === 'smbase') init.set(it.cpu, Number(it.value));
  for (let c = 0; c < n; c++) values[c].add(init.get(c) ?? DEFAULT_SMBASE);
  // Delivery mode 010b (SMI) in bits 10:8 of an LVT entry, a redirection entry's low word or an MSI's data.
  const smiMode = (v: bigint): boolean => ((v >> 8n) & 7n) === 2n;
  const mayRouteSmi = (e: Expr): boolean => e.kind !== 'num' || smiMode(e.value);
  const initRoutesSmi = (p.test.init?.items ?? []).some((it) => (it.kind === 'apic-reg' && smiMode(it.value)) || (it.kind === 'ioapic-entry' && it.entry.mode === 'smi'));
  p.cpus.forEach((code, c) => {
    for (const op of code.insns) {
      const v = op.kind === 'smbase' ? op.value : op.kind === 'smram-write' && op.field === 'SMBASE' ? op.value : null;
      if (v === null) continue;
      if (v.kind === 'num') values[c].add(Number(v.value));
      else any[c] = true;
    }
  });
  // SMIs each CPU may take, up to 2: an agent without a backward jump runs each op once; a CPU's code may run again
  // (handlers, SIPIs), and so may a looping agent's.
  const smis = new Array<number>(n).fill(initRoutesSmi ? 2 : 0); // an LVT or redirection entry may fire again
  for (const code of [...p.cpus, ...p.agents]) {
    const once = p.agents.includes(code) && !code.insns.some((op, pc) => (op.kind === 'goto' || op.kind === 'if') && op.target <= pc);
    const take = (c: number): void => void (smis[c] = Math.min(2, smis[c] + (once ? 1 : 2)));
    const all = (but = -1): void => {
      for (let c = 0; c < n; c++) if (c !== but) take(c);
    };
    for (const op of code.insns) {
      if (op.kind === 'signal' && op.signal === 'smi') {
        if (op.target === 'all') all();
        else take(op.target);
      } else if (op.kind === 'smi-missed') {
        if (op.how === 'late') take(op.cpu);
        else all(op.cpu);
      } else if (op.kind === 'send' && op.mode === 'smi') {
        if (op.dest.kind === 'cpu') take(op.dest.cpu);
        else all();
      } else if (op.kind === 'msi' && op.mode === 'smi') {
        if (op.dest.kind === 'cpu') take(op.dest.cpu);
        else all();
      } else if (op.kind === 'vmm-event' && op.event === 'smi-pending' && op.value === 1) take(op.cpu);
      else if ((op.kind === 'apic-write' || op.kind === 'wrmsr' || op.kind === 'ioapic-write' || op.kind === 'mmio-write') && mayRouteSmi(op.value)) all();
      else if (op.kind === 'hotplug' || op.kind === 'reset') values[op.cpu].add(DEFAULT_SMBASE);
    }
  }
  const targets = new Set(smis.flatMap((k, c) => (k > 0 ? [c] : [])));
  // Quirk smbaseAligned32K: RSM loads the SMBASE field & ~0x7fff, so two SMBASEs in one 32 KiB tile may meet at a
  // CPU's next SMI (in a group below: at any member's).
  const align = (c: number): void => {
    if (sim.quirks.smbaseAligned32K && smis[c] > 1) for (const x of [...values[c]]) values[c].add((x & ~0x7fff) >>> 0);
  };
  for (let c = 0; c < n; c++) align(c);
  const t = [...targets];
  const group = Array.from({ length: n }, (_, c) => c);
  const find = (c: number): number => (group[c] === c ? c : (group[c] = find(group[c])));
  for (let changed = true; changed;) {
    changed = false;
    for (const c of t) {
      for (const d of t) {
        const a = find(c), b = find(d);
        if (a === b || !(any[a] || any[b] || [...values[a]].some((v) => values[b].has(v)))) continue;
        group[b] = a;
        for (const v of values[b]) values[a].add(v);
        any[a] ||= any[b];
        smis[a] = Math.max(smis[a], smis[b]);
        align(a);
        changed = true;
      }
    }
  }
  return Array.from({ length: n }, (_, c) => (targets.has(c) ? t.filter((d) => d !== c && find(d) === find(c)) : []));
}
