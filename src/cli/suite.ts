// lapis suite DIR: every *.litmus file in DIR, under each profile DIR/expected.json names for it, compared with
// the expected answer (Ok, No, Unsupported or Incomplete). Exit 0 all as expected, 1 a mismatch or missing
// expectation, 2 a parse error or an invalid expected.json.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTest } from '../explore/run.js';
import { junitXml } from '../backends/junit.js';
import { loadTest, profileOrThrow } from './run.js';
import { loadExpectations, meets } from './expected.js';

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
      const expected = wanted[p];
      const { answer: a } = runTest(t.test, profileOrThrow(p), { maxStates: o.maxStates });
      const got = a.result === 'No' && !a.complete ? 'No (incomplete)' : a.result;
      rows.push({ file: f, test: t.test.name, profile: p, expected: expected ?? '(none)', got, states: a.states, ms: a.ms, pass: expected !== undefined && meets(expected, a) });
    }
  }
  const table = [['test', 'profile', 'expected', 'got', 'states', 'ms', ''], ...rows.map((r) => [r.test, r.profile, r.expected, r.got, String(r.states), r.ms.toFixed(1), r.pass ? '' : 'MISMATCH'])];
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  for (const r of table) print(r.map((x, c) => x.padEnd(widths[c])).join('  ').trimEnd());
  const failed = rows.filter((r) => !r.pass).length;
  print(`${rows.length - failed} passed, ${failed} failed`);
  if (o.junit) {
    writeFileSync(o.junit, junitXml('lapis', rows.map((r) => ({
      classname: `litmus.${r.profile}`, name: r.test, ms: r.ms, failure: r.pass ? undefined : `expected ${r.expected}, got ${r.got}`,
    }))));
  }
  return parseErrors > 0 ? 2 : failed > 0 ? 1 : 0;
}
