// Checks on a parsed test that the grammar cannot make: indices against `cpus`, duplicate blocks and items,
// which op may appear in which block, labels, and condition values against what they compare.

import type { Block, Cond, CpuBlock, Dest, Expr, InitItem, LitmusTest, Observable, Op, Pos, Term, Value } from './ast.js';
import { registerName } from '../arch/apic.js';
import type { Reporter } from './diagnostic.js';
import { MAX_AGENTS, MAX_CPUS, didYouMean, oneOf } from './names.js';
import { handlerTitle, observableName } from './format.js';
import { stateNames, stateValueError } from './values.js';
import { checkLimits } from './limits.js';
import { opDef, opWord } from './ops/index.js';
import type { RefsCtx } from './ops/types.js';

const NO_REFS: RefsCtx = { cpu() {}, dest() {}, readMem() {}, writeMem() {}, readReg() {}, writeReg() {}, expr() {} };

export interface CpuRef {
  cpu: number;
  pos: Pos;
}

/** Walks ops depth-first; `path` is the chain of enclosing `repeat` ops. */
export function forEachOp(body: Op[], fn: (op: Op, path: Op[]) => void, path: Op[] = []): void {
  for (const op of body) {
    fn(op, path);
    if (op.kind === 'repeat') forEachOp(op.body, fn, [...path, op]);
  }
}

/** The registers `op` writes (its refs walk). */
export function writtenRegs(op: Op): string[] {
  const out: string[] = [];
  opDef(op).refs(op, { ...NO_REFS, writeReg: (name) => void out.push(name) });
  return out;
}

/** Every place the test names a CPU, in source order. */
export function cpuRefs(test: LitmusTest): CpuRef[] {
  const refs: CpuRef[] = [];
  const dest = (d: Dest | null): void => {
    if (d?.kind === 'cpu') refs.push({ cpu: d.cpu, pos: d.pos });
  };
  for (const it of test.init?.items ?? []) {
    if (it.kind === 'ioapic-entry') dest(it.entry.dest);
    else if (it.kind !== 'mem') refs.push({ cpu: it.cpu, pos: it.pos });
  }
  const r: RefsCtx = { ...NO_REFS, cpu: (cpu, pos) => void refs.push({ cpu, pos }), dest };
  for (const b of test.blocks) {
    if (b.kind === 'cpu') refs.push({ cpu: b.cpu, pos: b.pos });
    forEachOp(b.body, (op) => opDef(op).refs(op, r));
  }
  for (const o of allObservables(test)) if ('cpu' in o) refs.push({ cpu: o.cpu, pos: o.pos });
  return refs;
}

/** The observables of `observe` and of the final condition, in order (repeats included). */
export function allObservables(test: LitmusTest): Observable[] {
  const out = [...test.observe];
  const term = (t: Term): void => {
    if (t.kind === 'obs') out.push(t.loc);
    else if (t.kind === 'bin') {
      term(t.left);
      term(t.right);
    }
  };
  const walk = (c: Cond): void => {
    if (c.kind === 'cmp') out.push(c.loc);
    else if (c.kind === 'rel') {
      term(c.left);
      term(c.right);
    } else if (c.kind === 'and' || c.kind === 'or') {
      walk(c.left);
      walk(c.right);
    } else if (c.kind === 'not') walk(c.arg);
  };
  walk(test.condition.cond);
  return out;
}

