// One logical processor's interrupt-relevant state: activity state, IF and the interrupt shadows, SMM,
// NMI blocking, the latched INIT/SMI/NMI signals, VMX operation and AMD's GIF. The pending-event
// priority ladder is the table in events.ts; this file holds the state and the architectural actions.

import { ACTIVITY_NAMES, Activity, DEFAULT_SMBASE, VmxMode, type SaveStateField } from '../arch/cpu.js';
import { HostError, checkVector } from '../arch/errors.js';
import { A } from '../apic/layout.js';
import { extintLine } from '../apic/pins.js';
import type { LocalApic } from '../apic/localApic.js';
import type { Quirks } from '../arch/quirks.js';
import { put, putFill } from '../arch/writes.js';

export const C = {
  ACTIVITY: 0,
  FLAGS: 1,
  SMBASE: 2,
  /** The SMBASE field of the SMRAM state-save map (arch/cpu.ts SMM_SAVE_MAP); loaded into SMBASE by RSM. */
  SAVE_SMBASE: 3,
  /** The vector of the SIPI that last started this processor. */
  SIPI_VECTOR: 4,
  /** The vector an ExtINT message carries (the model's stand-in for the 8259's INTA answer). */
  EXTINT_VECTOR: 5,
  /** The vector of a SIPI kept outside wait-for-SIPI (F.SIPI_LATCHED); SIPI_VECTOR changes only when a SIPI starts. */
  HELD_SIPI_VECTOR: 6,
  /** The I/O instruction restart field of the state-save map (SDM Vol 3C 34.12): 0 at SMM entry. */
  SAVE_IO_RESTART: 7,
  WORDS: 8,
} as const;

/** Whether a processor whose activity word is `activity` is present (not unplugged: ACPI CPU hotplug). */
export function presentIn(activity: number): boolean {
  return activity !== Activity.UNPLUGGED;
}

export const F = {
  IF: 1 << 0,
  /** Blocking by STI. SDM Vol 3C 25.4.2 Guest Non-Register State, Table 25-3 (interruptibility state). */
  STI_SHADOW: 1 << 1,
  /** Blocking by MOV SS / POP SS. SDM Vol 3A 7.8.3 Masking Exceptions and Interrupts When Switching Stacks. */
  MOVSS_SHADOW: 1 << 2,
  SMM: 1 << 3,
  NMI_BLOCKED: 1 << 4,
  NMI_PENDING: 1 << 5,
  SMI_PENDING: 1 << 6,
  INIT_PENDING: 1 << 7,
  /** AMD GIF = 0 (CLGI). Stored inverted so that the reset encoding is 0. APM Vol 2 15.17 Global Interrupt Flag. */
  GIF_CLEAR: 1 << 8,
  VMX_SHIFT: 9,
  VMX_MASK: 3 << 9,
  /** Saved at SMM entry, restored by RSM. */
  SAVED_IF: 1 << 11,
  SAVED_NMI_BLOCKED: 1 << 12,
  /** The auto HALT restart field of the save-state area: SMM was entered from HLT. */
  AUTO_HALT: 1 << 13,
  EXTINT_PENDING: 1 << 14,
  /**
   * A SIPI that arrived outside wait-for-SIPI and is kept (its vector in HELD_SIPI_VECTOR) until the next event
   * check: behind a pending INIT on a vCPU (KVM pending_events), or under quirk sipiLatchedInSmm or sipiHeldUntilTaken.
   */
  SIPI_LATCHED: 1 << 15,
  /** Quirk smiNmiNotBlockedInWfs: SMM was entered from wait-for-SIPI, and RSM returns there. */
  SAVED_WFS: 1 << 16,
  /** This processor's own record that its SMI interrupted HLT (the AUTO_HALT field may be another's, decision D-26). */
  SMI_IN_HLT: 1 << 17,
  /** Quirk stiWindowLate: the STI shadow lasts one more instruction. */
  STI_SHADOW_EXTENDED: 1 << 18,
  /** The VMCS's interrupt-window and NMI-window exiting controls of the guest running (SDM Vol 3C 24.6.2). */
  INTR_WINDOW: 1 << 19,
  NMI_WINDOW: 1 << 20,
} as const;

/** The state-save map's fields the model keeps: SAVE_SMBASE, SAVE_IO_RESTART, and these flags (EFLAGS.IF, auto HALT restart). */
const SAVE_MAP_FLAGS = F.SAVED_IF | F.AUTO_HALT;


export interface CpuHost {
  /** Deviations a profile reproduces (src/arch/quirks.ts). */
  quirks: Readonly<Quirks>;
  /** Every processor of the machine: those in SMM with this one's SMBASE share its state-save map (D-26). */
  peers?(): readonly Cpu[];
  /**
   * The processor is a vCPU whose INIT and SIPI the hypervisor holds as pending events and acts on together at
   * its next event check, INIT first (KVM __apic_accept_irq sets KVM_APIC_INIT / KVM_APIC_SIPI in pending_events;
   * kvm_apic_accept_events takes INIT, then the SIPI in INIT_RECEIVED).
   */
  pendingInitSipi?: boolean;
  trace?(cpu: number, text: string): void;
  /** The interrupt-acknowledge cycle of an ExtINT: the 8259A's answer (its vector), when the platform has one. */
  intAck?(): number;
}

