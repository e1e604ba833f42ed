// The pending-event ladder: which event a processor takes at the next instruction boundary, in priority order.
// SDM Vol 3A 7.9 Priority Among Concurrent Events (Table 7-2): external hardware
// interventions (SMI, then INIT) before NMI before maskable hardware interrupts. One row per event; each row
// says when the event is pending, what blocks (and so latches) it, and what taking it does.

import { Activity, VmxMode } from '../arch/cpu.js';
import { Cpu, F } from './cpu.js';

export enum EventKind {
  NONE = 0,
  SMI = 1,
  INIT = 2,
  /** INIT in VMX non-root operation: a VM exit to the VMM instead of a reset. SDM Vol 3C 26.2 Other Causes of VM Exits. */
  INIT_VMEXIT = 3,
  NMI = 4,
  EXTINT = 5,
  INTR = 6,
  /** A SIPI kept outside wait-for-SIPI with no INIT to act behind is dropped at the next event check. */
  SIPI_DISCARD = 7,
}
export const EVENT_NAMES = ['none', 'smi', 'init', 'init-vmexit', 'nmi', 'extint', 'intr', 'sipi-discard'] as const;

interface EventRule {
  kind: EventKind;
  /** Flags (F) without which the event is not pending (0: none): nextEvent skips the row cheaply when one is clear. */
  needs: number;
  pending(cpu: Cpu): boolean;
  /** Why the event cannot be taken now (it stays pending), or null. */
  blockedBy(cpu: Cpu): string | null;
  /** Take it; returns the vector delivered (or -1). */
  take(cpu: Cpu): number;
}

/**
 * SDM Vol 3A 7.15 Interrupt 8 (Double Fault): a processor in shutdown is woken by NMI, SMI or INIT, but "if the
 * shutdown occurs while the processor is executing an NMI interrupt handler, then only a hardware reset can
 * restart the processor. Likewise, if the shutdown occurs while executing in SMM, a hardware reset must be
 * used". The NMI handler is running while NMIs are blocked (SDM Vol 3A 7.7.1), which is also how SMM leaves them.
 */
function onlyResetWakes(cpu: Cpu): string | null {
  if (cpu.activity() !== Activity.SHUTDOWN) return null;
  if (cpu.has(F.SMM)) return 'shutdown in SMM: only RESET';
  if (cpu.has(F.NMI_BLOCKED)) return 'shutdown in an NMI handler: only RESET';
  return null;
}

/** Maskable interrupts: IF = 1, no STI/MOV SS shadow, the processor active or halted, GIF = 1 (AMD). */
function maskableBlockedBy(cpu: Cpu): string | null {
  if (!cpu.has(F.IF)) return 'IF=0';
  if (cpu.has(F.STI_SHADOW)) return 'STI shadow';
  if (cpu.has(F.MOVSS_SHADOW)) return 'MOV SS shadow';
  const a = cpu.activity();
  if (a !== Activity.ACTIVE && a !== Activity.HALTED) return 'activity state';
  if (!cpu.gif()) return 'GIF=0';
  return null;
}

