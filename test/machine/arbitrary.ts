// Random operation sequences on whole machines (fast-check), shared by the property tests and the fuzzer
// (bench/fuzz.ts): 2-4 CPUs, random IPIs of every mode, TPR writes, EOIs, event boundaries, NMI/SMI/INIT pins, SIPIs,
// RSM, IRET, timer programming, time passing, queued arrivals, raw guest register traffic, the litmus v2 doors
// (LINT levels, RESET of one CPU, CR8, physical addresses, a VMM's save/restore and host IA32_APIC_BASE write), and
// host misuse. No test runner here: a broken expectation throws.

import fc from 'fast-check';
import { ApicBase, DeliveryMode, LvtIndex, MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, Reg, Shorthand } from '../../src/arch/apic.js';
import { Activity, VmxMode } from '../../src/arch/cpu.js';
import { HostError } from '../../src/arch/errors.js';
import { A } from '../../src/apic/layout.js';
import { F } from '../../src/cpu/cpu.js';
import { Machine, type MachineConfig, type TraceEvent } from '../../src/machine/machine.js';
import { cpuid, cr8Read, cr8Write, physRead, physWrite, restoreApicBase, restoreLapic, saveLapic } from '../../src/machine/platform.js';

/** A failed expectation of the shared harness. */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

// ---------------------------------------------------------------- operations

export type Op =
  | { k: 'ipi'; from: number; to: number; mode: number; vector: number; dest: 'phys' | 'bcast' | 'logical'; mask: number; short: number; level: boolean; assert: boolean }
  | { k: 'tpr'; cpu: number; value: number }
  | { k: 'eoi'; cpu: number }
  | { k: 'take'; cpu: number }
  | { k: 'nmi' | 'smi' | 'init'; cpu: number }
  | { k: 'rsm'; cpu: number }
  | { k: 'iret'; cpu: number; restoredIf: boolean }
  | { k: 'sti' | 'cli' | 'hlt' | 'begin' | 'movss' | 'shutdown'; cpu: number }
  | { k: 'timer'; cpu: number; vector: number; periodic: boolean; masked: boolean; count: number; divide: number }
  | { k: 'advance'; dt: number }
  | { k: 'deliver'; pick: number }
  | { k: 'svr'; cpu: number; enabled: boolean; focusOff: boolean }
  | { k: 'apicMode'; cpu: number; to: 'xapic' | 'x2apic' | 'disabled' }
  | { k: 'smbase'; cpu: number; value: number }
  | { k: 'autoHalt'; cpu: number; on: boolean }
  | { k: 'vmx'; cpu: number; mode: VmxMode }
  | { k: 'gif'; cpu: number; on: boolean }
  | { k: 'plug' | 'unplug'; cpu: number }
  | { k: 'mmio'; cpu: number; offset: number; value: number }
  | { k: 'wrmsr'; cpu: number; msr: number; value: bigint }
  | { k: 'rdmsr'; cpu: number; msr: number }
  | { k: 'lint'; cpu: number; pin: 0 | 1; lvt: number; level: boolean }
  | { k: 'reset' | 'vmmSave' | 'vmmRestore'; cpu: number }
  | { k: 'cr8'; cpu: number; value: bigint }
  | { k: 'phys'; cpu: number; address: number; value: number }
  | { k: 'hostBase'; cpu: number; to: 'xapic' | 'x2apic' | 'disabled' };

