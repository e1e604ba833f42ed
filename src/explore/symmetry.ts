// Symmetry reduction (docs/explorer.md, "Symmetry"). CPUs whose code, handlers and initial state are the same up
// to renaming (the APs of a bring-up: `P3 on sipi { store booted3 = 1 }`) are members of one class; memory words
// renamed with them (booted1..bootedN) are theirs. A process that names members one at a time (a driver: the BSP
// sending INIT-SIPI-SIPI to P1, then P2, ...; an agent sending each an SMI) must do so in families: runs of blocks,
// one per member in member order, each the renaming of the first. The blocks of a family touch disjoint objects
// and cannot be held up, so running them in another order reaches the same final states (the proof is in the
// docs); a state is therefore equivalent to one with the members permuted among those every driver has treated
// alike (all done, or all still to come). The explorer keys its visited set by a canonical hash (hasher.ts sorts the
// members' signatures within those classes), and reports, for each final state, the outcome of every
// permutation of it. Whatever does not fit (a member named outside a family, an op whose meaning depends on APIC
// IDs or on CPU order) turns symmetry off for the test: `findSymmetry` says why.

import { Reg } from '../arch/apic.js';
import { A } from '../apic/layout.js';
import { C } from '../cpu/cpu.js';
import type { Insn, ProcCode } from '../sim/program.js';
import { FIXED_WORDS, P } from '../sim/program.js';
import type { Simulator, OutcomeValue } from '../sim/sim.js';
import type { Cond, Expr, Observable, OpKind } from '../litmus/ast.js';
import { opDef } from '../litmus/ops/index.js';
import type { InsnOf, RefsCtx } from '../litmus/ops/types.js';
import { observableName } from '../litmus/format.js';
import { holds, outcomeKey } from '../litmus/outcome.js';
import type { CanonLayout } from './hasher.js';
import { saveMapSharers } from './por.js';

/** APIC registers whose value is a CPU's identity or the ICR (which symmetry treats as dead, never read). */
const IDENTITY_REGS: readonly number[] = [Reg.ID, Reg.LDR, Reg.DFR, Reg.ICR_LO, Reg.ICR_HI];
const IDENTITY_MSRS = [0x802, 0x80d, 0x80e, 0x830, 0x831];

/**
 * Per op kind: why it rules symmetry out (a string), or null; and whether it may be in a family block (it runs at
 * once whenever reached: no waiting, no pause). A new op kind must be classified here (the type requires it).
 */
