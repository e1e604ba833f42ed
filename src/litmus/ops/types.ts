// The interface every litmus op implements, in one place per op family (src/litmus/ops/*.ts), registered in one
// table (ops/index.ts) typed so that a missing op or a missing part of one is a compile error. Each part is what
// one client needs: the parser (parse), the printer (print), the validator (validate, refs), the simulator (exec,
// enabled), the explorer's partial-order reduction (footprint) and the guest compiler (analyze, emit). The clients
// implement the context interfaces below; an op module imports none of them, so the layers keep pointing down.

import type { Cpu } from '../../cpu/cpu.js';
import type { Machine } from '../../machine/machine.js';
import type { Quirks } from '../../arch/quirks.js';
import type { Block, Dest, Expr, LitmusTest, Observable, Op, OpKind, Pos, Settings, VmmEvent, VmmPart } from '../ast.js';
import type { OutcomeValue } from '../outcome.js';
import type { Cursor } from '../cursor.js';
import type { Token } from '../lexer.js';

export type OpOf<K extends OpKind> = Extract<Op, { kind: K }>;

/** An op on one CPU (`hotplug Pk`, `preempt Pk`): the shape such defs share. */
export type CpuOp = { cpu: number; pos: Pos };

/** The flattened form the simulator and the explorer run: labels resolved to instruction indices, `repeat`
 *  unrolled, and the implicit instructions that end blocks. */
export type Insn =
  | Exclude<Op, { kind: 'label' } | { kind: 'goto' } | { kind: 'if' } | { kind: 'repeat' }>
  | { kind: 'goto'; label: string; target: number; pos: Pos }
  | { kind: 'if'; reg: string; cmp: OpOf<'if'>['cmp']; value: Expr; label: string; target: number; pos: Pos }
  /** End of an interrupt or NMI handler: IRET. */
  | { kind: 'iret'; pos: Pos }
  /** End of the main block, or of the SIPI code: the CPU idles in a HLT loop. */
  | { kind: 'end'; main: boolean; pos: Pos };

/** The instruction an op kind runs as (goto and if with their targets). */
export type InsnOf<K extends OpKind> = K extends 'goto' | 'if' ? Extract<Insn, { kind: K }> : K extends 'label' | 'repeat' ? never : Extract<Insn, { kind: K }>;

/** Which blocks may hold an op: a CPU's, a platform agent's, or both. */
export type Where = 'cpu' | 'agent' | 'any';

/** A keyword that starts an op, and its parser (the cursor is at the keyword; `body` parses a `{ ops }` body). */
export type ParseFn = (p: Cursor, t: Token, body: (what: string) => Op[]) => Op;

export interface ValidateCtx {
  readonly test: LitmusTest;
  readonly settings: Settings;
  readonly block: Block;
  /** The block's title as written (`P1 on smi`, `D0`). */
  readonly where: string;
  error(pos: Pos, message: string): void;
}

/** What names an op uses: CPUs, memory words, registers. One walk serves the validator and the simulator. */
export interface RefsCtx {
  cpu(cpu: number, pos: Pos): void;
  dest(d: Dest): void;
  readMem(name: string, pos: Pos): void;
  writeMem(name: string, pos: Pos): void;
  readReg(name: string, pos: Pos): void;
  writeReg(name: string, pos: Pos): void;
  expr(e: Expr): void;
}

