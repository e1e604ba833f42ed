// Inputs at and past the front end's limits, generated here: deep nesting and long chains (an error with a
// location, never a stack overflow), unclosed nesting, huge tokens and lines, garbage bytes and control characters
// (one short, printable error). docs/litmus.md, "Limits"; fuzz.test.ts checks any text the same way.
import { describe, expect, it } from 'vitest';
import { parseLitmus } from '../../src/litmus/parse.js';
import { Simulator } from '../../src/sim/sim.js';
import { explore } from '../../src/explore/explore.js';
import { formatTrace } from '../../src/explore/trace.js';
import { printTest } from '../../src/litmus/print.js';
import { mustParse } from './helpers.js';

const HEAD = 'lapis deep\n';
const repeats = (n: number, close = true) => `${HEAD}P0 {\n${'repeat 1 {\n'.repeat(n)}store x = 1\n${close ? '}\n'.repeat(n) + '}\nexists (x = 1)\n' : ''}`;
const exprParens = (n: number) => `${HEAD}P0 {\nstore x = ${'('.repeat(n)}1${')'.repeat(n)}\n}\nexists (x = 1)\n`;
const condParens = (n: number) => `${HEAD}P0 {\nstore x = 1\n}\nexists ${'('.repeat(n)}x = 1${')'.repeat(n)}\n`;
const tildes = (n: number) => `${HEAD}P0 {\nstore x = 1\n}\nexists (${'~'.repeat(n)}x = 1)\n`;
const andChain = (n: number) => `${HEAD}P0 {\nstore x = 1\n}\nexists (${Array(n).fill('x = 1').join(' /\\ ')})\n`;
const sumChain = (n: number) => `${HEAD}P0 {\nstore x = ${Array(n).fill('1').join(' + ')}\n}\nexists (x = ${n})\n`;

const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/** The diagnostics as printed, which must be few, short and printable. */
function printed(text: string): string[] {
  const r = parseLitmus(text, 'gen.litmus');
  expect(r.ok).toBe(false);
  if (r.ok) return [];
  const lines = r.errors.flatMap((d) => d.format().split('\n'));
  for (const line of lines) {
    expect(line.length).toBeLessThanOrEqual(400);
    expect(line).not.toMatch(UNSAFE);
  }
  return r.errors.map((d) => d.format());
}

/** Parse, explore and trace: nothing on the way may overflow the stack. */
function runs(text: string): void {
  const sim = new Simulator(mustParse(text));
  const res = explore(sim, { maxStates: 10_000 });
  expect(res.outcomes.length).toBeGreaterThan(0);
  formatTrace(sim, res, false);
  printTest(sim.program.test);
}

describe('nesting', () => {
  it.each([
    ['2,000 nested `repeat`', repeats(2000), 259, 1, '`repeat`'],
    ['20,000 parentheses in an expression', exprParens(20_000), 3, 267, '`(`'],
    ['20,000 parentheses in a condition', condParens(20_000), 5, 264, '`(`'],
    // The condition's own parenthesis is the first level.
    ['20,000 `~`', tildes(20_000), 5, 264, '`~`'],
  ])('%s: one error at the 257th level, file:line:col', (_, text, line, col, what) => {
    const errors = printed(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`gen.litmus:${line}:${col}: error: ${what} nested more than 256 levels deep`);
  });

  it('256 levels of each are fine, and run', () => {
    for (const text of [repeats(256), exprParens(256), condParens(256), tildes(255)]) runs(text);
  });

  it('1,000 unclosed `repeat` or 20,000 unclosed `(`: the nesting error and one for the end of file', () => {
    const errors = printed(repeats(1000, false));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^gen\.litmus:259:1: error: `repeat` nested more than 256 levels deep/);
    expect(errors[1]).toMatch(/found end of file/);
    expect(printed(`${HEAD}P0 {\nstore x = ${'('.repeat(20_000)}1\n}\nexists (x = 1)\n`)).toHaveLength(1);
  });

  it('a chain of 20,000 operators is an error at its start; one of 1,000 parses and runs', () => {
    for (const text of [andChain(20_000), sumChain(20_000)]) {
      const errors = printed(text);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^gen\.litmus:(5:9|3:11): error: this expression or condition is more than 1000 operators deep/);
    }
    runs(andChain(1000));
    runs(sumChain(1000));
    // Parentheses over halves keep a long chain shallow.
    const balanced = (lo: number, hi: number): string => (hi - lo === 1 ? 'x = 1' : `(${balanced(lo, (lo + hi) >> 1)} /\\ ${balanced((lo + hi) >> 1, hi)})`);
    runs(`${HEAD}P0 {\nstore x = 1\n}\nexists ${balanced(0, 5000)}\n`);
  });
});

