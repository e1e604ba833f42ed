// fast-check generators of valid litmus tests (as trees, positions zeroed), for the print/parse round trip.

import fc from 'fast-check';
import type {
  ApicRegRef, BinOp, Block, Cond, ConfigEntry, Dest, Expr, InitItem, IoApicRegRef, LitmusTest, MsrRef, Observable, Op, Pos, RelOp, Term, Value,
} from '../../src/litmus/ast.js';
import {
  ACTIVITY_NAMES, APIC_MODE_NAMES, APIC_REGISTERS, DELIVERY_MODE_NAMES, IOAPIC_PINS, IOAPIC_REGISTERS, MSR_NAMES,
  PLATFORM_MODE_NAMES, VECTOR_MODES, VMX_MODE_NAMES,
} from '../../src/litmus/names.js';
import { observableName } from '../../src/litmus/print.js';
import { SAVE_STATE_FIELDS } from '../../src/arch/cpu.js';

const pos: Pos = { line: 0, col: 0 };
const CPUS = 4;
const WORDS = ['x', 'y', 'flag', 'a.b', 'w-1', '_z9'];

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const vector = fc.integer({ min: 0, max: 255 });
const cpu = fc.integer({ min: 0, max: CPUS - 1 });
const word = fc.constantFrom(...WORDS);
const gpr = fc.integer({ min: 0, max: 31 }).map((n) => `r${n}`);

const apicReg: fc.Arbitrary<ApicRegRef> = fc.oneof(
  fc.constantFrom(...APIC_REGISTERS).map(([name, offset]) => ({ name, offset, pos })),
  fc.integer({ min: 0, max: 0xff }).map((n) => ({ name: null, offset: n * 16, pos })),
);
const namedApicReg = fc.constantFrom(...APIC_REGISTERS).map(([name, offset]): ApicRegRef => ({ name, offset, pos }));
const msr: fc.Arbitrary<MsrRef> = fc.oneof(
  fc.constantFrom(...MSR_NAMES).map(([name, index]) => ({ name, index, pos })),
  u32.map((index) => ({ name: null, index, pos })),
);
const ioReg: fc.Arbitrary<IoApicRegRef> = fc.oneof(
  fc.constantFrom(...IOAPIC_REGISTERS).map(([name, index]) => ({ name, index, pos })),
  fc.integer({ min: 0, max: 255 }).map((index) => ({ name: null, index, pos })),
);

const fixedDest: fc.Arbitrary<Dest> = fc.oneof(
  cpu.map((c): Dest => ({ kind: 'cpu', cpu: c, pos })),
  u32.map((id): Dest => ({ kind: 'phys', id, pos })),
  u32.map((mask): Dest => ({ kind: 'logical', mask, pos })),
);
const anyDest: fc.Arbitrary<Dest> = fc.oneof(fixedDest, fc.constantFrom('self', 'all', 'others').map((kind): Dest => ({ kind, pos })));

function expr(sv: boolean): fc.Arbitrary<Expr> {
  const reg = sv ? fc.oneof(gpr, fc.constant('sv')) : gpr;
  return fc.letrec<{ e: Expr }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      u64.map((value): Expr => ({ kind: 'num', value, pos })),
      reg.map((r): Expr => ({ kind: 'reg', reg: r, pos })),
      fc
        .record({ op: fc.constantFrom('+', '-', '&', '|', '^', '<<', '>>' as const), left: tie('e'), right: tie('e') })
        .map(({ op, left, right }): Expr => ({ kind: 'bin', op, left, right, pos })),
    ),
  })).e;
}

type Ctx = 'cpu' | 'smi' | 'sipi' | 'agent';