export const cpuArb = fc.integer({ min: 0, max: 3 });
export const vectorArb = fc.oneof(
  { arbitrary: fc.integer({ min: 16, max: 255 }), weight: 9 },
  { arbitrary: fc.integer({ min: 0, max: 15 }), weight: 1 },
);
/** A few vectors, so that the same vector is sent, accepted and acknowledged several times. */
export const hotVectorArb = fc.oneof({ arbitrary: fc.constantFrom(0x31, 0x52, 0x53, 0x90, 0xe1), weight: 3 }, { arbitrary: vectorArb, weight: 1 });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const cpuOp = <K extends string>(...ks: K[]) => fc.record({ k: fc.constantFrom(...ks), cpu: cpuArb });

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      k: fc.constant('ipi' as const),
      from: cpuArb,
      to: cpuArb,
      mode: fc.constantFrom(0, 0, 0, 0, 1, 1, 2, 4, 4, 5, 6, 6, 3, 7),
      vector: hotVectorArb,
      dest: fc.constantFrom('phys' as const, 'phys' as const, 'bcast' as const, 'logical' as const),
      mask: fc.integer({ min: 0, max: 255 }),
      short: fc.constantFrom(0, 0, 0, 1, 2, 3),
      level: fc.boolean(),
      assert: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('tpr' as const), cpu: cpuArb,
      value: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 0x3f }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 }),
    }),
  },
  {
    // The common case: a fixed, edge-triggered IPI to one CPU.
    weight: 8,
    arbitrary: fc.record({
      k: fc.constant('ipi' as const), from: cpuArb, to: cpuArb, mode: fc.constant(0), vector: hotVectorArb, dest: fc.constant('phys' as const),
      mask: fc.constant(0), short: fc.constant(0), level: fc.constant(false), assert: fc.constant(true),
    }),
  },
  { weight: 5, arbitrary: cpuOp('eoi') },
  { weight: 14, arbitrary: cpuOp('take') },
  { weight: 5, arbitrary: cpuOp('nmi', 'smi', 'init') },
  { weight: 3, arbitrary: cpuOp('rsm') },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('iret' as const), cpu: cpuArb, restoredIf: fc.boolean() }) },
  { weight: 5, arbitrary: cpuOp('sti', 'cli', 'hlt', 'begin', 'movss', 'shutdown') },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('timer' as const), cpu: cpuArb, vector: hotVectorArb, periodic: fc.boolean(), masked: fc.boolean(),
      count: fc.integer({ min: 8, max: 400 }), divide: fc.constantFrom(0, 1, 2, 3, 8, 9, 0xa, 0xb),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('advance' as const), dt: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 8, arbitrary: fc.record({ k: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('svr' as const), cpu: cpuArb, enabled: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }), focusOff: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('apicMode' as const), cpu: cpuArb, to: fc.constantFrom('xapic' as const, 'x2apic' as const, 'disabled' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('smbase' as const), cpu: cpuArb, value: u32 }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('autoHalt' as const), cpu: cpuArb, on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('vmx' as const), cpu: cpuArb, mode: fc.constantFrom(VmxMode.OFF, VmxMode.ROOT, VmxMode.NON_ROOT) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('gif' as const), cpu: cpuArb, on: fc.boolean() }) },
  { weight: 1, arbitrary: cpuOp('plug', 'unplug') },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('mmio' as const), cpu: cpuArb, offset: fc.oneof(fc.integer({ min: 0, max: 0x3f }).map((i) => i << 4), fc.integer({ min: 0, max: 0xfff })), value: u32 }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('wrmsr' as const), cpu: cpuArb,
      msr: fc.oneof(fc.integer({ min: 0x800, max: 0x8ff }), fc.constantFrom(MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, 0x10), u32),
      value: fc.oneof(fc.bigInt({ min: 0n, max: 0xffffn }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rdmsr' as const), cpu: cpuArb, msr: fc.oneof(fc.integer({ min: 0x800, max: 0x8ff }), u32) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('lint' as const), cpu: cpuArb, pin: fc.constantFrom(0 as const, 1 as const), level: fc.boolean(),
      // Fixed (edge or level), SMI, NMI, INIT, ExtINT; masked or not.
      lvt: fc.tuple(hotVectorArb, fc.constantFrom(0, 0x8000, 0x200, 0x400, 0x500, 0x700), fc.boolean()).map(([v, mode, masked]) => v | mode | (masked ? 1 << 16 : 0)),
    }),
  },
  { weight: 1, arbitrary: cpuOp('reset', 'vmmSave', 'vmmRestore') },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cr8' as const), cpu: cpuArb, value: fc.oneof(fc.bigInt({ min: 0n, max: 15n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('phys' as const), cpu: cpuArb, value: u32,
      address: fc.oneof(fc.integer({ min: 0, max: 0xff }).map((i) => (0xfee00000 + (i << 4)) >>> 0), fc.constantFrom(0xfec00000, 0xfec00010), u32),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('hostBase' as const), cpu: cpuArb, to: fc.constantFrom('xapic' as const, 'x2apic' as const, 'disabled' as const) }) },
);

