// The AVIC hardware's view of an ICR write by a vCPU: its physical and logical APIC ID tables, derived from the
// vCPUs as they are now (a hypervisor fills the tables from the same state: KVM writes the physical table at vCPU
// creation and the logical table on the LDR/DFR write trap), and the IPI delivery failure the write causes.
// AMD APM Vol 2 15.29.3.2 Interprocessor Interrupts; 15.29.2 AVIC Backing Page, Physical/Logical APIC ID Table.

import { DFR_FLAT, DeliveryMode, Icr, Reg, Shorthand } from '../arch/apic.js';
import { AVIC_FAULT_READS, AVIC_IPI_FAILURE_NAMES, AVIC_TRAP_WRITES, AvicIpiFailure, avicLogicalIndex } from '../arch/avic.js';
import type { Machine } from '../machine/machine.js';
import type { Message } from '../machine/bus.js';
import type { AvicIncompleteIpiHandler } from '../arch/quirks.js';
import { F } from '../cpu/cpu.js';
import { Sched, W, type AssistCore } from './state.js';
import { put } from '../arch/writes.js';

const resends = (h: AvicIncompleteIpiHandler): boolean => h === 'resend' || h === 'resend-kick';

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

// ---------------------------------------------------------------- the IPI path, step by step

/** The ICR write as the AVIC hardware decodes it. */
function icrMessage(m: Machine, c: number, lo: number, destination: number): Message {
  return {
    vector: lo & Icr.VECTOR, mode: ((lo & Icr.DELIVERY_MODE_MASK) >>> Icr.DELIVERY_MODE_SHIFT) as DeliveryMode,
    levelTriggered: (lo & Icr.TRIGGER_LEVEL) !== 0, assert: (lo & Icr.LEVEL_ASSERT) !== 0, logical: (lo & Icr.DEST_LOGICAL) !== 0,
    shorthand: ((lo & Icr.SHORTHAND_MASK) >>> Icr.SHORTHAND_SHIFT) as Shorthand, destination, x2apic: m.apics[c].isX2apic(),
  };
}

/** Whether AVIC handles this ICR write through its tables: all but a fixed, edge self-IPI, which the hardware
 *  accelerates in the sender's own backing page (APM Vol 2 15.29.3.2). */
export function avicIntercepts(lo: number): boolean {
  const mode = (lo & Icr.DELIVERY_MODE_MASK) >>> Icr.DELIVERY_MODE_SHIFT, shorthand = (lo & Icr.SHORTHAND_MASK) >>> Icr.SHORTHAND_SHIFT;
  return !(mode === DeliveryMode.FIXED && shorthand === Shorthand.SELF && (lo & Icr.TRIGGER_LEVEL) === 0);
}

function notRunning(a: AssistCore, mask: number): number {
  let out = 0;
  for (let t = 0; t < a.machine.cpus.length; t++) if (mask & (1 << t) && a.s[a.w(t, W.SCHED)] & Sched.NOT_RUNNING) out |= 1 << t;
  return out >>> 0;
}

/**
 * Quirk avicStaleIsRunning (AMD erratum 1235, Family 17h; KVM 8de4a1c8164e: "hardware doesn't reliably detect changes
 * to the 'IsRunning' bit during ICR write emulation, and might fail to VM-Exit on the sending vCPU, if IsRunning was
 * recently cleared"): vCPU c's view of every IsRunning bit, taken at its VM entries (avicEntered).
 */
export function avicEntered(a: AssistCore, c: number): void {
  if (a.quirks.avicStaleIsRunning) put(a.s, a.w(c, W.AVIC_SEEN_NOT_RUNNING), notRunning(a, 0xffffffff));
}