const OP_SYMMETRY: { [K in OpKind]: { refuse?: (op: InsnOf<K>) => string | null; block: boolean } } = {
  store: { block: true },
  load: { block: true },
  assign: { block: true },
  await: { block: false },
  'apic-write': { refuse: (op) => (IDENTITY_REGS.includes(op.reg.offset) ? `apic write ${op.reg.name ?? op.reg.offset}` : null), block: false },
  'apic-read': { refuse: (op) => (IDENTITY_REGS.includes(op.reg.offset) ? `apic read ${op.reg.name ?? op.reg.offset}` : null), block: false },
  wrmsr: { refuse: (op) => (IDENTITY_MSRS.includes(op.msr.index) ? `wrmsr ${op.msr.name ?? op.msr.index}` : null), block: false },
  rdmsr: { refuse: (op) => (IDENTITY_MSRS.includes(op.msr.index) ? `rdmsr ${op.msr.name ?? op.msr.index}` : null), block: false },
  send: {
    refuse: (op) => (op.mode === 'lowest' ? 'lowest-priority delivery (ties go by CPU order)' : op.dest.kind === 'phys' || op.dest.kind === 'logical' ? `a ${op.dest.kind} destination` : null),
    block: true,
  },
  sti: { block: false },
  cli: { block: false },
  hlt: { block: false },
  pause: { block: false },
  nop: { block: true },
  eoi: { block: false },
  rsm: { block: false },
  vmxon: { block: false },
  vmxoff: { block: false },
  vmentry: { block: false },
  smbase: { block: false },
  wait: { block: false },
  label: { block: false },
  goto: { block: true },
  if: { block: true },
  repeat: { block: false },
  'smram-read': { block: false },
  'smram-write': { block: false },
  'ioapic-write': { refuse: () => 'the I/O APIC', block: false },
  signal: { block: true },
  // Late: offered at every later step (it waits); lost: every CPU but the one named (namesOf: a broadcast).
  'smi-missed': { block: false },
  irq: { refuse: () => 'the I/O APIC', block: false },
  msi: { refuse: () => 'an MSI', block: false },
  hotplug: { refuse: () => 'hot-plug', block: false },
  unplug: { refuse: () => 'hot-plug', block: false },
  preempt: { refuse: () => 'vCPU scheduling', block: false },
  resume: { refuse: () => 'vCPU scheduling', block: false },
  post: { refuse: () => 'posted interrupts', block: false },
  // Litmus v2 (docs/litmus.md): what is the CPU's own and the same for every member runs; what names an APIC ID,
  // a device or another CPU's state turns symmetry off.
  'iret-op': { block: false },
  'mov-ss': { block: false },
  clgi: { block: false },
  stgi: { block: false },
  shutdown: { block: false },
  rdtsc: { block: false },
  'cr8-read': { block: false },
  'cr8-write': { block: false },
  cpuid: { refuse: () => 'cpuid (it reads the APIC ID)', block: false },
  'mmio-read': { refuse: () => 'raw MMIO', block: false },
  'mmio-write': { refuse: () => 'raw MMIO', block: false },
  'ioapic-read': { refuse: () => 'the I/O APIC', block: false },
  'ioapic-eoi': { refuse: () => 'the I/O APIC', block: false },
  lint: { refuse: () => 'a LINT pin', block: false },
  'pic-irq': { refuse: () => 'the 8259A', block: false },
  'pic-read': { refuse: () => 'the 8259A', block: false },
  'pic-write': { refuse: () => 'the 8259A', block: false },
  reset: { refuse: () => 'RESET', block: false },
  'await-state': { refuse: () => 'an await on a CPU\'s state', block: false },
  'vmm-event': { refuse: () => 'a VMM\'s host-side access', block: false },
  'vmm-save': { refuse: () => 'a VMM\'s host-side access', block: false },
  'vmm-restore': { refuse: () => 'a VMM\'s host-side access', block: false },
};

/** Ops a driver may run outside its families: they touch only the driver (or words nobody else names). */
const DRIVER_OWN: ReadonlySet<string> = new Set(['nop', 'wait', 'pause', 'hlt', 'sti', 'cli', 'rsm', 'assign', 'if', 'goto', 'load', 'store', 'end', 'iret', 'shutdown', 'iret-op', 'mov-ss', 'clgi', 'stgi', 'rdtsc', 'cr8-read', 'cr8-write']);

/** A run of blocks in a driver's code, one per member in member order, each the renaming of the first. */
export interface Family {
  start: number;
  /** Instructions per block. */
  len: number;
  end: number;
}

interface Driver {
  code: ProcCode;
  families: Family[];
}

/** What one instruction names. */
interface Names {
  cpus: number[];
  broadcast: boolean;
  mems: string[];
  reads: string[];
  writes: string[];
}

function namesOf(insn: Insn): Names {
  const out: Names = { cpus: [], broadcast: false, mems: [], reads: [], writes: [] };
  if (insn.kind === 'end' || insn.kind === 'iret') return out;
  const expr = (e: Expr): void => {
    if (e.kind === 'reg') out.reads.push(e.reg);
    else if (e.kind === 'bin') {
      expr(e.left);
      expr(e.right);
    }
  };
  const refs: RefsCtx = {
    cpu: (c) => void out.cpus.push(c),
    dest: (d) => {
      if (d.kind === 'cpu') out.cpus.push(d.cpu);
      else if (d.kind === 'all' || d.kind === 'others') out.broadcast = true;
    },
    readMem: (n) => void out.mems.push(n),
    writeMem: (n) => void out.mems.push(n),
    readReg: (r) => void out.reads.push(r),
    writeReg: (r) => void out.writes.push(r),
    expr,
  };
  opDef(insn).refs(insn as never, refs);
  if ((insn.kind === 'signal' && insn.target === 'all') || (insn.kind === 'smi-missed' && insn.how === 'lost')) out.broadcast = true;
  return out;
}

