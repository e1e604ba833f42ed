// A litmus destination as the hardware sees it: the ICR's (or an MSI's, or a redirection entry's) destination
// mode, shorthand and destination field. SDM Vol 3A 11.6.1 Interrupt Command Register (ICR), Figure 11-12.

import { Icr, Shorthand, deliveryMode } from '../../arch/apic.js';
import type { Machine } from '../../machine/machine.js';
import type { Dest, SendOp } from '../ast.js';

export interface IcrDest {
  shorthand: Shorthand;
  logical: boolean;
  destination: number;
}

/** `Pk` is physical with Pk's current APIC ID (for an empty slot, the ID its processor will have). */
export function resolveDest(m: Machine, d: Dest): IcrDest {
  switch (d.kind) {
    case 'cpu': {
      const cpu = m.cpus[d.cpu];
      return { shorthand: Shorthand.NONE, logical: false, destination: cpu.present() ? cpu.apic.id() : m.config.apicIds[d.cpu] };
    }
    case 'phys': return { shorthand: Shorthand.NONE, logical: false, destination: d.id };
    case 'logical': return { shorthand: Shorthand.NONE, logical: true, destination: d.mask };
    case 'self': return { shorthand: Shorthand.SELF, logical: false, destination: 0 };
    case 'all': return { shorthand: Shorthand.ALL, logical: false, destination: 0 };
    case 'others': return { shorthand: Shorthand.OTHERS, logical: false, destination: 0 };
  }
}

/** The destination field as written, for a machine whose APIC IDs are the CPU indices (the guest's). */
export function destField(d: Dest): number {
  return d.kind === 'cpu' ? d.cpu : d.kind === 'phys' ? d.id : d.kind === 'logical' ? d.mask : 0;
}

/** ICR bits 31:0 of a `send` (level defaults to assert, trigger to edge). */
export function icrLow(op: SendOp, d: { shorthand: Shorthand; logical: boolean }): number {
  return ((op.vector ?? 0) | (deliveryMode(op.mode) << Icr.DELIVERY_MODE_SHIFT) | (d.logical ? Icr.DEST_LOGICAL : 0)
    | (op.level !== 'deassert' ? Icr.LEVEL_ASSERT : 0) | (op.trigger === 'level' ? Icr.TRIGGER_LEVEL : 0)
    | (d.shorthand << Icr.SHORTHAND_SHIFT)) >>> 0;
}

/** The shorthand a litmus destination names (none for a CPU, an ID or a logical mask). */
export function shorthandOf(d: Dest): Shorthand {
  return d.kind === 'self' ? Shorthand.SELF : d.kind === 'all' ? Shorthand.ALL : d.kind === 'others' ? Shorthand.OTHERS : Shorthand.NONE;
}
