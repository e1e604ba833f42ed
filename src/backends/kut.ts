// kvm-unit-tests on the QEMU backends (docs/kvm-unit-tests.md): a test of x86/unittests.cfg (x2apic, xapic, ioapic,
// smptest, smptest3, eventinj, msr, ...) booted the way kvm-unit-tests' x86/run and scripts/arch-run.bash boot it
// (`-kernel FILE.flat -smp N QEMU_PARAMS -initrd ENV`, pc-testdev, isa-debug-exit, the test's timeout), every
// PASS/FAIL/XPASS/XFAIL/KFAIL/SKIP line parsed into a table and checked against the guest's own SUMMARY line.
// The suite is built by scripts/setup.sh into LAPIS_KUT_DIR and used from there, unmodified. Never throws for what
// the guest or QEMU did: a hang, an abort, a crash are results with the reason. Argument arrays only; the QEMU
// process group is killed and the temporary directory removed on every way out (Ctrl-C included).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBackend, kvmUsable, qemu10Binary, qemu10Dir, qemu72Binary, type Availability } from './backends.js';
import { backendInfo } from './report.js';

export const KUT_COMMIT = '1da1819e49fc4938985edca67df669099b4c87a7';
/** The tests docs/kvm-unit-tests.md tabulates (sections of x86/unittests.cfg). */
export const KUT_DEFAULT_TESTS = ['x2apic', 'xapic', 'ioapic', 'smptest', 'smptest3', 'eventinj', 'msr'] as const;
/** The backends kvm-unit-tests runs on: QEMU's `-kernel` (multiboot) loader and its pc-testdev are needed. */
export const KUT_BACKENDS = ['qemu-tcg', 'qemu10-tcg', 'qemu-kvm', 'qemu-kvm-split'] as const;
/** scripts/runtime.bash: a test without `timeout =` gets 90 s. */
export const KUT_DEFAULT_TIMEOUT_S = 90;
/** How long QEMU may take to start and the guest to print its first byte; the test's own timeout starts then
 *  (start-up under load is not the test's time). */
export const KUT_STARTUP_LIMIT_MS = 120_000;
const MAX_OUTPUT = 4 * 1024 * 1024;

export function kutDir(): string {
  return process.env.LAPIS_KUT_DIR ?? '/opt/lapis/kvm-unit-tests';
}

/** A section of x86/unittests.cfg. */
export interface KutConfig {
  name: string;
  file: string;
  smp: number;
  /** `qemu_params` (and `extra_params`), split into arguments. */
  qemuParams: string[];
  /** `test_args`, passed with -append. */
  testArgs: string | null;
  arch: string | null;
  timeoutS: number;
  groups: string[];
  /** `accel = ...`: the test runs only under that accelerator. */
  accel: string | null;
}