/** An instruction as text with its names abstracted: CPUs by `cpu`, memory words by `mem`, jump targets by `jump`. */
function render(insn: Insn, cpu: (c: number) => string, mem: (n: string) => string, jump: (t: number) => string): string {
  return JSON.stringify(insn, function (this: Record<string, unknown>, k: string, v: unknown) {
    if (k === 'pos' || k === 'label') return undefined;
    if (k === 'loc' && typeof v === 'string') return mem(v);
    if (k === 'target' && typeof v === 'number') return this.kind === 'signal' ? cpu(v) : jump(v);
    if (k === 'cpu' && typeof v === 'number') return cpu(v);
    if (typeof v === 'bigint') return `${v}n`;
    return v;
  });
}

export class Symmetry implements CanonLayout {
  readonly members: Int32Array[] = [];
  readonly ignored: number[] = [];
  readonly smbases: { smbase: number; save: number; initial: number }[] = [];
  readonly deadRegs: { pcWord: number; words: readonly number[]; live(pc: number): boolean }[] = [];
  private readonly cutsOf: { pcWord: number; families: Family[] }[] = [];
  /** Memory words of the members: template -> the word's name for each member. */
  readonly words: string[][];
  private readonly wordOwner = new Map<string, { t: number; p: number }>();

  constructor(
    private readonly sim: Simulator,
    readonly cpus: readonly number[],
    words: string[][],
    readonly drivers: readonly Driver[],
    blockRegs: Map<ProcCode, string[]>,
    /** Each member's SMBASE is its slot's own (findSymmetry: `smbaseIdentity`). */
    smbaseIdentity: boolean,
  ) {
    const m = sim.machine;
    this.words = words;
    words.forEach((names, t) => names.forEach((n, p) => this.wordOwner.set(n, { t, p })));
    for (const [p, c] of cpus.entries()) {
      const code = sim.program.cpus[c];
      const at: number[] = [];
      for (let j = 0; j < C.WORDS + A.WORDS; j++) at.push(m.cpuBase(c) + j);
      const simWords = FIXED_WORDS + code.counts.size + 2 * code.regs.size;
      for (let j = 0; j < simWords; j++) at.push(sim.w(code, j));
      for (const names of words) at.push(sim.memAt(names[p]), sim.memAt(names[p]) + 1);
      this.members.push(Int32Array.from(at));
      // A member's APIC ID is its slot's, not part of its state; so is an SMBASE of its own: only how SMBASE and
      // the save-state field relate to it counts (hasher.ts).
      this.ignored.push(m.cpuBase(c) + C.WORDS + A.ID, m.cpuBase(c) + C.WORDS + A.INITIAL_ID);
      if (smbaseIdentity) this.smbases.push({ smbase: m.cpuBase(c) + C.SMBASE, save: m.cpuBase(c) + C.SAVE_SMBASE, initial: m.cpus[c].smbase() });
    }
    // The ICR is never read (the test has no ICR access): what the last IPI was is dead, whoever sent it.
    for (let c = 0; c < m.cpus.length; c++) this.ignored.push(m.cpuBase(c) + C.WORDS + A.ICR_LO, m.cpuBase(c) + C.WORDS + A.ICR_HI);
    for (const d of drivers) {
      const pcWord = sim.w(d.code, P.PC);
      this.cutsOf.push({ pcWord, families: d.families });
      const regs = blockRegs.get(d.code) ?? [];
      if (regs.length === 0) continue;
      const inBlock = (pc: number): boolean => d.families.some((f) => pc > f.start && pc < f.end && (pc - f.start) % f.len !== 0);
      const at = regs.flatMap((r) => [sim.regAt(d.code, r), sim.regAt(d.code, r) + 1]);
      this.deadRegs.push({ pcWord, words: at, live: inBlock });
    }
  }

  /** Members are interchangeable within runs that no driver's progress through a family splits. */
  cuts(s: Uint32Array, out: Int32Array): number {
    let n = 0;
    const add = (at: number): void => {
      if (at <= 0 || at >= this.cpus.length) return;
      let i = 0;
      while (i < n && out[i] < at) i++;
      if (i < n && out[i] === at) return;
      for (let j = n++; j > i; j--) out[j] = out[j - 1];
      out[i] = at;
    };
    for (const d of this.cutsOf) {
      const pc = s[d.pcWord];
      for (const f of d.families) {
        if (pc < f.start || pc >= f.end) continue;
        const b = Math.floor((pc - f.start) / f.len);
        add(b);
        if ((pc - f.start) % f.len !== 0) add(b + 1);
      }
    }
    return n;
  }

