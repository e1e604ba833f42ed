// Litmus test -> NASM guest (docs/conformance.md, "Compiled litmus guests"). The generated source includes
// guest/runtime.asm and guest/litmus.asm (the iteration loop, the end-of-test ping, P0's reset, SMM entry) and adds
// the test's own code: one routine per block, each op a short commented instruction sequence, the tables
// litmus.asm reads, and the routine that prints one run's observables under the model's names.
//
// What cannot run on a real machine, or not faithfully with this runtime, is refused with a CompileRefusal naming
// the construct and the reason; what only some backends lack (SMM, x2APIC) is refused per backend by
// backendRefusal().

import type {
  Block, CpuBlock, Dest, Expr, InitItem, LitmusTest, Observable, Op, Pos, SendOp,
} from '../litmus/ast.js';
import { observableName, printInitItem, printOp } from '../litmus/print.js';
import { allObservables, forEachOp } from '../litmus/validate.js';
import type { Backend, MachineRequest } from './backends.js';
import { accelRefusalReason, compiledAccel, NESTED_WAIT_US_PER_TICK, NestedPlan, nestedRefusalReason, usesNested, type NestedKind } from './nested.js';

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
  ) {
    super(`${pos ? `line ${pos.line}: ` : ''}${construct}: ${reason}`);
  }
}

export interface CompileOptions {
  /** Microseconds of busy-wait per tick of `wait N` (default 10). */
  waitUsPerTick?: number;
  /** Quiet time after every program finished, before the end-of-test ping (default 500 µs). */
  settleUs?: number;
}

export const DEFAULT_WAIT_US_PER_TICK = 10;
export const DEFAULT_SETTLE_US = 500;
/** A run that has not finished after this (plus twice its waits) is pinged anyway: an await that never holds. */
export const BASE_ITER_TIMEOUT_US = 20_000;

/** What a compiled test needs from the machine it runs on. */
export interface GuestNeeds {
  /** SMIs are sent (SMM entry installed at the default SMBASE). */
  smm: boolean;
  /** An SMI may reach P0, the BSP (whose SMBASE the firmware may have moved). */
  smiToP0: boolean;
  /** The test touches x2APIC (mode, MSRs 0x800-0x8FF, IA32_APIC_BASE writes): the backend's CPUID must match
   *  the test's `x2apic` setting. */
  x2apic: boolean;
  /** NMIs are part of the test (a backend without protected-mode IRET cannot end NMI blocking). */
  nmi: boolean;
  /** An agent drives I/O APIC input pins (`irq`): the backend needs a device that sets ISA IRQ lines. */
  irqLines: boolean;
  /** An agent sends device MSIs (`msi`): the backend needs a device whose MSI the guest can program and raise. */
  msi: boolean;
  /** The test writes TIMER_ICR with the LVT timer in TSC-deadline mode (the model ignores the count). */
  tscDeadlineMode: boolean;
  /** The test runs an L1 hypervisor in the guest (nested.ts): Intel VMX or AMD SVM. */
  nested: NestedKind | null;
}

export interface CompiledTest {
  test: LitmusTest;
  /** The NASM source (ITERATIONS is a -D define, default 1). */
  asm: string;
  /** The test's CPUs (APIC IDs 0..cpus-1). */
  cpus: number;
  /** Spare CPUs after them: the coordinator (which also plays the first agent) and one per further agent. */
  spares: number;
  machine: MachineRequest;
  /** The observables in report order: the model's names (observableName), as the simulator lists them. */
  observables: string[];
  needs: GuestNeeds;
  /** The guest-time bound of one run, microseconds (for the host's timeout). */
  iterTimeoutUs: number;
}

const KIND = { MAIN: 1, IDLE: 2, WFS: 3, PARK: 4 } as const;
const FLAG = { MAIN: 1, SIPI: 2, WFSABLE: 4 } as const;
const MODE_CODE: Record<string, number> = { fixed: 0, lowest: 1, smi: 2, 'remote-read': 3, nmi: 4, init: 5, sipi: 6, extint: 7 };
/** APIC registers an `init` item may set by writing them (the others the model sets directly). */
const INIT_WRITABLE = new Set([0x20, 0x80, 0xd0, 0xe0, 0xf0, 0x2f0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x3e0]);
const TIMER_ICR = 0x380;
const TIMER_CCR = 0x390;
const TIMER_DCR = 0x3e0;
const LVT_TIMER = 0x320;
/** A test that arms the APIC timer runs at this many microseconds of guest time per model tick (its `wait`s and
 *  its timer counts alike: docs/conformance.md, "The APIC timer"). */
export const TIMER_WAIT_US_PER_TICK = 200;
/** The least distance, in model ticks, between a timer expiry and an op of the test for the outcome not to turn on
 *  the real machine's timing. */
export const TIMER_MARGIN_TICKS = 2;
const MSR_APIC_BASE = 0x1b;
const MSR_TSC_DEADLINE = 0x6e0;
const X2APIC_TIMER_ICR_MSR = 0x838;
/** The runtime's own bring-up page; SIPI pages the runtime or the firmware use are refused. */
const SMRAM_PAGES = [0x30, 0x3f];
const MAX_GUEST_CPUS = 64;
/** Bochs 2.7 (Debian) panics at boot with 16 CPUs or more: "register_timer: too many registered timers". */
export const BOCHS_MAX_CPUS = 15;
const MAX_WAIT_US = 1_000_000;
/** I/O APIC redirection entries: registers 0x10 + 2n (low) and 0x11 + 2n (high), n = 0..23 (82093AA 3.2.4). */
const IOAPIC_PINS = 24;
/** GSIs no ISA IRQ line reaches on QEMU's pc/q35 (hw/intc/ioapic.c: ISA IRQ n -> pin n, IRQ 0 -> pin 2; pin 0 is
 *  the 8259's ExtINT input, pins 16-23 are PCI interrupts) or that another device drives: pin 2 is ISA IRQ 0,
 *  PIT channel 0's output, which the firmware leaves running at 18.2 Hz. */
const IRQ_LINE_REFUSED: Record<number, string> = {
  0: 'pin 0 is the 8259\'s ExtINT input: no ISA IRQ line reaches it (QEMU maps ISA IRQ 0 to pin 2)',
  2: 'pin 2 is ISA IRQ 0, the output of PIT channel 0, which the firmware leaves running at 18.2 Hz: the test would not drive it alone',
};
/** SMBASE after RESET (INIT keeps it), and the tiles the runtime gives each CPU when SMIs reach several CPUs. */
const SMBASE_DEFAULT = 0x30000;
const SMBASE_TILES = 0x40000;
const SMBASE_TILE_STRIDE = 0x1000;
/** A CPU's SMRAM as the runtime uses it: the entry at SMBASE + 0x8000 (a few dozen bytes, 0x100 reserved), the
 *  save-state map at SMBASE + 0xFE00 .. SMBASE + 0xFFFF (SDM Vol 3C 32.4.1; AMD APM Vol 2 10.2.3). */
const SMM_ENTRY = [0x8000, 0x8100];
const SMM_SAVE = [0xfe00, 0x10000];
/** Free low memory an SMBASE may use (below the EBDA; above the stage-2 load buffer). */
const SMBASE_MIN = 0x20000;
const SMBASE_MAX_END = 0x9f000;

/** Vectors below 32 whose exception pushes no error code (SDM Vol 3A Table 7-1; 29 and 30 are AMD's #VC and #SX,
 *  with error codes), except 2 (the NMI's gate). An interrupt delivered through one of these gates leaves the same
 *  stack as the exception would, so the guest can count it as an interrupt (guest/runtime.asm, LAPIS_COUNT_LOW). */
export const COUNTABLE_LOW_VECTORS: readonly number[] = [0, 1, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 31];

/** The LAPIS_COUNT_LOW mask: the vectors below 32 whose `Pn.count(V)` the test observes, where the gate can count
 *  them. The test's code raises no exception (its ops do not divide, trap or fault except the counted #GP of
 *  WRMSR/RDMSR and x2APIC sends), so an entry through such a gate is an interrupt someone sent with that vector (an
 *  MSI or IPI the APIC should have refused: SDM Vol 3A 11.5.2), which the run then reports as a count instead of
 *  crashing. Other vectors below 32 keep the crash path (an entry there may be a real exception). */
export function countedLowVectors(observables: readonly Observable[]): number {
  let mask = 0;
  for (const ob of observables) {
    if (ob.kind === 'count' && typeof ob.of === 'number' && COUNTABLE_LOW_VECTORS.includes(ob.of)) mask |= 1 << ob.of;
  }
  return mask >>> 0;
}
const DELIVERY_MODES = ['fixed', 'lowest', 'smi', 'remote-read', 'nmi', 'init', 'sipi', 'extint'];

interface Proc {
  /** Index in lit_regs: CPUs first, then agents. */
  index: number;
  /** APIC ID of the CPU that runs it (a test CPU, or the agent's spare). */
  apicId: number;
  name: string;
  agent: boolean;
}

/** Compile a litmus test into a guest. Throws CompileRefusal for what it will not run. */
export function compileTest(test: LitmusTest, opts: CompileOptions = {}): CompiledTest {
  return new Compiler(test, opts).compile();
}

