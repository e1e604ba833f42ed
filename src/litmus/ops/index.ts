// The one table of litmus ops. Each family module (this directory) holds everything about its ops; OpTable's type
// makes a kind without a def, or a def without a part, a compile error. Adding an op: its node type in ast.ts, its
// def and parser in a family module (a new family is one more line here), and docs/litmus.md.

import type { Op } from '../ast.js';
import type { Cursor } from '../cursor.js';
import { describe } from '../lexer.js';
import { didYouMean } from '../names.js';
import { apic } from './apic.js';
import { control } from './control.js';
import { cpu } from './cpu.js';
import { ioapic } from './ioapic.js';
import { memory, parseAssign } from './memory.js';
import { platform } from './platform.js';
import { send } from './send.js';
import { smm } from './smm.js';
import { vcpu } from './vcpu.js';
import { vmx } from './vmx.js';
import { cpuinfo } from './cpuinfo.js';
import { mmio } from './mmio.js';
import { pins } from './pins.js';
import { state } from './state.js';
import { vmm } from './vmm.js';
import type { OpDef, OpTable, ParseFn } from './types.js';

const FAMILIES = [memory, control, cpu, apic, send, smm, vmx, ioapic, platform, vcpu, state, cpuinfo, mmio, pins, vmm] as const;

export const OPS: OpTable = uniform({
  ...memory.defs, ...control.defs, ...cpu.defs, ...apic.defs, ...send.defs, ...smm.defs, ...vmx.defs, ...ioapic.defs,
  ...platform.defs, ...vcpu.defs, ...state.defs, ...cpuinfo.defs, ...mmio.defs, ...pins.defs, ...vmm.defs,
});

/**
 * Every def rebuilt with the same members in the same order (an absent optional one as undefined). V8 gives objects
 * of one shape one hidden class: the simulator's reads of `exec`, `enabled` and `pauses` at every step then check
 * one class, where the families' own literals (each with its own optional members) made them megamorphic lookups.
 */
function uniform(table: OpTable): OpTable {
  const out: Record<string, OpDef<Op['kind']>> = {};
  for (const [kind, d] of Object.entries(table) as [string, OpDef<Op['kind']>][]) {
    out[kind] = {
      where: d.where, whereHint: d.whereHint, word: d.word, print: d.print, validate: d.validate, refs: d.refs,
      describe: d.describe, exec: d.exec, enabled: d.enabled, waitsFor: d.waitsFor, pauses: d.pauses,
      footprint: d.footprint, analyze: d.analyze, emit: d.emit,
    };
    // A member added to OpDef but not above would be dropped here without a type error (optional members).
    for (const [member, v] of Object.entries(d)) {
      if ((out[kind] as unknown as Record<string, unknown>)[member] !== v) throw new Error(`op ${kind}: OpDef member ${member} is not copied by uniform()`);
    }
  }
  return out as unknown as OpTable;
}

/** The def of an op, for code that holds an op of any kind. */
export function opDef(op: { kind: Op['kind'] }): OpDef<Op['kind']> {
  return OPS[op.kind] as unknown as OpDef<Op['kind']>;
}

/** Keyword -> parser. A keyword belongs to one family. */
const PARSERS: ReadonlyMap<string, ParseFn> = (() => {
  const m = new Map<string, ParseFn>();
  for (const f of FAMILIES) {
    for (const [word, fn] of Object.entries(f.parse)) {
      if (m.has(word)) throw new Error(`litmus op keyword \`${word}\` is defined twice`);
      m.set(word, fn);
    }
  }
  return m;
})();

export const OP_WORDS: readonly string[] = [...PARSERS.keys()];

/** The op's name in messages (`apic write`, `smi -> ...`). */
export function opWord(op: Op): string {
  const def = opDef(op);
  return def.word ? def.word(op) : op.kind;
}

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
  const parse = PARSERS.get(t.text);
  let op: Op;
  if (parse) op = parse(p, t, (what) => parseBody(p, what));
  else if (/^r[0-9]+$/.test(t.text) || t.text === 'sv') op = parseAssign(p, t);
  else {
    const hint = didYouMean(t.text, OP_WORDS);
    return p.fail(t.pos, `unknown op \`${t.text}\`${hint || '; expected an op such as `store`, `load`, `send`, `hlt` or `rK = E`'}`);
  }
  p.endOfItem(`\`${t.text}\``);
  return op;
}
