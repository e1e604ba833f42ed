// The guest compiler's analysis: what of a litmus test a real machine can run with the guest runtime, and what
// the guest must set up for it (CPU kinds, SIPI pages, SMBASEs, I/O APIC pins, the timer scaling). Each op's own
// part is its module's `analyze` (src/litmus/ops); the rest is here. What cannot run is a CompileRefusal with a
// category (typed data); the plan goes to emit.ts.

import type { Block, CpuBlock, Dest, InitItem, LitmusTest, Observable, Op, Pos } from '../litmus/ast.js';
import { observableName, printInitItem, printOp } from '../litmus/print.js';
import { opDef } from '../litmus/ops/index.js';
import { asmIdent } from '../litmus/ops/asm.js';
import { deliveryMode, Reg } from '../arch/apic.js';
import type { AnalyzeCtx, GuestNeeds, GuestTargets, RefsCtx, RefusalCategory } from '../litmus/ops/types.js';
import { outcomeColumns } from '../litmus/outcome.js';
import { allObservables, forEachOp } from '../litmus/validate.js';
import { abi } from './guest-abi.js';
import { checkTimer } from './timer-plan.js';
import { accelRefusalReason, compiledAccel, NestedPlan } from './nested.js';

/** A construct of the test that the compiler will not run on a real machine, and why. */
export class CompileRefusal extends Error {
  override name = 'CompileRefusal';
  constructor(
    /** What is refused: an op, an observable, an init item, a config key (as written in the test). */
    readonly construct: string,
    readonly reason: string,
    readonly pos: Pos | null = null,
    /** The backend this refusal is for (null: every backend). */
    readonly backend: string | null = null,
    readonly category: RefusalCategory = 'other',
  ) {
    super(`${pos ? `line ${pos.line}: ` : ''}${construct}: ${reason}`);
  }
}

export const KIND = { MAIN: abi('LIT_KIND_MAIN'), IDLE: abi('LIT_KIND_IDLE'), WFS: abi('LIT_KIND_WFS'), PARK: abi('LIT_KIND_PARK'), UNPLUGGED: abi('LIT_KIND_UNPLUGGED') } as const;
export const FLAG = { MAIN: abi('LIT_F_MAIN'), SIPI: abi('LIT_F_SIPI'), WFSABLE: abi('LIT_F_WFSABLE') } as const;

/** APIC registers an `init` item may set by writing them (the others the model sets directly). */
const INIT_WRITABLE: ReadonlySet<number> = new Set([Reg.ID, Reg.TPR, Reg.LDR, Reg.DFR, Reg.SVR, Reg.LVT_CMCI, Reg.LVT_TIMER, Reg.LVT_THERMAL, Reg.LVT_PMC, Reg.LVT_LINT0, Reg.LVT_LINT1, Reg.LVT_ERROR, Reg.TIMER_DCR]);
const MAX_GUEST_CPUS = 64;
/** The tiles the runtime gives each CPU when SMIs reach several CPUs. */
/** A CPU's SMRAM as the runtime uses it: the entry at SMBASE + 0x8000 (a few dozen bytes, 0x100 reserved), the
 *  save-state map at SMBASE + 0xFE00 .. SMBASE + 0xFFFF (SDM Vol 3C 34.4.1; AMD APM Vol 2 10.2.3). */
const SMM_ENTRY = [0x8000, 0x8100];
const SMM_SAVE = [0xfe00, 0x10000];
/** Free low memory an SMBASE may use (below the EBDA; above the stage-2 load buffer). */
const SMBASE_MIN = 0x20000;
const SMBASE_MAX_END = 0x9f000;
const WFS_SMI = 'an SMI there is held or lost (CONFORMANCE.md F5)';

/** A process of the guest: a test CPU, or the spare CPU that plays an agent. */
export interface Proc {
  /** Index in lit_regs: CPUs first, then agents. */
  index: number;
  /** APIC ID of the CPU that runs it. */
  apicId: number;
  name: string;
  agent: boolean;
}

