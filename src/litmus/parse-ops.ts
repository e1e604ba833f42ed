// Ops of CPU and agent blocks, expressions, and the register / MSR / destination references they use.
// Ops are parsed alike in every block; which block may use which op is validate.ts's business.

import type { ApicRegRef, BinOp, CmpOp, DeliveryModeName, Dest, Expr, IoApicRegRef, MsrRef, Op, SendOp } from './ast.js';
import { Cursor, SyntaxFail } from './cursor.js';
import { describe, type Token } from './lexer.js';
import {
  APIC_REGISTERS, DELIVERY_MODE_NAMES, IOAPIC_PINS, IOAPIC_REGISTERS, PLATFORM_MODE_NAMES, MSR_NAMES, REG_COUNT, VECTOR_MODES,
  didYouMean, isGpr, oneOf, procIndex, reservedWord,
} from './names.js';

const SIMPLE_OPS = ['sti', 'cli', 'hlt', 'pause', 'nop', 'eoi', 'rsm', 'vmxon', 'vmxoff'] as const;
const OP_WORDS = [
  'store', 'load', 'await', 'apic', 'wrmsr', 'rdmsr', 'send', ...SIMPLE_OPS, 'smbase', 'wait', 'goto', 'if', 'repeat',
  'ioapic', 'smi', 'nmi', 'init', 'irq', 'msi', 'hotplug', 'unplug', 'vmentry', 'preempt', 'resume', 'post',
];
const U32 = 0xffffffff;

/** `{ ops }`: the body of a block or a `repeat`. Errors inside are reported and skipped line by line. */
export function parseBody(p: Cursor, what: string): Op[] {
  const open = p.expect('{', `to open ${what}`);
  const ops: Op[] = [];
  for (;;) {
    p.skipSeparators();
    if (p.accept('}')) return ops;
    if (p.peek().kind === 'eof') p.fail(p.peek().pos, `expected \`}\` to close ${what} opened at line ${open.pos.line}, found end of file`);
    try {
      ops.push(parseOp(p));
    } catch (e) {
      p.report(e);
      p.skipLine();
    }
  }
}

export function parseOp(p: Cursor): Op {
  const t = p.peek();
  if (t.kind !== 'name') p.fail(t.pos, `expected an op, found ${describe(t)}`);
  if (p.at(':', 1)) {
    p.next();
    p.next();
    return { kind: 'label', name: t.text, pos: t.pos };
  }
  const op = parseStatement(p, t);
  p.endOfItem(`\`${t.text}\``);
  return op;
}

