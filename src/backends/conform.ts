// Conformance: run a compiled litmus test N times on a backend, build the histogram of the outcomes it produced,
// and compare each with the outcomes the model allows (docs/conformance.md, "Conformance runs"). An observed
// outcome the model's profile does not allow is FORBIDDEN: a backend bug or a model bug; the other profiles say
// which implementation, if any, the model knows to behave that way. Never throws for what a run did: hung,
// crashed and unreadable runs are counted with their reasons, and so is a run that reached the guest's per-run time
// limit: a host-side limit ended it, so it is never judged as an outcome.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { holdDir, releaseDir } from './cleanup.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LitmusTest } from '../litmus/ast.js';
import { observableName, printFinal } from '../litmus/print.js';
import { Simulator, UnsupportedError } from '../sim/sim.js';
import { formatValue, holds, outcomeKey, type OutcomeValue } from '../litmus/outcome.js';
import type { RefusalCategory } from '../litmus/ops/types.js';
import { DEFAULT_PROFILE, PROFILES, type Profile } from '../sim/profiles.js';
import { explore, type ExploreOptions } from '../explore/explore.js';
import { answer, type Answer } from '../explore/answer.js';
import type { Backend } from './backends.js';
import { buildGuest, GuestBuildError } from './build.js';
import { backendRefusal, compileTest, CompileRefusal, type CompiledTest, type CompileOptions } from './compile.js';
import { bootOnce, type BootResult } from './run.js';

export const DEFAULT_RUNS = 100;
/** Runs per boot at most: a boot that loops resets the test's state between runs. */
export const DEFAULT_BATCH = 500;

export interface ConformOptions {
  backend: Backend;
  /** Runs wanted (default 100). */
  runs?: number;
  /** Boots at once (default 1). */
  jobs?: number;
  /** The model's profile to judge by (default spec). */
  profile?: Profile;
  /** Runs per boot at most (default 500; 1 where the backend cannot reset the test between runs). */
  batch?: number;
  /** Write the generated NASM source here as <file stem>.asm. */
  emitAsm?: string;
  /** The file the test came from (for --emit-asm's name). */
  file?: string;
  compile?: CompileOptions;
  /** Options of the model's exploration (per profile). */
  explore?: ExploreOptions;
  /** Keep each boot's temporary directory. */
  keepTemp?: boolean;
  onBoot?: (r: BootResult) => void;
}

export type Verdict = 'allowed' | 'FORBIDDEN' | 'unexplored';

export interface ObservedOutcome {
  /** The model's outcome key: `name=value; name=value`. */
  key: string;
  values: Record<string, string>;
  count: number;
  /** The test's condition holds for it. */
  satisfies: boolean;
  verdict: Verdict;
  /** For a FORBIDDEN outcome: the other profiles that allow it. */
  allowedBy: string[];
}

/** hung: the boot was killed at the host's time limit, or the guest's watchdog fired (the run in progress is lost);
 *  crashed: the emulator or the guest failed; unreadable: a run line without a value; timed-out: the run reached
 *  the guest's per-run limit (LIT_ITER_TIMEOUT_US), the reason says what kept it open. */
export interface FailedRuns {
  status: 'hung' | 'crashed' | 'unreadable' | 'timed-out';
  reason: string;
  count: number;
}

export interface ModelSummary {
  profile: string;
  answer: Answer | null;
  /** Why the model has no answer (e.g. the profile lacks a feature the test needs). */
  error: string | null;
  /** Outcome keys the model allows. */
  allowed: string[];
}

export type ConformResult =
  | { status: 'refused'; test: string; file: string | null; backend: string; refusal: { construct: string; reason: string; line: number | null; backend: string | null; category: RefusalCategory } }
  | { status: 'unavailable'; test: string; file: string | null; backend: string; reason: string }
  | { status: 'error'; test: string; file: string | null; backend: string; reason: string }
  | ConformRan;