/** Whether a compiled test can run on `backend` (features), or the refusal saying why not. */
export function backendRefusal(c: CompiledTest, backend: Backend): CompileRefusal | null {
  const f = backend.features();
  const name = backend.name;
  const bochs = name === 'bochs' || name === 'bochs-svm';
  if (bochs && c.machine.cpus > BOCHS_MAX_CPUS) {
    return new CompileRefusal(
      `config cpus = ${c.cpus}`,
      `the guest needs ${c.machine.cpus} CPUs (${c.spares} spare); Bochs 2.7 here panics beyond ${BOCHS_MAX_CPUS} ("register_timer: too many registered timers")`,
      null, name,
    );
  }
  if (c.needs.nmi && !f.iret.ok) {
    return new CompileRefusal('NMI', `the test's NMIs need IRET to end NMI blocking: ${f.iret.reason}`, null, name);
  }
  if (c.needs.smm && !f.smm.ok) return new CompileRefusal('SMI', `unsupported by this host: ${f.smm.reason}`, null, name);
  if (c.needs.tscDeadlineMode && !f.tscDeadline.ok) {
    return new CompileRefusal('LVT_TIMER', `the test writes TIMER_ICR in TSC-deadline mode, where the model ignores the count; this backend has no TSC-deadline mode (${f.tscDeadline.reason}) and counts it one-shot, so what the test reads turns on timing`, null, name);
  }
  const nested = nestedRefusalReason(c.needs.nested, f);
  if (nested) return new CompileRefusal(c.needs.nested === 'svm' ? 'SVM' : 'VMX', nested, null, name);
  if (c.needs.irqLines && !f.irqLines.ok) return new CompileRefusal('irq', `an agent drives I/O APIC pins: ${f.irqLines.reason}`, null, name);
  if (c.needs.msi && !f.msi.ok) return new CompileRefusal('msi', `an agent sends device MSIs: ${f.msi.reason}`, null, name);
  if (c.needs.smiToP0 && bochs) {
    return new CompileRefusal(
      'SMI to P0',
      "Bochs's BIOS (rombios) moved the BSP's SMBASE to 0xA0000, closed SMRAM: the test's SMM code cannot be installed there",
      null, name,
    );
  }
  if (c.needs.x2apic && f.x2apic.ok !== c.test.settings.x2apic) {
    return new CompileRefusal(
      'x2APIC',
      c.test.settings.x2apic
        ? `the test's CPUs have x2APIC (config x2apic = true); this backend's do not: ${f.x2apic.ok ? '' : f.x2apic.reason}`
        : "the test's CPUs have no x2APIC (config x2apic = false); this backend's CPUs have it",
      null, name,
    );
  }
  return null;
}

/** A readable NASM identifier from a litmus name. */
function ident(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, '_');
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

class Compiler {
  private readonly n: number;
  private readonly agents: { agent: number; block: Block }[];
  private readonly procs = new Map<string, Proc>();
  private readonly memLabels = new Map<string, string>();
  private readonly memInit = new Map<string, bigint>();
  private readonly regInit = new Map<number, bigint>();
  private readonly kinds: number[] = [];
  private readonly flags: number[] = [];
  private readonly sipiPages = new Set<number>();
  private readonly smiTargets = new Set<number>();
  private readonly needs: GuestNeeds = { smm: false, smiToP0: false, x2apic: false, nmi: false, irqLines: false, msi: false, tscDeadlineMode: false, nested: null };
  private readonly nested: NestedPlan;
  /** `init` redirection entries in order: pin, low and high dword as the model writes them. */
  private readonly ioapicInit: { pin: number; lo: number; hi: number }[] = [];
  /** Pins the test programs, writes, drives or observes: masked again after every run. */
  private readonly ioapicPins = new Set<number>();
  /** ISA IRQ lines (pc-testdev) the test drives. */
  private readonly irqLines = new Set<number>();
  /** SMBASE values the test writes (`smbase =`, init `Pn.smbase`): the SMM entry is installed at each. */
  private readonly smbaseValues = new Set<number>();
  /** Init `Pn.smbase` values. */
  private readonly smbaseInit = new Map<number, number>();
  /** CPUs whose SMBASE the test observes (probed with an SMI after the ping). */
  private readonly smbaseObserved = new Set<number>();
  private smbaseOps = false;
  /** cpu -> the SMBASE the runtime gives it before go (an SMI of its own); empty when nothing needs it. */
  private readonly smbaseSetup = new Map<number, number>();
  /** The test arms the APIC timer with TIMER_ICR writes (scaled: one model tick = lit_timer_k timer ticks). */
  private timer = false;
  private readonly data: string[] = [];
  private label = 0;
  private waitUs = 0;
  private waitPerTick: number;
  private readonly settleUs: number;

  constructor(private readonly test: LitmusTest, opts: CompileOptions) {
    this.n = test.settings.cpus;
    this.nested = new NestedPlan(test, (construct, reason, pos) => this.refuse(construct, reason, pos ?? null));
    this.waitPerTick = opts.waitUsPerTick ?? (usesNested(test) ? NESTED_WAIT_US_PER_TICK : DEFAULT_WAIT_US_PER_TICK);
    this.settleUs = opts.settleUs ?? DEFAULT_SETTLE_US;
    this.agents = test.blocks
      .filter((b) => b.kind === 'agent')
      .map((b) => ({ agent: (b as { agent: number }).agent, block: b }))
      .sort((a, b) => a.agent - b.agent);
    for (let c = 0; c < this.n; c++) this.procs.set(`P${c}`, { index: c, apicId: c, name: `P${c}`, agent: false });
    this.agents.forEach((a, i) => this.procs.set(`D${a.agent}`, { index: this.n + i, apicId: this.n + i, name: `D${a.agent}`, agent: true }));
  }

  private refuse(construct: string, reason: string, pos: Pos | null = null): never {
    throw new CompileRefusal(construct, reason, pos);
  }

  private cpuBlocks(c: number): CpuBlock[] {
    return this.test.blocks.filter((b): b is CpuBlock => b.kind === 'cpu' && b.cpu === c);
  }

  private block(c: number, h: CpuBlock['handler']): CpuBlock | undefined {
    return this.cpuBlocks(c).find((b) => b.handler === h);
  }

  compile(): CompiledTest {
    const t = this.test;
    if (!compiledAccel(t.settings.accel)) {
      this.refuse(`config accel = ${t.settings.accel}`, accelRefusalReason(t.settings.accel));
    }
    const spares = Math.max(1, this.agents.length);
    if (this.n + spares > MAX_GUEST_CPUS) this.refuse(`config cpus = ${this.n}`, `at most ${MAX_GUEST_CPUS - spares} CPUs (the runtime's tables; ${spares} spare CPU(s) run the coordinator and the agents)`);
    this.classify();
    this.scanBlocks();
    this.scanObservables();
    this.nested.finish(this.needs, this.ioapicPins.size > 0);
    this.needs.nested = this.nested.needs;
    const observables = this.observableList();
    if (this.timer) {
      this.waitUs = (this.waitUs / this.waitPerTick) * TIMER_WAIT_US_PER_TICK;
      this.waitPerTick = TIMER_WAIT_US_PER_TICK;
    }
    const iterTimeoutUs = BASE_ITER_TIMEOUT_US + 2 * this.waitUs;
    if (iterTimeoutUs > MAX_WAIT_US) this.refuse('wait', `the test's waits add up to ${this.waitUs} µs at ${this.waitPerTick} µs a tick: more than a run may take here`);
    const asm = this.emit(spares, observables, iterTimeoutUs);
    return {
      test: t,
      asm,
      cpus: this.n,
      spares,
      machine: { cpus: this.n + spares, ...(this.needs.irqLines ? { irqLines: true } : {}), ...(this.needs.msi ? { msi: true } : {}) },
      observables: observables.map((o) => observableName(o)),
      needs: this.needs,
      iterTimeoutUs,
    };
  }

  // ---- analysis --------------------------------------------------------------------------------------------

  /** Each CPU's kind at the start of a run, from its blocks and `init`. */
  private classify(): void {
    const items = this.test.init?.items ?? [];
    for (let c = 0; c < this.n; c++) {
      const main = this.block(c, 'main') !== undefined;
      let kind: number = main ? KIND.MAIN : c === 0 ? KIND.PARK : KIND.WFS;
      for (const it of items) {
        if (it.kind !== 'activity' || it.cpu !== c) continue;
        if (it.value === 'unplugged' || it.value === 'shutdown') {
          this.refuse(printInitItem(it), `a real machine cannot start a processor ${it.value === 'unplugged' ? 'unplugged (hot-plug is not emulated here)' : 'in shutdown'}`, it.pos);
        }
        if (it.value === 'wait-for-sipi') {
          if (c === 0) this.refuse(printInitItem(it), 'P0 is the bootstrap processor: INIT sends it to the firmware, it never waits for a SIPI', it.pos);
          kind = KIND.WFS;
        } else if (it.value === 'halted') kind = main ? KIND.MAIN : KIND.IDLE;
        else if (it.value === 'active') kind = main ? KIND.MAIN : KIND.IDLE;
      }
      this.kinds[c] = kind;
      let flags = 0;
      if (kind === KIND.MAIN) flags |= FLAG.MAIN;
      if (this.block(c, 'sipi')) flags |= FLAG.SIPI;
      if (kind === KIND.WFS) flags |= FLAG.WFSABLE;
      this.flags[c] = flags;
    }
    for (const it of items) this.checkInit(it);
  }

  private halts(c: number): boolean {
    return (this.test.init?.items ?? []).some((it) => it.kind === 'activity' && it.cpu === c && it.value === 'halted');
  }