/**
 * An ICR write under AVIC. APM Vol 2 15.29.3.2 Interprocessor Interrupts: the hardware first checks the write
 * (avicIpi: type, vector, table entries); a failure is #VMEXIT(AVIC_INCOMPLETE_IPI), trap-like (after the write),
 * with no IRR bit set, and the hypervisor's handler runs before the vCPU's next instruction (in this step).
 * Otherwise "for every valid destination: atomically set the appropriate IRR bit in each of the destinations' vAPIC
 * backing page; check the IsRunning status of each destination; if set, send a doorbell", then "if any
 * destinations are identified as not currently scheduled ... cause a #VMEXIT" (cause 1). This step sets the IRR
 * bits; the sender's next step reads IsRunning (avicStep). Under the avicIsRunningBeforeIrr quirk the order is the
 * other way round. Doorbells need no model: a running vCPU takes its IRR at its next boundary. False on #GP (an
 * emulated x2APIC ICR write the APIC refuses).
 */
export function avicIcrWrite(a: AssistCore, c: number, lo: number, destination: number): boolean {
  const m = a.machine, message = icrMessage(m, c, lo, destination), q = a.quirks;
  const targets: number[] = [];
  const { cause, n } = avicIpi(m, c, message, targets);
  if (cause !== -1) {
    a.exit(c, 'incomplete-ipi');
    // KVM avic_incomplete_ipi_interception: causes 0 and 2 emulate the ICR write (the invalid-target case only
    // since Jan 2023); cause 4 is ignored (KVM, Sept 2023; earlier KVM logged "Unknown IPI interception").
    const ignored = (cause === AvicIpiFailure.INVALID_TARGET && q.avicInvalidTargetIgnored) || (cause === AvicIpiFailure.INVALID_IPI_VECTOR && q.avicInvalidVectorIgnored);
    if (a.tracing) a.trace(c, `avic: #VMEXIT incomplete IPI (${AVIC_IPI_FAILURE_NAMES[cause]}): kvm ${ignored ? 'ignores it' : 'emulates the ICR write'}`);
    return ignored || a.emulateIcr(c, lo, destination);
  }
  let mask = 0;
  for (let i = 0; i < n; i++) mask |= 1 << targets[i];
  put(a.s, a.w(c, W.AVIC_VECTOR), message.vector);
  put(a.s, a.w(c, W.AVIC_TARGETS), mask >>> 0);
  if (q.avicIsRunningBeforeIrr) put(a.s, a.w(c, W.AVIC_NOT_RUNNING), notRunning(a, mask));
  else for (let i = 0; i < n; i++) m.apics[targets[i]].acceptFixed(message.vector, false);
  put(a.s, a.w(c, W.AVIC_STAGE), 1);
  if (a.tracing) a.trace(c, `avic: ipi 0x${message.vector.toString(16)} to mask 0x${mask.toString(16)}${q.avicIsRunningBeforeIrr ? ' (IsRunning read first)' : ': IRR set'}`);
  return true;
}