/** Split a `qemu_params` value as the shell would for the simple words unittests.cfg uses (quotes group). */
function words(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function seconds(v: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([smh]?)$/.exec(v.trim());
  if (!m) return null;
  return Number(m[1]) * (m[2] === 'm' ? 60 : m[2] === 'h' ? 3600 : 1);
}

/** Parse x86/unittests.cfg: `[name]` sections of `key = value` lines, `#` comments. */
export function parseUnittestsCfg(text: string): Map<string, KutConfig> {
  const out = new Map<string, KutConfig>();
  let cur: Record<string, string> | null = null;
  let name = '';
  const flush = (): void => {
    if (!cur || !cur.file) return;
    out.set(name, {
      name,
      file: cur.file,
      smp: Number.parseInt(cur.smp ?? '1', 10) || 1,
      qemuParams: words([cur.qemu_params, cur.extra_params].filter((x) => x).join(' ')),
      testArgs: cur.test_args ? words(cur.test_args).join(' ') : null,
      arch: cur.arch ?? null,
      timeoutS: (cur.timeout !== undefined ? seconds(cur.timeout) : null) ?? KUT_DEFAULT_TIMEOUT_S,
      groups: (cur.groups ?? '').split(/\s+/).filter((g) => g),
      accel: cur.accel ?? null,
    });
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      flush();
      name = sec[1].trim();
      cur = {};
      continue;
    }
    const eq = line.indexOf('=');
    if (cur && eq > 0) cur[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  flush();
  return out;
}

/** The build's unittests.cfg, or why there is none. */
export function loadKutConfig(dir = kutDir()): { ok: true; tests: Map<string, KutConfig> } | { ok: false; reason: string } {
  const cfg = join(dir, 'x86', 'unittests.cfg');
  if (!existsSync(cfg)) return { ok: false, reason: `no kvm-unit-tests build in ${dir} (npm run setup builds it; LAPIS_KUT_DIR names another)` };
  return { ok: true, tests: parseUnittestsCfg(readFileSync(cfg, 'utf8')) };
}

// ---- the guest's output ------------------------------------------------------------------------------------------

export type CheckResult = 'PASS' | 'FAIL' | 'XPASS' | 'XFAIL' | 'KFAIL' | 'SKIP';

/** One report() of the guest: lib/report.c va_report prints `RESULT: prefixes message`. */
export interface KutCheck {
  result: CheckResult;
  /** The text after `RESULT: ` (the report prefixes and the message). */
  name: string;
}

/** lib/report.c report_summary: `SUMMARY: N tests[, F unexpected failures][, K known failures][, X expected
 *  failures][, S skipped]`. `failures` counts FAIL and XPASS. */
export interface KutSummary {
  tests: number;
  failures: number;
  known: number;
  expected: number;
  skipped: number;
}

export interface KutOutput {
  checks: KutCheck[];
  summary: KutSummary | null;
  /** An `assert failed`, `ABORT:` or `Unhandled exception` line: the test gave up (abort()). */
  abort: string | null;
}

const CHECK = /^(PASS|FAIL|XPASS|XFAIL|KFAIL|SKIP): (.*)$/;

/** Parse the serial output. Only complete lines count: a line cut short by a kill is not a check. */
export function parseKutOutput(out: string): KutOutput {
  const checks: KutCheck[] = [];
  let summary: KutSummary | null = null;
  let abort: string | null = null;
  const lines = out.split('\n');
  lines.pop(); // the text after the last newline: not a complete line
  for (const raw of lines) {
    // The guest's serial output ends lines with \r\n (lib/x86/io.c serial_put); NULs and carriage returns are not text.
    const line = raw.replace(/[\r\0]/g, '');
    const m = CHECK.exec(line);
    if (m) {
      checks.push({ result: m[1] as CheckResult, name: m[2].trim() });
      continue;
    }
    const s = /^SUMMARY: (\d+) tests(.*)$/.exec(line);
    if (s) {
      const n = (what: string): number => Number(new RegExp(`, (\\d+) ${what}`).exec(s[2])?.[1] ?? 0);
      summary = { tests: Number(s[1]), failures: n('unexpected failures'), known: n('known failures'), expected: n('expected failures'), skipped: n('skipped') };
      continue;
    }
    if (abort === null && (/assert failed/.test(line) || /^ABORT: /.test(line) || /^Unhandled exception/.test(line))) abort = line.trim();
  }
  return { checks, summary, abort };
}

/** The table's counts in the summary's terms. */
export function tableSummary(checks: KutCheck[]): KutSummary {
  const n = (...r: CheckResult[]): number => checks.filter((c) => r.includes(c.result)).length;
  return { tests: checks.length, failures: n('FAIL', 'XPASS'), known: n('KFAIL'), expected: n('XFAIL'), skipped: n('SKIP') };
}

export function summariesEqual(a: KutSummary, b: KutSummary): boolean {
  return a.tests === b.tests && a.failures === b.failures && a.known === b.known && a.expected === b.expected && a.skipped === b.skipped;
}

export function formatSummary(s: KutSummary): string {
  const parts = [`${s.tests} tests`];
  if (s.failures) parts.push(`${s.failures} unexpected failures`);
  if (s.known) parts.push(`${s.known} known failures`);
  if (s.expected) parts.push(`${s.expected} expected failures`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  return parts.join(', ');
}

// ---- running ---------------------------------------------------------------------------------------------------

/** passed/failed/skipped: the test ran to its SUMMARY and exited through isa-debug-exit with that status (x86/run's
 *  reading); aborted: abort() (an assert) before the summary; timed-out: a host-side limit, never a result of the
 *  test; crashed: QEMU ended without the debug exit (a triple fault with --no-reboot, a signal); error: QEMU or
 *  the host failed; unavailable: not run here (the reason says why). */
export type KutStatus = 'passed' | 'failed' | 'skipped' | 'aborted' | 'timed-out' | 'crashed' | 'error' | 'unavailable';

export interface KutResult {
  test: string;
  backend: string;
  status: KutStatus;
  reason: string | null;
  /** QEMU's command line (the env file's path as `ENV`). */
  command: string[];
  checks: KutCheck[];
  summary: KutSummary | null;
  /** The table's counts equal the SUMMARY line's (null without a SUMMARY line). */
  consistent: boolean | null;
  exitStatus: number | null;
  signal: string | null;
  /** The guest's exit code (isa-debug-exit: QEMU exits with code << 1 | 1). */
  guestCode: number | null;
  /** Milliseconds from the guest's first output to the end; null when it printed nothing. */
  ms: number | null;
  startupMs: number | null;
  /** Serial output and the last lines of QEMU's stderr. */
  output: string;
  diagnostics: string;
}

export interface KutRunOptions {
  /** Seconds for the test, from its first output (default: the test's unittests.cfg timeout). */
  timeoutS?: number;
  /** Milliseconds QEMU may take to print the guest's first byte (default KUT_STARTUP_LIMIT_MS). */
  startupLimitMs?: number;
  dir?: string;
  /** Variables for the guest's environment besides x86/run's (one of the same name replaces it): e.g.
   *  TEST_DEVICE=0, which tells the guest it has no KVM test device (docs/kvm-unit-tests.md). */
  env?: Record<string, string>;
}

interface QemuFor {
  binary: string;
  dataDirs: string[];
  accel: string;
}

function qemuFor(backend: string): { ok: true; q: QemuFor } | { ok: false; reason: string } {
  const b = getBackend(backend);
  if (!b || !(KUT_BACKENDS as readonly string[]).includes(backend)) {
    return { ok: false, reason: `kvm-unit-tests runs on ${KUT_BACKENDS.join(', ')} (QEMU's -kernel loader and pc-testdev), not on ${backend}` };
  }
  const a: Availability = b.available();
  if (!a.ok) return { ok: false, reason: a.reason };
  if (backend === 'qemu10-tcg') {
    return { ok: true, q: { binary: qemu10Binary(), dataDirs: [join(qemu10Dir(), 'usr/share/qemu'), join(qemu10Dir(), 'usr/share/seabios')], accel: 'tcg' } };
  }
  const bin = qemu72Binary();
  if (!bin) return { ok: false, reason: 'qemu-system-x86_64 not found' };
  if (backend === 'qemu-tcg') return { ok: true, q: { binary: bin, dataDirs: [], accel: 'tcg' } };
  const k = kvmUsable();
  if (!k.ok) return { ok: false, reason: k.reason };
  return { ok: true, q: { binary: bin, dataDirs: [], accel: backend === 'qemu-kvm-split' ? 'kvm,kernel-irqchip=split' : 'kvm' } };
}

/** x86/run's command line: `--no-reboot -nodefaults` + the PIT policy + pc-testdev and isa-debug-exit +
 *  `-display none -serial stdio` + pci-testdev + `-machine accel=A -kernel FILE -smp N PARAMS [-append ARGS]
 *  -initrd ENV` (run_tests.sh order: kernel, smp, test_args, opts). */
export function kutCommand(cfg: KutConfig, q: QemuFor, flat: string, env: string): string[] {
  const args: string[] = [];
  for (const d of q.dataDirs) args.push('-L', d);
  args.push(
    '--no-reboot', '-nodefaults', '-global', 'kvm-pit.lost_tick_policy=discard',
    '-device', 'pc-testdev', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x4',
    '-display', 'none', '-serial', 'stdio', '-device', 'pci-testdev',
    '-machine', `accel=${q.accel}`, '-kernel', flat, '-smp', String(cfg.smp),
  );
  if (cfg.testArgs) args.push('-append', cfg.testArgs);
  args.push(...cfg.qemuParams, '-initrd', env);
  return args;
}

/** scripts/arch-run.bash env_params/env_errata: the environment the guest reads from its initrd. */
export function kutEnv(accel: string, version: string, extra: Record<string, string> = {}): string {
  const m = /version (\d+)\.(\d+)\.(\d+)/.exec(version);
  const k = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-(\d+))?/.exec(release());
  const vars: Record<string, string> = {
    TARGET: 'qemu',
    QEMU_ACCEL: accel.split(',')[0],
    QEMU_VERSION_STRING: version,
    QEMU_MAJOR: m?.[1] ?? '', QEMU_MINOR: m?.[2] ?? '', QEMU_MICRO: m?.[3] ?? '',
    KERNEL_VERSION_STRING: release(),
    KERNEL_VERSION: k?.[1] ?? '', KERNEL_PATCHLEVEL: k?.[2] ?? '', KERNEL_SUBLEVEL: k?.[3] ?? '', KERNEL_EXTRAVERSION: k?.[4] ?? '',
  };
  if (accel === 'tcg') vars.ERRATA_FORCE = 'y';
  Object.assign(vars, extra);
  return Object.entries(vars).map(([key, v]) => `${key}=${v}\n`).join('');
}

/** The QEMU process groups of runs in progress, killed if lapis itself is interrupted. */
const live = new Set<() => void>();
let hooked = false;
function hookSignals(): void {
  if (hooked) return;
  hooked = true;
  const cleanup = (): void => {
    for (const f of [...live]) f();
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      cleanup();
      // The default action, now that the children are gone: end with the signal's status.
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

function unavailable(test: string, backend: string, reason: string): KutResult {
  return {
    test, backend, status: 'unavailable', reason, command: [], checks: [], summary: null, consistent: null,
    exitStatus: null, signal: null, guestCode: null, ms: null, startupMs: null, output: '', diagnostics: '',
  };
}

/** Run the unittests.cfg test `name` on `backend`. Never throws. */
export async function runKut(name: string, backend: string, o: KutRunOptions = {}): Promise<KutResult> {
  const dir = o.dir ?? kutDir();
  const cfgs = loadKutConfig(dir);
  if (!cfgs.ok) return unavailable(name, backend, cfgs.reason);
  const cfg = cfgs.tests.get(name);
  if (!cfg) return { ...unavailable(name, backend, `no test '${name}' in ${join(dir, 'x86/unittests.cfg')}`), status: 'error' };
  const flat = join(dir, 'x86', cfg.file);
  if (!existsSync(flat)) return unavailable(name, backend, `${flat} is not built (npm run setup builds ${KUT_DEFAULT_TESTS.join(', ')})`);
  if (cfg.arch && cfg.arch !== 'x86_64') return unavailable(name, backend, `${cfg.arch} only (the build is x86_64)`);
  const qf = qemuFor(backend);
  if (!qf.ok) return unavailable(name, backend, qf.reason);
  const q = qf.q;
  if (cfg.accel && cfg.accel !== q.accel.split(',')[0]) return unavailable(name, backend, `${cfg.accel} only`);
  const b = getBackend(backend);
  const version = b ? backendInfo(b).version : 'unknown';

  let tmp: string | null = null;
  let killGroup = (): void => {};
  const removeTmp = (): void => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    tmp = null;
  };
  const onExit = (): void => {
    killGroup();
    removeTmp();
  };
  try {
    hookSignals();
    live.add(onExit);
    tmp = mkdtempSync(join(tmpdir(), 'lapis-kut-'));
    const env = join(tmp, 'env');
    writeFileSync(env, kutEnv(q.accel, version, o.env));
    const args = kutCommand(cfg, q, flat, env);
    const command = [q.binary, ...args.map((a) => (a === env ? 'ENV' : a))];
    const child = spawn(q.binary, args, { cwd: tmp, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const spawned = Date.now();
    let firstOutput: number | null = null;
    let out = '';
    let err = '';
    let limit: string | null = null;
    const runS = o.timeoutS ?? cfg.timeoutS;
    let timer = setTimeout(() => {
      limit = `QEMU printed nothing within the start-up limit (${Math.round((o.startupLimitMs ?? KUT_STARTUP_LIMIT_MS) / 1000)} s)`;
      killGroup();
    }, o.startupLimitMs ?? KUT_STARTUP_LIMIT_MS);
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('latin1');
    child.stdout.on('data', (d: string) => {
      if (firstOutput === null) {
        // The test's own timeout starts with its first output: QEMU's start-up under load is not the test's time.
        firstOutput = Date.now();
        clearTimeout(timer);
        timer = setTimeout(() => {
          limit = `the test's timeout (${runS} s${o.timeoutS === undefined ? ', unittests.cfg' : ''}) from its first output`;
          killGroup();
        }, runS * 1000);
      }
      if (out.length < MAX_OUTPUT) out += d;
    });
    child.stderr.on('data', (d: string) => {
      if (err.length < MAX_OUTPUT) err += d;
    });
    const { code, signal, spawnError } = await new Promise<{ code: number | null; signal: string | null; spawnError: string | null }>((res) => {
      child.on('error', (e) => res({ code: null, signal: null, spawnError: e.message }));
      child.on('close', (c, s) => res({ code: c, signal: s, spawnError: null }));
    });
    const end = Date.now();
    clearTimeout(timer);
    killGroup();
    const parsed = parseKutOutput(out);
    const errLines = err.split('\n').map((l) => l.trim()).filter((l) => l);
    const base = {
      test: name, backend, command, checks: parsed.checks, summary: parsed.summary,
      consistent: parsed.summary ? summariesEqual(parsed.summary, tableSummary(parsed.checks)) : null,
      exitStatus: code, signal, guestCode: code !== null && code % 2 === 1 ? code >> 1 : null,
      ms: firstOutput !== null ? end - firstOutput : null, startupMs: firstOutput !== null ? firstOutput - spawned : null,
      output: out, diagnostics: errLines.slice(-20).join('\n'),
    };
    const { status, reason } = classify(parsed, base.guestCode, code, signal, spawnError, limit, errLines);
    return { ...base, status, reason };
  } catch (e) {
    return { ...unavailable(name, backend, `host error: ${(e as Error).message}`), status: 'error' };
  } finally {
    onExit();
    live.delete(onExit);
  }
}

function classify(
  p: KutOutput, guestCode: number | null, code: number | null, signal: string | null, spawnError: string | null, limit: string | null, errLines: string[],
): { status: KutStatus; reason: string | null } {
  if (spawnError) return { status: 'error', reason: `could not start QEMU: ${spawnError}` };
  if (limit) return { status: 'timed-out', reason: `killed at ${limit}${p.summary ? '' : `, after ${p.checks.length} checks`}` };
  if (guestCode === null) {
    const why = signal ? `signal ${signal}` : `status ${code}`;
    return { status: 'crashed', reason: `QEMU ended (${why}) without the debug exit${code === 0 ? ': a triple fault (--no-reboot) or a reset' : ''}` };
  }
  // QEMU's own failure also exits 1 (= guest code 0): x86/run tells them apart by stderr (qemu_fixup_return_code).
  const qemuError = errLines.find((l) => !/warning/i.test(l));
  if (guestCode === 0 && !p.summary && qemuError) return { status: 'error', reason: `QEMU: ${qemuError}` };
  if (p.abort && !p.summary) return { status: 'aborted', reason: `${p.abort} (exit code ${guestCode})` };
  if (!p.summary) return { status: 'crashed', reason: `the guest exited with code ${guestCode} before its SUMMARY line` };
  if (guestCode === 0) return { status: 'passed', reason: null };
  if (guestCode === 77 >> 1 && p.summary.tests === p.summary.skipped) return { status: 'skipped', reason: 'every check skipped' };
  return { status: 'failed', reason: `${p.summary.failures} unexpected failure(s) (exit code ${guestCode})` };
}

/** The text report: the command, each check, the summary (and whether the table agrees with it), the status. */
export function formatKut(r: KutResult): string[] {
  const lines = [`kvm-unit-tests ${r.test} on ${r.backend}: ${r.status}${r.reason ? `: ${r.reason}` : ''}`];
  if (r.status === 'unavailable') return lines;
  if (r.command.length > 0) lines.push(`  ${r.command.join(' ')}`);
  for (const c of r.checks) lines.push(`  ${c.result.padEnd(5)} ${c.name}`);
  const t = tableSummary(r.checks);
  if (r.summary) {
    lines.push(`  SUMMARY (guest): ${formatSummary(r.summary)}`);
    lines.push(r.consistent ? '  the table agrees with the summary' : `  THE TABLE DISAGREES WITH THE SUMMARY: the table has ${formatSummary(t)}`);
  } else {
    lines.push(`  no SUMMARY line; ${formatSummary(t)} reported`);
    // What the guest printed last, escaped: where the output stopped, and in what state.
    if (r.output) lines.push(`  last output: ${JSON.stringify(r.output.slice(-240))}`);
  }
  const took = r.ms !== null ? `${(r.ms / 1000).toFixed(1)} s (start-up ${((r.startupMs ?? 0) / 1000).toFixed(1)} s)` : 'no output';
  lines.push(`  exit: ${r.signal ? `signal ${r.signal}` : `status ${r.exitStatus}`}${r.guestCode !== null ? ` (guest code ${r.guestCode})` : ''}; ${took}`);
  if (r.status !== 'passed' && r.diagnostics) for (const l of r.diagnostics.split('\n').slice(-5)) lines.push(`  qemu: ${l}`);
  return lines;
}
