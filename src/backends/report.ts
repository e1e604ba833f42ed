// The suite's JSON report (docs/conformance.md, "Conformance runs"): one file per backend and run of
// `lapis suite DIR --on BACKEND --json FILE` (or `lapis seeds --on BACKEND --json FILE`), every test's result in a
// stable schema, `lapis-suite/1`. `lapis conformance` renders CONFORMANCE.md from these files. Reading one back is
// checked field by field: a file that does not follow the schema is an error with its path, never a crash.

import { cpus as osCpus, release, arch as osArch } from 'node:os';
import type { Backend } from './backends.js';
import type { ConformResult } from './conform.js';
import type { RefusalCategory } from '../litmus/ops/types.js';

export const SUITE_SCHEMA = 'lapis-suite/1';

export interface BackendInfo {
  name: string;
  /** What the backend is (its flavour: accelerator, irqchip, CPU model). */
  description: string;
  /** The emulator's own version line (`QEMU emulator version 7.2.22 (...)`), or `unknown`. */
  version: string;
}

export interface HostInfo {
  cpus: number;
  cpuModel: string;
  kernel: string;
  arch: string;
}

export interface RefusalJson {
  construct: string;
  reason: string;
  line: number | null;
  /** Refused by this backend's features (the compiler itself accepts the test). */
  byBackend: boolean;
  /** A stable category (refusalCategoryId). */
  category: string;
}

export interface OutcomeJson {
  key: string;
  count: number;
  satisfies: boolean;
  verdict: 'allowed' | 'FORBIDDEN' | 'unexplored';
  /** For an outcome not allowed: the other profiles that allow it. */
  allowedBy: string[];
}

export interface TestJson {
  /** The file's name in the directory (`self-ipi-once.litmus`). */
  file: string;
  /** The test's own name (its first line); null when the file did not parse. */
  name: string | null;
  status: 'ran' | 'refused' | 'unavailable' | 'error' | 'parse-error';
  /** For refused. */
  refusal: RefusalJson | null;
  /** For unavailable, error and parse-error. */
  reason: string | null;
  /** The test's condition (ran only; else null). */
  condition: string | null;
  /** Runs attempted: completed + hung + crashed + unreadable + timedOut (reports before the per-run limit was
   *  kept apart from outcomes counted its runs in completed too). */
  runs: number;
  /** Runs judged. */
  completed: number;
  hung: number;
  crashed: number;
  unreadable: number;
  /** Runs that reached the guest's per-run time limit: not judged (their reasons are in failures). */
  timedOut: number;
  failures: { status: 'hung' | 'crashed' | 'unreadable' | 'timed-out'; reason: string; count: number }[];
  /** The histogram, sorted by key. */
  outcomes: OutcomeJson[];
  /** Completed runs whose outcome is FORBIDDEN. */
  forbidden: number;
  /** allowed: every observed outcome allowed; FORBIDDEN: some is not; null when the test did not run. */
  verdict: 'allowed' | 'FORBIDDEN' | null;
  /** The condition's answer on the runs (ran only). */
  ok: boolean | null;
  observation: 'Never' | 'Sometimes' | 'Always' | null;
  model: { profile: string; complete: boolean | null; ok: boolean | null; error: string | null; allowed: number; notObserved: string[] } | null;
  boots: number;
  elapsedMs: number;
}

export interface SuiteJson {
  schema: typeof SUITE_SCHEMA;
  /** suite: `lapis suite DIR --on`; seeds: `lapis seeds --on` (the seed scenarios only). */
  kind: 'suite' | 'seeds';
  backend: BackendInfo;
  /** The model's profile every outcome is judged by. */
  profile: string;
  /** Runs asked for per test. */
  runsPerTest: number;
  jobs: number;
  dir: string;
  host: HostInfo;
  /** ISO 8601, when the suite started. */
  started: string;
  elapsedMs: number;
  /** Sorted by file. */
  tests: TestJson[];
  /** `I/N` when the suite ran one shard of the directory (`--shard`): the files k with k mod N = I - 1. */
  shard?: string;
  /** The guest's quiet time when not the default (`--settle`, CompileOptions.settleUs), µs. */
  settleUs?: number;
}