/** The second half of an AVIC IPI on the hardware, then the hypervisor's incomplete-IPI handler, a target a step. */
export function avicStep(a: AssistCore, c: number): void {
  const m = a.machine, s = a.s, q = a.quirks;
  const stage = a.w(c, W.AVIC_STAGE), targets = a.w(c, W.AVIC_TARGETS), vector = s[a.w(c, W.AVIC_VECTOR)];
  if (s[stage] === 1) {
    let missed: number;
    if (q.avicIsRunningBeforeIrr) {
      missed = s[a.w(c, W.AVIC_NOT_RUNNING)];
      for (let t = 0; t < m.cpus.length; t++) if (s[targets] & (1 << t)) m.apics[t].acceptFixed(vector, false);
    } else {
      missed = notRunning(a, s[targets]);
    }
    if (q.avicStaleIsRunning) {
      const stale = missed & ~s[a.w(c, W.AVIC_SEEN_NOT_RUNNING)];
      if (stale && a.tracing) a.trace(c, `avic: IsRunning of mask 0x${stale.toString(16)} read stale as 1, cleared since this vCPU's last VM entry (quirk avicStaleIsRunning: erratum 1235): no exit, no wake-up`);
      missed &= s[a.w(c, W.AVIC_SEEN_NOT_RUNNING)];
    }
    put(s, a.w(c, W.AVIC_NOT_RUNNING), 0);
    if (missed === 0) {
      put(s, stage, 0);
      put(s, targets, 0);
      put(s, a.w(c, W.AVIC_VECTOR), 0);
      return;
    }
    // #VMEXIT(AVIC_INCOMPLETE_IPI), cause 1: IPI target not running.
    a.exit(c, 'incomplete-ipi');
    put(s, stage, 2);
    // KVM of early 2019 re-sends to every destination of the ICR; the fixed handler wakes the ones not running.
    if (!resends(q.avicIncompleteIpiHandler)) put(s, targets, missed);
    if (a.tracing) a.trace(c, `avic: #VMEXIT incomplete IPI (target not running: mask 0x${missed.toString(16)})`);
    return;
  }
  const mask = s[targets];
  const t = 31 - Math.clz32(mask & -mask);
  const h = q.avicIncompleteIpiHandler;
  if (resends(h)) {
    // svm.c bb218fbcfaaa (2019): avic_incomplete_ipi_interception emulates the ICR write: kvm_lapic_reg_write(APIC_ICR)
    // -> apic_send_ipi -> __apic_accept_irq (kvm_lapic_set_irr, irr_pending = true) -> svm_deliver_avic_intr, which
    // wakes a target that is not running (kvm_vcpu_wake_up), or under Suravee Suthikulpanit's proposed change kicks it
    // with KVM_REQ_EVENT (kvm_vcpu_kick): either way the vector is in IRR again.
    m.apics[t].acceptFixed(vector, false);
    if (a.tracing) a.trace(c, `kvm: incomplete-IPI handler re-sends vector 0x${vector.toString(16)} to P${t} (${h === 'resend-kick' ? 'svm_deliver_avic_intr: kvm_vcpu_kick + KVM_REQ_EVENT' : 'svm_deliver_avic_intr: kvm_vcpu_wake_up'})`);
  } else if (h === 'wake-stale-irr') {
    // Suravee Suthikulpanit's diagnosis of the 2016 handler: "apic->irr_pending not set to true when trying to get
    // vcpu B scheduled": the woken vCPU's kvm_vcpu_check_block finds no interrupt (apic_find_highest_irr trusts the
    // hint) and blocks again, until another event comes through KVM's emulated path.
    if (a.tracing) a.trace(c, `kvm: incomplete-IPI handler wakes P${t}, whose irr_pending is false: it finds no event and blocks again (quirk avicIncompleteIpiHandler = wake-stale-irr)`);
  } else if (a.tracing) {
    a.trace(c, `kvm: incomplete-IPI handler wakes P${t}`);
  }
  if (h !== 'wake-stale-irr' || a.machine.cpus[t].has(F.NMI_PENDING | F.SMI_PENDING | F.INIT_PENDING | F.EXTINT_PENDING)) a.wake(t);
  put(s, targets, (mask & ~(1 << t)) >>> 0);
  if (s[targets] === 0) {
    put(s, stage, 0);
    put(s, a.w(c, W.AVIC_VECTOR), 0);
  }
}

export function avicDescribe(a: AssistCore, c: number): string {
  return a.s[a.w(c, W.AVIC_STAGE)] === 1 ? `P${c} avic: IPI completes (IsRunning check)` : `P${c} kvm: incomplete-IPI exit handler`;
}

/** APM Vol 2 15.29.3.1: a register write AVIC does not accelerate is a trap-like #VMEXIT(AVIC_NOACCEL); the
 *  hypervisor's handler completes it before the vCPU's next instruction. */
export function avicWriteTraps(m: Machine, c: number, offset: number): boolean {
  return !m.apics[c].isX2apic() && AVIC_TRAP_WRITES.has(offset);
}

/** A fault-like #VMEXIT(AVIC_NOACCEL) read (the timer's current count). */
export function avicReadFaults(m: Machine, c: number, offset: number): boolean {
  return !m.apics[c].isX2apic() && AVIC_FAULT_READS.has(offset);
}

/** APM Vol 2 15.29.3.1: AVIC accelerates EOI only for an edge-triggered vector; for a level-triggered one (TMR set)
 *  it traps (AVIC_NOACCEL) and the hypervisor broadcasts the EOI to the I/O APIC. */
export function avicEoiTraps(m: Machine, c: number): boolean {
  const apic = m.apics[c], v = apic.highestIsr();
  return v >= 0 && apic.tmr(v);
}
