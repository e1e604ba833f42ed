// Observables (`X`, `Pn:rK`, `Pn.activity`, `Pn.count(V)`, `ioapic.N.remote-irr`, ...) and final conditions.
// A dotted observable is one name token (names may contain `.` and `-`), so it is split here.

import type { BinOp, Cond, FinalCondition, Observable, Quantifier, RelOp, Term } from './ast.js';
import { Cursor, within } from './cursor.js';
import { describe, type Token } from './lexer.js';
import { PREC, apicRegName, vectorNum } from './syntax.js';
import { ACTIVITY_NAMES, APIC_MODE_NAMES, IOAPIC_PINS, REG_COUNT, VMEXIT_KINDS, VMX_MODE_NAMES, didYouMean, isGpr, reservedWord } from './names.js';

const CPU_FIELDS = ['activity', 'smm', 'done', 'faults', 'smbase', 'apic.mode', 'apic.REG', 'count', 'irr', 'isr', 'tmr', 'vmx', 'vmexits', 'running', 'pir', 'gif', 'in-shadow', 'rK'];

export function parseObservable(p: Cursor): Observable {
  const t = p.expectName('an observable (`X`, `Pn:rK`, `Pn.activity`, ...)');
  const pos = t.pos;
  const proc = /^([PD])(0|[1-9][0-9]*)(?:\.(.*))?$/.exec(t.text);
  if (proc) {
    const n = Number(proc[2]);
    const field = proc[3];
    if (field === undefined) {
      p.expect(':', `after \`${t.text}\` (a register is \`${t.text}:rK\`)`);
      const r = p.expectName('a register after `:`');
      regName(p, r.text, r.pos);
      return proc[1] === 'P' ? { kind: 'reg', cpu: n, reg: r.text, pos } : { kind: 'agent-reg', agent: n, reg: r.text, pos };
    }
    const fpos = within(t, proc[1].length + proc[2].length + 1);
    if (proc[1] === 'D') {
      if (!/^r[0-9]+$/.test(field)) p.fail(fpos, `an agent observable is a register (\`${proc[1]}${n}:rK\`), found \`${field}\``);
      regName(p, field, fpos);
      return { kind: 'agent-reg', agent: n, reg: field, pos };
    }
    return cpuField(p, n, field, fpos, pos);
  }
  const io = /^ioapic\.([0-9]+)\.remote-irr$/.exec(t.text);
  if (io) {
    const pin = Number(io[1]);
    if (pin >= IOAPIC_PINS) p.error(within(t, 7), `the I/O APIC has pins 0..${IOAPIC_PINS - 1}, found ${io[1]}`);
    return { kind: 'remote-irr', pin, pos };
  }
  if (t.text.startsWith('ioapic')) p.fail(pos, `unknown I/O APIC observable \`${t.text}\`: expected \`ioapic.N.remote-irr\``);
  const why = reservedWord(t.text);
  if (why !== null) p.error(pos, `\`${t.text}\` cannot name a memory word: ${why}`);
  return { kind: 'mem', name: t.text, pos };
}

