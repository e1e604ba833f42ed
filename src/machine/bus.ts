// The APIC bus (system bus on xAPIC): how an interrupt message finds its targets, and the messages still in
// flight. A message is addressed when it is sent (destination resolution and lowest-priority arbitration
// happen once, at the sender: decision D-10) and becomes one in-flight record per target; each record's
// arrival is a separate event, so an explorer can interleave arrivals with everything else.

import { DeliveryMode, Shorthand, X2APIC_BROADCAST, XAPIC_BROADCAST } from '../arch/apic.js';
import { HostError } from '../arch/errors.js';
import type { Cpu } from '../cpu/cpu.js';
import { put } from '../arch/writes.js';

/**
 * One in-flight record, packed in a word: vector 0-7, delivery mode 8-10, level-triggered 11, level-assert 12,
 * target CPU 13-20, source 21-29 (0 = the platform: I/O APIC, MSI, pins; n = CPU n-1's ICR).
 */
export const Msg = {
  pack(vector: number, mode: DeliveryMode, levelTriggered: boolean, assert: boolean, target: number, source: number): number {
    return (vector | (mode << 8) | (levelTriggered ? 1 << 11 : 0) | (assert ? 1 << 12 : 0) | (target << 13) | (source << 21)) >>> 0;
  },
  vector: (w: number) => w & 0xff,
  mode: (w: number) => ((w >>> 8) & 7) as DeliveryMode,
  levelTriggered: (w: number) => (w & (1 << 11)) !== 0,
  assert: (w: number) => (w & (1 << 12)) !== 0,
  target: (w: number) => (w >>> 13) & 0xff,
  source: (w: number) => (w >>> 21) & 0x1ff,
};
export const PLATFORM = 0;

/** What a sender asks the bus to do (an ICR write, an I/O APIC redirection, an MSI). */
export interface Message {
  vector: number;
  mode: DeliveryMode;
  levelTriggered: boolean;
  assert: boolean;
  logical: boolean;
  shorthand: Shorthand;
  destination: number;
  /** x2APIC-format destination (32 bits, broadcast 0xFFFFFFFF) or xAPIC (8 bits, broadcast 0xFF). */
  x2apic: boolean;
}

export type LowestPriorityChooser = (candidates: readonly number[], vector: number) => number;

/** Word offsets of the bus in the machine state: a count then `capacity` records. */
export const BUS_COUNT = 0;
export const BUS_RECORDS = 1;

export class ApicBus {
  constructor(
    private readonly s: Uint32Array,
    private readonly b: number,
    readonly capacity: number,
    private readonly cpus: readonly Cpu[],
    private readonly vendor: 'intel' | 'amd',
  ) {}

  count(): number {
    return this.s[this.b + BUS_COUNT];
  }
  record(i: number): number {
    return this.s[this.b + BUS_RECORDS + i];
  }

  /** Append a record (queued delivery). */
  push(w: number): void {
    const n = this.count();
    if (n >= this.capacity) {
      throw new HostError('bus-full', `APIC bus: more than ${this.capacity} messages in flight; raise busCapacity`);
    }
    put(this.s, this.b + BUS_RECORDS + n, w);
    put(this.s, this.b + BUS_COUNT, n + 1);
  }

  /** Remove record i, keeping the order of the rest (arrival order per sender and target is FIFO). */
  remove(i: number): number {
    const n = this.count(), at = this.b + BUS_RECORDS;
    const s = this.s, w = s[at + i];
    // A loop, not copyWithin: a few records move, and the builtin's call costs more than they do.
    for (let j = at + i; j < at + n - 1; j++) put(s, j, s[j + 1]);
    put(s, at + n - 1, 0);
    put(this.s, this.b + BUS_COUNT, n - 1);
    return w;
  }

  /**
   * Whether record i may arrive now: messages from one source to one target arrive in the order sent
   * (decision D-11), so only the oldest such record is eligible.
   */
  eligible(i: number): boolean {
    const w = this.record(i), key = w & 0x3fffe000;
    for (let j = 0; j < i; j++) if ((this.record(j) & 0x3fffe000) === key) return false;
    return true;
  }

