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

const PUNCTS2: ReadonlySet<string> = new Set(['->', '==', '!=', '<=', '>=', '<<', '>>', '/\\', '\\/']);
const PUNCTS1: ReadonlySet<string> = new Set(['{', '}', '(', ')', ',', ':', ';', '=', '<', '>', '+', '-', '&', '|', '^', '~', '[', ']', '.']);

// Character classes by code (a regular expression per character costs more than the rest of the lexer).
const isLetter = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isNameChar = (c: number): boolean => isLetter(c) || isDigit(c) || c === 0x2e || c === 0x2d;

/**
 * The tokens of `text`. Characters that cannot start a token anywhere in litmus text (outside strings and comments)
 * make one error for the whole file, at the first of them: a binary file or a wrong encoding gives one error, not
 * one per byte. `unexpected` counts them; that error is the last reported, and the parser does not run.
 */
/** A token whose position object is made when asked for: most tokens (newlines, `=`) never are. */
class Lexeme implements Token {
  private at: Pos | undefined;
  constructor(
    readonly kind: TokenKind,
    readonly text: string,
    readonly value: bigint,
    private readonly line: number,
    private readonly col: number,
    readonly start: number,
    readonly end: number,
  ) {}
  get pos(): Pos {
    return (this.at ??= { line: this.line, col: this.col });
  }
}

export function lex(text: string, rep: Reporter): { toks: Token[]; unexpected: number } {
  const toks: Token[] = [];
  let unexpected = 0, firstUnexpected: Pos | null = null, firstChar = '';
  let i = 0;
  let line = 1;
  let lineStart = 0;
  /** How many tokens there are while only newlines have been seen (to spot the `lapis` line). */
  let lineToks = 0;
  const pos = (at: number): Pos => ({ line, col: at - lineStart + 1 });
  const push = (kind: TokenKind, t: string, start: number, end: number, value = 0n): void => {
    toks.push(new Lexeme(kind, t, value, line, start - lineStart + 1, start, end));
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
    const code = text.charCodeAt(i);
    if (code === 0x20 || code === 0x09 || code === 0x0d) {
      i++;
      continue;
    }
    const c = text[i];
    if (c === '\n') {
      if (toks.length === lineToks) lineToks++;
      push('nl', '\n', i, i + 1);
      i++;
      line++;
      lineStart = i;
    } else if (c === '#') {
      const e = text.indexOf('\n', i);
      i = e < 0 ? text.length : e;
    } else if (isLetter(code)) {
      const s = i;
      while (i < text.length && isNameChar(text.charCodeAt(i)) && !(text[i] === '-' && text[i + 1] === '>')) i++;
      const first = toks.length === lineToks, name = text.slice(s, i);
      push('name', name, s, i);
      if (first && name === 'lapis') i = testName(i);
    } else if (isDigit(code)) {
      const s = i;
      while (i < text.length && (isLetter(text.charCodeAt(i)) || isDigit(text.charCodeAt(i)))) i++;
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
      const two = text.slice(i, i + 2);
      const p = PUNCTS2.has(two) ? two : PUNCTS1.has(c) ? c : undefined;
      if (p) {
        push('punct', p, i, i + p.length);
        i += p.length;
      } else {
        const ch = String.fromCodePoint(text.codePointAt(i)!);
        if (unexpected++ === 0) {
          firstUnexpected = pos(i);
          firstChar = ch;
        }
        i += ch.length;
      }
    }
  }
  push('nl', '\n', i, i);
  push('eof', '', i, i);
  if (firstUnexpected !== null) {
    const code = `U+${firstChar.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    const more = unexpected > 1 ? `; ${unexpected - 1} more character${unexpected > 2 ? 's' : ''} in the file cannot appear in a litmus test either (not a litmus file, or not UTF-8?)` : '';
    rep.error(firstUnexpected, `unexpected character \`${firstChar}\` (${code})${more}`);
  }
  return { toks, unexpected };
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