function leafOp(ctx: Ctx): fc.Arbitrary<Op> {
  const e = expr(ctx === 'sipi');
  const common: fc.Arbitrary<Op>[] = [
    fc.record({ loc: word, value: e }).map((r): Op => ({ kind: 'store', ...r, pos })),
    fc.record({ reg: gpr, loc: word }).map((r): Op => ({ kind: 'load', ...r, pos })),
    fc.record({ reg: gpr, value: e }).map((r): Op => ({ kind: 'assign', ...r, pos })),
    fc.record({ loc: word, cmp: fc.constantFrom('==', '!=' as const), value: e }).map((r): Op => ({ kind: 'await', ...r, pos })),
    fc.record({ cpu, cmp: fc.constantFrom('==', '!=' as const), name: fc.constantFrom(...ACTIVITY_NAMES) })
      .map(({ cpu: c, cmp, name }): Op => ({ kind: 'await-state', loc: { kind: 'activity', cpu: c, pos }, cmp, value: { kind: 'sym', name, pos }, pos })),
    fc.record({ cpu, cmp: fc.constantFrom('==', '!=' as const), v: fc.bigInt({ min: 0n, max: 1n }) })
      .map(({ cpu: c, cmp, v }): Op => ({ kind: 'await-state', loc: { kind: 'smm', cpu: c, pos }, cmp, value: { kind: 'num', value: v, pos }, pos })),
    u32.map((ticks): Op => ({ kind: 'wait', ticks, pos })),
    fc.constantFrom('nop', 'pause' as const).map((kind): Op => ({ kind, pos })),
    fc.constant<Op>({ kind: 'goto', label: 'L0', pos }),
    fc
      .record({ reg: ctx === 'sipi' ? fc.oneof(gpr, fc.constant('sv')) : gpr, cmp: fc.constantFrom('==', '!=', '<', '>', '<=', '>=' as const), value: e })
      .map((r): Op => ({ kind: 'if', ...r, label: 'L0', pos })),
  ];
  if (ctx === 'agent') {
    return fc.oneof(
      ...common,
      fc.record({ signal: fc.constantFrom('smi', 'nmi', 'init' as const), target: fc.oneof(cpu, fc.constant('all' as const)) }).map((r): Op => ({ kind: 'signal', ...r, pos })),
      fc.record({ how: fc.constantFrom('late', 'lost' as const), cpu }).map((r): Op => ({ kind: 'smi-missed', ...r, pos })),
      fc.record({ gsi: fc.integer({ min: 0, max: IOAPIC_PINS - 1 }), action: fc.constantFrom('assert', 'deassert', 'pulse' as const) }).map((r): Op => ({ kind: 'irq', ...r, pos })),
      fc.record({ dest: fixedDest, vector, mode: fc.option(fc.constantFrom(...PLATFORM_MODE_NAMES)), trigger: fc.option(fc.constantFrom('edge', 'level' as const)), level: fc.option(fc.constantFrom('assert', 'deassert' as const)) }).map((r): Op => ({ kind: 'msi', ...r, pos })),
      // P0 is the BSP: it cannot be unplugged.
      fc.record({ kind: fc.constantFrom('hotplug', 'unplug' as const), cpu }).map((r): Op => ({ ...r, cpu: r.kind === 'unplug' && r.cpu === 0 ? 1 : r.cpu, pos })),
      cpu.map((c): Op => ({ kind: 'reset', cpu: c, pos })),
      fc.record({ cpu, action: fc.constantFrom('assert', 'deassert', 'pulse' as const) }).map((r): Op => ({ kind: 'lint', pin: 1, ...r, pos })),
      fc.record({ irq: fc.integer({ min: 0, max: 7 }), action: fc.constantFrom('assert', 'deassert', 'pulse' as const) }).map((r): Op => ({ kind: 'pic-irq', ...r, pos })),
      cpu.map((c): Op => ({ kind: 'vmm-save', cpu: c, pos })),
      fc.record({ cpu, part: fc.constantFrom('lapic', 'apic-base' as const) }).map((r): Op => ({ kind: 'vmm-restore', ...r, pos })),
      fc.record({ cpu, event: fc.constantFrom('nmi-pending', 'smi-pending', 'nmi-masked' as const), value: fc.constantFrom(0, 1 as const) }).map((r): Op => ({ kind: 'vmm-event', ...r, pos })),
    );
  }
  const send = fc
    .record({
      mode: fc.constantFrom(...DELIVERY_MODE_NAMES),
      v: vector,
      withV: fc.boolean(),
      dest: anyDest,
      level: fc.option(fc.constantFrom('assert', 'deassert' as const)),
      trigger: fc.option(fc.constantFrom('edge', 'level' as const)),
    })
    .map(({ mode, v, withV, dest, level, trigger }): Op => ({
      kind: 'send', mode, vector: withV || VECTOR_MODES.includes(mode) ? v : null, dest, level, trigger, pos,
    }));
  const cpuOps: fc.Arbitrary<Op>[] = [
    ...common,
    fc.record({ reg: apicReg, value: e }).map((r): Op => ({ kind: 'apic-write', ...r, pos })),
    fc.record({ dst: gpr, reg: apicReg }).map((r): Op => ({ kind: 'apic-read', ...r, pos })),
    fc.record({ msr, value: e }).map((r): Op => ({ kind: 'wrmsr', ...r, pos })),
    fc.record({ dst: gpr, msr }).map((r): Op => ({ kind: 'rdmsr', ...r, pos })),
    send,
    fc.constantFrom('sti', 'cli', 'hlt', 'eoi' as const).map((kind): Op => ({ kind, pos })),
    fc.record({ reg: ioReg, value: e }).map((r): Op => ({ kind: 'ioapic-write', ...r, pos })),
    fc.record({ dst: gpr, reg: ioReg }).map((r): Op => ({ kind: 'ioapic-read', ...r, pos })),
    e.map((value): Op => ({ kind: 'ioapic-eoi', value, pos })),
    gpr.map((dst): Op => ({ kind: 'rdtsc', dst, pos })),
    fc.record({ dst: gpr, leaf: fc.constantFrom(1, 0xb), subleaf: fc.option(u32), reg: fc.constantFrom('eax', 'ebx', 'ecx', 'edx' as const) }).map((r): Op => ({ kind: 'cpuid', ...r, pos })),
    e.map((value): Op => ({ kind: 'cr8-write', value, pos })),
    gpr.map((dst): Op => ({ kind: 'cr8-read', dst, pos })),
    fc.record({ dst: gpr, addr: u32.map((a) => (a & ~3) >>> 0) }).map((r): Op => ({ kind: 'mmio-read', ...r, pos })),
    fc.record({ addr: u32.map((a) => (a & ~3) >>> 0), value: e }).map((r): Op => ({ kind: 'mmio-write', ...r, pos })),
    fc.record({ port: fc.constantFrom(0x20, 0x21), value: e }).map((r): Op => ({ kind: 'pic-write', ...r, pos })),
    fc.record({ dst: gpr, port: fc.constantFrom(0x20, 0x21) }).map((r): Op => ({ kind: 'pic-read', ...r, pos })),
    fc.constantFrom('iret-op', 'mov-ss', 'clgi', 'stgi', 'shutdown', 'vmxon', 'vmxoff' as const).map((kind): Op => ({ kind, pos })),
    fc.record({ mode: fc.constantFrom('resume', 'wait-for-sipi', 'hlt', 'sipi' as const), intrWindow: fc.boolean(), nmiWindow: fc.boolean(), rvi: fc.option(vector) })
      .map((r): Op => ({ kind: 'vmentry', ...r, pos })),
  ];
  if (ctx === 'smi') {
    const field = fc.constantFrom(...SAVE_STATE_FIELDS);
    cpuOps.push(
      e.map((value): Op => ({ kind: 'smbase', value, pos })), fc.constant<Op>({ kind: 'rsm', pos }),
      fc.record({ dst: gpr, field }).map((r): Op => ({ kind: 'smram-read', ...r, pos })),
      fc.record({ field, value: e }).map((r): Op => ({ kind: 'smram-write', ...r, pos })),
    );
  }
  return fc.oneof(...cpuOps);
}

