// A test double for KVM (not KVM): each vCPU's "guest" is a script, a generator that yields the exits a real guest
// would cause (port I/O, MMIO, MSR, HLT, the interrupt window, a triple fault). The double writes each exit into a
// kvm_run area at the offsets src/vmm/abi.ts gives (checked against <linux/kvm.h> by abi.test.ts) and hands the
// script what KVM would have seen at the next KVM_RUN: the vector injected, an NMI, the window request, CR8 and the
// value a read returned. The vCPUs' run loops (src/vmm/vcpu.ts) are the real ones, each with its own Replica of the
// shared state as each vCPU thread has; the test steps them in turn, in one thread, so every interleaving is
// chosen by the test. What it checks as KVM would: KVM_INTERRUPT only into an open window, one at a time.

import { KVM_ABI as K } from '../../src/vmm/abi.js';
import { CpuCtl, CTL_HEADER } from '../../src/vmm/irqchip.js';
import { allocShared, Replica, VmCtl, type MachineShape, type SharedBuffers } from '../../src/vmm/shared.js';
import { setU16, setU32, setU64, u16, u32, u64 } from '../../src/vmm/struct.js';
import { EINTR, VcpuLoop, type VcpuPort } from '../../src/vmm/vcpu.js';

/** The vCPU's state at an exit: RFLAGS.IF (default 1), an STI/MOV SS shadow (default none), CR8 (default 0). */
interface ExitFlags {
  if?: boolean;
  shadow?: boolean;
  cr8?: number;
}
export type GuestExit = ExitFlags &
  (
    | { kind: 'out'; port: number; size: 1 | 2 | 4; value: number | number[] }
    | { kind: 'in'; port: number; size: 1 | 2 | 4; count?: number }
    | { kind: 'mmio-write'; addr: number; value: number; len?: number }
    | { kind: 'mmio-read'; addr: number; len?: number }
    | { kind: 'rdmsr'; index: number }
    | { kind: 'wrmsr'; index: number; value: bigint }
    | { kind: 'hlt' }
    | { kind: 'window' }
    | { kind: 'shutdown' }
    | { kind: 'internal-error' }
  );

/** What KVM saw at a KVM_RUN: what was injected, the window request, CR8, and what the last read returned. */
export interface Entry {
  vector: number;
  /** NMIs queued with KVM_NMI since the last entry. */
  nmi: number;
  requestWindow: boolean;
  cr8: number;
  /** The last `in` (every element of a string input), `mmio-read` or `rdmsr`: its value; `#GP` for a failed MSR. */
  read: number[] | bigint | '#GP' | null;
}

export type Guest = (v: FakeVcpu) => Generator<GuestExit, void, Entry>;

const RUN_BYTES = 3 * 4096;
/** KVM puts port I/O data in the kvm_run mapping's second page (KVM_PIO_PAGE_OFFSET). */
const PIO_DATA = 4096;
const REASON: Record<GuestExit['kind'], number> = {
  out: K.KVM_EXIT_IO, in: K.KVM_EXIT_IO, 'mmio-write': K.KVM_EXIT_MMIO, 'mmio-read': K.KVM_EXIT_MMIO,
  rdmsr: K.KVM_EXIT_X86_RDMSR, wrmsr: K.KVM_EXIT_X86_WRMSR, hlt: K.KVM_EXIT_HLT, window: K.KVM_EXIT_IRQ_WINDOW_OPEN,
  shutdown: K.KVM_EXIT_SHUTDOWN, 'internal-error': K.KVM_EXIT_INTERNAL_ERROR,
};

export class FakeVcpu implements VcpuPort {
  readonly run = new Uint8Array(RUN_BYTES);
  /** Every ioctl the loop issued, in order (KVM_RUN included, with how it ended). */
  readonly log: string[] = [];
  /** Every entry KVM_RUN made into the guest. */
  readonly entries: Entry[] = [];
  /** The last registers set (INIT, SIPI): RIP, CS selector and base. */
  regs: { rip: number; cs: number; csBase: number } | null = null;
  sleeps = 0;
  private gen: Generator<GuestExit, void, Entry> | null = null;
  private last: GuestExit | null = null;
  private vector = -1;
  private nmiQueued = 0;
  private windowOpen = false;
  private sregs = new Uint8Array(K['sizeof kvm_sregs']);