// ---- refusal categories ----------------------------------------------------------------------------------------

export interface RefusalCategoryInfo {
  id: string;
  /** The sentence in CONFORMANCE.md's "Refused, by reason". */
  label: string;
  /** The short form in the per-test table. */
  short: string;
}

/** Each refusal category's sentence and short form. A refusal of category `other` gets its own row, `other:
 *  REASON`, so a new kind of refusal shows up rather than hiding. */
const CATEGORIES: Record<Exclude<RefusalCategory, 'other'>, Omit<RefusalCategoryInfo, 'id'>> = {
  'vcpu-assist': { label: 'the test\'s CPUs are vCPUs under a hardware assist (AVIC, APICv, TPR shadow)', short: 'vCPU assist' },
  'ioapic-msi': { label: 'the I/O APIC or device MSIs: a pin or device the backend cannot drive', short: 'I/O APIC, MSI' },
  'apic-timer': { label: 'the APIC timer where host delays could change the outcome (an op between arming and expiry, a periodic timer; run on Bochs, whose timer counts instructions), or no final state', short: 'APIC timer' },
  'nested-vmx': { label: 'nested VMX or SVM: the backend has no VMX (SVM), or a construct the guest\'s L1 does not run', short: 'nested VMX/SVM' },
  smbase: { label: 'an SMBASE the guest cannot reproduce (computed at run time, a shared save area, an SMI to all)', short: 'SMBASE' },
  hotplug: { label: 'hot-plug (`unplugged` CPUs)', short: 'hot-plug' },
  'wfs-apic': { label: 'an APIC observable of a CPU that may end in wait-for-SIPI', short: 'APIC of a wait-for-SIPI CPU' },
  'bsp-init': { label: 'INIT to the BSP, or a BSP waiting for a SIPI', short: 'INIT to BSP' },
  'vector-lt-32': { label: 'fixed vectors 0-31', short: 'vector < 32' },
  'x2apic-backend': { label: 'x2APIC: the backend\'s CPUID does not match the test\'s `x2apic`', short: 'x2APIC (backend)' },
  'bochs-cpus': { label: 'more than 15 CPUs (Bochs panics)', short: '> 15 CPUs (Bochs)' },
  'no-smm': { label: 'SMIs: the backend has no SMM here', short: 'no SMM (host)' },
  'no-iret': { label: 'NMIs that need protected-mode IRET to end NMI blocking (the backend has none here)', short: 'NMI needs IRET (host)' },
  'smi-to-bsp': { label: 'an SMI to the BSP (the firmware closed its SMRAM)', short: 'SMI to BSP' },
  'too-many-cpus': { label: 'more CPUs than the runtime\'s tables hold', short: 'too many CPUs' },
  'tsc-deadline-absolute': { label: 'an absolute IA32_TSC_DEADLINE value (the model\'s TSC and the machine\'s cannot be related)', short: 'TSC deadline' },
  'no-tsc-deadline': { label: 'the APIC timer in TSC-deadline mode: the backend has none (QEMU TCG), so its timer would ignore the deadline or count a TIMER_ICR value one-shot', short: 'no TSC-deadline (backend)' },
  'long-waits': { label: '`wait`s longer than a run may take', short: 'long waits' },
  observables: { label: 'more than 32 observables', short: '> 32 observables' },
  'spare-cpu': { label: 'a destination that may reach the spare CPUs that run the coordinator', short: 'reaches a spare CPU' },
  'platform-pin': { label: 'a pin of one processor the guest cannot drive (RESET#, LINT0, LINT1)', short: 'platform pin' },
  'host-vmm': { label: 'a VMM\'s host-side operation (saving and restoring APIC state, setting events)', short: 'VMM op' },
  'cpu-mode': { label: 'an instruction the guest\'s 32-bit protected mode lacks (MOV CR8)', short: 'CPU mode' },
  gif: { label: 'AMD GIF (CLGI/STGI): the runtime does not enable SVM, and GIF = 0 would hold its end-of-test NMI', short: 'GIF' },
  shutdown: { label: 'a triple fault: the backends reset the whole machine', short: 'shutdown' },
  'apic-ids': { label: 'initial APIC IDs other than the CPU indices', short: 'APIC IDs' },
  pic: { label: 'the 8259A (the runtime masks it; ExtINT is not compiled)', short: '8259A' },
  'await-state': { label: 'an `await` on a CPU state the runtime does not publish', short: 'await state' },
};