  /** The member an observable belongs to, and the observable of member 0 it is the renaming of; null: global. */
  private ownerOf(o: Observable): { p: number; template: Observable } | null {
    if (o.kind === 'mem') {
      const w = this.wordOwner.get(o.name);
      return w ? { p: w.p, template: { ...o, name: this.words[w.t][0] } } : null;
    }
    if (!('cpu' in o)) return null;
    const p = this.cpus.indexOf(o.cpu);
    return p < 0 ? null : { p, template: { ...o, cpu: this.cpus[0] } };
  }

  private instance(template: Observable, p: number): Observable {
    if (template.kind === 'mem') return { ...template, name: this.words[this.wordOwner.get(template.name)!.t][p] };
    return { ...template, cpu: this.cpus[p] } as Observable;
  }

  /**
   * The outcomes of every permutation of the members in the (final) live state: `emit` gets each distinct one
   * with `from[j]`, the member whose state member j has in that permutation; it returns false to stop.
   */
  orbit(cond: Cond, emit: (key: string, values: Record<string, OutcomeValue>, satisfies: boolean, from: number[]) => boolean): void {
    const sim = this.sim, obs = sim.observables, n = this.cpus.length;
    const names = obs.map(observableName);
    const own = obs.map((o) => this.ownerOf(o));
    const templates: Observable[] = [];
    const tIndex = new Map<string, number>();
    const slot = own.map((w) => {
      if (!w) return -1;
      const k = observableName(w.template);
      if (!tIndex.has(k)) {
        tIndex.set(k, templates.length);
        templates.push(w.template);
      }
      return tIndex.get(k)!;
    });
    if (templates.length === 0) {
      const values: Record<string, OutcomeValue> = {};
      obs.forEach((o, i) => (values[names[i]] = sim.value(o)));
      emit(outcomeKey(values, names), values, holds(cond, (o) => values[observableName(o)]), [...this.cpus.keys()]);
      return;
    }
    // Each member's values of every template, and the members grouped by them.
    const tuple: OutcomeValue[][] = [];
    const groups = new Map<string, number[]>();
    for (let p = 0; p < n; p++) {
      tuple.push(templates.map((t) => sim.value(this.instance(t, p))));
      const k = tuple[p].map(String).join('|');
      groups.set(k, [...(groups.get(k) ?? []), p]);
    }
    const global: Record<string, OutcomeValue> = {};
    obs.forEach((o, i) => {
      if (slot[i] < 0) global[names[i]] = sim.value(o);
    });
    const observed = [...new Set(own.filter((w) => w !== null).map((w) => w!.p))].sort((a, b) => a - b);
    const classes = [...groups.values()];
    const left = classes.map((c) => c.length);
    const from = new Array<number>(n).fill(-1);
    let going = true;
    const finish = (): void => {
      const used = new Set(from.filter((k) => k >= 0));
      const rest = [...this.cpus.keys()].filter((k) => !used.has(k));
      const full = from.map((k) => (k >= 0 ? k : rest.shift()!));
      const values: Record<string, OutcomeValue> = {};
      obs.forEach((o, i) => {
        values[names[i]] = slot[i] < 0 ? global[names[i]] : tuple[full[own[i]!.p]][slot[i]];
      });
      going = emit(outcomeKey(values, names), values, holds(cond, (o) => values[observableName(o)]), full);
    };
    const place = (i: number): void => {
      if (!going) return;
      if (i === observed.length) return finish();
      const j = observed[i];
      for (let c = 0; c < classes.length && going; c++) {
        if (left[c] === 0) continue;
        from[j] = classes[c][classes[c].length - left[c]];
        left[c]--;
        place(i + 1);
        left[c]++;
        from[j] = -1;
      }
    };
    place(0);
  }

  describe(): string {
    const d = this.drivers.map((x) => `${x.families.length} famil${x.families.length === 1 ? 'y' : 'ies'} in ${this.procName(x.code)}`);
    return `P${this.cpus.join(', P')} interchangeable${d.length > 0 ? ` (${d.join('; ')})` : ''}`;
  }

