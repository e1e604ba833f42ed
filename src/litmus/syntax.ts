// The syntax pieces ops share: expressions, registers, memory words, APIC / MSR / I/O APIC register references,
// destinations, delivery modes, comparisons. Each op's own statement is parsed in its module (src/litmus/ops).

import type { ApicRegRef, BinOp, CmpOp, DeliveryModeName, Dest, Expr, IoApicRegRef, MsrRef } from './ast.js';
import { Cursor, SyntaxFail } from './cursor.js';
import { describe, type Token } from './lexer.js';
import {
  APIC_REGISTERS, IOAPIC_REGISTERS, MSR_NAMES, REG_COUNT, didYouMean, isGpr, oneOf, procIndex, reservedWord,
} from './names.js';

export const U32 = 0xffffffff;

export function modeName(p: Cursor, allowed: readonly DeliveryModeName[], what: string): DeliveryModeName {
  const t = p.expectName(what);
  const m = allowed.find((x) => x === t.text);
  if (m === undefined) p.fail(t.pos, `unknown delivery mode \`${t.text}\`; expected ${oneOf(allowed)}`);
  return m;
}

export function vectorNum(p: Cursor, t: Token): number {
  return p.small(t, 255, 'a vector');
}

/** `Pk`, `phys N`, `logical N`, and with shorthands allowed `self`, `all`, `others`. */
export function parseDest(p: Cursor, shorthands: boolean): Dest {
  const t = p.peek();
  const expected = shorthands
    ? 'a destination (`Pk`, `phys N`, `logical N`, `self`, `all` or `others`)'
    : 'a destination (`Pk`, `phys N` or `logical N`)';
  if (t.kind !== 'name') p.fail(t.pos, `expected ${expected}, found ${describe(t)}`);
  if (t.text === 'phys' || t.text === 'logical') {
    p.next();
    const n = p.expectNum(`an ${t.text === 'phys' ? 'APIC ID' : 'logical destination'} after \`${t.text}\``);
    const v = p.small(n, U32, `the destination of \`${t.text}\``);
    return t.text === 'phys' ? { kind: 'phys', id: v, pos: t.pos } : { kind: 'logical', mask: v, pos: t.pos };
  }
  if (t.text === 'self' || t.text === 'all' || t.text === 'others') {
    if (!shorthands) p.fail(t.pos, `an MSI has no destination shorthand \`${t.text}\`: use \`Pk\`, \`phys N\` (\`phys 0xff\` broadcasts) or \`logical N\``);
    p.next();
    return { kind: t.text, pos: t.pos };
  }
  return { kind: 'cpu', cpu: cpuRef(p, expected), pos: t.pos };
}

/** `[level=assert|deassert] [trigger=edge|level]`, in either order, after a `send` or an `msi`. */
export function levelTrigger(p: Cursor, op: string): { level: 'assert' | 'deassert' | null; trigger: 'edge' | 'level' | null } {
  let level: 'assert' | 'deassert' | null = null;
  let trigger: 'edge' | 'level' | null = null;
  while (p.at('level') || p.at('trigger')) {
    const k = p.next();
    p.expect('=', `after \`${k.text}\``);
    const w = p.expectName(k.text === 'level' ? '`assert` or `deassert`' : '`edge` or `level`');
    if (k.text === 'level') {
      if (level !== null) p.error(k.pos, '`level=` is given twice');
      if (w.text !== 'assert' && w.text !== 'deassert') p.fail(w.pos, `expected \`assert\` or \`deassert\` after \`level=\` of \`${op}\`, found ${describe(w)}`);
      level = w.text;
    } else {
      if (trigger !== null) p.error(k.pos, '`trigger=` is given twice');
      if (w.text !== 'edge' && w.text !== 'level') p.fail(w.pos, `expected \`edge\` or \`level\` after \`trigger=\` of \`${op}\`, found ${describe(w)}`);
      trigger = w.text;
    }
  }
  return { level, trigger };
}

/** `Pk` as a CPU index (the range against `cpus` is checked by validate.ts). */
export function cpuRef(p: Cursor, what: string, t = p.peek()): number {
  const n = t.kind === 'name' ? procIndex(t.text, 'P') : null;
  if (n === null) p.fail(t.pos, `expected ${what}, found ${describe(t)}`);
  p.next();
  return n;
}

export function cmpOp<T extends CmpOp>(p: Cursor, ops: readonly T[], context: string): T {
  const t = p.peek();
  const op = ops.find((o) => p.at(o));
  if (op === undefined) {
    if (p.at('=') && ops.includes('==' as T)) p.fail(t.pos, `expected \`==\` ${context}, found \`=\` (comparisons use \`==\`)`);
    p.fail(t.pos, `expected ${oneOf(ops)} ${context}, found ${describe(t)}`);
  }
  p.next();
  return op;
}

/** A memory word name. */
export function memWord(p: Cursor): string {
  const t = p.expectName('a memory word');
  const why = reservedWord(t.text);
  if (why !== null) p.error(t.pos, `\`${t.text}\` cannot name a memory word: ${why}`);
  return t.text;
}

/** A register written by an op: r0..r31 (not `sv`, which is read-only). */
export function dstReg(p: Cursor): string {
  const t = p.expectName('a register (`r0`..`r31`)');
  if (t.text === 'sv') p.error(t.pos, '`sv` holds the received SIPI vector and is read-only');
  else checkReg(p, t);
  return t.text;
}

/** A register read: r0..r31 or `sv`. */
export function srcReg(p: Cursor, what: string): string {
  const t = p.expectName(what);
  if (t.text !== 'sv') checkReg(p, t);
  return t.text;
}

