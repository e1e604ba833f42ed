// The canonical printer: LitmusTest -> text that parses back to the same tree (positions aside).
// Layout: header, config, init, blocks in source order, observe, final condition; two-space indents.

import type { LitmusTest, Op } from './ast.js';
import { handlerTitle, observableName, printConfigEntry, printFinal, printInitItem } from './format.js';
import { OPS } from './ops/index.js';

export * from './format.js';

/** One op as written, at `indent` (a `repeat` with its body; a label one level out). */
export function printOp(op: Op, indent = ''): string {
  if (op.kind === 'label') return `${indent.slice(2)}${op.name}:`;
  if (op.kind === 'repeat') return [`${indent}repeat ${op.count} {`, ...op.body.map((o) => printOp(o, `${indent}  `)), `${indent}}`].join('\n');
  return `${indent}${(OPS[op.kind].print as (o: Op) => string)(op)}`;
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

