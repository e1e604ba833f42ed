// Typed trace records (`lapis run --trace-json`, schemas/trace.schema.json): a run replayed on the simulator, each
// step recorded with what it was (a CPU's or agent's op with its source line:col, an event taken, the hypervisor's
// work for a vCPU, a message's arrival, time passing), the model's trace lines, the messages it sent, and the
// registers it changed on each CPU, found by reading the machine before and after it.

import type { Op } from '../litmus/ast.js';
import { printOp } from '../litmus/print.js';
import { EVENT_NAMES, EventKind, nextEvent } from '../cpu/events.js';
import { StepKind, stepIndex, stepKind, type Simulator } from '../sim/sim.js';
import type { Insn } from '../sim/program.js';
import { cpuChange, machineState, observablesChange, wire, type CpuChange, type MachineState, type WireMsg } from './state.js';

/** The trace format's name and version: a change that could break a reader is a new version. */
export const TRACE_SCHEMA = 'lapis-trace/1';

/**
 * op: a CPU's or agent's next op; event: a CPU takes a pending event instead; hypervisor: the hypervisor's or the
 * hardware assist's work for a vCPU (an AVIC IPI completing, an exit handler, vcpu_load); delivery: an in-flight
 * message arrives; time: virtual time passes to the next deadline.
 */
export type TraceStepKind = 'op' | 'event' | 'hypervisor' | 'delivery' | 'time';

export interface SourcePos {
  line: number;
  col: number;
}

export interface TraceStepRecord {
  /** 1-based position in the run. */
  index: number;
  /** Virtual time after the step (a time step: the time it passed to). */
  time: number;
  kind: TraceStepKind;
  /** The lane the step belongs to: `P0`, `D0`, `hypervisor`, `bus` or `time`. */
  lane: string;
  /** The CPU the step is of (op, event, hypervisor: the vCPU worked for; delivery: the target). */
  cpu?: number;
  /** The agent (`D3`: 3) whose op runs. */
  agent?: number;
  /** The CPU is a vCPU (a test with `accel`). */
  vcpu?: boolean;
  /** The step in one line, as `--trace` printed it before typed records. */
  text: string;
  /** The op that runs: as written, and where (implicit ops, IRET at a handler's end and the idle loop, name their block). */
  op?: { text: string; source?: SourcePos; implicit?: boolean };
  /** The event the CPU takes (`interrupt`, `nmi`, `smi`, `init`, `init-vmexit`, `extint`, `sipi-discard`, or a VM
   *  exit at a window: `vmexit-nmi-window`, `vmexit-intr-window`). */
  event?: { name: string; vector?: number };
  /** The message that arrived. */
  message?: WireMsg;
  /** Messages the step put in flight. */
  sent: WireMsg[];
  /** The model's trace lines (KVM-tracepoint style: `P1 smi: enter SMM smbase=0x30000`). */
  effects: string[];
  /** What the step changed, by CPU (`P1`): vector sets as bits set and cleared, other fields from and to. */
  changed: Record<string, CpuChange>;
  /** The observables whose value the step changed, with their new value. */
  observed?: Record<string, string>;
}

export type TraceRole = 'witness' | 'counterexample' | 'run';

/** One run, as `--trace-json` gives it (schemas/trace.schema.json). */
export interface TraceRecord {
  schema: typeof TRACE_SCHEMA;
  role: TraceRole;
  /** The outcome the run ends in (absent for a run into a cycle). */
  outcome?: Record<string, unknown>;
  /** The outcome key, as `lapis run` prints it. */
  key?: string;
  satisfies?: boolean;
  /** The run ends in a cycle no step leaves: it never reaches a final state. */
  nonTerminating?: true;
  /** The machine before the first step; each step's `changed` applies to the state before it. */
  initial: MachineState;
  steps: TraceStepRecord[];
}

/** A run replayed: the machine before its first step, and its steps. */
export interface ReplayedRun {
  initial: MachineState;
  steps: TraceStepRecord[];
}

