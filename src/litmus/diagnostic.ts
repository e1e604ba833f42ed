// A located error in a litmus file, formatted like a compiler's: `file:line:col: error: message`, then the
// source line and a caret under the column.

import type { Pos } from './ast.js';

export class Diagnostic {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly message: string,
    /** The text of the source line (without its newline), or '' when there is none. */
    readonly sourceLine: string,
  ) {}

  format(): string {
    const head = `${this.file}:${this.line}:${this.col}: error: ${this.message}`;
    if (this.sourceLine === '' && this.col <= 1) return head;
    // Keep tabs so the caret lines up however the terminal expands them.
    const pad = this.sourceLine.slice(0, this.col - 1).replace(/[^\t]/g, ' ');
    const extra = ' '.repeat(Math.max(0, this.col - 1 - pad.length));
    return `${head}\n${this.sourceLine}\n${pad}${extra}^`;
  }
}

/** Collects diagnostics for one source text. */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  private readonly lines: string[];

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.lines = text.split(/\r?\n/);
  }

  error(pos: Pos, message: string): void {
    const line = this.lines[pos.line - 1] ?? '';
    this.diagnostics.push(new Diagnostic(this.file, pos.line, pos.col, message, line));
  }

  sorted(): Diagnostic[] {
    return [...this.diagnostics].sort((a, b) => a.line - b.line || a.col - b.col);
  }
}
