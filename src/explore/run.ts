// runLitmus: the explorer as a library. Litmus text (or a parsed test) and options in, the answer `lapis run --json`
// prints out: the command line calls this same function, so the two cannot drift. No I/O: it runs in a browser.

import type { LitmusTest } from '../litmus/ast.js';
import type { Diagnostic } from '../litmus/diagnostic.js';
import { parseLitmus } from '../litmus/parse.js';
import { Simulator, UnsupportedError, type OutcomeValue } from '../sim/sim.js';
import { DEFAULT_PROFILE, findProfile, PROFILES, type Profile } from '../sim/profiles.js';
import { HostError } from '../arch/errors.js';
import type { Threads } from './parallel.js';
import { explore, DEFAULT_MAX_DEPTH, DEFAULT_MAX_STATES, type ExploreResult } from './explore.js';
import { answer, unsupportedAnswer, type Answer } from './answer.js';
import { formatTrace, type TraceRecord } from './trace.js';

export { DEFAULT_MAX_DEPTH, DEFAULT_MAX_STATES };

export interface RunOptions {
  /** A profile's name (`spec`, `kvm-2019`: PROFILES) or a Profile; default `spec`. */
  profile?: string | Profile;
  /** Stop after this many distinct states (default DEFAULT_MAX_STATES). */
  maxStates?: number;
  /** Do not follow runs longer than this many steps. */
  maxDepth?: number;
  /** Stop after this many milliseconds. */
  timeoutMs?: number;
  /** Stop before the search holds more than this many bytes (visited set, DFS stack; explore's maxMemory). */
  maxMemory?: number;
  /** Stop at the first run that decides the answer (a witness or a counterexample). */
  first?: boolean;
  /** Random runs instead of exhaustive search. */
  random?: { runs: number; seed?: number };
  /** Partial-order reduction (default true). */
  por?: boolean;
  /** Symmetry reduction of interchangeable CPUs (default true; docs/explorer.md, "Symmetry"). */
  symmetry?: boolean;
  /** Threads searching at once (default 1), started by `threads` (ExploreOptions.jobs). */
  jobs?: number;
  threads?: Threads;
  /** Add `traces`: the shortest run to each outcome, step by step. */
  trace?: boolean;
  /** The file name diagnostics name (default `<input>`). */
  file?: string;
  /** Check the model's write path after every step (ExploreOptions.checkWrites; for tests). */
  checkWrites?: boolean;
  /** Called now and then during the search. */
  progress?: (states: number, depth: number) => void;
  /** Polled during the search: true ends it with the answer so far (complete: false, cutBy 'interrupted'). */
  interrupted?: () => boolean;
}

/** An outcome value in JSON: a number, or a hex string for one beyond 2^53, or a symbolic name. */
export type JsonValue = number | string;

/** The answer as `lapis run --json` prints it: Answer with JSON values, and `traces` when asked for. */
export type LitmusAnswer = Omit<Answer, 'outcomes'> & {
  outcomes: { values: Record<string, JsonValue>; satisfies: boolean; count: number }[];
  /** The shortest run to each outcome as typed records (schemas/trace.schema.json), counterexamples first. */
  traces?: TraceRecord[];
};

/** The text did not parse or validate: `diagnostics` have file:line:col and the source line. */
export class LitmusError extends Error {
  override readonly name = 'LitmusError';
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => d.format()).join('\n'));
  }
}

export interface Run {
  answer: Answer;
  /** null when the test is Unsupported under the profile. */
  result: ExploreResult | null;
  sim: Simulator | null;
}

export function profileNamed(p: string | Profile | undefined): Profile {
  if (p === undefined) return DEFAULT_PROFILE;
  if (typeof p !== 'string') return p;
  const found = findProfile(p);
  if (!found) throw new HostError('bad-argument', `unknown profile '${p}'; profiles: ${PROFILES.map((x) => x.name).join(', ')}`);
  return found;
}

/** Explore a parsed test under a profile; the simulator and search result come back for traces. */
export function runTest(test: LitmusTest, profile: Profile, o: Omit<RunOptions, 'profile' | 'trace' | 'file'> = {}): Run {
  let sim: Simulator;
  try {
    sim = new Simulator(test, profile);
  } catch (e) {
    if (e instanceof UnsupportedError) return { answer: unsupportedAnswer(test, profile.name, e.message), result: null, sim: null };
    throw e;
  }
  const result = explore(sim, {
    maxStates: o.maxStates, maxDepth: o.maxDepth, timeoutMs: o.timeoutMs, maxMemory: o.maxMemory, stopWhenDecided: o.first ?? false, por: o.por,
    symmetry: o.symmetry, jobs: o.jobs, threads: o.threads,
    random: o.random ? { runs: o.random.runs, seed: o.random.seed ?? 1 } : undefined,
    progress: o.progress, interrupted: o.interrupted, checkWrites: o.checkWrites,
  });
  return { answer: answer(test, profile.name, result), result, sim };
}

/** JSON has no 64-bit integers: a value that fits a double exactly is a number, a larger one a hex string. */
export function jsonValue(v: OutcomeValue): JsonValue {
  if (typeof v !== 'bigint') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `0x${v.toString(16)}`;
}

/** For JSON.stringify of anything holding bigints (traces). */
export function bigintReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? jsonValue(v) : v;
}

/** The answer `lapis run --json` prints for a run. */
export function jsonAnswer(r: Run, traces: boolean): LitmusAnswer {
  const a: LitmusAnswer = {
    ...r.answer,
    outcomes: r.answer.outcomes.map((o) => ({ values: Object.fromEntries(Object.entries(o.values).map(([k, v]) => [k, jsonValue(v)])), satisfies: o.satisfies, count: o.count })),
  };
  if (traces) a.traces = r.sim && r.result ? (JSON.parse(JSON.stringify(formatTrace(r.sim, r.result, true), bigintReplacer)) as TraceRecord[]) : [];
  return a;
}

/**
 * Parse a litmus test (or take a parsed one), explore it under the profile and answer its condition: the object
 * `lapis run --json` prints. Throws LitmusError for a test that does not parse, HostError for an unknown profile.
 * A test the profile cannot run is answered `result: 'Unsupported'`.
 */
export function runLitmus(source: string | LitmusTest, options: RunOptions = {}): LitmusAnswer {
  const profile = profileNamed(options.profile);
  let test: LitmusTest;
  if (typeof source === 'string') {
    const parsed = parseLitmus(source, options.file);
    if (!parsed.ok) throw new LitmusError(parsed.errors);
    test = parsed.test;
  } else test = source;
  return jsonAnswer(runTest(test, profile, options), options.trace ?? false);
}
