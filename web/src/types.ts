// The plain data the web app passes between its worker (engine.ts) and the page: structured-cloneable, JSON-ready,
// no model classes. engine.ts produces it from the simulator; everything else in web/src reads only this.
import type { Profile } from '../../src/sim/profile.js';

export interface ParseProblem {
  line: number;
  col: number;
  message: string;
}

export interface TestInfo {
  name: string;
  description: string | null;
  cpus: number;
  /** Agent names as written (`D0`). */
  agents: string[];
  /** The CPUs are vCPUs under a hardware assist (the hypervisor gets a lane). */
  vcpus: boolean;
  quantifier: 'exists' | '~exists' | 'forall';
}

export type Parsed = { ok: true; info: TestInfo } | { ok: false; errors: ParseProblem[] };

/** A profile as the worker gets it: what the model runs on, without the evidence text (src/sim/profile.ts). */
export type ProfileData = Pick<Profile, 'name' | 'description' | 'quirks' | 'settings'>;

export interface ProfileInfo {
  name: string;
  description: string;
}

export interface OutcomeRow {
  /** `P1.activity=wait-for-sipi; booted=0`, as `lapis run` prints it. */
  key: string;
  values: Record<string, string>;
  satisfies: boolean;
  count: number;
  /** The explorer's steps to it (not the shortest; engine.witness finds that). */
  witness: number[];
}

/** The answer to one test under one profile, as `lapis run --json` gives it plus each outcome's run. */
export interface RunAnswer {
  test: string;
  profile: string;
  condition: string;
  ok: boolean;
  observation: 'Never' | 'Sometimes' | 'Always';
  outcomes: OutcomeRow[];
  witnesses: { positive: number; negative: number };
  complete: boolean;
  cutBy: string | null;
  nonTerminating: boolean;
  nonTerminatingWitness: number[] | null;
  states: number;
  finals: number;
  ms: number;
}

// The machine as traces show it: the model's own reading (src/explore/state.ts), as types only (no code of src/ here).
export type { CpuState, MachineState, WireMsg } from '../../src/explore/state.js';
import type { MachineState, WireMsg } from '../../src/explore/state.js';

export type RawStepKind = 'cpu' | 'agent' | 'deliver' | 'time';

/** One step of a run as the simulator took it; `sent`, `arrived` and `state` come from a replay (not from a trace file). */
export interface RawStep {
  kind: RawStepKind;
  /** `P0`, `D0`, or '' for the bus and time. */
  actor: string;
  text: string;
  effects: string[];
  sent?: WireMsg[];
  arrived?: WireMsg;
  state?: MachineState;
}

export interface RawTrace {
  test: string;
  profile: string;
  cpus: number;
  agents: string[];
  vcpus: boolean;
  steps: RawStep[];
  initial?: MachineState;
  /** The replay stopped: step `index` is not enabled under this profile. */
  blockedAt?: number;
}

/** What `lapis run --html` embeds and `lapis view` opens: a test, its answer, and a run to each outcome. */
export interface PageData {
  schema: 'lapis-page/1';
  file: string;
  text: string;
  profile: string;
  answer: RunAnswer;
  /** Shortest runs, by outcome key. */
  witnesses: Record<string, number[]>;
}