/** Everything emission needs, decided by the analysis. */
export interface GuestPlan {
  test: LitmusTest;
  cpus: number;
  agents: { agent: number; block: Block }[];
  spares: number;
  procs: Map<string, Proc>;
  kinds: number[];
  flags: number[];
  /** Memory word -> NASM label, in layout order; init values. */
  memLabels: Map<string, string>;
  memInit: Map<string, bigint>;
  /** lit_regs slot (process * 32 + k) -> init value. */
  regInit: Map<number, bigint>;
  sipiPages: Set<number>;
  smbaseValues: Set<number>;
  smbaseSetup: Map<number, number>;
  smbaseObserved: Set<number>;
  ioapicInit: { pin: number; lo: number; hi: number }[];
  ioapicPins: Set<number>;
  irqLines: Set<number>;
  needs: GuestNeeds;
  /** The test arms the APIC timer (scaled ticks). */
  timer: boolean;
  /** The test's VMX/SVM constructs, which the guest's own L1 runs. */
  nested: NestedPlan;
  /** Microseconds of the test's waits, and per tick. */
  waitUs: number;
  waitPerTick: number;
  observables: Observable[];
}

export class Analyzer {
  private readonly n: number;
  readonly plan: GuestPlan;
  private readonly smiTargets = new Set<number>();
  private smbaseOps = false;
  private readonly smbaseInit = new Map<number, number>();

  constructor(private readonly test: LitmusTest, waitPerTick: number) {
    this.n = test.settings.cpus;
    const agents = test.blocks
      .filter((b) => b.kind === 'agent')
      .map((b) => ({ agent: (b as { agent: number }).agent, block: b }))
      .sort((a, b) => a.agent - b.agent);
    const procs = new Map<string, Proc>();
    for (let c = 0; c < this.n; c++) procs.set(`P${c}`, { index: c, apicId: c, name: `P${c}`, agent: false });
    agents.forEach((a, i) => procs.set(`D${a.agent}`, { index: this.n + i, apicId: this.n + i, name: `D${a.agent}`, agent: true }));
    this.plan = {
      test, cpus: this.n, agents, spares: Math.max(1, agents.length), procs, kinds: [], flags: [],
      memLabels: new Map(), memInit: new Map(), regInit: new Map(), sipiPages: new Set(), smbaseValues: new Set(),
      smbaseSetup: new Map(), smbaseObserved: new Set(), ioapicInit: [], ioapicPins: new Set(), irqLines: new Set(),
      needs: { smm: false, smiToP0: false, x2apic: false, nmi: false, irqLines: false, msi: false, tscDeadlineMode: false, nested: null, ioapic: false,
        ioapicVersion: test.config?.entries.some((e) => e.key === 'ioapic-version') ?? false, timerTiming: null, hotplug: false },
      timer: false, waitUs: 0, waitPerTick, observables: outcomeColumns(allObservables(test)),
      nested: new NestedPlan(test, (construct, reason, pos, category) => this.refuse(construct, reason, pos ?? null, category ?? 'nested-vmx')),
    };
  }

  refuse(construct: string, reason: string, pos: Pos | null, category: RefusalCategory): never {
    throw new CompileRefusal(construct, reason, pos, null, category);
  }

  private cpuBlocks(c: number): CpuBlock[] {
    return this.test.blocks.filter((b): b is CpuBlock => b.kind === 'cpu' && b.cpu === c);
  }

  private block(c: number, h: CpuBlock['handler']): CpuBlock | undefined {
    return this.cpuBlocks(c).find((b) => b.handler === h);
  }

  analyze(): GuestPlan {
    const t = this.test;
    if (!compiledAccel(t.settings.accel)) this.refuse(`config accel = ${t.settings.accel}`, accelRefusalReason(t.settings.accel), null, 'vcpu-assist');
    const ids = t.settings.apicIds;
    if (ids !== null && ids.some((id, c) => id !== c)) {
      this.refuse(`config apic-ids = ${ids.join(', ')}`, 'the guest\'s CPUs have the APIC IDs the backend gives them, 0..n-1 (its coordinator and tables depend on it)', null, 'apic-ids');
    }
    if (t.settings.pic) this.refuse('config pic = true', 'the runtime masks the 8259A, whose inputs also carry the PIT and the firmware\'s devices; ExtINT through it is not compiled', null, 'pic');
    const spares = this.plan.spares;
    if (this.n + spares > MAX_GUEST_CPUS) this.refuse(`config cpus = ${this.n}`, `at most ${MAX_GUEST_CPUS - spares} CPUs (the runtime's tables; ${spares} spare CPU(s) run the coordinator and the agents)`, null, 'too-many-cpus');
    this.classify();
    this.scanBlocks();
    this.checkHotplug();
    this.scanObservables();
    this.plan.nested.finish(this.plan.needs, this.plan.ioapicPins.size > 0);
    this.plan.needs.nested = this.plan.nested.needs;
    return this.plan;
  }

