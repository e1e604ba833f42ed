// The guest compiler's emission: NASM for a test the analysis accepted (analyze.ts). The generated source carries
// the shared constants (guest-abi.ts), includes guest/runtime.asm and guest/litmus.asm, and adds the test's own
// code: one routine per block, each op a short commented instruction sequence (its module's `emit`), the tables
// litmus.asm reads, and the routine that prints one run's observables under the model's names.

import type { CpuBlock, Expr, Observable, Op } from '../litmus/ast.js';
import { observableName, printInitItem, printOp } from '../litmus/print.js';
import { opDef } from '../litmus/ops/index.js';
import { asmHex as hex, asmIdent } from '../litmus/ops/asm.js';
import type { EmitCtx, RefusalCategory } from '../litmus/ops/types.js';
import { CompileRefusal, KIND, type Analyzer, type GuestPlan, type Proc } from './analyze.js';
import { abi, guestAbi } from './guest-abi.js';

/** A test that arms the APIC timer runs at this many microseconds of guest time per model tick (its `wait`s and
 *  its timer counts alike: docs/conformance.md, "The APIC timer"). */
export const TIMER_WAIT_US_PER_TICK = 200;

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

/** A block's labels: litmus label -> NASM local label. */
class BlockLabels {
  private readonly map = new Map<string, string>();
  label(name: string): string {
    let l = this.map.get(name);
    if (!l) {
      l = `.L_${asmIdent(name)}`;
      const taken = new Set(this.map.values());
      for (let i = 2; taken.has(l); i++) l = `.L_${asmIdent(name)}_${i}`;
      this.map.set(name, l);
    }
    return l;
  }
}

/** The quiet time after a SIPI, INIT, NMI or SMI sent, in quiet times (LIT_SIPI_SETTLE_US: 3 ms by default). */
export const SIPI_SETTLE_FACTOR = 6;

export class Emitter {
  private readonly n: number;
  private readonly data: string[] = [];
  private localLabel = 0;
  /** Per CPU: the labels right after its STIs and MOV SSs (the EIP an NMI taken in their shadow returns to). */
  private readonly shadows = new Map<number, string[]>();

  constructor(private readonly plan: GuestPlan, private readonly analyzer: Analyzer, private readonly settleUs: number, private readonly pingUs?: number) {
    this.n = plan.cpus;
  }

  private refuse(category: RefusalCategory, construct: string, reason: string): never {
    throw new CompileRefusal(construct, reason, null, null, category);
  }

