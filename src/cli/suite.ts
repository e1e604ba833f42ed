// lapis suite DIR: every *.litmus file in DIR, under each profile DIR/expected.json names for it, compared with
// the expected answer (Ok, No, Unsupported or Incomplete). Exit codes (src/cli/exit.ts): 0 all as expected, 1 a
// mismatch or a missing expectation, 2 a parse error or an invalid expected.json, 3 a search cut short where an
// answer was expected (and nothing else failed), 130 interrupted.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLitmus } from '../litmus/parse.js';
import { junitXml } from '../backends/junit.js';
import type { Profile } from '../sim/profiles.js';
import { loadExpectations, meets, type Expected } from './expected.js';
import { EXIT, combine } from './exit.js';
import type { Explorer, Limits } from './explorer.js';
import { answerColour, colours, exploreStatus, progressLine } from './output.js';
import { UsageError } from './errors.js';
import { inShard, type Shard } from './shard.js';

export interface SuiteOptions {
  junit?: string;
  /** Only this profile's expectations. */
  profile?: string;
  maxStates?: number;
  failuresOnly?: boolean;
  shard?: Shard;
  /** --progress: also off a terminal. */
  progress?: boolean;
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
  /** Failed because the search was cut short (not a different answer). */
  cut: boolean;
}

/** The litmus files of a directory, sorted; a usage error when it is not one. */
export function litmusFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.litmus')).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${dir}: ${code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : (e as Error).message}`);
  }
}

export async function runSuite(dir: string, o: SuiteOptions, profileOf: (name: string) => Profile, explorer: Explorer, print: (s: string) => void, err: (s: string) => void): Promise<number> {
  const files = litmusFiles(dir).filter((_, i) => inShard(i, o.shard));
  const expect = loadExpectations(dir);
  const c = colours();
  const progress = progressLine(o.progress ? 'always' : 'auto');
  const jobs: { file: string; source: string; name: string; profile: string; expected: Expected | undefined }[] = [];
  let code = EXIT.OK as number;
  for (const f of files) {
    const source = readFileSync(join(dir, f), 'utf8');
    const parsed = parseLitmus(source, join(dir, f));
    if (!parsed.ok) {
      for (const d of parsed.errors) err(d.format());
      code = EXIT.USAGE;
      continue;
    }
    const wanted = expect[f] ?? {};
    const profiles = Object.keys(wanted).length > 0 ? Object.keys(wanted) : ['spec'];
    for (const p of profiles) if (!o.profile || p === o.profile) jobs.push({ file: f, source, name: parsed.test.name, profile: p, expected: wanted[p] });
  }
  const limits: Limits = { maxStates: o.maxStates };
  const rows: Row[] = [];
  let failures = 0;
  for (const [i, j] of jobs.entries()) {
    const t0 = Date.now();
    const status = `[${i + 1}/${jobs.length}] ${j.name} (${j.profile}), ${failures} failed so far: `;
    const { answer: a } = await explorer.run({ source: j.source, file: join(dir, j.file), profile: profileOf(j.profile), limits }, (states, depth) => progress.show(status + exploreStatus(states, depth, Date.now() - t0)));
    if (a.cutBy === 'interrupted') break;
    const got = a.result === 'No' && !a.complete ? 'No (incomplete)' : a.result;
    const pass = j.expected !== undefined && meets(j.expected, a);
    if (!pass) failures++;
    rows.push({ file: j.file, test: j.name, profile: j.profile, expected: j.expected ?? '(none)', got, states: a.states, ms: a.ms, pass, cut: !pass && a.result === 'Incomplete' });
    if (explorer.interrupted) break;
  }
  progress.clear();
  const shown = o.failuresOnly ? rows.filter((r) => !r.pass) : rows;
  const table = [['test', 'profile', 'expected', 'got', 'states', 'ms', ''], ...shown.map((r) => [r.test, r.profile, r.expected, r.got, String(r.states), r.ms.toFixed(1), r.pass ? '' : 'MISMATCH'])];
  const widths = table[0].map((_, col) => Math.max(...table.map((r) => r[col].length)));
  for (const [n, r] of table.entries()) {
    print(r.map((x, col) => (n > 0 && (col === 3 || col === 6) ? answerColour(c, x) + ' '.repeat(widths[col] - x.length) : x.padEnd(widths[col]))).join('  ').trimEnd());
  }
  const failed = rows.filter((r) => !r.pass);
  const shard = o.shard ? ` (shard ${o.shard.index}/${o.shard.count}: ${files.length} files)` : '';
  print(`${rows.length - failed.length} passed, ${failed.length === 0 ? '0 failed' : c.bad(`${failed.length} failed`)}${shard}`);
  if (explorer.interrupted) print(`interrupted after ${rows.length} of ${jobs.length}`);
  if (o.junit) {
    writeFileSync(o.junit, junitXml('lapis', rows.map((r) => ({
      classname: `litmus.${r.profile}`, name: r.test, ms: r.ms, failure: r.pass ? undefined : `expected ${r.expected}, got ${r.got}`,
    }))));
  }
  for (const r of failed) code = combine(code, r.cut ? EXIT.INCOMPLETE : EXIT.NO);
  return explorer.interrupted ? EXIT.INTERRUPTED : code;
}