  private procName(code: ProcCode): string {
    const c = this.sim.program.cpus.indexOf(code);
    return c >= 0 ? `P${c}` : `D${[...this.sim.program.agentIndex].find(([, i]) => this.sim.program.agents[i] === code)?.[0]}`;
  }
}

export type SymmetryFound = { symmetry: Symmetry; why?: undefined } | { symmetry: null; why: string };

/** The symmetry of a test, or why it has none the explorer can use. */
export function findSymmetry(sim: Simulator): SymmetryFound {
  const none = (why: string): SymmetryFound => ({ symmetry: null, why });
  const prog = sim.program, test = prog.test;
  if (test.settings.accel !== 'none') return none('vCPUs under a hardware assist');
  const procs = [...prog.cpus, ...prog.agents];
  for (const code of procs) {
    for (const insn of code.insns) {
      if (insn.kind === 'end' || insn.kind === 'iret') continue;
      const why = (OP_SYMMETRY[insn.kind].refuse as ((op: Insn) => string | null) | undefined)?.(insn);
      if (why) return none(why);
    }
  }
  if (test.init?.items.some((it) => it.kind === 'ioapic-entry')) return none('the I/O APIC');
  for (const o of sim.observables) {
    if (o.kind === 'remote-irr') return none('the I/O APIC');
    if (o.kind === 'apic-reg' && IDENTITY_REGS.includes(o.reg.offset)) return none(`P${o.cpu}.apic.${o.reg.name ?? o.reg.offset} observed`);
  }

  // The class: CPUs other than the BSP with the same code up to renaming, the largest such set.
  const shapes = new Map<string, number[]>();
  const memsOf = new Map<number, string[]>();
  for (let c = 1; c < prog.cpus.length; c++) {
    const code = prog.cpus[c], mems: string[] = [];
    const local = (n: string): string => {
      let i = mems.indexOf(n);
      if (i < 0) i = mems.push(n) - 1;
      return `m${i}`;
    };
    const shape = JSON.stringify([
      code.main, code.sipi, code.nmi, code.smi, code.vmexitInit, code.vmexitSipi, [...code.vectors], [...code.regs], [...code.counts],
      code.insns.map((i) => render(i, (x) => (x === c ? 'SELF' : String(x)), local, String)),
    ]);
    memsOf.set(c, mems);
    shapes.set(shape, [...(shapes.get(shape) ?? []), c]);
  }
  let cpus: number[] = [];
  for (const g of shapes.values()) if (g.length > cpus.length) cpus = g;
  if (cpus.length < 2) return none('no two CPUs run the same code up to renaming');
  const n = cpus.length, isMember = (c: number): boolean => cpus.includes(c);
  const sharers = saveMapSharers(sim, prog.cpus.length);
  // SMBASE is state (CPUs in SMM with one SMBASE share their state-save map, D-26): members start with the same
  // one, or each with its own that nothing changes, reads or shares, which is then its slot's identity.
  const bases = cpus.map((c) => sim.machine.cpus[c].smbase());
  const smbaseIdentity = new Set(bases).size === n;
  if (smbaseIdentity) {
    const why = smbaseNotIdentity(sim, cpus, sharers);
    if (why) return none(why);
  }

  // Memory words the members name: the same word for all (global), or one each (a template).
  const words: string[][] = [];
  const mems0 = memsOf.get(cpus[0])!;
  for (let j = 0; j < mems0.length; j++) {
    const names = cpus.map((c) => memsOf.get(c)![j]);
    const distinct = new Set(names).size;
    if (distinct === n) words.push(names);
    else if (distinct !== 1) return none(`members share memory word ${mems0[j]} with only some of the others`);
  }
  const owner = new Map<string, number>();
  words.forEach((names) => names.forEach((w, p) => owner.set(w, p)));

  // Everyone else: drivers (they name members, in families) and the rest (they name none).
  const drivers: Driver[] = [];
  const blockRegs = new Map<ProcCode, string[]>();
  const mentions = new Map<string, Set<ProcCode>>();
  for (const code of procs) {
    for (const insn of code.insns) for (const w of namesOf(insn).mems) mentions.set(w, (mentions.get(w) ?? new Set()).add(code));
  }
  let broadcasts = false;
  for (const code of procs) for (const insn of code.insns) broadcasts ||= namesOf(insn).broadcast;
  // Memory words only drivers name are a member's when each block of a family names its own: found with the
  // families, which then may find more (each pass knows more words); the last pass finds no new word.
  const memberWords = new Set(cpus.flatMap((c) => memsOf.get(c)!));
  for (let known = -1; known !== words.length; ) {
    known = words.length;
    drivers.length = 0;
    for (let q = 0; q < procs.length; q++) {
      const code = procs[q], c = q < prog.cpus.length ? q : -1;
      if (isMember(c)) continue;
      const tagOf = (insn: Insn): number => {
        const x = namesOf(insn);
        const ps = new Set([...x.cpus.filter(isMember).map((k) => cpus.indexOf(k)), ...x.mems.filter((w) => owner.has(w)).map((w) => owner.get(w)!)]);
        return ps.size === 0 ? -1 : ps.size === 1 ? [...ps][0] : -2;
      };
      const tags = code.insns.map(tagOf);
      if (tags.includes(-2)) return none('an op names two members');
      if (!tags.some((t) => t >= 0)) continue;
      const found = familiesOf(code, tags, n, words, owner, isMember, cpus, (w) => !owner.has(w) && !memberWords.has(w));
      if (typeof found === 'string') return none(found);
      drivers.push({ code, families: found.families });
      blockRegs.set(code, found.regs);
    }
  }

  if (drivers.length > 0) {
    // The families' blocks may be run in any order only if every other step of a member's stays with that member,
    // no driver can be interrupted, and a driver's own steps touch nobody else (docs/explorer.md, "Symmetry").
    if (broadcasts) return none('a broadcast reaches every member at once');
    const sharing = cpus.find((c) => sharers[c].length > 0);
    if (sharing !== undefined) return none(`P${sharing} may share its state-save map with another CPU (D-26)`);
    if (sim.quirks.apicMmioInSmm === 'ram' && cpus.some((c) => prog.cpus[c].insns.some((i) => i.kind === 'apic-read' || i.kind === 'apic-write'))) {
      return none('in SMM the xAPIC page is one RAM page every CPU shares (quirk apicMmioInSmm)');
    }
    for (const c of cpus) {
      for (const insn of prog.cpus[c].insns) {
        const x = namesOf(insn);
        if (x.cpus.some((k) => k !== c)) return none(`P${c} names another CPU`);
        for (const w of x.mems) {
          if (owner.get(w) === cpus.indexOf(c)) continue;
          if (owner.has(w) || writtenBy(procs, w)) return none(`P${c} shares memory word ${w}`);
        }
      }
    }
    const driverCpus = drivers.map((d) => prog.cpus.indexOf(d.code)).filter((c) => c >= 0);
    for (const code of procs) {
      for (const insn of code.insns) {
        const x = namesOf(insn);
        if (insn.kind === 'send' && insn.dest.kind === 'self' && driverCpus.includes(prog.cpus.indexOf(code))) return none('a driver sends itself an IPI');
        if (x.cpus.some((k) => driverCpus.includes(k))) return none(`P${x.cpus.find((k) => driverCpus.includes(k))} names a CPU that drives members`);
      }
    }
    for (const c of driverCpus) {
      if (test.init?.items.some((it) => 'cpu' in it && it.cpu === c && it.kind !== 'reg' && it.kind !== 'if')) return none(`P${c} drives members and its initial state is set`);
    }
    for (const d of drivers) {
      const fams = d.families;
      for (let pc = 0; pc < d.code.insns.length; pc++) {
        const insn = d.code.insns[pc];
        if (fams.some((f) => pc >= f.start && pc < f.end)) continue;
        if (!DRIVER_OWN.has(insn.kind)) return none(`a driver's ${insn.kind} outside its families`);
        for (const w of namesOf(insn).mems) if ((mentions.get(w)?.size ?? 0) > 1) return none(`a driver shares memory word ${w}`);
      }
    }
  } else {
    for (const code of procs) {
      const c = prog.cpus.indexOf(code);
      if (isMember(c)) continue;
      if (code.insns.some((i) => namesOf(i).mems.some((w) => owner.has(w)))) return none('a member\'s memory word is named by another process');
    }
  }
  for (const d of drivers) {
    const c = prog.cpus.indexOf(d.code);
    for (const r of blockRegs.get(d.code) ?? []) {
      // (an agent's register of that name observed rules it out whichever agent it is: a little too careful)
      if (sim.observables.some((o) => (o.kind === 'reg' && o.cpu === c && o.reg === r) || (o.kind === 'agent-reg' && c < 0 && o.reg === r))) return none(`${r} of a driver is observed`);
      if (test.init?.items.some((it) => it.kind === 'reg' && it.cpu === c && it.reg === r)) return none(`${r} of a driver is set by init`);
    }
  }
  const sym = new Symmetry(sim, cpus, words, drivers, blockRegs, smbaseIdentity);
  // The members' states where the search starts must be renamings of each other too.
  const s = sim.machine.state, ignored = new Set(sym.ignored);
  // (An SMBASE of its own is its initial one; the save-state field is compared as the hash has it: 0 or SMBASE.)
  const relative = new Map(sym.smbases.flatMap((b) => [[b.smbase, 0], [b.save, s[b.save] === 0 ? 0 : s[b.save] === s[b.smbase] ? 1 : 2]]));
  const local = (p: number): number[] => [...sym.members[p]].map((at) => (ignored.has(at) ? 0 : relative.get(at) ?? s[at]));
  const first = local(0).join(',');
  for (let p = 1; p < n; p++) if (local(p).join(',') !== first) return none(`P${cpus[p]} starts in another state than P${cpus[0]}`);
  return { symmetry: sym };
}