export class Cpu {
  constructor(
    private readonly s: Uint32Array,
    private readonly b: number,
    readonly index: number,
    readonly apic: LocalApic,
    private readonly host: CpuHost,
  ) {}

  // ---------------------------------------------------------------- state access

  activity(): Activity {
    return this.s[this.b + C.ACTIVITY] as Activity;
  }
  setActivity(a: Activity): void {
    put(this.s, this.b + C.ACTIVITY, a);
  }
  flags(): number {
    return this.s[this.b + C.FLAGS];
  }
  setFlags(f: number): void {
    put(this.s, this.b + C.FLAGS, f >>> 0);
  }
  extintVector(): number {
    return this.s[this.b + C.EXTINT_VECTOR];
  }
  get quirks(): Readonly<Quirks> {
    return this.host.quirks;
  }
  has(f: number): boolean {
    return (this.s[this.b + C.FLAGS] & f) !== 0;
  }
  private set(f: number, on: boolean): void {
    if (on) put(this.s, this.b + C.FLAGS, this.s[this.b + C.FLAGS] | f);
    else put(this.s, this.b + C.FLAGS, this.s[this.b + C.FLAGS] & ~f);
  }
  inSmm(): boolean {
    return this.has(F.SMM);
  }
  interruptsEnabled(): boolean {
    return this.has(F.IF);
  }
  vmx(): VmxMode {
    return ((this.s[this.b + C.FLAGS] & F.VMX_MASK) >>> F.VMX_SHIFT) as VmxMode;
  }
  setVmx(m: VmxMode): void {
    this.executing('VMX instructions');
    put(this.s, this.b + C.FLAGS, (this.s[this.b + C.FLAGS] & ~F.VMX_MASK) | (m << F.VMX_SHIFT));
  }
  gif(): boolean {
    return !this.has(F.GIF_CLEAR);
  }
  smbase(): number {
    return this.s[this.b + C.SMBASE];
  }
  setSmbase(v: number): void {
    put(this.s, this.b + C.SMBASE, v >>> 0);
  }
  sipiVector(): number {
    return this.s[this.b + C.SIPI_VECTOR];
  }
  present(): boolean {
    return presentIn(this.activity());
  }

  // ---------------------------------------------------------------- RESET, INIT, hotplug

  /**
   * Power-up / RESET. SDM Vol 3A 10.1.1 Processor State After Reset (Table 10-1): IF = 0; SMBASE = 0x30000
   * (SDM Vol 3C 34.4 SMRAM). SDM Vol 3A 9.4.1 BSP and AP Processors: the BSP runs from the reset vector;
   * APs wait for a SIPI.
   */
  powerOn(initialApicId: number, bsp: boolean): void {
    const s = this.s, b = this.b;
    putFill(s, 0, b, b + C.WORDS);
    put(s, b + C.SMBASE, DEFAULT_SMBASE);
    put(s, b + C.ACTIVITY, bsp ? Activity.ACTIVE : Activity.WAIT_FOR_SIPI);
    this.apic.reset(initialApicId, bsp);
    this.host.trace?.(this.index, `reset: ${bsp ? 'BSP active' : 'AP wait-for-sipi'} apic_id=${initialApicId}`);
  }

  /**
   * Take INIT. SDM Vol 3A 10.1 Initialization Overview and Table 10-1 (INIT column): processor state is reset
   * but SMBASE, IA32_APIC_BASE and the APIC ID are kept (SDM Vol 3A 11.4.7.3). The BSP restarts at the reset
   * vector; an AP enters wait-for-SIPI (SDM Vol 3A 9.4.2 MP Initialization Protocol Requirements).
   * A latched SMI survives (it is the chipset's SMI# signal); a pending NMI does not (decision D-8).
   */
  init(): void {
    const s = this.s, b = this.b;
    const q = this.host.quirks;
    if (this.has(F.SMM)) this.host.trace?.(this.index, 'init resets the processor out of SMM, without RSM (quirk initNotBlockedInSmm)');
    const keep = this.flags() & ((q.initDiscardsLatchedSmi ? 0 : F.SMI_PENDING) | F.SIPI_LATCHED);
    put(s, b + C.FLAGS, keep);
    put(s, b + C.SAVE_SMBASE, 0);
    put(s, b + C.EXTINT_VECTOR, 0);
    const bsp = this.apic.isBsp();
    put(s, b + C.ACTIVITY, bsp ? Activity.ACTIVE : Activity.WAIT_FOR_SIPI);
    this.apic.initReset();
    this.host.trace?.(this.index, `init: ${bsp ? 'BSP to reset vector' : 'enter wait-for-sipi'}`);
    if (this.has(F.SIPI_LATCHED)) {
      const v = s[b + C.HELD_SIPI_VECTOR];
      this.set(F.SIPI_LATCHED, false);
      put(s, b + C.HELD_SIPI_VECTOR, 0);
      this.host.trace?.(this.index, `sipi 0x${v.toString(16)} kept from before the INIT acts now`);
      this.receiveSipi(v);
    }
  }