  private checkInit(it: InitItem): void {
    const what = printInitItem(it);
    switch (it.kind) {
      case 'mem':
        this.mem(it.name, it.pos);
        this.memInit.set(it.name, it.value);
        return;
      case 'reg': {
        const k = this.regIndex(it.reg, it.pos);
        this.regInit.set(it.cpu * 32 + k, it.value);
        return;
      }
      case 'activity':
        return;
      case 'apic-mode':
      case 'apic-reg':
      case 'if':
        if (this.kinds[it.cpu] === KIND.WFS || this.kinds[it.cpu] === KIND.PARK) {
          this.refuse(what, `P${it.cpu} waits for a SIPI at the start: nothing runs on it to set this`, it.pos);
        }
        if (it.kind === 'apic-mode' && it.value === 'x2apic') this.needs.x2apic = true;
        if (it.kind === 'apic-reg') {
          if (it.reg.offset === TIMER_ICR) this.refuse(what, 'arms the APIC timer before go, where its ticks and the run\'s cannot be related (only TIMER_ICR writes in the main block are compiled)', it.pos);
          if (!INIT_WRITABLE.has(it.reg.offset)) {
            this.refuse(what, 'the model places this register value directly; software cannot write it on a real machine', it.pos);
          }
        }
        return;
      case 'smbase':
        // Set before go by an SMI of the runtime's whose handler writes the save-state SMBASE field (RSM loads it).
        if (this.kinds[it.cpu] === KIND.WFS || this.kinds[it.cpu] === KIND.PARK) this.refuse(what, `P${it.cpu} waits for a SIPI at the start: an SMI there is held or lost (CONFORMANCE.md F5), so its SMBASE cannot be set`, it.pos);
        this.smbaseValue(Number(it.value), what, it.pos);
        this.smbaseInit.set(it.cpu, Number(it.value));
        this.needs.smm = true;
        if (it.cpu === 0) this.needs.smiToP0 = true;
        return;
      case 'vmx':
        this.nested.initVmx(it, this.kinds[it.cpu] === KIND.WFS, this.kinds[it.cpu] === KIND.PARK);
        return;
      case 'ioapic-entry':
        this.ioapicEntry(it, what);
    }
  }

  /** An `init` redirection entry, encoded as the model's init does (src/sim/sim.ts): vector, delivery mode
   *  (bits 8-10), destination mode (11), polarity (13), trigger (15), mask (16); destination in bits 56-63
   *  (82093AA 3.2.4). A field left out is 0 (fixed, physical, high, edge, unmasked). */
  private ioapicEntry(it: Extract<InitItem, { kind: 'ioapic-entry' }>, what: string): void {
    const e = it.entry;
    const mode = e.mode ?? 'fixed';
    if (mode !== 'fixed' && mode !== 'lowest' && mode !== 'nmi') {
      this.refuse(what, `delivery mode ${mode} from the I/O APIC: ${mode === 'smi' ? 'SMIs to a CPU the coordinator cannot tell apart from the SMIs of the test' : mode === 'init' ? 'an INIT may reach the BSP or a spare' : 'ExtINT needs the 8259, which the runtime masks'} (not compiled)`, it.pos);
    }
    if (mode === 'nmi') this.needs.nmi = true;
    if ((mode === 'fixed' || mode === 'lowest') && (e.vector ?? 0) < 32) this.refuse(what, 'vectors 0-31 are exceptions in the guest', it.pos);
    let lo = (e.vector ?? 0) | (DELIVERY_MODES.indexOf(mode) << 8);
    let dest = 0;
    if (e.dest) {
      const t = this.targets(e.dest, -1);
      if (t.spare) this.refuse(what, 'the destination may reach the spare CPUs that run the coordinator', it.pos);
      if (e.dest.kind === 'logical') lo |= 1 << 11;
      dest = e.dest.kind === 'cpu' ? e.dest.cpu : e.dest.kind === 'phys' ? e.dest.id : e.dest.kind === 'logical' ? e.dest.mask : 0;
    }
    if (e.polarity === 'low') lo |= 1 << 13;
    if (e.trigger === 'level') lo |= 1 << 15;
    if (e.mask === 1) lo |= 1 << 16;
    this.ioapicPins.add(it.pin);
    this.ioapicInit.push({ pin: it.pin, lo: lo >>> 0, hi: ((dest & 0xff) << 24) >>> 0 });
  }

  /** An SMBASE the test uses: the runtime's SMM entry is copied to SMBASE + 0x8000, and its save-state map lies at
   *  SMBASE + 0xFE00; both must be free low memory (real-mode CS = SMBASE >> 4 at entry: SMBASE < 1 MiB, 16-byte
   *  aligned). */
  private smbaseValue(v: number, what: string, pos: Pos | null): void {
    if (v % 16 !== 0 || v < SMBASE_MIN || v + 0x10000 > SMBASE_MAX_END) {
      this.refuse(what, `SMBASE ${hex(v)}: the guest needs SMBASE + 0x8000 .. SMBASE + 0xFFFF in free low memory (${hex(SMBASE_MIN)} .. ${hex(SMBASE_MAX_END)}, 16-byte aligned) for its SMM entry and the save-state map`, pos);
    }
    this.smbaseValues.add(v);
  }

  private regIndex(reg: string, pos: Pos): number {
    const m = /^r(\d+)$/.exec(reg);
    if (!m || Number(m[1]) > 31) this.refuse(reg, 'not a register r0..r31', pos);
    return Number(m[1]);
  }

  private mem(name: string, pos: Pos | null): string {
    let l = this.memLabels.get(name);
    if (!l) {
      if (name === 'run') this.refuse(`memory word ${name}`, 'the name `run` is the run number in the guest\'s result lines', pos);
      l = `m_${ident(name)}`;
      const taken = new Set(this.memLabels.values());
      for (let i = 2; taken.has(l); i++) l = `m_${ident(name)}_${i}`;
      this.memLabels.set(name, l);
    }
    return l;
  }

  /** The test CPUs a destination may reach, and whether it may reach a spare (coordinator, agents). */
  private targets(d: Dest, src: number): { cpus: number[]; spare: boolean; broadcast: boolean } {
    const all = [...Array(this.n).keys()];
    switch (d.kind) {
      case 'cpu':
        return { cpus: [d.cpu], spare: false, broadcast: false };
      case 'self':
        return { cpus: [src], spare: false, broadcast: false };
      case 'all':
        return { cpus: all, spare: true, broadcast: true };
      case 'others':
        return { cpus: all.filter((c) => c !== src), spare: true, broadcast: true };
      case 'phys':
        if (d.id === 0xff || d.id === 0xffffffff) return { cpus: all, spare: true, broadcast: true };
        return { cpus: d.id < this.n ? [d.id] : [], spare: d.id >= this.n, broadcast: false };
      case 'logical':
        return { cpus: all, spare: false, broadcast: true };
    }
  }

  private scanBlocks(): void {
    for (const b of this.test.blocks) {
      const where = b.kind === 'cpu' ? `P${b.cpu}` : `D${b.agent}`;
      if (b.kind === 'cpu') {
        this.nested.handler(b);
        if (b.handler === 'vector' && b.vector !== null && b.vector < 32) {
          this.refuse(`P${b.cpu} on vector ${hex(b.vector)}`, 'vectors 0-31 are exceptions in the guest', b.pos);
        }
        if (b.handler === 'nmi') this.needs.nmi = true;
      }
      const walk = (ops: Op[], mult: number): void => {
        for (const op of ops) {
          this.checkOp(op, b, where);
          if (op.kind === 'wait') this.waitUs += op.ticks * this.waitPerTick * mult;
          if (op.kind === 'repeat') walk(op.body, mult * Math.max(1, op.count));
        }
      };
      walk(b.body, 1);
    }
    // P0 parked (the model has it wait for a SIPI): nothing may reach it but fixed interrupts, which it never takes.
    if (this.kinds[0] === KIND.PARK) {
      for (const b of this.test.blocks) {
        forEachOp(b.body, (op) => {
          const src = b.kind === 'cpu' ? b.cpu : -1;
          let hit = false;
          if (op.kind === 'send' && op.mode !== 'fixed') hit = this.targets(op.dest, src).cpus.includes(0);
          if (op.kind === 'signal') hit = op.target === 'all' || op.target === 0;
          if (hit) this.refuse(printOp(op), 'P0 has no main block: the model has it wait for a SIPI, but the bootstrap processor of a real machine cannot', op.pos);
        });
      }
    }
    this.planSmbase();
    if (this.timer) this.checkTimer();
  }

  /** Which SMBASE each CPU gets before go. SDM Vol 3C 32.11: every processor that may be in SMM at the same time
   *  needs its own SMRAM state-save area, which is what SMBASE relocation is for. */
  private planSmbase(): void {
    const targets = [...this.smiTargets].sort((a, b) => a - b);
    const testSmbase = this.smbaseOps || this.smbaseInit.size > 0 || this.smbaseObserved.size > 0;
    if (targets.length > 1) {
      if (testSmbase) {
        this.refuse('SMI', `SMIs reach ${targets.map((c) => `P${c}`).join(', ')}, which start with the default SMBASE 0x30000 (as the model has them) and would share one state-save area at 0x3FE00 until the test relocates them; the runtime gives each its own SMBASE only when the test does not set or observe SMBASE`);
      }
      // Each target gets a tile of its own (invisible to the test: it neither sets nor observes SMBASE).
      for (const c of targets) this.smbaseSetup.set(c, SMBASE_TILES + c * SMBASE_TILE_STRIDE);
    } else if (testSmbase) {
      for (const c of new Set([...targets, ...this.smbaseObserved, ...this.smbaseInit.keys()])) {
        this.smbaseSetup.set(c, this.smbaseInit.get(c) ?? SMBASE_DEFAULT);
      }
    }
    const bases = new Set([SMBASE_DEFAULT, ...this.smbaseValues, ...this.smbaseSetup.values()]);
    const pages = [...this.sipiPages, 0x08].map((v) => [v << 12, (v << 12) + 0x1000]);
    const overlap = (a: number[], b: number[]): boolean => a[0] < b[1] && b[0] < a[1];
    for (const s of bases) {
      const entry = [s + SMM_ENTRY[0], s + SMM_ENTRY[1]];
      for (const t of bases) {
        if (overlap(entry, [t + SMM_SAVE[0], t + SMM_SAVE[1]])) this.refuse('SMBASE', `the SMM entry at ${hex(s + 0x8000)} (SMBASE ${hex(s)}) overlaps the state-save area of SMBASE ${hex(t)}`);
      }
      for (const pg of pages) {
        if (overlap([s + 0x8000, s + 0x10000], pg)) this.refuse('SMBASE', `SMRAM of SMBASE ${hex(s)} overlaps the SIPI page ${hex(pg[0])}`);
      }
    }
  }

