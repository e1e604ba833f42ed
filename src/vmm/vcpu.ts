// A vCPU's run loop: enter the guest, take the exit KVM reports in the kvm_run area, handle it under the VM lock
// with lapis as the interrupt controller (src/vmm/irqchip.ts decides what happens before the next entry), act on the
// decision. The loop talks to KVM only through a `VcpuPort` (the kvm_run bytes and the vCPU ioctls it issues): on a
// real VM that is src/vmm/vcpu-worker.ts over /dev/kvm; test/vmm/fake-kvm.ts is a test double that replays scripted
// exits through this same loop, so the exit decoding and the irqchip glue are tested where there is no /dev/kvm.

import { MSR_IA32_APIC_BASE } from '../arch/apic.js';
import { KVM_ABI as K } from './abi.js';
import type { Action } from './irqchip.js';
import { initRegisters, sipiRegisters } from './regs.js';
import type { Replica } from './shared.js';
import { Status } from './status.js';
import { setU64, u32, u64 } from './struct.js';

export const EINTR = 4;

/** One KVM vCPU as the loop uses it. */
export interface VcpuPort {
  /** The vCPU's kvm_run area (KVM_GET_VCPU_MMAP_SIZE bytes, mapped from the vCPU's file descriptor). */
  readonly run: Uint8Array;
  /** KVM_RUN: 0, or the errno (EINTR when kicked). */
  enter(): number;
  /** KVM_INTERRUPT: inject `vector` at the next entry (user-space irqchip). */
  interrupt(vector: number): void;
  /** KVM_NMI. */
  nmi(): void;
  /** KVM_SMI. */
  smi(): void;
  getSregs(): Uint8Array;
  setSregs(sregs: Uint8Array): void;
  setRegs(regs: Uint8Array): void;
  /** KVM_SET_MSRS with one MSR. */
  setMsr(index: number, value: bigint): void;
  /** KVM_SET_VCPU_EVENTS: nothing injected, pending or masked (src/vmm/kvm.ts clearedEvents). */
  clearEvents(): void;
  /** Consume a kick that arrived outside KVM_RUN, so that the next KVM_RUN does not end at once. */
  drainKick(): void;
}

export interface LoopHost {
  /** KVM's reset sregs of this vCPU: the INIT state's segments. */
  resetSregs: Uint8Array;
  /** KVM_CAP_X86_SMM: an SMI can be passed on with KVM_SMI. */
  smm: boolean;
  /** Halted or waiting for a SIPI: block until kicked (a real thread waits on its futex word). */
  sleep(): void;
  /** End the VM: the process exit status and why. */
  stop(status: number, reason: string): void;
}

/** The area where an APIC or I/O APIC would decode: with it disabled or moved, accesses read all ones. */
export function apicOpenBus(addr: number): boolean {
  return addr >= 0xfec00000 && addr < 0xff000000;
}

export class VcpuLoop {
  /** The exit reason still to handle, -1 none. */
  private pending = -1;
  /** The last action decided (tests read it). */
  last: Action | null = null;

  constructor(
    readonly cpu: number,
    private readonly rt: Replica,
    private readonly port: VcpuPort,
    private readonly host: LoopHost,
  ) {}

  /** One turn: handle the last exit and decide under the lock, then act (enter, sleep, INIT, SIPI). False: stopped. */
  step(): boolean {
    const rt = this.rt, run = this.port.run, cpu = this.cpu;
    if (rt.stopped()) return false;
    rt.lock();
    let ok = true;
    try {
      if (this.pending >= 0) {
        // KVM wrote the window, IF and CR8 at this exit (post_kvm_run_save, also when KVM_RUN ended with EINTR).
        rt.chip.exit(cpu, {
          windowOpen: run[K['kvm_run.ready_for_interrupt_injection']] !== 0,
          ifFlag: run[K['kvm_run.if_flag']] !== 0,
          cr8: u64(run, K['kvm_run.cr8']),
        });
        ok = this.handleExit(this.pending);
        this.pending = -1;
      }
      run[K['kvm_run.immediate_exit']] = 0;
      this.last = ok ? rt.chip.decide(cpu) : null;
    } finally {
      rt.unlock(cpu);
    }
    const a = this.last;
    if (!a || rt.stopped()) return false;
    this.act(a);
    return !rt.stopped();
  }