  /**
   * The processor's RESET# pin (decision D-34): the power-up state of SDM Vol 3A 10.1.1 (Table 10-1), with the
   * initial APIC ID and BSP flag the hardware gave it: SMBASE 30000H (SDM Vol 3C 34.4), the APIC enabled in xAPIC
   * mode (SDM Vol 3A 11.12.5.1: RESET leaves x2APIC mode), SMM, VMX operation and every latched event gone. Nothing
   * holds RESET (SDM Vol 3A 7.9, Table 7-2: "Hardware Reset and Machine Checks", priority 1).
   */
  reset(): void {
    this.executing('RESET');
    this.powerOn(this.apic.word(A.INITIAL_ID), this.apic.isBsp());
  }

  /** KVM_SET_VCPU_EVENTS (a VMM's host-side write, decision D-36): an NMI pending, an SMI pending, NMIs blocked. */
  setEvent(event: 'nmi-pending' | 'smi-pending' | 'nmi-masked', on: boolean): void {
    if (!this.present()) return;
    this.set(event === 'nmi-pending' ? F.NMI_PENDING : event === 'smi-pending' ? F.SMI_PENDING : F.NMI_BLOCKED, on);
  }

  /** ACPI CPU hotplug: a new processor appears, powered on as an AP in wait-for-SIPI with its own APIC. */
  plug(initialApicId: number): void {
    this.powerOn(initialApicId, false);
  }

  /**
   * Hot-unplug: the slot empties; nothing reaches it until it is plugged again. The APIC goes with the
   * processor: its words are cleared too (IA32_APIC_BASE = 0, so it decodes no MMIO, answers no x2APIC MSR and
   * sends nothing), and an empty slot has one encoding whatever ran in it before.
   */
  unplug(): void {
    const s = this.s, b = this.b;
    putFill(s, 0, b, b + C.WORDS);
    for (let i = 0; i < A.WORDS; i++) this.apic.setWord(i, 0);
    put(s, b + C.ACTIVITY, Activity.UNPLUGGED);
    this.host.trace?.(this.index, 'unplug');
  }

  // ---------------------------------------------------------------- signals arriving

  /**
   * An INIT message or the INIT# pin: latched until it can be taken (events.ts decides when), except in
   * wait-for-SIPI, where it is taken at once (decision D-14).
   */
  receiveInit(): void {
    if (!this.present()) return;
    // Bochs masks INIT in VMX root and SMM, not in the wait-for-SIPI guest state: VM entry unmasks it after entering
    // that state (cpu/vmx.cc VMLAUNCH: VMenterLoadCheckGuestState, then unmask_event(BX_EVENT_INIT)). Nor for GIF = 0:
    // CLGI only clears svm_gif, and handleAsyncEvent holds a pending INIT until SVM_GIF (cpu/svm.cc, cpu/event.cc).
    if (this.host.quirks.initDroppedWhenBlocked && this.initBlockedBy() !== null && !this.guestWaitsForSipi() && this.gif()) {
      this.host.trace?.(this.index, `init dropped: INIT is masked (${this.initBlockedBy()})`);
      return;
    }
    // KVM __apic_accept_irq (APIC_DM_INIT): pending_events = 1 << KVM_APIC_INIT, which erases a SIPI kept before
    // it. QEMU keeps CPU_INTERRUPT_SIPI across INIT (quirk sipiHeldUntilTaken, do_cpu_init).
    if (this.has(F.SIPI_LATCHED) && !this.host.quirks.sipiHeldUntilTaken) {
      this.host.trace?.(this.index, `sipi 0x${this.s[this.b + C.HELD_SIPI_VECTOR].toString(16)} kept before this INIT is erased by it`);
      this.dropHeldSipi();
    }
    this.set(F.INIT_PENDING, true);
    const why = this.initBlockedBy();
    if (why !== null && this.activity() !== Activity.WAIT_FOR_SIPI) this.host.trace?.(this.index, `init held: ${why}`);
    this.takeInitIfWaitingForSipi();
  }

  /**
   * Why an INIT cannot be taken now (it stays pending), or null. SMM (decision D-13; quirk initNotBlockedInSmm);
   * SDM Vol 3C 24.8 Restrictions on VMX Operation: INIT signals are blocked in VMX root operation (an SVM host has
   * no such rule: decision D-39); SDM Vol 3C 26.2 Other Causes of VM Exits: in the wait-for-SIPI state INIT signals
   * are blocked and cause no VM exit (27.6.2 Activity State: the wait-for-SIPI guest state blocks INIT); APM Vol 2
   * 15.17.1 Global Interrupt Flag: INIT is held pending while GIF = 0.
   */
  initBlockedBy(): string | null {
    if (this.has(F.SMM) && !this.host.quirks.initNotBlockedInSmm) return 'in SMM';
    if (this.vmx() === VmxMode.ROOT && this.apic.vendor() !== 'amd' && !this.host.quirks.initNotBlockedInVmxRoot) return 'VMX root operation';
    if (this.guestWaitsForSipi()) return 'wait-for-SIPI guest state';
    if (!this.gif()) return 'GIF=0';
    return null;
  }

