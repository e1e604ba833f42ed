// Litmus test -> NASM guest (docs/conformance.md, "Compiled litmus guests"): the analysis (analyze.ts) decides
// what a real machine can run and what the guest must set up; the emission (emit.ts) writes the NASM. What cannot
// run on a real machine, or not faithfully with this runtime, is refused with a CompileRefusal naming the
// construct, the reason and a category; what only some backends lack (SMM, x2APIC) is refused per backend by
// backendRefusal().

import type { LitmusTest } from '../litmus/ast.js';
import { HostError } from '../arch/errors.js';
import { observableName } from '../litmus/print.js';
import type { GuestNeeds } from '../litmus/ops/types.js';
import { Analyzer, CompileRefusal } from './analyze.js';
import type { Backend, MachineRequest } from './backends.js';
import { Emitter, SIPI_SETTLE_FACTOR, TIMER_WAIT_US_PER_TICK } from './emit.js';
import { NESTED_WAIT_US_PER_TICK, nestedRefusalReason, usesNested } from './nested.js';

export { CompileRefusal, type GuestNeeds };
export { COUNTABLE_LOW_VECTORS, SIPI_SETTLE_FACTOR, TIMER_WAIT_US_PER_TICK, countedLowVectors } from './emit.js';
export { TIMER_MARGIN_TICKS } from './timer-plan.js';

export interface CompileOptions {
  /** Microseconds of busy-wait per tick of `wait N` (default 10). */
  waitUsPerTick?: number;
  /**
   * Quiet time after every program finished, before the end-of-test ping (default 500 µs); after a SIPI, INIT, NMI
   * or SMI sent the run stays open SIPI_SETTLE_FACTOR times as long (the target's way to its SIPI code, an NMI on
   * its way). A host that starves a vCPU for longer than that can end a run early: lengthen it there
   * (docs/conformance.md, "Quiet time").
   */
  settleUs?: number;
  /**
   * How long the coordinator waits for each CPU's answer to the end-of-test ping, µs (default guest/litmus.asm's
   * LIT_PING_US, 20 ms). A CPU that has not answered by then is reported without its ping's values, and its ping,
   * when it comes, is not counted as the test's NMI. A short one exercises that path (test/backends/late-ping.test.ts).
   */
  pingUs?: number;
}

export const DEFAULT_WAIT_US_PER_TICK = 10;
export const DEFAULT_SETTLE_US = 500;
/** The quiet times a run may have: within a run's limit (MAX_WAIT_US) with its waits, and longer than a poll. */
export const MIN_SETTLE_US = 100, MAX_SETTLE_US = 100_000;
export const validSettleUs = (v: number): boolean => Number.isInteger(v) && v >= MIN_SETTLE_US && v <= MAX_SETTLE_US;
/** A run that has not finished after this (plus twice its waits) is pinged anyway: an await that never holds. */
export const BASE_ITER_TIMEOUT_US = 20_000;

export interface CompiledTest {
  test: LitmusTest;
  /** The NASM source (ITERATIONS is a -D define, default 1). */
  asm: string;
  /** The test's CPUs (APIC IDs 0..cpus-1). */
  cpus: number;
  /** Spare CPUs after them: the coordinator (which also plays the first agent) and one per further agent. */
  spares: number;
  machine: MachineRequest;
  /** The observables in report order: the model's names (observableName), as the simulator lists them. */
  observables: string[];
  needs: GuestNeeds;
  /** The guest-time bound of one run, microseconds (for the host's timeout). */
  iterTimeoutUs: number;
}

const MAX_WAIT_US = 1_000_000;
/** What a run may spend waiting for the host to hot-add a CPU (guest time: under TCG the TSC follows the host's).
 *  A run's limit stays within MAX_WAIT_US: guest/litmus-sleep.asm lit_elapsed divides tsc_per_ms x µs by 1000
 *  into 32 bits (1.5 s overflowed it, #DE, at a TSC calibrated above 2.8 GHz). */
const HOTPLUG_US = 900_000;