  /** Each CPU's kind at the start of a run, from its blocks and `init`. */
  private classify(): void {
    const items = this.test.init?.items ?? [];
    for (let c = 0; c < this.n; c++) {
      const main = this.block(c, 'main') !== undefined;
      let kind: number = main ? KIND.MAIN : c === 0 ? KIND.PARK : KIND.WFS;
      for (const it of items) {
        if (it.kind !== 'activity' || it.cpu !== c) continue;
        if (it.value === 'shutdown') this.refuse(printInitItem(it), 'a real machine cannot start a processor in shutdown', it.pos, 'other');
        if (it.value === 'unplugged') {
          // An empty slot the backend leaves out of the machine and may hot-add (MachineRequest.unplugged).
          if (c === 0) this.refuse(printInitItem(it), 'P0 is the bootstrap processor: the machine cannot start without it', it.pos, 'hotplug');
          if (main) this.refuse(printInitItem(it), `P${c} starts unplugged: it has no main block to run (only SIPI code, once hot-added and started)`, it.pos, 'hotplug');
          kind = KIND.UNPLUGGED;
          continue;
        }
        if (it.value === 'wait-for-sipi') {
          if (c === 0) this.refuse(printInitItem(it), 'P0 is the bootstrap processor: INIT sends it to the firmware, it never waits for a SIPI', it.pos, 'bsp-init');
          kind = KIND.WFS;
        } else if (it.value === 'halted' || it.value === 'active') kind = main ? KIND.MAIN : KIND.IDLE;
      }
      this.plan.kinds[c] = kind;
      let flags = 0;
      if (kind === KIND.MAIN) flags |= FLAG.MAIN;
      if (this.block(c, 'sipi')) flags |= FLAG.SIPI;
      if (kind === KIND.WFS || kind === KIND.UNPLUGGED) flags |= FLAG.WFSABLE;
      this.plan.flags[c] = flags;
    }
    for (const it of items) this.checkInit(it);
  }

  /** `hotplug Pk` adds a slot that starts empty, once (the backend cannot unplug it again). */
  private checkHotplug(): void {
    const plugged = new Set<number>();
    for (const b of this.test.blocks) {
      forEachOp(b.body, (op) => {
        if (op.kind !== 'hotplug') return;
        if (this.plan.kinds[op.cpu] !== KIND.UNPLUGGED) this.refuse(`hotplug P${op.cpu}`, `P${op.cpu} does not start unplugged (init P${op.cpu}.activity = unplugged): there is no empty slot to add it to`, op.pos, 'hotplug');
        if (plugged.has(op.cpu)) this.refuse(`hotplug P${op.cpu}`, `P${op.cpu} is hot-added twice in a run`, op.pos, 'hotplug');
        plugged.add(op.cpu);
      });
    }
  }

  /** The APIC IDs of the slots that start empty. */
  unplugged(): number[] {
    return this.plan.kinds.flatMap((k, c) => (k === KIND.UNPLUGGED ? [c] : []));
  }

  private waitsForSipi(c: number): boolean {
    return this.plan.kinds[c] === KIND.WFS || this.plan.kinds[c] === KIND.PARK || this.plan.kinds[c] === KIND.UNPLUGGED;
  }