function parseStatement(p: Cursor, t: Token): Op {
  const pos = t.pos;
  const word = t.text;
  if ((SIMPLE_OPS as readonly string[]).includes(word)) {
    p.next();
    return { kind: word as (typeof SIMPLE_OPS)[number], pos };
  }
  switch (word) {
    case 'vmentry': {
      p.next();
      if (p.peek().kind === 'name' && p.peek().text === 'sipi') {
        p.next();
        return { kind: 'vmentry', mode: 'sipi', pos };
      }
      if (p.peek().kind === 'name' && p.peek().text === 'activity') {
        p.next();
        p.expect('=', 'after `vmentry activity`');
        const a = p.expectName('`wait-for-sipi` after `vmentry activity =`');
        if (a.text !== 'wait-for-sipi') p.fail(a.pos, `a VM entry can enter the guest in \`wait-for-sipi\`; found ${describe(a)}`);
        return { kind: 'vmentry', mode: 'wait-for-sipi', pos };
      }
      return { kind: 'vmentry', mode: 'resume', pos };
    }
    case 'store': {
      p.next();
      const loc = memWord(p);
      p.expect('=', `after \`store ${loc}\``);
      return { kind: 'store', loc, value: expr(p), pos };
    }
    case 'load': {
      p.next();
      const reg = dstReg(p);
      p.expect('=', `after \`load ${reg}\``);
      return { kind: 'load', reg, loc: memWord(p), pos };
    }
    case 'await': {
      p.next();
      const loc = memWord(p);
      const cmp = cmpOp(p, ['==', '!='], `after \`await ${loc}\``) as '==' | '!=';
      return { kind: 'await', loc, cmp, value: expr(p), pos };
    }
    case 'apic': {
      p.next();
      const sub = p.expectName('`write` or `read` after `apic`');
      if (sub.text === 'write') {
        const reg = apicReg(p);
        p.expect('=', 'after `apic write REG`');
        return { kind: 'apic-write', reg, value: expr(p), pos };
      }
      if (sub.text === 'read') {
        const dst = dstReg(p);
        p.expect('=', `after \`apic read ${dst}\``);
        return { kind: 'apic-read', dst, reg: apicReg(p), pos };
      }
      return p.fail(sub.pos, `expected \`write\` or \`read\` after \`apic\`, found ${describe(sub)}`);
    }
    case 'wrmsr': {
      p.next();
      const msr = msrRef(p);
      p.expect('=', 'after `wrmsr M`');
      return { kind: 'wrmsr', msr, value: expr(p), pos };
    }
    case 'rdmsr': {
      p.next();
      const dst = dstReg(p);
      p.expect('=', `after \`rdmsr ${dst}\``);
      return { kind: 'rdmsr', dst, msr: msrRef(p), pos };
    }
    case 'send':
      p.next();
      return parseSend(p, pos);
    case 'smbase':
      p.next();
      p.expect('=', 'after `smbase` (write the SMBASE save-state field: `smbase = E`)');
      return { kind: 'smbase', value: expr(p), pos };
    case 'wait': {
      p.next();
      const n = p.expectNum('a number of APIC-timer ticks after `wait`');
      return { kind: 'wait', ticks: p.small(n, U32, 'the tick count of `wait`'), pos };
    }
    case 'goto':
      p.next();
      return { kind: 'goto', label: p.expectName('a label after `goto`').text, pos };
    case 'if': {
      p.next();
      const reg = srcReg(p, 'a register after `if`');
      const cmp = cmpOp(p, ['==', '!=', '<', '>', '<=', '>='], `after \`if ${reg}\``);
      const value = expr(p);
      p.expect('goto', 'after the condition of `if` (`if rK == E goto L`)');
      return { kind: 'if', reg, cmp, value, label: p.expectName('a label after `goto`').text, pos };
    }
    case 'repeat': {
      p.next();
      const n = p.expectNum('a repeat count after `repeat`');
      const count = p.small(n, U32, 'the count of `repeat`');
      return { kind: 'repeat', count, body: p.nested(pos, '`repeat`', () => parseBody(p, 'the `repeat` body')), pos };
    }
    case 'ioapic': {
      p.next();
      p.expect('write', 'after `ioapic` (`ioapic write REG = E`)');
      const reg = ioapicReg(p);
      p.expect('=', 'after `ioapic write REG`');
      return { kind: 'ioapic-write', reg, value: expr(p), pos };
    }
    case 'smi':
    case 'nmi':
    case 'init': {
      p.next();
      p.expect('->', `after \`${word}\` (\`${word} -> Pk\`)`);
      const tt = p.peek();
      if (p.accept('all')) return { kind: 'signal', signal: word, target: 'all', pos };
      return { kind: 'signal', signal: word, target: cpuRef(p, `a CPU (\`Pk\`) or \`all\` after \`${word} ->\``, tt), pos };
    }
    case 'irq': {
      p.next();
      const n = p.expectNum('an I/O APIC input pin (GSI) after `irq`');
      const gsi = p.small(n, IOAPIC_PINS - 1, 'the I/O APIC pin of `irq`');
      const a = p.expectName('`assert`, `deassert` or `pulse` after `irq GSI`');
      if (a.text !== 'assert' && a.text !== 'deassert' && a.text !== 'pulse') {
        p.fail(a.pos, `expected \`assert\`, \`deassert\` or \`pulse\` after \`irq ${n.text}\`, found ${describe(a)}`);
      }
      return { kind: 'irq', gsi, action: a.text, pos };
    }
    case 'msi':
      p.next();
      return parseMsi(p, pos);
    case 'post': {
      p.next();
      const vector = vectorNum(p, p.expectNum('a vector after `post`'));
      p.expect('->', 'after `post V`');
      return { kind: 'post', vector, cpu: cpuRef(p, 'a CPU (`Pk`) after `post V ->`'), pos };
    }
    case 'hotplug':
    case 'unplug':
    case 'preempt':
    case 'resume':
      p.next();
      return { kind: word, cpu: cpuRef(p, `a CPU (\`Pk\`) after \`${word}\``), pos };
  }
  if (/^r[0-9]+$/.test(word) || word === 'sv') {
    const reg = dstReg(p);
    p.expect('=', `after \`${reg}\` (register assignment \`${reg} = E\`)`);
    return { kind: 'assign', reg, value: expr(p), pos };
  }
  const hint = didYouMean(word, OP_WORDS);
  return p.fail(pos, `unknown op \`${word}\`${hint || '; expected an op such as `store`, `load`, `send`, `hlt` or `rK = E`'}`);
}