function cpuField(p: Cursor, cpu: number, field: string, fpos: Token['pos'], pos: Token['pos']): Observable {
  switch (field) {
    case 'activity':
    case 'smm':
    case 'done':
    case 'faults':
    case 'smbase':
      return { kind: field, cpu, pos };
    case 'apic.mode':
      return { kind: 'apic-mode', cpu, pos };
    case 'vmx':
      return { kind: 'vmx', cpu, pos };
    case 'running':
      return { kind: 'running', cpu, pos };
    case 'gif':
      return { kind: 'gif', cpu, pos };
    case 'in-shadow': {
      p.expect('(', 'after `in-shadow` (`Pn.in-shadow(nmi)`, `in-shadow(smi)` or `in-shadow(V)`)');
      const a = p.next();
      let of: number | 'nmi' | 'smi';
      if (a.kind === 'num') of = vectorNum(p, a);
      else if (a.text === 'nmi' || a.text === 'smi') of = a.text;
      else return p.fail(a.pos, `expected a vector, \`nmi\` or \`smi\` in \`in-shadow(...)\`, found ${describe(a)}`);
      p.expect(')', 'to close `in-shadow(`');
      return { kind: 'in-shadow', cpu, of, pos };
    }
    case 'pir': {
      p.expect('(', 'after `pir` (`Pn.pir(V)`)');
      const vector = vectorNum(p, p.expectNum('a vector in `pir(...)`'));
      p.expect(')', 'to close `pir(`');
      return { kind: 'pir', cpu, vector, pos };
    }
    case 'vmexits': {
      p.expect('(', 'after `vmexits` (`Pn.vmexits(init)`, `Pn.vmexits(noaccel)`, ...)');
      const list = VMEXIT_KINDS.map((k) => `\`${k}\``).join(', ');
      const a = p.expectName(`one of ${list} in \`vmexits(...)\``);
      const of = VMEXIT_KINDS.find((k) => k === a.text);
      if (of === undefined) p.fail(a.pos, `expected one of ${list} in \`vmexits(...)\`, found ${describe(a)}`);
      p.expect(')', 'to close `vmexits(`');
      return { kind: 'vmexits', cpu, of, pos };
    }
    case 'count': {
      p.expect('(', 'after `count` (`Pn.count(V)`, `count(nmi)`, `count(smi)` or `count(sipi)`)');
      const a = p.next();
      let of: number | 'nmi' | 'smi' | 'sipi';
      if (a.kind === 'num') of = vectorNum(p, a);
      else if (a.text === 'nmi' || a.text === 'smi' || a.text === 'sipi') of = a.text;
      else return p.fail(a.pos, `expected a vector, \`nmi\`, \`smi\` or \`sipi\` in \`count(...)\`, found ${describe(a)}`);
      p.expect(')', 'to close `count(`');
      return { kind: 'count', cpu, of, pos };
    }
    case 'irr':
    case 'isr':
    case 'tmr': {
      p.expect('(', `after \`${field}\` (\`Pn.${field}(V)\`)`);
      const vector = vectorNum(p, p.expectNum(`a vector in \`${field}(...)\``));
      p.expect(')', `to close \`${field}(\``);
      return { kind: field, cpu, vector, pos };
    }
  }
  if (field.startsWith('apic.')) {
    const reg = apicRegName(p, field.slice(5), { line: fpos.line, col: fpos.col + 5 });
    return { kind: 'apic-reg', cpu, reg, pos };
  }
  if (/^r[0-9]+$/.test(field)) {
    regName(p, field, fpos);
    return { kind: 'reg', cpu, reg: field, pos };
  }
  return p.fail(fpos, `unknown CPU observable \`${field}\`${didYouMean(field, CPU_FIELDS) || `: expected one of ${CPU_FIELDS.join(', ')}`}`);
}

function regName(p: Cursor, name: string, pos: Token['pos']): void {
  if (isGpr(name)) return;
  if (/^r[0-9]+$/.test(name)) p.error(pos, `no register \`${name}\`: registers are r0..r${REG_COUNT - 1}`);
  else p.fail(pos, `expected a register (\`r0\`..\`r${REG_COUNT - 1}\`), found \`${name}\``);
}

/** `exists C`, `~exists C` or `forall C`; the caller has checked that one of them is next. */
export function parseFinal(p: Cursor): FinalCondition {
  const saved = p.skipNl;
  p.skipNl = true;
  try {
    const first = p.next();
    let quantifier: Quantifier = first.text as Quantifier;
    if (first.text === '~') {
      p.expect('exists', 'after `~` (`~exists (C)`)');
      quantifier = '~exists';
    }
    return { quantifier, cond: disjunction(p), pos: first.pos };
  } finally {
    p.skipNl = saved;
  }
}

function disjunction(p: Cursor): Cond {
  let left = conjunction(p);
  while (p.accept('\\/')) left = { kind: 'or', left, right: conjunction(p), pos: left.pos };
  return left;
}

function conjunction(p: Cursor): Cond {
  let left = unary(p);
  while (p.accept('/\\')) left = { kind: 'and', left, right: unary(p), pos: left.pos };
  return left;
}

function unary(p: Cursor): Cond {
  const t = p.peek();
  if (p.accept('~')) return { kind: 'not', arg: p.nested(t.pos, '`~`', () => unary(p)), pos: t.pos };
  if (p.at('(') && p.groupHolds(COND_TOKENS)) {
    p.next();
    const c = p.nested(t.pos, '`(`', () => disjunction(p));
    p.expect(')', `to close the \`(\` at line ${t.pos.line} column ${t.pos.col}`);
    return c;
  }
  if (p.accept('true')) return { kind: 'true', pos: t.pos };
  if (p.accept('false')) return { kind: 'false', pos: t.pos };
  if (t.kind !== 'name' && t.kind !== 'num' && !p.at('(')) p.fail(t.pos, `expected a condition (\`LOC = V\`, \`~\`, \`(\`), found ${describe(t)}`);
  return comparison(p);
}

