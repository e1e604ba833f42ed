// The typed syntax tree of a litmus test (shared/litmus-format.md, contract v1; docs/litmus.md).
// Every node carries the line and column (both 1-based) where it starts in the source.
// Literal values are bigint: registers, memory words and MSRs are 64-bit, and x2APIC ICR values such as
// 0xffffffff00000400 do not fit a double. Small fields (vectors, CPU indices, counts) are numbers.

import type { DeliveryModeName } from '../arch/apic.js';
import type { ActivityName, SaveStateField, Vendor, VMX_MODE_NAMES } from '../arch/cpu.js';
import type { Accel, VmexitKind } from '../arch/assist.js';

export interface Pos {
  line: number;
  col: number;
}

export type { DeliveryModeName };
export type VmxModeName = (typeof VMX_MODE_NAMES)[number];
export type ApicModeName = 'xapic' | 'x2apic' | 'disabled';

export interface LitmusTest {
  name: string;
  description: string | null;
  /** The config block as written (null when absent); `settings` has every key resolved. */
  config: ConfigBlock | null;
  settings: Settings;
  init: InitBlock | null;
  blocks: Block[];
  /** Every `observe` line's entries, in order. */
  observe: Observable[];
  condition: FinalCondition;
  pos: Pos;
}

// ---- config -------------------------------------------------------------------------------------------

export interface Settings {
  cpus: number;
  vendor: Vendor;
  x2apic: boolean;
  tscDeadline: boolean;
  ioapic: boolean;
  timerRatio: number;
  /** Hardware assist between the guests' APICs and the hypervisor (extension): none, AMD AVIC, Intel APICv. */
  accel: Accel;
  /** Intel IPI virtualization under `accel = apicv` (extension): physical fixed IPIs are posted without a VM exit. */
  ipiv: boolean;
  /** The I/O APIC's version (extension): 0x20 has the EOI register (ICH), 0x11 is the 82093AA's. */
  ioapicVersion: 0x11 | 0x20;
  /** Initial APIC IDs, one per CPU (extension); null: the CPU indices. */
  apicIds: number[] | null;
  /** A minimal 8259A on LINT0 and I/O APIC pin 0 (extension). */
  pic: boolean;
}

export type ConfigEntry =
  | { key: 'cpus'; value: number; pos: Pos }
  | { key: 'vendor'; value: Vendor; pos: Pos }
  | { key: 'x2apic' | 'tsc-deadline' | 'ioapic' | 'ipiv' | 'pic'; value: boolean; pos: Pos }
  | { key: 'ioapic-version'; value: 0x11 | 0x20; pos: Pos }
  | { key: 'apic-ids'; value: number[]; pos: Pos }
  | { key: 'timer-ratio'; value: number; pos: Pos }
  | { key: 'accel'; value: Accel; pos: Pos };

export type ConfigKey = ConfigEntry['key'];

export interface ConfigBlock {
  entries: ConfigEntry[];
  pos: Pos;
}

// ---- init ---------------------------------------------------------------------------------------------

export interface InitBlock {
  items: InitItem[];
  pos: Pos;
}

export type InitItem =
  | { kind: 'mem'; name: string; value: bigint; pos: Pos }
  | { kind: 'activity'; cpu: number; value: ActivityName; pos: Pos }
  | { kind: 'apic-mode'; cpu: number; value: ApicModeName; pos: Pos }
  | { kind: 'apic-reg'; cpu: number; reg: ApicRegRef; value: bigint; pos: Pos }
  | { kind: 'smbase'; cpu: number; value: bigint; pos: Pos }
  | { kind: 'if'; cpu: number; value: 0 | 1; pos: Pos }
  | { kind: 'vmx'; cpu: number; value: VmxModeName; pos: Pos }
  | { kind: 'reg'; cpu: number; reg: string; value: bigint; pos: Pos }
  | { kind: 'ioapic-entry'; pin: number; entry: RedirectionEntry; pos: Pos };

/** An I/O APIC redirection entry as `init` writes it; a field left out is null (defaults: docs/litmus.md). */
export interface RedirectionEntry {
  vector: number | null;
  mode: DeliveryModeName | null;
  dest: Dest | null;
  trigger: 'edge' | 'level' | null;
  polarity: 'high' | 'low' | null;
  mask: 0 | 1 | null;
}

