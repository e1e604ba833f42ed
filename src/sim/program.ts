// A litmus test compiled for the simulator: each process's blocks flattened into one instruction array with
// labels resolved and `repeat` unrolled, registers and memory words given slots in the state, and the words
// of the simulator's part of the machine state laid out.

import type { VmexitKind } from '../arch/assist.js';
import { A } from '../apic/layout.js';
import type { Cond, CpuBlock, Expr, LitmusTest, Observable, Op, Term } from '../litmus/ast.js';
import { opDef } from '../litmus/ops/index.js';
import type { Insn, OpDef, RefsCtx } from '../litmus/ops/types.js';
import { allObservables } from '../litmus/validate.js';
import { MAX_REPEAT_ITERATIONS as UNROLL_LIMIT } from '../litmus/limits.js';

export type { Insn };

/** What a CPU counts: handler runs per vector, NMI, SMI, SIPI starts, VM exits, and events taken in an STI or
 *  MOV SS shadow (`shadow-nmi`, `shadow-smi`, `shadow-V`). */
export type CountKey = number | 'nmi' | 'smi' | 'sipi' | `vmexit-${VmexitKind}` | `shadow-${number | 'nmi' | 'smi'}`;

export const NO_PC = 0xffffffff;
/** The shared implicit instructions every CPU's code starts with. */
export const PC_IRET = 0;
export const PC_RSM = 1;
/** A CPU idling after its code: HLT forever, still taking interrupts. */
export const PC_IDLE = 2;
/** The shutdown state (a triple fault): an NMI or SMI handler that woke it returns here, into shutdown (D-32). */
export const PC_SHUTDOWN = 3;

export const MAX_DEPTH = 8;

export interface ProcCode {
  insns: Insn[];
  /** Each instruction's op def (null for the implicit `end` and `iret`), looked up once. */
  defs: (OpDef<Op['kind']> | null)[];
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
  vmexitIntrWindow: number;
  vmexitNmiWindow: number;
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
  /** MAX_DEPTH frames of 2 words: return PC, and saved IF (bit 0) | frame kind << 1. */
  FRAMES: 7,
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
  /** Word offset of the VMM's saved APIC states (A.WORDS per CPU; `vmm save`), or -1 when the test has none. */
  vmmBase: number;
  words: number;
  /**
   * Counters stop here, above every constant the condition compares a count with, and read `>=cap`: the condition
   * cannot tell the counts above it apart, and an interrupt storm (a handler that runs for ever, nothing else
   * changing) becomes a cycle the explorer recognises as non-terminating, not an endless line of new states.
   */
  countCap: number;
}