  /**
   * A test that arms the APIC timer through TIMER_ICR runs with one model tick = TIMER_WAIT_US_PER_TICK µs of guest
   * time: `wait N` busy-waits N of them (TSC) and every TIMER_ICR value is multiplied by the timer ticks
   * (divide-by-1) in one of them, calibrated at boot (TIMER_CCR reads are divided back, rounded up). The timer then
   * counts the model's ticks at the test's divide configuration (SDM Vol 3A 11.5.4), but a vCPU of an emulator on
   * a busy host may be descheduled for milliseconds at any point, which only ever makes the test's ops later while
   * the timer keeps real time. So a test is compiled only when that cannot change its outcome: one CPU, a
   * straight-line main block, handlers that neither wait nor touch the timer, constant timer writes, and for every
   * count armed: no op of the main block after the write (at a later tick) before the expiry plus
   * TIMER_MARGIN_TICKS (the ops at the write's own tick run right after it), and no periodic count with any op
   * after it (how many periods pass would turn on the delays; an unmasked periodic timer never stopped has no final
   * state in the model).
   */
  private checkTimer(): void {
    const no = (reason: string): never => this.refuse('the APIC timer', reason);
    if (this.n !== 1) no('arms the APIC timer with more than one CPU: the ticks at which the CPUs act cannot be related on a real machine (only single-CPU timer tests are analysed)');
    const main = this.block(0, 'main');
    if (!main) no('arms the APIC timer outside a main block');
    for (const b of this.test.blocks) {
      if (b.kind === 'agent') no('arms the APIC timer in a test with an agent');
      if (b === main) continue;
      forEachOp(b.body, (op) => {
        if (op.kind === 'wait') no(`a handler waits (line ${op.pos.line}): the ticks at which it runs cannot be related on a real machine`);
        if (op.kind === 'apic-write' && (op.reg.offset === TIMER_ICR || op.reg.offset === TIMER_DCR || op.reg.offset === LVT_TIMER)) no(`a handler writes ${op.reg.name ?? hex(op.reg.offset)} (line ${op.pos.line})`);
      });
    }
    const divide = (v: number): number => { const c = ((v >> 1) & 4) | (v & 3); return c === 7 ? 1 : 2 << c; };
    let dcr = 0;
    let lvt = 0x10000;
    for (const it of this.test.init?.items ?? []) {
      if (it.kind === 'apic-reg' && it.reg.offset === TIMER_DCR) dcr = Number(it.value);
      if (it.kind === 'apic-reg' && it.reg.offset === LVT_TIMER) lvt = Number(it.value);
    }
    let t = 0;
    const opTimes: number[] = [];
    const arms: { at: number; line: number; expiry: number; periodic: boolean; masked: boolean; deadline: boolean }[] = [];
    for (const op of (main as CpuBlock).body) {
      if (op.kind === 'label' || op.kind === 'goto' || op.kind === 'if' || op.kind === 'repeat') {
        no(`control flow in the main block (line ${op.pos.line}): only straight-line timer tests are analysed`);
      }
      if (op.kind === 'wait') {
        t += op.ticks;
        continue;
      }
      opTimes.push(t);
      if (op.kind === 'apic-read' && op.reg.offset === TIMER_CCR && arms.some((a) => a.at === t && !a.deadline)) {
        no(`TIMER_CCR is read (line ${op.pos.line}) at the tick its count was armed: what it reads turns on the real machine's delays`);
      }
      if (op.kind !== 'apic-write') continue;
      const r = op.reg.offset;
      if (r !== TIMER_ICR && r !== TIMER_DCR && r !== LVT_TIMER) continue;
      if (op.value.kind !== 'num') no(`a computed ${op.reg.name ?? hex(r)} (line ${op.pos.line})`);
      const v = Number((op.value as Extract<Expr, { kind: 'num' }>).value & 0xffffffffn);
      if (r === TIMER_DCR) dcr = v;
      else if (r === LVT_TIMER) lvt = v;
      else if (v > 0) {
        // TSC-deadline mode (10) ignores the count in the model; a backend without it may count one-shot: analysed
        // as one-shot.
        const deadline = ((lvt >> 17) & 3) === 2;
        if (deadline) this.needs.tscDeadlineMode = true;
        arms.push({ at: t, line: op.pos.line, expiry: t + v * divide(dcr), periodic: ((lvt >> 17) & 3) === 1, masked: (lvt & 0x10000) !== 0, deadline });
      }
    }
    for (const a of arms) {
      if (a.periodic && !a.masked && opTimes.every((x) => x <= a.at)) {
        no(`the periodic count armed at line ${a.line} is never stopped: the model has no final state (every run would end at the time limit)`);
      }
      const later = opTimes.filter((x) => x > a.at);
      if (a.periodic && later.length > 0) {
        no(`ops run at tick ${later[0]} after the periodic count armed at line ${a.line}: how many periods have passed by then turns on the real machine's delays`);
      }
      const early = later.find((x) => x < a.expiry + TIMER_MARGIN_TICKS);
      if (early !== undefined) {
        no(`an op runs at tick ${early}, before the count armed at line ${a.line} expires at tick ${a.expiry} (plus ${TIMER_MARGIN_TICKS}): a descheduled vCPU may run it after the expiry`);
      }
    }
  }

  private checkOp(op: Op, b: Block, where: string): void {
    const text = printOp(op).split('\n')[0];
    const src = b.kind === 'cpu' ? b.cpu : -1;
    const no = (reason: string): never => this.refuse(`${where}: ${text}`, reason, op.pos);
    this.nested.op(op, src, no);
    switch (op.kind) {
      case 'ioapic-write': {
        const i = op.reg.index;
        if (i < 0x10 || i >= 0x10 + 2 * IOAPIC_PINS) no('only the redirection table (REDTBLn_LO/HI) is compiled: the ID and arbitration registers are shared by every run');
        if ((i & 1) === 1 && op.value.kind === 'num') {
          const id = Number((op.value.value >> 24n) & 0xffn);
          if (id >= this.n) no(`destination ${hex(id)} may reach the spare CPUs that run the coordinator`);
        } else if ((i & 1) === 1) {
          no('a computed destination may reach the spare CPUs that run the coordinator');
        }
        this.ioapicPins.add((i - 0x10) >> 1);
        break;
      }
      case 'irq': {
        const r = IRQ_LINE_REFUSED[op.gsi];
        if (r !== undefined) no(r);
        if (op.gsi >= 16) no(`GSI ${op.gsi} is a PCI interrupt pin (16-23): pc-testdev drives only ISA IRQ lines 0-15, which QEMU wires to pins 1 and 3-15 one to one`);
        this.irqLines.add(op.gsi);
        this.ioapicPins.add(op.gsi);
        this.needs.irqLines = true;
        break;
      }
      case 'msi': {
        const mode = op.mode ?? 'fixed';
        if (mode !== 'fixed' && mode !== 'lowest' && mode !== 'nmi') no(`an MSI with delivery mode ${mode} (not compiled: it may reach the BSP or a spare, or needs SMBASE handling)`);
        if (op.dest.kind !== 'cpu' && op.dest.kind !== 'phys' && op.dest.kind !== 'logical') no('an MSI has no destination shorthand');
        if (this.targets(op.dest, -1).spare) no('the MSI may reach the spare CPUs that run the coordinator');
        if (mode !== 'nmi' && op.vector >= 16 && op.vector < 32) no('vectors 16-31 are exceptions in the guest (0-15 are illegal: SDM Vol 3A 11.5.2, the APIC never accepts them)');
        if (mode === 'nmi') this.needs.nmi = true;
        this.needs.msi = true;
        break;
      }
      case 'hotplug': case 'unplug':
        no('CPU hot-plug is not emulated by the backends here');
        break;
      case 'preempt': case 'resume': case 'post':
        no('vCPU scheduling and posted interrupts belong to a hypervisor the model plays; no backend here runs the guest that way');
        break;
      case 'smbase':
        if (op.value.kind !== 'num') no('a computed SMBASE: the runtime installs its SMM entry at every SMBASE a test can reach before the run, so the value must be a constant');
        this.smbaseValue(Number((op.value as Extract<Expr, { kind: 'num' }>).value), `${where}: ${text}`, op.pos);
        this.smbaseOps = true;
        break;
      case 'apic-write':
        if (op.reg.offset === TIMER_ICR) this.timer = true;
        break;
      case 'wrmsr':
        if (op.msr.index === MSR_TSC_DEADLINE) no('IA32_TSC_DEADLINE is an absolute TSC value: the model\'s TSC starts with the run, the machine\'s at reset, and the deadline is not rescaled to model ticks (not compiled)');
        if (op.msr.index === X2APIC_TIMER_ICR_MSR) no('the x2APIC timer initial count (MSR 0x838) is not rescaled to model ticks (only the xAPIC TIMER_ICR write is)');
        // x2APIC use: its MSRs, or an IA32_APIC_BASE write that may set EXTD (bit 10)
        if (op.msr.index >= 0x800 && op.msr.index <= 0x8ff) this.needs.x2apic = true;
        if (op.msr.index === MSR_APIC_BASE && (op.value.kind !== 'num' || (op.value.value & 0x400n) !== 0n)) this.needs.x2apic = true;
        break;
      case 'rdmsr':
        if (op.msr.index >= 0x800 && op.msr.index <= 0x8ff) this.needs.x2apic = true;
        break;
      case 'send':
        this.checkSend(op, src, no);
        break;
      case 'signal': {
        if (op.target === 'all' && op.signal !== 'nmi') no(`${op.signal.toUpperCase()} to every processor would reach the spare CPUs that run the coordinator${op.signal === 'smi' ? ', and they share one SMBASE' : ''}`);
        if (op.signal === 'init' && op.target === 0) no('INIT to the BSP sends it to the firmware on a real machine');
        if (op.signal === 'smi') {
          this.needs.smm = true;
          if (op.target !== 'all') {
            this.smiTargets.add(op.target);
            if (op.target === 0) this.needs.smiToP0 = true;
          }
        }
        if (op.signal === 'nmi') this.needs.nmi = true;
        if (op.signal === 'init' && op.target !== 'all') this.flags[op.target] |= FLAG.WFSABLE;
        break;
      }
      case 'wait':
        break;
      default:
        break;
    }
  }

