// lapis: a model of the x86 interrupt architecture. The public, embeddable API: no I/O, no dependencies.
export { Machine } from './machine/machine.js';
export type { MachineConfig, TraceEvent, MsrRead, MsrWrite, TakenEvent } from './machine/machine.js';
export type { Message, LowestPriorityChooser } from './machine/bus.js';
export { hashWords } from './machine/hash.js';
export { cpuid, cr8Read, cr8Write, physRead, physWrite, restoreApicBase, restoreLapic, saveLapic } from './machine/platform.js';
export { LocalApic, GP } from './apic/localApic.js';
export type { ApicMode, ApicConfig } from './apic/localApic.js';
export { Cpu, F as CpuFlag } from './cpu/cpu.js';
export { EventKind, EVENT_NAMES, heldEvents, nextEvent } from './cpu/events.js';
export { IoApic } from './ioapic/ioapic.js';
export { Pic } from './pic/pic.js';
export { HostError } from './arch/errors.js';
export * from './arch/apic.js';
export * from './arch/cpu.js';

// The litmus front end, the simulator and the explorer (browser-safe: no I/O). lapis/backends has what needs Node.
export type * from './litmus/ast.js';
export { parseLitmus, type ParseResult } from './litmus/parse.js';
export { Diagnostic } from './litmus/diagnostic.js';
export { printTest, printOp, printCond, printFinal, printExpr, observableName } from './litmus/print.js';
export { Simulator, SimError, UnsupportedError, StepKind, formatValue, type OutcomeValue } from './sim/sim.js';
export { PROFILES, DEFAULT_PROFILE, findProfile, type Profile, type Deviation } from './sim/profiles.js';
export { NO_QUIRKS, type Quirks, type LowestPriorityRule, type SoftDisabledIrr, type ApicMmioInSmm, type AvicIncompleteIpiHandler } from './arch/quirks.js';
export { explore, type ExploreOptions, type ExploreResult, type Outcome } from './explore/explore.js';
export { answer, formatAnswer, type Answer, type Result } from './explore/answer.js';
export { formatTrace, replay, traceRecords, TRACE_SCHEMA, type TraceStep, type TraceRecord, type TraceRole } from './explore/trace.js';
export type { TraceStepKind, SourcePos } from './explore/records.js';
export type { MachineState, CpuState, CpuChange, WireMsg } from './explore/state.js';
export { runLitmus, runTest, jsonAnswer, LitmusError, DEFAULT_MAX_STATES, DEFAULT_MAX_DEPTH, type RunOptions, type LitmusAnswer, type Run, type JsonValue } from './explore/run.js';