  private act(a: Action): void {
    const port = this.port, run = port.run;
    switch (a.kind) {
      case 'run': {
        for (let n = 0; n < a.nmi; n++) port.nmi();
        if (a.vector >= 0) port.interrupt(a.vector);
        run[K['kvm_run.request_interrupt_window']] = a.requestWindow ? 1 : 0;
        setU64(run, K['kvm_run.cr8'], a.cr8);
        const e = port.enter();
        if (e === EINTR) {
          port.drainKick();
          this.pending = K.KVM_EXIT_INTR;
        } else if (e !== 0) {
          this.host.stop(Status.FAULT, `P${this.cpu}: KVM_RUN failed: errno ${e}`);
        } else {
          this.pending = u32(run, K['kvm_run.exit_reason']);
        }
        return;
      }
      case 'sleep':
        this.host.sleep();
        return;
      case 'init':
        if (!a.waitForSipi) {
          this.host.stop(Status.UNSUPPORTED, `P${this.cpu}: INIT to the BSP resets the machine; lapis-vmm has no firmware to reset to`);
          return;
        }
        this.resetTo(initRegisters(), this.host.resetSregs.slice());
        // INIT resets the processor's event state with its registers (SDM Vol 3A 10.1, Table 10-1; lapis's Cpu.init
        // keeps only a latched SMI and SIPI): NMI blocking ends and a pending NMI is dropped (decision D-8). KVM keeps
        // its own copy, which registers alone do not reset: an AP parked in an NMI handler would otherwise come back
        // from INIT-SIPI with NMIs still masked in KVM, and the next run's NMIs would wait for an IRET.
        this.port.clearEvents();
        this.rt.chip.initDone(this.cpu);
        return;
      case 'sipi': {
        const sregs = this.host.resetSregs.slice();
        this.resetTo(sipiRegisters(a.vector, sregs), sregs);
        return;
      }
      case 'smi':
        if (this.host.smm) port.smi();
        else this.host.stop(Status.UNSUPPORTED, `P${this.cpu}: an SMI, and this KVM has no SMM (KVM_CAP_X86_SMM = 0)`);
        return;
      case 'shutdown':
        this.host.stop(Status.FAULT, `P${this.cpu}: shutdown (triple fault)`);
        return;
    }
  }

  /**
   * New registers after INIT or SIPI (lapis's processor has IF = 0 from its INIT). The APIC base and interrupt
   * bitmap in sregs are the state KVM keeps: take the current ones.
   */
  private resetTo(regs: Uint8Array, sregs: Uint8Array): void {
    const port = this.port;
    sregs.set(port.getSregs().subarray(K['kvm_sregs.apic_base']), K['kvm_sregs.apic_base']);
    port.setSregs(sregs);
    port.setRegs(regs);
  }

