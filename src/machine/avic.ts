// The AVIC hardware's view of an ICR write by a vCPU: its physical and logical APIC ID tables, derived from the
// vCPUs as they are now (a hypervisor fills the tables from the same state: KVM writes the physical table at vCPU
// creation and the logical table on the LDR/DFR write trap), and the IPI delivery failure the write causes.
// AMD APM Vol 2 15.29.3.2 Interprocessor Interrupts; 15.29.2 AVIC Backing Page, Physical/Logical APIC ID Table.

import { DFR_FLAT, DeliveryMode, Reg, Shorthand } from '../arch/apic.js';
import { AvicIpiFailure, avicLogicalIndex } from '../arch/avic.js';
import type { Machine } from './machine.js';
import type { Message } from './bus.js';

/** The physical APIC ID table's last index (KVM programs AVIC_MAX_PHYSICAL_ID, 0xFE: 0xFF is broadcast). */
const PHYSICAL_MAX_INDEX = 0xfe;
const NO_ENTRY = -1;

/** What the hardware makes of an ICR write: a failure cause, or the targets whose IRR it sets. */
export interface AvicIpi {
  /** -1: no failure (the IsRunning check may still exit with TARGET_NOT_RUNNING). */
  cause: AvicIpiFailure | -1;
  /** The destinations (CPU indices), when cause is -1. */
  n: number;
}

/** The vCPU whose physical APIC ID table entry is `id`, or -1 (no vCPU: the entry is invalid). */
function physicalEntry(m: Machine, id: number): number {
  if (id > PHYSICAL_MAX_INDEX) return NO_ENTRY;
  for (const c of m.cpus) if (c.present() && (c.apic.id() & 0xff) === id) return c.index;
  return NO_ENTRY;
}

/**
 * The vCPU whose logical APIC ID table entry is `index`, or -1. A vCPU fills the entry of the lowest set bit of
 * its logical ID (KVM avic_get_logical_id_entry: ffs of the flat ID, or of the cluster's 4 bits): one entry each.
 */
function logicalEntry(m: Machine, flat: boolean, index: number): number {
  for (const c of m.cpus) {
    if (!c.present() || c.apic.isX2apic()) continue;
    const ldr = c.apic.ldr() >>> 24;
    const cFlat = c.apic.peek(Reg.DFR) >>> 0 === DFR_FLAT;
    if (cFlat !== flat) continue;
    const bits = flat ? ldr : ldr & 0xf;
    if (bits === 0) continue;
    const low = 31 - Math.clz32(bits & -bits);
    if (avicLogicalIndex(flat, ldr >>> 4, low) === index) return c.index;
  }
  return NO_ENTRY;
}

/**
 * APM Vol 2 15.29.3.2: the hardware checks the ICR before it touches any backing page. A type other than fixed
 * edge-triggered, then (later revisions) a vector below 16, then any destination without a valid table entry end
 * the write in #VMEXIT(AVIC_INCOMPLETE_IPI) with no IRR bit set anywhere: in logical mode one invalid bit of the
 * MDA fails the whole IPI, even for the valid destinations (KVM "Process ICR on AVIC IPI delivery failure due to
 * invalid target", Jan 2023). Shorthands and the physical broadcast go to every valid entry. A vCPU in x2APIC mode
 * is outside these xAPIC tables (x2AVIC is not modelled): its destinations are the bus's.
 */
export function avicIpi(m: Machine, source: number, message: Message, out: number[]): AvicIpi {
  if (message.mode !== DeliveryMode.FIXED || message.levelTriggered) return { cause: AvicIpiFailure.INVALID_INT_TYPE, n: 0 };
  if (message.vector < 16) return { cause: AvicIpiFailure.INVALID_IPI_VECTOR, n: 0 };
  const broadcast = message.shorthand !== Shorthand.NONE || (!message.logical && (message.destination & 0xff) === 0xff);
  if (broadcast || message.x2apic) return { cause: -1, n: m.bus.targets(source, message, out) };
  let n = 0;
  if (!message.logical) {
    const t = physicalEntry(m, message.destination & 0xff);
    if (t === NO_ENTRY) return { cause: AvicIpiFailure.INVALID_TARGET, n: 0 };
    if (m.cpus[t].apic.globallyEnabled()) out[n++] = t;
    return { cause: -1, n };
  }
  const mda = message.destination & 0xff;
  const flat = m.apics[source].peek(Reg.DFR) >>> 0 === DFR_FLAT;
  const bits = flat ? mda : mda & 0xf, cluster = mda >>> 4;
  for (let b = 0; b < (flat ? 8 : 4); b++) {
    if (!(bits & (1 << b))) continue;
    const t = logicalEntry(m, flat, avicLogicalIndex(flat, cluster, b));
    if (t === NO_ENTRY) return { cause: AvicIpiFailure.INVALID_TARGET, n: 0 };
    if (!m.cpus[t].apic.globallyEnabled()) continue;
    let seen = false;
    for (let i = 0; i < n; i++) seen ||= out[i] === t;
    if (!seen) out[n++] = t;
  }
  return { cause: -1, n };
}
