// The canonical printer: LitmusTest -> text that parses back to the same tree (positions aside).
// Layout: header, config, init, blocks in source order, observe, final condition; two-space indents.

import type { ApicRegRef, Cond, ConfigEntry, Dest, Expr, FinalCondition, InitItem, LitmusTest, Observable, Op, RedirectionEntry, Value } from './ast.js';
import { PREC } from './parse-ops.js';

/** Numbers below 10 in decimal, others in hex. */
export function num(v: bigint | number): string {
  const b = BigInt(v);
  return b < 10n ? b.toString() : `0x${b.toString(16)}`;
}

export function hex(v: number): string {
  return `0x${v.toString(16).padStart(2, '0')}`;
}

function apicReg(r: ApicRegRef): string {
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
      return `P${o.cpu}.apic.${apicReg(o.reg)}`;
    case 'count':
      return `P${o.cpu}.count(${typeof o.of === 'number' ? hex(o.of) : o.of})`;
    case 'vmexits':
      return `P${o.cpu}.vmexits(${o.of})`;
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

export function printExpr(e: Expr, min = 1): string {
  if (e.kind === 'num') return num(e.value);
  if (e.kind === 'reg') return e.reg;
  // Parentheses where precedence needs them, and around a child with other operators (`(a << 2) | b`).
  const p = PREC[e.op];
  const child = (c: Expr, m: number): string => (c.kind === 'bin' && PREC[c.op] !== p ? `(${printExpr(c)})` : printExpr(c, m));
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

export function printOp(op: Op, indent = ''): string {
  const line = (s: string): string => `${indent}${s}`;
  switch (op.kind) {
    case 'store':
      return line(`store ${op.loc} = ${printExpr(op.value)}`);
    case 'load':
      return line(`load ${op.reg} = ${op.loc}`);
    case 'assign':
      return line(`${op.reg} = ${printExpr(op.value)}`);
    case 'await':
      return line(`await ${op.loc} ${op.cmp} ${printExpr(op.value)}`);
    case 'apic-write':
      return line(`apic write ${apicReg(op.reg)} = ${printExpr(op.value)}`);
    case 'apic-read':
      return line(`apic read ${op.dst} = ${apicReg(op.reg)}`);
    case 'wrmsr':
      return line(`wrmsr ${op.msr.name ?? hex(op.msr.index)} = ${printExpr(op.value)}`);
    case 'rdmsr':
      return line(`rdmsr ${op.dst} = ${op.msr.name ?? hex(op.msr.index)}`);
    case 'send': {
      const v = op.vector === null ? '' : ` ${hex(op.vector)}`;
      const lv = op.level === null ? '' : ` level=${op.level}`;
      const tr = op.trigger === null ? '' : ` trigger=${op.trigger}`;
      return line(`send ${op.mode}${v} -> ${printDest(op.dest)}${lv}${tr}`);
    }
    case 'smbase':
      return line(`smbase = ${printExpr(op.value)}`);
    case 'wait':
      return line(`wait ${op.ticks}`);
    case 'label':
      return `${indent.slice(2)}${op.name}:`;
    case 'goto':
      return line(`goto ${op.label}`);
    case 'if':
      return line(`if ${op.reg} ${op.cmp} ${printExpr(op.value)} goto ${op.label}`);
    case 'repeat':
      return [line(`repeat ${op.count} {`), ...op.body.map((o) => printOp(o, `${indent}  `)), line('}')].join('\n');
    case 'ioapic-write':
      return line(`ioapic write ${op.reg.name ?? hex(op.reg.index)} = ${printExpr(op.value)}`);
    case 'signal':
      return line(`${op.signal} -> ${op.target === 'all' ? 'all' : `P${op.target}`}`);
    case 'irq':
      return line(`irq ${op.gsi} ${op.action}`);
    case 'msi':
      return line(`msi ${printDest(op.dest)} vector ${hex(op.vector)}${op.mode === null ? '' : ` mode ${op.mode}`}`);
    case 'hotplug':
    case 'unplug':
    case 'preempt':
    case 'resume':
      return line(`${op.kind} P${op.cpu}`);
    case 'post':
      return line(`post ${hex(op.vector)} -> P${op.cpu}`);
    case 'vmentry':
      return line(op.mode === 'resume' ? 'vmentry' : op.mode === 'sipi' ? 'vmentry sipi' : 'vmentry activity = wait-for-sipi');
    default:
      return line(op.kind);
  }
}

function printConfigEntry(e: ConfigEntry): string {
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
      return `P${it.cpu}.apic.${apicReg(it.reg)} = ${num(it.value)}`;
    case 'reg':
      return `P${it.cpu}:${it.reg} = ${num(it.value)}`;
    default:
      return `P${it.cpu}.${it.kind} = ${typeof it.value === 'bigint' ? num(it.value) : it.value}`;
  }
}

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function printTest(t: LitmusTest): string {
  const out: string[] = [`lapis ${t.name}`];
  if (t.description !== null) out.push(quote(t.description));
  const block = (head: string, lines: string[]): void => {
    out.push('', `${head} {`, ...lines, '}');
  };
  if (t.config) block('config', t.config.entries.map((e) => `  ${printConfigEntry(e)}`));
  if (t.init) block('init', t.init.items.map((i) => `  ${printInitItem(i)}`));
  for (const b of t.blocks) {
    let head: string;
    if (b.kind === 'agent') head = `D${b.agent}`;
    else if (b.handler === 'main') head = `P${b.cpu}`;
    else head = `P${b.cpu} on ${handlerTitle(b)}`;
    block(head, b.body.map((o) => printOp(o, '  ')));
  }
  if (t.observe.length > 0) out.push('', `observe ${t.observe.map(observableName).join(', ')}`);
  out.push('', printFinal(t.condition), '');
  return out.join('\n');
}

/** `vector 0x30`, `nmi`, `vmexit sipi`, ... as written after `on`. */
export function handlerTitle(b: { handler: string; vector: number | null }): string {
  if (b.handler === 'vector') return `vector ${hex(b.vector ?? 0)}`;
  if (b.handler.startsWith('vmexit-')) return `vmexit ${b.handler.slice(7)}`;
  return b.handler;
}