export const configArb = fc.record({
  cpus: fc.integer({ min: 2, max: 4 }),
  vendor: fc.constantFrom('intel' as const, 'amd' as const),
  delivery: fc.constantFrom('immediate' as const, 'queued' as const),
});
export type Cfg = { cpus: number; vendor: 'intel' | 'amd'; delivery: 'immediate' | 'queued' };

// ---------------------------------------------------------------- a world: a machine plus reference bookkeeping

export interface World {
  m: Machine;
  n: number;
  /** Fixed/lowest-priority interrupts that reached each CPU's APIC, per vector (an upper bound on acceptances). */
  arrivals: number[][];
  /** Interrupts acknowledged into ISR, per CPU and vector. */
  acks: number[][];
  /**
   * Per vector, an upper bound on the fixed interrupts sent, from what was asked of the bus and not from what the
   * bus did: a lowest-priority, self or single physical destination reaches one CPU, anything else at most all.
   */
  sentBound: number[];
  /** Per vector, LVT timer, error and LINT interrupts signalled, and IRR bits a VMM restored (they reach IRR without
   *  the bus). */
  lvtSignals: number[];
  /** An NMI reached the CPU since it last took one. */
  nmiArrived: boolean[];
  /** A VMM's saved copy of each CPU's APIC (saveLapic), if any. */
  saved: (Uint32Array | null)[];
}

export function fullConfig(cfg: Cfg, onTrace?: (e: TraceEvent) => void): MachineConfig {
  return { ...cfg, busCapacity: 512, onTrace };
}

export function newWorld(cfg: Cfg, traced = true): World {
  const w: World = {
    m: undefined as unknown as Machine,
    n: cfg.cpus,
    arrivals: Array.from({ length: cfg.cpus }, () => new Array<number>(256).fill(0)),
    acks: Array.from({ length: cfg.cpus }, () => new Array<number>(256).fill(0)),
    sentBound: new Array<number>(256).fill(0),
    lvtSignals: new Array<number>(256).fill(0),
    nmiArrived: new Array<boolean>(cfg.cpus).fill(false),
    saved: new Array<Uint32Array | null>(cfg.cpus).fill(null),
  };
  // LVT sources accept straight into IRR, not over the bus: count them from the trace.
  const onTrace = traced
    ? (e: TraceEvent) => {
        if (e.cpu < 0) return;
        let v = -1;
        if (e.text === 'apic: timer fired') v = w.m.apics[e.cpu].word(A.LVT + 1) & 0xff;
        else if (e.text.startsWith('apic: error')) v = w.m.apics[e.cpu].word(A.LVT + 6) & 0xff;
        if (v < 0) return;
        w.arrivals[e.cpu][v]++;
        w.lvtSignals[v]++;
      }
    : undefined;
  w.m = new Machine(fullConfig(cfg, onTrace));
  setUp(w);
  return w;
}

/** Boot every AP with INIT-SIPI, software-enable every APIC and set IF everywhere. */
function setUp(w: World): void {
  const m = w.m;
  for (let i = 1; i < w.n; i++) {
    writeReg(m, 0, Reg.ICR_HI, i << 24);
    writeReg(m, 0, Reg.ICR_LO, 0x4500);
    writeReg(m, 0, Reg.ICR_LO, 0x4610);
  }
  while (m.inFlight().length > 0) deliver(w, 0);
  for (let i = 0; i < w.n; i++) {
    writeReg(m, i, Reg.SVR, 0x1ff);
    m.cpus[i].setIf(true);
  }
}

/** A guest register write through whichever interface the CPU's APIC is in (nothing when it is disabled). */
export function writeReg(m: Machine, cpu: number, offset: number, value: number): void {
  const mode = m.apics[cpu].mode();
  if (mode === 'xapic') m.apicWrite(cpu, offset, value >>> 0);
  else if (mode === 'x2apic' && offset !== Reg.ICR_HI) m.wrmsr(cpu, 0x800 + (offset >> 4), BigInt(value >>> 0));
}
export function sendIpi(m: Machine, cpu: number, lo: number, destination: number): void {
  const mode = m.apics[cpu].mode();
  if (mode === 'xapic') {
    m.apicWrite(cpu, Reg.ICR_HI, ((destination & 0xff) << 24) >>> 0);
    m.apicWrite(cpu, Reg.ICR_LO, lo >>> 0);
  } else if (mode === 'x2apic') {
    m.wrmsr(cpu, 0x830, (BigInt(destination >>> 0) << 32n) | BigInt(lo & 0xccfff));
  }
}

