// A litmus test compiled for the simulator: each process's blocks flattened into one instruction array with
// labels resolved and `repeat` unrolled, registers and memory words given slots in the state, and the words
// of the simulator's part of the machine state laid out.

import type { CpuBlock, Expr, LitmusTest, Observable, Op } from '../litmus/ast.js';
import { allObservables } from '../litmus/validate.js';
import { MAX_REPEAT_ITERATIONS as UNROLL_LIMIT } from '../litmus/limits.js';
import type { VmexitKind } from '../litmus/names.js';

/** An instruction: a litmus op, or one of the implicit ones that end blocks. */
export type Insn =
  | Exclude<Op, { kind: 'label' } | { kind: 'goto' } | { kind: 'if' } | { kind: 'repeat' }>
  | { kind: 'goto'; target: number; pos: Op['pos'] }
  | { kind: 'if'; reg: string; cmp: '==' | '!=' | '<' | '>' | '<=' | '>='; value: Expr; target: number; pos: Op['pos'] }
  /** End of an interrupt or NMI handler: IRET. */
  | { kind: 'iret'; pos: Op['pos'] }
  /** End of the main block, or of the SIPI code: the CPU idles in a HLT loop. */
  | { kind: 'end'; main: boolean; pos: Op['pos'] };

/** What a CPU counts: handler runs per vector, NMI, SMI, SIPI starts, and VM exits. */
export type CountKey = number | 'nmi' | 'smi' | 'sipi' | `vmexit-${VmexitKind}`;

export const NO_PC = 0xffffffff;
/** The shared implicit instructions every CPU's code starts with. */
export const PC_IRET = 0;
export const PC_RSM = 1;
/** A CPU idling after its code: HLT forever, still taking interrupts. */
export const PC_IDLE = 2;

export const MAX_DEPTH = 8;

export interface ProcCode {
  insns: Insn[];
  main: number;
  sipi: number;
  nmi: number;
  smi: number;
  vectors: Map<number, number>;
  /** Register name -> slot. */
  regs: Map<string, number>;
  /** Counted handlers (observed counts only): key 'nmi' | 'smi' | 'sipi' | vector number -> slot. */
  counts: Map<CountKey, number>;
  /** The L1 hypervisor's VM-exit handlers (nested VMX), or -1. */
  vmexitInit: number;
  vmexitSipi: number;
  /** Word offset of this process's simulator words, relative to the simulator area. */
  base: number;
}

/** Per-process simulator words. */
export const P = {
  PC: 0,
  /** Bit 0: main block done. */
  FLAGS: 1,
  DEPTH: 2,
  /** The time a `wait` ends (2 words; 0 = not waiting), and the handler depth it was set at. */
  WAIT_LO: 3,
  WAIT_HI: 4,
  WAIT_DEPTH: 5,
  FAULTS: 6,
  /** vCPU scheduling (accel = avic): bit 0 IsRunning clear, bit 1 blocked (halted and descheduled). */
  VCPU: 7,
  /** An AVIC IPI in progress on this vCPU: 1 hardware check pending, 2 in the incomplete-IPI exit handler. */
  AVIC_STAGE: 8,
  AVIC_VECTOR: 9,
  /** Targets still to handle, a bit per CPU (AVIC tests have at most 32 CPUs). */
  AVIC_TARGETS: 10,
  /** Targets whose IsRunning the hardware read as clear. */
  AVIC_NOT_RUNNING: 11,
  /** APICv posted-interrupt descriptor: ON, SN, a pending notification, and the vCPU's resume stage. */
  PI_FLAGS: 12,
  /** The descriptor's PIR: 256 bits. */
  PIR: 13,
  /** The VMCS TPR threshold (accel = tpr-shadow) the hypervisor last wrote: a priority class, 0-15. */
  TPR_THRESHOLD: 21,
  /** MAX_DEPTH frames of 2 words: return PC, and saved IF (bit 0) | frame kind << 1. */
  FRAMES: 22,
} as const;
export const FIXED_WORDS = P.FRAMES + 2 * MAX_DEPTH;

export interface Program {
  test: LitmusTest;
  cpus: ProcCode[];
  agents: ProcCode[];
  /** Agent index as written (D3) -> position in `agents`. */
  agentIndex: Map<number, number>;
  memory: Map<string, number>;
  /** Word offset of memory words in the simulator area. */
  memoryBase: number;
  words: number;
}

class Flattener {
  insns: Insn[] = [
    { kind: 'iret', pos: { line: 0, col: 0 } },
    { kind: 'rsm', pos: { line: 0, col: 0 } },
    { kind: 'end', main: false, pos: { line: 0, col: 0 } },
  ];
  private count = 0;

  /** Flatten one block; labels are local to it (the validator rejects goto across blocks). */
  block(body: Op[], terminator: Insn | null): number {
    const start = this.insns.length;
    const labels = new Map<string, number>();
    const fixups: { at: number; label: string }[] = [];
    const emit = (ops: Op[], suffix: string): void => {
      for (const op of ops) {
        switch (op.kind) {
          case 'label':
            labels.set(op.name + suffix, this.insns.length);
            break;
          case 'goto':
            fixups.push({ at: this.insns.length, label: op.label + suffix });
            this.insns.push({ kind: 'goto', target: -1, pos: op.pos });
            break;
          case 'if':
            fixups.push({ at: this.insns.length, label: op.label + suffix });
            this.insns.push({ kind: 'if', reg: op.reg, cmp: op.cmp, value: op.value, target: -1, pos: op.pos });
            break;
          case 'repeat':
            if ((this.count += op.count) > UNROLL_LIMIT) throw new Error(`repeat: more than ${UNROLL_LIMIT} unrolled ops`);
            // Labels inside a repeat body are local to each iteration.
            for (let i = 0; i < op.count; i++) emit(op.body, `${suffix}#${op.pos.line}:${op.pos.col}.${i}`);
            break;
          default:
            this.insns.push(op);
        }
      }
    };
    emit(body, '');
    for (const f of fixups) {
      // A label may be named from inside a repeat iteration but defined outside it: try the enclosing scopes.
      let name = f.label, target = labels.get(name);
      while (target === undefined && name.includes('#')) {
        name = name.slice(0, name.lastIndexOf('#'));
        target = labels.get(name);
      }
      if (target === undefined) throw new Error(`undefined label ${f.label}`);
      (this.insns[f.at] as { target: number }).target = target;
    }
    if (terminator) this.insns.push(terminator);
    return start;
  }
}

