// Intel APICv as a hypervisor drives it: the posted-interrupt descriptor (PIR, ON, SN), the notification and
// the wake-up, the two halves of putting a vCPU back on a CPU, EOI virtualization with the EOI-exit bitmap, and
// fixed IPIs between vCPUs (APIC-write exits, or IPI virtualization). SDM Vol 3C 30 APIC Virtualization and
// Virtual Interrupts; KVM arch/x86/kvm/vmx/posted_intr.c.

import { DeliveryMode, Icr, Shorthand, X2APIC_BROADCAST, XAPIC_BROADCAST } from '../arch/apic.js';
import { Pi, Sched, W, type AssistCore } from './state.js';
import { put } from '../arch/writes.js';

/**
 * A posted interrupt (SDM Vol 3C 30.6 Posted-Interrupt Processing; VT-d 5.2.3 for device posting): set the
 * vector's PIR bit; if ON was clear, set it and, unless SN suppresses notifications, notify: a running vCPU's
 * CPU gets the notification vector (the vCPU processes it at its next step), a blocked vCPU is woken by the
 * hypervisor's wake-up handler. With ON already set, nothing more: a notification is outstanding.
 */
export function post(a: AssistCore, vector: number, t: number): void {
  const s = a.s, pi = a.w(t, W.PI_FLAGS);
  put(s, a.w(t, W.PIR + (vector >>> 5)), s[a.w(t, W.PIR + (vector >>> 5))] | (1 << (vector & 31)));
  const traced = (what: string): void => {
    if (a.tracing) a.trace(t, `posted 0x${vector.toString(16)}: PIR set, ${what}`);
  };
  if (s[pi] & Pi.ON) return traced('ON already set: no notification');
  put(s, pi, s[pi] | Pi.ON);
  if (s[pi] & Pi.SN) return traced('ON set; SN set: no notification');
  const v = s[a.w(t, W.SCHED)];
  if (!(v & Sched.NOT_RUNNING)) {
    put(s, pi, s[pi] | Pi.NOTIFY);
    traced('ON set: notification to the running vCPU');
  } else if (v & Sched.BLOCKED) {
    traced('ON set: the blocked vCPU is woken');
    a.wake(t);
  } else traced('ON set: the vCPU is off its CPU, vcpu_load finds ON');
}

/**
 * The EOI-exit bitmap the hypervisor keeps for vCPU c: the vectors the I/O APIC routes to it level-triggered
 * (KVM kvm_ioapic_scan_entry), derived from the redirection table as it is now.
 */
export function eoiExitBitmap(a: AssistCore, c: number, vector: number): boolean {
  const m = a.machine, io = m.ioapic;
  if (!io) return false;
  const targets: number[] = [];
  for (let pin = 0; pin < 24; pin++) {
    const e = io.entry(pin);
    if (e.vector !== vector || !e.levelTriggered || e.masked) continue;
    const message = { vector, mode: e.deliveryMode, levelTriggered: true, assert: true, logical: e.logical, shorthand: Shorthand.NONE, destination: e.destination, x2apic: false };
    const n = m.bus.targets(-1, message, targets);
    for (let i = 0; i < n; i++) if (targets[i] === c) return true;
  }
  return false;
}

/** OR the PIR into the virtual IRR, clear it and ON (SDM Vol 3C 30.6, steps of posted-interrupt processing). */
function syncPir(a: AssistCore, c: number): void {
  const apic = a.machine.apics[c], s = a.s;
  for (let w = 0; w < 8; w++) {
    const at = a.w(c, W.PIR + w);
    let bits = s[at];
    while (bits !== 0) {
      const b = 31 - Math.clz32(bits);
      apic.acceptFixed((w << 5) | b, false);
      bits &= ~(1 << b);
    }
    put(s, at, 0);
  }
  put(s, a.w(c, W.PI_FLAGS), s[a.w(c, W.PI_FLAGS)] & ~Pi.ON);
}

/** The vCPU's next step is the hypervisor's or the notification's, not the guest's. */
export function apicvHasWork(a: AssistCore, c: number): boolean {
  return (a.s[a.w(c, W.PI_FLAGS)] & (Pi.RESUME_1 | Pi.RESUME_2 | Pi.NOTIFY)) !== 0;
}

/**
 * The vCPU's own APICv steps: the notification's processing, and the two halves of going back onto a CPU. KVM's
 * order (arch/x86/kvm/vmx/posted_intr.c vmx_vcpu_pi_load: "Clear SN before reading the bitmap"): clear SN, then
 * sync an outstanding PIR before VM entry. Under apicvCheckOnBeforeClearingSn the halves are swapped, and a post
 * between them is neither synced nor notified.
 */