export function deliver(w: World, i: number): void {
  const r = w.m.inFlight()[i];
  if (r.mode === 'fixed' || r.mode === 'lowest') w.arrivals[r.target][r.vector]++;
  if (r.mode === 'nmi') w.nmiArrived[r.target] = true;
  w.m.deliver(i);
}

/** Apply one operation; returns what the guest or host observes, for comparing machines. */
export function apply(w: World, op: Op): unknown {
  const seen = applyOp(w, op);
  // With immediate delivery an NMI IPI arrives inside the ICR write: whatever can write the ICR may have sent one.
  if (op.k === 'ipi' || op.k === 'mmio' || op.k === 'wrmsr' || op.k === 'phys' || op.k === 'lint') {
    for (let i = 0; i < w.n; i++) if (w.m.cpus[i].has(F.NMI_PENDING)) w.nmiArrived[i] = true;
  }
  return seen;
}

function applyOp(w: World, op: Op): unknown {
  const m = w.m;
  const c = 'cpu' in op ? op.cpu % w.n : 0;
  const cpu = m.cpus[c];
  // Instructions run only on a processor that is executing.
  const runs = cpu.activity() === Activity.ACTIVE;
  switch (op.k) {
    case 'ipi': {
      const from = op.from % w.n;
      if (m.cpus[from].activity() !== Activity.ACTIVE) return 'idle';
      const x2 = m.apics[from].mode() === 'x2apic';
      const destination = op.dest === 'phys' ? m.apics[op.to % w.n].id() : op.dest === 'bcast' ? (x2 ? 0xffffffff : 0xff) : op.mask;
      const lo = op.vector | (op.mode << 8) | (op.dest === 'logical' ? 1 << 11 : 0) | (op.assert ? 1 << 14 : 0) | (op.level ? 1 << 15 : 0) | (op.short << 18);
      sendIpi(m, from, lo, destination);
      if (op.mode === DeliveryMode.FIXED || op.mode === DeliveryMode.LOWEST) {
        const one = op.mode === DeliveryMode.LOWEST || op.short === Shorthand.SELF || (op.short === Shorthand.NONE && op.dest === 'phys');
        w.sentBound[op.vector] += one ? 1 : w.n;
      }
      return 'sent';
    }
    case 'tpr': if (runs) writeReg(m, c, Reg.TPR, op.value); return runs;
    case 'eoi': if (runs) writeReg(m, c, Reg.EOI, 0); return runs;
    case 'take': {
      // An empty slot has no processor to take anything (host misuse, checked in (6)).
      if (!cpu.present()) return 'absent';
      const isrBefore = m.apics[c].isr.bind(m.apics[c]);
      const before = Array.from({ length: 256 }, (_, v) => isrBefore(v));
      const blocked = cpu.has(F.NMI_BLOCKED);
      const taken = m.takeEvent(c);
      if (taken.kind === 'intr' && !before[taken.vector] && m.apics[c].isr(taken.vector)) w.acks[c][taken.vector]++;
      if (taken.kind === 'nmi') {
        check(!blocked, 'an NMI was taken while NMIs were blocked');
        check(w.nmiArrived[c], 'an NMI was taken that no NMI arrival accounts for');
        w.nmiArrived[c] = false;
      }
      return taken;
    }
    case 'nmi':
      m.nmi(c);
      if (cpu.present()) w.nmiArrived[c] = true;
      return null;
    case 'smi': m.smi(c); return null;
    case 'init': m.init(c); return null;
    case 'rsm': return runs ? cpu.rsm() : null;
    case 'iret': if (runs) cpu.iret(op.restoredIf); return runs;
    case 'sti': if (runs) cpu.sti(); return runs;
    case 'cli': if (runs) cpu.cli(); return runs;
    case 'hlt': if (runs) cpu.hlt(); return runs;
    case 'begin': if (runs) cpu.beginInstruction(); return runs;
    case 'movss': if (runs) cpu.movSs(); return runs;
    case 'shutdown': if (runs) cpu.shutdown(); return runs;
    case 'timer':
      if (!runs) return false;
      writeReg(m, c, Reg.TIMER_DCR, op.divide);
      writeReg(m, c, Reg.LVT_TIMER, op.vector | (op.masked ? 1 << 16 : 0) | (op.periodic ? 1 << 17 : 0));
      writeReg(m, c, Reg.TIMER_ICR, op.count);
      return true;
    case 'advance': m.advanceBy(op.dt); return m.now();
    case 'deliver': {
      const eligible = m.inFlight().flatMap((r, i) => (r.eligible ? [i] : []));
      if (eligible.length === 0) return -1;
      const i = eligible[op.pick % eligible.length];
      deliver(w, i);
      return i;
    }
    case 'svr': if (runs) writeReg(m, c, Reg.SVR, 0xff | (op.enabled ? 0x100 : 0) | (op.focusOff ? 0x200 : 0)); return runs;
    case 'apicMode': {
      if (!runs) return null;
      const base = ApicBase.DEFAULT_BASE | (op.to === 'disabled' ? 0 : ApicBase.EN) | (op.to === 'x2apic' ? ApicBase.EXTD : 0);
      return m.wrmsr(c, MSR_IA32_APIC_BASE, BigInt(base >>> 0)).ok;
    }
    case 'smbase': cpu.writeSaveStateSmbase(op.value); return cpu.saveStateSmbase();
    case 'autoHalt': cpu.setAutoHaltRestart(op.on); return null;
    case 'vmx': if (cpu.present()) cpu.setVmx(op.mode); return null;
    case 'gif': if (cpu.present()) cpu.setGif(op.on); return null;
    case 'plug':
      if (cpu.present()) return false;
      m.hotplug(c);
      w.nmiArrived[c] = false;
      return true;
    case 'unplug':
      if (c === 0 || !cpu.present()) return false;
      m.unplug(c);
      w.nmiArrived[c] = false;
      return true;
    case 'mmio': return runs ? [m.mmioWrite(c, m.apics[c].mmioBase() + op.offset, op.value), m.mmioRead(c, m.apics[c].mmioBase() + op.offset)] : null;
    case 'wrmsr': return runs ? m.wrmsr(c, op.msr, op.value) : null;
    case 'rdmsr': return runs ? m.rdmsr(c, op.msr) : null;
    case 'lint': {
      if (runs) writeReg(m, c, op.pin === 0 ? Reg.LVT_LINT0 : Reg.LVT_LINT1, op.lvt);
      const lvt = m.apics[c].word(A.LVT + (op.pin === 0 ? LvtIndex.LINT0 : LvtIndex.LINT1));
      // A fixed entry may deliver its vector (an upper bound: counted whether or not the pin rises).
      if (op.level && cpu.present() && (lvt & MASKED) === 0 && ((lvt >>> 8) & 7) === 0) {
        w.arrivals[c][lvt & 0xff]++;
        w.lvtSignals[lvt & 0xff]++;
      }
      m.setLint(c, op.pin, op.level);
      return lvt;
    }
    case 'reset':
      m.reset(c);
      w.nmiArrived[c] = false;
      return cpu.activity();
    case 'cr8': return runs ? [cr8Write(m, c, op.value), cr8Read(m, c)] : null;
    case 'phys': return runs ? [cpuid(m, c, 1), physWrite(m, c, op.address, op.value), physRead(m, c, op.address)] : null;
    case 'vmmSave':
      w.saved[c] = new Uint32Array(A.WORDS);
      saveLapic(m, c, w.saved[c]);
      return null;
    case 'vmmRestore': {
      const saved = w.saved[c];
      // Only what this CPU's APIC held (KVM_SET_LAPIC of a state KVM_GET_LAPIC gave), and not into an emptied slot.
      if (saved === null || !cpu.present()) return false;
      // Its IRR bits arrive again.
      for (let v = 0; v < 256; v++) {
        if (((saved[A.IRR + (v >>> 5)] >>> (v & 31)) & 1) === 0) continue;
        w.arrivals[c][v]++;
        w.lvtSignals[v]++;
      }
      restoreLapic(m, c, saved);
      return true;
    }
    case 'hostBase':
      restoreApicBase(m, c, BigInt((ApicBase.DEFAULT_BASE | (op.to === 'disabled' ? 0 : ApicBase.EN) | (op.to === 'x2apic' ? ApicBase.EXTD : 0)
        | (cpu.present() && m.apics[c].isBsp() ? ApicBase.BSP : 0)) >>> 0));
      return m.apics[c].mode();
  }
}

