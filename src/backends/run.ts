// Booting a guest image on a backend, N times, and reading what it reported (docs/conformance.md).
// A run never throws for what the guest or the emulator did: a hang, a crash or a missing binary is recorded in
// the result. Each boot gets its own temporary directory (its copy of the image, Bochs's configuration and log),
// removed afterwards; a boot that outlives its timeout is killed with its whole process group.

import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qmpCpuAdd, type Backend, type MachineRequest } from './backends.js';
import { holdDir, holdGroup, releaseDir, releaseGroup } from './cleanup.js';
import { Qmp } from './qmp.js';

export type BootStatus = 'completed' | 'hung' | 'crashed';

/** What one boot produced. `lines` are the text after `lapis: ` of every result line, in order. */
export interface BootResult {
  backend: string;
  status: BootStatus;
  /** Why it is not `completed` (or null). */
  reason: string | null;
  exitCode: number | null;
  signal: string | null;
  ms: number;
  lines: string[];
  /** Every `key=value` of the lines outside `run=` lines; a later value overrides an earlier one. */
  values: Record<string, string>;
  /** One entry per `lapis: run=I k=v ...` line: a guest that loops reports one per iteration. */
  runs: Record<string, string>[];
  /** The last lines of the emulator's stderr (and, for Bochs, of its stdout besides the result lines). */
  diagnostics: string;
}

export interface BootOptions {
  backend: Backend;
  /** The disk image (copied into the boot's temporary directory). */
  image: string;
  machine: MachineRequest;
  /** Milliseconds the guest may run, from its first result line (`lapis: start`), before the boot is killed and
   *  recorded as hung. The emulator's start-up and the firmware before that line have their own limit. */
  timeoutMs: number;
  /** Milliseconds from the spawn to the guest's first result line (default: STARTUP_LIMIT_MS, or timeoutMs if
   *  larger): start-up time under load is not the guest's. */
  startupLimitMs?: number;
  /** Keep the temporary directory (for debugging); its path is then in `diagnostics`. */
  keepTemp?: boolean;
}

const PREFIX = 'lapis: ';
const KVM_INTERNAL_ERROR = /KVM internal error/;
const MAX_OUTPUT = 8 * 1024 * 1024;
/** The end marker as the guest prints it, and how long the emulator may take to exit after it. */
const END_MARKER = /lapis: end\r?\n/;
const END_GRACE_MS = 2000;
/** A guest line asking the host to hot-add the CPU of that APIC ID (guest/litmus-cpus.asm lit_hotplug). */
const HOTPLUG_LINE = /lapis: hotplug=(\d+)\r?\n/g;
/** Spawn to the guest's first result line: QEMU's or Bochs's start-up and the firmware, on a loaded host. */
export const STARTUP_LIMIT_MS = 120_000;

/** Parse the emulator's output into result lines, values and runs. Exported for the tests. */
export function parseOutput(out: string): { lines: string[]; values: Record<string, string>; runs: Record<string, string>[]; other: string[] } {
  const lines: string[] = [];
  const values: Record<string, string> = {};
  const runs: Record<string, string>[] = [];
  const other: string[] = [];
  const all = out.split('\n');
  all.pop(); // after the last newline: a line cut short by a crash or a kill is no result
  for (const raw of all) {
    const at = raw.indexOf(PREFIX);
    if (at < 0) {
      if (raw.trim()) other.push(raw);
      continue;
    }
    const text = raw.slice(at + PREFIX.length).trim();
    lines.push(text);
    const kv: Record<string, string> = {};
    for (const tok of text.split(/\s+/)) {
      const eq = tok.indexOf('=');
      if (eq > 0) kv[tok.slice(0, eq)] = tok.slice(eq + 1);
    }
    if ('run' in kv) runs.push(kv);
    else Object.assign(values, kv);
  }
  return { lines, values, runs, other };
}