  private checkInit(it: InitItem): void {
    const what = printInitItem(it);
    const no = (reason: string, category: RefusalCategory = 'other'): never => this.refuse(what, reason, it.pos, category);
    switch (it.kind) {
      case 'mem':
        this.mem(it.name, it.pos);
        this.plan.memInit.set(it.name, it.value);
        return;
      case 'reg':
        this.plan.regInit.set(it.cpu * abi('LIT_REGS') + this.regIndex(it.reg, it.pos), it.value);
        return;
      case 'activity':
        return;
      case 'apic-mode':
      case 'apic-reg':
      case 'if':
        if (this.waitsForSipi(it.cpu)) no(`P${it.cpu} waits for a SIPI at the start: nothing runs on it to set this`);
        if (it.kind === 'apic-mode' && it.value === 'x2apic') this.plan.needs.x2apic = true;
        if (it.kind === 'apic-reg') {
          if (it.reg.offset === Reg.TIMER_ICR) no('arms the APIC timer before go, where its ticks and the run\'s cannot be related (only TIMER_ICR writes in the main block are compiled)', 'apic-timer');
          if (!INIT_WRITABLE.has(it.reg.offset)) no('the model places this register value directly; software cannot write it on a real machine');
        }
        return;
      case 'smbase':
        // Set before go by an SMI of the runtime's whose handler writes the save-state SMBASE field (RSM loads it).
        if (this.waitsForSipi(it.cpu)) no(`P${it.cpu} waits for a SIPI at the start: ${WFS_SMI}, so its SMBASE cannot be set`, 'smbase');
        this.smbaseValue(Number(it.value), what, it.pos);
        this.smbaseInit.set(it.cpu, Number(it.value));
        this.plan.needs.smm = true;
        if (it.cpu === 0) this.plan.needs.smiToP0 = true;
        return;
      case 'vmx':
        this.plan.nested.initVmx(it, this.plan.kinds[it.cpu] === KIND.WFS, this.plan.kinds[it.cpu] === KIND.PARK);
        return;
      case 'ioapic-entry':
        this.ioapicEntry(it, what);
    }
  }

  /** An `init` redirection entry, encoded as the model's init does (src/sim/init.ts). A field left out is 0
   *  (fixed, physical, high, edge, unmasked). */
  private ioapicEntry(it: Extract<InitItem, { kind: 'ioapic-entry' }>, what: string): void {
    const e = it.entry, mode = e.mode ?? 'fixed';
    if (mode !== 'fixed' && mode !== 'lowest' && mode !== 'nmi') {
      this.refuse(what, `delivery mode ${mode} from the I/O APIC: ${mode === 'smi' ? 'SMIs to a CPU the coordinator cannot tell apart from the SMIs of the test' : mode === 'init' ? 'an INIT may reach the BSP or a spare' : 'ExtINT needs the 8259, which the runtime masks'} (not compiled)`, it.pos, 'ioapic-msi');
    }
    if (mode === 'nmi') this.plan.needs.nmi = true;
    if ((mode === 'fixed' || mode === 'lowest') && (e.vector ?? 0) < 32) this.refuse(what, 'vectors 0-31 are exceptions in the guest', it.pos, 'vector-lt-32');
    let lo = (e.vector ?? 0) | (deliveryMode(mode) << 8);
    let dest = 0;
    if (e.dest) {
      if (this.targets(e.dest, -1).spare) this.refuse(what, 'the destination may reach the spare CPUs that run the coordinator', it.pos, 'spare-cpu');
      if (e.dest.kind === 'logical') lo |= 1 << 11;
      dest = e.dest.kind === 'cpu' ? e.dest.cpu : e.dest.kind === 'phys' ? e.dest.id : e.dest.kind === 'logical' ? e.dest.mask : 0;
    }
    if (e.polarity === 'low') lo |= 1 << 13;
    if (e.trigger === 'level') lo |= 1 << 15;
    if (e.mask === 1) lo |= 1 << 16;
    this.plan.ioapicPins.add(it.pin);
    this.plan.ioapicInit.push({ pin: it.pin, lo: lo >>> 0, hi: ((dest & 0xff) << 24) >>> 0 });
  }