function opText(op: Insn): { text: string; implicit?: boolean } {
  switch (op.kind) {
    case 'iret': return { text: 'iret', implicit: true };
    case 'end': return { text: op.main ? 'end of main block' : 'idle (hlt loop)', implicit: true };
    default: return { text: printOp(op as Op) };
  }
}

function opRecord(op: Insn): TraceStepRecord['op'] {
  const r: TraceStepRecord['op'] = opText(op);
  if (op.pos.line > 0) r.source = { line: op.pos.line, col: op.pos.col };
  return r;
}

/** What step `s` is, read before it is taken. */
function describeStep(sim: Simulator, s: number): Omit<TraceStepRecord, 'index' | 'time' | 'sent' | 'effects' | 'changed'> {
  const text = sim.describe(s), i = stepIndex(s);
  switch (stepKind(s)) {
    case StepKind.CPU: {
      const vcpu = sim.vcpus ? { vcpu: true } : {};
      if (sim.vcpus && sim.assist.next(i) === 'work') return { kind: 'hypervisor', lane: 'hypervisor', cpu: i, ...vcpu, text };
      if (sim.eventDue(i)) {
        // A VM exit at an NMI or interrupt window (SDM Vol 3C 26.2) comes before the event it opens for.
        const window = / VM exit \((nmi|intr)-window\)$/.exec(text);
        const ev = nextEvent(sim.machine.cpus[i]);
        const name = window ? `vmexit-${window[1]}-window` : ev === EventKind.INTR ? 'interrupt' : EVENT_NAMES[ev];
        return { kind: 'event', lane: `P${i}`, cpu: i, ...vcpu, text, event: { name } };
      }
      const code = sim.program.cpus[i];
      return { kind: 'op', lane: `P${i}`, cpu: i, ...vcpu, text, op: opRecord(code.insns[sim.pcOf(code)]) };
    }
    case StepKind.AGENT: {
      const code = sim.program.agents[i];
      const lane = text.split(' ')[0];
      return { kind: 'op', lane, agent: Number(lane.slice(1)), text, op: opRecord(code.insns[sim.pcOf(code)]) };
    }
    case StepKind.DELIVER: {
      const message = wire(sim.machine.inFlight()[i]);
      return { kind: 'delivery', lane: 'bus', cpu: message.target, text, message };
    }
    case StepKind.TIME:
      return { kind: 'time', lane: 'time', text };
  }
}

/** Replay `steps` from the initial state, recording each one. */
export function recordRun(sim: Simulator, steps: readonly number[]): ReplayedRun {
  sim.reset();
  const initial = machineState(sim);
  let before = initial;
  const out: TraceStepRecord[] = [];
  for (const s of steps) {
    const d = describeStep(sim, s);
    const effects: string[] = [];
    sim.traced((line) => effects.push(line), () => sim.apply(s));
    const after = machineState(sim);
    const kept = before.inFlight.length - (d.kind === 'delivery' ? 1 : 0);
    const r: TraceStepRecord = { index: out.length + 1, time: after.time, ...d, sent: after.inFlight.slice(Math.max(0, kept)), effects, changed: {} };
    after.cpus.forEach((c, n) => {
      const ch = cpuChange(before.cpus[n], c);
      if (ch) r.changed[`P${n}`] = ch;
    });
    if (r.kind === 'event' && r.event && r.cpu !== undefined) {
      // The vector an interrupt was taken with is the ISR bit it set (SDM Vol 3A 11.8.4).
      const isr = r.changed[`P${r.cpu}`]?.isr;
      if (isr && 'set' in isr && isr.set?.length === 1) r.event.vector = Number(isr.set[0]);
    }
    const observed = observablesChange(before.observables, after.observables);
    if (observed) r.observed = observed;
    out.push(r);
    before = after;
  }
  return { initial, steps: out };
}