  constructor(
    readonly index: number,
    private readonly guest: Guest,
  ) {}

  /** The guest finished its script (or has not started). */
  get done(): boolean {
    return this.gen !== null && this.last === null;
  }

  enter(): number {
    const run = this.run;
    if (run[K['kvm_run.immediate_exit']]) {
      // Nothing entered the guest. A vector already queued stays queued, and KVM reports the window closed while it
      // is (kvm_vcpu_ready_for_interrupt_injection), as at any exit.
      this.log.push('KVM_RUN: EINTR');
      setU32(run, K['kvm_run.exit_reason'], K.KVM_EXIT_INTR);
      if (this.vector >= 0) {
        this.windowOpen = false;
        run[K['kvm_run.ready_for_interrupt_injection']] = 0;
      }
      return EINTR;
    }
    const entry: Entry = {
      vector: this.vector, nmi: this.nmiQueued, requestWindow: run[K['kvm_run.request_interrupt_window']] !== 0,
      cr8: u64(run, K['kvm_run.cr8']), read: this.readResult(),
    };
    this.vector = -1;
    this.nmiQueued = 0;
    this.entries.push(entry);
    this.log.push(`KVM_RUN${entry.vector >= 0 ? ` +0x${entry.vector.toString(16)}` : ''}${entry.nmi ? ` +${entry.nmi} NMI` : ''}${entry.requestWindow ? ' window?' : ''}`);
    this.gen ??= this.guest(this);
    const next = this.gen.next(entry);
    if (next.done) throw new Error(`P${this.index}: the guest script ended while the VM still ran it`);
    this.write(next.value);
    return 0;
  }

  private readResult(): Entry['read'] {
    const x = this.last, run = this.run;
    if (!x) return null;
    if (x.kind === 'in') return Array.from({ length: x.count ?? 1 }, (_, i) => { const at = PIO_DATA + i * x.size; return x.size === 1 ? run[at] : x.size === 2 ? u16(run, at) : u32(run, at); });
    if (x.kind === 'mmio-read') return [u32(run, K['kvm_run.mmio.data'])];
    if (x.kind === 'rdmsr') return run[K['kvm_run.msr.error']] ? '#GP' : new DataView(run.buffer).getBigUint64(K['kvm_run.msr.data'], true);
    if (x.kind === 'wrmsr') return run[K['kvm_run.msr.error']] ? '#GP' : null;
    return null;
  }

  private write(x: GuestExit): void {
    const run = this.run, ifFlag = x.if ?? true;
    this.last = x;
    this.windowOpen = ifFlag && !x.shadow;
    run.fill(0, K['kvm_run.exit_reason'], PIO_DATA + 64);
    setU32(run, K['kvm_run.exit_reason'], REASON[x.kind]);
    run[K['kvm_run.ready_for_interrupt_injection']] = this.windowOpen ? 1 : 0;
    run[K['kvm_run.if_flag']] = ifFlag ? 1 : 0;
    setU64(run, K['kvm_run.cr8'], x.cr8 ?? 0);
    switch (x.kind) {
      case 'out':
      case 'in': {
        const values = x.kind === 'out' ? (Array.isArray(x.value) ? x.value : [x.value]) : [];
        run[K['kvm_run.io.direction']] = x.kind === 'out' ? K.KVM_EXIT_IO_OUT : K.KVM_EXIT_IO_IN;
        run[K['kvm_run.io.size']] = x.size;
        setU16(run, K['kvm_run.io.port'], x.port);
        setU32(run, K['kvm_run.io.count'], x.kind === 'out' ? values.length : (x.count ?? 1));
        setU64(run, K['kvm_run.io.data_offset'], PIO_DATA);
        values.forEach((v, i) => {
          const at = PIO_DATA + i * x.size;
          if (x.size === 1) run[at] = v;
          else if (x.size === 2) setU16(run, at, v);
          else setU32(run, at, v);
        });
        return;
      }
      case 'mmio-write':
      case 'mmio-read':
        setU64(run, K['kvm_run.mmio.phys_addr'], x.addr);
        setU32(run, K['kvm_run.mmio.len'], x.len ?? 4);
        run[K['kvm_run.mmio.is_write']] = x.kind === 'mmio-write' ? 1 : 0;
        if (x.kind === 'mmio-write') setU32(run, K['kvm_run.mmio.data'], x.value);
        return;
      case 'rdmsr':
      case 'wrmsr':
        setU32(run, K['kvm_run.msr.index'], x.index);
        setU32(run, K['kvm_run.msr.reason'], K.KVM_MSR_EXIT_REASON_INVAL);
        if (x.kind === 'wrmsr') setU64(run, K['kvm_run.msr.data'], x.value);
        return;
      default:
        return;
    }
  }