export interface ConformRan {
  status: 'ran';
  test: string;
  file: string | null;
  backend: string;
  profile: string;
  condition: string;
  /** Runs attempted: completed + hung + crashed + unreadable + timedOut. */
  runs: number;
  /** Runs judged: they ended on their own, within every time limit. */
  completed: number;
  hung: number;
  crashed: number;
  unreadable: number;
  failures: FailedRuns[];
  /** Runs that reached the guest's per-run time limit: not judged (failures say what kept each open). */
  timedOut: number;
  outcomes: ObservedOutcome[];
  /** Completed runs whose outcome is FORBIDDEN. */
  forbidden: number;
  /** The answer to the condition on the completed runs: Ok / No as the model's rule gives it. */
  ok: boolean;
  observation: 'Never' | 'Sometimes' | 'Always';
  witnesses: { positive: number; negative: number };
  model: ModelSummary;
  /** Outcomes the model allows that no run produced. */
  notObserved: string[];
  boots: number;
  ms: number;
  runsPerSecond: number;
}

/** The model's outcomes for `test` under `profile`. Never throws. */
export function modelOutcomes(test: LitmusTest, profile: Profile, opts: ExploreOptions = {}): ModelSummary {
  try {
    const sim = new Simulator(test, profile);
    const r = explore(sim, opts);
    const a = answer(test, profile.name, r);
    return { profile: profile.name, answer: a, error: null, allowed: r.outcomes.map((o) => o.key) };
  } catch (e) {
    const msg = e instanceof UnsupportedError ? `unsupported: ${e.message}` : (e as Error).message;
    return { profile: profile.name, answer: null, error: msg, allowed: [] };
  }
}

/** Parse one guest value: `0x...` a number, `?` unknown, else a name (activity, APIC mode). */
function parseValue(s: string | undefined): OutcomeValue | null {
  if (s === undefined || s === '?') return null;
  if (/^0x[0-9a-f]+$/i.test(s)) return BigInt(s);
  return s;
}

interface Chunk {
  size: number;
  /** Failed boots so far for these runs (a boot that produced nothing). */
  attempt: number;
}