  private guestWaitsForSipi(): boolean {
    return this.vmx() === VmxMode.NON_ROOT && this.activity() === Activity.WAIT_FOR_SIPI;
  }

  /**
   * Decision D-14 and SDM Vol 3A 9.4.4.1 Typical BSP Initialization Sequence: a processor in wait-for-SIPI runs
   * no instructions, so an INIT reaching it re-INITs it at once instead of waiting for an instruction boundary
   * that only the SIPI would create; otherwise INIT-SIPI with no boundary in between would start the AP and then
   * send it back to wait-for-SIPI (the INIT, sent first, would act last). INIT stays held where the ladder holds
   * it: VMX root (SDM Vol 3C 24.8), VMX non-root (a VM exit, SDM Vol 3C 26.2), GIF = 0 (APM Vol 2 15.17.1).
   */
  private takeInitIfWaitingForSipi(): void {
    if (!this.has(F.INIT_PENDING) || this.activity() !== Activity.WAIT_FOR_SIPI) return;
    if (this.has(F.SMM) || this.vmx() !== VmxMode.OFF || !this.gif()) return;
    this.set(F.INIT_PENDING, false);
    this.init();
  }

  /**
   * A StartUp IPI. SDM Vol 3A 9.4.4.1 (Typical BSP Initialization Sequence) and 11.6.1: a SIPI is acted on
   * only in wait-for-SIPI, where it starts the processor at vector << 12; otherwise it is discarded, never
   * latched, in SMM as anywhere else (decision D-23), and a running processor's start vector is untouched. A vCPU's
   * SIPI that arrives behind a pending INIT the hypervisor has not acted on yet is kept and acted on right after
   * that INIT (KVM pending_events; CpuHost.pendingInitSipi). Returns whether the processor started.
   */
  receiveSipi(vector: number): boolean {
    checkVector(vector, 'SIPI vector');
    if (this.vmx() === VmxMode.NON_ROOT) return this.sipiInGuest(vector);
    // An INIT that arrived before this SIPI (held by GIF = 0 or VMX until now) acts first (decision D-14).
    this.takeInitIfWaitingForSipi();
    if (this.activity() !== Activity.WAIT_FOR_SIPI) {
      const q = this.host.quirks;
      const keep = q.sipiHeldUntilTaken ? 'held until the next event check (quirk sipiHeldUntilTaken: QEMU CPU_INTERRUPT_SIPI)'
        : q.sipiOutsideWfsPending ? 'kept pending (quirk sipiOutsideWfsPending: KVM_APIC_SIPI left in pending_events)'
          : q.sipiLatchedInSmm && this.has(F.SMM) ? 'kept in SMM (quirk sipiLatchedInSmm: KVM_APIC_SIPI not cleared while is_smm)'
            : this.host.pendingInitSipi && this.has(F.INIT_PENDING) && this.initBlockedBy() === null ? 'pending behind the INIT not yet taken (KVM pending_events: INIT, then SIPI)'
              : null;
      if (keep !== null) return this.keepSipi(vector, ` ${keep}`);
      this.host.trace?.(this.index, `sipi 0x${vector.toString(16)} discarded: ${this.has(F.SMM) ? 'in SMM (D-23)' : `not in wait-for-sipi (${ACTIVITY_NAMES[this.activity()]})`}`);
      return false;
    }
    put(this.s, this.b + C.SIPI_VECTOR, vector);
    this.setActivity(Activity.ACTIVE);
    this.host.trace?.(this.index, `sipi: start at 0x${(vector << 12).toString(16)}`);
    return true;
  }

  /** `why` follows `sipi 0xNN` in the trace; the line is built only when something traces (a resent SIPI is hot). */
  private keepSipi(vector: number, why: string): false {
    put(this.s, this.b + C.HELD_SIPI_VECTOR, vector);
    this.set(F.SIPI_LATCHED, true);
    this.host.trace?.(this.index, `sipi 0x${vector.toString(16)}${why}`);
    if (this.activity() === Activity.HALTED && this.sipiKeepsAwake()) {
      this.setActivity(Activity.ACTIVE);
      this.host.trace?.(this.index, 'hlt ends: a SIPI is pending (kvm_vcpu_has_events)');
    }
    return false;
  }

  /**
   * A kept SIPI that a quirk leaves in KVM's pending_events makes HLT fall through (kvm_vcpu_has_events sees
   * kvm_apic_has_events): quirk sipiOutsideWfsPending, and sipiKeptInGuestMode in guest mode.
   */
  private sipiKeepsAwake(): boolean {
    const q = this.host.quirks;
    return this.has(F.SIPI_LATCHED) && (q.sipiOutsideWfsPending || (q.sipiKeptInGuestMode && this.vmx() === VmxMode.NON_ROOT));
  }