function body(ctx: Ctx): fc.Arbitrary<Op[]> {
  const ops = fc.letrec<{ ops: Op[] }>((tie) => ({
    ops: fc.array(
      fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leafOp(ctx),
        // Small counts: all iterations of a test, nested ones multiplied, are at most 10,000 (src/litmus/limits.ts).
        fc.record({ count: fc.integer({ min: 0, max: 4 }), body: tie('ops') }).map((r): Op => ({ kind: 'repeat', ...r, pos })),
      ),
      { maxLength: 4 },
    ),
  })).ops;
  const label: Op = { kind: 'label', name: 'L0', pos };
  return ops.map((list) => (ctx === 'smi' ? [label, ...list, { kind: 'rsm', pos }] : [label, ...list]));
}

const block: fc.Arbitrary<Block> = fc.oneof(
  fc.record({ cpu, b: body('cpu') }).map(({ cpu: c, b }): Block => ({ kind: 'cpu', cpu: c, handler: 'main', vector: null, body: b, pos })),
  fc.record({ cpu, v: vector, b: body('cpu') }).map(({ cpu: c, v, b }): Block => ({ kind: 'cpu', cpu: c, handler: 'vector', vector: v, body: b, pos })),
  fc.record({ cpu, b: body('cpu') }).map(({ cpu: c, b }): Block => ({ kind: 'cpu', cpu: c, handler: 'nmi', vector: null, body: b, pos })),
  fc.record({ cpu, b: body('smi') }).map(({ cpu: c, b }): Block => ({ kind: 'cpu', cpu: c, handler: 'smi', vector: null, body: b, pos })),
  fc.record({ cpu, b: body('sipi') }).map(({ cpu: c, b }): Block => ({ kind: 'cpu', cpu: c, handler: 'sipi', vector: null, body: b, pos })),
  fc.record({ agent: fc.integer({ min: 0, max: 255 }), b: body('agent') }).map(({ agent, b }): Block => ({ kind: 'agent', agent, body: b, pos })),
);

