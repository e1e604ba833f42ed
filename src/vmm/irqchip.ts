// The irqchip glue: lapis's Machine as the only interrupt controller of a KVM VM. A vCPU thread reports each exit
// (xAPIC MMIO, x2APIC and APIC-base MSRs, HLT, the interrupt window) and asks `decide` what to do before it enters the
// guest again: inject a vector (acknowledged IRR -> ISR here, once), an NMI, reset its registers for INIT, start at a
// SIPI vector, or sleep until lapis has an event for it. The Machine is replicated per thread and kept coherent by
// the caller's lock (src/vmm/shared.ts); `ctl` holds the cross-thread words (kick and window flags). Nothing here
// knows about KVM, so the logic is tested by driving it with exit sequences (test/vmm/glue*.test.ts).

import { DeliveryMode, MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, Reg, X2APIC_MSR_BASE, X2APIC_MSR_LAST, registerName } from '../arch/apic.js';
import { Activity } from '../arch/cpu.js';
import { IOAPIC_DEFAULT_BASE, IoApicMmio } from '../arch/ioapic.js';
import { A } from '../apic/layout.js';
import { F } from '../cpu/cpu.js';
import type { Machine, MsrRead, MsrWrite } from '../machine/machine.js';
import { Msg } from '../machine/bus.js';

/** The I/O APIC's MMIO window, where the PC's firmware leaves it (src/arch/ioapic.ts). */
export const IOAPIC_BASE = IOAPIC_DEFAULT_BASE;
export const IOAPIC_SIZE = IoApicMmio.WINDOW_SIZE;

/** Words of `ctl` per vCPU, after `CTL_HEADER` words the caller owns. */
export const CTL_HEADER = 32;
export const CpuCtl = {
  /** Set by whoever kicked this vCPU; cleared when it decides. Kicks are not repeated while it is set. */
  KICKED: 0,
  /** The vCPU entered with request_interrupt_window: it exits by itself when the window opens. */
  WINDOW: 1,
  /** The vCPU's registers are in their INIT state and it waits for a SIPI (lapis's wait-for-SIPI). */
  WFS: 2,
  /** The vCPU's futex word: non-zero while it sleeps in `Atomics.wait`. */
  SLEEP: 3,
  /** An NMI arrived while lapis already held one pending for this vCPU: hand KVM two (`Machine` latches one). */
  NMI_SECOND: 4,
  WORDS: 5,
} as const;
export function ctlWords(cpus: number): number {
  return CTL_HEADER + cpus * CpuCtl.WORDS;
}

/** What the vCPU reports at every exit (kvm_run: ready_for_interrupt_injection, if_flag, cr8). */
export interface ExitState {
  /** The interrupt window is open: IF = 1, no STI/MOV SS shadow, no injected interrupt still to be taken. */
  windowOpen: boolean;
  /** RFLAGS.IF. */
  ifFlag: boolean;
  cr8: number;
}

export type Action =
  /** Enter the guest: inject `vector` (>= 0), or `nmi` NMIs (KVM_NMI each); ask for an exit when the window opens. */
  | { kind: 'run'; vector: number; nmi: number; requestWindow: boolean; cr8: number }
  /** Halted or waiting for a SIPI with nothing to take: wait for a kick. */
  | { kind: 'sleep' }
  /** INIT taken: put the registers in their INIT state; an AP then waits for a SIPI, the BSP resets the machine. */
  | { kind: 'init'; waitForSipi: boolean }
  /** A SIPI started the vCPU: CS = vector << 8, base vector << 12, IP = 0. */
  | { kind: 'sipi'; vector: number }
  | { kind: 'smi' }
  /** A triple fault put it in shutdown: only INIT, NMI or SMI would wake it (the VMM reports a triple fault). */
  | { kind: 'shutdown' };

export interface IrqChipHost {
  /** The guest's TSC now (lapis's clock is bound to it). */
  tsc(): number;
  /** Make vCPU `cpu`'s thread leave KVM_RUN or its sleep and decide again. */
  kick(cpu: number): void;
  /** Trace line (--trace): the APIC traffic in the model's trace format. */
  trace?(time: number, cpu: number, text: string): void;
}

const RUN_NONE = { kind: 'run', vector: -1, nmi: 0, requestWindow: false, cr8: 0 } as const;

export class IrqChip {
  /** The TPR value each vCPU last received as CR8 (cr8 << 4), so that an unchanged CR8 keeps TPR[3:0]. */
  private readonly cr8Seen: Int32Array;
  readonly exits = { mmio: 0, msr: 0, hlt: 0, window: 0, injected: 0, nmi: 0, kicks: 0 };

