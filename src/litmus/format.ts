// The canonical spelling of the litmus format's pieces: numbers, expressions, destinations, observables, the
// final condition, init items. print.ts puts a whole test together from these and each op's own printer.

import type { ApicRegRef, Cond, ConfigEntry, Dest, Expr, FinalCondition, InitItem, Observable, RedirectionEntry, Term, Value } from './ast.js';
import { PREC } from './syntax.js';

/** Numbers below 10 in decimal, others in hex. */
export function num(v: bigint | number): string {
  const b = BigInt(v);
  return b < 10n ? b.toString() : `0x${b.toString(16)}`;
}

export function hex(v: number): string {
  return `0x${v.toString(16).padStart(2, '0')}`;
}

export function apicRegText(r: ApicRegRef): string {
  return r.name ?? `0x${r.offset.toString(16)}`;
}

/** The canonical spelling of an observable, also the key of an outcome's values. */
export function observableName(o: Observable): string {
  switch (o.kind) {
    case 'mem':
      return o.name;
    case 'reg':
      return `P${o.cpu}:${o.reg}`;
    case 'agent-reg':
      return `D${o.agent}:${o.reg}`;
    case 'apic-mode':
      return `P${o.cpu}.apic.mode`;
    case 'apic-reg':
      return `P${o.cpu}.apic.${apicRegText(o.reg)}`;
    case 'count':
      return `P${o.cpu}.count(${typeof o.of === 'number' ? hex(o.of) : o.of})`;
    case 'vmexits':
      return `P${o.cpu}.vmexits(${o.of})`;
    case 'in-shadow':
      return `P${o.cpu}.in-shadow(${typeof o.of === 'number' ? hex(o.of) : o.of})`;
    case 'irr':
    case 'isr':
    case 'tmr':
    case 'pir':
      return `P${o.cpu}.${o.kind}(${hex(o.vector)})`;
    case 'remote-irr':
      return `ioapic.${o.pin}.remote-irr`;
    default:
      return `P${o.cpu}.${o.kind}`;
  }
}

/** An expression, or a condition's term (extension): the same operators and precedence. */
export function printExpr(e: Expr | Term, min = 1): string {
  if (e.kind === 'num') return num(e.value);
  if (e.kind === 'reg') return e.reg;
  if (e.kind === 'obs') return observableName(e.loc);
  if (e.kind === 'sym') return e.name;
  // Parentheses where precedence needs them, and around a child with other operators (`(a << 2) | b`).
  const p = PREC[e.op];
  const child = (c: Expr | Term, m: number): string => (c.kind === 'bin' && PREC[c.op] !== p ? `(${printExpr(c)})` : printExpr(c, m));
  // A shift count reads best in decimal.
  const right = e.right.kind === 'num' && (e.op === '<<' || e.op === '>>') ? e.right.value.toString() : child(e.right, p + 1);
  const s = `${child(e.left, p)} ${e.op} ${right}`;
  return p < min ? `(${s})` : s;
}

export function printDest(d: Dest): string {
  switch (d.kind) {
    case 'cpu':
      return `P${d.cpu}`;
    case 'phys':
      return `phys ${num(d.id)}`;
    case 'logical':
      return `logical ${num(d.mask)}`;
    default:
      return d.kind;
  }
}

function printValue(v: Value): string {
  return v.kind === 'num' ? num(v.value) : v.name;
}

const COND_PREC = { or: 1, and: 2 } as const;

export function printCond(c: Cond, min = 0): string {
  switch (c.kind) {
    case 'cmp':
      return `${observableName(c.loc)} ${c.op} ${printValue(c.value)}`;
    case 'rel':
      return `${printExpr(c.left)} ${c.op} ${printExpr(c.right)}`;
    case 'true':
    case 'false':
      return c.kind;
    case 'not':
      return `~(${printCond(c.arg)})`;
    case 'and':
    case 'or': {
      const p = COND_PREC[c.kind];
      const s = `${printCond(c.left, p)} ${c.kind === 'and' ? '/\\' : '\\/'} ${printCond(c.right, p + 1)}`;
      return p < min ? `(${s})` : s;
    }
  }
}

export function printFinal(f: FinalCondition): string {
  return `${f.quantifier} (${printCond(f.cond)})`;
}

export function printConfigEntry(e: ConfigEntry): string {
  if (e.key === 'ioapic-version') return `${e.key} = ${hex(e.value)}`;
  if (e.key === 'apic-ids') return `${e.key} = ${e.value.map(num).join(', ')}`;
  return `${e.key} = ${e.value}`;
}

function printRedirection(e: RedirectionEntry): string {
  const f: string[] = [];
  if (e.vector !== null) f.push(`vector = ${hex(e.vector)}`);
  if (e.mode !== null) f.push(`mode = ${e.mode}`);
  if (e.dest !== null) f.push(`dest = ${printDest(e.dest)}`);
  if (e.trigger !== null) f.push(`trigger = ${e.trigger}`);
  if (e.polarity !== null) f.push(`polarity = ${e.polarity}`);
  if (e.mask !== null) f.push(`mask = ${e.mask}`);
  return `{ ${f.join(', ')} }`;
}

export function printInitItem(it: InitItem): string {
  switch (it.kind) {
    case 'mem':
      return `${it.name} = ${num(it.value)}`;
    case 'ioapic-entry':
      return `ioapic.${it.pin} = ${printRedirection(it.entry)}`;
    case 'apic-mode':
      return `P${it.cpu}.apic.mode = ${it.value}`;
    case 'apic-reg':
      return `P${it.cpu}.apic.${apicRegText(it.reg)} = ${num(it.value)}`;
    case 'reg':
      return `P${it.cpu}:${it.reg} = ${num(it.value)}`;
    default:
      return `P${it.cpu}.${it.kind} = ${typeof it.value === 'bigint' ? num(it.value) : it.value}`;
  }
}

/** `vector 0x30`, `nmi`, `vmexit sipi`, ... as written after `on`. */
export function handlerTitle(b: { handler: string; vector: number | null }): string {
  if (b.handler === 'vector') return `vector ${hex(b.vector ?? 0)}`;
  if (b.handler.startsWith('vmexit-')) return `vmexit ${b.handler.slice(7)}`;
  return b.handler;
}