/** The words the machine's hash covers: everything up to the last message in flight. */
export function encoding(m: Machine): Uint32Array {
  const busBase = m.state.length - 1 - m.config.busCapacity;
  return m.state.subarray(0, busBase + 1 + m.bus.count());
}

export const opsArb = (max: number) => fc.array(opArb, { minLength: 1, maxLength: max, size: 'max' });

/** Word-for-word equality of two states (faster than a deep equality on typed arrays). */
export function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- host misuse

export type Misuse = { k: 'cpu' | 'vector' | 'other' | 'absent'; call: number; bad: number };
const badIndexArb = fc.oneof(fc.nat({ max: 1000 }), fc.constantFrom(-1, -7, 0.5, 1.25, Number.NaN, Number.POSITIVE_INFINITY));
const badVectorArb = fc.oneof(fc.integer({ min: 256, max: 1 << 20 }), fc.constantFrom(-1, -256, 0.5, 16.5, Number.NaN));
export const misuseArb: fc.Arbitrary<Misuse> = fc.oneof(
  fc.record({ k: fc.constant('cpu' as const), call: fc.nat({ max: 31 }), bad: badIndexArb }),
  fc.record({ k: fc.constant('vector' as const), call: fc.nat({ max: 3 }), bad: badVectorArb }),
  fc.record({ k: fc.constant('other' as const), call: fc.nat({ max: 31 }), bad: fc.nat({ max: 100 }) }),
  fc.record({ k: fc.constant('absent' as const), call: fc.nat({ max: 31 }), bad: fc.nat({ max: 3 }) }),
);

