// The hosts the machine gives its CPUs and its I/O APIC: their view of the platform (quirks, peers, the INTA cycle,
// the bus) and the trace sink. Classes, not object literals: V8 keeps an object literal with a getter in dictionary
// mode, and every read of its properties from the CPUs' hot paths (quirks at each event, `trace?.()` at each
// INIT, SIPI, SMM entry and RSM) was then a generic property load, about 4% of a raw search.

import type { Quirks } from '../arch/quirks.js';
import type { DeliveryMode } from '../arch/apic.js';
import type { Cpu, CpuHost } from '../cpu/cpu.js';
import type { IoApicHost } from '../ioapic/ioapic.js';

type CpuTrace = (cpu: number, text: string) => void;

export class CpuPort implements CpuHost {
  constructor(
    readonly quirks: Readonly<Quirks>,
    readonly pendingInitSipi: boolean,
    private readonly cpus: () => readonly Cpu[],
    private readonly tracing: () => boolean,
    private readonly sink: CpuTrace,
    readonly intAck: (() => number) | undefined,
  ) {}

  peers(): readonly Cpu[] {
    return this.cpus();
  }

  /** Undefined while nobody traces, so that `host.trace?.(...)` builds no text. */
  get trace(): CpuTrace | undefined {
    return this.tracing() ? this.sink : undefined;
  }
}

export class IoApicPort implements IoApicHost {
  constructor(
    readonly deliver: (vector: number, deliveryMode: DeliveryMode, logical: boolean, destination: number, levelTriggered: boolean) => void,
    private readonly tracing: () => boolean,
    private readonly sink: (text: string) => void,
  ) {}

  /** Undefined while nobody traces, so that `host.trace?.(...)` builds no text. */
  get trace(): ((text: string) => void) | undefined {
    return this.tracing() ? this.sink : undefined;
  }
}