  constructor(
    readonly machine: Machine,
    readonly ctl: Int32Array,
    private readonly host: IrqChipHost,
  ) {
    if (machine.config.delivery !== 'queued') throw new Error('the irqchip needs a Machine with queued delivery');
    this.cr8Seen = new Int32Array(machine.cpus.length).fill(-1);
  }

  private c(cpu: number, word: number): number {
    return CTL_HEADER + cpu * CpuCtl.WORDS + word;
  }

  /** Start of a locked section: lapis's clock catches up with the guest's TSC, firing timers on the way. */
  enter(): void {
    const t = this.host.tsc();
    if (t > this.machine.now()) this.machine.advanceTo(t);
  }

  /**
   * End of a locked section of `self` (-1: not a vCPU): messages to other vCPUs arrive (INIT and SIPI wait for their
   * target's thread, which takes the INIT before the SIPI arrives: D-11 keeps them in order), then every vCPU with an
   * event for it is kicked once.
   */
  leave(self: number): void {
    const m = this.machine, bus = m.bus;
    for (let i = 0; i < bus.count(); ) {
      const w = bus.record(i), mode = Msg.mode(w), t = Msg.target(w);
      if (t !== self && (mode === DeliveryMode.INIT || mode === DeliveryMode.STARTUP || !bus.eligible(i))) i++;
      else if (t === self && (mode === DeliveryMode.INIT || mode === DeliveryMode.STARTUP)) i++;
      else this.deliver(i);
    }
    for (let j = 0; j < m.cpus.length; j++) if (j !== self && this.wantsAttention(j)) this.kick(j);
  }

  /**
   * In-flight message i arrives. An NMI that finds one already pending would merge into lapis's one NMI latch; on a
   * processor both would have been recognised at different instruction boundaries (the first taken at once, the
   * second latched while its handler runs, SDM Vol 3A 7.7.1), but a vCPU takes its events only when its thread
   * decides, long after the first arrived. So the second is kept for KVM, which holds one NMI pending behind one
   * in service (process_nmi), as KVM's own APIC does.
   */
  private deliver(i: number): void {
    const m = this.machine, w = m.bus.record(i), t = Msg.target(w), c = m.cpus[t];
    if (Msg.mode(w) === DeliveryMode.NMI && c.has(F.NMI_PENDING) && c.apic.globallyEnabled()) Atomics.store(this.ctl, this.c(t, CpuCtl.NMI_SECOND), 1);
    m.deliver(i);
  }

  private kick(j: number): void {
    if (Atomics.load(this.ctl, this.c(j, CpuCtl.KICKED)) !== 0) return;
    Atomics.store(this.ctl, this.c(j, CpuCtl.KICKED), 1);
    this.exits.kicks++;
    this.host.kick(j);
  }

  /** Does vCPU j have something its thread must act on? */
  wantsAttention(j: number): boolean {
    const m = this.machine, c = m.cpus[j];
    if (!c.present()) return false;
    const bus = m.bus;
    for (let i = 0; i < bus.count(); i++) if (Msg.target(bus.record(i)) === j) return true;
    const act = c.activity();
    if (act === Activity.ACTIVE && Atomics.load(this.ctl, this.c(j, CpuCtl.WFS)) !== 0) return true;
    // A sleeping vCPU (halted, in wait-for-SIPI or shutdown) wakes only for an event it can take now: a HLT with
    // IF = 0 stays asleep with an interrupt in its IRR (SDM Vol 2A HLT: an NMI, SMI, INIT or an enabled interrupt).
    if (act !== Activity.ACTIVE) return m.pendingEvent(j) !== 'none';
    if (c.has(F.NMI_PENDING | F.INIT_PENDING | F.SMI_PENDING)) return true;
    // A running vCPU with an interrupt to take: inject it, or ask for the window (once: it then exits by itself).
    return (c.has(F.EXTINT_PENDING) || c.apic.deliverableVector() >= 0) && Atomics.load(this.ctl, this.c(j, CpuCtl.WINDOW)) === 0;
  }

  // ---------------------------------------------------------------- exits

  /**
   * Every exit: lapis learns the vCPU's IF and CR8. KVM reports the interrupt window closed with IF = 1 when an STI or
   * MOV SS shadow holds interrupts (SDM Vol 3A 7.8.3) or an injected interrupt is not yet taken; either way nothing
   * may be injected now, which lapis models as a shadow. CR8 (SDM Vol 3A 11.8.6.1 Interaction of Task Priorities
   * between CR8 and APIC): MOV to CR8 writes TPR[7:4] and clears TPR[3:0], so only a changed CR8 is written back.
   */
  exit(cpu: number, e: ExitState): void {
    const c = this.machine.cpus[cpu];
    let f = c.flags() & ~(F.IF | F.STI_SHADOW | F.MOVSS_SHADOW);
    if (e.windowOpen) f |= F.IF;
    else if (e.ifFlag) f |= F.IF | F.STI_SHADOW;
    c.setFlags(f);
    const tpr = (e.cr8 & 0xf) << 4;
    if (tpr !== this.cr8Seen[cpu] && c.apic.globallyEnabled()) {
      this.cr8Seen[cpu] = tpr;
      c.apic.setWord(A.TPR, tpr);
    }
  }