// ---- references ---------------------------------------------------------------------------------------

/** A local APIC register: `name` is the SDM name as written, or null when written as a hex MMIO offset. */
export interface ApicRegRef {
  name: string | null;
  offset: number;
  pos: Pos;
}

/** An MSR: `name` as written (IA32_APIC_BASE, X2APIC_ICR, ...), or null when written as a number. */
export interface MsrRef {
  name: string | null;
  index: number;
  pos: Pos;
}

/** An I/O APIC indirect register: `name` as written (ID, VER, ARB, REDTBLn_LO/HI), or null for a number. */
export interface IoApicRegRef {
  name: string | null;
  index: number;
  pos: Pos;
}

export type Dest =
  | { kind: 'cpu'; cpu: number; pos: Pos }
  | { kind: 'phys'; id: number; pos: Pos }
  | { kind: 'logical'; mask: number; pos: Pos }
  | { kind: 'self' | 'all' | 'others'; pos: Pos };

// ---- blocks and ops -----------------------------------------------------------------------------------

/** `vmexit-*`: an L1 hypervisor's handler of that VM exit (extension, docs/litmus.md): INIT, SIPI, and the exits the
 *  interrupt-window and NMI-window controls cause. */
export type HandlerKind = 'main' | 'vector' | 'nmi' | 'smi' | 'sipi' | 'vmexit-init' | 'vmexit-sipi' | 'vmexit-intr-window' | 'vmexit-nmi-window';

export interface CpuBlock {
  kind: 'cpu';
  cpu: number;
  handler: HandlerKind;
  /** The vector of an `on vector V` block, else null. */
  vector: number | null;
  body: Op[];
  pos: Pos;
}

export interface AgentBlock {
  kind: 'agent';
  agent: number;
  body: Op[];
  pos: Pos;
}

export type Block = CpuBlock | AgentBlock;

export type BinOp = '+' | '-' | '&' | '|' | '^' | '<<' | '>>';
export type CmpOp = '==' | '!=' | '<' | '>' | '<=' | '>=';

/** A register is `r0`..`r31`, or `sv` (the SIPI vector, read-only, only in `on sipi`). */
export type Expr =
  | { kind: 'num'; value: bigint; pos: Pos }
  | { kind: 'reg'; reg: string; pos: Pos }
  | { kind: 'bin'; op: BinOp; left: Expr; right: Expr; pos: Pos };

/** `iret-op` is the explicit `iret` (extension; the implicit IRET that ends a handler is not an op), `shutdown` a
 *  triple fault, `mov-ss` a MOV to SS (its one-instruction shadow), `clgi`/`stgi` AMD's GIF. */
export type VmentryMode = 'resume' | 'wait-for-sipi' | 'hlt' | 'sipi';

export type SimpleOpKind = 'sti' | 'cli' | 'hlt' | 'pause' | 'nop' | 'eoi' | 'rsm' | 'vmxon' | 'vmxoff' | 'iret-op' | 'mov-ss' | 'clgi' | 'stgi' | 'shutdown';

/** A CPUID output register. */
export type CpuidReg = 'eax' | 'ebx' | 'ecx' | 'edx';

/** Host-side state a VMM saves and restores (KVM_GET/SET_LAPIC, the IA32_APIC_BASE MSR) or sets (KVM_SET_VCPU_EVENTS). */
export type VmmPart = 'lapic' | 'apic-base';
export type VmmEvent = 'nmi-pending' | 'smi-pending' | 'nmi-masked';

