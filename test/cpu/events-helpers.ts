// Shared by the event-rule tests (events.test.ts, events-smm.test.ts): a machine driven through its API.

import { DeliveryMode, Reg, Shorthand } from '../../src/arch/apic.js';
import { ACTIVITY_NAMES } from '../../src/arch/cpu.js';
import { EVENT_NAMES, heldEvents } from '../../src/cpu/events.js';
import { Machine, type MachineConfig } from '../../src/machine/machine.js';

export const INIT = 0x4500;
export const SIPI = (v: number): number => 0x4600 | v;
export const SVR_ON = 0x1ff;

export function machine(config: Partial<MachineConfig> = {}): Machine {
  return new Machine({ cpus: 2, ...config });
}
export function activity(m: Machine, cpu: number): string {
  return ACTIVITY_NAMES[m.cpus[cpu].activity()];
}
/** An xAPIC IPI from `from` to `to`'s APIC ID. */
export function ipi(m: Machine, from: number, to: number, icrLo: number): void {
  m.apicWrite(from, Reg.ICR_HI, m.apics[to].id() << 24);
  m.apicWrite(from, Reg.ICR_LO, icrLo);
}
/** A fixed, edge-triggered MSI to `cpu`'s APIC ID. */
export function interrupt(m: Machine, cpu: number, vector: number): void {
  m.msi((0xfee00000 | (m.apics[cpu].id() << 12)) >>> 0, vector);
}
/** An ExtINT message to `cpu` (as the 8259 through an I/O APIC entry or LINT0 would send it). */
export function extint(m: Machine, cpu: number, vector: number): void {
  m.send(0, {
    vector, mode: DeliveryMode.EXTINT, levelTriggered: false, assert: true, logical: false,
    shorthand: Shorthand.NONE, destination: m.apics[cpu].id(), x2apic: false,
  });
}
/** BSP with its APIC software-enabled and IF = 1. */
export function readyBsp(config: Partial<MachineConfig> = {}): Machine {
  const m = machine(config);
  m.apicWrite(0, Reg.SVR, SVR_ON);
  m.cpus[0].setIf(true);
  return m;
}
/** Boot AP `ap` with INIT-SIPI from the BSP and give it an enabled APIC and IF = 1. */
export function bootAp(m: Machine, ap: number, vector = 0x10): void {
  ipi(m, 0, ap, INIT);
  ipi(m, 0, ap, SIPI(vector));
  m.apicWrite(ap, Reg.SVR, SVR_ON);
  m.cpus[ap].setIf(true);
}
export function held(m: Machine, cpu: number): Record<string, string> {
  return Object.fromEntries(heldEvents(m.cpus[cpu]).map((h) => [EVENT_NAMES[h.kind], h.blockedBy]));
}
