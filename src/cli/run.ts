// lapis run / check: parse, explore, answer.
import { loadLitmus } from '../litmus/check.js';
import type { LitmusTest } from '../litmus/ast.js';
import { Simulator } from '../sim/sim.js';
import { findProfile, PROFILES, type Profile } from '../sim/profiles.js';
import { explore, type ExploreOptions, type ExploreResult } from '../explore/explore.js';
import { answer, formatAnswer, type Answer } from '../explore/answer.js';
import { formatTrace } from '../explore/trace.js';

export class UsageError extends Error {}

export function loadTest(file: string): { test: LitmusTest } | { errors: string[] } {
  const r = loadLitmus(file);
  return r.ok ? { test: r.test } : { errors: r.errors.map((d) => d.format()) };
}

export function profileOrThrow(name: string): Profile {
  const p = findProfile(name);
  if (!p) throw new UsageError(`unknown profile '${name}'; profiles: ${PROFILES.map((x) => x.name).join(', ')}`);
  return p;
}

export interface RunResult {
  answer: Answer;
  result: ExploreResult;
  sim: Simulator;
}

export function runTest(test: LitmusTest, profile: Profile, opts: ExploreOptions): RunResult {
  const sim = new Simulator(test, profile);
  const result = explore(sim, opts);
  return { answer: answer(test, profile.name, result), result, sim };
}

export function printRun(r: RunResult, mode: { json: boolean; trace: boolean; traceJson: boolean }, print: (s: string) => void): void {
  if (mode.json) {
    const extra = mode.traceJson ? { traces: formatTrace(r.sim, r.result, true) } : {};
    print(JSON.stringify({ ...r.answer, ...extra }, bigintAsNumber));
    return;
  }
  for (const line of formatAnswer(r.answer)) print(line);
  if (mode.trace) for (const line of formatTrace(r.sim, r.result, false) as string[]) print(line);
  if (mode.traceJson) print(JSON.stringify(formatTrace(r.sim, r.result, true), bigintAsNumber));
}

/** JSON has no 64-bit integers: a value that fits a double exactly is a number, a larger one a hex string. */
function bigintAsNumber(_key: string, v: unknown): unknown {
  if (typeof v !== 'bigint') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `0x${v.toString(16)}`;
}
