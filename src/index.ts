// lapis: a model of the x86 interrupt architecture. The public, embeddable API: no I/O, no dependencies.
export { Machine } from './machine/machine.js';
export type { MachineConfig, TraceEvent, MsrRead, MsrWrite, TakenEvent } from './machine/machine.js';
export type { Message, LowestPriorityChooser } from './machine/bus.js';
export { hashWords } from './machine/hash.js';
export { LocalApic, GP } from './apic/localApic.js';
export type { ApicMode, ApicConfig } from './apic/localApic.js';
export { Cpu, F as CpuFlag } from './cpu/cpu.js';
export { EventKind, EVENT_NAMES, heldEvents, nextEvent } from './cpu/events.js';
export { IoApic } from './ioapic/ioapic.js';
export { Pic } from './pic/pic.js';
export { HostError } from './arch/errors.js';
export * from './arch/apic.js';
export * from './arch/cpu.js';