export function validate(test: LitmusTest, rep: Reporter): void {
  const { cpus } = test.settings;
  const explicit = test.config?.entries.some((e) => e.key === 'cpus') ?? false;
  for (const r of cpuRefs(test)) {
    if (r.cpu < cpus) continue;
    if (explicit) rep.error(r.pos, `no CPU P${r.cpu}: the test has cpus = ${cpus} (${cpus === 1 ? 'P0 only' : `P0..P${cpus - 1}`})`);
    else rep.error(r.pos, `no CPU P${r.cpu}: a test has at most ${MAX_CPUS} CPUs (P0..P${MAX_CPUS - 1})`);
  }
  const ids = test.config?.entries.find((e) => e.key === 'apic-ids');
  if (ids?.key === 'apic-ids') {
    // One initial APIC ID per CPU, distinct (SDM Vol 3A 11.4.6); IDs above 0xFE exist only with x2APIC (11.12.8).
    if (ids.value.length !== cpus) rep.error(ids.pos, `\`apic-ids\` gives ${ids.value.length} APIC IDs for ${cpus} CPUs: give one per CPU, in CPU order`);
    if (new Set(ids.value).size !== ids.value.length) rep.error(ids.pos, '`apic-ids` must be distinct');
    if (!test.settings.x2apic && ids.value.some((id) => id > 0xfe)) rep.error(ids.pos, 'APIC IDs above 0xFE need `x2apic = true` (SDM Vol 3A 11.12.8: only x2APIC IDs are that wide)');
  }
  const ipiv = test.config?.entries.find((e) => e.key === 'ipiv');
  if (ipiv?.value === true && test.settings.accel !== 'apicv') rep.error(ipiv.pos, '`ipiv = true` is Intel IPI virtualization: it needs `accel = apicv` in config');
  checkBlocks(test, rep);
  checkInit(test, rep);
  checkObservables(test, rep);
  checkLimits(test, rep);
}

function blockTitle(b: Block): string {
  if (b.kind === 'agent') return `D${b.agent}`;
  if (b.handler === 'main') return `P${b.cpu}`;
  return `P${b.cpu} on ${handlerTitle(b)}`;
}

function checkBlocks(test: LitmusTest, rep: Reporter): void {
  const seen = new Map<string, Block>();
  const labelHome = new Map<string, Block>();
  for (const b of test.blocks) {
    const title = blockTitle(b);
    const first = seen.get(title);
    if (first) rep.error(b.pos, `duplicate block \`${title}\`: the first is at line ${first.pos.line}`);
    else seen.set(title, b);
    if (b.kind === 'agent' && b.agent >= MAX_AGENTS) rep.error(b.pos, `no agent D${b.agent}: agents are D0..D${MAX_AGENTS - 1}`);
    forEachOp(b.body, (op) => {
      if (op.kind === 'label' && !labelHome.has(op.name)) labelHome.set(op.name, b);
    });
  }
  for (const b of test.blocks) {
    checkOps(test, b, rep);
    checkLabels(b, labelHome, rep);
    if (b.kind === 'cpu' && b.handler === 'smi') checkSmiEnd(b, rep);
  }
}

function checkOps(test: LitmusTest, b: Block, rep: Reporter): void {
  const where = blockTitle(b);
  // `sv` holds the SIPI vector: the received one in `on sipi`, the exit qualification in `on vmexit sipi`.
  const inSipi = b.kind === 'cpu' && (b.handler === 'sipi' || b.handler === 'vmexit-sipi');
  const svError = (pos: Pos): void => rep.error(pos, `\`sv\` (the SIPI vector) exists only in an \`on sipi\` or \`on vmexit sipi\` block, not in \`${where}\``);
  const svCheck = (e: Expr): void => {
    if (e.kind === 'reg' && e.reg === 'sv' && !inSipi) svError(e.pos);
    if (e.kind === 'bin') {
      svCheck(e.left);
      svCheck(e.right);
    }
  };
  const refs: RefsCtx = { ...NO_REFS, expr: svCheck, readReg: (name, pos) => void (name === 'sv' && !inSipi && svError(pos)) };
  const ctx = { test, settings: test.settings, block: b, where, error: (pos: Pos, m: string) => rep.error(pos, m) };
  forEachOp(b.body, (op) => {
    const def = opDef(op);
    if (b.kind === 'agent' && def.where === 'cpu') {
      rep.error(op.pos, `\`${opWord(op)}\` is a CPU op: platform agent ${where} cannot use it${def.whereHint ?? ''}`);
    } else if (b.kind === 'cpu' && def.where === 'agent') {
      rep.error(op.pos, `\`${opWord(op)}\` is a platform agent op (Dn blocks only), not a CPU op${def.whereHint ?? ''}`);
    } else {
      def.validate?.(op, ctx);
    }
    def.refs(op, refs);
  });
}

