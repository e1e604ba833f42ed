// One logical processor's interrupt-relevant state: activity state, IF and the interrupt shadows, SMM,
// NMI blocking, the latched INIT/SMI/NMI signals, VMX operation and AMD's GIF. The pending-event
// priority ladder is the table in events.ts; this file holds the state and the architectural actions.

import { Activity, DEFAULT_SMBASE, VmxMode } from '../arch/cpu.js';
import { HostError, checkVector } from '../arch/errors.js';
import { A } from '../apic/layout.js';
import { extintLine } from '../apic/pins.js';
import type { LocalApic } from '../apic/localApic.js';
import type { Quirks } from '../arch/quirks.js';

export const C = {
  ACTIVITY: 0,
  FLAGS: 1,
  SMBASE: 2,
  /** The SMBASE field of the SMM save-state area (SMBASE + 0xFEF8); loaded into SMBASE by RSM. */
  SAVE_SMBASE: 3,
  /** The vector of the SIPI that last started this processor. */
  SIPI_VECTOR: 4,
  /** The vector an ExtINT message carries (the model's stand-in for the 8259's INTA answer). */
  EXTINT_VECTOR: 5,
  WORDS: 6,
} as const;

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
  /** Quirks sipiLatchedInSmm, sipiHeldUntilTaken: a SIPI that arrived outside wait-for-SIPI, kept (its vector in SIPI_VECTOR). */
  SIPI_LATCHED: 1 << 15,
  /** Quirk smiNmiNotBlockedInWfs: SMM was entered from wait-for-SIPI, and RSM returns there. */
  SAVED_WFS: 1 << 16,
  /** The VMCS's interrupt-window and NMI-window exiting controls of the guest running (SDM Vol 3C 24.6.2). */
  INTR_WINDOW: 1 << 17,
  NMI_WINDOW: 1 << 18,
} as const;