/** A frame on a CPU's handler stack (the simulator's). A VM-exit frame holds the guest's PC while L1 runs. */
export const FrameKind = { NONE: -1, INTR: 0, NMI: 1, SMM: 2, VMEXIT: 3 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** The simulator, as the process whose op runs sees it. */
export interface ExecCtx {
  readonly machine: Machine;
  readonly quirks: Readonly<Quirks>;
  /** This process's CPU index, or -1 for a platform agent. */
  readonly c: number;
  /** This process's CPU, or null for a platform agent. */
  readonly cpu: Cpu | null;
  readonly pc: number;
  eval(e: Expr): bigint;
  reg(name: string): bigint;
  setReg(name: string, v: bigint): void;
  mem(name: string): bigint;
  setMem(name: string, v: bigint): void;
  /** The op faulted (#GP, #UD): Pn.faults counts it and the op has no other effect. */
  fault(what: string): void;
  trace(line: string): void;
  /** Virtual time this process waits for, in APIC-timer ticks at divide-by-1. */
  wait(ticks: number): void;
  /** The CPU executes HLT (a vCPU may be descheduled by its hypervisor). */
  halt(): void;
  /** Guest register accesses, through the hardware-assist layer when the CPU is a vCPU. */
  apicWrite(offset: number, value: number): void;
  apicRead(offset: number): number;
  /** False on #GP. */
  wrmsr(msr: number, value: bigint): boolean;
  /** null on #GP. */
  rdmsr(msr: number): bigint | null;
  eoi(): void;
  /** An ICR write (xAPIC: ICR_HI then ICR_LO as one step; x2APIC: one WRMSR to the ICR MSR). */
  icrWrite(lo: number, destination: number): void;
  /** Platform and host actions on CPU `target` (pins, hot-plug, vCPU scheduling, posted interrupts). */
  signal(kind: 'smi' | 'nmi' | 'init', target: number): void;
  hotplug(target: number): void;
  unplug(target: number): void;
  preempt(target: number): void;
  resume(target: number): void;
  post(vector: number, target: number): void;
  /** Extensions (docs/litmus.md, "What is new in v2"). An observable's value now (`await Pk.activity == ...`). */
  observe(o: Observable): OutcomeValue;
  /** MOV to CR8 (false: #GP) and from CR8, through the hardware-assist layer when the CPU is a vCPU. */
  cr8Write(value: bigint): boolean;
  cr8Read(): number;
  /** A 32-bit access at a physical address: the CPU's own APIC page goes through the assist as a register access. */
  physRead(address: number): number;
  physWrite(address: number, value: number): void;
  /** The RESET# pin of CPU `target`; its LINT0/LINT1 pin; the 8259A's input. */
  resetPin(target: number): void;
  lint(target: number, pin: 0 | 1, asserted: boolean): void;
  picInput(irq: number, high: boolean): void;
  /** A VMM's host-side ops on vCPU `target` (decision D-36). */
  vmmSave(target: number): void;
  vmmRestore(target: number, part: VmmPart): void;
  vmmEvent(target: number, event: VmmEvent, on: boolean): void;
  /** The PC of the shutdown state (a triple fault), to which an NMI or SMI handler returns (decision D-32). */
  readonly shutdownPc: number;
  /** The innermost handler frame's kind, and leaving it (the frame's return PC and saved IF). */
  topFrame(): FrameKind;
  popFrame(): { pc: number; savedIf: boolean };
  /** A VM entry from an L1 exit handler, with its controls; returns the next PC. */
  vmEntry(mode: OpOf<'vmentry'>['mode'], controls: { intrWindow: boolean; nmiWindow: boolean; rvi: number | null }): number;
  /** The CPU's idle loop (after its code: HLT, still taking interrupts). */
  readonly idlePc: number;
}

/** Objects a step touches, for partial-order reduction (src/explore/por.ts: what each object stands for). */
export interface FootprintCtx {
  /** The CPU whose op this is, or -1 for an agent. */
  readonly c: number;
  /** Include the effects of the messages the op sends when they arrive (a process's static future). */
  readonly future: boolean;
  readonly settings: Settings;
  readMem(name: string): void;
  writeMem(name: string): void;
  /** The op writes its own CPU's addressing configuration (APIC ID, LDR, DFR, mode). */
  writeOwnConfig(): void;
  /** The op reads its own ICR delivery status. */
  readOwnStatus(): void;
  /** A message addressed to `d` (lowest priority reads the targets' priorities); `now`: it arrives in this step. */
  dest(d: Dest, lowest: boolean, now?: boolean): void;
  writeCpu(cpu: number): void;
  writeAllCpus(): void;
  /** The op writes its CPU's SMRAM state-save map, which CPUs in SMM with the same SMBASE share (decision D-26). */
  writeSaveMap(): void;
  writeIoapic(): void;
  writeCpuConfig(cpu: number): void;
  /** The op reads another CPU's whole state (`await P1.activity == halted`), or the I/O APIC's. */
  readCpu(cpu: number): void;
  readIoapic(): void;
}

/** The test CPUs a destination may reach on the guest machine, and whether it may reach a spare CPU. */
export interface GuestTargets {
  cpus: number[];
  spare: boolean;
  broadcast: boolean;
}

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
  /** The test reaches the I/O APIC's registers (guest/ioapic.asm), whatever pins it uses. */
  ioapic: boolean;
  /** The outcome turns on the I/O APIC's version (its EOI register, VER): the backend's must be the test's. */
  ioapicVersion: boolean;
  /** The test runs an L1 hypervisor in the guest (src/backends/nested.ts): Intel VMX or AMD SVM. */
  nested: NestedKind | null;
  /** Why the test's outcome would turn on host delays between its ops and the APIC timer (an op between arming
   *  and expiry, a periodic count with ops after it), or null: only a backend whose timer and guest run on one
   *  clock of guest instructions runs it (src/backends/timer-plan.ts). */
  timerTiming: string | null;
  /** An agent hot-adds a CPU (`hotplug Pk`): the backend adds it while the guest runs (QMP device_add). */
  hotplug: boolean;
}

/** What a test asks of the hardware assist: Intel VMX (vendor intel), AMD SVM (vendor amd), or VMX for vCPUs of the
 *  guest's L1 with the TPR shadow (`accel = tpr-shadow`) or virtual-interrupt delivery (`accel = apicv`). */
export type NestedKind = 'vmx' | 'svm' | 'vmx-tpr-shadow' | 'vmx-vid';

