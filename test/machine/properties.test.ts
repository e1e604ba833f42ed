// Properties of whole machines under random operation sequences (fast-check): 2-4 CPUs, random IPIs of every
// mode, TPR writes, EOIs, event boundaries, NMI/SMI/INIT pins, SIPIs, RSM, IRET, timer programming, time passing,
// queued arrivals, and raw guest register traffic.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ApicBase, DeliveryMode, MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, Reg, Shorthand } from '../../src/arch/apic.js';
import { Activity, VmxMode } from '../../src/arch/cpu.js';
import { HostError } from '../../src/arch/errors.js';
import { A } from '../../src/apic/layout.js';
import { F } from '../../src/cpu/cpu.js';
import { hashWords } from '../../src/machine/hash.js';
import { Machine, type MachineConfig, type TraceEvent } from '../../src/machine/machine.js';

// ---------------------------------------------------------------- operations

type Op =
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
  | { k: 'rdmsr'; cpu: number; msr: number };

const cpuArb = fc.integer({ min: 0, max: 3 });
const vectorArb = fc.oneof(
  { arbitrary: fc.integer({ min: 16, max: 255 }), weight: 9 },
  { arbitrary: fc.integer({ min: 0, max: 15 }), weight: 1 },
);
/** A few vectors, so that the same vector is sent, accepted and acknowledged several times. */
const hotVectorArb = fc.oneof({ arbitrary: fc.constantFrom(0x31, 0x52, 0x53, 0x90, 0xe1), weight: 3 }, { arbitrary: vectorArb, weight: 1 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const cpuOp = <K extends string>(...ks: K[]) => fc.record({ k: fc.constantFrom(...ks), cpu: cpuArb });

const opArb: fc.Arbitrary<Op> = fc.oneof(
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
);

const configArb = fc.record({
  cpus: fc.integer({ min: 2, max: 4 }),
  vendor: fc.constantFrom('intel' as const, 'amd' as const),
  delivery: fc.constantFrom('immediate' as const, 'queued' as const),
});
type Cfg = { cpus: number; vendor: 'intel' | 'amd'; delivery: 'immediate' | 'queued' };

// ---------------------------------------------------------------- a world: a machine plus reference bookkeeping

interface World {
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
  /** Per vector, LVT timer and error interrupts signalled (they reach IRR without the bus). */
  lvtSignals: number[];
  /** An NMI reached the CPU since it last took one. */
  nmiArrived: boolean[];
}

function fullConfig(cfg: Cfg, onTrace?: (e: TraceEvent) => void): MachineConfig {
  return { ...cfg, busCapacity: 512, onTrace };
}

function newWorld(cfg: Cfg, traced = true): World {
  const w: World = {
    m: undefined as unknown as Machine,
    n: cfg.cpus,
    arrivals: Array.from({ length: cfg.cpus }, () => new Array<number>(256).fill(0)),
    acks: Array.from({ length: cfg.cpus }, () => new Array<number>(256).fill(0)),
    sentBound: new Array<number>(256).fill(0),
    lvtSignals: new Array<number>(256).fill(0),
    nmiArrived: new Array<boolean>(cfg.cpus).fill(false),
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
function writeReg(m: Machine, cpu: number, offset: number, value: number): void {
  const mode = m.apics[cpu].mode();
  if (mode === 'xapic') m.apicWrite(cpu, offset, value >>> 0);
  else if (mode === 'x2apic' && offset !== Reg.ICR_HI) m.wrmsr(cpu, 0x800 + (offset >> 4), BigInt(value >>> 0));
}
function sendIpi(m: Machine, cpu: number, lo: number, destination: number): void {
  const mode = m.apics[cpu].mode();
  if (mode === 'xapic') {
    m.apicWrite(cpu, Reg.ICR_HI, ((destination & 0xff) << 24) >>> 0);
    m.apicWrite(cpu, Reg.ICR_LO, lo >>> 0);
  } else if (mode === 'x2apic') {
    m.wrmsr(cpu, 0x830, (BigInt(destination >>> 0) << 32n) | BigInt(lo & 0xccfff));
  }
}

function deliver(w: World, i: number): void {
  const r = w.m.inFlight()[i];
  if (r.mode === 'fixed' || r.mode === 'lowest') w.arrivals[r.target][r.vector]++;
  if (r.mode === 'nmi') w.nmiArrived[r.target] = true;
  w.m.deliver(i);
}

/** Apply one operation; returns what the guest or host observes, for comparing machines. */
function apply(w: World, op: Op): unknown {
  const seen = applyOp(w, op);
  // With immediate delivery an NMI IPI arrives inside the ICR write: whatever can write the ICR may have sent one.
  if (op.k === 'ipi' || op.k === 'mmio' || op.k === 'wrmsr') {
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
        expect(blocked, 'an NMI was taken while NMIs were blocked').toBe(false);
        expect(w.nmiArrived[c], 'an NMI was taken that no NMI arrival accounts for').toBe(true);
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
  }
}

/** The words the machine's hash covers: everything up to the last message in flight. */
function encoding(m: Machine): Uint32Array {
  const busBase = m.state.length - 1 - m.config.busCapacity;
  return m.state.subarray(0, busBase + 1 + m.bus.count());
}

const opsArb = (max: number) => fc.array(opArb, { minLength: 1, maxLength: max, size: 'max' });

/** Word-for-word equality of two states (faster than a deep equality on typed arrays). */
function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- properties

describe('machine properties', () => {
  it('(1) PPR always equals the SDM formula from TPR and the highest in-service vector, and PPR >= TPR', () => {
    fc.assert(
      fc.property(configArb, opsArb(80), (cfg, ops) => {
        const w = newWorld(cfg);
        const check = () => {
          for (let i = 0; i < w.n; i++) {
            const a = w.m.apics[i];
            if (!w.m.cpus[i].present()) continue;
            const tpr = a.word(A.TPR) & 0xff;
            let isrv = 0;
            for (let v = 255; v >= 0 && isrv === 0; v--) if (a.word(A.ISR + (v >>> 5)) & (1 << (v & 31))) isrv = v;
            const expected = (tpr >>> 4) >= (isrv >>> 4) ? tpr : isrv & 0xf0;
            expect(a.ppr()).toBe(expected);
            expect(a.ppr()).toBeGreaterThanOrEqual(tpr);
            // ... and the guest reads the same value through its register interface.
            if (a.mode() === 'xapic') expect(w.m.apicRead(i, Reg.PPR)).toBe(expected);
            if (a.mode() === 'x2apic') expect(w.m.rdmsr(i, 0x80a)).toEqual({ ok: true, value: BigInt(expected) });
          }
        };
        check();
        for (const op of ops) {
          apply(w, op);
          check();
        }
      }),
      { numRuns: 250 },
    );
  });

  it('(2) at most one NMI is held pending beyond the one in service', () => {
    fc.assert(
      fc.property(configArb, opsArb(80), (cfg, ops) => {
        const w = newWorld(cfg);
        // apply() checks every NMI taken: NMIs not blocked, and an NMI arrived since the last one was taken.
        for (const op of ops) apply(w, op);
        // A burst of NMIs while one is in service leaves exactly one more to take.
        for (let i = 0; i < w.n; i++) {
          const cpu = w.m.cpus[i];
          if (!cpu.present() || cpu.activity() === Activity.WAIT_FOR_SIPI || cpu.has(F.SMM)) continue;
          cpu.setVmx(VmxMode.OFF);
          cpu.setGif(true);
          cpu.setActivity(Activity.ACTIVE);
          cpu.setFlags(cpu.flags() & ~(F.SMI_PENDING | F.INIT_PENDING | F.MOVSS_SHADOW));
          cpu.iret(false);
          w.m.nmi(i);
          expect(w.m.takeEvent(i).kind).toBe('nmi');
          for (let k = 0; k < 3; k++) w.m.nmi(i);
          expect(w.m.takeEvent(i).kind).toBe('none');
          cpu.iret(false);
          expect(w.m.takeEvent(i).kind).toBe('nmi');
          cpu.iret(false);
          expect(w.m.takeEvent(i).kind).toBe('none');
        }
      }),
      { numRuns: 250 },
    );
  });

  it('(3) no interrupt is accepted twice: acknowledges of a vector never outnumber its arrivals', () => {
    fc.assert(
      // Raw register traffic can write the ICR behind the bookkeeping's back: leave it out here.
      fc.property(configArb, opsArb(100).map((ops) => ops.filter((op) => op.k !== 'mmio' && op.k !== 'wrmsr')), (cfg, ops) => {
        const w = newWorld({ ...cfg, delivery: 'queued' });
        const check = () => {
          for (let v = 0; v < 256; v++) {
            let total = 0;
            for (let i = 0; i < w.n; i++) {
              total += w.acks[i][v];
              if (w.acks[i][v] > w.arrivals[i][v]) {
                throw new Error(`CPU ${i} acknowledged vector 0x${v.toString(16)} ${w.acks[i][v]} times, ${w.arrivals[i][v]} arrived`);
              }
            }
            if (total > w.sentBound[v] + w.lvtSignals[v]) {
              throw new Error(`vector 0x${v.toString(16)} acknowledged ${total} times, at most ${w.sentBound[v]} sent and ${w.lvtSignals[v]} signalled`);
            }
          }
        };
        for (const op of ops) {
          apply(w, op);
          check();
        }
        // Drain: deliver everything, take everything; the bound still holds.
        for (let round = 0; round < 4; round++) {
          while (w.m.inFlight().length > 0) deliver(w, w.m.inFlight().findIndex((r) => r.eligible));
          for (let i = 0; i < w.n; i++) for (let k = 0; k < 8; k++) apply(w, { k: 'take', cpu: i });
          check();
        }
      }),
      { numRuns: 250 },
    );
  });

  it('(3b) fixed IPIs to one CPU, with nothing masking them, are each acknowledged at least once and never more often than sent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.record({ to: fc.nat(), vector: fc.integer({ min: 0x20, max: 0xfe }) }), { minLength: 1, maxLength: 40, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 40, size: 'max' }),
        (cpus, sends, order) => {
          const w = newWorld({ cpus, vendor: 'intel', delivery: 'queued' });
          const sent = Array.from({ length: cpus }, () => new Map<number, number>());
          for (const s of sends) {
            const to = s.to % cpus;
            sendIpi(w.m, 0, s.vector, w.m.apics[to].id());
            sent[to].set(s.vector, (sent[to].get(s.vector) ?? 0) + 1);
          }
          // Arrivals in a random order the bus allows, with acknowledges and EOIs interleaved.
          const acked = Array.from({ length: cpus }, () => new Map<number, number>());
          const takeAll = () => {
            for (let i = 0; i < cpus; i++) {
              // Each take empties an IRR bit: more than 256 in a row means the IRR does not drain.
              for (let k = 0; ; k++) {
                expect(k).toBeLessThan(256);
                const t = w.m.takeEvent(i);
                if (t.kind === 'none') break;
                expect(t.kind).toBe('intr');
                acked[i].set(t.vector, (acked[i].get(t.vector) ?? 0) + 1);
                writeReg(w.m, i, Reg.EOI, 0);
              }
            }
          };
          for (let k = 0; w.m.inFlight().length > 0; k++) {
            const eligible = w.m.inFlight().flatMap((r, i) => (r.eligible ? [i] : []));
            w.m.deliver(eligible[(order[k % Math.max(order.length, 1)] ?? 0) % eligible.length]);
            if ((order[k % Math.max(order.length, 1)] ?? 0) % 2 === 0) takeAll();
          }
          takeAll();
          for (let i = 0; i < cpus; i++) {
            for (const [v, n] of acked[i]) expect(n).toBeLessThanOrEqual(sent[i].get(v) ?? 0);
            // Every vector sent was acknowledged at least once (IRR collapses repeats that arrive before INTA).
            for (const v of sent[i].keys()) expect(acked[i].get(v) ?? 0).toBeGreaterThanOrEqual(1);
          }
        },
      ),
      { numRuns: 250 },
    );
  });

  it('(4) snapshot -> restore -> snapshot is the identity, and a restored machine behaves as the original', () => {
    fc.assert(
      fc.property(configArb, opsArb(60), opsArb(60), (cfg, prefix, suffix) => {
        const a = newWorld(cfg, false);
        for (const op of prefix) apply(a, op);
        const snap = a.m.snapshot();
        // A fresh machine of the same configuration, traced this time: tracing must not change behaviour.
        const b = newWorld(cfg, true);
        b.m.restore(snap);
        expect(sameWords(b.m.snapshot(), snap)).toBe(true);
        expect(b.m.hash()).toBe(a.m.hash());
        // The restored machine answers the same to the same operations and ends in the same state.
        b.nmiArrived = [...a.nmiArrived];
        const ra = suffix.map((op) => apply(a, op));
        const rb = suffix.map((op) => apply(b, op));
        expect(rb).toEqual(ra);
        expect(sameWords(b.m.state, a.m.state)).toBe(true);
        expect(b.m.hash()).toBe(a.m.hash());
        // Restoring the original machine undoes the suffix.
        a.m.restore(snap);
        expect(sameWords(a.m.snapshot(), snap)).toBe(true);
      }),
      { numRuns: 250 },
    );
  });

  describe('(5) hash', () => {
    const byEncoding = new Map<string, number>();
    const byHash = new Map<number, string>();
    let states = 0;

    it('hashes equal encodings equal and distinct encodings distinct, over many random states', () => {
      fc.assert(
        fc.property(configArb, opsArb(60), (cfg, ops) => {
          const w = newWorld(cfg, false);
          const record = () => {
            const enc = encoding(w.m);
            // Unused bus slots are zero, so the hashed prefix is the whole state.
            expect(w.m.state.subarray(enc.length).every((x) => x === 0)).toBe(true);
            const key = enc.join(',');
            const h = w.m.hash();
            expect(h).toBe(hashWords(enc));
            expect(Number.isSafeInteger(h) && h >= 0).toBe(true);
            const seenHash = byEncoding.get(key);
            if (seenHash !== undefined) expect(h).toBe(seenHash);
            const seenEnc = byHash.get(h);
            if (seenEnc !== undefined && seenEnc !== key) throw new Error(`hash collision 0x${h.toString(16)} between two distinct encodings`);
            byEncoding.set(key, h);
            byHash.set(h, key);
            states++;
          };
          record();
          for (const op of ops) {
            apply(w, op);
            record();
          }
        }),
        { numRuns: 300 },
      );
      expect(byEncoding.size).toBe(byHash.size);
      expect(byEncoding.size).toBeGreaterThan(2000);
      expect(states).toBeGreaterThan(byEncoding.size); // some states recur, and hash the same
    });

    it('changes the hash when any single bit of a reached state flips, or two different words swap', () => {
      fc.assert(
        fc.property(configArb, opsArb(30), fc.array(fc.nat(), { minLength: 1, maxLength: 24 }), fc.nat(), (cfg, ops, words, at) => {
          const w = newWorld(cfg, false);
          for (const op of ops) apply(w, op);
          const enc = encoding(w.m).slice();
          const h = hashWords(enc);
          const seen = new Set<number>([h]);
          // The words that matter most (the header and CPU 0) always, and a random sample of the rest.
          const sample = new Set([0, 1, 2, 3, 4, 5, ...words.map((x) => x % enc.length)]);
          for (const i of sample) {
            for (let bit = 0; bit < 32; bit++) {
              enc[i] ^= 1 << bit;
              const g = hashWords(enc);
              enc[i] ^= 1 << bit;
              expect(seen.has(g)).toBe(false);
              seen.add(g);
            }
          }
          const i = at % enc.length, j = (at * 7 + 1) % enc.length;
          if (enc[i] !== enc[j]) {
            [enc[i], enc[j]] = [enc[j], enc[i]];
            expect(hashWords(enc)).not.toBe(h);
          }
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('(6) misuse', () => {
    type Misuse = { k: 'cpu' | 'vector' | 'other' | 'absent'; call: number; bad: number };
    const badIndexArb = fc.oneof(fc.nat({ max: 1000 }), fc.constantFrom(-1, -7, 0.5, 1.25, Number.NaN, Number.POSITIVE_INFINITY));
    const badVectorArb = fc.oneof(fc.integer({ min: 256, max: 1 << 20 }), fc.constantFrom(-1, -256, 0.5, 16.5, Number.NaN));
    const misuseArb: fc.Arbitrary<Misuse> = fc.oneof(
      fc.record({ k: fc.constant('cpu' as const), call: fc.nat({ max: 15 }), bad: badIndexArb }),
      fc.record({ k: fc.constant('vector' as const), call: fc.nat({ max: 3 }), bad: badVectorArb }),
      fc.record({ k: fc.constant('other' as const), call: fc.nat({ max: 5 }), bad: fc.nat({ max: 100 }) }),
      fc.record({ k: fc.constant('absent' as const), call: fc.nat({ max: 8 }), bad: fc.nat({ max: 3 }) }),
    );

    /** Run one host misuse; it must throw HostError. Returns false when the misuse does not apply here. */
    function misuse(w: World, u: Misuse): boolean {
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
        ];
        calls[u.call % calls.length]();
      } else if (u.k === 'absent') {
        // An instruction on an empty slot.
        const empty = m.cpus.filter((c) => !c.present());
        if (empty.length === 0) return false;
        const cpu = empty[u.bad % empty.length];
        const calls: (() => unknown)[] = [
          () => cpu.hlt(), () => cpu.shutdown(), () => cpu.sti(), () => cpu.cli(), () => cpu.iret(true),
          () => cpu.movSs(), () => cpu.setIf(true), () => cpu.setGif(false), () => cpu.setVmx(VmxMode.ROOT),
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
        ];
        calls[u.call % calls.length]();
      }
      return true;
    }

    it('host misuse (a bad CPU index, vector 256, a bad message or time) throws HostError and changes nothing', () => {
      fc.assert(
        fc.property(configArb, fc.array(fc.oneof({ arbitrary: opArb, weight: 3 }, { arbitrary: misuseArb.map((u) => ({ misuse: u })), weight: 1 }), { maxLength: 60, size: 'max' }), (cfg, steps) => {
          const w = newWorld(cfg, false);
          for (const step of steps) {
            if (!('misuse' in step)) {
              apply(w, step);
              continue;
            }
            const before = w.m.snapshot();
            let thrown: unknown;
            try {
              if (!misuse(w, step.misuse)) continue;
            } catch (e) {
              thrown = e;
            }
            expect(thrown, `misuse ${JSON.stringify(step.misuse)} did not throw`).toBeInstanceOf(HostError);
            expect(sameWords(w.m.state, before)).toBe(true);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('guest misuse never throws: any register traffic, any ICR, any instruction in any state', () => {
      const guestOp: fc.Arbitrary<Op> = fc.oneof(
        opArb,
        fc.record({ k: fc.constant('mmio' as const), cpu: cpuArb, offset: fc.integer({ min: 0, max: 0xfff }), value: u32 }),
        fc.record({ k: fc.constant('wrmsr' as const), cpu: cpuArb, msr: fc.oneof(fc.integer({ min: 0x7f0, max: 0x900 }), u32), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
        fc.record({ k: fc.constant('ipi' as const), from: cpuArb, to: cpuArb, mode: fc.integer({ min: 0, max: 7 }), vector: fc.integer({ min: 0, max: 255 }), dest: fc.constantFrom('phys' as const, 'bcast' as const, 'logical' as const), mask: fc.integer({ min: 0, max: 255 }), short: fc.integer({ min: 0, max: 3 }), level: fc.boolean(), assert: fc.boolean() }),
      );
      fc.assert(
        fc.property(configArb, fc.array(guestOp, { maxLength: 100, size: 'max' }), (cfg, ops) => {
          const w = newWorld(cfg, false);
          for (const op of ops) {
            // Guest-level actions on any CPU, whatever its state, straight on the Cpu as well as through apply().
            apply(w, op);
            if ('cpu' in op && w.m.cpus[op.cpu % w.n].present()) {
              const cpu = w.m.cpus[op.cpu % w.n];
              cpu.rsm();
              cpu.iret(true);
              cpu.writeSaveStateSmbase(0xffffffff);
              cpu.beginInstruction();
            }
          }
        }),
        { numRuns: 200 },
      );
    });
  });
});