/** Run one host misuse; it must throw HostError. Returns false when the misuse does not apply here. */
export function misuse(w: World, u: Misuse): boolean {
  const m = w.m;
  const message = { vector: 0x40, mode: DeliveryMode.FIXED, levelTriggered: false, assert: true, logical: false, shorthand: Shorthand.NONE, destination: 0, x2apic: false };
  if (u.k === 'cpu') {
    // A bad index is one past the end or further, negative, or not an integer.
    const i = Number.isInteger(u.bad) && u.bad >= 0 ? w.n + u.bad : u.bad;
    const calls: (() => unknown)[] = [
      () => m.takeEvent(i), () => m.pendingEvent(i), () => m.nmi(i), () => m.smi(i), () => m.init(i),
      () => m.hotplug(i), () => m.unplug(i), () => m.apicRead(i, Reg.ID), () => m.apicWrite(i, Reg.TPR, 0),
      () => m.rdmsr(i, MSR_IA32_APIC_BASE), () => m.wrmsr(i, 0x808, 0n), () => m.cpu(i), () => m.apic(i),
      () => m.lint(i, 0), () => m.interruptDeliverable(i), () => m.waitingForSipi(i),
      () => m.setLint(i, 1, true), () => m.reset(i), () => cpuid(m, i, 1), () => cr8Write(m, i, 0n), () => cr8Read(m, i),
      () => physRead(m, i, 0xfee00020), () => physWrite(m, i, 0xfee00080, 0), () => saveLapic(m, i, new Uint32Array(A.WORDS)),
      () => restoreLapic(m, i, new Uint32Array(A.WORDS)), () => restoreApicBase(m, i, 0xfee00800n),
    ];
    calls[u.call % calls.length]();
  } else if (u.k === 'absent') {
    // An instruction on an empty slot.
    const empty = m.cpus.filter((c) => !c.present());
    if (empty.length === 0) return false;
    const cpu = empty[u.bad % empty.length], i = cpu.index;
    // ... or the machine acting as it: an empty slot has no processor (README "Embedding").
    const calls: (() => unknown)[] = [
      () => cpu.hlt(), () => cpu.shutdown(), () => cpu.sti(), () => cpu.cli(), () => cpu.iret(true),
      () => cpu.movSs(), () => cpu.setIf(true), () => cpu.setGif(false), () => cpu.setVmx(VmxMode.ROOT),
      () => m.wrmsr(i, MSR_IA32_APIC_BASE, 0xfee00900n), () => m.rdmsr(i, 0x802), () => m.mmioRead(i, 0xfee00020),
      () => m.mmioWrite(i, 0xfee00300, 0xc4400), () => m.apicRead(i, Reg.PPR), () => m.apicWrite(i, Reg.ICR_LO, 0xc4400),
      () => m.takeEvent(i), () => m.unplug(i),
      () => cpuid(m, i, 1), () => cr8Write(m, i, 1n), () => cr8Read(m, i), () => physRead(m, i, 0xfee00020), () => physWrite(m, i, 0xfec00000, 0),
    ];
    calls[u.call % calls.length]();
  } else if (u.k === 'vector') {
    const v = u.bad;
    const calls: (() => unknown)[] = [
      () => m.send(0, { ...message, vector: v }),
      () => m.send(1, { ...message, vector: v, mode: DeliveryMode.LOWEST, shorthand: Shorthand.ALL }),
      () => m.cpus[1].receiveSipi(v),
      () => m.cpus[0].receiveExtint(v),
    ];
    calls[u.call % calls.length]();
  } else {
    const calls: (() => unknown)[] = [
      () => m.deliver(m.bus.count() + u.bad),
      () => m.advanceTo(m.now() - 1 - u.bad),
      () => m.restore(new Uint32Array(u.bad)),
      () => m.send(w.n + 1 + u.bad, message),
      () => m.msi(0xfee00000, 2 ** 32 + u.bad),
      () => m.send(0, { ...message, mode: 8 + u.bad }),
      () => m.lint(0, (2 + u.bad) as 0),
      () => m.advanceTo(m.now() + 0.5),
      () => m.advanceBy(-1 - u.bad),
      () => m.advanceTo((1n << 64n) + BigInt(u.bad)),
      () => m.hotplug(0),
      () => m.setLint(0, (2 + u.bad) as 0, true),
      () => m.picInput(0, true), // no 8259A on this machine
      () => cpuid(m, 0, -1 - u.bad),
      () => physWrite(m, 0, 0xfee00080, 2 ** 32 + u.bad),
      () => physRead(m, 0, 0.5 + u.bad),
      () => saveLapic(m, 0, new Uint32Array(u.bad % A.WORDS)),
      () => restoreLapic(m, 0, new Uint32Array(A.WORDS + 1 + u.bad)),
      () => restoreApicBase(m, 0, 0xfee00a00n + BigInt(u.bad)), // bit 9 is reserved
      () => restoreApicBase(m, 0, 0xfee00400n), // EXTD without EN: the invalid state
      () => restoreApicBase(m, 0, 1n << 64n),
    ];
    calls[u.call % calls.length]();
  }
  return true;
}

