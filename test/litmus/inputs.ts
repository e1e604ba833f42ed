// Litmus inputs for the fuzzer (bench/fuzz.ts) and its bounded properties (fuzz.test.ts): any text, and catalog
// files with random edits; and what every input must satisfy (checkInput). No test runner here: a broken
// expectation throws.

import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLitmus } from '../../src/litmus/parse.js';
import { printTest } from '../../src/litmus/print.js';
import { Simulator } from '../../src/sim/sim.js';
import { explore } from '../../src/explore/explore.js';
import { answer } from '../../src/explore/answer.js';

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

/** The catalog, read from `litmus/` under the working directory (the project root for npm test and npm run fuzz). */
export const CATALOG: readonly string[] = readdirSync(join(process.cwd(), 'litmus'))
  .filter((f) => f.endsWith('.litmus'))
  .sort()
  .map((f) => readFileSync(join(process.cwd(), 'litmus', f), 'utf8'));

const TOKENS = [
  'lapis', 'P0', 'P1', 'P3', 'P255', 'P256', 'D0', 'D9', 'on', 'vector', 'smi', 'nmi', 'sipi', 'init', 'vmexit', '{', '}', '(', ')', '=', '==',
  '!=', '->', '~', '/\\', '\\/', '#', '"', ':', ';', ',', '+', '-', '<<', '|', 'repeat', 'store', 'load', 'await', 'send', 'fixed', 'lowest',
  'hotplug', 'unplug', 'wait', 'goto', 'if', 'r1', 'r31', 'r32', 'sv', 'x', 'exists', 'forall', 'config', 'init', 'cpus', 'accel', 'avic',
  'timer-ratio', '0', '1', '16', '0xff', '0x100', '0xffffffff', '0x100000000', '0xffffffffffffffff', '0x10000000000000000',
  '99999999999999999999999', '\n', '\t', '\r', '\x00', '\x1b', 'é', '\u202e', '\ufeff',
];
const NUMBERS = ['0', '1', '15', '16', '255', '256', '0xffffffff', '0x100000000', '0xffffffffffffffff', '18446744073709551616', '4294967296', '33'];

/** Any text: bytes, a soup of litmus tokens, and long repetitions of a fragment after a valid head. */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).map((t) => t.join(' ')),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).map((t) => `lapis T\n${t.join(' ')}`),
  fc.tuple(fc.string({ maxLength: 30 }), fc.nat({ max: 400 })).map(([s, n]) => `lapis T\nP0 {\n  store x = ${s.repeat(n)}\n}\nexists (x = 1)\n`),
);

type Edit = { kind: number; a: number; b: number; token: string };
const editArb: fc.Arbitrary<Edit> = fc.record({ kind: fc.nat({ max: 7 }), a: fc.nat(), b: fc.nat(), token: fc.constantFrom(...TOKENS) });

function applyEdit(text: string, e: Edit): string {
  const lines = text.split('\n');
  const i = e.a % lines.length, j = e.b % lines.length;
  switch (e.kind) {
    case 0: lines.splice(i, 1); break; // delete a line
    case 1: lines.splice(i, 0, lines[j]); break; // copy a line elsewhere
    case 2: [lines[i], lines[j]] = [lines[j], lines[i]]; break; // swap two lines
    case 3: { // replace a word of a line by a token
      const words = lines[i].split(/(\s+)/);
      const w = (e.b % Math.max(1, words.length)) & ~1;
      words[w] = e.token;
      lines[i] = words.join('');
      break;
    }
    case 4: { // insert a token inside a line
      const at = e.b % (lines[i].length + 1);
      lines[i] = lines[i].slice(0, at) + e.token + lines[i].slice(at);
      break;
    }
    case 5: { // replace a number by an edge value
      let k = 0;
      lines[i] = lines[i].replace(/\b(0x[0-9a-fA-F]+|[0-9]+)\b/g, (n) => (k++ === e.b % 4 ? NUMBERS[e.b % NUMBERS.length] : n));
      break;
    }
    case 6: lines.splice(i, 1, 'repeat 3 {', lines[i], '}'); break; // nest a line
    default: return text.slice(0, (e.a % (text.length + 1))); // truncate
  }
  return lines.join('\n');
}

/** A catalog file with 1-4 random edits. */
export const mutatedCatalog: fc.Arbitrary<string> = fc
  .record({ file: fc.nat({ max: CATALOG.length - 1 }), edits: fc.array(editArb, { minLength: 1, maxLength: 4 }) })
  .map(({ file, edits }) => edits.reduce(applyEdit, CATALOG[file]));

const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/** A tree without positions, as comparable text. */
function shape(t: unknown): string {
  return JSON.stringify(t, (k, v: unknown) => (k === 'pos' ? undefined : typeof v === 'bigint' ? `${v}n` : v));
}

export interface Checked {
  parsed: boolean;
  ran: boolean;
}

/**
 * What any input must satisfy: parsing never throws; a rejected input gets a few short, printable diagnostics
 * inside the text; an accepted one prints and parses back to the same tree and the same text, and (when small)
 * runs: the explorer answers, throwing nothing.
 */
export function checkInput(text: string, run = true): Checked {
  const r = parseLitmus(text, 'f.litmus');
  if (!r.ok) {
    const lines = text.split('\n').length;
    check(r.errors.length >= 1 && r.errors.length <= 101, `${r.errors.length} diagnostics`);
    for (const d of r.errors) {
      check(d.line >= 1 && d.line <= lines + 1 && d.col >= 1, `a diagnostic at ${d.line}:${d.col} of a ${lines}-line text`);
      for (const line of d.format().split('\n')) check(line.length <= 400 && !UNSAFE.test(line), `a diagnostic line is long or unprintable: ${JSON.stringify(line.slice(0, 200))}`);
    }
    return { parsed: false, ran: false };
  }
  const printed = printTest(r.test);
  const again = parseLitmus(printed, 'printed.litmus');
  check(again.ok, `the printed test does not parse:\n${printed}\n${again.ok ? '' : again.errors.map((d) => d.format()).join('\n')}`);
  check(printTest(again.test) === printed, `printing the reparsed test differs:\n${printed}`);
  check(shape(again.test) === shape(r.test), `the printed test parses to another tree:\n${printed}`);
  if (!run || r.test.settings.cpus > 4) return { parsed: true, ran: false };
  const sim = new Simulator(r.test);
  const res = explore(sim, { maxStates: 2000, maxMemory: 64 * 2 ** 20, timeoutMs: 5000 });
  answer(r.test, 'spec', res);
  return { parsed: true, ran: true };
}