/** The id a refusal is recorded under in a report. */
export function refusalCategoryId(category: RefusalCategory, reason: string): string {
  return category === 'other' ? `other: ${reason}` : category;
}

/** The category of a refusal recorded in a report (its id), with the label and short form. */
export function categoryById(id: string): RefusalCategoryInfo {
  const c = (CATEGORIES as Record<string, Omit<RefusalCategoryInfo, 'id'>>)[id];
  if (c) return { id, ...c };
  const reason = id.replace(/^other: /, '');
  return { id, label: id, short: `other: ${reason.length > 40 ? `${reason.slice(0, 40)}...` : reason}` };
}

// ---- building ---------------------------------------------------------------------------------------------------

/** The backend's name, description and its emulator's version line. */
export function backendInfo(b: Backend): BackendInfo {
  return { name: b.name, description: b.description, version: b.version() };
}

export function hostInfo(): HostInfo {
  const c = osCpus();
  return { cpus: c.length, cpuModel: c[0]?.model.trim() ?? 'unknown', kernel: release(), arch: osArch() };
}

const EMPTY = {
  condition: null, runs: 0, completed: 0, hung: 0, crashed: 0, unreadable: 0, timedOut: 0, failures: [], outcomes: [], forbidden: 0,
  verdict: null, ok: null, observation: null, model: null, boots: 0, elapsedMs: 0,
} as const;

/** A test whose file did not parse. */
export function parseErrorJson(file: string, errors: string[]): TestJson {
  return { file, name: null, status: 'parse-error', refusal: null, reason: errors.join('\n'), ...EMPTY, failures: [], outcomes: [] };
}