function parseSend(p: Cursor, pos: Token['pos']): SendOp {
  const mode = modeName(p, DELIVERY_MODE_NAMES, 'a delivery mode after `send`');
  let vector: number | null = null;
  const v = p.peek();
  if (v.kind === 'num') vector = vectorNum(p, p.next());
  const arrow = p.expect('->', vector === null ? `or a vector after \`send ${mode}\`` : `after \`send ${mode} ${v.text}\``);
  if (vector === null && VECTOR_MODES.includes(mode)) {
    p.error(arrow.pos, `\`send ${mode}\` needs a vector: \`send ${mode} V -> DEST\``);
  }
  const dest = parseDest(p, true);
  let level: SendOp['level'] = null;
  let trigger: SendOp['trigger'] = null;
  while (p.at('level') || p.at('trigger')) {
    const k = p.next();
    p.expect('=', `after \`${k.text}\``);
    const v = p.expectName(k.text === 'level' ? '`assert` or `deassert`' : '`edge` or `level`');
    if (k.text === 'level') {
      if (level !== null) p.error(k.pos, '`level=` is given twice');
      if (v.text !== 'assert' && v.text !== 'deassert') p.fail(v.pos, `expected \`assert\` or \`deassert\` after \`level=\`, found ${describe(v)}`);
      level = v.text;
    } else {
      if (trigger !== null) p.error(k.pos, '`trigger=` is given twice');
      if (v.text !== 'edge' && v.text !== 'level') p.fail(v.pos, `expected \`edge\` or \`level\` after \`trigger=\`, found ${describe(v)}`);
      trigger = v.text;
    }
  }
  return { kind: 'send', mode, vector, dest, level, trigger, pos };
}

function parseMsi(p: Cursor, pos: Token['pos']): Op {
  const dest = parseDest(p, false);
  p.expect('vector', 'after the MSI destination (`msi DEST vector V`)');
  const vector = vectorNum(p, p.expectNum('a vector after `vector`'));
  let mode: DeliveryModeName | null = null;
  if (p.accept('mode')) mode = modeName(p, PLATFORM_MODE_NAMES, 'an MSI delivery mode after `mode`');
  return { kind: 'msi', dest, vector, mode, pos };
}

function modeName(p: Cursor, allowed: readonly DeliveryModeName[], what: string): DeliveryModeName {
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

/** `Pk` as a CPU index (the range against `cpus` is checked by validate.ts). */
export function cpuRef(p: Cursor, what: string, t = p.peek()): number {
  const n = t.kind === 'name' ? procIndex(t.text, 'P') : null;
  if (n === null) p.fail(t.pos, `expected ${what}, found ${describe(t)}`);
  p.next();
  return n;
}

function cmpOp<T extends CmpOp>(p: Cursor, ops: readonly T[], context: string): T {
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
function dstReg(p: Cursor): string {
  const t = p.expectName('a register (`r0`..`r31`)');
  if (t.text === 'sv') p.error(t.pos, '`sv` holds the received SIPI vector and is read-only');
  else checkReg(p, t);
  return t.text;
}

/** A register read: r0..r31 or `sv`. */
function srcReg(p: Cursor, what: string): string {
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

function msrRef(p: Cursor): MsrRef {
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

function ioapicReg(p: Cursor): IoApicRegRef {
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
