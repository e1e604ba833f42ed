// What the command line adds on a terminal: colour on stdout, a progress line on stderr. Off a terminal (a pipe,
// a file), with NO_COLOR set, or with --json, nothing extra.

export interface Colours {
  ok(s: string): string;
  bad(s: string): string;
  warn(s: string): string;
  dim(s: string): string;
}

const paint = (code: number) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const plain = (s: string) => s;

/** Colour when stdout is a terminal and NO_COLOR is unset or empty (no-color.org). */
export function colours(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): Colours {
  const on = stream.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
  return on ? { ok: paint(32), bad: paint(31), warn: paint(33), dim: paint(2) } : { ok: plain, bad: plain, warn: plain, dim: plain };
}

/** Colour an answer word (Ok, No, Incomplete, Unsupported, MISMATCH, FORBIDDEN). */
export function answerColour(c: Colours, word: string): string {
  if (word === 'Ok' || word === 'allowed') return c.ok(word);
  if (word === 'No' || word === 'MISMATCH' || word.startsWith('FORBIDDEN')) return c.bad(word);
  if (word === 'Incomplete' || word === 'Unsupported') return c.warn(word);
  return word;
}

export interface ProgressLine {
  /** Replace the line's text (shown at most five times a second). */
  show(text: string): void;
  /** Remove the line, before other output. */
  clear(): void;
}

/**
 * A progress line on stderr: on a terminal, one line rewritten in place unless `off` (--json); with --progress
 * (`always`), also off a terminal, as a line every two seconds (for CI logs).
 */
export function progressLine(mode: 'auto' | 'always' | 'off', stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const tty = stream.isTTY === true && mode !== 'off';
  const lines = !tty && mode === 'always';
  let shown = false, last = 0;
  return {
    show(text) {
      if (!tty && !lines) return;
      const now = Date.now();
      if (now - last < (tty ? 200 : 2000)) return;
      last = now;
      if (lines) {
        stream.write(`${text}\n`);
        return;
      }
      shown = true;
      const width = Math.max(20, (stream.columns || 120) - 1);
      stream.write(`\r${text.length > width ? text.slice(0, width) : text}\x1b[K`);
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
      last = 0;
    },
  };
}

/** `1,234,567`. */
export function thousands(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** States, states/s, depth, elapsed: the explorer's progress. */
export function exploreStatus(states: number, depth: number, ms: number): string {
  const rate = ms > 0 ? (states * 1000) / ms : 0;
  return `${thousands(states)} states, ${thousands(rate)} states/s, depth ${thousands(depth)}, ${(ms / 1000).toFixed(0)} s`;
}