export function apicvStep(a: AssistCore, c: number): void {
  const s = a.s, pi = a.w(c, W.PI_FLAGS), flags = s[pi];
  const swapped = a.quirks.apicvCheckOnBeforeClearingSn;
  const clearSn = (): void => put(s, pi, s[pi] & ~Pi.SN);
  const sync = (): void => {
    if (s[pi] & Pi.ON) syncPir(a, c);
  };
  if (flags & Pi.RESUME_1) {
    if (swapped) sync();
    else clearSn();
    put(s, pi, (s[pi] & ~Pi.RESUME_1) | Pi.RESUME_2);
    if (a.tracing) a.trace(c, `kvm: vcpu_load ${swapped ? 'checks ON' : 'clears SN'}`);
    return;
  }
  if (flags & Pi.RESUME_2) {
    if (swapped) clearSn();
    else sync();
    put(s, pi, s[pi] & ~Pi.RESUME_2);
    put(s, a.w(c, W.SCHED), 0);
    if (a.tracing) a.trace(c, `kvm: ${swapped ? 'clears SN' : 'syncs PIR'} and enters the guest`);
    return;
  }
  // The notification vector arrived while the vCPU runs: posted-interrupt processing.
  put(s, pi, s[pi] & ~Pi.NOTIFY);
  if (s[pi] & Pi.ON) syncPir(a, c);
  if (a.tracing) a.trace(c, 'posted-interrupt notification: PIR synced into vIRR');
}

export function apicvDescribe(a: AssistCore, c: number): string {
  const pi = a.s[a.w(c, W.PI_FLAGS)];
  if (pi & (Pi.RESUME_1 | Pi.RESUME_2)) return `P${c} kvm: vcpu_load, ${pi & Pi.RESUME_1 ? 'first' : 'second'} half`;
  return `P${c} takes the posted-interrupt notification`;
}

/** Fixed, edge IPIs to others with a legal vector are posted; the rest take the emulated path (SDM Vol 3C 30.4.3.3:
 *  an ICR write is an APIC-write VM exit the hypervisor completes). */
export function apicvPosts(lo: number): boolean {
  const mode = (lo & Icr.DELIVERY_MODE_MASK) >>> Icr.DELIVERY_MODE_SHIFT, shorthand = (lo & Icr.SHORTHAND_MASK) >>> Icr.SHORTHAND_SHIFT;
  return mode === DeliveryMode.FIXED && (lo & Icr.TRIGGER_LEVEL) === 0 && shorthand !== Shorthand.SELF && (lo & Icr.VECTOR) >= 16;
}

/**
 * A fixed IPI from an APICv vCPU to others. Without IPI virtualization the ICR write is a trap-like APIC-write VM
 * exit (SDM Vol 3C 30.4.3.3) and the hypervisor delivers the interrupt to each destination as a posted interrupt
 * (KVM __apic_accept_irq -> vmx_deliver_interrupt: PIR, ON, then the notification or a wake-up). With IPI
 * virtualization (SDM Vol 3C 30.1.6 IPI Virtualization) the processor posts a fixed, edge, physical-destination
 * IPI without a shorthand itself, through the PID-pointer table: no VM exit. Either way the destinations are posted
 * to in this step; a logical or broadcast one still exits.
 */
export function apicvIcrWrite(a: AssistCore, c: number, lo: number, destination: number, ipiv: boolean): void {
  const m = a.machine, vector = lo & Icr.VECTOR;
  const logical = (lo & Icr.DEST_LOGICAL) !== 0, shorthand = ((lo & Icr.SHORTHAND_MASK) >>> Icr.SHORTHAND_SHIFT) as Shorthand;
  const message = { vector, mode: DeliveryMode.FIXED, levelTriggered: false, assert: true, logical, shorthand, destination, x2apic: m.apics[c].isX2apic() };
  const virtualized = ipiv && !logical && shorthand === Shorthand.NONE
    && !(message.x2apic ? destination >>> 0 === X2APIC_BROADCAST : (destination & 0xff) === XAPIC_BROADCAST);
  if (!virtualized) a.exit(c, 'apic-write');
  const targets: number[] = [];
  const n = m.bus.targets(c, message, targets);
  for (let i = 0; i < n; i++) post(a, vector, targets[i]);
  if (a.tracing) a.trace(c, `${virtualized ? 'ipi virtualization' : 'APIC-write VM exit: kvm'} posts 0x${vector.toString(16)} to ${n === 0 ? 'no one' : Array.from(targets.slice(0, n), (t) => `P${t}`).join(', ')}`);
}
