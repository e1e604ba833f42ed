// RDMSR/WRMSR for the MSRs the interrupt architecture owns. Everything else raises #GP, as an MSR the
// processor does not implement does (SDM Vol 2B RDMSR/WRMSR: "#GP(0) if ECX specifies a reserved or
// unimplemented MSR address").

import { MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, X2APIC_MSR_BASE, X2APIC_MSR_LAST } from '../arch/apic.js';
import { GP, type LocalApic } from '../apic/localApic.js';

export const MSR_IA32_TIME_STAMP_COUNTER = 0x10;

export interface MsrContext {
  apic: LocalApic;
  tscDeadlineSupported: boolean;
  /** The TSC: the virtual clock, exact. */
  tsc(): bigint;
}

export function rdmsr(ctx: MsrContext, msr: number): bigint | typeof GP {
  if (msr === MSR_IA32_APIC_BASE) return ctx.apic.apicBase();
  if (msr === MSR_IA32_TIME_STAMP_COUNTER) return ctx.tsc();
  // SDM Vol 3A 11.5.4.1 TSC-Deadline Mode: the MSR exists when CPUID.01H:ECX[24] is set.
  if (msr === MSR_IA32_TSC_DEADLINE) return ctx.tscDeadlineSupported ? ctx.apic.tscDeadline() : GP;
  if (msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_LAST) return ctx.apic.x2apicRead(msr);
  return GP;
}

/** Returns false for #GP. */
export function wrmsr(ctx: MsrContext, msr: number, value: bigint): boolean {
  if (value < 0n || value >> 64n !== 0n) return false;
  if (msr === MSR_IA32_APIC_BASE) return ctx.apic.writeApicBase(value);
  if (msr === MSR_IA32_TSC_DEADLINE) {
    if (!ctx.tscDeadlineSupported) return false;
    ctx.apic.writeTscDeadline(value);
    return true;
  }
  if (msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_LAST) return ctx.apic.x2apicWrite(msr, value);
  return false;
}
