// lapis suite DIR: every *.litmus file in DIR, under each profile DIR/expected.json names for it, compared with
// the expected answer (Ok or No). Exit 0 all as expected, 1 a mismatch or missing expectation, 2 a parse error.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadTest, profileOrThrow, runTest } from './run.js';
import { UnsupportedError } from '../sim/sim.js';

/** Per file, per profile: the expected answer, or Unsupported when the profile lacks a feature the test needs. */
export type Expectations = Record<string, Record<string, 'Ok' | 'No' | 'Unsupported'>>;

export function loadExpectations(dir: string): Expectations {
  const file = join(dir, 'expected.json');
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as Expectations;
}

interface Row {
  file: string;
  test: string;
  profile: string;
  expected: string;
  got: string;
  states: number;
  ms: number;
  pass: boolean;
}

export function runSuite(dir: string, o: { junit?: string; profile?: string; maxStates?: number }, print: (s: string) => void): number {
  const files = readdirSync(dir).filter((f) => f.endsWith('.litmus')).sort();
  const expect = loadExpectations(dir);
  const rows: Row[] = [];
  let parseErrors = 0;
  for (const f of files) {
    const t = loadTest(join(dir, f));
    if ('errors' in t) {
      for (const e of t.errors) print(e);
      parseErrors++;
      continue;
    }
    const wanted = expect[f] ?? {};
    const profiles = Object.keys(wanted).length > 0 ? Object.keys(wanted) : ['spec'];
    for (const p of profiles) {
      if (o.profile && p !== o.profile) continue;
      const expected = wanted[p] ?? '(none)';
      try {
        const r = runTest(t.test, profileOrThrow(p), { maxStates: o.maxStates });
        const got = r.answer.ok ? 'Ok' : 'No';
        rows.push({ file: f, test: t.test.name, profile: p, expected, got: r.answer.complete ? got : `${got} (incomplete)`, states: r.answer.states, ms: r.answer.ms, pass: expected === got && (r.answer.complete || got === 'Ok') });
      } catch (e) {
        // One test's failure is a row of the table, not the end of the suite.
        const got = e instanceof UnsupportedError ? 'Unsupported' : `error: ${(e as Error).message}`;
        rows.push({ file: f, test: t.test.name, profile: p, expected, got, states: 0, ms: 0, pass: got === expected });
      }
    }
  }
  const table = [['test', 'profile', 'expected', 'got', 'states', 'ms', ''], ...rows.map((r) => [r.test, r.profile, r.expected, r.got, String(r.states), r.ms.toFixed(1), r.pass ? '' : 'MISMATCH'])];
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  for (const r of table) print(r.map((x, c) => x.padEnd(widths[c])).join('  ').trimEnd());
  const failed = rows.filter((r) => !r.pass).length;
  print(`${rows.length - failed} passed, ${failed} failed`);
  if (o.junit) writeFileSync(o.junit, junit(rows));
  return parseErrors > 0 ? 2 : failed > 0 ? 1 : 0;
}

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function junit(rows: Row[]): string {
  const failures = rows.filter((r) => !r.pass).length;
  const cases = rows.map((r) => `  <testcase classname="litmus.${xml(r.profile)}" name="${xml(r.test)}" time="${(r.ms / 1000).toFixed(3)}">${r.pass ? '' : `<failure message="expected ${xml(r.expected)}, got ${xml(r.got)}"/>`}</testcase>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="lapis" tests="${rows.length}" failures="${failures}">\n${cases.join('\n')}\n</testsuite>\n`;
}