/** One conform() result in the report's form. */
export function testJson(file: string, r: ConformResult): TestJson {
  const base = { file, name: r.test };
  switch (r.status) {
    case 'refused':
      return {
        ...base, status: 'refused', reason: null, ...EMPTY, failures: [], outcomes: [],
        refusal: { construct: r.refusal.construct, reason: r.refusal.reason, line: r.refusal.line, byBackend: r.refusal.backend !== null, category: refusalCategoryId(r.refusal.category, r.refusal.reason) },
      };
    case 'unavailable':
    case 'error':
      return { ...base, status: r.status, refusal: null, reason: r.reason, ...EMPTY, failures: [], outcomes: [] };
    case 'ran':
      return {
        ...base, status: 'ran', refusal: null, reason: null, condition: r.condition,
        runs: r.runs, completed: r.completed, hung: r.hung, crashed: r.crashed, unreadable: r.unreadable, timedOut: r.timedOut,
        failures: r.failures.map((f) => ({ status: f.status, reason: f.reason, count: f.count })).sort((a, b) => cmp(`${a.status} ${a.reason}`, `${b.status} ${b.reason}`)),
        outcomes: r.outcomes.map((o) => ({ key: o.key, count: o.count, satisfies: o.satisfies, verdict: o.verdict, allowedBy: [...o.allowedBy].sort() })).sort((a, b) => cmp(a.key, b.key)),
        forbidden: r.forbidden,
        verdict: r.forbidden > 0 ? 'FORBIDDEN' : 'allowed',
        ok: r.ok, observation: r.observation,
        model: { profile: r.model.profile, complete: r.model.answer?.complete ?? null, ok: r.model.answer?.ok ?? null, error: r.model.error, allowed: r.model.allowed.length, notObserved: [...r.notObserved].sort() },
        boots: r.boots, elapsedMs: r.ms,
      };
  }
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The report's text: two-space indented JSON, tests sorted by file, a final newline. */
export function suiteJsonText(s: SuiteJson): string {
  return `${JSON.stringify({ ...s, tests: [...s.tests].sort((a, b) => cmp(a.file, b.file)) }, null, 2)}\n`;
}

// ---- reading ----------------------------------------------------------------------------------------------------

export class ReportError extends Error {}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse and check a suite report. Throws ReportError naming `source` and the field. */
export function parseSuiteJson(text: string, source: string): SuiteJson {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ReportError(`${source}: not JSON: ${(e as Error).message}`);
  }
  const bad = (what: string): never => {
    throw new ReportError(`${source}: ${what}`);
  };
  if (!isObj(v)) return bad('not a JSON object');
  if (v.schema !== SUITE_SCHEMA) return bad(`schema is ${JSON.stringify(v.schema)}, expected "${SUITE_SCHEMA}"`);
  const str = (o: Obj, k: string, where: string): string => (typeof o[k] === 'string' ? (o[k] as string) : bad(`${where}.${k}: expected a string`));
  const num = (o: Obj, k: string, where: string): number => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : bad(`${where}.${k}: expected a number`));
  if (v.kind !== 'suite' && v.kind !== 'seeds') bad('kind: expected "suite" or "seeds"');
  if (!isObj(v.backend)) return bad('backend: expected an object');
  str(v.backend, 'name', 'backend');
  str(v.backend, 'description', 'backend');
  str(v.backend, 'version', 'backend');
  if (!isObj(v.host)) return bad('host: expected an object');
  num(v.host, 'cpus', 'host');
  str(v.host, 'cpuModel', 'host');
  str(v.host, 'kernel', 'host');
  str(v.host, 'arch', 'host');
  str(v, 'profile', 'report');
  num(v, 'runsPerTest', 'report');
  num(v, 'jobs', 'report');
  str(v, 'dir', 'report');
  if (Number.isNaN(Date.parse(str(v, 'started', 'report')))) bad('started: not a date');
  num(v, 'elapsedMs', 'report');
  if (v.settleUs !== undefined) num(v, 'settleUs', 'report');
  if (!Array.isArray(v.tests)) return bad('tests: expected an array');
  const statuses = ['ran', 'refused', 'unavailable', 'error', 'parse-error'];
  for (const [i, t] of (v.tests as unknown[]).entries()) {
    const w = `tests[${i}]`;
    if (!isObj(t)) return bad(`${w}: expected an object`);
    str(t, 'file', w);
    if (!statuses.includes(t.status as string)) bad(`${w}.status: expected one of ${statuses.join(', ')}`);
    for (const k of ['runs', 'completed', 'hung', 'crashed', 'unreadable', 'timedOut', 'forbidden', 'boots', 'elapsedMs']) num(t, k, w);
    if (!Array.isArray(t.outcomes) || !Array.isArray(t.failures)) bad(`${w}: outcomes and failures must be arrays`);
    for (const [j, o] of (t.outcomes as unknown[]).entries()) {
      const wo = `${w}.outcomes[${j}]`;
      if (!isObj(o)) return bad(`${wo}: expected an object`);
      str(o, 'key', wo);
      num(o, 'count', wo);
      if (!['allowed', 'FORBIDDEN', 'unexplored'].includes(o.verdict as string)) bad(`${wo}.verdict: expected allowed, FORBIDDEN or unexplored`);
      if (!Array.isArray(o.allowedBy) || !o.allowedBy.every((p) => typeof p === 'string')) bad(`${wo}.allowedBy: expected an array of strings`);
    }
    if (t.status === 'refused') {
      if (!isObj(t.refusal)) return bad(`${w}.refusal: expected an object`);
      str(t.refusal, 'construct', `${w}.refusal`);
      str(t.refusal, 'reason', `${w}.refusal`);
      str(t.refusal, 'category', `${w}.refusal`);
    }
  }
  return v as unknown as SuiteJson;
}

/** The test's name in CONFORMANCE.md: its file name without `.litmus`. */
export function testId(file: string): string {
  return file.replace(/\.litmus$/, '');
}