  private local(): string {
    return `.i${++this.localLabel}`;
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

  private mem(name: string): string {
    const l = this.plan.memLabels.get(name);
    if (l === undefined) throw new Error(`memory word ${name} was not planned`);
    return l;
  }

  /** The emission as one op sees it. */
  private ctx(p: Proc, labels: BlockLabels, smm: boolean, out: string[]): EmitCtx {
    return {
      out, apicId: p.apicId, smm, timer: this.plan.timer, waitUsPerTick: this.plan.waitPerTick,
      expr: (e) => this.expr(e, p, out),
      reg: (r) => this.reg(p, r),
      setReg: (r) => void out.push(`  mov [${this.reg(p, r)}], eax`, `  mov [${this.reg(p, r)} + 4], edx`),
      mem: (name) => this.mem(name),
      local: () => this.local(),
      label: (name) => labels.label(name),
      data: (prefix) => {
        const l = `${prefix}_${++this.localLabel}`;
        this.data.push(`${l}: dd 0`);
        return l;
      },
      body: (ops) => this.ops(ops, p, labels, smm, out),
      shadowPoint: () => {
        if (p.agent) return;
        const list = this.shadows.get(p.index) ?? [];
        const l = `..@lit_shadow_${p.index}_${list.length}`;   // (..@: a label that leaves NASM's local-label scope alone)
        list.push(l);
        this.shadows.set(p.index, list);
        out.push(`${l}:`);
      },
      targets: (d) => this.analyzer.targets(d, p.agent ? -1 : p.apicId),
      refuse: (category, reason) => this.refuse(category, p.name, reason),
    };
  }

  /** Code for a block body. */
  private ops(ops: Op[], p: Proc, labels: BlockLabels, smm: boolean, out: string[]): void {
    const ctx = this.ctx(p, labels, smm, out);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op.kind !== 'label') out.push(`  ; ${op.pos.line}: ${printOp(op).split('\n')[0]}`);
      // STI's shadow covers one instruction: an op after STI is prepared before it, so that its one visible
      // instruction (a store's write) is the one in the shadow, as the model's shadow covers the whole op.
      if (op.kind === 'sti' && i + 1 < ops.length && ops[i + 1].kind === 'store') {
        const st = ops[i + 1] as Extract<Op, { kind: 'store' }>;
        out.push(`  ; ${st.pos.line}: ${printOp(st)} (prepared before the STI: its write is the instruction in the shadow)`);
        this.expr(st.value, p, out);
        const m = this.mem(st.loc);
        out.push(`  mov [${m} + 4], edx`, '  sti');
        ctx.shadowPoint();
        out.push(`  xchg [${m}], eax`);
        i++;
        continue;
      }
      opDef(op).emit(op as never, ctx);
    }
  }

  emit(observables: Observable[], iterTimeoutUs: number): string {
    const plan = this.plan, t = plan.test, n = this.n, spares = plan.spares;
    const o: string[] = [];
    const smm = plan.needs.smm;
    const countLow = countedLowVectors(observables);
    o.push(
      `; lapis ${t.name}: compiled by lapis (src/backends/compile.ts) for the conformance runner`,
      ...(t.description ? [`; ${t.description}`] : []),
      '; Read with guest/litmus.asm (the iteration loop, the end-of-test ping, P0\'s reset) and docs/conformance.md.',
      `; P0..P${n - 1}: the test's CPUs (APIC IDs 0..${n - 1}); APIC ID ${n}: the coordinator${plan.agents.length > 0 ? ` (plays D${plan.agents[0].agent})` : ''}${plan.agents.slice(1).map((a, i) => `; APIC ID ${n + 1 + i}: D${a.agent}`).join('')}.`,
      '',
      '; The values this compiler and guest/litmus.asm share (src/backends/guest-abi.ts).',
      ...guestAbi(),
      '',
      `%define LAPIS_CPUS ${n + spares}`,
      '%define LAPIS_ACTIVE_APS 0',
      '%define LAPIS_WATCHDOG_MS 10000',
      `%define LIT_CPUS ${n}`,
      `%define LIT_SPARES ${spares}`,
      `%define LIT_SMM ${smm ? 1 : 0}`,
      ...(plan.timer ? [`%define LIT_TIMER_WAIT_US ${TIMER_WAIT_US_PER_TICK}   ; the test arms the APIC timer: one model tick`] : []),
      `%define LIT_IOAPIC ${plan.ioapicPins.size > 0 || plan.needs.ioapic ? 1 : 0}`,
      `%define LIT_MSI ${plan.needs.msi ? 1 : 0}`,
      // The ACPI CPU hot-plug register, legacy mode (QEMU hw/acpi/cpu_hotplug.c: a bitmap of present APIC IDs at
      // PIIX4_CPU_HOTPLUG_IO_BASE on pc, ICH9_CPU_HOTPLUG_IO_BASE on q35; firmware never switches it to the modern one).
      ...(plan.needs.hotplug ? [`%define LIT_CPUHP_PORT ${smm ? '0x0cd8' : '0xaf00'}`] : []),
      ...plan.nested.defines(),
      ...(countLow !== 0 ? [`%define LAPIS_COUNT_LOW ${hex(countLow)}   ; vectors below 32 the test counts: entries there are interrupts`] : []),
      `%define LIT_ITER_TIMEOUT_US ${iterTimeoutUs}`,
      `%define LIT_SETTLE_US ${this.settleUs}`,
      `%define LIT_SIPI_SETTLE_US ${SIPI_SETTLE_FACTOR * this.settleUs}`,
      ...(this.pingUs !== undefined ? [`%define LIT_PING_US ${this.pingUs}`] : []),
      '%ifndef ITERATIONS',
      '  %define ITERATIONS 1',
      '%endif',
      '%include "runtime.asm"',
      '%include "litmus.asm"',
      '',
      '%define R(p, k) (lit_regs + ((p) * LIT_REGS + (k)) * 8)   ; register rk of process p (CPUs, then agents)',
      '',
      'test_main:',
      '  jmp lit_boot',
      '',
      '; The test\'s handlers, registered once at boot.',
      'lit_install:',
    );
    for (let c = 0; c < n; c++) {
      for (const b of this.cpuBlocks(c)) {
        if (b.handler === 'vector') o.push(`  ON_VECTOR ${c}, ${hex(b.vector ?? 0)}, P${c}_on_vector_${hex(b.vector ?? 0)}`);
        if (b.handler === 'nmi') o.push(`  ON_VECTOR ${c}, 2, P${c}_on_nmi`);
        if (b.handler === 'smi') o.push(`  mov dword [LIT_SMM_BODY + ${c} * 4], P${c}_on_smi`);
      }
    }
    o.push('  ret', '');

    // Per CPU: start code, SIPI entry, blocks, report routine.
    const reports: string[][] = [];
    for (let c = 0; c < n; c++) {
      const p = plan.procs.get(`P${c}`) as Proc;
      o.push(`; ==== P${c} ${'='.repeat(100)}`.slice(0, 110));
      o.push(...this.startCode(c));
      o.push(...this.sipiEntry(c));
      for (const b of this.cpuBlocks(c)) o.push(...this.blockCode(b, p));
      reports.push(this.reportCode(c, observables));
      o.push(...reports[c]);
    }
    for (const a of plan.agents) {
      const p = plan.procs.get(`D${a.agent}`) as Proc;
      o.push(`; ==== D${a.agent}, played by spare CPU ${p.apicId} ${'='.repeat(90)}`.slice(0, 110));
      o.push(`D${a.agent}_body:`);
      const out: string[] = [];
      this.ops(a.block.body, p, new BlockLabels(), false, out);
      o.push(...out, '  ret', '');
    }

    o.push('; ==== the run line ' + '='.repeat(90), 'lit_print_run:', '  LINE_BEGIN', "  LINE_KV 'run', [lit_iter]", '  call lit_line_meta');
    observables.forEach((ob, slot) => o.push(...this.printObservable(ob, slot)));
    o.push('  LINE_END', '  ret', '');
    o.push(...this.tables(reports), '');
    return o.join('\n');
  }

  private tables(reports: string[][]): string[] {
    const plan = this.plan, n = this.n, o: string[] = [];
    o.push('; ==== tables ' + '='.repeat(96), 'align 4');
    o.push(`lit_cpu_kind: db ${plan.kinds.map((k, c) => plan.nested.tableKind(c, k)).join(', ')}`);
    o.push(`lit_cpu_flags: db ${plan.flags.join(', ')}`);
    o.push('align 4');
    o.push(`lit_cpu_start: dd ${[...Array(n).keys()].map((c) => `P${c}_start`).join(', ')}`);
    o.push(`lit_cpu_sipi: dd ${[...Array(n).keys()].map((c) => `P${c}_sipi_entry`).join(', ')}`);
    o.push(`lit_cpu_report: dd ${reports.map((r, c) => (r.length > 0 ? `P${c}_report` : '0')).join(', ')}`);
    const bodies: string[] = [];
    for (let i = 0; i < plan.spares; i++) bodies.push(i < plan.agents.length ? `D${plan.agents[i].agent}_body` : '0');
    o.push(`lit_agent_body: dd ${bodies.join(', ')}`);
    o.push(`lit_sipi_pages: db ${[...plan.sipiPages].sort((a, b) => a - b).map((v) => `${hex(v)}, `).join('')}0`);
    o.push(...plan.nested.tables());
    if (plan.needs.smm) {
      const bases = [...new Set([abi('LIT_SMBASE_DEFAULT'), ...plan.smbaseValues, ...plan.smbaseSetup.values()])].sort((a, b) => a - b);
      o.push('align 4', `lit_smbases: dd ${bases.map((b) => `${hex(b)}, `).join('')}0   ; the SMM entry at each + 0x8000`);
      o.push(`lit_smbase_init: dd ${[...plan.smbaseSetup].map(([c, b]) => `${c}, ${hex(b)}, `).join('')}0xffffffff   ; cpu, SMBASE before go`);
      o.push(`lit_smbase_probe: dd ${[...plan.smbaseObserved].sort((a, b) => a - b).map((c) => `${c}, `).join('')}0xffffffff   ; CPUs whose SMBASE is observed`);
    }
    if (plan.ioapicPins.size > 0 || plan.needs.msi || plan.needs.ioapic) {
      o.push(`lit_irq_lines: db ${[...plan.irqLines].sort((a, b) => a - b).map((v) => `${v}, `).join('')}0xff   ; ISA IRQ lines the agents drive`);
      o.push(`lit_ioapic_pins: db ${[...plan.ioapicPins].sort((a, b) => a - b).map((v) => `${v}, `).join('')}0xff   ; redirection entries the test uses`);
      o.push('align 4', 'lit_ioapic_init:                       ; init: pin, low dword, high dword');
      for (const e of plan.ioapicInit) o.push(`  dd ${e.pin}, ${hex(e.lo)}, ${hex(e.hi)}`);
      o.push('  dd 0xffffffff');
    }
    o.push('align 8', 'lit_mem:');
    for (const [name, l] of plan.memLabels) o.push(`${l}: dq 0${' '.repeat(Math.max(1, 24 - l.length))}; ${name}`);
    o.push('LIT_MEM_BYTES equ $ - lit_mem', 'lit_mem_init:');
    for (const [name] of plan.memLabels) o.push(`  dq ${hex(plan.memInit.get(name) ?? 0n)}${' '.repeat(8)}; ${name}`);
    const regsPer = abi('LIT_REGS'), nproc = n + plan.agents.length;
    o.push(`lit_regs: times ${nproc * regsPer} dq 0`, `LIT_REGS_BYTES equ ${nproc * regsPer * 8}`, 'lit_regs_init:');
    const inits = [...plan.regInit.entries()].sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [slot, v] of inits) {
      if (slot > at) o.push(`  times ${slot - at} dq 0`);
      o.push(`  dq ${hex(v)}                  ; P${Math.floor(slot / regsPer)}:r${slot % regsPer}`);
      at = slot + 1;
    }
    if (nproc * regsPer > at) o.push(`  times ${nproc * regsPer - at} dq 0`);
    o.push('align 4', ...this.data);
    for (let c = 0; c < n; c++) o.push(`lit_shadow_eips_${c}: dd ${(this.shadows.get(c) ?? []).map((l) => `${l}, `).join('')}0`);
    return o;
  }

  private cpuBlocks(c: number): CpuBlock[] {
    return this.plan.test.blocks.filter((b): b is CpuBlock => b.kind === 'cpu' && b.cpu === c);
  }

  private halts(c: number): boolean {
    return (this.plan.test.init?.items ?? []).some((it) => it.kind === 'activity' && it.cpu === c && it.value === 'halted');
  }

  /** After the bring-up SIPI (P0: after its reset): the OS state of a CPU with a main block, or INIT's state;
   *  the init items; ready; wait for go; IF; the main block or the idle loop. */
  private startCode(c: number): string[] {
    const kind = this.plan.kinds[c];
    const own = this.plan.nested.ownStart(c);
    if (own) return own;
    const out: string[] = [`P${c}_start:`];
    if (kind === KIND.WFS) return [`P${c}_start:`, '  jmp lit_park_ap                     ; (waits for a SIPI: never started)', ''];
    if (kind === KIND.PARK) return [`P${c}_start:`, '  jmp lit_park                        ; (P0 without a main block: parked)', ''];
    let ifOn = kind === KIND.MAIN;
    out.push('  call lit_xapic_mode                 ; (INIT keeps x2APIC mode: back to xAPIC)');
    if (kind === KIND.MAIN) out.push('  call apic_enable_this_cpu           ; as an OS leaves it: SVR = 0x1FF, TPR 0, LVTs masked');
    else out.push('  APIC_WR APIC_SVR, 0xFF               ; as INIT leaves it: software-disabled');
    for (const it of this.plan.test.init?.items ?? []) {
      if (!('cpu' in it) || it.cpu !== c) continue;
      switch (it.kind) {
        case 'apic-mode':
          out.push(`  ; init: ${printInitItem(it)}`);
          if (it.value === 'x2apic') out.push('  call lapis_x2apic_enable');
          else if (it.value === 'disabled') out.push('  mov ecx, MSR_APIC_BASE', '  rdmsr', '  and eax, ~0xC00', '  wrmsr', '  call lit_sync_mode');
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
    out.push(...this.plan.nested.startLines(c));
    out.push(`  mov eax, ${c}`, '  call lit_ready_wait');
    out.push(ifOn ? '  sti                                 ; IF = 1' : '  ; IF = 0');
    if (kind === KIND.MAIN && this.halts(c)) {
      out.push(`  mov dword [LIT_BLOCKED + ${c} * 4], 1`, `  mov dword [LIT_HALTED + ${c} * 4], 1`, '  hlt                                 ; init: halted until an event',
        `  mov dword [LIT_HALTED + ${c} * 4], 0`, `  mov dword [LIT_BLOCKED + ${c} * 4], 0`);
    }
    out.push(kind === KIND.MAIN ? `  jmp P${c}_main` : `  mov dword [LIT_BLOCKED + ${c} * 4], 1
  mov eax, ${c}
  jmp lit_idle`, '');
    return out;
  }

  private sipiEntry(c: number): string[] {
    const sipi = this.cpuBlocks(c).some((b) => b.handler === 'sipi');
    return [
      `P${c}_sipi_entry:                        ; a SIPI of the test (ap_entry32: ebx = vector, ecx = APIC ID)`,
      ...this.plan.nested.sipiEntryLines(c),
      `  mov dword [LIT_BLOCKED + ${c} * 4], 0   ; running`,
      `  mov dword [LIT_SIPI_BUSY + ${c} * 4], ${sipi ? 1 : 0}`,
      '  mov eax, 1',
      '  lock xadd [lit_seq], eax',
      '  inc eax',
      `  mov [LIT_SIPI_SEQ + ${c} * 4], eax`,
      `  mov dword [LIT_SIPI_PENDING + ${c} * 4], 0   ; (after LIT_SIPI_SEQ: lit_sipi_sent)`,
      '  call lit_sync_mode                  ; INIT keeps the APIC mode',
      `  mov dword [LIT_IN_SMM + ${c} * 4], 0   ; (an INIT may have reset it out of SMM,`,
      `  mov dword [LIT_AWAIT + ${c} * 16], 0   ; or out of an await)`,
      '  LIT_EVENT',
      ...(sipi ? [`  jmp P${c}_on_sipi`] : [`  mov eax, ${c}`, '  jmp lit_end_sipi']),
      '',
    ];
  }

  private blockCode(b: CpuBlock, p: Proc): string[] {
    const c = b.cpu;
    const out: string[] = [];
    const labels = new BlockLabels();
    switch (b.handler) {
      case 'main':
        out.push(`P${c}_main:                              ; ${b.pos.line}: P${c} {`);
        this.ops(b.body, p, labels, false, out);
        out.push(`  mov eax, ${c}`, `  jmp lit_end_main                    ; P${c}.done = 1, then idle`, '');
        return out;
      case 'sipi':
        out.push(`P${c}_on_sipi:                           ; ${b.pos.line}: P${c} on sipi {`);
        this.ops(b.body, p, labels, false, out);
        out.push(`  mov eax, ${c}`, '  jmp lit_end_sipi                    ; idle', '');
        return out;
      case 'vector':
      case 'nmi': {
        const name = b.handler === 'nmi' ? `P${c}_on_nmi` : `P${c}_on_vector_${hex(b.vector ?? 0)}`;
        out.push(`${name}:                      ; ${b.pos.line}: P${c} on ${b.handler === 'nmi' ? 'nmi' : `vector ${hex(b.vector ?? 0)}`} { (called after the count; IRET follows)`);
        const blocked = `LIT_BLOCKED + ${c} * 4`, halted = `LIT_HALTED + ${c} * 4`;
        if (b.handler === 'nmi' && this.plan.observables.some((o) => o.kind === 'in-shadow' && o.cpu === c && o.of === 'nmi')) {
          // The interrupted EIP ([esp + 40]: the call, PUSHAD, the vector) against the labels after STI and MOV SS.
          out.push(`  mov eax, [esp + 40]`, `  mov ecx, lit_shadow_eips_${c}`, '.shadow:', '  mov edx, [ecx]', '  test edx, edx', '  jz .unshadowed', '  add ecx, 4',
            '  cmp edx, eax', '  jne .shadow', `  lock inc dword [LIT_SHADOW + ${c} * 4]   ; taken in an STI or MOV SS shadow`, '.unshadowed:');
        }
        out.push(`  mov eax, [${blocked}]`, `  mov dword [${blocked}], 0   ; running (the ping asks again)`, '  push eax',
          `  push dword [${halted}]`, `  mov dword [${halted}], 0   ; not halted while the handler runs`, '  cmp dword [lit_drain], 0', '  jne .skip', '  LIT_EVENT');
        this.ops(b.body, p, labels, false, out);
        out.push('  LIT_EVENT', '.skip:', `  pop dword [${halted}]`, `  pop dword [${blocked}]`, '  ret', '');
        return out;
      }
      case 'smi':
        out.push(`P${c}_on_smi:                            ; ${b.pos.line}: P${c} on smi { (in SMM, 32-bit protected mode)`);
        this.ops(b.body, p, labels, true, out);
        out.push('  jmp lit_smm_exit', '');
        return out;
      default:
        return this.plan.nested.block(b, (o) => this.ops(b.body, p, labels, false, o));
    }
  }

  /** What the CPU reads for its report when pinged; the slot of each observable is its index. */
  private reportCode(c: number, observables: Observable[]): string[] {
    const out: string[] = [];
    observables.forEach((ob, slot) => {
      if (!('cpu' in ob) || ob.cpu !== c || slot >= abi('LIT_SLOTS')) return;
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

  private printObservable(ob: Observable, slot: number): string[] {
    const name = observableName(ob);
    const tooMany = (): never => this.refuse('observables', name, 'more than 32 observables');
    switch (ob.kind) {
      case 'mem':
        return [`  LIT_KV '${name}', ${this.mem(ob.name)}`];
      case 'reg':
        return [`  LIT_KV '${name}', {${this.reg(this.plan.procs.get(`P${ob.cpu}`) as Proc, ob.reg)}}`];
      case 'agent-reg': {
        const p = this.plan.procs.get(`D${ob.agent}`);
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
        if (slot >= abi('LIT_SLOTS')) tooMany();
        return [`  LIT_KV_RVAL '${name}', ${ob.cpu}, ${slot}`];
      case 'apic-mode':
        if (slot >= abi('LIT_SLOTS')) tooMany();
        return [`  LIT_KV_MODE '${name}', ${ob.cpu}, ${slot}`];
      case 'activity':
        return [`  LIT_KV_ACT '${name}', ${ob.cpu}`];
      case 'remote-irr':
        return [`  LIT_KV_RIRR '${name}', ${ob.pin}`];
      case 'smbase':
        return [`  LIT_KV_SMBASE '${name}', ${ob.cpu}`];
      case 'smm':
        return [`  LIT_KV_SMM '${name}', ${ob.cpu}`];
      case 'in-shadow':
        return [`  LIT_KV32 '${name}', LIT_SHADOW + ${ob.cpu} * 4`];
      default:
        return this.plan.nested.print(ob, name) ?? this.refuse('other', name, 'not compiled');
    }
  }
}

