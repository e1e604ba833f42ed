// The machine as a trace shows it: each CPU's interrupt state (IRR/ISR/TMR, TPR/PPR, activity, SMM, latched and held
// events, VMX mode, and for vCPUs IsRunning and the PIR) read from a simulator, and the difference between two such
// readings, which is what a trace step records as the registers it changed. The web app's replay reads the same.

import { Reg } from '../arch/apic.js';
import { ACTIVITY_NAMES, VMX_MODE_NAMES } from '../arch/cpu.js';
import { F } from '../cpu/cpu.js';
import { EVENT_NAMES, heldEvents } from '../cpu/events.js';
import { formatValue, type Simulator } from '../sim/sim.js';

/** A message on the APIC bus (or posted): source -1 is the platform (I/O APIC, MSI, pins). */
export interface WireMsg {
  source: number;
  target: number;
  mode: string;
  vector: number;
}

export interface CpuState {
  activity: string;
  smm: boolean;
  if: boolean;
  nmiBlocked: boolean;
  irr: number[];
  isr: number[];
  tmr: number[];
  tpr: number;
  ppr: number;
  svr: number;
  ldr: number;
  esr: number;
  lvtTimer: number;
  timerCount: number;
  apicMode: string;
  apicId: number;
  /** Latched signals: `init`, `smi`, `nmi`, `extint`, `sipi 0x10`. */
  latched: string[];
  /** Pending events the CPU cannot take now, and what holds them (SDM Vol 3A 7.9). */
  held: { event: string; blockedBy: string }[];
  vmx: string;
  /** vCPU tests only: on a physical CPU (IsRunning), and the posted-interrupt requests. */
  running: boolean | null;
  pir: number[];
}

export interface MachineState {
  time: number;
  cpus: CpuState[];
  inFlight: WireMsg[];
  /** The test's observables now, formatted as `lapis run` prints them. */
  observables: Record<string, string>;
}

/** The CpuState fields that are sets of vectors (a change lists the bits set and cleared). */
export const VECTOR_SETS = ['irr', 'isr', 'tmr', 'pir'] as const;

/** One field's change: a set's bits set and cleared, or any other field's value before and after. */
export type FieldChange = { set?: (number | string)[]; cleared?: (number | string)[] } | { from: unknown; to: unknown };

/** What a step changed on one CPU, by CpuState field. */
export type CpuChange = Partial<Record<keyof CpuState, FieldChange>>;

export function wire(m: { source: number; target: number; mode: string; vector: number }): WireMsg {
  return { source: m.source, target: m.target, mode: m.mode, vector: m.vector };
}

const LATCHES: [number, string][] = [[F.INIT_PENDING, 'init'], [F.SMI_PENDING, 'smi'], [F.NMI_PENDING, 'nmi'], [F.EXTINT_PENDING, 'extint']];

function bits(has: (v: number) => boolean): number[] {
  const v: number[] = [];
  for (let i = 0; i < 256; i++) if (has(i)) v.push(i);
  return v;
}

/** CPU c as a trace shows it. */
export function cpuState(sim: Simulator, c: number): CpuState {
  const m = sim.machine, cpu = m.cpus[c], apic = m.apics[c];
  const latched = LATCHES.filter(([f]) => cpu.has(f)).map(([, n]) => n);
  if (cpu.has(F.SIPI_LATCHED)) latched.push(`sipi 0x${cpu.sipiVector().toString(16)}`);
  const pos = { line: 0, col: 0 };
  return {
    activity: ACTIVITY_NAMES[cpu.activity()], smm: cpu.inSmm(), if: cpu.interruptsEnabled(), nmiBlocked: cpu.has(F.NMI_BLOCKED),
    irr: bits((v) => apic.irr(v)), isr: bits((v) => apic.isr(v)), tmr: bits((v) => apic.tmr(v)),
    tpr: apic.tpr(), ppr: apic.ppr(), svr: Math.max(apic.peek(Reg.SVR), 0), ldr: Math.max(apic.peek(Reg.LDR), 0),
    esr: Math.max(apic.peek(Reg.ESR), 0), lvtTimer: Math.max(apic.peek(Reg.LVT_TIMER), 0), timerCount: Math.max(apic.peek(Reg.TIMER_CCR), 0),
    apicMode: apic.mode(), apicId: apic.id(), latched,
    held: heldEvents(cpu).map((h) => ({ event: EVENT_NAMES[h.kind], blockedBy: h.blockedBy })),
    vmx: VMX_MODE_NAMES[cpu.vmx()],
    running: sim.vcpus ? sim.value({ kind: 'running', cpu: c, pos }) === 1 : null,
    pir: sim.vcpus ? bits((v) => sim.value({ kind: 'pir', cpu: c, vector: v, pos }) === 1) : [],
  };
}

/** The observables' values now, formatted as `lapis run` prints them. */
export function observablesNow(sim: Simulator): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sim.outcome().values)) out[k] = formatValue(v);
  return out;
}

/** The whole machine as a trace shows it. */
export function machineState(sim: Simulator): MachineState {
  const m = sim.machine;
  return { time: m.now(), cpus: m.cpus.map((_, c) => cpuState(sim, c)), inFlight: m.inFlight().map(wire), observables: observablesNow(sim) };
}

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** What changed on one CPU from `a` to `b`; null when nothing did. */
export function cpuChange(a: CpuState, b: CpuState): CpuChange | null {
  const out: CpuChange = {};
  let any = false;
  for (const k of Object.keys(b) as (keyof CpuState)[]) {
    if (same(a[k], b[k])) continue;
    any = true;
    if ((VECTOR_SETS as readonly string[]).includes(k) || k === 'latched') {
      const x = a[k] as (number | string)[], y = b[k] as (number | string)[];
      const set = y.filter((v) => !x.includes(v)), cleared = x.filter((v) => !y.includes(v));
      out[k] = { ...(set.length ? { set } : {}), ...(cleared.length ? { cleared } : {}) };
    } else out[k] = { from: a[k], to: b[k] };
  }
  return any ? out : null;
}

/** The observables whose value changed, with their new value. */
export function observablesChange(a: Record<string, string>, b: Record<string, string>): Record<string, string> | null {
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(b)) {
    if (a[k] === v) continue;
    out[k] = v;
    any = true;
  }
  return any ? out : null;
}