function classify(lines: string[], values: Record<string, string>, timedOut: string | null, exit: string): { status: BootStatus; reason: string | null } {
  if (timedOut) return { status: 'hung', reason: `timeout: killed at ${timedOut}` };
  if (values.watchdog !== undefined) return { status: 'hung', reason: 'the guest watchdog fired' };
  if (values.exception !== undefined) {
    return { status: 'crashed', reason: `exception ${values.exception} on CPU ${values['exception-cpu'] ?? '?'} at ${values['exception-eip'] ?? '?'}` };
  }
  if (values.error !== undefined) return { status: 'crashed', reason: `guest error: ${values.error}` };
  if (!lines.includes('end')) return { status: 'crashed', reason: `exited (${exit}) without the end marker` };
  return { status: 'completed', reason: null };
}

/** Boot the image once. Never throws. */
export async function bootOnce(opts: BootOptions): Promise<BootResult> {
  const start = Date.now();
  const base = { backend: opts.backend.name };
  let dir: string | null = null;
  try {
    dir = mkdtempSync(join(tmpdir(), 'lapis-run-'));
    holdDir(dir);
    const image = join(dir, 'disk.img');
    copyFileSync(opts.image, image);
    const launch = opts.backend.launch(image, dir, opts.machine);
    for (const [name, text] of Object.entries(launch.files)) writeFileSync(join(dir, name), text);
    const child = spawn(launch.file, launch.args, {
      cwd: dir,
      env: { ...process.env, ...launch.env, TMPDIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: the timeout kills QEMU/Bochs and anything they started
    });
    if (child.pid !== undefined) holdGroup(child.pid);
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('latin1');
    let endTimer: NodeJS.Timeout | null = null;
    let tail = '';
    // CPU hot-plug: each `lapis: hotplug=N` line the guest prints becomes a QMP device_add, in order; the guest
    // waits until the CPU shows in the ACPI CPU hot-plug bitmap. QEMU sets that bit in the plug handler, before it
    // resets the new CPU (hw/core/qdev.c device_set_realized: hotplug_handler_plug, then the cold reset of a
    // hotplugged device), so the VM is stopped around device_add: an INIT or SIPI the guest sends on seeing the bit
    // must not reach the CPU before its reset (it did in 4 of 100 runs on QEMU 7.2: the SIPI code cut short, or never
    // reached). Guest time stands still while it is stopped (cpu_disable_ticks). A refused command ends the boot
    // (crashed).
    const qmp = launch.qmp ? new Qmp(launch.qmp) : null;
    let qmpFailed: string | null = null;
    let plugs = Promise.resolve();
    let scanned = 0;
    const plugRequests = (): void => {
      const end = stdout.lastIndexOf('\n') + 1;
      if (!qmp || end <= scanned) return;
      const text = stdout.slice(scanned, end);
      scanned = end;
      for (const m of text.matchAll(HOTPLUG_LINE)) {
        const id = Number(m[1]);
        const add = async (): Promise<void> => {
          await qmp.execute('stop');
          await qmp.execute('device_add', qmpCpuAdd(opts.backend.name, id));
          await qmp.execute('cont');
        };
        plugs = plugs.then(() => add().then(
          () => undefined,
          (e: Error) => {
            qmpFailed ??= `QMP hot-add (stop, device_add, cont) of the CPU with APIC ID ${id} failed: ${e.message}`;
            killGroup();
          },
        ));
      }
    };
    child.stdout.on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
      tail = (tail + d).slice(-256);
      plugRequests();
      if (!started && stdout.includes(PREFIX)) {
        started = true;
        clearTimeout(timer);
        timer = limit(opts.timeoutMs, `the run limit (${opts.timeoutMs / 1000} s from the guest's first result line)`);
      }
      // The guest prints `lapis: end` and then leaves through the exit ports. Now and then QEMU under kvm_pvm does
      // not exit after it (a vCPU that does not come back from KVM_RUN, as with SIGTERM): the boot is over anyway,
      // so the group is killed shortly after instead of at the timeout.
      if (!endTimer && END_MARKER.test(tail)) endTimer = setTimeout(killGroup, END_GRACE_MS);
    });
    let timedOut: string | null = null;
    let internalError = false;
    child.stderr.on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
      // QEMU stops the VM (and waits forever) on a KVM internal error: record it and end the boot now,
      // leaving a moment for the register dump that follows the message.
      if (!internalError && KVM_INTERNAL_ERROR.test(stderr)) {
        internalError = true;
        setTimeout(killGroup, 300);
      }
    });
    const startupMs = opts.startupLimitMs ?? Math.max(STARTUP_LIMIT_MS, opts.timeoutMs);
    const limit = (ms: number, what: string): NodeJS.Timeout =>
      setTimeout(() => {
        timedOut = what;
        killGroup(); // SIGKILL: QEMU stuck in KVM_RUN ignores SIGTERM (qemu-kvm-off)
      }, ms);
    let timer = limit(startupMs, `the start-up limit (${startupMs / 1000} s without a result line)`);
    let started = false;
    const { code, signal, spawnError } = await new Promise<{ code: number | null; signal: string | null; spawnError: string | null }>(
      (res) => {
        child.on('error', (e) => res({ code: null, signal: null, spawnError: e.message }));
        child.on('close', (c, s) => res({ code: c, signal: s, spawnError: null }));
      },
    );
    clearTimeout(timer);
    if (endTimer) clearTimeout(endTimer);
    qmp?.close();
    killGroup(); // nothing of the group outlives the boot
    if (child.pid !== undefined) releaseGroup(child.pid);
    const parsed = parseOutput(stdout);
    const exit = spawnError ? `spawn error: ${spawnError}` : signal ? `signal ${signal}` : `status ${code}`;
    const { status, reason } = spawnError
      ? { status: 'crashed' as const, reason: `could not start ${launch.file}: ${spawnError}` }
      : internalError
        ? { status: 'crashed' as const, reason: `KVM internal error: ${/emulation failure/.test(stderr) ? 'emulation failure' : 'see diagnostics'}` }
        : qmpFailed !== null
          ? { status: 'crashed' as const, reason: qmpFailed }
          : classify(parsed.lines, parsed.values, timedOut, exit);
    const diag = [...stderr.split('\n').filter((l) => l.trim()), ...parsed.other].slice(-20);
    if (opts.keepTemp) diag.push(`temporary directory kept: ${dir}`);
    return {
      ...base,
      status,
      reason,
      exitCode: code,
      signal,
      ms: Date.now() - start,
      lines: parsed.lines,
      values: parsed.values,
      runs: parsed.runs,
      diagnostics: diag.join('\n'),
    };
  } catch (e) {
    return {
      ...base,
      status: 'crashed',
      reason: `host error: ${(e as Error).message}`,
      exitCode: null,
      signal: null,
      ms: Date.now() - start,
      lines: [],
      values: {},
      runs: [],
      diagnostics: '',
    };
  } finally {
    if (dir && !opts.keepTemp) rmSync(dir, { recursive: true, force: true });
    if (dir) releaseDir(dir);
  }
}