function checkReg(p: Cursor, t: Token): void {
  if (isGpr(t.text)) return;
  if (/^r[0-9]+$/.test(t.text)) p.error(t.pos, `no register \`${t.text}\`: registers are r0..r${REG_COUNT - 1}`);
  else p.fail(t.pos, `expected a register (\`r0\`..\`r${REG_COUNT - 1}\`), found ${describe(t)}`);
}

export function apicReg(p: Cursor, t = p.next()): ApicRegRef {
  if (t.kind === 'num') return { name: null, offset: apicOffset(p, t, t.value), pos: t.pos };
  if (t.kind !== 'name') p.fail(t.pos, `expected an APIC register name or offset, found ${describe(t)}`);
  return apicRegName(p, t.text, t.pos);
}

export function apicRegName(p: Cursor, name: string, pos: Token['pos']): ApicRegRef {
  if (/^0[xX][0-9a-fA-F]+$/.test(name)) return { name: null, offset: apicOffset(p, { pos, text: name }, BigInt(name)), pos };
  const off = APIC_REGISTERS.get(name);
  if (off === undefined) {
    const hint =
      name === 'SELF_IPI'
        ? ': SELF_IPI exists only in x2APIC mode (`wrmsr X2APIC_SELF_IPI = V`)'
        : didYouMean(name, APIC_REGISTERS.keys()) || ': expected an SDM name (ID, TPR, SVR, ICR_LO, LVT_TIMER, ...) or a hex offset';
    p.error(pos, `unknown APIC register \`${name}\`${hint}`);
    return { name, offset: 0, pos };
  }
  return { name, offset: off, pos };
}

function apicOffset(p: Cursor, t: { pos: Token['pos']; text: string }, v: bigint): number {
  if (v > 0xff0n || v % 16n !== 0n) p.error(t.pos, `an APIC register offset is a multiple of 0x10 in 0..0xff0, found ${t.text}`);
  return v > 0xff0n ? 0 : Number(v);
}

export function msrRef(p: Cursor): MsrRef {
  const t = p.next();
  if (t.kind === 'num') return { name: null, index: p.small(t, U32, 'an MSR number'), pos: t.pos };
  if (t.kind !== 'name') p.fail(t.pos, `expected an MSR name or number, found ${describe(t)}`);
  const index = MSR_NAMES.get(t.text);
  if (index === undefined) {
    p.error(t.pos, `unknown MSR \`${t.text}\`${didYouMean(t.text, MSR_NAMES.keys()) || ': expected IA32_APIC_BASE, IA32_TSC_DEADLINE, X2APIC_REG or a number'}`);
    return { name: t.text, index: 0, pos: t.pos };
  }
  return { name: t.text, index, pos: t.pos };
}

export function ioapicReg(p: Cursor): IoApicRegRef {
  const t = p.next();
  if (t.kind === 'num') return { name: null, index: p.small(t, 0xff, 'an I/O APIC register index'), pos: t.pos };
  if (t.kind !== 'name') p.fail(t.pos, `expected an I/O APIC register (ID, VER, ARB, REDTBLn_LO, REDTBLn_HI) or index, found ${describe(t)}`);
  const index = IOAPIC_REGISTERS.get(t.text);
  if (index === undefined) {
    p.error(t.pos, `unknown I/O APIC register \`${t.text}\`${didYouMean(t.text, IOAPIC_REGISTERS.keys()) || ': expected ID, VER, ARB, REDTBLn_LO, REDTBLn_HI or an index'}`);
    return { name: t.text, index: 0, pos: t.pos };
  }
  return { name: t.text, index, pos: t.pos };
}

// ---- expressions: C precedence, `|` < `^` < `&` < `<< >>` < `+ -`, all left-associative ----------------------

export const PREC: Record<BinOp, number> = { '|': 1, '^': 2, '&': 3, '<<': 4, '>>': 4, '+': 5, '-': 5 };

export function expr(p: Cursor, min = 1): Expr {
  let left = primary(p);
  for (;;) {
    const t = p.peek();
    const op = t.kind === 'punct' ? (t.text as BinOp) : undefined;
    const prec = op !== undefined ? PREC[op] : undefined;
    if (op === undefined || prec === undefined || prec < min) return left;
    p.next();
    const right = expr(p, prec + 1);
    left = { kind: 'bin', op, left, right, pos: left.pos };
  }
}

function primary(p: Cursor): Expr {
  const t = p.peek();
  if (t.kind === 'num') {
    p.next();
    return { kind: 'num', value: t.value, pos: t.pos };
  }
  if (p.accept('(')) {
    const e = p.nested(t.pos, '`(`', () => expr(p));
    p.expect(')', `to close the \`(\` at column ${t.pos.col}`);
    return e;
  }
  if (t.kind === 'name') {
    if (t.text === 'sv' || /^r[0-9]+$/.test(t.text)) {
      p.next();
      if (t.text !== 'sv') checkReg(p, t);
      return { kind: 'reg', reg: t.text, pos: t.pos };
    }
    if (/^(r[0-9]+|sv|[0-9])/.test(t.text) && /[-.]/.test(t.text)) {
      p.fail(t.pos, `\`${t.text}\` reads as one name (names may contain \`-\` and \`.\`): put spaces around the operator`);
    }
    p.fail(t.pos, `expected a number, a register or \`(\`, found ${describe(t)} (expressions cannot read memory: \`load\` it into a register first)`);
  }
  throw new SyntaxFail(t.pos, `expected a number, a register or \`(\`, found ${describe(t)}`);
}