function checkLabels(b: Block, labelHome: Map<string, Block>, rep: Reporter): void {
  const labels = new Map<string, { pos: Pos; path: Op[] }>();
  forEachOp(b.body, (op, path) => {
    if (op.kind !== 'label') return;
    const first = labels.get(op.name);
    if (first) rep.error(op.pos, `duplicate label \`${op.name}\`: first defined at line ${first.pos.line}`);
    else labels.set(op.name, { pos: op.pos, path });
  });
  forEachOp(b.body, (op, path) => {
    if (op.kind !== 'goto' && op.kind !== 'if') return;
    const target = labels.get(op.label);
    if (target === undefined) {
      const home = labelHome.get(op.label);
      if (home !== undefined) {
        rep.error(op.pos, `label \`${op.label}\` is in block \`${blockTitle(home)}\` (line ${home.pos.line}): a \`goto\` cannot leave its block \`${blockTitle(b)}\``);
      } else {
        rep.error(op.pos, `undefined label \`${op.label}\`${didYouMean(op.label, labels.keys())}`);
      }
    } else if (!target.path.every((r, i) => path[i] === r)) {
      rep.error(op.pos, `\`goto ${op.label}\` jumps into a \`repeat\` body from outside it (label at line ${target.pos.line})`);
    }
  });
}

/** The contract: an SMM handler must end in `rsm` (SDM Vol 3C 34.13: RSM is the only way out of SMM). */
function checkSmiEnd(b: CpuBlock, rep: Reporter): void {
  const last = b.body[b.body.length - 1];
  if (last === undefined) rep.error(b.pos, `the \`${blockTitle(b)}\` block is empty: an SMM handler must end with \`rsm\``);
  else if (last.kind !== 'rsm') rep.error(last.pos, `an SMM handler must end with \`rsm\`: the last op of \`${blockTitle(b)}\` is \`${opWord(last)}\``);
}

function initKey(it: InitItem): string {
  switch (it.kind) {
    case 'mem':
      return it.name;
    case 'ioapic-entry':
      return `ioapic.${it.pin}`;
    case 'apic-reg':
      return `P${it.cpu}.apic.${registerName(it.reg.offset) ?? it.reg.offset}`;
    case 'reg':
      return `P${it.cpu}:${it.reg}`;
    default:
      return `P${it.cpu}.${it.kind}`;
  }
}

function checkInit(test: LitmusTest, rep: Reporter): void {
  const seen = new Map<string, Pos>();
  for (const it of test.init?.items ?? []) {
    const key = initKey(it);
    const first = seen.get(key);
    if (first) rep.error(it.pos, `\`${key}\` is already initialised at line ${first.line}`);
    else seen.set(key, it.pos);
    if ((it.kind === 'apic-reg' || it.kind === 'smbase') && it.value > 0xffffffffn) {
      rep.error(it.pos, `\`${key}\` is a 32-bit register: ${it.value} does not fit`);
    }
    if (it.kind === 'apic-mode' && it.value === 'x2apic' && !test.settings.x2apic) {
      rep.error(it.pos, 'x2APIC mode needs `x2apic = true` in config (CPUID.01H:ECX[21], SDM Vol 3A 11.12.1)');
    }
    if (it.kind === 'ioapic-entry') {
      if (!test.settings.ioapic) rep.error(it.pos, 'the test has `ioapic = false`: there is no I/O APIC to initialise');
      const e = it.entry;
      if (e.vector === null && (e.mode === null || e.mode === 'fixed' || e.mode === 'lowest')) {
        rep.error(it.pos, `\`ioapic.${it.pin}\` needs a \`vector\` for ${e.mode ?? 'fixed'} delivery`);
      }
      if (e.dest === null) rep.error(it.pos, `\`ioapic.${it.pin}\` needs a \`dest\` (\`Pk\`, \`phys N\` or \`logical N\`)`);
    }
  }
}