/**
 * Why the members' SMBASEs, all different, are not identities (null: they are): an SMBASE that a handler writes or
 * reads, that another CPU may share (por.ts: also through RSM's alignment under quirk smbaseAligned32K), or that is
 * observed. Otherwise a member's SMBASE is its initial one or, after an RSM under the quirk, that one's tile.
 */
function smbaseNotIdentity(sim: Simulator, cpus: readonly number[], sharers: readonly number[][]): string | null {
  const prog = sim.program;
  for (const code of [...prog.cpus, ...prog.agents]) {
    for (const i of code.insns) {
      if (i.kind === 'smbase' || ((i.kind === 'smram-read' || i.kind === 'smram-write') && i.field === 'SMBASE')) return 'the members\' SMBASEs differ and a handler reads or writes the SMBASE field';
    }
  }
  const shared = cpus.find((c) => sharers[c].length > 0);
  if (shared !== undefined) return `P${shared} may share its state-save map with another CPU (D-26)`;
  const seen = sim.observables.find((o) => o.kind === 'smbase' && cpus.includes(o.cpu));
  if (seen) return `P${(seen as { cpu: number }).cpu}.smbase observed, and the members' SMBASEs differ`;
  return null;
}

function writtenBy(procs: ProcCode[], w: string): boolean {
  return procs.some((code) => code.insns.some((i) => (i.kind === 'store' && i.loc === w)));
}

