// What a Machine is built from (the embedding API's MachineConfig), checked: a bad value is a HostError before
// anything is built.

import { HostError, checkU32 } from '../arch/errors.js';
import type { Quirks } from '../arch/quirks.js';
import type { Vendor } from '../arch/cpu.js';
import type { LowestPriorityChooser } from './bus.js';

export interface MachineConfig {
  /** 1..256 processors; P0 is the BSP. */
  cpus: number;
  vendor?: Vendor;
  x2apic?: boolean;
  tscDeadline?: boolean;
  ioapic?: boolean;
  ioapicVersion?: 0x11 | 0x20;
  /** TSC ticks per APIC timer tick at divide-by-1. */
  timerRatio?: number;
  /** Initial APIC IDs; default CPU index. */
  apicIds?: readonly number[];
  /** A minimal 8259A (src/pic/pic.ts) whose INT drives every LINT0 and I/O APIC pin 0; default none. */
  pic?: boolean;
  /** Which slots hold a processor at power-up; default all. */
  present?: readonly boolean[];
  maxPhysAddr?: number;
  /**
   * `immediate`: a message arrives at its targets as it is sent (an emulator's view).
   * `queued`: messages stay in flight until `deliver(i)` (an explorer's view).
   */
  delivery?: 'immediate' | 'queued';
  busCapacity?: number;
  /**
   * Words reserved in the state for a client (a litmus simulator's program counters and registers), between
   * the devices and the bus, so that snapshot, restore and hash cover them too. At `extraBase`.
   */
  extraWords?: number;
  chooseLowestPriority?: LowestPriorityChooser;
  /** Deviations from the architecture that a profile reproduces; default none (src/arch/quirks.ts). */
  quirks?: Partial<Quirks>;
  /** The CPUs are vCPUs whose hypervisor holds INIT and SIPI as pending events (src/cpu/cpu.ts CpuHost). */
  pendingInitSipi?: boolean;
  /** The APICs are virtual-APIC pages under APICv virtual-interrupt delivery (SDM Vol 3C 30.2). */
  virtualInterruptDelivery?: boolean;
  onTrace?: (e: TraceEvent) => void;
}

export interface TraceEvent {
  time: number;
  layer: 'cpu' | 'apic' | 'bus' | 'ioapic';
  /** The processor concerned, or -1 for the platform. */
  cpu: number;
  text: string;
}

/** The most words a state may have beside the devices (the client's extra words, the bus): 2^26, 256 MB. */
export const MAX_STATE_WORDS = 1 << 26;

/** The configuration with its defaults filled in (Machine.config). */
export type CheckedConfig = Required<Omit<MachineConfig, 'onTrace' | 'apicIds' | 'present' | 'chooseLowestPriority' | 'extraWords' | 'quirks' | 'pic' | 'pendingInitSipi' | 'virtualInterruptDelivery'>> & {
  apicIds: readonly number[];
};

export function checkConfig(config: MachineConfig): CheckedConfig {
  const n = config.cpus;
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new HostError('bad-argument', `cpus must be 1..256, got ${n}`);
  const apicIds = config.apicIds ?? Array.from({ length: n }, (_, i) => i);
  if (apicIds.length !== n) throw new HostError('bad-argument', `apicIds has ${apicIds.length} entries for ${n} cpus`);
  if (new Set(apicIds).size !== n) throw new HostError('bad-argument', 'apicIds must be distinct');
  for (const id of apicIds) checkU32(id, 'APIC ID');
  const x2apic = config.x2apic ?? true;
  if (!x2apic && apicIds.some((id) => id > 0xfe)) throw new HostError('bad-argument', 'APIC IDs above 0xFE need x2APIC');
  const present = config.present;
  if (present !== undefined) {
    if (!Array.isArray(present) || present.length !== n || present.some((p) => typeof p !== 'boolean')) {
      throw new HostError('bad-argument', `present must be an array of ${n} booleans`);
    }
    if (!present[0]) throw new HostError('bad-argument', 'present[0] must be true: CPU 0 is the BSP');
  }
  const vendor = config.vendor ?? 'intel', delivery = config.delivery ?? 'immediate';
  if (vendor !== 'intel' && vendor !== 'amd') throw new HostError('bad-argument', `vendor must be 'intel' or 'amd', got ${String(vendor)}`);
  if (delivery !== 'immediate' && delivery !== 'queued') throw new HostError('bad-argument', `delivery must be 'immediate' or 'queued', got ${String(delivery)}`);
  const busCapacity = config.busCapacity ?? Math.max(64, 4 * n);
  if (!Number.isInteger(busCapacity) || busCapacity < 1 || busCapacity > MAX_STATE_WORDS) {
    throw new HostError('bad-argument', `busCapacity must be an integer 1..${MAX_STATE_WORDS}, got ${busCapacity}`);
  }
  const maxPhysAddr = config.maxPhysAddr ?? 46;
  if (!Number.isInteger(maxPhysAddr) || maxPhysAddr < 0 || maxPhysAddr > 64) throw new HostError('bad-argument', `maxPhysAddr must be an integer 0..64, got ${maxPhysAddr}`);
  for (const [name, f] of [['onTrace', config.onTrace], ['chooseLowestPriority', config.chooseLowestPriority]] as const) {
    if (f !== undefined && typeof f !== 'function') throw new HostError('bad-argument', `${name} must be a function`);
  }
  const timerRatio = config.timerRatio ?? 1;
  if (!Number.isInteger(timerRatio) || timerRatio < 1 || timerRatio > 0xffffffff) throw new HostError('bad-argument', `timerRatio must be an integer 1..0xffffffff, got ${timerRatio}`);
  const extraWords = config.extraWords ?? 0;
  if (!Number.isInteger(extraWords) || extraWords < 0 || extraWords > MAX_STATE_WORDS) {
    throw new HostError('bad-argument', `extraWords must be an integer 0..${MAX_STATE_WORDS}, got ${extraWords}`);
  }
  return { cpus: n, vendor, x2apic, tscDeadline: config.tscDeadline ?? true, ioapic: config.ioapic ?? true, ioapicVersion: config.ioapicVersion ?? 0x20, timerRatio, apicIds, maxPhysAddr, delivery, busCapacity };
}