  /** An SMBASE the test uses: the runtime's SMM entry is copied to SMBASE + 0x8000, and its save-state map lies at
   *  SMBASE + 0xFE00; both must be free low memory (real-mode CS = SMBASE >> 4 at entry: SMBASE < 1 MiB, 16-byte
   *  aligned). */
  private smbaseValue(v: number, what: string, pos: Pos | null): void {
    if (v % 16 !== 0 || v < SMBASE_MIN || v + 0x10000 > SMBASE_MAX_END) {
      this.refuse(what, `SMBASE ${hex(v)}: the guest needs SMBASE + 0x8000 .. SMBASE + 0xFFFF in free low memory (${hex(SMBASE_MIN)} .. ${hex(SMBASE_MAX_END)}, 16-byte aligned) for its SMM entry and the save-state map`, pos, 'smbase');
    }
    this.plan.smbaseValues.add(v);
  }

  private regIndex(reg: string, pos: Pos): number {
    const m = /^r(\d+)$/.exec(reg);
    if (!m || Number(m[1]) >= abi('LIT_REGS')) this.refuse(reg, 'not a register r0..r31', pos, 'other');
    return Number(m[1]);
  }

  /** The NASM label of a memory word (given in first-use order). */
  private mem(name: string, pos: Pos | null): string {
    let l = this.plan.memLabels.get(name);
    if (!l) {
      if (name === 'run') this.refuse(`memory word ${name}`, 'the name `run` is the run number in the guest\'s result lines', pos, 'other');
      l = `m_${asmIdent(name)}`;
      const taken = new Set(this.plan.memLabels.values());
      for (let i = 2; taken.has(l); i++) l = `m_${asmIdent(name)}_${i}`;
      this.plan.memLabels.set(name, l);
    }
    return l;
  }

  /** The test CPUs a destination may reach, and whether it may reach a spare (coordinator, agents). */
  targets(d: Dest, src: number): GuestTargets {
    const all = [...Array(this.n).keys()];
    switch (d.kind) {
      case 'cpu': return { cpus: [d.cpu], spare: false, broadcast: false };
      case 'self': return { cpus: [src], spare: false, broadcast: false };
      case 'all': return { cpus: all, spare: true, broadcast: true };
      case 'others': return { cpus: all.filter((c) => c !== src), spare: true, broadcast: true };
      case 'phys':
        if (d.id === 0xff || d.id === 0xffffffff) return { cpus: all, spare: true, broadcast: true };
        return { cpus: d.id < this.n ? [d.id] : [], spare: d.id >= this.n, broadcast: false };
      case 'logical': return { cpus: all, spare: false, broadcast: true };
    }
  }

  /** The analysis as one op sees it. */
  private ctx(op: Op, src: number, where: string, smm = false): AnalyzeCtx {
    const plan = this.plan, construct = `${where}: ${printOp(op).split('\n')[0]}`;
    const smbase = (v: number): void => {
      this.smbaseValue(v, construct, op.pos);
      this.smbaseOps = true;
    };
    return {
      settings: this.test.settings,
      smm,
      src,
      refuse: (category, reason) => this.refuse(construct, reason, op.pos, category),
      targets: (d) => this.targets(d, src),
      need: (what) => void (plan.needs[what] = true),
      smiTo: (cpus) => {
        plan.needs.smm = true;
        for (const c of cpus) this.smiTargets.add(c);
        if (cpus.includes(0)) plan.needs.smiToP0 = true;
      },
      initTo: (cpus) => {
        for (const c of cpus) plan.flags[c] |= FLAG.WFSABLE;
      },
      sipiPage: (v) => void plan.sipiPages.add(v),
      ioapicPin: (pin) => void plan.ioapicPins.add(pin),
      irqLine: (gsi) => {
        plan.irqLines.add(gsi);
        plan.ioapicPins.add(gsi);
        plan.needs.irqLines = true;
      },
      smbase,
      armsTimer: () => void (plan.timer = true),
    };
  }