export interface RunManyOptions extends BootOptions {
  /** How many boots. */
  boots: number;
  /** Boots at once (default 1). */
  jobs?: number;
  onBoot?: (r: BootResult, index: number) => void;
}

export interface RunSummary {
  backend: string;
  boots: BootResult[];
  completed: number;
  hung: number;
  crashed: number;
  /** Iterations reported (`run=` lines) over every completed boot, or one per completed boot without them. */
  runs: number;
  ms: number;
}

/** Boot the image `boots` times, `jobs` at once. Never throws. */
export async function runImage(opts: RunManyOptions): Promise<RunSummary> {
  const start = Date.now();
  const results: BootResult[] = new Array(opts.boots);
  let next = 0;
  const worker = async () => {
    while (next < opts.boots) {
      const i = next++;
      const r = await bootOnce(opts);
      results[i] = r;
      opts.onBoot?.(r, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.jobs ?? 1, opts.boots)) }, worker));
  const count = (s: BootStatus) => results.filter((r) => r.status === s).length;
  return {
    backend: opts.backend.name,
    boots: results,
    completed: count('completed'),
    hung: count('hung'),
    crashed: count('crashed'),
    runs: results.filter((r) => r.status === 'completed').reduce((n, r) => n + Math.max(1, r.runs.length), 0),
    ms: Date.now() - start,
  };
}