/** Compile a litmus test into a guest. Throws CompileRefusal for what it will not run. */
export function compileTest(test: LitmusTest, opts: CompileOptions = {}): CompiledTest {
  const settleUs = opts.settleUs ?? DEFAULT_SETTLE_US;
  if (!validSettleUs(settleUs)) {
    throw new HostError('bad-argument', `settleUs must be an integer from ${MIN_SETTLE_US} to ${MAX_SETTLE_US} µs, not ${settleUs}`);
  }
  if (opts.pingUs !== undefined && !(Number.isInteger(opts.pingUs) && opts.pingUs >= 1 && opts.pingUs <= MAX_WAIT_US)) {
    throw new HostError('bad-argument', `pingUs must be an integer from 1 to ${MAX_WAIT_US} µs, not ${opts.pingUs}`);
  }
  const analyzer = new Analyzer(test, opts.waitUsPerTick ?? (usesNested(test) ? NESTED_WAIT_US_PER_TICK : DEFAULT_WAIT_US_PER_TICK));
  const plan = analyzer.analyze();
  if (plan.timer) {
    plan.waitUs = (plan.waitUs / plan.waitPerTick) * TIMER_WAIT_US_PER_TICK;
    plan.waitPerTick = TIMER_WAIT_US_PER_TICK;
  }
  // The base covers the default quiet time after a SIPI; a longer one adds its excess.
  let iterTimeoutUs = BASE_ITER_TIMEOUT_US + 2 * plan.waitUs + SIPI_SETTLE_FACTOR * Math.max(0, settleUs - DEFAULT_SETTLE_US);
  if (iterTimeoutUs > MAX_WAIT_US) throw new CompileRefusal('wait', `the test's waits add up to ${plan.waitUs} µs at ${plan.waitPerTick} µs a tick: more than a run may take here`, null, null, 'long-waits');
  // A hot-add goes through the host (the guest's line, QMP, QEMU's main loop): host time, not the test's.
  if (plan.needs.hotplug) iterTimeoutUs = Math.min(MAX_WAIT_US, iterTimeoutUs + HOTPLUG_US);
  const asm = new Emitter(plan, analyzer, settleUs, opts.pingUs).emit(plan.observables, iterTimeoutUs);
  return {
    test,
    asm,
    cpus: plan.cpus,
    spares: plan.spares,
    machine: {
      cpus: plan.cpus + plan.spares,
      ...(plan.needs.irqLines ? { irqLines: true } : {}),
      ...(plan.needs.msi ? { msi: true } : {}),
      ...(plan.needs.x2apic && !test.settings.x2apic ? { x2apic: false } : {}),
      ...(plan.needs.timerTiming !== null ? { guestClock: true } : {}),
      ...(analyzer.unplugged().length > 0 ? { unplugged: analyzer.unplugged() } : {}),
      ...(plan.needs.hotplug ? { hotplug: true } : {}),
    },
    observables: plan.observables.map((o) => observableName(o)),
    needs: plan.needs,
    iterTimeoutUs,
  };
}

/** Whether a compiled test can run on `backend` (features), or the refusal saying why not. */
export function backendRefusal(c: CompiledTest, backend: Backend): CompileRefusal | null {
  const f = backend.features();
  const name = backend.name;
  if (backend.maxCpus && c.machine.cpus > backend.maxCpus.cpus) {
    return new CompileRefusal(`config cpus = ${c.cpus}`, `the guest needs ${c.machine.cpus} CPUs (${c.spares} spare); ${backend.maxCpus.reason}`, null, name, 'bochs-cpus');
  }
  if (c.needs.nmi && !f.iret.ok) {
    return new CompileRefusal('NMI', `the test's NMIs need IRET to end NMI blocking: ${f.iret.reason}`, null, name, 'no-iret');
  }
  if (c.needs.smm && !f.smm.ok) return new CompileRefusal('SMI', `unsupported by this host: ${f.smm.reason}`, null, name, 'no-smm');
  if (c.needs.tscDeadlineMode && !f.tscDeadline.ok) {
    return new CompileRefusal('LVT_TIMER', `the test arms the timer in TSC-deadline mode (IA32_TSC_DEADLINE, or a TIMER_ICR count the mode ignores); this backend has no TSC-deadline mode (${f.tscDeadline.reason}): its timer would ignore the deadline, or count the TIMER_ICR value one-shot`, null, name, 'no-tsc-deadline');
  }
  if (c.needs.timerTiming !== null && !f.guestClock.ok) return new CompileRefusal('the APIC timer', `${c.needs.timerTiming} (${f.guestClock.reason})`, null, name, 'apic-timer');
  const nested = nestedRefusalReason(c.needs.nested, f);
  if (nested) return new CompileRefusal(c.needs.nested === 'svm' ? 'SVM' : 'VMX', nested, null, name, 'nested-vmx');
  if (c.needs.irqLines && !f.irqLines.ok) return new CompileRefusal('irq', `an agent drives I/O APIC pins: ${f.irqLines.reason}`, null, name, 'ioapic-msi');
  if (c.needs.msi && !f.msi.ok) return new CompileRefusal('msi', `an agent sends device MSIs: ${f.msi.reason}`, null, name, 'ioapic-msi');
  if (c.needs.ioapicVersion && f.ioapicVersion !== c.test.settings.ioapicVersion) {
    return new CompileRefusal('ioapic-version', `the test's I/O APIC is version ${hexv(c.test.settings.ioapicVersion)}, this backend's ${hexv(f.ioapicVersion)} (${f.ioapicVersion === 0x11 ? 'no' : 'an'} EOI register)`, null, name, 'ioapic-msi');
  }
  if (c.machine.unplugged && !f.cpuHotplug.ok) return new CompileRefusal(`P${c.machine.unplugged[0]}.activity = unplugged`, `an empty CPU slot${c.needs.hotplug ? ' hot-added while the guest runs' : ''}: ${f.cpuHotplug.reason}`, null, name, 'hotplug');
  if (c.needs.smiToP0 && !f.smiToBsp.ok) return new CompileRefusal('SMI to P0', f.smiToBsp.reason, null, name, 'smi-to-bsp');
  if (c.needs.x2apic && !c.test.settings.x2apic && f.x2apic.ok && !f.x2apicHidden.ok) {
    return new CompileRefusal('x2APIC', `the test's CPUs have no x2APIC (config x2apic = false); this backend's CPUs have it: ${f.x2apicHidden.reason}`, null, name, 'x2apic-backend');
  }
  if (c.needs.x2apic && c.test.settings.x2apic && !f.x2apic.ok) {
    return new CompileRefusal(
      'x2APIC',
      `the test's CPUs have x2APIC (config x2apic = true); this backend's do not: ${f.x2apic.reason}`,
      null, name, 'x2apic-backend',
    );
  }
  return null;
}

const hexv = (v: number): string => `0x${v.toString(16)}`;