// ---------------------------------------------------------------- invariants, and a whole sequence checked

const MASKED = 1 << 16;

/**
 * What the architecture guarantees of every state a machine without quirks reaches, whatever the guest and the
 * host did (host misuse included: it changes nothing). Throws on the first that does not hold.
 */
export function checkInvariants(m: Machine): void {
  const n = m.cpus.length;
  for (let i = 0; i < n; i++) {
    const c = m.cpus[i], a = m.apics[i], act = c.activity();
    check(act >= Activity.ACTIVE && act <= Activity.UNPLUGGED, `CPU ${i}: activity ${act} is none of the five states`);
    if (!c.present()) {
      // An empty slot has one encoding: nothing of a processor or an APIC is left in it.
      check(c.flags() === 0, `empty slot ${i} has flags 0x${c.flags().toString(16)}`);
      for (let w = 0; w < A.WORDS; w++) check(a.word(w) === 0, `empty slot ${i} has APIC word ${w} = 0x${a.word(w).toString(16)}`);
      continue;
    }
    const tpr = a.word(A.TPR);
    // SDM Vol 3A 11.8.3.1 Task and Processor Priorities: TPR bits 31:8 are reserved; PPR[7:4] is the higher of
    // TPR[7:4] and ISRV[7:4], PPR[3:0] = TPR[3:0] when TPR[7:4] wins and 0 otherwise.
    check(tpr <= 0xff, `CPU ${i}: TPR 0x${tpr.toString(16)} has reserved bits set`);
    let isrv = 0;
    for (let v = 255; v >= 0 && isrv === 0; v--) if (a.isr(v)) isrv = v;
    const ppr = (tpr >>> 4) >= (isrv >>> 4) ? tpr : isrv & 0xf0;
    check(a.ppr() === ppr, `CPU ${i}: PPR 0x${a.ppr().toString(16)}, the formula gives 0x${ppr.toString(16)} (TPR 0x${tpr.toString(16)}, ISRV 0x${isrv.toString(16)})`);
    // SDM Vol 3A 11.5.2 Valid Interrupt Vectors, 11.5.3: vectors 0-15 are illegal; the APIC latches an error
    // instead of accepting one, so they are never requested or in service.
    check((a.word(A.IRR) & 0xffff) === 0 && (a.word(A.ISR) & 0xffff) === 0, `CPU ${i}: IRR or ISR holds a vector below 16`);
    // SDM Vol 3A 11.8.3.1: an interrupt is dispensed only when its class is above PPR[7:4], which is at least the
    // class of every vector in service, so in-service vectors are of distinct classes.
    for (let k = 1; k < 16; k++) {
      const bits = (a.word(A.ISR + (k >>> 1)) >>> ((k & 1) * 16)) & 0xffff;
      check((bits & (bits - 1)) === 0, `CPU ${i}: two vectors of class ${k} in service (ISR bits 0x${bits.toString(16)})`);
    }
    // SDM Vol 3A 11.4.7.2: while the APIC is software-disabled every LVT entry is masked.
    if ((a.word(A.SVR) & 0x100) === 0) {
      for (let l = 0; l < 7; l++) check((a.word(A.LVT + l) & MASKED) !== 0, `CPU ${i}: LVT ${l} unmasked with the APIC software-disabled`);
    }
    // SDM Vol 3A 11.12.10.2 Deriving Logical x2APIC ID from the Local x2APIC ID.
    if (a.mode() === 'x2apic') {
      const id = a.id(), ldr = (((id >>> 4) << 16) | (1 << (id & 0xf))) >>> 0;
      check(m.rdmsr(i, 0x80d).ok && (m.rdmsr(i, 0x80d) as { value: bigint }).value === BigInt(ldr), `CPU ${i}: x2APIC LDR is not derived from ID 0x${id.toString(16)}`);
    }
    // SDM Vol 3A 11.5.4 APIC Timer: the current count counts down from the initial count.
    check(a.timer.currentCount() <= a.word(A.TMICT), `CPU ${i}: TMCCT ${a.timer.currentCount()} above TMICT ${a.word(A.TMICT)}`);
  }
  check(m.bus.count() <= m.config.busCapacity, 'more messages in flight than the bus holds');
  for (const r of m.inFlight()) check(r.target >= 0 && r.target < n && r.source >= -1 && r.source < n, `a message from ${r.source} to ${r.target}`);
  // A snapshot restores to the same state and hash.
  const snap = m.snapshot(), h = m.hash();
  check(Number.isSafeInteger(h) && h >= 0, `hash ${h} is not a 53-bit integer`);
  m.restore(snap);
  check(sameWords(m.state, snap) && m.hash() === h, 'restoring a snapshot changed the state');
}