/** Run `test` on a backend and judge what it did by the model. Never throws. */
export async function conform(test: LitmusTest, o: ConformOptions): Promise<ConformResult> {
  const start = Date.now();
  const backend = o.backend;
  const file = o.file ?? null;
  const base = { test: test.name, file, backend: backend.name };
  const avail = backend.available();
  if (!avail.ok) return { status: 'unavailable', ...base, reason: avail.reason };
  let compiled: CompiledTest;
  try {
    compiled = compileTest(test, o.compile);
  } catch (e) {
    if (e instanceof CompileRefusal) return refused(base, e);
    return { status: 'error', ...base, reason: `compile: ${(e as Error).message}` };
  }
  if (o.emitAsm) {
    try {
      mkdirSync(o.emitAsm, { recursive: true });
      writeFileSync(join(o.emitAsm, `${asmStem(file, test.name)}.asm`), compiled.asm);
    } catch (e) {
      return { status: 'error', ...base, reason: `--emit-asm: ${(e as Error).message}` };
    }
  }
  const br = backendRefusal(compiled, backend);
  if (br) return refused(base, br);

  const profile = o.profile ?? DEFAULT_PROFILE;
  const model = modelOutcomes(test, profile, o.explore);
  const runs = Math.max(1, o.runs ?? DEFAULT_RUNS);
  const jobs = Math.max(1, o.jobs ?? 1);
  // A backend without protected-mode IRET cannot end P0's NMI blocking after its end-of-test ping: one run a boot.
  const iret = backend.features().iret.ok;
  // A CPU hot-added in a run stays: every run needs a boot of its own.
  const batch = Math.max(1, iret && !compiled.machine.hotplug ? (o.batch ?? DEFAULT_BATCH) : 1);

  const work = mkdtempSync(join(tmpdir(), 'lapis-conform-'));
  holdDir(work);
  try {
    writeFileSync(join(work, 'test.asm'), compiled.asm);
    const images = new Map<number, string>();
    const image = (n: number): string => {
      let p = images.get(n);
      if (!p) {
        p = buildGuest({ source: join(work, 'test.asm'), out: join(work, `test-${n}.img`), defines: [...backend.asmDefines(), `ITERATIONS=${n}`] });
        images.set(n, p);
      }
      return p;
    };

    const records: Record<string, string>[] = [];
    const failures = new Map<string, FailedRuns>();
    const fail = (status: FailedRuns['status'], reason: string, count = 1): void => {
      const k = `${status}\u0000${reason}`;
      const f = failures.get(k) ?? { status, reason, count: 0 };
      f.count += count;
      failures.set(k, f);
    };
    const queue: Chunk[] = [];
    // Spread the runs over the jobs, each chunk at most `batch` runs.
    const per = Math.min(batch, Math.ceil(runs / jobs));
    for (let left = runs; left > 0; left -= per) queue.push({ size: Math.min(per, left), attempt: 0 });
    let boots = 0;
    const isKvm = backend.name.startsWith('qemu-kvm');
    const worker = async (): Promise<void> => {
      for (let chunk = queue.shift(); chunk; chunk = queue.shift()) {
        let img: string;
        try {
          img = image(chunk.size);
        } catch (e) {
          fail('crashed', e instanceof GuestBuildError ? `build: ${e.message}` : (e as Error).message, chunk.size);
          continue;
        }
        const perRunMs = compiled.iterTimeoutUs / 1000 + 50 * compiled.cpus + 20;
        const timeoutMs = (isKvm ? 30000 : 15000) + chunk.size * perRunMs;
        const r = await bootOnce({ backend, image: img, machine: compiled.machine, timeoutMs, keepTemp: o.keepTemp });
        boots++;
        o.onBoot?.(r);
        const got = r.runs.slice(0, chunk.size);
        records.push(...got);
        let left = chunk.size - got.length;
        if (left <= 0) continue;
        if (r.status !== 'completed') {
          // The run in progress when the boot hung or crashed.
          fail(r.status, r.reason ?? r.status);
          left--;
        } else if (r.values['setup-failed'] !== undefined) {
          // The guest could not reset a CPU for the next run (it stayed in SMM, P0's APIC kept state): the rest
          // of the runs go to a new boot.
          if (got.length === 0) {
            fail('crashed', `setup failed: P${r.values['setup-failed']} could not be reset for a run`);
            left--;
          }
        } else {
          fail('crashed', `the boot ended after ${got.length} of ${chunk.size} runs`);
          left--;
        }
        if (left > 0) {
          if (got.length === 0 && chunk.attempt >= 2) fail('crashed', 'not run: three boots in a row produced no run', left);
          else queue.push({ size: left, attempt: got.length === 0 ? chunk.attempt + 1 : 0 });
        }
      }
    };
    await Promise.all(Array.from({ length: jobs }, worker));

    // The histogram.
    const histogram = new Map<string, ObservedOutcome>();
    let completed = 0;
    let positive = 0;
    let negative = 0;
    const allowed = new Set(model.allowed);
    const complete = model.answer?.complete ?? false;
    const otherProfiles = new Map<string, ModelSummary>();
    const allowedBy = (key: string): string[] => {
      const out: string[] = [];
      for (const p of PROFILES) {
        if (p.name === profile.name) continue;
        let m = otherProfiles.get(p.name);
        if (!m) {
          m = modelOutcomes(test, p, o.explore);
          otherProfiles.set(p.name, m);
        }
        if (m.allowed.includes(key)) out.push(p.name);
      }
      return out;
    };
    for (const rec of records) {
      if (rec['@timeout'] !== undefined) {
        // The guest's limit is TSC time, which runs on while the host does not schedule a vCPU: a run that reaches
        // it says what the host did, not what the architecture allows (a CPU still on its way to its SIPI code
        // would read as `wait-for-sipi`).
        fail('timed-out', timeoutReason(rec['@busy'], compiled.cpus, compiled.iterTimeoutUs));
        continue;
      }
      const values: Record<string, OutcomeValue> = {};
      const shown: Record<string, string> = {};
      const unknown: string[] = [];
      for (const name of compiled.observables) {
        const v = parseValue(rec[name]);
        if (v === null) {
          unknown.push(name);
          continue;
        }
        values[name] = v;
        shown[name] = formatValue(v);
      }
      if (unknown.length > 0) {
        fail('unreadable', `no value for ${unknown.join(', ')}`);
        continue;
      }
      completed++;
      const key = outcomeKey(values, compiled.observables);
      let h = histogram.get(key);
      if (!h) {
        const sat = holds(test.condition.cond, (o) => values[observableName(o)]);
        const ok = allowed.has(key);
        const verdict: Verdict = ok ? 'allowed' : complete ? 'FORBIDDEN' : 'unexplored';
        h = { key, values: shown, count: 0, satisfies: sat, verdict, allowedBy: ok ? [] : allowedBy(key) };
        histogram.set(key, h);
      }
      h.count++;
      if (h.satisfies) positive++;
      else negative++;
    }
    const outcomes = [...histogram.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const q = test.condition.quantifier;
    const ok = q === 'exists' ? positive > 0 : q === '~exists' ? positive === 0 : negative === 0;
    const failed = [...failures.values()];
    const count = (s: FailedRuns['status']): number => failed.filter((f) => f.status === s).reduce((n, f) => n + f.count, 0);
    const ms = Date.now() - start;
    return {
      status: 'ran',
      ...base,
      profile: profile.name,
      condition: printFinal(test.condition),
      runs: completed + count('hung') + count('crashed') + count('unreadable') + count('timed-out'),
      completed,
      hung: count('hung'),
      crashed: count('crashed'),
      unreadable: count('unreadable'),
      failures: failed,
      timedOut: count('timed-out'),
      outcomes,
      forbidden: outcomes.filter((x) => x.verdict === 'FORBIDDEN').reduce((n, x) => n + x.count, 0),
      ok,
      observation: positive === 0 ? 'Never' : negative === 0 ? 'Always' : 'Sometimes',
      witnesses: { positive, negative },
      model,
      notObserved: model.allowed.filter((k) => !histogram.has(k)).sort(),
      boots,
      ms,
      runsPerSecond: Math.round((completed * 100000) / Math.max(1, ms)) / 100,
    };
  } catch (e) {
    return { status: 'error', ...base, reason: (e as Error).message };
  } finally {
    rmSync(work, { recursive: true, force: true });
    releaseDir(work);
  }
}

/** guest/litmus.asm LIT_BUSY_*: what kept a run open (`@busy=0xCCNN`, cause CC of CPU NN). */
const BUSY_CAUSES: Record<number, string> = {
  1: 'had not reached its SIPI code (a SIPI of the test was on its way)',
  2: 'was in an await whose condition held',
  3: 'was inside its SMM code',
  4: 'had not finished its main block',
  5: 'had not finished its `on sipi` code',
  6: 'had not finished',
  7: 'was in an await whose condition held',
};

/** Why a run reached the guest's per-run limit, from its `@busy` value. */
export function timeoutReason(busy: string | undefined, cpus: number, limitUs: number): string {
  const head = `reached the guest's per-run limit (${limitUs / 1000} ms of guest time)`;
  const v = busy !== undefined && /^0x[0-9a-f]+$/i.test(busy) ? Number(busy) : null;
  if (v === null) return `${head}; what kept it open is not reported`;
  const cause = v >> 8;
  const cpu = v & 0xff;
  if (cause === 8) return `${head}: every program was done, but interrupt-side events kept coming`;
  const who = cpu < cpus ? `P${cpu}` : `agent D${cpu - cpus}`;
  return `${head}: ${who} ${BUSY_CAUSES[cause] ?? `was busy (cause ${cause})`}`;
}

function refused(base: { test: string; file: string | null; backend: string }, e: CompileRefusal): ConformResult {
  return { status: 'refused', ...base, refusal: { construct: e.construct, reason: e.reason, line: e.pos?.line ?? null, backend: e.backend, category: e.category } };
}

function asmStem(file: string | null, name: string): string {
  const stem = file ? (file.split('/').pop() ?? file).replace(/\.litmus$/, '') : name;
  return stem.replace(/[^A-Za-z0-9_.+-]/g, '_');
}

/** litmus7-style text: the histogram (count, `:>` where the condition holds, the outcome, its verdict), the
 *  answer on the runs, the model's comparison, failed runs, and the time. */
export function formatConform(r: ConformResult): string[] {
  switch (r.status) {
    case 'refused': {
      const at = r.refusal.line !== null ? ` (line ${r.refusal.line})` : '';
      return [`Test ${r.test} on ${r.backend}: REFUSED${r.refusal.backend ? ' by this backend' : ''}: ${r.refusal.construct}${at}: ${r.refusal.reason}`];
    }
    case 'unavailable':
      return [`Test ${r.test} on ${r.backend}: backend unavailable: ${r.reason}`];
    case 'error':
      return [`Test ${r.test} on ${r.backend}: error: ${r.reason}`];
    case 'ran':
      break;
  }
  const kind = r.condition.startsWith('forall') ? 'Required' : 'Allowed';
  const lines = [`Test ${r.test} ${kind} on ${r.backend} (judged by profile ${r.profile})`, `Histogram (${r.outcomes.length} state${r.outcomes.length === 1 ? '' : 's'})`];
  for (const x of r.outcomes) {
    const vals = Object.entries(x.values).map(([k, v]) => `${k}=${v};`).join(' ');
    let mark = '';
    if (x.verdict === 'FORBIDDEN') mark = `   FORBIDDEN by ${r.profile}${x.allowedBy.length > 0 ? `; allowed by ${x.allowedBy.join(', ')}` : '; no profile allows it'}`;
    else if (x.verdict === 'unexplored') mark = "   not seen by the model (its exploration was cut short)";
    lines.push(`${String(x.count).padEnd(6)}${x.satisfies ? ':>' : '  '}${vals}${mark}`);
  }
  lines.push(r.ok ? 'Ok' : 'No');
  lines.push('Witnesses', `Positive: ${r.witnesses.positive} Negative: ${r.witnesses.negative}`);
  lines.push(`Condition ${r.condition}`);
  if (r.hung + r.crashed + r.unreadable > 0) {
    lines.push(`Failed runs: ${r.hung} hung, ${r.crashed} crashed, ${r.unreadable} unreadable`);
    for (const f of r.failures) if (f.status !== 'timed-out') lines.push(`  ${String(f.count).padEnd(6)}${f.status}: ${f.reason}`);
  }
  if (r.timedOut > 0) {
    lines.push(`Timed out (not judged: a host-side time limit ended them, not the test): ${r.timedOut} run(s)`);
    for (const f of r.failures) if (f.status === 'timed-out') lines.push(`  ${String(f.count).padEnd(6)}${f.reason}`);
  }
  if (r.model.error) lines.push(`Model (${r.profile}): no answer: ${r.model.error}`);
  else {
    const a = r.model.answer;
    lines.push(`Model (${r.profile}): ${r.model.allowed.length} outcome(s) allowed${a && !a.complete ? ` (exploration cut short by ${a.cutBy})` : ''}, ${r.model.allowed.length - r.notObserved.length} observed`);
    for (const k of r.notObserved) lines.push(`  not observed: ${k}`);
  }
  lines.push(r.forbidden > 0 ? `Verdict: FORBIDDEN: ${r.forbidden} run(s) produced outcomes ${r.profile} does not allow` : `Verdict: every observed outcome is allowed by ${r.profile}`);
  lines.push(`Observation ${r.test} ${r.observation} ${r.witnesses.positive} ${r.witnesses.negative}`);
  lines.push(`Time ${r.test} ${(r.ms / 1000).toFixed(2)}s, ${r.runs} runs in ${r.boots} boot(s), ${r.runsPerSecond} runs/s`);
  return lines;
}

/** The JSON form (no bigints: every value is already a string). */
export function conformJson(r: ConformResult): string {
  if (r.status !== 'ran') return JSON.stringify(r);
  const { model, ...rest } = r;
  return JSON.stringify({ ...rest, model: { profile: model.profile, error: model.error, allowed: model.allowed, complete: model.answer?.complete ?? null, ok: model.answer?.ok ?? null } });
}
