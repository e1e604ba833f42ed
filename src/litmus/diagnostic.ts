// A located error in a litmus file, formatted like a compiler's: `file:line:col: error: message`, then the
// source line and a caret under the column. Whatever the input, a diagnostic stays short and printable: it quotes
// at most about 80 characters of a line or a token, with control characters escaped.

import type { Pos } from './ast.js';

/** Characters of a source line shown around the column, and of a quoted token in a message. */
const LINE_WINDOW = 80;
const QUOTE_MAX = 60;
/** Errors kept for one file; the rest are counted in a last one. */
const MAX_DIAGNOSTICS = 100;

/**
 * A character as it is safe to print: C0 and C1 controls, DEL, and the invisible characters that reorder or hide
 * text (bidirectional overrides and isolates, line and paragraph separators, BOM) as `\xNN` or `\u{NNNN}`. Tabs
 * stay, so that the caret lines up however the terminal expands them.
 */
export function printable(c: string): string {
  const code = c.codePointAt(0)!;
  if (c === '\t') return c;
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return `\\x${code.toString(16).padStart(2, '0')}`;
  if ((code >= 0x200b && code <= 0x200f) || (code >= 0x2028 && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) || code === 0xfeff) {
    return `\\u{${code.toString(16)}}`;
  }
  return c;
}

const UNPRINTABLE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/** A message with control characters escaped and each `quoted` span cut to QUOTE_MAX characters. */
function safeMessage(message: string): string {
  return message
    .replace(/`([^`]*)`/g, (all, q: string) => (q.length > QUOTE_MAX ? `\`${[...q].slice(0, QUOTE_MAX - 1).join('')}…\`` : all))
    .replace(UNPRINTABLE, printable);
}

export class Diagnostic {
  readonly message: string;
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    message: string,
    /** The text of the source line (without its newline), or '' when there is none. */
    readonly sourceLine: string,
  ) {
    this.message = safeMessage(message);
  }

  format(): string {
    const head = `${this.file}:${this.line}:${this.col}: error: ${this.message}`;
    if (this.sourceLine === '' && this.col <= 1) return head;
    // A window of the line around the column, escaped; the caret under the column's character.
    const at = Math.min(Math.max(this.col - 1, 0), this.sourceLine.length);
    const from = Math.max(0, Math.min(at - LINE_WINDOW / 2, this.sourceLine.length - LINE_WINDOW));
    const to = Math.min(this.sourceLine.length, from + LINE_WINDOW);
    let shown = from > 0 ? '…' : '', pad = from > 0 ? ' ' : '';
    for (let i = from; i < to; i++) {
      const c = printable(this.sourceLine[i]);
      shown += c;
      if (i < at) pad += c === '\t' ? '\t' : ' '.repeat(c.length);
    }
    if (to < this.sourceLine.length) shown += '…';
    if (at > to) pad += ' '.repeat(at - to);
    return `${head}\n${shown}\n${pad}^`;
  }
}

/** Collects diagnostics for one source text. */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  /** Offsets at which lines start, computed at the first error. */
  private starts: number[] | null = null;
  private dropped = 0;

  constructor(
    readonly file: string,
    private readonly text: string,
  ) {}

  private sourceLine(line: number): string {
    if (this.starts === null) {
      this.starts = [0];
      for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n', i + 1)) this.starts.push(i + 1);
    }
    const start = this.starts[line - 1];
    if (start === undefined) return '';
    const end = line < this.starts.length ? this.starts[line] - 1 : this.text.length;
    return this.text.slice(start, end > start && this.text[end - 1] === '\r' ? end - 1 : end);
  }

  error(pos: Pos, message: string): void {
    if (this.diagnostics.length >= MAX_DIAGNOSTICS) {
      this.dropped++;
      return;
    }
    this.diagnostics.push(new Diagnostic(this.file, pos.line, pos.col, message, this.sourceLine(pos.line)));
  }

  sorted(): Diagnostic[] {
    const out = [...this.diagnostics].sort((a, b) => a.line - b.line || a.col - b.col);
    if (this.dropped > 0) {
      const last = out[out.length - 1];
      out.push(new Diagnostic(this.file, last.line, last.col, `${this.dropped} more errors not shown`, ''));
    }
    return out;
  }
}