export interface CpuHost {
  /** Deviations a profile reproduces (src/arch/quirks.ts). */
  quirks: Readonly<Quirks>;
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
    this.s[this.b + C.ACTIVITY] = a;
  }
  flags(): number {
    return this.s[this.b + C.FLAGS];
  }
  setFlags(f: number): void {
    this.s[this.b + C.FLAGS] = f >>> 0;
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
    if (on) this.s[this.b + C.FLAGS] |= f;
    else this.s[this.b + C.FLAGS] &= ~f;
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
    this.s[this.b + C.FLAGS] = (this.s[this.b + C.FLAGS] & ~F.VMX_MASK) | (m << F.VMX_SHIFT);
  }
  gif(): boolean {
    return !this.has(F.GIF_CLEAR);
  }
  smbase(): number {
    return this.s[this.b + C.SMBASE];
  }
  setSmbase(v: number): void {
    this.s[this.b + C.SMBASE] = v >>> 0;
  }
  sipiVector(): number {
    return this.s[this.b + C.SIPI_VECTOR];
  }
  present(): boolean {
    return this.activity() !== Activity.UNPLUGGED;
  }

  // ---------------------------------------------------------------- RESET, INIT, hotplug

  /**
   * Power-up / RESET. SDM Vol 3A 10.1.1 Processor State After Reset (Table 10-1): IF = 0; SMBASE = 0x30000
   * (SDM Vol 3C 34.4 SMRAM). SDM Vol 3A 9.4.1 BSP and AP Processors: the BSP runs from the reset vector;
   * APs wait for a SIPI.
   */
  powerOn(initialApicId: number, bsp: boolean): void {
    const s = this.s, b = this.b;
    s.fill(0, b, b + C.WORDS);
    s[b + C.SMBASE] = DEFAULT_SMBASE;
    s[b + C.ACTIVITY] = bsp ? Activity.ACTIVE : Activity.WAIT_FOR_SIPI;
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
    const keep = this.flags() & ((q.initDiscardsLatchedSmi ? 0 : F.SMI_PENDING) | F.SIPI_LATCHED);
    s[b + C.FLAGS] = keep;
    s[b + C.SAVE_SMBASE] = 0;
    s[b + C.EXTINT_VECTOR] = 0;
    const bsp = this.apic.isBsp();
    s[b + C.ACTIVITY] = bsp ? Activity.ACTIVE : Activity.WAIT_FOR_SIPI;
    this.apic.initReset();
    this.host.trace?.(this.index, `init: ${bsp ? 'BSP to reset vector' : 'enter wait-for-sipi'}`);
    if (this.has(F.SIPI_LATCHED)) {
      this.set(F.SIPI_LATCHED, false);
      this.receiveSipi(s[b + C.SIPI_VECTOR]);
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
    s.fill(0, b, b + C.WORDS);
    for (let i = 0; i < A.WORDS; i++) this.apic.setWord(i, 0);
    s[b + C.ACTIVITY] = Activity.UNPLUGGED;
    this.host.trace?.(this.index, 'unplug');
  }

  // ---------------------------------------------------------------- signals arriving

  /**
   * An INIT message or the INIT# pin: latched until it can be taken (events.ts decides when), except in
   * wait-for-SIPI, where it is taken at once (decision D-14).
   */
  receiveInit(): void {
    if (!this.present()) return;
    if (this.host.quirks.initDroppedWhenBlocked && (this.vmx() === VmxMode.ROOT || !this.gif() || (this.has(F.SMM) && !this.host.quirks.initNotBlockedInSmm))) {
      this.host.trace?.(this.index, 'init dropped: INIT is masked');
      return;
    }
    this.set(F.INIT_PENDING, true);
    this.takeInitIfWaitingForSipi();
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
   * latched (in SMM as anywhere else). Returns whether the processor started.
   */
  receiveSipi(vector: number): boolean {
    checkVector(vector, 'SIPI vector');
    if (this.vmx() === VmxMode.NON_ROOT) return this.sipiInGuest(vector);
    // An INIT that arrived before this SIPI (held by GIF = 0 or VMX until now) acts first (decision D-14).
    this.takeInitIfWaitingForSipi();
    if (this.activity() !== Activity.WAIT_FOR_SIPI) {
      if ((this.host.quirks.sipiLatchedInSmm && this.has(F.SMM)) || this.host.quirks.sipiHeldUntilTaken) {
        this.s[this.b + C.SIPI_VECTOR] = vector;
        this.set(F.SIPI_LATCHED, true);
        this.host.trace?.(this.index, `sipi 0x${vector.toString(16)} kept pending${this.has(F.SMM) ? ' in SMM' : ''}`);
        return false;
      }
      this.host.trace?.(this.index, `sipi 0x${vector.toString(16)} discarded: not in wait-for-sipi`);
      return false;
    }
    this.s[this.b + C.SIPI_VECTOR] = vector;
    this.setActivity(Activity.ACTIVE);
    this.host.trace?.(this.index, `sipi: start at 0x${(vector << 12).toString(16)}`);
    return true;
  }

  /**
   * A SIPI while a guest runs (VMX non-root). SDM Vol 3C 26.2 Other Causes of VM Exits: a SIPI to a guest in the
   * wait-for-SIPI activity state causes a VM exit, with the vector as exit qualification (kept in SIPI_VECTOR);
   * otherwise it is discarded. AMD SVM has no wait-for-SIPI guest state: a SIPI to a CPU in guest mode is always
   * discarded (seed 002: "SIPI must be cleared unconditionally on SVM"). Returns false (nothing started).
   */
  private sipiInGuest(vector: number): boolean {
    const exits = this.apic.vendor() === 'intel' && this.activity() === Activity.WAIT_FOR_SIPI && !this.host.quirks.nestedNoSipiExit;
    if (!exits) {
      this.host.trace?.(this.index, `sipi 0x${vector.toString(16)} discarded: guest not in wait-for-sipi`);
      return false;
    }
    this.s[this.b + C.SIPI_VECTOR] = vector;
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
    this.s[this.b + C.EXTINT_VECTOR] = vector;
    this.set(F.EXTINT_PENDING, true);
  }

  /**
   * Interrupt acknowledge of a pending ExtINT: returns its vector and empties the latch. The vector word is
   * cleared with the pending bit, so that a taken ExtINT leaves no trace in the state's encoding.
   */
  acknowledgeExtint(): number {
    const latched = this.has(F.EXTINT_PENDING);
    const v = latched ? this.s[this.b + C.EXTINT_VECTOR] : Math.max(extintLine(this.apic), 0);
    this.s[this.b + C.EXTINT_VECTOR] = 0;
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
    this.s[this.b + C.FLAGS] &= ~(F.STI_SHADOW | F.MOVSS_SHADOW);
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
    if (!this.has(F.IF)) this.set(F.STI_SHADOW, true);
    this.set(F.IF, true);
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
   * SMM entry. SDM Vol 3C 34.3.1 Entering SMM and 34.4.1 SMRAM State Save Map: state is saved at
   * SMBASE + 0xFE00 (the model keeps IF, NMI blocking, the auto HALT restart field and the SMBASE field);
   * SDM Vol 3C 34.5.1 Initial SMM Execution Environment: IF is cleared; SDM Vol 3C 34.8 NMI Handling While in
   * SMM: NMIs are blocked until RSM. SDM Vol 3C 34.10 Auto HALT Restart: entry from HLT sets the field.
   */
  enterSmm(): void {
    const s = this.s, b = this.b;
    let f = s[b + C.FLAGS] & ~(F.SMI_PENDING | F.STI_SHADOW | F.MOVSS_SHADOW | F.SAVED_IF | F.SAVED_NMI_BLOCKED | F.AUTO_HALT | F.SAVED_WFS);
    if (f & F.IF) f |= F.SAVED_IF;
    if (f & F.NMI_BLOCKED) f |= F.SAVED_NMI_BLOCKED;
    if (this.activity() === Activity.HALTED && !this.host.quirks.noAutoHaltRestart) f |= F.AUTO_HALT;
    if (this.activity() === Activity.WAIT_FOR_SIPI) f |= F.SAVED_WFS; // only with smiNmiNotBlockedInWfs
    f = (f | F.SMM | F.NMI_BLOCKED) & ~F.IF;
    s[b + C.FLAGS] = f;
    s[b + C.SAVE_SMBASE] = s[b + C.SMBASE];
    this.setActivity(Activity.ACTIVE);
    this.host.trace?.(this.index, `smi: enter SMM smbase=0x${s[b + C.SMBASE].toString(16)}`);
  }

  /** The SMBASE field of the save-state area (SDM Vol 3C 34.11 SMBASE Relocation). */
  saveStateSmbase(): number {
    return this.s[this.b + C.SAVE_SMBASE];
  }
  /** A write to the save-state SMBASE field; it takes effect at RSM. Ignored outside SMM. */
  writeSaveStateSmbase(v: number): void {
    if (this.inSmm()) this.s[this.b + C.SAVE_SMBASE] = v >>> 0;
  }
  /** The save-state auto HALT restart field; the SMI handler may clear it to resume after the HLT. */
  setAutoHaltRestart(on: boolean): void {
    if (this.inSmm()) this.set(F.AUTO_HALT, on);
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
    let g = f & ~(F.SMM | F.IF | F.NMI_BLOCKED | F.SAVED_IF | F.SAVED_NMI_BLOCKED | F.AUTO_HALT | F.SAVED_WFS);
    if (f & F.SAVED_IF) g |= F.IF;
    if (f & F.SAVED_NMI_BLOCKED && !this.host.quirks.rsmUnblocksNmi) g |= F.NMI_BLOCKED;
    s[b + C.FLAGS] = g;
    s[b + C.SMBASE] = s[b + C.SAVE_SMBASE];
    s[b + C.SAVE_SMBASE] = 0;
    this.setActivity(f & F.SAVED_WFS ? Activity.WAIT_FOR_SIPI : f & F.AUTO_HALT ? Activity.HALTED : Activity.ACTIVE);
    this.host.trace?.(this.index, `rsm: leave SMM smbase=0x${s[b + C.SMBASE].toString(16)}`);
    return true;
  }
}