const blockKey = (b: Block): string => (b.kind === 'agent' ? `D${b.agent}` : `P${b.cpu}/${b.handler}/${b.vector}`);

const configEntries: fc.Arbitrary<ConfigEntry[]> = fc
  .record(
    {
      vendor: fc.constantFrom('intel', 'amd' as const),
      tsc: fc.boolean(),
      ioapic: fc.constant(true),
      x2apic: fc.constant(true),
      ratio: fc.integer({ min: 1, max: 0xffffffff }),
      ioapicVersion: fc.constantFrom(0x11, 0x20 as const),
      apicIds: fc.constantFrom([0, 1, 2, 3], [0, 2, 0x100, 5]).map((ids) => [...ids]),
    },
    { requiredKeys: [] },
  )
  .map((r) => {
    // The 8259A is always there: the generated bodies may use its ops (and so LINT1 only: LINT0 is its output).
    const out: ConfigEntry[] = [{ key: 'cpus', value: CPUS, pos }, { key: 'pic', value: true, pos }];
    if (r.ioapicVersion !== undefined) out.push({ key: 'ioapic-version', value: r.ioapicVersion, pos });
    if (r.apicIds !== undefined) out.push({ key: 'apic-ids', value: r.apicIds, pos });
    if (r.vendor !== undefined) out.push({ key: 'vendor', value: r.vendor, pos });
    if (r.tsc !== undefined) out.push({ key: 'tsc-deadline', value: r.tsc, pos });
    if (r.ioapic !== undefined) out.push({ key: 'ioapic', value: r.ioapic, pos });
    if (r.x2apic !== undefined) out.push({ key: 'x2apic', value: r.x2apic, pos });
    if (r.ratio !== undefined) out.push({ key: 'timer-ratio', value: r.ratio, pos });
    return out;
  });

const initItem: fc.Arbitrary<InitItem> = fc.oneof(
  fc.record({ name: word, value: u64 }).map((r): InitItem => ({ kind: 'mem', ...r, pos })),
  fc.record({ cpu, value: fc.constantFrom(...ACTIVITY_NAMES) }).map((r): InitItem => ({ kind: 'activity', ...r, pos })),
  fc.record({ cpu, value: fc.constantFrom(...APIC_MODE_NAMES) }).map((r): InitItem => ({ kind: 'apic-mode', ...r, pos })),
  fc.record({ cpu, reg: namedApicReg, value: u32.map(BigInt) }).map((r): InitItem => ({ kind: 'apic-reg', ...r, pos })),
  fc.record({ cpu, value: u32.map(BigInt) }).map((r): InitItem => ({ kind: 'smbase', ...r, pos })),
  fc.record({ cpu, value: fc.constantFrom(0, 1 as const) }).map((r): InitItem => ({ kind: 'if', ...r, pos })),
  fc.record({ cpu, value: fc.constantFrom(...VMX_MODE_NAMES) }).map((r): InitItem => ({ kind: 'vmx', ...r, pos })),
  fc.record({ cpu, reg: gpr, value: u64 }).map((r): InitItem => ({ kind: 'reg', ...r, pos })),
  fc
    .record({
      pin: fc.integer({ min: 0, max: IOAPIC_PINS - 1 }),
      vector,
      mode: fc.option(fc.constantFrom(...PLATFORM_MODE_NAMES)),
      dest: fixedDest,
      trigger: fc.option(fc.constantFrom('edge', 'level' as const)),
      polarity: fc.option(fc.constantFrom('high', 'low' as const)),
      mask: fc.option(fc.constantFrom(0, 1 as const)),
    })
    .map(({ pin, ...entry }): InitItem => ({ kind: 'ioapic-entry', pin, entry, pos })),
);