const REL_OPS: readonly RelOp[] = ['=', '!=', '<', '>', '<=', '>='];
const COND_TOKENS = new Set(['=', '!=', '==', '<', '>', '<=', '>=', '/\\', '\\/', '~', 'true', 'false']);

// A `(` opens a condition (`(C)`) rather than a term (`(P0:r0 & 0xff) < 0x16`) when a comparison, a connective or
// a constant is inside it (Cursor.groupHolds: one pass over the tokens for the whole file, so parsing stays linear).

/** Names a state observable takes (`halted`, `x2apic`, `root`): on the right of `=` or `!=` they are values. */
const STATE_NAMES: ReadonlySet<string> = new Set<string>([...ACTIVITY_NAMES, ...APIC_MODE_NAMES, ...VMX_MODE_NAMES]);

/**
 * `T op T`, or a chain `T op T op T` (a range: `0x10 <= P0:r0 <= 0x15` is `0x10 <= P0:r0 /\ P0:r0 <= 0x15`).
 * `LOC = V` and `LOC != V` with a number or a name for V are the contract's form (`cmp`); every other is `rel`.
 */
function comparison(p: Cursor): Cond {
  const first = p.peek();
  let left = term(p);
  let cond: Cond | null = null;
  for (;;) {
    const o = p.peek();
    if (p.at('==')) p.fail(o.pos, `expected \`=\` or \`!=\` after ${left.kind === 'obs' ? 'an observable' : 'a term'}, found \`==\` (conditions use a single \`=\`)`);
    const op = REL_OPS.find((r) => p.at(r));
    if (op === undefined) {
      if (cond !== null) return cond;
      return p.fail(o.pos, `expected \`=\`, \`!=\`, \`<\`, \`>\`, \`<=\` or \`>=\` after \`${p.slice(first, first)}\`, found ${describe(o)}`);
    }
    p.next();
    const v = p.peek();
    // A bare name after a state observable, or a state's name anywhere, is a value (the contract's `LOC = V`).
    const stateLeft = left.kind === 'obs' && (left.loc.kind === 'activity' || left.loc.kind === 'apic-mode' || left.loc.kind === 'vmx');
    const symbol = v.kind === 'name' && (STATE_NAMES.has(v.text) || (stateLeft && !/[.:]/.test(v.text))) && !isBinOp(p, 1);
    const right: Term = symbol ? (p.next(), { kind: 'sym', name: v.text, pos: v.pos }) : term(p);
    const c = relation(left, op, right);
    cond = cond === null ? c : { kind: 'and', left: cond, right: c, pos: cond.pos };
    left = right;
  }
}

function relation(left: Term, op: RelOp, right: Term): Cond {
  if (left.kind === 'obs' && (op === '=' || op === '!=') && (right.kind === 'num' || right.kind === 'sym')) {
    return { kind: 'cmp', loc: left.loc, op, value: right, pos: left.pos };
  }
  return { kind: 'rel', left, op, right, pos: left.pos };
}

function isBinOp(p: Cursor, k: number): boolean {
  const t = p.peek(k);
  return t.kind === 'punct' && Object.hasOwn(PREC, t.text);
}

/** A term: observables, numbers and `+ - & | ^ << >>` with expressions' precedence (C's), parentheses. */
function term(p: Cursor, min = 1): Term {
  let left = primary(p);
  for (;;) {
    const t = p.peek();
    if (!isBinOp(p, 0)) return left;
    const op = t.text as BinOp;
    const prec = PREC[op];
    if (prec < min) return left;
    p.next();
    const right = term(p, prec + 1);
    left = { kind: 'bin', op, left, right, pos: left.pos };
  }
}

function primary(p: Cursor): Term {
  const t = p.peek();
  if (t.kind === 'num') {
    p.next();
    return { kind: 'num', value: t.value, pos: t.pos };
  }
  if (p.accept('(')) {
    const e = p.nested(t.pos, '`(`', () => term(p));
    p.expect(')', `to close the \`(\` at line ${t.pos.line} column ${t.pos.col}`);
    return e;
  }
  if (t.kind !== 'name') return p.fail(t.pos, `expected an observable, a number or \`(\`, found ${describe(t)}`);
  return { kind: 'obs', loc: parseObservable(p), pos: t.pos };
}