  /**
   * The event check that finds a kept SIPI with no INIT to act behind: it is dropped (KVM kvm_apic_accept_events
   * clears KVM_APIC_SIPI outside INIT_RECEIVED; QEMU x86_cpu_exec_interrupt clears CPU_INTERRUPT_SIPI and
   * apic_sipi returns unless wait_for_sipi, or do_cpu_sipi returns in SMM). Under sipiHeldUntilTaken the pending
   * SIPI was QEMU's work for a halted CPU (x86_cpu_pending_interrupt), so the HLT ends.
   */
  discardHeldSipi(): void {
    const v = this.s[this.b + C.HELD_SIPI_VECTOR], q = this.host.quirks;
    const why = q.sipiHeldUntilTaken
      ? this.has(F.SMM) ? 'in SMM (QEMU do_cpu_sipi returns while HF_SMM_MASK)' : 'not in wait-for-sipi (QEMU apic_sipi: wait_for_sipi = 0)'
      : this.has(F.SMM) ? 'INIT and SIPI blocked in SMM (kvm_apic_accept_events clears KVM_APIC_SIPI)'
        : `no INIT pending at the first event check${q.sipiLatchedInSmm ? ' after RSM' : ''} (kvm_apic_accept_events: not INIT_RECEIVED)`;
    this.host.trace?.(this.index, `sipi 0x${v.toString(16)} dropped: ${why}`);
    this.dropHeldSipi();
    if (q.sipiHeldUntilTaken && this.activity() === Activity.HALTED) this.setActivity(Activity.ACTIVE);
  }

  private dropHeldSipi(): void {
    this.set(F.SIPI_LATCHED, false);
    put(this.s, this.b + C.HELD_SIPI_VECTOR, 0);
  }

  /**
   * A SIPI while a guest runs (VMX non-root). SDM Vol 3C 26.2 Other Causes of VM Exits: a SIPI to a guest in the
   * wait-for-SIPI activity state causes a VM exit, with the vector as exit qualification (kept in SIPI_VECTOR);
   * otherwise it is discarded. AMD SVM has no wait-for-SIPI guest state: a SIPI to a CPU in guest mode is always
   * discarded (seed 002: "SIPI must be cleared unconditionally on SVM"). Returns false (nothing started).
   */
  private sipiInGuest(vector: number): boolean {
    const q = this.host.quirks;
    const why = this.apic.vendor() === 'amd' ? 'SVM has no wait-for-SIPI guest state'
      : this.activity() !== Activity.WAIT_FOR_SIPI ? `the guest is ${ACTIVITY_NAMES[this.activity()]}, not in wait-for-SIPI`
        : q.nestedNoSipiExit ? 'no SIPI VM exit (quirk nestedNoSipiExit: KVM ate SIPIs while INIT was latched, before bf0cd88ce363)'
          : null;
    if (why !== null) {
      if (q.sipiKeptInGuestMode) return this.keepSipi(vector, `: no VM exit (${why}); kept while in guest mode (quirk sipiKeptInGuestMode: KVM_APIC_SIPI not cleared while is_guest_mode)`);
      this.host.trace?.(this.index, `sipi 0x${vector.toString(16)} discarded: ${why}`);
      return false;
    }
    put(this.s, this.b + C.SIPI_VECTOR, vector);
    this.setVmx(VmxMode.ROOT);
    this.setActivity(Activity.ACTIVE);
    this.host.trace?.(this.index, `sipi 0x${vector.toString(16)}: VM exit (SIPI), exit qualification 0x${vector.toString(16)}`);
    return false;
  }

  /**
   * SDM Vol 3C 34.3.1 Entering SMM: "The processor will latch only one SMI" while in SMM; SDM Vol 3C 34.2
   * (Notes): an SMI received in wait-for-SIPI is pended and serviced when the SIPI arrives.
   */
  receiveSmi(): void {
    if (!this.present()) return;
    if (this.has(F.SMI_PENDING)) this.host.trace?.(this.index, 'smi: already pending, merged');
    this.set(F.SMI_PENDING, true);
  }

  /**
   * SDM Vol 3A 7.7.1 Handling Multiple NMIs: while an NMI is blocked one more can be pending; further NMIs
   * are lost.
   */
  receiveNmi(): void {
    if (!this.present()) return;
    if (this.has(F.NMI_PENDING)) this.host.trace?.(this.index, 'nmi: one already pending, dropped');
    this.set(F.NMI_PENDING, true);
  }

  /** SDM Vol 3A 11.5.1: ExtINT makes the processor take an interrupt as if from an 8259A; the vector is the message's. */
  receiveExtint(vector: number): void {
    checkVector(vector, 'ExtINT vector');
    if (!this.present()) return;
    put(this.s, this.b + C.EXTINT_VECTOR, vector);
    this.set(F.EXTINT_PENDING, true);
  }