/** Why a construct is not compiled: a stable category, so reports count refusals without reading their text. */
export type RefusalCategory =
  | 'vcpu-assist' | 'ioapic-msi' | 'apic-timer' | 'nested-vmx' | 'smbase' | 'hotplug' | 'wfs-apic' | 'bsp-init'
  | 'vector-lt-32' | 'x2apic-backend' | 'bochs-cpus' | 'no-smm' | 'no-iret' | 'smi-to-bsp' | 'too-many-cpus'
  | 'tsc-deadline-absolute' | 'no-tsc-deadline' | 'long-waits' | 'observables' | 'spare-cpu' | 'platform-pin' | 'host-vmm' | 'cpu-mode'
  | 'gif' | 'shutdown' | 'apic-ids' | 'pic' | 'await-state' | 'other';

/** The guest compiler's analysis, as one op sees it: refuse it, or record what it needs. */
export interface AnalyzeCtx {
  readonly settings: Settings;
  /** The op is in an `on smi` block. */
  readonly smm: boolean;
  /** The CPU whose block holds the op, or -1 for an agent. */
  readonly src: number;
  refuse(category: RefusalCategory, reason: string): never;
  targets(d: Dest): GuestTargets;
  need(what: Exclude<keyof GuestNeeds, 'nested' | 'timerTiming'>): void;
  /** CPUs an SMI reaches; CPUs an INIT reaches (they may end in wait-for-SIPI); a SIPI page in use. */
  smiTo(cpus: readonly number[]): void;
  initTo(cpus: readonly number[]): void;
  sipiPage(vector: number): void;
  ioapicPin(pin: number): void;
  irqLine(gsi: number): void;
  /** An SMBASE the test writes, checked against the guest's memory. */
  smbase(value: number): void;
  /** The test arms the APIC timer (TIMER_ICR writes are scaled to model ticks). */
  armsTimer(): void;
}

/** The guest compiler's emission, as one op sees it: NASM lines for the op. */
export interface EmitCtx {
  /** Where the code goes. */
  readonly out: string[];
  /** The running CPU's APIC ID (a test CPU, or the spare playing an agent). */
  readonly apicId: number;
  /** The block runs in SMM. */
  readonly smm: boolean;
  /** The test arms the APIC timer: TIMER_ICR values and TIMER_CCR reads are scaled. */
  readonly timer: boolean;
  readonly waitUsPerTick: number;
  /** edx:eax = e. */
  expr(e: Expr): void;
  /** Register rK (or `sv`) as a NASM memory operand's address. */
  reg(name: string): string;
  /** rK = edx:eax. */
  setReg(name: string): void;
  /** The NASM label of a memory word. */
  mem(name: string): string;
  /** A fresh local label. */
  local(): string;
  /** The NASM label of a litmus label of this block. */
  label(name: string): string;
  /** A dword in the data section; returns its label. */
  data(prefix: string): string;
  /** Code for a nested body (`repeat`). */
  body(ops: Op[]): void;
  /** Mark the end of an instruction that opens an interrupt shadow (STI, MOV SS): an NMI taken here is counted by
   *  `Pn.in-shadow(nmi)`. */
  shadowPoint(): void;
  targets(d: Dest): GuestTargets;
  refuse(category: RefusalCategory, reason: string): never;
}

/** One op kind's whole behaviour. */
export interface OpDef<K extends OpKind> {
  where: Where;
  /** Said after "is a CPU op" or "is a platform agent op" in the validator's message. */
  whereHint?: string;
  /** The op's name in messages (default: its kind). */
  word?(op: OpOf<K>): string;
  print(op: OpOf<K>): string;
  /** Checks the grammar cannot make (the block kind is checked from `where`). */
  validate?(op: OpOf<K>, v: ValidateCtx): void;
  refs(op: OpOf<K>, r: RefsCtx): void;
  /** One line for traces (`send init -> P1`). */
  describe(op: InsnOf<K>): string;
  /** Run it; returns the next PC (the op's own `pc + 1` unless it jumps). */
  exec(op: InsnOf<K>, x: ExecCtx): number;
  /** Whether the op can run now (default: yes). */
  enabled?(op: InsnOf<K>, x: ExecCtx): boolean;
  /** For an op that can be disabled (`enabled`): the objects whose change could enable it, as reads (por.ts). */
  waitsFor?(op: InsnOf<K>, f: FootprintCtx): void;
  /** A `pause`: a process spinning on it does not hold time back (a function: for some ops of the kind). */
  pauses?: boolean | ((op: InsnOf<K>) => boolean);
  footprint(op: InsnOf<K>, f: FootprintCtx): void;
  /** Refuse the op or record what it needs from the machine (default: nothing needed). */
  analyze?(op: OpOf<K>, a: AnalyzeCtx): void;
  emit(op: OpOf<K>, e: EmitCtx): void;
}

export type OpTable = { [K in OpKind]: OpDef<K> };

/** A family module: the defs of its kinds and the keywords it parses. */
export interface OpFamily<K extends OpKind> {
  defs: { [P in K]: OpDef<P> };
  parse: Record<string, ParseFn>;
}