const initKey = (it: InitItem): string => {
  if (it.kind === 'mem') return it.name;
  if (it.kind === 'ioapic-entry') return `io${it.pin}`;
  if (it.kind === 'apic-reg') return `${it.cpu}/apic/${it.reg.offset}`;
  if (it.kind === 'reg') return `${it.cpu}/${it.reg}`;
  return `${it.cpu}/${it.kind}`;
};

const observable: fc.Arbitrary<Observable> = fc.oneof(
  word.map((name): Observable => ({ kind: 'mem', name, pos })),
  fc.record({ cpu, reg: gpr }).map((r): Observable => ({ kind: 'reg', ...r, pos })),
  fc.record({ agent: fc.integer({ min: 0, max: 255 }), reg: gpr }).map((r): Observable => ({ kind: 'agent-reg', ...r, pos })),
  fc.record({ cpu, kind: fc.constantFrom('activity', 'smm', 'done', 'faults', 'smbase', 'apic-mode' as const) }).map((r): Observable => ({ ...r, pos })),
  fc.record({ cpu, of: fc.oneof(vector, fc.constantFrom('nmi', 'smi', 'sipi' as const)) }).map((r): Observable => ({ kind: 'count', ...r, pos })),
  fc.record({ cpu, vector, kind: fc.constantFrom('irr', 'isr', 'tmr' as const) }).map((r): Observable => ({ ...r, pos })),
  fc.record({ cpu, reg: apicReg }).map((r): Observable => ({ kind: 'apic-reg', ...r, pos })),
  fc.integer({ min: 0, max: IOAPIC_PINS - 1 }).map((pin): Observable => ({ kind: 'remote-irr', pin, pos })),
  cpu.map((c): Observable => ({ kind: 'gif', cpu: c, pos })),
  fc.record({ cpu, of: fc.oneof(vector, fc.constantFrom('nmi', 'smi' as const)) }).map((r): Observable => ({ kind: 'in-shadow', ...r, pos })),
);

function valueFor(o: Observable): fc.Arbitrary<Value> {
  if (o.kind === 'activity') return fc.constantFrom(...ACTIVITY_NAMES).map((name): Value => ({ kind: 'sym', name, pos }));
  if (o.kind === 'apic-mode') return fc.constantFrom(...APIC_MODE_NAMES).map((name): Value => ({ kind: 'sym', name, pos }));
  const bit = ['smm', 'done', 'irr', 'isr', 'tmr', 'remote-irr', 'gif'].includes(o.kind);
  return (bit ? fc.bigInt({ min: 0n, max: 1n }) : u64).map((value): Value => ({ kind: 'num', value, pos }));
}

const numericObservable = observable.filter((o) => o.kind !== 'activity' && o.kind !== 'apic-mode');

/** Terms of the extension's comparisons: numbers, numeric observables, arithmetic. */
const term: fc.Arbitrary<Term> = fc.letrec<{ t: Term }>((tie) => ({
  t: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numericObservable.map((loc): Term => ({ kind: 'obs', loc, pos })),
    u64.map((value): Term => ({ kind: 'num', value, pos })),
    fc.record({ op: fc.constantFrom<BinOp>('+', '-', '&', '|', '^', '<<', '>>'), left: tie('t'), right: tie('t') }).map((r): Term => ({ kind: 'bin', ...r, pos })),
  ),
})).t;

/** A comparison the parser reads as `rel`: not the contract's `LOC = V` (an observable against a number). */
const rel: fc.Arbitrary<Cond> = fc
  .record({ left: term, op: fc.constantFrom<RelOp>('=', '!=', '<', '>', '<=', '>='), right: term })
  .filter(({ left, op, right }) => !(left.kind === 'obs' && (op === '=' || op === '!=') && right.kind === 'num'))
  .map((r): Cond => ({ kind: 'rel', ...r, pos }));

/** Two states of one kind: `P0.activity = P1.activity`. */
const stateRel: fc.Arbitrary<Cond> = fc
  .record({ a: cpu, b: cpu, kind: fc.constantFrom('activity', 'apic-mode' as const), op: fc.constantFrom<RelOp>('=', '!=') })
  .map(({ a, b, kind, op }): Cond => ({ kind: 'rel', left: { kind: 'obs', loc: { kind, cpu: a, pos }, pos }, op, right: { kind: 'obs', loc: { kind, cpu: b, pos }, pos }, pos }));