export type Op =
  | { kind: 'store'; loc: string; value: Expr; pos: Pos }
  | { kind: 'load'; reg: string; loc: string; pos: Pos }
  | { kind: 'assign'; reg: string; value: Expr; pos: Pos }
  | { kind: 'await'; loc: string; cmp: '==' | '!='; value: Expr; pos: Pos }
  | { kind: 'apic-write'; reg: ApicRegRef; value: Expr; pos: Pos }
  | { kind: 'apic-read'; dst: string; reg: ApicRegRef; pos: Pos }
  | { kind: 'wrmsr'; msr: MsrRef; value: Expr; pos: Pos }
  | { kind: 'rdmsr'; dst: string; msr: MsrRef; pos: Pos }
  | SendOp
  | { [K in SimpleOpKind]: { kind: K; pos: Pos } }[SimpleOpKind]
  /** VM entry from an exit handler: resume the guest, enter it in wait-for-SIPI or HLT, or start it at its SIPI code;
   *  with the interrupt-window / NMI-window exiting controls set, and a virtual interrupt (RVI) requested (extension). */
  | { kind: 'vmentry'; mode: VmentryMode; intrWindow: boolean; nmiWindow: boolean; rvi: number | null; pos: Pos }
  | { kind: 'smbase'; value: Expr; pos: Pos }
  /** An SMI handler reads or writes a field of its SMRAM state-save map (SDM Vol 3C 34.4.1). */
  | { kind: 'smram-read'; dst: string; field: SaveStateField; pos: Pos }
  | { kind: 'smram-write'; field: SaveStateField; value: Expr; pos: Pos }
  | { kind: 'wait'; ticks: number; pos: Pos }
  | { kind: 'label'; name: string; pos: Pos }
  | { kind: 'goto'; label: string; pos: Pos }
  | { kind: 'if'; reg: string; cmp: CmpOp; value: Expr; label: string; pos: Pos }
  | { kind: 'repeat'; count: number; body: Op[]; pos: Pos }
  | { kind: 'ioapic-write'; reg: IoApicRegRef; value: Expr; pos: Pos }
  /** Extensions (docs/litmus.md, "What is new in v2"). */
  | { kind: 'ioapic-read'; dst: string; reg: IoApicRegRef; pos: Pos }
  /** A write of the EOI register of a version-0x20 I/O APIC (ICH EOIR). */
  | { kind: 'ioapic-eoi'; value: Expr; pos: Pos }
  /** An agent or CPU waits for a CPU's (or the I/O APIC's) state: `await P1.activity == halted`. */
  | { kind: 'await-state'; loc: Observable; cmp: '==' | '!='; value: Value; pos: Pos }
  | { kind: 'rdtsc'; dst: string; pos: Pos }
  | { kind: 'cpuid'; dst: string; leaf: number; subleaf: number | null; reg: CpuidReg; pos: Pos }
  /** MOV to / from CR8, the TPR's task-priority class (SDM Vol 3A 11.8.6). */
  | { kind: 'cr8-write'; value: Expr; pos: Pos }
  | { kind: 'cr8-read'; dst: string; pos: Pos }
  /** A 32-bit access at a physical address: whatever decodes it (the local APIC page, the I/O APIC window) or nothing. */
  | { kind: 'mmio-read'; dst: string; addr: number; pos: Pos }
  | { kind: 'mmio-write'; addr: number; value: Expr; pos: Pos }
  /** The 8259A's command (0x20) and data (0x21) ports. */
  | { kind: 'pic-write'; port: number; value: Expr; pos: Pos }
  | { kind: 'pic-read'; dst: string; port: number; pos: Pos }
  // platform agent ops
  | { kind: 'signal'; signal: 'smi' | 'nmi' | 'init'; target: number | 'all'; pos: Pos }
  /** An SMI the platform does not deliver on time: to Pk at a later instant of the explorer's choosing, or to every
   *  CPU but Pk (the broadcast that misses it). */
  | { kind: 'smi-missed'; how: 'late' | 'lost'; cpu: number; pos: Pos }
  | { kind: 'irq'; gsi: number; action: 'assert' | 'deassert' | 'pulse'; pos: Pos }
  /** `trigger`/`level` (extension): the data register's bits 15 and 14 (null: edge, assert). */
  | { kind: 'msi'; dest: Dest; vector: number; mode: DeliveryModeName | null; trigger: 'edge' | 'level' | null; level: 'assert' | 'deassert' | null; pos: Pos }
  /** The RESET# pin of one processor (extension). */
  | { kind: 'reset'; cpu: number; pos: Pos }
  /** A local APIC's LINT0 / LINT1 pin (extension). */
  | { kind: 'lint'; pin: 0 | 1; cpu: number; action: 'assert' | 'deassert' | 'pulse'; pos: Pos }
  /** An input of the 8259A (extension, `pic = true`). */
  | { kind: 'pic-irq'; irq: number; action: 'assert' | 'deassert' | 'pulse'; pos: Pos }
  /** A VMM's host-side ops on vCPU Pk (extension): save its APIC state, restore a part of it, set an event. */
  | { kind: 'vmm-save'; cpu: number; pos: Pos }
  | { kind: 'vmm-restore'; cpu: number; part: VmmPart; pos: Pos }
  | { kind: 'vmm-event'; cpu: number; event: VmmEvent; value: 0 | 1; pos: Pos }
  | { kind: 'hotplug'; cpu: number; pos: Pos }
  | { kind: 'unplug'; cpu: number; pos: Pos }
  /** Host scheduler ops on a vCPU (extension, `accel = avic`): take it off its physical CPU, or put it back. */
  | { kind: 'preempt'; cpu: number; pos: Pos }
  | { kind: 'resume'; cpu: number; pos: Pos }
  /** A posted interrupt (extension, `accel = apicv`): a device or the hypervisor posts vector V to vCPU Pk. */
  | { kind: 'post'; vector: number; cpu: number; pos: Pos };