class Flattener {
  insns: Insn[] = [
    { kind: 'iret', pos: { line: 0, col: 0 } },
    { kind: 'rsm', pos: { line: 0, col: 0 } },
    { kind: 'end', main: false, pos: { line: 0, col: 0 } },
    { kind: 'shutdown', pos: { line: 0, col: 0 } },
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
            this.insns.push({ ...op, target: -1 });
            break;
          case 'if':
            fixups.push({ at: this.insns.length, label: op.label + suffix });
            this.insns.push({ ...op, target: -1 });
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

/** Registers and memory words an instruction names (each op's refs). */
function namesOf(ops: Insn[], regs: Map<string, number>, mem: (name: string) => void): void {
  const add = (r: string): void => {
    if (r !== 'sv' && !regs.has(r)) regs.set(r, regs.size);
  };
  const expr = (e: Expr): void => {
    if (e.kind === 'reg') add(e.reg);
    else if (e.kind === 'bin') {
      expr(e.left);
      expr(e.right);
    }
  };
  const refs: RefsCtx = { cpu() {}, dest() {}, readMem: mem, writeMem: mem, readReg: add, writeReg: add, expr };
  for (const op of ops) {
    if (op.kind !== 'iret' && op.kind !== 'end') opDef(op).refs(op as Op, refs);
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
    namesOf(code.insns, code.regs, addMem);
    code.defs = code.insns.map((op) => (op.kind === 'end' || op.kind === 'iret' ? null : opDef(op)));
    for (const r of extraRegs) if (!code.regs.has(r) && r !== 'sv') code.regs.set(r, code.regs.size);
    for (const k of countKeys) if (!code.counts.has(k)) code.counts.set(k, code.counts.size);
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
        : h === 'sipi' || h.startsWith('vmexit-') ? { kind: 'end', main: false, pos: b.pos }
        : h === 'smi' ? null
        : { kind: 'iret', pos: b.pos };
      return f.block(b.body, term);
    };
    const code: ProcCode = {
      insns: f.insns, defs: [], main: entry('main'), sipi: entry('sipi'), nmi: entry('nmi'), smi: entry('smi'),
      vectors: new Map(), regs: new Map(), counts: new Map(), base: 0,
      vmexitInit: entry('vmexit-init'), vmexitSipi: entry('vmexit-sipi'),
      vmexitIntrWindow: entry('vmexit-intr-window'), vmexitNmiWindow: entry('vmexit-nmi-window'),
    };
    for (const b of blocks) if (b.handler === 'vector' && b.vector !== null) code.vectors.set(b.vector, f.block(b.body, { kind: 'iret', pos: b.pos }));
    const countKeys: CountKey[] = [];
    for (const o of observed) {
      if (o.kind === 'count' && o.cpu === c) countKeys.push(o.of);
      else if (o.kind === 'vmexits' && o.cpu === c) countKeys.push(`vmexit-${o.of}`);
      else if (o.kind === 'in-shadow' && o.cpu === c) countKeys.push(`shadow-${o.of}`);
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
    agents.push(finish({ insns: f.insns, defs: [], main, sipi: -1, nmi: -1, smi: -1, vectors: new Map(), regs: new Map(), counts: new Map(), base: 0, vmexitInit: -1, vmexitSipi: -1, vmexitIntrWindow: -1, vmexitNmiWindow: -1 }, [], regs));
  }
  const vmm = test.blocks.some((b) => b.kind === 'agent' && b.body.some(function has(op: Op): boolean {
    return op.kind === 'vmm-save' || op.kind === 'vmm-restore' || (op.kind === 'repeat' && op.body.some(has));
  }));
  const memEnd = base + 2 * memory.size;
  return {
    test, cpus, agents, agentIndex, memory, memoryBase: base, vmmBase: vmm ? memEnd : -1, words: memEnd + (vmm ? n * A.WORDS : 0),
    countCap: countCap(test.condition.cond),
  };
}

/** The smallest count cap above every constant a count is compared with (at least 255). */
function countCap(c: Cond): number {
  let cap = 255;
  const walk = (x: Cond): void => {
    if (x.kind === 'and' || x.kind === 'or') {
      walk(x.left);
      walk(x.right);
    } else if (x.kind === 'not') walk(x.arg);
    else if (x.kind === 'cmp' && counted(x.loc) && x.value.kind === 'num') above(x.value.value);
    else if (x.kind === 'rel' && (hasCount(x.left) || hasCount(x.right))) {
      // `count REL constant` needs the cap above the constant; a count in arithmetic or compared with another
      // location may need any value, so it is not capped.
      const [t, k] = x.left.kind === 'obs' ? [x.left, x.right] : [x.right, x.left];
      if (t.kind === 'obs' && k.kind === 'num') above(k.value);
      else cap = 0xffffffff;
    }
  };
  const above = (v: bigint): void => {
    if (v >= BigInt(cap)) cap = Number(v < 0xfffffffen ? v + 1n : 0xffffffffn);
  };
  walk(c);
  return cap;
}

const counted = (o: Observable): boolean => o.kind === 'count' || o.kind === 'vmexits' || o.kind === 'in-shadow';
const hasCount = (t: Term): boolean => (t.kind === 'obs' ? counted(t.loc) : t.kind === 'bin' && (hasCount(t.left) || hasCount(t.right)));

