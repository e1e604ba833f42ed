// Test helpers for the litmus front end.

import { expect } from 'vitest';
import type { LitmusTest, Op } from '../../src/litmus/ast.js';
import { parseLitmus } from '../../src/litmus/parse.js';

/** A deep copy without `pos` fields, to compare trees regardless of layout. */
export function stripPos<T>(x: T): T {
  if (Array.isArray(x)) return x.map(stripPos) as T;
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (k !== 'pos') out[k] = stripPos(v);
    return out as T;
  }
  return x;
}

/** Parses text that must be valid, failing the test with the formatted diagnostics otherwise. */
export function mustParse(text: string): LitmusTest {
  const r = parseLitmus(text, 't.litmus');
  if (!r.ok) expect.fail(r.errors.map((d) => d.format()).join('\n'));
  return r.test;
}

/** The formatted diagnostics of text that must be invalid. */
export function errorsOf(text: string, file = 't.litmus'): string {
  const r = parseLitmus(text, file);
  if (r.ok) expect.fail(`expected errors, but it parsed:\n${text}`);
  return r.errors.map((d) => d.format()).join('\n');
}

/** A test with `cpus = 4` around one block; `extra` goes after it (more blocks). */
export function wrap(block: string, body: string, extra = ''): string {
  return `lapis T\nconfig {\n  cpus = 4\n}\n${block} {\n${body}\n}\n${extra}exists (true)\n`;
}

/** The single op of `P0 { line }` (or of another block), without positions. */
export function opOf(line: string, block = 'P0'): Op {
  const t = mustParse(wrap(block, line));
  const b = t.blocks[0];
  expect(b.body).toHaveLength(1);
  return stripPos(b.body[0]);
}
