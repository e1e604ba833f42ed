// The litmus catalog: every litmus/*.litmus file, run under each profile litmus/expected.json names for it,
// must give the expected answer (Ok or No) from a complete exploration. The expectations are what the SDM/APM
// (or a numbered decision in docs/decisions.md) requires, not what the model happens to print.

import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseLitmus } from '../../src/litmus/parse.js';
import { runTest } from '../../src/explore/run.js';
import { findProfile } from '../../src/sim/profiles.js';

type Answer = 'Ok' | 'No' | 'Unsupported' | 'Incomplete';
type Expectations = Record<string, Record<string, Answer>>;

const DIR = fileURLToPath(new URL('../../litmus/', import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.litmus')).sort();
const EXPECTED = JSON.parse(readFileSync(DIR + 'expected.json', 'utf8')) as Expectations;

/** One case per file and profile: [file, profile, expected answer] (a tuple, so titles are not truncated). */
const CASES: [string, string, Answer][] = FILES.flatMap((file) =>
  Object.entries(EXPECTED[file] ?? {}).map(([profile, want]): [string, string, Answer] => [file, profile, want]),
);

describe('litmus catalog', () => {
  it('has an expectation for every litmus file', () => {
    const missing = FILES.filter((f) => Object.keys(EXPECTED[f] ?? {}).length === 0);
    expect(missing).toEqual([]);
  });

  it('has no expectation for a file that does not exist, only Ok, No, Unsupported or Incomplete answers, and a complete spec answer', () => {
    expect(Object.keys(EXPECTED).filter((f) => !FILES.includes(f))).toEqual([]);
    const bad = CASES.filter(([, profile, want]) => !['Ok', 'No', 'Unsupported', 'Incomplete'].includes(want) || (profile === 'spec' && want === 'Incomplete'));
    expect(bad).toEqual([]);
  });

  it.each(CASES)('%s under %s is %s', (file, profile, want) => {
    const parsed = parseLitmus(readFileSync(DIR + file, 'utf8'), file);
    if (!parsed.ok) expect.fail(parsed.errors.map((d) => d.format()).join('\n'));
    const p = findProfile(profile);
    if (!p) expect.fail(`${file}: expected.json names unknown profile '${profile}'`);
    // checkWrites: every word a step changes was noted by the model's write path (src/arch/writes.ts), which the
    // explorer's hash is updated from.
    const { answer } = runTest(parsed.test, p, { checkWrites: true });
    if (want === 'Unsupported') {
      expect(answer.result).toBe('Unsupported');
      expect(answer.reason).toMatch(/not available under profile/);
      return;
    }
    // 'Incomplete': the exploration is cut short under the profile (a search bound); it must say so.
    if (want === 'Incomplete') {
      expect(answer.complete, `${file} under ${profile}: expected to be cut short`).toBe(false);
      return;
    }
    expect(answer.complete, `${file}: exploration cut short (${answer.cutBy})`).toBe(true);
    expect(answer.ok ? 'Ok' : 'No', `${file} under ${profile}: ${answer.condition}`).toBe(want);
  });
});