  private checkSend(op: SendOp, src: number, no: (reason: string) => never): void {
    const t = this.targets(op.dest, src);
    const v = op.vector ?? 0;
    switch (op.mode) {
      case 'init':
        if (t.cpus.includes(0)) no('INIT to the BSP sends it to the firmware on a real machine');
        if (t.spare) no('INIT would reach the spare CPUs that run the coordinator');
        if (op.dest.kind === 'logical') no('a logical INIT may reach the BSP');
        if (op.level !== 'deassert') for (const c of t.cpus) this.flags[c] |= FLAG.WFSABLE;
        break;
      case 'smi':
        if (t.spare) no('the SMI would reach the spare CPUs that run the coordinator');
        this.needs.smm = true;
        for (const c of t.cpus) this.smiTargets.add(c);
        if (t.cpus.includes(0)) this.needs.smiToP0 = true;
        break;
      case 'lowest':
        if (t.spare) no('lowest priority could pick a spare CPU');
        if (v < 32) no('vectors 0-31 are exceptions in the guest');
        break;
      case 'fixed':
        if (v < 32) no('vectors 0-31 are exceptions in the guest');
        break;
      case 'sipi':
        if (v === 0 || v >= 0x9f || (v >= SMRAM_PAGES[0] && v <= SMRAM_PAGES[1])) {
          no(`the SIPI page ${hex(v << 12)} is not free memory in the guest (the IVT, SMRAM at 0x30000-0x3ffff, or the EBDA and BIOS above 0x9f000)`);
        }
        this.sipiPages.add(v);
        break;
      case 'nmi':
        this.needs.nmi = true;
        break;
      default:
        break;
    }
  }

  private scanObservables(): void {
    for (const o of allObservables(this.test)) {
      const name = observableName(o);
      switch (o.kind) {
        case 'smbase':
          // Read by an SMI after the ping (the CS base of the handler it enters), or the SMBASE it entered its SMM
          // code with when it is still there.
          if (this.flags[o.cpu] & FLAG.WFSABLE) this.refuse(name, `P${o.cpu} may end in wait-for-SIPI: SMBASE is read with an SMI, which a CPU there holds or loses (CONFORMANCE.md F5)`, o.pos);
          if (this.kinds[o.cpu] === KIND.PARK) this.refuse(name, 'P0 has no main block: the model has it wait for a SIPI, a real BSP cannot', o.pos);
          this.smbaseObserved.add(o.cpu);
          this.needs.smm = true;
          if (o.cpu === 0) this.needs.smiToP0 = true;
          break;
        case 'vmx': case 'vmexits':
          this.nested.observable(o);
          break;
        case 'running': case 'pir':
          this.refuse(name, 'vCPU state of a hypervisor the model plays', o.pos);
          break;
        case 'remote-irr':
          this.ioapicPins.add(o.pin);
          break;
        case 'irr': case 'isr': case 'tmr': case 'apic-reg': case 'apic-mode':
          if (this.flags[o.cpu] & FLAG.WFSABLE) {
            this.refuse(name, `P${o.cpu} may end in wait-for-SIPI, where it runs nothing that could read its local APIC (another CPU cannot)`, o.pos);
          }
          if (this.kinds[o.cpu] === KIND.PARK) this.refuse(name, 'P0 has no main block: the model has it wait for a SIPI, a real BSP cannot', o.pos);
          break;
        case 'activity': case 'smm':
          if (this.kinds[o.cpu] === KIND.PARK) this.refuse(name, 'P0 has no main block: the model has it wait for a SIPI, a real BSP cannot', o.pos);
          break;
        case 'mem':
          this.mem(o.name, o.pos);
          break;
        case 'reg':
          this.regIndex(o.reg, o.pos);
          break;
        case 'agent-reg':
          this.regIndex(o.reg, o.pos);
          break;
        default:
          break;
      }
    }
  }

  /** The simulator's observables: allObservables without repeats (Simulator's constructor does the same). */
  private observableList(): Observable[] {
    const seen = new Set<string>();
    return allObservables(this.test).filter((o) => {
      const k = observableName(o);
      return seen.has(k) ? false : (seen.add(k), true);
    });
  }

  // ---- emission --------------------------------------------------------------------------------------------

  private next(): string {
    return `.i${++this.label}`;
  }

  private reg(p: Proc, r: string): string {
    if (r === 'sv') return `PC_SIPI_VECTOR + ${p.apicId} * 4`;
    return `R(${p.index}, ${Number(r.slice(1))})`;
  }

  /** edx:eax = e. */
  private expr(e: Expr, p: Proc, out: string[]): void {
    switch (e.kind) {
      case 'num':
        out.push(`  mov eax, ${hex(e.value & 0xffffffffn)}`, `  mov edx, ${hex(e.value >> 32n)}`);
        return;
      case 'reg':
        if (e.reg === 'sv') out.push(`  mov eax, [${this.reg(p, 'sv')}]`, '  xor edx, edx');
        else out.push(`  mov eax, [${this.reg(p, e.reg)}]`, `  mov edx, [${this.reg(p, e.reg)} + 4]`);
        return;
      case 'bin':
        this.expr(e.left, p, out);
        out.push('  push edx', '  push eax');
        this.expr(e.right, p, out);
        out.push('  mov ebx, eax', '  mov ecx, edx', '  pop eax', '  pop edx');
        switch (e.op) {
          case '+': out.push('  add eax, ebx', '  adc edx, ecx'); break;
          case '-': out.push('  sub eax, ebx', '  sbb edx, ecx'); break;
          case '&': out.push('  and eax, ebx', '  and edx, ecx'); break;
          case '|': out.push('  or eax, ebx', '  or edx, ecx'); break;
          case '^': out.push('  xor eax, ebx', '  xor edx, ecx'); break;
          case '<<': out.push('  call lit_shl64'); break;
          case '>>': out.push('  call lit_shr64'); break;
        }
    }
  }

  private setReg(p: Proc, r: string, out: string[]): void {
    out.push(`  mov [${this.reg(p, r)}], eax`, `  mov [${this.reg(p, r)} + 4], edx`);
  }