export const EVENT_LADDER: readonly EventRule[] = [
  {
    kind: EventKind.SMI,
    needs: F.SMI_PENDING,
    pending: (cpu) => cpu.has(F.SMI_PENDING),
    blockedBy: (cpu) => {
      // SDM Vol 3C 34.3.1 Entering SMM: the first SMI taken while in SMM is latched and serviced after RSM.
      if (cpu.has(F.SMM)) return 'in SMM';
      // SDM Vol 3C 27.6.2 Activity State: wait-for-SIPI blocks SMIs; SDM Vol 3C 34.2 (Notes): it is pended
      // and serviced on receipt of the SIPI (the SIPI starts the processor, then the SMI is taken).
      if (cpu.activity() === Activity.WAIT_FOR_SIPI && !cpu.quirks.smiNmiNotBlockedInWfs) return 'wait-for-sipi';
      if (!cpu.gif()) return 'GIF=0';
      // Not architectural (SDM Vol 2A HLT: an SMI ends the halt): quirk smiDoesNotWakeHalted, KVM before
      // 73917739334c ("An SMI to a halted VCPU must wake it up").
      if (cpu.activity() === Activity.HALTED && cpu.quirks.smiDoesNotWakeHalted) return 'halted (quirk smiDoesNotWakeHalted: a pending SMI did not make the vCPU runnable)';
      return onlyResetWakes(cpu);
    },
    take: (cpu) => {
      cpu.enterSmm();
      return -1;
    },
  },
  {
    kind: EventKind.INIT,
    needs: F.INIT_PENDING,
    pending: (cpu) => cpu.has(F.INIT_PENDING),
    // Held in SMM (decision D-13), VMX root operation and GIF = 0: Cpu.initBlockedBy has the rules and citations.
    blockedBy: (cpu) => cpu.initBlockedBy() ?? onlyResetWakes(cpu),
    take: (cpu) => {
      cpu.init();
      return -1;
    },
  },
  {
    // A SIPI kept outside wait-for-SIPI (a vCPU's SIPI behind an INIT; quirks sipiHeldUntilTaken, sipiLatchedInSmm)
    // with no INIT taken before it: the event check drops it (Cpu.discardHeldSipi). An INIT pending and not
    // blocked is taken first (the row above) and acts on the SIPI. Under sipiLatchedInSmm the SIPI waits out SMM,
    // under sipiKeptInGuestMode guest mode; under sipiOutsideWfsPending it waits for an INIT, which erases it.
    kind: EventKind.SIPI_DISCARD,
    needs: F.SIPI_LATCHED,
    pending: (cpu) => {
      if (!cpu.has(F.SIPI_LATCHED)) return false;
      const q = cpu.quirks;
      return !(q.sipiOutsideWfsPending || (cpu.has(F.SMM) && q.sipiLatchedInSmm) || (cpu.vmx() === VmxMode.NON_ROOT && q.sipiKeptInGuestMode));
    },
    blockedBy: () => null,
    take: (cpu) => {
      cpu.discardHeldSipi();
      return -1;
    },
  },
  {
    kind: EventKind.NMI,
    needs: F.NMI_PENDING,
    pending: (cpu) => cpu.has(F.NMI_PENDING),
    blockedBy: (cpu) => {
      // SDM Vol 3A 7.7.1 Handling Multiple NMIs: blocked from delivery until the next IRET.
      if (cpu.has(F.NMI_BLOCKED)) return 'NMI blocked';
      // SDM Vol 3A 7.8.3: MOV SS blocks NMIs for one instruction. STI's shadow does not (decision D-9).
      if (cpu.has(F.MOVSS_SHADOW)) return 'MOV SS shadow';
      if (cpu.activity() === Activity.WAIT_FOR_SIPI && !cpu.quirks.smiNmiNotBlockedInWfs) return 'wait-for-sipi';
      if (!cpu.gif()) return 'GIF=0';
      return onlyResetWakes(cpu);
    },
    take: (cpu) => {
      const f = cpu.flags();
      cpu.setFlags((f & ~F.NMI_PENDING) | F.NMI_BLOCKED);
      cpu.setActivity(Activity.ACTIVE);
      return 2;
    },
  },
  {
    kind: EventKind.EXTINT,
    needs: 0,
    pending: (cpu) => cpu.extintPending(),
    blockedBy: maskableBlockedBy,
    take: (cpu) => {
      cpu.setActivity(Activity.ACTIVE);
      return cpu.acknowledgeExtint();
    },
  },
  {
    kind: EventKind.INTR,
    needs: 0,
    pending: (cpu) => cpu.apic.deliverableVector() >= 0,
    blockedBy: maskableBlockedBy,
    take: (cpu) => {
      cpu.setActivity(Activity.ACTIVE);
      return cpu.apic.acknowledge();
    },
  },
];

const RULE_BY_KIND: EventRule[] = [];
for (const r of EVENT_LADDER) RULE_BY_KIND[r.kind] = r;