function checkObservables(test: LitmusTest, rep: Reporter): void {
  const seen = new Set<string>();
  for (const o of test.observe) {
    const name = observableName(o);
    if (seen.has(name)) rep.error(o.pos, `\`${name}\` is already observed`);
    seen.add(name);
  }
  for (const o of allObservables(test)) {
    if (o.kind === 'remote-irr' && !test.settings.ioapic) rep.error(o.pos, 'the test has `ioapic = false`: there is no I/O APIC to observe');
  }
  const walk = (c: Cond): void => {
    if (c.kind === 'cmp') checkValue(c.loc, c.value, rep);
    else if (c.kind === 'rel') checkRel(c, rep);
    else if (c.kind === 'and' || c.kind === 'or') {
      walk(c.left);
      walk(c.right);
    } else if (c.kind === 'not') walk(c.arg);
  };
  walk(test.condition.cond);
}

/**
 * A comparison beyond the contract's `LOC = V`: a state observable (activity, APIC mode, VMX mode) is compared
 * whole, with `=` or `!=`, to one of its names or to another observable of the same kind; everything else is a
 * number (arithmetic and orderings are over numbers).
 */
function checkRel(c: Extract<Cond, { kind: 'rel' }>, rep: Reporter): void {
  const stateOf = (t: Term): readonly string[] | null => (t.kind === 'obs' ? stateNames(t.loc) : null);
  const ls = stateOf(c.left), rs = stateOf(c.right);
  if (ls !== null || rs !== null || c.left.kind === 'sym' || c.right.kind === 'sym') {
    const [state, other] = ls !== null ? [c.left, c.right] : [c.right, c.left];
    const names = ls ?? rs;
    if (names === null || state.kind !== 'obs') {
      const sym = c.left.kind === 'sym' ? c.left : c.right;
      rep.error(sym.pos, `\`${sym.kind === 'sym' ? sym.name : ''}\` is a state name: it compares with \`Pn.activity\`, \`Pn.apic.mode\` or \`Pn.vmx\``);
      return;
    }
    const name = observableName(state.loc);
    if (c.op !== '=' && c.op !== '!=') rep.error(c.pos, `\`${name}\` is a state: compare it with \`=\` or \`!=\`, not \`${c.op}\``);
    if (other.kind === 'sym' && !names.includes(other.name)) rep.error(other.pos, `\`${name}\` is one of ${oneOf(names)}; found \`${other.name}\`${didYouMean(other.name, names)}`);
    else if (other.kind === 'obs' && other.loc.kind === 'mem') rep.error(other.pos, `\`${name}\` is one of ${oneOf(names)}; found the memory word \`${other.loc.name}\`${didYouMean(other.loc.name, names)}`);
    else if (other.kind === 'obs' && other.loc.kind !== state.loc.kind) rep.error(other.pos, `\`${name}\` is one of ${oneOf(names)}; it cannot equal \`${observableName(other.loc)}\``);
    else if (other.kind !== 'sym' && other.kind !== 'obs') rep.error(other.pos, `\`${name}\` is one of ${oneOf(names)}; found a number`);
    return;
  }
  const inner = (t: Term): void => {
    if (t.kind === 'bin') {
      inner(t.left);
      inner(t.right);
    } else if (t.kind === 'obs' && stateNames(t.loc) !== null) {
      rep.error(t.pos, `\`${observableName(t.loc)}\` is a state, not a number: it cannot take part in arithmetic`);
    }
  };
  inner(c.left);
  inner(c.right);
}

function checkValue(loc: Observable, v: Value, rep: Reporter): void {
  const bad = stateValueError(loc, v);
  if (bad !== null) rep.error(v.pos, bad);
}