export type Step = Op | { misuse: Misuse };
export const stepsArb = (max: number): fc.Arbitrary<Step[]> =>
  fc.array(fc.oneof({ arbitrary: opArb, weight: 4 }, { arbitrary: misuseArb.map((u) => ({ misuse: u })), weight: 1 }), { maxLength: max, size: 'max' });

/**
 * Run `steps` on a new machine, checking the invariants after each. A guest operation may not throw; host misuse
 * must throw HostError and change nothing. Returns how many calls ran.
 */
export function runSteps(cfg: Cfg, steps: Step[]): number {
  const w = newWorld(cfg, false);
  checkInvariants(w.m);
  let calls = 0;
  for (const step of steps) {
    calls++;
    if (!('misuse' in step)) {
      apply(w, step);
      checkInvariants(w.m);
      continue;
    }
    const before = w.m.snapshot();
    let thrown: unknown = null;
    try {
      if (!misuse(w, step.misuse)) continue;
    } catch (e) {
      thrown = e;
    }
    check(thrown instanceof HostError, `misuse ${JSON.stringify(step.misuse)} threw ${thrown === null ? 'nothing' : String(thrown)}, not a HostError`);
    check(sameWords(w.m.state, before), `misuse ${JSON.stringify(step.misuse)} changed the state`);
  }
  return calls;
}