const cond: fc.Arbitrary<Cond> = fc.letrec<{ c: Cond }>((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .record({ loc: observable, op: fc.constantFrom('=', '!=' as const) })
      .chain(({ loc, op }) => valueFor(loc).map((value): Cond => ({ kind: 'cmp', loc, op, value, pos }))),
    rel,
    stateRel,
    fc.constantFrom('true', 'false' as const).map((kind): Cond => ({ kind, pos })),
    tie('c').map((arg): Cond => ({ kind: 'not', arg, pos })),
    fc.record({ kind: fc.constantFrom('and', 'or' as const), left: tie('c'), right: tie('c') }).map((r): Cond => ({ ...r, pos })),
  ),
})).c;

function uniqueBy<T>(xs: T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const k = key(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export const litmusTest: fc.Arbitrary<LitmusTest> = fc
  .record({
    name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.+-]{0,15}$/),
    description: fc.option(fc.string({ unit: fc.constantFrom(...'ab Z9#"\\{}(),.-=~/'.split('')), maxLength: 20 })),
    config: fc.option(configEntries),
    init: fc.option(fc.array(initItem, { maxLength: 6 })),
    blocks: fc.array(block, { maxLength: 4 }),
    observe: fc.array(observable, { maxLength: 4 }),
    quantifier: fc.constantFrom('exists', '~exists', 'forall' as const),
    cond,
  })
  .map((r): LitmusTest => {
    const entries = r.config ?? [{ key: 'cpus', value: CPUS, pos } as ConfigEntry, { key: 'pic', value: true, pos } as ConfigEntry];
    const vendor = entries.find((e) => e.key === 'vendor')?.value ?? 'intel';
    const tsc = entries.find((e) => e.key === 'tsc-deadline')?.value;
    const ratio = entries.find((e) => e.key === 'timer-ratio')?.value;
    return {
      name: r.name,
      description: r.description,
      config: { entries, pos },
      settings: {
        cpus: CPUS,
        vendor: vendor === 'amd' ? 'amd' : 'intel',
        x2apic: true,
        tscDeadline: typeof tsc === 'boolean' ? tsc : vendor === 'intel',
        ioapic: true,
        accel: 'none',
        ipiv: false,
        ioapicVersion: (entries.find((e) => e.key === 'ioapic-version')?.value as 0x11 | 0x20 | undefined) ?? 0x20,
        apicIds: (entries.find((e) => e.key === 'apic-ids')?.value as number[] | undefined) ?? null,
        pic: entries.some((e) => e.key === 'pic' && e.value === true),
        timerRatio: typeof ratio === 'number' ? ratio : 1,
      },
      init: r.init === null ? null : { items: uniqueBy(r.init, initKey), pos },
      blocks: uniqueBy(r.blocks, blockKey),
      observe: uniqueBy(r.observe, observableName),
      condition: { quantifier: r.quantifier, cond: r.cond, pos },
      pos,
    };
  });

/** Tests under `accel = apicv` whose agent schedules vCPUs and posts interrupts (`preempt`, `resume`, `post`). */
export const vcpuLitmusTest: fc.Arbitrary<LitmusTest> = fc
  .array(fc.oneof(
    fc.record({ kind: fc.constantFrom('preempt', 'resume' as const), cpu }).map((r): Op => ({ ...r, pos })),
    fc.record({ vector: fc.integer({ min: 16, max: 255 }), cpu }).map((r): Op => ({ kind: 'post', ...r, pos })),
  ), { minLength: 1, maxLength: 6 })
  .map((ops): LitmusTest => ({
    name: 'vcpu',
    description: null,
    config: { entries: [{ key: 'cpus', value: CPUS, pos }, { key: 'accel', value: 'apicv', pos }], pos },
    settings: {
      cpus: CPUS, vendor: 'intel', x2apic: true, tscDeadline: true, ioapic: true, accel: 'apicv', ipiv: false,
      ioapicVersion: 0x20, apicIds: null, pic: false, timerRatio: 1,
    },
    init: null,
    blocks: [{ kind: 'cpu', cpu: 0, handler: 'main', vector: null, body: [{ kind: 'nop', pos }], pos }, { kind: 'agent', agent: 0, body: ops, pos }],
    observe: [],
    condition: { quantifier: 'exists', cond: { kind: 'true', pos }, pos },
    pos,
  }));
