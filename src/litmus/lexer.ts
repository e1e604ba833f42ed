// The litmus lexer. Names are `[A-Za-z_][A-Za-z0-9_.-]*` (the contract), except that a name stops before
// `->` so `smi->P1` reads as `smi -> P1`. Numbers are decimal or 0x hex. Newlines are tokens: ops end at
// the end of a line (or at `;` or `}`). `#` starts a comment. The rest of the first `lapis` line is one token.

import type { Pos } from './ast.js';
import type { Reporter } from './diagnostic.js';

export type TokenKind = 'name' | 'num' | 'str' | 'punct' | 'nl' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The text as written (for `str`, the decoded string; for `nl`, '\n'). */
  text: string;
  /** The value of a `num` token. */
  value: bigint;
  pos: Pos;
  /** Offset just past the token, to tell `a-b` from `a - b` and `P1:r0` from `P1 : r0`. */
  end: number;
  start: number;
}

const PUNCTS = ['->', '==', '!=', '<=', '>=', '<<', '>>', '/\\', '\\/', '{', '}', '(', ')', ',', ':', ';', '=', '<', '>', '+', '-', '&', '|', '^', '~', '[', ']', '.'];

const isNameStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isNameChar = (c: string): boolean => /[A-Za-z0-9_.-]/.test(c);

export function lex(text: string, rep: Reporter): Token[] {
  const toks: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  /** How many tokens there are while only newlines have been seen (to spot the `lapis` line). */
  let lineToks = 0;
  const pos = (at: number): Pos => ({ line, col: at - lineStart + 1 });
  const push = (kind: TokenKind, t: string, start: number, end: number, value = 0n): void => {
    toks.push({ kind, text: t, value, pos: pos(start), start, end });
  };

  // The rest of the `lapis` line up to a comment is the test name, one raw token (herd names have `+`).
  const testName = (from: number): number => {
    let e = from;
    while (e < text.length && text[e] !== '\n' && text[e] !== '#') e++;
    const raw = text.slice(from, e);
    const s = from + (raw.length - raw.trimStart().length);
    const t = raw.trim();
    if (t !== '') push('name', t, s, s + t.length);
    return e;
  };

  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      if (toks.length === lineToks) lineToks++;
      push('nl', '\n', i, i + 1);
      i++;
      line++;
      lineStart = i;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (isNameStart(c)) {
      const s = i;
      while (i < text.length && isNameChar(text[i]) && !(text[i] === '-' && text[i + 1] === '>')) i++;
      const first = toks.length === lineToks;
      push('name', text.slice(s, i), s, i);
      if (first && text.slice(s, i) === 'lapis') i = testName(i);
    } else if (/[0-9]/.test(c)) {
      const s = i;
      while (i < text.length && /[A-Za-z0-9_]/.test(text[i])) i++;
      const t = text.slice(s, i);
      if (/^(0[xX][0-9A-Fa-f]+|[0-9]+)$/.test(t)) {
        push('num', t, s, i, BigInt(t));
      } else {
        rep.error(pos(s), `malformed number \`${t}\`: expected decimal digits or 0x followed by hex digits`);
        push('num', t, s, i, 0n);
      }
    } else if (c === '"') {
      const s = i;
      let out = '';
      i++;
      while (i < text.length && text[i] !== '"' && text[i] !== '\n') {
        if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
        out += text[i];
        i++;
      }
      if (text[i] === '"') i++;
      else rep.error(pos(s), 'unterminated string: expected a closing `"` on the same line');
      push('str', out, s, i);
    } else {
      const p = PUNCTS.find((q) => text.startsWith(q, i));
      if (p) {
        push('punct', p, i, i + p.length);
        i += p.length;
      } else {
        rep.error(pos(i), `unexpected character \`${c}\``);
        i++;
      }
    }
  }
  push('nl', '\n', i, i);
  push('eof', '', i, i);
  return toks;
}

/** How a token reads in an error message. */
export function describe(t: Token): string {
  switch (t.kind) {
    case 'nl':
      return 'end of line';
    case 'eof':
      return 'end of file';
    case 'str':
      return 'a string';
    default:
      return `\`${t.text}\``;
  }
}