  /** Code for a block body. `labels` maps the block's litmus labels to NASM local labels. */
  private ops(ops: Op[], p: Proc, ctx: BlockCtx, out: string[]): void {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op.kind !== 'label') out.push(`  ; ${op.pos.line}: ${printOp(op).split('\n')[0]}`);
      // STI's shadow covers one instruction: an op after STI is prepared before it, so that its one visible
      // instruction (a store's write) is the one in the shadow, as the model's shadow covers the whole op.
      if (op.kind === 'sti' && i + 1 < ops.length && ops[i + 1].kind === 'store') {
        const st = ops[i + 1] as Extract<Op, { kind: 'store' }>;
        out.push(`  ; ${st.pos.line}: ${printOp(st)} (prepared before the STI: its write is the instruction in the shadow)`);
        this.expr(st.value, p, out);
        const m = this.mem(st.loc, st.pos);
        out.push(`  mov [${m} + 4], edx`, '  sti', `  xchg [${m}], eax`);
        i++;
        continue;
      }
      this.op(op, p, ctx, out);
    }
  }

  private op(op: Op, p: Proc, ctx: BlockCtx, out: string[]): void {
    const cpu = p.apicId;
    switch (op.kind) {
      case 'store': {
        this.expr(op.value, p, out);
        const m = this.mem(op.loc, op.pos);
        out.push(`  mov [${m} + 4], edx`, `  xchg [${m}], eax                ; a locked write: sequentially consistent`);
        return;
      }
      case 'load': {
        const m = this.mem(op.loc, op.pos);
        out.push(`  mov eax, [${m}]`, `  mov edx, [${m} + 4]`);
        this.setReg(p, op.reg, out);
        return;
      }
      case 'assign':
        this.expr(op.value, p, out);
        this.setReg(p, op.reg, out);
        return;
      case 'await': {
        const m = this.mem(op.loc, op.pos);
        const top = this.next(), spin = this.next(), done = this.next();
        const blocked = `LIT_BLOCKED + ${p.apicId} * 4`;
        out.push(`  push dword [${blocked}]`, `  mov dword [${blocked}], 1   ; blocked: the run may end here`, `${top}:`);
        this.expr(op.value, p, out);
        const aw = `LIT_AWAIT + ${p.apicId} * 16`;
        out.push(`  mov dword [${aw}], ${m}`, `  mov [${aw} + 4], eax`, `  mov [${aw} + 8], edx`, `  mov dword [${aw} + 12], ${op.cmp === '==' ? 1 : 2}`);
        if (op.cmp === '==') {
          out.push(`  cmp [${m}], eax`, `  jne ${spin}`, `  cmp [${m} + 4], edx`, `  je ${done}`);
        } else {
          out.push(`  cmp [${m}], eax`, `  jne ${done}`, `  cmp [${m} + 4], edx`, `  jne ${done}`);
        }
        out.push(`${spin}:`, ...(ctx.smm ? [`  inc dword [LIT_BEAT + ${p.apicId} * 4]`] : []), '  pause', `  jmp ${top}`, `${done}:`, `  mov dword [LIT_AWAIT + ${p.apicId} * 16], 0`, `  pop dword [${blocked}]`);
        return;
      }
      case 'apic-write':
        this.expr(op.value, p, out);
        if (this.timer && op.reg.offset === TIMER_ICR) {
          const ok = this.next();
          out.push('  mul dword [lit_timer_k]              ; model ticks -> timer ticks (one model tick: LIT_TIMER_WAIT_US)', '  test edx, edx', `  jz ${ok}`, '  mov eax, 0xFFFFFFFF', `${ok}:`);
        }
        out.push(`  mov [APIC_BASE + ${hex(op.reg.offset)}], eax   ; xAPIC MMIO`);
        return;
      case 'apic-read':
        out.push(`  mov eax, [APIC_BASE + ${hex(op.reg.offset)}]   ; xAPIC MMIO`, '  xor edx, edx');
        if (this.timer && op.reg.offset === TIMER_CCR) {
          const ok = this.next();
          out.push('  div dword [lit_timer_k]              ; timer ticks -> model ticks, rounded up', '  test edx, edx', `  jz ${ok}`, '  inc eax', `${ok}:`, '  xor edx, edx');
        }
        this.setReg(p, op.dst, out);
        return;
      case 'wrmsr': {
        const after = this.next();
        this.expr(op.value, p, out);
        out.push(
          `  mov ecx, ${hex(op.msr.index)}`,
          `  mov dword [PC_FIXUP + ${cpu} * 4], ${after}   ; a #GP counts in P${cpu}.faults and skips the op`,
          '  wrmsr',
          `  mov dword [PC_FIXUP + ${cpu} * 4], 0`,
          `${after}:`,
        );
        if (op.msr.index === MSR_APIC_BASE) out.push('  call lit_sync_mode                ; the APIC mode the runtime\'s helpers use');
        return;
      }
      case 'rdmsr': {
        const after = this.next();
        out.push(
          `  mov ecx, ${hex(op.msr.index)}`,
          `  mov dword [PC_FIXUP + ${cpu} * 4], ${after}   ; a #GP counts in P${cpu}.faults and skips the op`,
          '  rdmsr',
          `  mov dword [PC_FIXUP + ${cpu} * 4], 0`,
        );
        this.setReg(p, op.dst, out);
        out.push(`${after}:`);
        return;
      }
      case 'send':
        this.send(op, p, out);
        return;
      case 'hlt': {
        const blocked = `LIT_BLOCKED + ${p.apicId} * 4`;
        out.push(`  push dword [${blocked}]`, `  mov dword [${blocked}], 1   ; blocked: the run may end here`, '  hlt', `  pop dword [${blocked}]`);
        return;
      }
      case 'sti': case 'cli': case 'pause': case 'nop':
        out.push(`  ${op.kind}`);
        return;
      case 'eoi':
        out.push('  APIC_WR APIC_EOI, 0                 ; MMIO, or the EOI MSR in x2APIC mode');
        return;
      case 'rsm':
        out.push('  jmp lit_smm_exit');
        return;
      case 'smbase': {
        // SDM Vol 3C 32.11 SMBASE Relocation: the handler writes the save-state SMBASE field; RSM loads it, so
        // the new SMBASE takes effect at the next SMI. The field's address was found at SMM entry (litmus.asm).
        const skip = this.next();
        this.expr(op.value, p, out);
        out.push(`  mov edi, [LIT_SMBASE_FLD + ${cpu} * 4]   ; the save-state SMBASE field (AMD64 or Intel map)`, '  test edi, edi', `  jz ${skip}`, '  mov [edi], eax', `${skip}:`);
        return;
      }
      case 'wait':
        out.push(`  mov eax, ${op.ticks * this.waitPerTick}                     ; ${this.waitPerTick} µs a tick`);
        out.push(...(ctx.smm ? [`  mov ebx, ${p.apicId}`, '  call lit_delay_beat                 ; (in SMM: with a heartbeat)'] : ['  call lapis_delay_us']));
        return;
      case 'label':
        out.push(`${ctx.label(op.name)}:                          ; ${op.name}:`);
        return;
      case 'goto':
        out.push(`  jmp ${ctx.label(op.label)}`);
        return;
      case 'if': {
        const cc = { '==': 'je', '!=': 'jne', '<': 'jb', '>': 'ja', '<=': 'jbe', '>=': 'jae' }[op.cmp];
        const hi = this.next();
        this.expr(op.value, p, out);
        out.push('  mov ebx, eax', '  mov ecx, edx');
        if (op.reg === 'sv') out.push(`  mov eax, [${this.reg(p, 'sv')}]`, '  xor edx, edx');
        else out.push(`  mov eax, [${this.reg(p, op.reg)}]`, `  mov edx, [${this.reg(p, op.reg)} + 4]`);
        out.push('  cmp edx, ecx', `  jne ${hi}`, '  cmp eax, ebx', `${hi}:`, `  ${cc} ${ctx.label(op.label)}`);
        return;
      }
      case 'repeat': {
        const slot = `lit_rep_${++this.label}`;
        this.data.push(`${slot}: dd 0`);
        const top = this.next(), end = this.next();
        out.push(`  mov dword [${slot}], ${op.count}`, `${top}:`, `  cmp dword [${slot}], 0`, `  je ${end}`, `  dec dword [${slot}]`);
        this.ops(op.body, p, ctx, out);
        out.push(`  jmp ${top}`, `${end}:                              ; end of repeat`);
        return;
      }
      case 'irq': {
        // pc-testdev: port 0x2000 + n sets ISA IRQ line n (QEMU wires it to I/O APIC pin n; guest/ioapic.asm)
        const lvl = op.action === 'deassert' ? [0] : op.action === 'assert' ? [1] : [1, 0];
        out.push('  LIT_EVENT');
        for (const l of lvl) out.push(`  mov eax, ${op.gsi}`, `  mov edx, ${l}`, `  call lit_irq_line                  ; ISA IRQ ${op.gsi} ${l ? 'high' : 'low'} (pin ${op.gsi})`);
        out.push('  LIT_EVENT');
        return;
      }
      case 'ioapic-write':
        this.expr(op.value, p, out);
        out.push('  mov edx, eax', `  mov eax, ${hex(op.reg.index)}`, '  call lit_ioapic_write              ; IOREGSEL, then IOWIN (under the I/O APIC lock)', '  LIT_EVENT');
        return;
      case 'msi': {
        // SDM Vol 3A 11.11.1 Message Address Register: 0xFEE, destination ID in bits 19:12, RH bit 3, DM bit 2
        // (logical: RH = DM = 1, so that both readings of DM agree); 11.11.2 Message Data Register: vector,
        // delivery mode bits 10:8, level bit 14 (assert), trigger bit 15 (edge).
        const d = op.dest;
        const id = d.kind === 'cpu' ? d.cpu : d.kind === 'phys' ? d.id : d.kind === 'logical' ? d.mask : 0;
        const addr = (0xfee00000 | ((id & 0xff) << 12) | (d.kind === 'logical' ? 0xc : 0)) >>> 0;
        const data = (op.vector | (DELIVERY_MODES.indexOf(op.mode ?? 'fixed') << 8) | (1 << 14)) >>> 0;
        out.push(op.mode === 'nmi' ? '  LIT_EVENT_LONG' : '  LIT_EVENT', `  mov eax, ${hex(addr)}`, `  mov edx, ${hex(data)}`, '  call lit_msi_send                  ; the edu device sends the message');
        return;
      }
      case 'vmentry': case 'vmxon': case 'vmxoff':
        out.push(...this.nested.opCode(op, cpu));
        return;
      case 'signal': {
        const mode = { smi: 'ICR_SMI', nmi: 'ICR_NMI', init: 'ICR_INIT' }[op.signal];
        out.push('  LIT_EVENT_LONG');
        if (op.target === 'all') {
          out.push(`  SEND ${mode} | ICR_ASSERT | ICR_OTHERS, 0   ; the pin of every processor: an IPI to all but this spare`);
        } else {
          if (op.signal === 'init') out.push(`  LIT_INIT_SENT ${op.target}`);
          out.push(`  SEND ${mode} | ICR_ASSERT, ${op.target}           ; the platform's ${op.signal.toUpperCase()}: an IPI from spare ${p.apicId}`);
        }
        return;
      }
      default:
        this.refuse(printOp(op), 'not compiled', op.pos);
    }
  }

  private send(op: SendOp, p: Proc, out: string[]): void {
    const d = op.dest;
    let icr = (op.vector ?? 0) | (MODE_CODE[op.mode] << 8);
    let dest = 0;
    if (d.kind === 'logical') icr |= 1 << 11;
    if (op.level !== 'deassert') icr |= 1 << 14;
    if (op.trigger === 'level') icr |= 1 << 15;
    if (d.kind === 'self') icr |= 1 << 18;
    else if (d.kind === 'all') icr |= 2 << 18;
    else if (d.kind === 'others') icr |= 3 << 18;
    else if (d.kind === 'cpu') dest = d.cpu;
    else if (d.kind === 'phys') dest = d.id;
    else if (d.kind === 'logical') dest = d.mask;
    if (op.mode === 'init' && op.level !== 'deassert') {
      for (const c of this.targets(d, p.apicId).cpus) out.push(`  LIT_INIT_SENT ${c}`);
    }
    if (op.mode === 'sipi') {
      for (const c of this.targets(d, p.apicId).cpus) out.push(`  mov eax, ${c}`, '  call lit_sipi_sent                  ; (the run waits for it if P' + c + ' waits for a SIPI)');
    }
    out.push(`  LIT_SEND ${p.apicId}, ${hex(icr)}, ${hex(dest)}`);
  }

  private emit(spares: number, observables: Observable[], iterTimeoutUs: number): string {
    const t = this.test;
    const o: string[] = [];
    const smm = this.needs.smm;
    const countLow = countedLowVectors(observables);
    o.push(
      `; lapis ${t.name}: compiled by lapis (src/backends/compile.ts) for the conformance runner`,
      ...(t.description ? [`; ${t.description}`] : []),
      '; Read with guest/litmus.asm (the iteration loop, the end-of-test ping, P0\'s reset) and docs/conformance.md.',
      `; P0..P${this.n - 1}: the test's CPUs (APIC IDs 0..${this.n - 1}); APIC ID ${this.n}: the coordinator${this.agents.length > 0 ? ` (plays D${this.agents[0].agent})` : ''}${this.agents.slice(1).map((a, i) => `; APIC ID ${this.n + 1 + i}: D${a.agent}`).join('')}.`,
      '',
      `%define LAPIS_CPUS ${this.n + spares}`,
      '%define LAPIS_ACTIVE_APS 0',
      '%define LAPIS_WATCHDOG_MS 10000',
      `%define LIT_CPUS ${this.n}`,
      `%define LIT_SPARES ${spares}`,
      `%define LIT_SMM ${smm ? 1 : 0}`,
      ...(this.timer ? [`%define LIT_TIMER_WAIT_US ${TIMER_WAIT_US_PER_TICK}   ; the test arms the APIC timer: one model tick`] : []),
      `%define LIT_IOAPIC ${this.ioapicPins.size > 0 ? 1 : 0}`,
      `%define LIT_MSI ${this.needs.msi ? 1 : 0}`,
      ...this.nested.defines(),
      ...(countLow !== 0 ? [`%define LAPIS_COUNT_LOW ${hex(countLow)}   ; vectors below 32 the test counts: entries there are interrupts`] : []),
      `%define LIT_ITER_TIMEOUT_US ${iterTimeoutUs}`,
      `%define LIT_SETTLE_US ${this.settleUs}`,
      '%ifndef ITERATIONS',
      '  %define ITERATIONS 1',
      '%endif',
      '%include "runtime.asm"',
      '%include "litmus.asm"',
      '',
      '%define R(p, k) (lit_regs + ((p) * 32 + (k)) * 8)   ; register rk of process p (CPUs, then agents)',
      '',
      'test_main:',
      '  jmp lit_boot',
      '',
      '; The test\'s handlers, registered once at boot.',
      'lit_install:',
    );
    for (let c = 0; c < this.n; c++) {
      for (const b of this.cpuBlocks(c)) {
        if (b.handler === 'vector') o.push(`  ON_VECTOR ${c}, ${hex(b.vector ?? 0)}, P${c}_on_vector_${hex(b.vector ?? 0)}`);
        if (b.handler === 'nmi') o.push(`  ON_VECTOR ${c}, 2, P${c}_on_nmi`);
        if (b.handler === 'smi') o.push(`  mov dword [LIT_SMM_BODY + ${c} * 4], P${c}_on_smi`);
      }
    }
    o.push('  ret', '');

    // Per CPU: start code, SIPI entry, blocks, report routine.
    const reports: string[][] = [];
    for (let c = 0; c < this.n; c++) {
      const p = this.procs.get(`P${c}`) as Proc;
      o.push(`; ==== P${c} ${'='.repeat(100)}`.slice(0, 110));
      o.push(...this.startCode(c));
      o.push(...this.sipiEntry(c));
      for (const b of this.cpuBlocks(c)) o.push(...this.blockCode(b, p));
      reports.push(this.reportCode(c, observables));
      o.push(...reports[c]);
    }
    for (const a of this.agents) {
      const p = this.procs.get(`D${a.agent}`) as Proc;
      o.push(`; ==== D${a.agent}, played by spare CPU ${p.apicId} ${'='.repeat(90)}`.slice(0, 110));
      o.push(`D${a.agent}_body:`);
      const out: string[] = [];
      this.ops(a.block.body, p, new BlockCtx(), out);
      o.push(...out, '  ret', '');
    }

    o.push('; ==== the run line ' + '='.repeat(90), 'lit_print_run:', '  LINE_BEGIN', "  LINE_KV 'run', [lit_iter]", '  call lit_line_meta');
    for (const ob of observables) o.push(...this.printObservable(ob));
    o.push('  LINE_END', '  ret', '');

    // Tables.
    o.push('; ==== tables ' + '='.repeat(96), 'align 4');
    o.push(`lit_cpu_kind: db ${this.kinds.map((k, c) => this.nested.tableKind(c, k)).join(', ')}`);
    o.push(`lit_cpu_flags: db ${this.flags.join(', ')}`);
    o.push('align 4');
    o.push(`lit_cpu_start: dd ${[...Array(this.n).keys()].map((c) => `P${c}_start`).join(', ')}`);
    o.push(`lit_cpu_sipi: dd ${[...Array(this.n).keys()].map((c) => `P${c}_sipi_entry`).join(', ')}`);
    o.push(`lit_cpu_report: dd ${reports.map((r, c) => (r.length > 0 ? `P${c}_report` : '0')).join(', ')}`);
    const bodies: string[] = [];
    for (let i = 0; i < spares; i++) bodies.push(i < this.agents.length ? `D${this.agents[i].agent}_body` : '0');
    o.push(`lit_agent_body: dd ${bodies.join(', ')}`);
    o.push(`lit_sipi_pages: db ${[...this.sipiPages].sort((a, b) => a - b).map((v) => `${hex(v)}, `).join('')}0`);
    o.push(...this.nested.tables());
    if (smm) {
      const bases = [...new Set([SMBASE_DEFAULT, ...this.smbaseValues, ...this.smbaseSetup.values()])].sort((a, b) => a - b);
      o.push('align 4', `lit_smbases: dd ${bases.map((b) => `${hex(b)}, `).join('')}0   ; the SMM entry at each + 0x8000`);
      o.push(`lit_smbase_init: dd ${[...this.smbaseSetup].map(([c, b]) => `${c}, ${hex(b)}, `).join('')}0xffffffff   ; cpu, SMBASE before go`);
      o.push(`lit_smbase_probe: dd ${[...this.smbaseObserved].sort((a, b) => a - b).map((c) => `${c}, `).join('')}0xffffffff   ; CPUs whose SMBASE is observed`);
    }
    if (this.ioapicPins.size > 0 || this.needs.msi) {
      o.push(`lit_irq_lines: db ${[...this.irqLines].sort((a, b) => a - b).map((v) => `${v}, `).join('')}0xff   ; ISA IRQ lines the agents drive`);
      o.push(`lit_ioapic_pins: db ${[...this.ioapicPins].sort((a, b) => a - b).map((v) => `${v}, `).join('')}0xff   ; redirection entries the test uses`);
      o.push('align 4', 'lit_ioapic_init:                       ; init: pin, low dword, high dword');
      for (const e of this.ioapicInit) o.push(`  dd ${e.pin}, ${hex(e.lo)}, ${hex(e.hi)}`);
      o.push('  dd 0xffffffff');
    }
    o.push('align 8', 'lit_mem:');
    for (const [name, l] of this.memLabels) o.push(`${l}: dq 0${' '.repeat(Math.max(1, 24 - l.length))}; ${name}`);
    o.push('LIT_MEM_BYTES equ $ - lit_mem', 'lit_mem_init:');
    for (const [name] of this.memLabels) o.push(`  dq ${hex(this.memInit.get(name) ?? 0n)}${' '.repeat(8)}; ${name}`);
    const nproc = this.n + this.agents.length;
    o.push(`lit_regs: times ${nproc * 32} dq 0`, `LIT_REGS_BYTES equ ${nproc * 32 * 8}`, 'lit_regs_init:');
    const inits = [...this.regInit.entries()].sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [slot, v] of inits) {
      if (slot > at) o.push(`  times ${slot - at} dq 0`);
      o.push(`  dq ${hex(v)}                  ; P${Math.floor(slot / 32)}:r${slot % 32}`);
      at = slot + 1;
    }
    if (nproc * 32 > at) o.push(`  times ${nproc * 32 - at} dq 0`);
    o.push('align 4', ...this.data, '');
    return o.join('\n');
  }

  /** After the bring-up SIPI (P0: after its reset): the OS state of a CPU with a main block, or INIT's state;
   *  the init items; ready; wait for go; IF; the main block or the idle loop. */
  private startCode(c: number): string[] {
    const kind = this.kinds[c];
    const own = this.nested.ownStart(c);
    if (own) return own;
    const out: string[] = [`P${c}_start:`];
    if (kind === KIND.WFS) return [`P${c}_start:`, '  jmp lit_park_ap                     ; (waits for a SIPI: never started)', ''];
    if (kind === KIND.PARK) return [`P${c}_start:`, '  jmp lit_park                        ; (P0 without a main block: parked)', ''];
    let ifOn = kind === KIND.MAIN;
    out.push('  call lit_xapic_mode                 ; (INIT keeps x2APIC mode: back to xAPIC)');
    if (kind === KIND.MAIN) out.push('  call apic_enable_this_cpu           ; as an OS leaves it: SVR = 0x1FF, TPR 0, LVTs masked');
    else out.push('  APIC_WR APIC_SVR, 0xFF               ; as INIT leaves it: software-disabled');
    for (const it of this.test.init?.items ?? []) {
      if (!('cpu' in it) || it.cpu !== c) continue;
      switch (it.kind) {
        case 'apic-mode':
          out.push(`  ; init: ${printInitItem(it)}`);
          if (it.value === 'x2apic') out.push('  call lapis_x2apic_enable');
          else if (it.value === 'disabled') {
            out.push('  mov ecx, MSR_APIC_BASE', '  rdmsr', '  and eax, ~0xC00', '  wrmsr', '  call lit_sync_mode');
          }
          break;
        case 'apic-reg':
          out.push(`  ; init: ${printInitItem(it)}`, `  APIC_WR ${hex(it.reg.offset)}, ${hex(it.value & 0xffffffffn)}`);
          break;
        case 'if':
          ifOn = it.value === 1;
          break;
        default:
          break;
      }
    }
    out.push(...this.nested.startLines(c));
    out.push(`  mov eax, ${c}`, '  call lit_ready_wait');
    out.push(ifOn ? '  sti                                 ; IF = 1' : '  ; IF = 0');
    if (kind === KIND.MAIN && this.halts(c)) {
      out.push(`  mov dword [LIT_BLOCKED + ${c} * 4], 1`, '  hlt                                 ; init: halted until an event', `  mov dword [LIT_BLOCKED + ${c} * 4], 0`);
    }
    out.push(kind === KIND.MAIN ? `  jmp P${c}_main` : `  mov dword [LIT_BLOCKED + ${c} * 4], 1
  jmp lit_idle`, '');
    return out;
  }

  private sipiEntry(c: number): string[] {
    const sipi = this.block(c, 'sipi');
    return [
      `P${c}_sipi_entry:                        ; a SIPI of the test (ap_entry32: ebx = vector, ecx = APIC ID)`,
      ...this.nested.sipiEntryLines(c),
      `  mov dword [LIT_BLOCKED + ${c} * 4], 0   ; running`,
      `  mov dword [LIT_SIPI_BUSY + ${c} * 4], ${sipi ? 1 : 0}`,
      `  mov dword [LIT_SIPI_PENDING + ${c} * 4], 0`,
      '  mov eax, 1',
      '  lock xadd [lit_seq], eax',
      '  inc eax',
      `  mov [LIT_SIPI_SEQ + ${c} * 4], eax`,
      '  call lit_sync_mode                  ; INIT keeps the APIC mode',
      `  mov dword [LIT_IN_SMM + ${c} * 4], 0   ; (an INIT may have reset it out of SMM)`,
      '  LIT_EVENT',
      ...(sipi ? [`  jmp P${c}_on_sipi`] : [`  mov eax, ${c}`, '  jmp lit_end_sipi']),
      '',
    ];
  }

  private blockCode(b: CpuBlock, p: Proc): string[] {
    const c = b.cpu;
    const out: string[] = [];
    const ctx = new BlockCtx();
    switch (b.handler) {
      case 'main':
        out.push(`P${c}_main:                              ; ${b.pos.line}: P${c} {`);
        this.ops(b.body, p, ctx, out);
        out.push(`  mov eax, ${c}`, '  jmp lit_end_main                    ; P' + c + '.done = 1, then idle', '');
        return out;
      case 'sipi':
        out.push(`P${c}_on_sipi:                           ; ${b.pos.line}: P${c} on sipi {`);
        this.ops(b.body, p, ctx, out);
        out.push(`  mov eax, ${c}`, '  jmp lit_end_sipi                    ; idle', '');
        return out;
      case 'vector':
      case 'nmi': {
        const name = b.handler === 'nmi' ? `P${c}_on_nmi` : `P${c}_on_vector_${hex(b.vector ?? 0)}`;
        out.push(`${name}:                      ; ${b.pos.line}: P${c} on ${b.handler === 'nmi' ? 'nmi' : `vector ${hex(b.vector ?? 0)}`} { (called after the count; IRET follows)`);
        const blocked = `LIT_BLOCKED + ${c} * 4`;
        out.push(`  mov eax, [${blocked}]`, `  mov dword [${blocked}], 0   ; running (the ping asks again)`, '  push eax', '  cmp dword [lit_drain], 0', '  jne .skip', '  LIT_EVENT');
        this.ops(b.body, p, ctx, out);
        out.push('  LIT_EVENT', '.skip:', `  pop dword [${blocked}]`, '  ret', '');
        return out;
      }
      case 'smi':
        out.push(`P${c}_on_smi:                            ; ${b.pos.line}: P${c} on smi { (in SMM, 32-bit protected mode)`);
        this.ops(b.body, p, new BlockCtx(true), out);
        out.push('  jmp lit_smm_exit', '');
        return out;
      default:
        return this.nested.block(b, (o) => this.ops(b.body, p, ctx, o));
    }
  }

  /** What the CPU reads for its report when pinged; the slot of each observable is its index. */
  private reportCode(c: number, observables: Observable[]): string[] {
    const out: string[] = [];
    observables.forEach((ob, slot) => {
      if (!('cpu' in ob) || ob.cpu !== c || slot >= 32) return;
      switch (ob.kind) {
        case 'irr': case 'isr': case 'tmr': {
          const base = { irr: 'APIC_IRR0', isr: 'APIC_ISR0', tmr: 'APIC_TMR0' }[ob.kind];
          out.push(`  LIT_RD_BIT ${c}, ${slot}, ${base} + ${(ob.vector >> 5) * 0x10}, ${ob.vector & 31}   ; ${observableName(ob)}`);
          break;
        }
        case 'apic-reg':
          out.push(`  LIT_RD_APIC ${c}, ${slot}, ${hex(ob.reg.offset)}   ; ${observableName(ob)}`);
          break;
        case 'apic-mode':
          out.push(`  LIT_RD_BASE ${c}, ${slot}   ; ${observableName(ob)}`);
          break;
        default:
          break;
      }
    });
    if (out.length === 0) return [];
    return [`P${c}_report:                             ; on the end-of-test ping: P${c} reads its own APIC`, ...out, '  ret', ''];
  }

  private printObservable(ob: Observable): string[] {
    const name = observableName(ob);
    const slot = this.observableList().findIndex((x) => observableName(x) === name);
    switch (ob.kind) {
      case 'mem':
        return [`  LIT_KV '${name}', ${this.mem(ob.name, ob.pos)}`];
      case 'reg':
        return [`  LIT_KV '${name}', {${this.reg(this.procs.get(`P${ob.cpu}`) as Proc, ob.reg)}}`];
      case 'agent-reg': {
        const p = this.procs.get(`D${ob.agent}`);
        if (!p) return [`  LIT_KV32 '${name}', lit_zero`];
        return [`  LIT_KV '${name}', {${this.reg(p, ob.reg)}}`];
      }
      case 'done':
        return [`  LIT_KV32 '${name}', LIT_DONE + ${ob.cpu} * 4`];
      case 'faults':
        return [`  LIT_KV32 '${name}', PC_FAULTS + ${ob.cpu} * 4`];
      case 'count': {
        const at = ob.of === 'smi' ? `PC_SMI_COUNT + ${ob.cpu} * 4` : ob.of === 'sipi' ? `PC_SIPI_COUNT + ${ob.cpu} * 4`
          : `COUNT(${ob.cpu}, ${ob.of === 'nmi' ? 2 : hex(ob.of)})`;
        return [`  LIT_KV32 '${name}', {${at}}`];
      }
      case 'irr': case 'isr': case 'tmr': case 'apic-reg':
        if (slot >= 32) this.refuse(name, 'more than 32 observables', ob.pos);
        return [`  LIT_KV_RVAL '${name}', ${ob.cpu}, ${slot}`];
      case 'apic-mode':
        if (slot >= 32) this.refuse(name, 'more than 32 observables', ob.pos);
        return [`  LIT_KV_MODE '${name}', ${ob.cpu}, ${slot}`];
      case 'activity':
        return [`  LIT_KV_ACT '${name}', ${ob.cpu}`];
      case 'remote-irr':
        return [`  LIT_KV_RIRR '${name}', ${ob.pin}`];
      case 'smbase':
        return [`  LIT_KV_SMBASE '${name}', ${ob.cpu}`];
      case 'smm':
        return [`  LIT_KV_SMM '${name}', ${ob.cpu}`];
      default:
        return this.nested.print(ob, name) ?? this.refuse(name, 'not compiled', ob.pos);
    }
  }
}

/** A block's labels: litmus label -> NASM local label. */
class BlockCtx {
  private readonly map = new Map<string, string>();
  /** The block runs in SMM (its awaits beat LIT_BEAT for the INIT-in-SMM evidence). */
  constructor(readonly smm = false) {}
  label(name: string): string {
    let l = this.map.get(name);
    if (!l) {
      l = `.L_${ident(name)}`;
      const taken = new Set(this.map.values());
      for (let i = 2; taken.has(l); i++) l = `.L_${ident(name)}_${i}`;
      this.map.set(name, l);
    }
    return l;
  }
}
