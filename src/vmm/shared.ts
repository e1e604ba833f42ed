// The state the VMM's threads share: one futex lock (like QEMU's big lock), lapis's Machine state, the control words
// (src/vmm/irqchip.ts CpuCtl, src/vmm/platform.ts PlatformCtl) and the clock binding. Every thread holds a replica
// of the Machine; `lock` copies the shared state in, `unlock` copies it back, so an exit is handled by the vCPU's own
// thread without a round trip to another one.

import { Machine, type TraceEvent } from '../machine/machine.js';
import { CpuCtl, CTL_HEADER, ctlWords, IrqChip, type IrqChipHost } from './irqchip.js';
import { Platform, type PlatformHost } from './platform.js';

/** Control words below CTL_HEADER that belong to the VMM. */
export const VmCtl = { LOCK: 0, CLOCK_GEN: 1, STOP: 2, EXIT_STATUS: 3 } as const;
/** Float64 words: the clock binding and the next timer deadline. */
export const Clk = { TSC_BASE: 0, NS_BASE: 1, TSC_KHZ: 2, NEXT_DEADLINE: 3, WORDS: 4 } as const;

export interface MachineShape {
  cpus: number;
  x2apic: boolean;
  tscDeadline: boolean;
  /** TSC ticks per APIC timer tick. */
  timerRatio: number;
}

export interface SharedBuffers {
  ctl: SharedArrayBuffer;
  state: SharedArrayBuffer;
  clock: SharedArrayBuffer;
  tids: SharedArrayBuffer;
}

export function newMachine(shape: MachineShape, onTrace?: (e: TraceEvent) => void): Machine {
  return new Machine({ cpus: shape.cpus, x2apic: shape.x2apic, tscDeadline: shape.tscDeadline, timerRatio: shape.timerRatio, delivery: 'queued', busCapacity: 256, onTrace });
}

/** The guest's TSC at host time `nsBase`, and its rate. */
export interface ClockBinding {
  tscBase: number;
  nsBase: number;
  tscKhz: number;
}

/** The shared state of a VM at power-on: lapis's Machine at reset, the APs waiting for a SIPI, the clock bound. */
export function allocShared(shape: MachineShape, bind: ClockBinding): SharedBuffers {
  const m = newMachine(shape);
  const b: SharedBuffers = {
    ctl: new SharedArrayBuffer(4 * ctlWords(shape.cpus)),
    state: new SharedArrayBuffer(4 * m.state.length),
    clock: new SharedArrayBuffer(8 * Clk.WORDS),
    tids: new SharedArrayBuffer(8 * shape.cpus),
  };
  new Uint32Array(b.state).set(m.state);
  const clock = new Float64Array(b.clock);
  clock[Clk.TSC_BASE] = bind.tscBase;
  clock[Clk.NS_BASE] = bind.nsBase;
  clock[Clk.TSC_KHZ] = bind.tscKhz;
  clock[Clk.NEXT_DEADLINE] = Infinity;
  // KVM's vCPUs start with their reset registers: the APs' are the INIT state lapis's wait-for-SIPI expects.
  const ctl = new Int32Array(b.ctl);
  for (let i = 1; i < shape.cpus; i++) ctl[CTL_HEADER + i * CpuCtl.WORDS + CpuCtl.WFS] = 1;
  return b;
}

export interface ReplicaHost extends Omit<IrqChipHost, 'tsc'>, Omit<PlatformHost, 'cpus' | 'irq' | 'tsc' | 'tscKhz' | 'msi'> {
  onTrace?: (e: TraceEvent) => void;
  /** Host nanoseconds (default: the monotonic clock); the TSC binding is relative to it. */
  nowNs?: () => number;
}

const hostNs = (): number => Number(process.hrtime.bigint());

/** One thread's view: its Machine replica, the irqchip glue and the platform devices over the shared words. */
export class Replica {
  readonly ctl: Int32Array;
  readonly state: Uint32Array;
  readonly clock: Float64Array;
  readonly machine: Machine;
  readonly chip: IrqChip;
  readonly platform: Platform;
  private readonly nowNs: () => number;

  constructor(buffers: SharedBuffers, shape: MachineShape, host: ReplicaHost) {
    this.nowNs = host.nowNs ?? hostNs;
    this.ctl = new Int32Array(buffers.ctl);
    this.state = new Uint32Array(buffers.state);
    this.clock = new Float64Array(buffers.clock);
    this.machine = newMachine(shape, host.onTrace);
    this.chip = new IrqChip(this.machine, this.ctl, { tsc: () => this.tsc(), kick: host.kick, trace: host.trace });
    this.platform = new Platform(this.ctl, {
      ...host, cpus: shape.cpus, irq: (line, level) => this.chip.irq(line, level), tsc: () => this.tsc(), tscKhz: () => this.clock[Clk.TSC_KHZ],
      msi: (address, data) => this.machine.msi(address, data),
    });
  }

  /** The guest's TSC now: the binding taken at start (guest TSC and host nanoseconds) and the TSC rate. */
  tsc(): number {
    const c = this.clock;
    return Math.floor(c[Clk.TSC_BASE] + (this.nowNs() - c[Clk.NS_BASE]) * c[Clk.TSC_KHZ] / 1e6);
  }
  /** Milliseconds from now until guest TSC `t`. */
  msUntil(t: number): number {
    return Math.max(0, (t - this.tsc()) / this.clock[Clk.TSC_KHZ]);
  }

  lock(): void {
    const c = this.ctl;
    if (Atomics.compareExchange(c, VmCtl.LOCK, 0, 1) !== 0) {
      while (Atomics.exchange(c, VmCtl.LOCK, 2) !== 0) Atomics.wait(c, VmCtl.LOCK, 2);
    }
    this.machine.restore(this.state);
    this.chip.enter();
  }

  unlock(self: number): void {
    this.chip.leave(self);
    this.state.set(this.machine.state);
    const d = this.machine.nextDeadline();
    if (d !== this.clock[Clk.NEXT_DEADLINE]) {
      this.clock[Clk.NEXT_DEADLINE] = d;
      Atomics.add(this.ctl, VmCtl.CLOCK_GEN, 1);
      Atomics.notify(this.ctl, VmCtl.CLOCK_GEN);
    }
    if (Atomics.exchange(this.ctl, VmCtl.LOCK, 0) === 2) Atomics.notify(this.ctl, VmCtl.LOCK, 1);
  }

  stopped(): boolean {
    return Atomics.load(this.ctl, VmCtl.STOP) !== 0;
  }
}
