// The command line's exit codes (docs in --help and README.md). With several answers the code is the first of
// 130, 2, 1, 3, 4 that applies: a usage error hides nothing the user could act on, a No outranks a cut-short search.
import type { Result } from '../explore/answer.js';

export const EXIT = {
  /** Every answer as asked (Ok, or as expected.json expects). */
  OK: 0,
  /** An answer is No, a suite answer differs from its expectation, a real machine did something FORBIDDEN. */
  NO: 1,
  /** A usage error (bad option or combination, unknown profile, missing file) or a litmus parse error. */
  USAGE: 2,
  /** A search was cut short (a limit or a timeout: complete: false) before it decided. */
  INCOMPLETE: 3,
  /** The profile's implementation cannot run the test (x2APIC under qemu-tcg-7.2). */
  UNSUPPORTED: 4,
  /** A bug in lapis. */
  INTERNAL: 70,
  /** Ctrl-C (SIGINT): what was found so far is printed first. */
  INTERRUPTED: 130,
} as const;

const RANK: number[] = [EXIT.INTERRUPTED, EXIT.INTERNAL, EXIT.USAGE, EXIT.NO, EXIT.INCOMPLETE, EXIT.UNSUPPORTED, EXIT.OK];

/** The exit code for two outcomes together. */
export function combine(a: number, b: number): number {
  const ra = RANK.indexOf(a), rb = RANK.indexOf(b);
  return (ra < 0 ? 0 : ra) <= (rb < 0 ? 0 : rb) ? a : b;
}

export function exitFor(r: Result): number {
  return r === 'Ok' ? EXIT.OK : r === 'No' ? EXIT.NO : r === 'Incomplete' ? EXIT.INCOMPLETE : EXIT.UNSUPPORTED;
}

export const EXIT_HELP = `
Exit codes:
  0    every answer as asked (Ok; for suite and seeds: as expected.json expects)
  1    an answer is No, or differs from its expectation; on a real machine, a FORBIDDEN outcome
  2    a usage or parse error (unknown profile, missing file, an option that does not apply)
  3    a search was cut short (a limit or a timeout: complete: false) before it decided
  4    a test the profile cannot run (Unsupported)
  130  interrupted (Ctrl-C); the answer found so far is printed first
With several answers: the first of 130, 2, 1, 3, 4 that applies.`;
