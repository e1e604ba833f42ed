// The parser's token cursor: look-ahead, expectations with "expected X, found Y" messages, and recovery.
// A syntax error throws SyntaxFail, caught at the nearest op / item / block, which reports it and skips ahead;
// a name or range error is reported on the spot and parsing goes on.

import type { Pos } from './ast.js';
import type { Reporter } from './diagnostic.js';
import { describe, type Token } from './lexer.js';

export class SyntaxFail extends Error {
  constructor(
    readonly pos: Pos,
    message: string,
  ) {
    super(message);
  }
}

/** How deep `repeat` bodies, parentheses and `~` may nest (docs/litmus.md, "Limits"). */
export const MAX_NESTING = 256;

export class Cursor {
  private i = 0;
  /** While set (inside conditions), newlines are invisible. */
  skipNl = false;
  syntaxErrors = 0;
  /** Open `repeat` bodies, parentheses and `~`: the parser's recursion depth. */
  private nesting = 0;
  /** A syntax error at the end of the file was reported (the enclosing unclosed blocks would repeat it). */
  private eofReported = false;

  constructor(
    private readonly toks: Token[],
    readonly rep: Reporter,
    readonly text: string,
  ) {}

  private index(k: number): number {
    let j = this.i;
    for (;;) {
      while (this.skipNl && this.toks[j].kind === 'nl') j++;
      if (k === 0 || this.toks[j].kind === 'eof') return j;
      j++;
      k--;
    }
  }

  peek(k = 0): Token {
    return this.toks[this.index(k)];
  }

  next(): Token {
    const j = this.index(0);
    this.i = this.toks[j].kind === 'eof' ? j : j + 1;
    return this.toks[j];
  }

  /** True if the next token is the punctuation or name `text`. */
  at(text: string, k = 0): boolean {
    const t = this.peek(k);
    return (t.kind === 'punct' || t.kind === 'name') && t.text === text;
  }

  accept(text: string): Token | null {
    return this.at(text) ? this.next() : null;
  }

  expect(text: string, context: string): Token {
    const t = this.peek();
    if (this.at(text)) return this.next();
    return this.fail(t.pos, `expected \`${text}\` ${context}, found ${describe(t)}`);
  }

  expectName(what: string): Token {
    const t = this.peek();
    if (t.kind !== 'name') this.fail(t.pos, `expected ${what}, found ${describe(t)}`);
    return this.next();
  }

  expectNum(what: string): Token {
    const t = this.peek();
    if (t.kind !== 'num') this.fail(t.pos, `expected ${what}, found ${describe(t)}`);
    return this.next();
  }

  /** A number token's value as a number, reporting (not throwing) when it is above `max`. */
  small(t: Token, max: number, what: string, min = 0): number {
    if (t.value > BigInt(max) || t.value < BigInt(min)) {
      this.error(t.pos, `${what} must be ${min}..${max}, found ${t.text}`);
    }
    return t.value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(t.value);
  }

  fail(pos: Pos, message: string): never {
    throw new SyntaxFail(pos, message);
  }

  /** Per `(` token: whether its span (to the matching `)`, or the end of an unclosed one) holds a token of the set
   *  (filled at the first call, in one pass with a stack: a parent holds what its children hold). */
  private holds: Uint8Array | null = null;
  private holdsOf: ReadonlySet<string> | null = null;

  /** Whether the `(` ahead holds one of `texts` (punctuation or names), at any depth inside it. */
  groupHolds(texts: ReadonlySet<string>): boolean {
    if (this.holds === null || this.holdsOf !== texts) {
      this.holdsOf = texts;
      const holds = new Uint8Array(this.toks.length), open: number[] = [];
      for (let j = 0; j < this.toks.length; j++) {
        const t = this.toks[j];
        if (t.kind === 'punct' && t.text === '(') open.push(j);
        else if (t.kind === 'punct' && t.text === ')') {
          const o = open.pop();
          if (o !== undefined && holds[o] === 1 && open.length > 0) holds[open[open.length - 1]] = 1;
        } else if ((t.kind === 'punct' || t.kind === 'name') && texts.has(t.text) && open.length > 0) holds[open[open.length - 1]] = 1;
      }
      for (const o of open) holds[o] = 1; // unclosed: read as a condition, whose `)` is then missing
      this.holds = holds;
    }
    return this.holds[this.index(0)] === 1;
  }

  /**
   * Parse one nested construct (`what`, at `pos`): a syntax error past MAX_NESTING levels, so that deep input
   * never exhausts the stack of the parser or of what walks the tree after it.
   */
  nested<T>(pos: Pos, what: string, parse: () => T): T {
    if (this.nesting >= MAX_NESTING) this.fail(pos, `${what} nested more than ${MAX_NESTING} levels deep (the limit: \`repeat\`, \`(\` and \`~\` nest at most ${MAX_NESTING} deep)`);
    this.nesting++;
    try {
      return parse();
    } finally {
      this.nesting--;
    }
  }

  /** Reports a non-syntax error (unknown name, value out of range): parsing continues. */
  error(pos: Pos, message: string): void {
    this.rep.error(pos, message);
  }

  report(e: unknown): void {
    if (!(e instanceof SyntaxFail)) throw e;
    this.syntaxErrors++;
    // Each block left open at the end of the file fails there: one error says it.
    if (this.peek().kind === 'eof' && this.eofAt(e.pos)) {
      if (this.eofReported) return;
      this.eofReported = true;
    }
    this.rep.error(e.pos, e.message);
  }
  private eofAt(pos: Pos): boolean {
    const eof = this.toks[this.toks.length - 1].pos;
    return pos.line === eof.line && pos.col === eof.col;
  }

  atEnd(): boolean {
    const t = this.peek();
    return t.kind === 'nl' || t.kind === 'eof' || this.at(';') || this.at('}');
  }

  /** An op or item ends at the end of its line, a `;`, or the `}` of its block. */
  endOfItem(after: string): void {
    if (!this.atEnd()) this.fail(this.peek().pos, `expected end of line after ${after}, found ${describe(this.peek())}`);
  }

  skipSeparators(): void {
    while (this.peek().kind === 'nl' || this.at(';')) this.next();
  }

  /** Recovery: skip the rest of the line, and all of a `{ ... }` opened on it; stop before a stray `}`. */
  skipLine(): void {
    const saved = this.skipNl;
    this.skipNl = false;
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') break;
      if (depth === 0 && (t.kind === 'nl' || this.at(';') || this.at('}'))) break;
      if (this.at('{')) depth++;
      if (this.at('}')) depth--;
      this.next();
    }
    this.skipNl = saved;
  }

  /** The source text from token `a` through token `b`. */
  slice(a: Token, b: Token): string {
    return this.text.slice(a.start, b.end);
  }
}

/** The position `k` characters into a token (for errors about part of a dotted name). */
export function within(t: Token, k: number): Pos {
  return { line: t.pos.line, col: t.pos.col + k };
}