  /**
   * Interrupt acknowledge of a pending ExtINT: returns its vector and empties the latch. The vector word is
   * cleared with the pending bit, so that a taken ExtINT leaves no trace in the state's encoding.
   */
  acknowledgeExtint(): number {
    const latched = this.has(F.EXTINT_PENDING);
    const v = latched ? this.s[this.b + C.EXTINT_VECTOR] : Math.max(extintLine(this.apic), 0);
    put(this.s, this.b + C.EXTINT_VECTOR, 0);
    this.set(F.EXTINT_PENDING, false);
    // SDM Vol 3A 11.5.1 (ExtINT): "the processor ... responds as if the interrupt originated in an externally
    // connected (8259A-compatible) interrupt controller": with an 8259A on the platform, its INTA answer is the vector.
    return this.host.intAck ? this.host.intAck() : v;
  }

  /** An ExtINT waits: a message latched (ExtINT IPI, MSI, I/O APIC entry) or the 8259A's INTR through a pin. */
  extintPending(): boolean {
    return this.has(F.EXTINT_PENDING) || extintLine(this.apic) >= 0;
  }

  // ---------------------------------------------------------------- instruction-level actions

  /**
   * An empty slot executes nothing: an instruction "run" on it is host misuse. Without this check HLT or a
   * triple fault would give the slot an activity state and make it a present processor with no APIC.
   */
  private executing(what: string): void {
    if (!this.present()) throw new HostError('bad-cpu', `CPU ${this.index} is unplugged and cannot execute ${what}`);
  }

  /** Interrupt shadows cover exactly one instruction: call before executing each instruction. */
  beginInstruction(): void {
    const f = this.s[this.b + C.FLAGS];
    put(this.s, this.b + C.FLAGS, (f & ~(F.STI_SHADOW | F.MOVSS_SHADOW | F.STI_SHADOW_EXTENDED)) | (f & F.STI_SHADOW_EXTENDED ? F.STI_SHADOW : 0));
  }

  /** Time passes while the processor runs a delay loop (a litmus `wait`): instructions run, every shadow ends. */
  instructionsRun(): void {
    put(this.s, this.b + C.FLAGS, this.s[this.b + C.FLAGS] & ~(F.STI_SHADOW | F.MOVSS_SHADOW | F.STI_SHADOW_EXTENDED));
  }

  /**
   * Not architectural (quirk tprWriteTakesEffectLate): maskable interrupts are held until after the next
   * instruction, as an STI shadow holds them. QEMU TCG recognises an interrupt the TPR write unblocked only at the end
   * of the translation block, so the instruction after the write runs first.
   */
  holdInterruptsOneInstruction(): void {
    this.set(F.STI_SHADOW, true);
  }

  /** SDM Vol 2B STI: if IF was 0, interrupts stay inhibited until the end of the next instruction. */
  sti(): void {
    this.executing('STI');
    // Not architectural: quirk stiWindowLate (KVM here, CONFORMANCE.md F33) holds interrupts one instruction longer.
    const late = this.host.quirks.stiWindowLate;
    if (!this.has(F.IF)) this.set(late ? F.STI_SHADOW | F.STI_SHADOW_EXTENDED : F.STI_SHADOW, true);
    this.set(F.IF, true);
    if (!this.host.trace) return;
    if (late) this.host.trace(this.index, 'sti: interrupts held until after the next two instructions (quirk stiWindowLate)');
    const hidden = this.apic.hiddenIrr();
    if (hidden >= 0) this.host.trace(this.index, `sti: IRR vector 0x${hidden.toString(16)} not presented: the APIC is software-disabled (quirk softDisabledIrr = hidden)`);
  }
  cli(): void {
    this.executing('CLI');
    this.set(F.IF, false);
  }
  setIf(on: boolean): void {
    this.executing('a write of EFLAGS.IF');
    this.set(F.IF, on);
  }
  movSs(): void {
    this.executing('MOV SS');
    this.set(F.MOVSS_SHADOW, true);
  }

  /** SDM Vol 2A HLT: the processor halts until an enabled interrupt, NMI, SMI, INIT or RESET. */
  hlt(): void {
    this.executing('HLT');
    if (this.sipiKeepsAwake()) {
      this.host.trace?.(this.index, 'hlt falls through: a SIPI is pending (kvm_vcpu_has_events)');
      return;
    }
    this.setActivity(Activity.HALTED);
  }

  /** SDM Vol 3A 7.15 Interrupt 8 (Double Fault): a triple fault enters shutdown. */
  shutdown(): void {
    this.executing('a triple fault');
    this.setActivity(Activity.SHUTDOWN);
  }

  /** SDM Vol 3A 7.7.1: IRET ends NMI blocking (any IRET, not only the NMI handler's). */
  iret(restoredIf: boolean): void {
    this.executing('IRET');
    this.set(F.NMI_BLOCKED, false);
    this.set(F.IF, restoredIf);
  }