// nextEvent asks the rows one by one, each at its own call site (a loop over the rows calls six different functions
// from one site, which V8 can neither inline nor predict); the two maskable rows share what holds them.
const [SMI_ROW, INIT_ROW, SIPI_ROW, NMI_ROW, EXTINT_ROW, INTR_ROW] = EVENT_LADDER;
if (EVENT_LADDER.map((r) => r.kind).join() !== [EventKind.SMI, EventKind.INIT, EventKind.SIPI_DISCARD, EventKind.NMI, EventKind.EXTINT, EventKind.INTR].join()
  || EXTINT_ROW.blockedBy !== maskableBlockedBy || INTR_ROW.blockedBy !== maskableBlockedBy || EXTINT_ROW.needs !== 0 || INTR_ROW.needs !== 0) {
  throw new Error('nextEvent: the event ladder is not in the order it asks the rows in');
}

/** Whether a row's event can be taken now. Both are pure; what blocks is asked first: for the interrupt rows it is a
 *  few flags, where pending scans the IRR and ISR (LocalApic.deliverableVector), and a row that `needs` a flag is
 *  pending whenever it passes here. */
function takes(rule: EventRule, cpu: Cpu, f: number): boolean {
  return (f & rule.needs) === rule.needs && rule.blockedBy(cpu) === null && rule.pending(cpu);
}

/** The event the processor would take at its next instruction boundary, or NONE: the first row of EVENT_LADDER that
 *  takes. */
export function nextEvent(cpu: Cpu): EventKind {
  if (!cpu.present()) return EventKind.NONE;
  const f = cpu.flags();
  if (takes(SMI_ROW, cpu, f)) return EventKind.SMI;
  // Quirk nestedNoInitExit: no INIT VM exit, the INIT resets the processor as outside VMX (Cpu.init).
  if (takes(INIT_ROW, cpu, f)) return cpu.vmx() === VmxMode.NON_ROOT && !cpu.quirks.nestedNoInitExit ? EventKind.INIT_VMEXIT : EventKind.INIT;
  if (takes(SIPI_ROW, cpu, f)) return EventKind.SIPI_DISCARD;
  if (takes(NMI_ROW, cpu, f)) return EventKind.NMI;
  if (maskableBlockedBy(cpu) !== null) return EventKind.NONE;
  if (EXTINT_ROW.pending(cpu)) return EventKind.EXTINT;
  return INTR_ROW.pending(cpu) ? EventKind.INTR : EventKind.NONE;
}

/** Every pending event with the reason it is held, for traces and explanations. */
export function heldEvents(cpu: Cpu): { kind: EventKind; blockedBy: string }[] {
  const out: { kind: EventKind; blockedBy: string }[] = [];
  for (const rule of EVENT_LADDER) {
    if (!rule.pending(cpu)) continue;
    const why = rule.blockedBy(cpu);
    if (why !== null) out.push({ kind: rule.kind, blockedBy: why });
  }
  return out;
}

/**
 * Take the highest-priority event that can be taken now. Returns the kind in bits 0-7 and the vector
 * (+1, so 0 means none) in bits 8-16, so that the hot path allocates nothing.
 */
export function takeEvent(cpu: Cpu): number {
  return takeNext(cpu, nextEvent(cpu));
}

/** takeEvent, where the caller has just asked nextEvent (`kind`) of the same state. */
export function takeNext(cpu: Cpu, kind: EventKind): number {
  if (kind === EventKind.NONE) return 0;
  if (kind === EventKind.INIT_VMEXIT) {
    // SDM Vol 3C 26.2 Other Causes of VM Exits: INIT in VMX non-root operation causes a VM exit, and the INIT is
    // consumed. AMD keeps it pending (decision D-39, APM Vol 2 15.17.1): the host takes it once GIF = 1.
    // Quirk initVmexitLeavesInitPending (Bochs 2.7): VMX root holds it, and every VM entry takes it again.
    if (cpu.apic.vendor() !== 'amd' && !cpu.quirks.initVmexitLeavesInitPending) cpu.setFlags(cpu.flags() & ~F.INIT_PENDING);
    cpu.setVmx(VmxMode.ROOT);
    cpu.setActivity(Activity.ACTIVE);
    return kind;
  }
  const rule = RULE_BY_KIND[kind];
  if (kind === EventKind.INIT) cpu.setFlags(cpu.flags() & ~F.INIT_PENDING);
  const vector = rule.take(cpu);
  return kind | ((vector + 1) << 8);
}

export function eventKind(taken: number): EventKind {
  return (taken & 0xff) as EventKind;
}
export function eventVector(taken: number): number {
  return (taken >>> 8) - 1;
}