/**
 * A driver's families: at the first op that names member 0, blocks of the distance to the first that names member 1
 * must follow, N of them, each the renaming of the first; then the next family may start. Also the registers its
 * blocks use, which must be dead between blocks (written first in each block, used nowhere else).
 */
function familiesOf(code: ProcCode, tags: number[], n: number, words: string[][], owner: Map<string, number>, isMember: (c: number) => boolean, cpus: number[], unknown: (w: string) => boolean): { families: Family[]; regs: string[] } | string {
  const insns = code.insns, families: Family[] = [];
  for (let pc = 0; pc < insns.length; pc++) {
    const i = insns[pc];
    if ((i.kind === 'goto' || i.kind === 'if') && i.target <= pc) return 'a driver jumps backwards';
  }
  /** The family of blocks of `len` from `start`, or why there is none. */
  const family = (start: number, len: number): Family | string => {
    const end = start + n * len;
    if (end > insns.length) return 'a family runs past the end of its code';
    /** Per block, the words no member names, in the order the block names them. */
    const fresh: string[][] = [];
    const shape = (b: number): string => {
      const mine: string[] = (fresh[b] = []);
      return insns.slice(start + b * len, start + (b + 1) * len).map((insn) => render(insn,
        (c) => (c === cpus[b] ? 'M' : isMember(c) ? `X${c}` : String(c)),
        (w) => {
          if (unknown(w)) return `U${mine.includes(w) ? mine.indexOf(w) : mine.push(w) - 1}`;
          return owner.get(w) === b ? `T${words.findIndex((ns) => ns[b] === w)}` : owner.has(w) ? `Y${w}` : w;
        },
        (t) => (t >= start + b * len && t <= start + (b + 1) * len ? `J${t - start - b * len}` : `out${t}`))).join('\n');
    };
    const first = shape(0);
    for (let b = 0; b < n; b++) {
      if (shape(b) !== first) return `block ${b + 1} of a family is not the renaming of the first`;
      for (let o = 0; o < len; o++) if (tags[start + b * len + o] !== b && tags[start + b * len + o] !== -1) return 'a family block names another member';
    }
    if (first.includes('"out')) return 'a family block jumps out of itself';
    // Words the blocks name in place of each other's: each block's own, a new template.
    for (let u = 0; u < fresh[0].length; u++) {
      const names = fresh.map((f) => f[u]);
      if (new Set(names).size !== n) return 'a family block names a shared memory word';
      names.forEach((w) => owner.set(w, names.indexOf(w)));
      words.push(names);
    }
    for (let o = 0; o < len; o++) {
      const insn = insns[start + o];
      if (insn.kind === 'end' || insn.kind === 'iret' || !OP_SYMMETRY[insn.kind].block) return `a family block holds ${insn.kind}, which may wait`;
      if (namesOf(insn).mems.some((w) => !owner.has(w))) return 'a family block names a shared memory word';
    }
    return { start, len, end };
  };
  let pc = 0, from = 0;
  while (pc < insns.length) {
    if (tags[pc] < 0) {
      pc++;
      continue;
    }
    if (tags[pc] !== 0) return `a driver names P${cpus[tags[pc]]} outside a family that names every member in order`;
    const next = tags.findIndex((t, i) => i > pc && t === 1);
    if (next < 0) return 'a driver names only the first member';
    // A block may begin with ops that name no member: try the starts back to the end of the last family.
    let f: Family | string = 'no family';
    for (let start = pc; start >= from && typeof f === 'string'; start--) {
      const g = family(start, next - pc);
      if (typeof g !== 'string' || start === pc) f = g;
    }
    if (typeof f === 'string') return f;
    families.push(f);
    pc = from = f.end;
  }
  // Between two families of a driver, time must pass: a straight run with a `wait` (no block of the one and of
  // the other ever runs between the same two passings of time).
  for (let f = 1; f < families.length; f++) {
    const between = insns.slice(families[f - 1].end, families[f].start);
    if (!between.some((i) => i.kind === 'wait' && i.ticks > 0) || between.some((i) => i.kind === 'goto' || i.kind === 'if')) return 'two families of a driver without a `wait` between them';
  }
  for (let pc = 0; pc < insns.length; pc++) {
    const i = insns[pc];
    if (i.kind !== 'goto' && i.kind !== 'if') continue;
    for (const f of families) {
      const inside = (x: number): boolean => x > f.start && x < f.end;
      if (inside(i.target) && !(inside(pc) || pc === f.start)) return 'a jump into a family';
    }
  }
  // Registers of the blocks: written before read in each block, and named nowhere else.
  const regs = new Set<string>();
  for (const f of families) for (let o = 0; o < f.len; o++) for (const r of [...namesOf(insns[f.start + o]).writes, ...namesOf(insns[f.start + o]).reads]) regs.add(r);
  for (const r of regs) {
    for (let pc = 0; pc < insns.length; pc++) {
      const x = namesOf(insns[pc]);
      if (!x.reads.includes(r) && !x.writes.includes(r)) continue;
      if (!families.some((f) => pc >= f.start && pc < f.end)) return `${r} of a driver is used outside its families`;
    }
    for (const f of families) {
      let w = -1;
      for (let o = 0; o < f.len && w < 0; o++) {
        const x = namesOf(insns[f.start + o]);
        if (x.reads.includes(r)) return `${r} is read before it is written in a family block`;
        if (x.writes.includes(r)) w = o;
      }
      for (let o = 0; o < w; o++) {
        const i = insns[f.start + o];
        if ((i.kind === 'goto' || i.kind === 'if') && i.target - f.start > w) return `a jump over the first write of ${r} in a family block`;
      }
    }
  }
  return { families, regs: [...regs] };
}