  private scanBlocks(): void {
    const memRefs: RefsCtx = {
      cpu() {}, dest() {}, readReg() {}, writeReg() {}, expr() {},
      readMem: (name, pos) => void this.mem(name, pos),
      writeMem: (name, pos) => void this.mem(name, pos),
    };
    for (const b of this.test.blocks) {
      const where = b.kind === 'cpu' ? `P${b.cpu}` : `D${b.agent}`;
      if (b.kind === 'cpu') {
        if (b.handler === 'vmexit-intr-window' || b.handler === 'vmexit-nmi-window') {
          this.refuse(`P${b.cpu} on ${b.handler.replace('-', ' ')}`, 'the guest\'s L1 hypervisor sets no window-exiting controls', b.pos, 'nested-vmx');
        }
        this.plan.nested.handler(b);
        if (b.handler === 'vector' && b.vector !== null && b.vector < 32) {
          this.refuse(`P${b.cpu} on vector ${hex(b.vector)}`, 'vectors 0-31 are exceptions in the guest', b.pos, 'vector-lt-32');
        }
        if (b.handler === 'nmi') this.plan.needs.nmi = true;
      }
      const src = b.kind === 'cpu' ? b.cpu : -1;
      const walk = (ops: Op[], mult: number): void => {
        for (const op of ops) {
          const def = opDef(op), ctx = this.ctx(op, src, where, b.kind === 'cpu' && b.handler === 'smi');
          // What the guest's L1 can run (VMX operation; what vCPUs of its virtual APIC may do) first.
          this.plan.nested.op(op, src, (reason) => ctx.refuse('nested-vmx', reason));
          def.analyze?.(op, ctx);
          def.refs(op, memRefs);
          if (op.kind === 'wait') this.plan.waitUs += op.ticks * this.plan.waitPerTick * mult;
          if (op.kind === 'repeat') walk(op.body, mult * Math.max(1, op.count));
        }
      };
      walk(b.body, 1);
    }
    // P0 parked (the model has it wait for a SIPI): nothing may reach it but fixed interrupts, which it never takes.
    if (this.plan.kinds[0] === KIND.PARK) {
      for (const b of this.test.blocks) {
        forEachOp(b.body, (op) => {
          const src = b.kind === 'cpu' ? b.cpu : -1;
          let hit = false;
          if (op.kind === 'send' && op.mode !== 'fixed') hit = this.targets(op.dest, src).cpus.includes(0);
          if (op.kind === 'signal') hit = op.target === 'all' || op.target === 0;
          if (hit) this.refuse(printOp(op), 'P0 has no main block: the model has it wait for a SIPI, but the bootstrap processor of a real machine cannot', op.pos, 'bsp-init');
        });
      }
    }
    this.planSmbase();
    if (this.plan.timer) {
      checkTimer(this.test, this.plan, (reason) => this.refuse('the APIC timer', reason, null, 'apic-timer'));
    }
  }

  /** Which SMBASE each CPU gets before go. SDM Vol 3C 34.11: every processor that may be in SMM at the same time
   *  needs its own SMRAM state-save area, which is what SMBASE relocation is for. */
  private planSmbase(): void {
    const plan = this.plan, def = abi('LIT_SMBASE_DEFAULT');
    const targets = [...this.smiTargets].sort((a, b) => a - b);
    // (Observed SMBASEs are read by a probe SMI at the runtime's own entry: they need no setup here.)
    const testSmbase = this.smbaseOps || this.smbaseInit.size > 0;
    const initial = targets.map((c) => this.smbaseInit.get(c) ?? def);
    if (targets.length > 1 && testSmbase && !this.smbaseOps && new Set(initial).size === targets.length) {
      // Every SMI target starts with an SMBASE of its own (init) that no handler changes: no map is shared.
      targets.forEach((c, i) => plan.smbaseSetup.set(c, initial[i]));
      for (const c of new Set([...plan.smbaseObserved, ...this.smbaseInit.keys()])) if (!plan.smbaseSetup.has(c)) plan.smbaseSetup.set(c, this.smbaseInit.get(c) ?? def);
    } else if (targets.length > 1) {
      // Decision D-26: the model shares a state-save map between CPUs in SMM with one SMBASE, but only its SMBASE,
      // EFLAGS.IF, auto HALT and I/O restart fields; on hardware the map also holds each CPU's interrupted context
      // (RIP, CS, the registers), so two CPUs of the guest that meet in one map resume each other's code.
      const why = testSmbase ? 'the test sets SMBASE in an SMI handler or gives two of them one SMBASE' : 'they all start with the default SMBASE 0x30000 (give each its own in init, as firmware relocation leaves them)';
      this.refuse('SMI', `SMIs reach ${targets.map((c) => `P${c}`).join(', ')}, and ${why}: two CPUs may then be in SMM with one SMBASE, sharing one state-save map (decision D-26). The model shares its SMBASE, EFLAGS.IF, auto HALT restart and I/O instruction restart fields; on a real machine the map also holds each CPU's interrupted RIP, CS and registers, so the guest's CPUs would resume at each other's code instead of giving an outcome`, null, 'smbase');
    } else if (testSmbase) {
      for (const c of new Set([...targets, ...plan.smbaseObserved, ...this.smbaseInit.keys()])) {
        plan.smbaseSetup.set(c, this.smbaseInit.get(c) ?? def);
      }
    }
    const bases = new Set([def, ...plan.smbaseValues, ...plan.smbaseSetup.values()]);
    const pages = [...plan.sipiPages, 0x08].map((v) => [v << 12, (v << 12) + 0x1000]);
    const overlap = (a: number[], b: number[]): boolean => a[0] < b[1] && b[0] < a[1];
    for (const s of bases) {
      const entry = [s + SMM_ENTRY[0], s + SMM_ENTRY[1]];
      for (const t of bases) {
        if (overlap(entry, [t + SMM_SAVE[0], t + SMM_SAVE[1]])) this.refuse('SMBASE', `the SMM entry at ${hex(s + 0x8000)} (SMBASE ${hex(s)}) overlaps the state-save area of SMBASE ${hex(t)}`, null, 'smbase');
      }
      for (const pg of pages) {
        if (overlap([s + 0x8000, s + 0x10000], pg)) this.refuse('SMBASE', `SMRAM of SMBASE ${hex(s)} overlaps the SIPI page ${hex(pg[0])}`, null, 'smbase');
      }
    }
  }

