// What a processor reaches beside its APIC's registers and the APIC bus (CPUID, CR8, physical addresses), and what a
// VMM does to a vCPU's APIC from the host (decision D-36). Functions of a Machine, through its public API.

import { ApicBase } from '../arch/apic.js';
import { CpuidBit, type CpuidRegName } from '../arch/cpu.js';
import { HostError, checkU32 } from '../arch/errors.js';
import { IOAPIC_DEFAULT_BASE } from '../arch/ioapic.js';
import { A } from '../apic/layout.js';
import { readCr8, writeCr8 } from '../apic/pins.js';
import { hostWriteApicBase } from '../apic/vmm.js';
import type { LocalApic } from '../apic/localApic.js';
import type { Machine } from './machine.js';

/** The APIC of a processor that executes `what`: an empty slot executes nothing (host misuse). */
function executing(m: Machine, cpu: number, what: string): LocalApic {
  if (!m.cpu(cpu).present()) throw new HostError('bad-cpu', `CPU ${cpu} is not present (an empty slot): no ${what}`);
  return m.apic(cpu);
}

/** CPUID leaf.subleaf: only the fields the interrupt architecture owns (CPUID_FIELDS); every other bit reads 0. */
export function cpuid(m: Machine, cpu: number, leaf: number, subleaf = 0): Record<CpuidRegName, number> {
  checkU32(leaf, 'CPUID leaf');
  checkU32(subleaf, 'CPUID sub-leaf');
  const a = executing(m, cpu, 'CPUID'), out = { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  if (leaf === 0x1) {
    out.ebx = ((a.word(A.INITIAL_ID) & 0xff) << CpuidBit.INITIAL_APIC_ID_SHIFT) >>> 0;
    out.ecx = (m.config.x2apic ? CpuidBit.X2APIC : 0) | (m.config.tscDeadline ? CpuidBit.TSC_DEADLINE : 0);
    out.edx = a.globallyEnabled() ? CpuidBit.APIC : 0;
  } else if (leaf === 0xb) {
    out.edx = a.word(A.INITIAL_ID) >>> 0;
  }
  return out;
}

/** MOV to CR8 (src/apic/pins.ts); false: #GP. */
export function cr8Write(m: Machine, cpu: number, value: bigint): boolean {
  if (typeof value !== 'bigint') throw new HostError('bad-argument', `a CR8 value is a bigint, got ${String(value)}`);
  return writeCr8(executing(m, cpu, 'MOV to CR8'), value);
}
export function cr8Read(m: Machine, cpu: number): number {
  return readCr8(executing(m, cpu, 'MOV from CR8'));
}

/**
 * A 32-bit read at a physical address by CPU `cpu`: its own APIC's page if it decodes it (SDM Vol 3A 11.4.1),
 * else the I/O APIC's window at FEC00000H (82093AA 3.0), else nothing answers and the read is all ones (D-31).
 */
export function physRead(m: Machine, cpu: number, address: number): number {
  checkU32(address, 'physical address');
  const v = m.mmioRead(cpu, address);
  if (v !== undefined) return v;
  if (m.ioapic && address >>> 12 === IOAPIC_DEFAULT_BASE >>> 12) return m.ioapic.mmioRead(address & 0xfff);
  // Quirk unassignedReadsZero: QEMU's unassigned_mem_read returns 0.
  return m.quirks.unassignedReadsZero ? 0 : 0xffffffff;
}
/** A 32-bit write at a physical address (physRead's decoding); a write nothing decodes is lost (D-31). */
export function physWrite(m: Machine, cpu: number, address: number, value: number): void {
  checkU32(address, 'physical address');
  checkU32(value, 'MMIO value');
  if (m.mmioWrite(cpu, address, value)) return;
  if (m.ioapic && address >>> 12 === IOAPIC_DEFAULT_BASE >>> 12) m.ioapic.mmioWrite(address & 0xfff, value);
}

// ---------------------------------------------------------------- a VMM's host-side access (decision D-36)

/** KVM_GET_LAPIC with IA32_APIC_BASE: CPU `cpu`'s APIC words, into `into` (A.WORDS long). */
export function saveLapic(m: Machine, cpu: number, into: Uint32Array): void {
  if (!(into instanceof Uint32Array) || into.length !== A.WORDS) throw new HostError('bad-argument', `a saved APIC state is a Uint32Array of ${A.WORDS} words`);
  const a = m.apic(cpu);
  for (let i = 0; i < A.WORDS; i++) into[i] = a.word(i);
}

/** KVM_SET_LAPIC: the register state written back as `saveLapic` saved it; IA32_APIC_BASE, the initial ID and the
 *  pins stay. */
export function restoreLapic(m: Machine, cpu: number, from: Uint32Array): void {
  if (!(from instanceof Uint32Array) || from.length !== A.WORDS) throw new HostError('bad-argument', `a saved APIC state is a Uint32Array of ${A.WORDS} words`);
  const a = m.apic(cpu);
  if (!m.cpu(cpu).present()) return;
  const keep: readonly number[] = [A.BASE_LO, A.BASE_HI, A.INITIAL_ID, A.LINT];
  for (let i = 0; i < A.WORDS; i++) if (!keep.includes(i)) a.setWord(i, from[i]);
}

/**
 * A host write of IA32_APIC_BASE (KVM_SET_MSRS with host_initiated): no transition is refused, but the value must be
 * one the MSR can hold, as KVM's kvm_set_apic_base checks even for the host: no reserved bit (0-7, 9, at or above
 * MAXPHYADDR), no EXTD without x2APIC, not EXTD without EN (SDM Vol 3A 11.12.5 "invalid"). Otherwise a HostError.
 */
export function restoreApicBase(m: Machine, cpu: number, value: bigint): void {
  const c = m.cpu(cpu);
  if (typeof value !== 'bigint' || value < 0n || value >> BigInt(m.config.maxPhysAddr) !== 0n) {
    throw new HostError('bad-argument', `IA32_APIC_BASE must be a bigint below 2^MAXPHYADDR (2^${m.config.maxPhysAddr}), got ${String(value)}`);
  }
  const lo = Number(value & 0xffffffffn), en = (lo & ApicBase.EN) !== 0, extd = (lo & ApicBase.EXTD) !== 0;
  if ((lo & ApicBase.RESERVED_LOW) !== 0) throw new HostError('bad-argument', `IA32_APIC_BASE reserved bits 0-7 and 9 must be 0, got 0x${value.toString(16)}`);
  if (extd && (!m.config.x2apic || !en)) {
    throw new HostError('bad-argument', `IA32_APIC_BASE EXTD needs ${m.config.x2apic ? 'EN (EXTD without EN is the invalid state)' : 'x2APIC, which this machine has not'}, got 0x${value.toString(16)}`);
  }
  if (c.present()) hostWriteApicBase(c.apic, value);
}