function regsOf(ops: Insn[], into: Map<string, number>): void {
  const add = (r: string): void => {
    if (r !== 'sv' && !into.has(r)) into.set(r, into.size);
  };
  const expr = (e: Expr): void => {
    if (e.kind === 'reg') add(e.reg);
    else if (e.kind === 'bin') {
      expr(e.left);
      expr(e.right);
    }
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'load': add(op.reg); break;
      case 'assign': add(op.reg); expr(op.value); break;
      case 'apic-read': add(op.dst); break;
      case 'rdmsr': add(op.dst); break;
      case 'if': add(op.reg); expr(op.value); break;
      case 'store': case 'await': case 'apic-write': case 'wrmsr': case 'smbase': case 'ioapic-write':
        expr(op.value);
        break;
    }
  }
}

export { allObservables as observablesOf } from '../litmus/validate.js';

export function compile(test: LitmusTest): Program {
  const n = test.settings.cpus;
  const observed = allObservables(test);
  const memory = new Map<string, number>();
  const addMem = (name: string): void => {
    if (!memory.has(name)) memory.set(name, memory.size);
  };
  for (const it of test.init?.items ?? []) if (it.kind === 'mem') addMem(it.name);
  for (const o of observed) if (o.kind === 'mem') addMem(o.name);

  const cpus: ProcCode[] = [];
  let base = 0;
  const finish = (code: ProcCode, countKeys: CountKey[], extraRegs: string[]): ProcCode => {
    regsOf(code.insns, code.regs);
    for (const r of extraRegs) if (!code.regs.has(r) && r !== 'sv') code.regs.set(r, code.regs.size);
    for (const k of countKeys) if (!code.counts.has(k)) code.counts.set(k, code.counts.size);
    for (const op of code.insns) {
      if (op.kind === 'store' || op.kind === 'load' || op.kind === 'await') addMem(op.loc);
    }
    code.base = base;
    base += FIXED_WORDS + code.counts.size + 2 * code.regs.size;
    return code;
  };

  for (let c = 0; c < n; c++) {
    const f = new Flattener();
    const blocks = test.blocks.filter((b): b is CpuBlock => b.kind === 'cpu' && b.cpu === c);
    const entry = (h: CpuBlock['handler']): number => {
      const b = blocks.find((x) => x.handler === h);
      if (!b) return -1;
      const term: Insn | null =
        h === 'main' ? { kind: 'end', main: true, pos: b.pos }
        : h === 'sipi' || h === 'vmexit-init' || h === 'vmexit-sipi' ? { kind: 'end', main: false, pos: b.pos }
        : h === 'smi' ? null
        : { kind: 'iret', pos: b.pos };
      return f.block(b.body, term);
    };
    const code: ProcCode = {
      insns: f.insns, main: entry('main'), sipi: entry('sipi'), nmi: entry('nmi'), smi: entry('smi'),
      vectors: new Map(), regs: new Map(), counts: new Map(), base: 0,
      vmexitInit: entry('vmexit-init'), vmexitSipi: entry('vmexit-sipi'),
    };
    for (const b of blocks) if (b.handler === 'vector' && b.vector !== null) code.vectors.set(b.vector, f.block(b.body, { kind: 'iret', pos: b.pos }));
    const countKeys: CountKey[] = [];
    for (const o of observed) {
      if (o.kind === 'count' && o.cpu === c) countKeys.push(o.of);
      else if (o.kind === 'vmexits' && o.cpu === c) countKeys.push(`vmexit-${o.of}`);
    }
    const regs = observed.filter((o): o is Extract<Observable, { kind: 'reg' }> => o.kind === 'reg' && o.cpu === c).map((o) => o.reg);
    for (const it of test.init?.items ?? []) if (it.kind === 'reg' && it.cpu === c) regs.push(it.reg);
    cpus.push(finish(code, countKeys, regs));
  }

  const agents: ProcCode[] = [];
  const agentIndex = new Map<number, number>();
  for (const b of test.blocks) {
    if (b.kind !== 'agent') continue;
    const f = new Flattener();
    const main = f.block(b.body, { kind: 'end', main: true, pos: b.pos });
    const regs = observed.filter((o): o is Extract<Observable, { kind: 'agent-reg' }> => o.kind === 'agent-reg' && o.agent === b.agent).map((o) => o.reg);
    agentIndex.set(b.agent, agents.length);
    agents.push(finish({ insns: f.insns, main, sipi: -1, nmi: -1, smi: -1, vectors: new Map(), regs: new Map(), counts: new Map(), base: 0, vmexitInit: -1, vmexitSipi: -1 }, [], regs));
  }
  return { test, cpus, agents, agentIndex, memory, memoryBase: base, words: base + 2 * memory.size };
}
