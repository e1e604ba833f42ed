// The litmus language on the page's side: the editor lints every keystroke with it, and each request to the engine
// worker carries the test it parsed (a plain, structured-cloneable LitmusTest), so the worker bundles no parser and
// no parse-error prose (docs/web.md, "How it is built").

import { parseLitmus } from '../../src/litmus/parse.js';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { testInfo } from './testinfo.js';
import type { Parsed } from './types.js';

export function parse(text: string): Parsed {
  const r = parseLitmus(text, 'test.litmus');
  if (!r.ok) return { ok: false, errors: r.errors.map((d) => ({ line: d.line, col: d.col, message: d.message })) };
  return { ok: true, info: testInfo(r.test) };
}

/** The test, checked; a text that does not parse throws its problems, one `line:col: message` a line. */
export function load(text: string): LitmusTest {
  const r = parseLitmus(text, 'test.litmus');
  if (!r.ok) throw new Error(r.errors.map((d) => `${d.line}:${d.col}: ${d.message}`).join('\n'));
  return r.test;
}