  /** Whether CPU `cpu` has a message from its ICR still in flight (xAPIC ICR delivery status). */
  inFlightFrom(cpu: number): boolean {
    const src = cpu + 1, n = this.count();
    for (let i = 0; i < n; i++) if (Msg.source(this.record(i)) === src) return true;
    return false;
  }

  /** A CPU whose APIC can receive bus messages: present and globally enabled. SDM Vol 3A 11.4.3. */
  private listening(c: Cpu): boolean {
    return c.present() && c.apic.globallyEnabled();
  }

  /**
   * The targets of a message. SDM Vol 3A 11.6.2 Determining IPI Destination: shorthands (11.6.1), physical
   * (11.6.2.1, broadcast 0xFF / 0xFFFFFFFF per 11.12.10), logical (11.6.2.2, 11.12.10.1).
   */
  targets(source: number, m: Message, out: number[]): number {
    const cpus = this.cpus;
    let n = 0;
    switch (m.shorthand) {
      case Shorthand.SELF:
        if (source >= 0) out[n++] = source;
        return n;
      case Shorthand.ALL:
        for (const c of cpus) if (this.listening(c)) out[n++] = c.index;
        return n;
      case Shorthand.OTHERS:
        for (const c of cpus) if (c.index !== source && this.listening(c)) out[n++] = c.index;
        return n;
    }
    const broadcast = m.x2apic ? m.destination >>> 0 === X2APIC_BROADCAST : (m.destination & 0xff) === XAPIC_BROADCAST;
    for (const c of cpus) {
      if (!this.listening(c)) continue;
      if (broadcast && (!m.logical || m.x2apic)) out[n++] = c.index;
      else if (m.logical ? c.apic.matchesLogical(m.destination) : c.apic.matchesPhysical(m.destination)) out[n++] = c.index;
    }
    return n;
  }

  /**
   * Lowest-priority arbitration among the targets. Intel: SDM Vol 3A 11.6.2.4 Lowest Priority Delivery Mode: on
   * Pentium 4 and later processors the chipset picks the target with the lowest task priority it snooped (TPR);
   * "the concept of a focus processor is not supported" there. AMD: APM Vol 2 16.6.2 Lowest Priority Messages and
   * Arbitration: a focus processor (one already servicing or holding the vector, when SVR focus checking is
   * enabled) wins, otherwise the lowest arbitration priority (APR). Ties go to `choose`.
   */
  arbitrate(targets: readonly number[], vector: number, choose: LowestPriorityChooser): number {
    // Profiles: KVM's vector hashing (kvm_vector_to_index: the (vector mod n)-th candidate in APIC ID order) and
    // QEMU's first candidate (apic_bus_deliver: "XXX: search for focus processor, arbitration").
    const rule = this.cpus[0].quirks.lowestPriority;
    if (rule === 'lowest-index') return targets[0];
    if (rule === 'vector-hash') return [...targets].sort((x, y) => this.cpus[x].apic.id() - this.cpus[y].apic.id())[vector % targets.length];
    const amd = this.vendor === 'amd';
    if (amd) {
      for (const t of targets) {
        const a = this.cpus[t].apic;
        if (a.focusCheckingEnabled() && (a.isr(vector) || a.irr(vector))) return t;
      }
    }
    let best = 256;
    const tied: number[] = [];
    for (const t of targets) {
      const a = this.cpus[t].apic;
      const p = (amd ? a.apr() : a.tpr()) & 0xf0;
      if (p < best) {
        best = p;
        tied.length = 0;
      }
      if (p === best) tied.push(t);
    }
    if (tied.length === 1) return tied[0];
    const t = choose(tied, vector);
    if (!tied.includes(t)) throw new HostError('bad-argument', `chooseLowestPriority returned ${t}, not one of the tied CPUs ${tied.join(',')}`);
    return t;
  }
}

/** Default tie-break: the lowest-numbered CPU. An explorer supplies its own to branch on every choice. */
export const lowestIndex: LowestPriorityChooser = (c) => c[0];