export interface SendOp {
  kind: 'send';
  mode: DeliveryModeName;
  vector: number | null;
  dest: Dest;
  level: 'assert' | 'deassert' | null;
  trigger: 'edge' | 'level' | null;
  pos: Pos;
}

export type OpKind = Op['kind'];

// ---- observables and the final condition -------------------------------------------------------------

export type Observable =
  | { kind: 'mem'; name: string; pos: Pos }
  | { kind: 'reg'; cpu: number; reg: string; pos: Pos }
  | { kind: 'agent-reg'; agent: number; reg: string; pos: Pos }
  | { kind: 'activity' | 'smm' | 'done' | 'faults' | 'smbase' | 'apic-mode'; cpu: number; pos: Pos }
  | { kind: 'count'; cpu: number; of: number | 'nmi' | 'smi' | 'sipi'; pos: Pos }
  | { kind: 'vmx'; cpu: number; pos: Pos }
  | { kind: 'vmexits'; cpu: number; of: VmexitKind; pos: Pos }
  | { kind: 'running'; cpu: number; pos: Pos }
  | { kind: 'pir'; cpu: number; vector: number; pos: Pos }
  | { kind: 'irr' | 'isr' | 'tmr'; cpu: number; vector: number; pos: Pos }
  | { kind: 'apic-reg'; cpu: number; reg: ApicRegRef; pos: Pos }
  | { kind: 'remote-irr'; pin: number; pos: Pos }
  /** Extensions: AMD's GIF (0 or 1); how many times an event was taken in an STI or MOV SS shadow. */
  | { kind: 'gif'; cpu: number; pos: Pos }
  | { kind: 'in-shadow'; cpu: number; of: number | 'nmi' | 'smi'; pos: Pos };

export type Value = { kind: 'num'; value: bigint; pos: Pos } | { kind: 'sym'; name: string; pos: Pos };

/** A comparison in a condition (extension: `<`, `>`, `<=`, `>=` besides the contract's `=` and `!=`). */
export type RelOp = '=' | '!=' | '<' | '>' | '<=' | '>=';

/** One side of a comparison (extension): an observable, a number, a state name, or arithmetic over them. */
export type Term =
  | { kind: 'obs'; loc: Observable; pos: Pos }
  | { kind: 'num'; value: bigint; pos: Pos }
  | { kind: 'sym'; name: string; pos: Pos }
  | { kind: 'bin'; op: BinOp; left: Term; right: Term; pos: Pos };

export type Cond =
  /** The contract's `LOC = V` / `LOC != V`. */
  | { kind: 'cmp'; loc: Observable; op: '=' | '!='; value: Value; pos: Pos }
  /** Any other comparison (extension): `P0:r3 = P0:r0`, `P0:r1 - P0:r0 >= 0x10000`, `(P0:r0 & 0xff) < 0x16`. */
  | { kind: 'rel'; left: Term; op: RelOp; right: Term; pos: Pos }
  | { kind: 'and' | 'or'; left: Cond; right: Cond; pos: Pos }
  | { kind: 'not'; arg: Cond; pos: Pos }
  | { kind: 'true' | 'false'; pos: Pos };

export type Quantifier = 'exists' | '~exists' | 'forall';

export interface FinalCondition {
  quantifier: Quantifier;
  cond: Cond;
  pos: Pos;
}