  /** The interrupt-window and NMI-window exiting controls for the guest (set at a VM entry, cleared by the exit). */
  setWindowExiting(intr: boolean, nmi: boolean): void {
    this.set(F.INTR_WINDOW, intr);
    this.set(F.NMI_WINDOW, nmi);
  }

  /**
   * A window VM exit due at this instruction boundary in VMX non-root operation (SDM Vol 3C 26.2 Other Causes of VM
   * Exits): NMI-window when there is no NMI blocking and no MOV SS blocking (it wakes HLT and shutdown); interrupt
   * window when IF = 1 and no STI or MOV SS blocking (it wakes HLT). Neither in wait-for-SIPI. The caller orders them
   * among the events: SMI and INIT first, then NMI-window, NMI, interrupt-window, external interrupts.
   */
  windowExitDue(): 'nmi' | 'intr' | null {
    const f = this.flags(), a = this.activity();
    if ((f & (F.INTR_WINDOW | F.NMI_WINDOW)) === 0 || this.vmx() !== VmxMode.NON_ROOT || a === Activity.WAIT_FOR_SIPI || a === Activity.UNPLUGGED) return null;
    if ((f & F.NMI_WINDOW) !== 0 && (f & (F.NMI_BLOCKED | F.MOVSS_SHADOW)) === 0) return 'nmi';
    if ((f & F.INTR_WINDOW) !== 0 && (f & F.IF) !== 0 && (f & (F.STI_SHADOW | F.MOVSS_SHADOW)) === 0 && a !== Activity.SHUTDOWN) return 'intr';
    return null;
  }

  /** AMD STGI/CLGI. APM Vol 2 15.17.1 Global Interrupt Flag: GIF = 0 holds INTR, NMI, SMI and INIT pending. */
  setGif(on: boolean): void {
    this.executing('STGI/CLGI');
    this.set(F.GIF_CLEAR, !on);
  }

  // ---------------------------------------------------------------- SMM

  /**
   * SMM entry. SDM Vol 3C 34.3.1 Entering SMM and 34.4.1 SMRAM State Save Map: state is saved in the map at SMBASE
   * (arch/cpu.ts SMM_SAVE_MAP; the model keeps EFLAGS.IF, the auto HALT restart and I/O instruction restart fields
   * and the SMBASE field there, NMI blocking inside the processor); SDM Vol 3C 34.12: the I/O instruction restart
   * field is initialised to 00H; SDM Vol 3C 34.5.1 Initial SMM Execution Environment: IF is cleared; SDM Vol 3C 34.8
   * NMI Handling While in SMM: NMIs are blocked until RSM. SDM Vol 3C 34.10 Auto HALT Restart: entry from HLT sets
   * the field. The map is memory: a processor already in SMM with the same SMBASE sees it overwritten (D-26).
   */
  enterSmm(): void {
    const s = this.s, b = this.b;
    let f = s[b + C.FLAGS] & ~(F.SMI_PENDING | F.STI_SHADOW | F.STI_SHADOW_EXTENDED | F.MOVSS_SHADOW | F.SAVED_IF | F.SAVED_NMI_BLOCKED | F.AUTO_HALT | F.SAVED_WFS | F.SMI_IN_HLT);
    if (f & F.IF) f |= F.SAVED_IF;
    if (f & F.NMI_BLOCKED) f |= F.SAVED_NMI_BLOCKED;
    if (this.activity() === Activity.HALTED) f |= F.SMI_IN_HLT | (this.host.quirks.noAutoHaltRestart ? 0 : F.AUTO_HALT);
    if (this.activity() === Activity.WAIT_FOR_SIPI) f |= F.SAVED_WFS; // only with smiNmiNotBlockedInWfs
    f = (f | F.SMM | F.NMI_BLOCKED) & ~F.IF;
    put(s, b + C.FLAGS, f);
    put(s, b + C.SAVE_SMBASE, s[b + C.SMBASE]);
    put(s, b + C.SAVE_IO_RESTART, 0);
    this.setActivity(Activity.ACTIVE);
    this.host.trace?.(this.index, `smi: enter SMM smbase=0x${s[b + C.SMBASE].toString(16)}`);
    this.shareSaveMap('its SMM entry');
  }

  /**
   * Decision D-26: the state-save map is memory at SMBASE, so another processor in SMM with the same SMBASE reads
   * and RSM-reloads what this one just wrote there. Each keeps a copy of the shared fields; a write goes to all.
   */
  private shareSaveMap(what: string): void {
    const peers = this.host.peers?.();
    if (!peers) return;
    const s = this.s, b = this.b;
    for (const p of peers) {
      if (p === this || !p.inSmm() || p.smbase() !== this.smbase()) continue;
      put(p.s, p.b + C.SAVE_SMBASE, s[b + C.SAVE_SMBASE]);
      put(p.s, p.b + C.SAVE_IO_RESTART, s[b + C.SAVE_IO_RESTART]);
      put(p.s, p.b + C.FLAGS, (p.s[p.b + C.FLAGS] & ~SAVE_MAP_FLAGS) | (s[b + C.FLAGS] & SAVE_MAP_FLAGS));
      this.host.trace?.(this.index, `smram: ${what} overwrites the state-save map P${p.index} shares at smbase=0x${this.smbase().toString(16)}`);
    }
  }