  interrupt(vector: number): void {
    this.log.push(`KVM_INTERRUPT 0x${vector.toString(16)}`);
    // KVM without an in-kernel irqchip takes one vector at a time (EEXIST), and injects it at entry whatever IF says:
    // injecting into a closed window would be the run loop's bug.
    if (this.vector >= 0) throw new Error(`P${this.index}: KVM_INTERRUPT 0x${vector.toString(16)} while 0x${this.vector.toString(16)} is queued (EEXIST)`);
    if (!this.windowOpen) throw new Error(`P${this.index}: KVM_INTERRUPT 0x${vector.toString(16)} into a closed interrupt window`);
    this.vector = vector;
  }
  nmi(): void {
    this.log.push('KVM_NMI');
    this.nmiQueued++;
  }
  smi(): void {
    this.log.push('KVM_SMI');
  }
  getSregs(): Uint8Array {
    return this.sregs.slice();
  }
  setSregs(s: Uint8Array): void {
    this.log.push('KVM_SET_SREGS');
    this.sregs = s.slice();
  }
  clearEvents(): void {
    this.log.push('KVM_SET_VCPU_EVENTS (cleared)');
    this.nmiQueued = 0;
    this.vector = -1;
  }
  setRegs(r: Uint8Array): void {
    this.log.push('KVM_SET_REGS');
    const cs = K['kvm_sregs.cs'];
    this.regs = { rip: u64(r, K['kvm_regs.rip']), cs: u16(this.sregs, cs + K['kvm_segment.selector']), csBase: u64(this.sregs, cs + K['kvm_segment.base']) };
    this.windowOpen = false; // RFLAGS = 2 after INIT and at a SIPI's start
  }
  setMsr(index: number, value: bigint): void {
    this.log.push(`KVM_SET_MSRS 0x${index.toString(16)}=0x${value.toString(16)}`);
  }
  drainKick(): void {
    this.log.push('drain kick');
  }
}

export interface FakeVmOptions {
  cpus?: number;
  x2apic?: boolean;
  tscDeadline?: boolean;
  /** TSC kHz (default 1 GHz: a TSC tick is a nanosecond). */
  tscKhz?: number;
  smm?: boolean;
  ramBytes?: number;
  /** The RTC's time (default: the host's). */
  wallClockMs?: number;
  /** QEMU's edu device on PCI bus 0 (lapis vmm --device edu). */
  edu?: boolean;
}

/** A VM of fake vCPUs run by the real loops; the clock is the test's (`advance`). */
export class FakeVm {
  readonly vcpus: FakeVcpu[];
  readonly loops: VcpuLoop[];
  readonly buffers: SharedBuffers;
  readonly shape: MachineShape;
  readonly serial: number[] = [];
  readonly kicks: number[] = [];
  readonly trace: string[] = [];
  stopped: { status: number; reason: string } | null = null;
  ns = 0;
  /** The clock thread's replica (src/vmm/vcpu-worker.ts clockLoop). */
  readonly clock: Replica;

  constructor(guests: Guest[], o: FakeVmOptions = {}) {
    const cpus = o.cpus ?? guests.length, tscKhz = o.tscKhz ?? 1_000_000;
    this.shape = { cpus, x2apic: o.x2apic ?? false, tscDeadline: o.tscDeadline ?? false, timerRatio: Math.max(1, Math.round(tscKhz / 1e6)) };
    this.buffers = allocShared(this.shape, { tscBase: 0, nsBase: 0, tscKhz });
    this.vcpus = guests.map((g, i) => new FakeVcpu(i, g));
    const replica = (): Replica => new Replica(this.buffers, this.shape, {
      ramBytes: o.ramBytes ?? 128 << 20,
      edu: o.edu,
      nowNs: () => this.ns,
      kick: (j) => {
        this.kicks.push(j);
        this.vcpus[j].run[K['kvm_run.immediate_exit']] = 1;
      },
      serial: (b) => this.serial.push(b),
      wallClockMs: o.wallClockMs === undefined ? undefined : () => o.wallClockMs as number,
      exit: (status) => this.stop(status, `isa-debug-exit ${status}`),
      trace: (time, c, text) => this.trace.push(`${time} P${c} ${text}`),
    });
    this.clock = replica();
    this.loops = this.vcpus.map((v, i) => new VcpuLoop(i, replica(), v, {
      resetSregs: new Uint8Array(K['sizeof kvm_sregs']),
      smm: o.smm ?? false,
      sleep: () => v.sleeps++,
      stop: (status, reason) => this.stop(status, reason),
    }));
  }