  private scanObservables(): void {
    const plan = this.plan;
    for (const o of allObservables(this.test)) {
      const name = observableName(o);
      const no = (reason: string, category: RefusalCategory): never => this.refuse(name, reason, o.pos, category);
      const parked = (): void => {
        if (plan.kinds[(o as { cpu: number }).cpu] === KIND.PARK) no('P0 has no main block: the model has it wait for a SIPI, a real BSP cannot', 'bsp-init');
      };
      switch (o.kind) {
        case 'smbase':
          // Read by an SMI after the ping (the CS base of the handler it enters), or the SMBASE it entered its SMM
          // code with when it is still there.
          if (plan.flags[o.cpu] & FLAG.WFSABLE) no(`P${o.cpu} may end in wait-for-SIPI: SMBASE is read with an SMI, which a CPU there holds or loses (CONFORMANCE.md F5)`, 'wfs-apic');
          parked();
          plan.smbaseObserved.add(o.cpu);
          plan.needs.smm = true;
          if (o.cpu === 0) plan.needs.smiToP0 = true;
          break;
        case 'vmx': case 'vmexits':
          plan.nested.observable(o);
          break;
        case 'running': case 'pir':
          no('vCPU state of a hypervisor the model plays', 'vcpu-assist');
          break;
        case 'gif':
          no('AMD\'s GIF: the runtime does not enable SVM, and nothing can read GIF', 'gif');
          break;
        case 'in-shadow':
          // An `on nmi` block compares the interrupted EIP with the instructions after the test's STIs and MOV SSs.
          if (o.of !== 'nmi') no('only NMIs are checked for the shadow they were taken in (the `on nmi` block compares its return address)', 'observables');
          if (!this.block(o.cpu, 'nmi')) no(`P${o.cpu} has no \`on nmi\` block: the check runs in it`, 'observables');
          plan.needs.nmi = true;
          break;
        case 'remote-irr':
          plan.ioapicPins.add(o.pin);
          break;
        case 'irr': case 'isr': case 'tmr': case 'apic-reg': case 'apic-mode':
          // A CPU that ends in wait-for-SIPI runs nothing that could read its local APIC: the runtime starts it
          // with a SIPI of its own after the run (lit_wfs_probe), which changes nothing in the local APIC.
          parked();
          break;
        case 'activity': case 'smm':
          parked();
          break;
        case 'mem':
          this.mem(o.name, o.pos);
          break;
        case 'reg': case 'agent-reg':
          this.regIndex(o.reg, o.pos);
          break;
        default:
          break;
      }
    }
  }
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}
