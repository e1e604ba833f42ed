// Register access helpers shared by the local APIC tests.
import { Machine, Reg, type MachineConfig } from '../../src/index.js';

export function machine(config: Partial<MachineConfig> = {}): Machine {
  return new Machine({ cpus: 2, ...config });
}

/** An xAPIC register read that must decode. */
export function rd(m: Machine, cpu: number, offset: number): number {
  const v = m.apicRead(cpu, offset);
  if (v === undefined) throw new Error(`APIC of CPU ${cpu} did not decode offset 0x${offset.toString(16)}`);
  return v;
}

/** An xAPIC register write that must decode. */
export function wr(m: Machine, cpu: number, offset: number, value: number): void {
  if (!m.apicWrite(cpu, offset, value)) throw new Error(`APIC of CPU ${cpu} did not decode offset 0x${offset.toString(16)}`);
}

/** Publish the ESR latch and read it (SDM Vol 3A 11.5.3: write, then read). */
export function esr(m: Machine, cpu: number): number {
  wr(m, cpu, Reg.ESR, 0);
  return rd(m, cpu, Reg.ESR);
}