  /** The exit KVM_RUN reported, handled under the lock. False when the VM must stop. */
  handleExit(reason: number): boolean {
    const chip = this.rt.chip, run = this.port.run, cpu = this.cpu, host = this.host;
    const dv = new DataView(run.buffer, run.byteOffset, run.byteLength);
    switch (reason) {
      case K.KVM_EXIT_IO: {
        const write = run[K['kvm_run.io.direction']] === K.KVM_EXIT_IO_OUT;
        const size = run[K['kvm_run.io.size']];
        const port = dv.getUint16(K['kvm_run.io.port'], true);
        const count = u32(run, K['kvm_run.io.count']);
        const at = u64(run, K['kvm_run.io.data_offset']);
        for (let i = 0; i < count; i++) {
          const p = at + i * size;
          const v = !write ? 0 : size === 1 ? run[p] : size === 2 ? dv.getUint16(p, true) : dv.getUint32(p, true);
          const r = this.rt.platform.pio(port, size, write, v);
          if (r === undefined) {
            host.stop(Status.DEVICE, `P${cpu} ${write ? 'wrote' : 'read'} I/O port 0x${port.toString(16)} (${size} bytes): no device lapis-vmm emulates is there`);
            return false;
          }
          if (!write) {
            if (size === 1) run[p] = r;
            else if (size === 2) dv.setUint16(p, r, true);
            else dv.setUint32(p, r, true);
          }
        }
        return true;
      }
      case K.KVM_EXIT_MMIO: {
        const addr = u64(run, K['kvm_run.mmio.phys_addr']);
        const len = u32(run, K['kvm_run.mmio.len']);
        const write = run[K['kvm_run.mmio.is_write']] !== 0;
        const data = K['kvm_run.mmio.data'];
        if (write) {
          if (chip.mmioWrite(cpu, addr, len, u32(run, data)) || this.rt.platform.mmio(addr, len, true, u32(run, data)) !== undefined || apicOpenBus(addr)) return true;
        } else {
          const v = chip.mmioRead(cpu, addr, len) ?? this.rt.platform.mmio(addr, len, false, 0) ?? (apicOpenBus(addr) ? 0xffffffff : undefined);
          if (v !== undefined) {
            setU64(run, data, 0);
            for (let i = 0; i < Math.min(len, 4); i++) run[data + i] = (v >>> (8 * i)) & 0xff;
            return true;
          }
        }
        host.stop(Status.DEVICE, `P${cpu} ${write ? 'wrote' : 'read'} MMIO 0x${addr.toString(16)} (${len} bytes): no device lapis-vmm emulates is there`);
        return false;
      }
      case K.KVM_EXIT_X86_RDMSR: {
        const r = chip.rdmsr(cpu, u32(run, K['kvm_run.msr.index']));
        run[K['kvm_run.msr.error']] = r.ok ? 0 : 1;
        if (r.ok) setU64(run, K['kvm_run.msr.data'], r.value);
        return true;
      }
      case K.KVM_EXIT_X86_WRMSR: {
        const msr = u32(run, K['kvm_run.msr.index']);
        const value = dv.getBigUint64(K['kvm_run.msr.data'], true);
        const r = chip.wrmsr(cpu, msr, value);
        run[K['kvm_run.msr.error']] = r.ok ? 0 : 1;
        // KVM keeps its own copy for CPUID.01H:EDX[9], which follows the global enable (SDM Vol 3A 11.4.3).
        if (r.ok && msr === MSR_IA32_APIC_BASE) this.port.setMsr(msr, value);
        return true;
      }
      case K.KVM_EXIT_HLT:
        chip.hlt(cpu);
        return true;
      case K.KVM_EXIT_IRQ_WINDOW_OPEN:
        chip.exits.window++;
        return true;
      case K.KVM_EXIT_SET_TPR:
      case K.KVM_EXIT_INTR:
        return true;
      case K.KVM_EXIT_SHUTDOWN:
        host.stop(Status.FAULT, `P${cpu}: triple fault (KVM_EXIT_SHUTDOWN)`);
        return false;
      case K.KVM_EXIT_FAIL_ENTRY:
        host.stop(Status.FAULT, `P${cpu}: KVM could not enter the guest (hardware reason 0x${u64(run, K['kvm_run.fail_entry.hardware_entry_failure_reason']).toString(16)})`);
        return false;
      case K.KVM_EXIT_INTERNAL_ERROR:
        host.stop(Status.FAULT, `P${cpu}: KVM internal error (suberror ${u32(run, K['kvm_run.internal.suberror'])}: KVM could not emulate an instruction)`);
        return false;
      case K.KVM_EXIT_SYSTEM_EVENT:
        host.stop(Status.HALTED, `P${cpu}: system event ${u32(run, K['kvm_run.system_event.type'])} (shutdown or reset)`);
        return false;
      default:
        host.stop(Status.FAULT, `P${cpu}: unexpected KVM exit reason ${reason}`);
        return false;
    }
  }
}