describe('what a diagnostic quotes', () => {
  it('a token of 437,862 characters is quoted in at most about 80', () => {
    const errors = printed(`${HEAD}P0 {\n  store x = 1 + ${'y'.repeat(437_862)}\n}\nexists (x = 1)\n`);
    expect(errors).toHaveLength(1);
    const [head, line, caret] = errors[0].split('\n');
    expect(head).toMatch(/^gen\.litmus:3:17: error: expected a number, a register or `\(`, found `y{59}…`/);
    expect(line).toBe(`  store x = 1 + ${'y'.repeat(80 - 16)}…`);
    expect(caret).toBe(`${' '.repeat(16)}^`);
  });

  it('the caret stays under the column far into a long line', () => {
    const errors = printed(`${HEAD}P0 {\n  store ${'x'.repeat(100_000)} = 1 + $\n}\nexists (x = 1)\n`);
    const [head, line, caret] = errors[0].split('\n');
    expect(head).toMatch(/^gen\.litmus:3:100016: error: unexpected character `\$`/);
    expect(line.startsWith('…')).toBe(true);
    expect(line[caret.length - 1]).toBe('$');
  });

  it('garbage bytes give one error, with control characters escaped', () => {
    const bytes = Array.from({ length: 20_000 }, (_, i) => (i * 7919 + 13) % 256);
    for (const text of [Buffer.from(bytes).toString('latin1'), HEAD + Buffer.from(bytes).toString('utf8')]) {
      const errors = printed(text);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/error: unexpected character `.+` \(U\+[0-9A-F]{4}\); \d+ more characters in the file cannot appear in a litmus test either/);
    }
    // `[` is litmus text since v2 (`mmio read r = [A]`): the escape sequence has two characters that are not.
    const errors = printed(`${HEAD}P0 {\n  nop \x1b[31m\x07\n}\nexists (x = 1)\n`);
    expect(errors).toEqual(['gen.litmus:3:7: error: unexpected character `\\x1b` (U+001B); 1 more character in the file cannot appear in a litmus test either (not a litmus file, or not UTF-8?)\n  nop \\x1b[31m\\x07\n      ^']);
  });
});

describe('what check accepts, run answers', () => {
  const errorsOf = (text: string): string[] => printed(text);

  it('`accel = avic` with more than 32 CPUs is an error at the key; 32 run', () => {
    const avic = (n: number) => `lapis avic\nconfig {\n  cpus = ${n}\n  accel = avic\n}\nP0 {\n  send fixed 0x40 -> P${n - 1}\n}\nexists (P${n - 1}.irr(0x40) = 1)\n`;
    expect(errorsOf(avic(33))).toEqual([expect.stringMatching(/^gen\.litmus:4:3: error: `accel = avic` models at most 32 vCPUs; this test has 33 CPUs/)]);
    runs(avic(32));
  });

  it('`repeat` past 10,000 iterations, nested ones multiplied, is an error at the `repeat` that goes past', () => {
    const body = (ops: string) => `${HEAD}P0 {\n${ops}\n}\nP1 {\n  nop\n}\nexists (x = 1)\n`;
    expect(errorsOf(body('  repeat 0xffffffff {\n    store x = 1\n  }'))).toEqual([expect.stringMatching(/^gen\.litmus:3:3: error: `repeat` unrolls to more than 10,000 iterations/)]);
    // 100 + 100 x 99 = 10,000 is fine; one more iteration of the inner one is not.
    runs(body('  repeat 100 {\n    repeat 99 {\n      nop\n    }\n  }\n  store x = 1'));
    expect(errorsOf(body('  repeat 100 {\n    repeat 100 {\n      nop\n    }\n  }\n  store x = 1'))).toEqual([expect.stringMatching(/^gen\.litmus:4:5: error: `repeat` unrolls/)]);
    // Across blocks: the count is the test's.
    expect(errorsOf(`${HEAD}P0 {\n  repeat 6000 {\n    nop\n  }\n}\nP1 {\n  repeat 6000 {\n    nop\n  }\n}\nexists (x = 1)\n`)).toEqual([expect.stringMatching(/^gen\.litmus:8:3: error: `repeat` unrolls/)]);
  });

  it('`unplug P0` is an error; `hotplug` of a present CPU is answered (it does nothing)', () => {
    expect(errorsOf(`${HEAD}D0 {\n  unplug P0\n}\nP0 {\n  nop\n}\nexists (P0.done = 1)\n`)).toEqual([expect.stringMatching(/^gen\.litmus:3:3: error: `unplug P0`: P0 is the BSP/)]);
    // D0 plugs P1 in, D1 unplugs it: in some orders the slot is full when `hotplug` runs.
    const text = `lapis hp\nconfig { cpus = 2 }\ninit {\n  P1.activity = unplugged\n}\nD0 {\n  hotplug P1\n  hotplug P1\n}\nD1 {\n  unplug P1\n}\nP0 {\n  nop\n}\nexists (P1.activity = unplugged)\n`;
    const sim = new Simulator(mustParse(text));
    const res = explore(sim, {});
    expect(res.complete).toBe(true);
    const activities = res.outcomes.map((o) => o.values['P1.activity']).sort();
    expect(activities).toEqual(['unplugged', 'wait-for-sipi']);
  });
});