  /** The SMBASE field of the save-state area (SDM Vol 3C 34.11 SMBASE Relocation). */
  saveStateSmbase(): number {
    return this.s[this.b + C.SAVE_SMBASE];
  }
  /** A write to the save-state SMBASE field; it takes effect at RSM. Ignored outside SMM. */
  writeSaveStateSmbase(v: number): void {
    this.writeSaveState('SMBASE', v);
  }
  /** The save-state auto HALT restart field; the SMI handler may clear it to resume after the HLT. */
  setAutoHaltRestart(on: boolean): void {
    this.writeSaveState('AUTO_HALT_RESTART', on ? 1 : 0);
  }

  /** A state-save map field as the SMI handler reads it (0 outside SMM: the map is SMRAM, closed outside it). */
  readSaveState(field: SaveStateField): number {
    if (!this.inSmm()) return 0;
    const s = this.s, b = this.b;
    switch (field) {
      case 'SMBASE': return s[b + C.SAVE_SMBASE];
      case 'AUTO_HALT_RESTART': return this.has(F.AUTO_HALT) ? 1 : 0;
      case 'IO_RESTART': return s[b + C.SAVE_IO_RESTART];
    }
  }

  /**
   * An SMI handler's write to a state-save map field: the SMBASE field (32 bits), auto HALT restart (bit 0 of its
   * field, SDM Vol 3C 34.10), I/O instruction restart (its values 00H and FFH, Table 34-8: the low byte, the whole
   * field on AMD64). Ignored outside SMM.
   */
  writeSaveState(field: SaveStateField, v: number): void {
    if (!this.inSmm()) return;
    const s = this.s, b = this.b;
    if (field === 'SMBASE') put(s, b + C.SAVE_SMBASE, v >>> 0);
    else if (field === 'IO_RESTART') put(s, b + C.SAVE_IO_RESTART, v & 0xff);
    else this.set(F.AUTO_HALT, (v & 1) !== 0);
    this.shareSaveMap(`the write of ${field}`);
  }

  /**
   * What RSM would do wrong with the map as it is, or null. SDM Vol 3C 34.10: auto HALT restart set when the SMI did
   * not interrupt HLT "will cause unpredictable behavior"; 34.12: I/O instruction restart = FFH after an SMI that did
   * not trap an I/O instruction (a litmus SMI never does) "will likely result in a program error". lapis counts it as
   * a fault of the RSM and restores the rest (the HLT restarts as the field says).
   */
  rsmProgramError(): string | null {
    if (!this.inSmm()) return null;
    if (this.s[this.b + C.SAVE_IO_RESTART] === 0xff) return 'rsm with I/O instruction restart = FFH, but the SMI trapped no I/O instruction (SDM Vol 3C 34.12)';
    if (this.has(F.AUTO_HALT) && !this.has(F.SMI_IN_HLT)) return 'rsm with auto HALT restart set, but the SMI did not interrupt HLT (SDM Vol 3C 34.10: unpredictable)';
    return null;
  }

  /**
   * RSM. SDM Vol 3C 34.3.2 Exiting From SMM: restores the saved state; SDM Vol 3C 34.11 SMBASE Relocation: the
   * SMBASE field becomes the new SMBASE; SDM Vol 3C 34.10: with auto HALT restart set the processor re-enters
   * HLT; SDM Vol 3C 34.8: NMI blocking is as it was before the SMI. Returns false (#UD) outside SMM.
   */
  rsm(): boolean {
    if (!this.inSmm()) return false;
    const s = this.s, b = this.b;
    const f = s[b + C.FLAGS];
    let g = f & ~(F.SMM | F.IF | F.NMI_BLOCKED | F.SAVED_IF | F.SAVED_NMI_BLOCKED | F.AUTO_HALT | F.SAVED_WFS | F.SMI_IN_HLT);
    if (f & F.SAVED_IF) g |= F.IF;
    if (f & F.SAVED_NMI_BLOCKED && !this.host.quirks.rsmUnblocksNmi) g |= F.NMI_BLOCKED;
    put(s, b + C.FLAGS, g);
    // Quirk smbaseAligned32K (QEMU TCG helper_rsm before "target-i386: allow any alignment for SMBASE"): & ~0x7fff.
    put(s, b + C.SMBASE, this.host.quirks.smbaseAligned32K ? s[b + C.SAVE_SMBASE] & ~0x7fff : s[b + C.SAVE_SMBASE]);
    put(s, b + C.SAVE_SMBASE, 0);
    put(s, b + C.SAVE_IO_RESTART, 0);
    this.setActivity(f & F.SAVED_WFS ? Activity.WAIT_FOR_SIPI : f & F.AUTO_HALT ? Activity.HALTED : Activity.ACTIVE);
    this.host.trace?.(this.index, `rsm: leave SMM smbase=0x${s[b + C.SMBASE].toString(16)}`);
    return true;
  }
}