  private stop(status: number, reason: string): void {
    const ctl = new Int32Array(this.buffers.ctl);
    if (Atomics.compareExchange(ctl, VmCtl.STOP, 0, 1) === 0) this.stopped = { status, reason };
  }

  /** One turn of vCPU i's loop; the action it decided. */
  step(i: number): string {
    this.loops[i].step();
    const a = this.loops[i].last;
    return a === null ? 'stopped' : a.kind;
  }

  /** Turns of every vCPU in order until the VM stops (or `limit` rounds: a test that never ends fails). */
  runToStop(limit = 1000): { status: number; reason: string } {
    for (let r = 0; r < limit && !this.stopped; r++) for (let i = 0; i < this.loops.length && !this.stopped; i++) this.step(i);
    if (!this.stopped) throw new Error(`the VM did not stop within ${limit} rounds`);
    return this.stopped;
  }

  /** Host time passes; the clock thread takes the lock (lapis's timers fire) and kicks whom they interrupt. */
  advance(ns: number): void {
    this.ns += ns;
    this.clock.lock();
    this.clock.unlock(-1);
  }

  /**
   * Start AP `cpu` at `vector << 12` as a SIPI from the platform would (a shortcut for tests about something else;
   * the INIT-SIPI-SIPI a BSP sends is tested through the ICR). Its loop then takes the SIPI at its next turn.
   */
  sipi(cpu: number, vector: number): void {
    this.clock.lock();
    this.clock.machine.cpus[cpu].receiveSipi(vector);
    this.clock.unlock(-1);
  }

  /** vCPU i's thread is asleep and was kicked (its KICKED word). */
  kicked(i: number): boolean {
    return Atomics.load(new Int32Array(this.buffers.ctl), CTL_HEADER + i * CpuCtl.WORDS + CpuCtl.KICKED) !== 0;
  }
}

// ---- exits a guest script yields ---------------------------------------------------------------------------------

export const APIC = 0xfee00000;
export const IOAPIC = 0xfec00000;
/** SVR: software enable, spurious vector 0xFF. */
export const APIC_ENABLE = 0x1ff;
/** ICR delivery modes (SDM Vol 3A 11.6.1). */
export const Mode = { FIXED: 0, SMI: 2, NMI: 4, INIT: 5, SIPI: 6 } as const;
/** ICR low word: vector, delivery mode, level assert. */
export const icrLo = (vector: number, mode: number): number => vector | (mode << 8) | (1 << 14);
/** The guest's write to isa-debug-exit with `code`: the VM stops with (code << 1) | 1. */
export const debugExit = (code: number): GuestExit => ({ kind: 'out', port: 0xf4, size: 4, value: code });
export const apicWrite = (off: number, value: number, flags: ExitFlags = {}): GuestExit => ({ kind: 'mmio-write', addr: APIC + off, value, ...flags });
export const apicRead = (off: number, flags: ExitFlags = {}): GuestExit => ({ kind: 'mmio-read', addr: APIC + off, ...flags });
/** IOREGSEL then IOWIN (82093AA 3.0). */
export const ioapicWrite = (index: number, value: number, flags: ExitFlags = {}): GuestExit[] => [
  { kind: 'mmio-write', addr: IOAPIC, value: index, ...flags },
  { kind: 'mmio-write', addr: IOAPIC + 0x10, value, ...flags },
];
/** The value a port or MMIO read returned. */
export function read(e: Entry): number {
  if (!Array.isArray(e.read)) throw new Error(`not a port or MMIO read: ${String(e.read)}`);
  return e.read[0];
}