  /** An MMIO read; undefined when neither this vCPU's local APIC nor the I/O APIC decodes the address. */
  mmioRead(cpu: number, address: number, size: number): number | undefined {
    const m = this.machine, a = m.cpus[cpu].apic;
    this.exits.mmio++;
    if (a.decodesMmio(address)) {
      const off = address - a.mmioBase();
      const word = m.mmioRead(cpu, address - (off & 3)) ?? 0;
      const v = size >= 4 ? word : (word >>> ((off & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
      this.traceAccess(cpu, 'read', off & ~3, v);
      return v;
    }
    if (m.ioapic && address >= IOAPIC_BASE && address < IOAPIC_BASE + IOAPIC_SIZE) {
      const v = m.ioapic.mmioRead(address - IOAPIC_BASE);
      this.trace(cpu, `ioapic read 0x${(address - IOAPIC_BASE).toString(16)} = 0x${v.toString(16)}`);
      return v;
    }
    return undefined;
  }

  /**
   * An MMIO write; false when nothing decodes it. SDM Vol 3A 11.4.1: APIC registers are 128-bit aligned and accessed
   * with 32-bit loads and stores; a narrower or misaligned store is dropped (as KVM's apic_mmio_write drops it).
   */
  mmioWrite(cpu: number, address: number, size: number, value: number): boolean {
    const m = this.machine, a = m.cpus[cpu].apic;
    this.exits.mmio++;
    if (a.decodesMmio(address)) {
      const off = address - a.mmioBase();
      this.traceAccess(cpu, 'write', off, value);
      if (size >= 4 && (off & 0xf) === 0) {
        m.mmioWrite(cpu, address, value >>> 0);
        if (off === Reg.TPR) this.cr8Seen[cpu] = -1;
      }
      return true;
    }
    if (m.ioapic && address >= IOAPIC_BASE && address < IOAPIC_BASE + IOAPIC_SIZE) {
      this.trace(cpu, `ioapic write 0x${(address - IOAPIC_BASE).toString(16)} = 0x${(value >>> 0).toString(16)}`);
      m.ioapic.mmioWrite(address - IOAPIC_BASE, value >>> 0);
      return true;
    }
    return false;
  }

  /** The MSRs lapis owns (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC 0x800-0x8FF): the value or #GP. */
  rdmsr(cpu: number, msr: number): MsrRead {
    this.exits.msr++;
    const r = this.machine.rdmsr(cpu, msr);
    this.trace(cpu, `rdmsr ${msrName(msr)} = ${r.ok ? `0x${r.value.toString(16)}` : '#GP'}`);
    return r;
  }
  wrmsr(cpu: number, msr: number, value: bigint): MsrWrite {
    this.exits.msr++;
    const r = this.machine.wrmsr(cpu, msr, value);
    if (r.ok && msr === X2APIC_MSR_BASE + (Reg.TPR >> 4)) this.cr8Seen[cpu] = -1;
    this.trace(cpu, `wrmsr ${msrName(msr)} 0x${value.toString(16)}${r.ok ? '' : ' #GP'}`);
    return r;
  }

  /**
   * HLT (SDM Vol 2A HLT): lapis's processor halts; `decide` wakes it when an event can be taken. The HLT has
   * completed, so a shadow it ran in is over (SDM Vol 2B STI: the shadow covers the next instruction).
   */
  hlt(cpu: number): void {
    this.exits.hlt++;
    const c = this.machine.cpus[cpu];
    c.setFlags(c.flags() & ~(F.STI_SHADOW | F.MOVSS_SHADOW));
    if (c.activity() === Activity.ACTIVE) c.hlt();
  }

  /** An I/O APIC input driven by a device (pc-testdev's IRQ lines). */
  irq(line: number, asserted: boolean): void {
    this.machine.irq(line, asserted);
  }

  /** The vCPU's registers are now in their INIT state: it waits for a SIPI (or, the BSP, resets). */
  initDone(cpu: number): void {
    Atomics.store(this.ctl, this.c(cpu, CpuCtl.WFS), 1);
  }

  // ---------------------------------------------------------------- before entry

  /**
   * What vCPU `cpu` does next. Its own INIT and SIPI messages arrive here, one at a time, so that an INIT sent
   * before a SIPI is taken (SDM Vol 3A 9.4.4.1) before the SIPI arrives. Then the event ladder (SDM Vol 3A 7.9
   * Priority Among Concurrent Events): an event is taken, and a maskable interrupt acknowledged (SDM Vol 3A 11.8.4
   * Interrupt Acceptance for Fixed Interrupts: IRR -> ISR), only when it will be injected at this entry, so it is
   * never lost (KVM re-injects an interrupt whose delivery an exit cut short) nor taken twice.
   */
  decide(cpu: number): Action {
    const m = this.machine, c = m.cpus[cpu], ctl = this.ctl;
    Atomics.store(ctl, this.c(cpu, CpuCtl.KICKED), 0);
    Atomics.store(ctl, this.c(cpu, CpuCtl.WINDOW), 0);
    const bus = m.bus;
    for (let i = 0; i < bus.count(); ) {
      const w = bus.record(i);
      if (Msg.target(w) !== cpu || !bus.eligible(i)) {
        i++;
        continue;
      }
      this.deliver(i);
      if (Msg.mode(w) === DeliveryMode.INIT && m.pendingEvent(cpu) === 'init') break;
    }
    if (Atomics.load(ctl, this.c(cpu, CpuCtl.WFS)) !== 0 && c.activity() === Activity.ACTIVE) {
      Atomics.store(ctl, this.c(cpu, CpuCtl.WFS), 0);
      this.trace(cpu, `sipi: start at 0x${(c.sipiVector() << 12).toString(16)}`);
      return { kind: 'sipi', vector: c.sipiVector() };
    }
    const ev = m.pendingEvent(cpu);
    switch (ev) {
      case 'smi':
        return { kind: 'smi' };
      case 'init': {
        m.takeEvent(cpu);
        Atomics.store(ctl, this.c(cpu, CpuCtl.NMI_SECOND), 0); // lapis's INIT drops a pending NMI: the second goes too
        this.cr8Seen[cpu] = -1;
        return { kind: 'init', waitForSipi: c.activity() === Activity.WAIT_FOR_SIPI };
      }
      case 'nmi': {
        // KVM tracks NMI blocking from here on (it sees the IRET that ends it, SDM Vol 3A 7.7.1); lapis hands the
        // NMI over and does not keep its own blocking, which only an IRET it never sees would clear.
        m.takeEvent(cpu);
        c.setFlags(c.flags() & ~F.NMI_BLOCKED);
        const n = 1 + Atomics.exchange(ctl, this.c(cpu, CpuCtl.NMI_SECOND), 0);
        this.exits.nmi += n;
        return { ...RUN_NONE, nmi: n, cr8: this.cr8(cpu), requestWindow: this.wantsWindow(cpu) };
      }
      case 'extint':
      case 'intr': {
        const t = m.takeEvent(cpu);
        this.exits.injected++;
        this.trace(cpu, `inject vector 0x${t.vector.toString(16)}`);
        return { ...RUN_NONE, vector: t.vector, cr8: this.cr8(cpu) };
      }
      default:
        break;
    }
    const act = c.activity();
    if (act === Activity.SHUTDOWN) return { kind: 'shutdown' };
    if (act === Activity.HALTED || act === Activity.WAIT_FOR_SIPI) return { kind: 'sleep' };
    const requestWindow = this.wantsWindow(cpu);
    if (requestWindow) Atomics.store(ctl, this.c(cpu, CpuCtl.WINDOW), 1);
    return { ...RUN_NONE, requestWindow, cr8: this.cr8(cpu) };
  }

  /** A maskable interrupt waits for the window (IF = 0 or a shadow at the last exit). */
  private wantsWindow(cpu: number): boolean {
    const c = this.machine.cpus[cpu];
    return c.has(F.EXTINT_PENDING) || c.apic.deliverableVector() >= 0;
  }

  /** CR8 for the entry: TPR[7:4] (SDM Vol 3A 11.8.6.1). */
  private cr8(cpu: number): number {
    const a = this.machine.cpus[cpu].apic;
    const tpr = a.globallyEnabled() ? a.tpr() : 0;
    this.cr8Seen[cpu] = tpr & 0xf0;
    return tpr >>> 4;
  }

  // ---------------------------------------------------------------- trace

  private trace(cpu: number, text: string): void {
    this.host.trace?.(this.machine.now(), cpu, text);
  }
  private traceAccess(cpu: number, what: string, off: number, v: number): void {
    if (this.host.trace) this.trace(cpu, `mmio ${what} ${registerName(off) ?? `0x${off.toString(16)}`} 0x${(v >>> 0).toString(16)}`);
  }
}

function msrName(msr: number): string {
  if (msr === MSR_IA32_APIC_BASE) return 'IA32_APIC_BASE';
  if (msr === MSR_IA32_TSC_DEADLINE) return 'IA32_TSC_DEADLINE';
  if (msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_LAST) return registerName((msr - X2APIC_MSR_BASE) << 4) ?? `0x${msr.toString(16)}`;
  return `0x${msr.toString(16)}`;
}
