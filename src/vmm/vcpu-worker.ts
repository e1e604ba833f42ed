// One vCPU's thread: blocks in KVM_RUN, handles each exit under the VM lock with lapis as the interrupt controller
// (src/vmm/irqchip.ts decides), sleeps in Atomics.wait while halted or waiting for a SIPI. Also the clock thread
// (cpu = -1): it fires lapis's timers at their deadlines and kicks the vCPUs they interrupt.

import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { MSR_IA32_APIC_BASE } from '../arch/apic.js';
import { KVM_ABI as K } from './abi.js';
import { CpuCtl, CTL_HEADER } from './irqchip.js';
import { KICK_SIGNAL, blockKickSignal, drainKickSignal, flushHostPage, ioctl, kvmRun, mapRun, setU32, setU64, signalThread, threadId, u32, u64, type Mapping } from './kvm.js';
import { initRegisters, sipiRegisters } from './regs.js';
import { Clk, Replica, VmCtl, type MachineShape, type SharedBuffers } from './shared.js';
import { Status, type StatsMessage, type StopMessage } from './status.js';

export interface WorkerInit {
  cpu: number;
  vcpuFds: number[];
  mmapSize: number;
  buffers: SharedBuffers;
  shape: MachineShape;
  ramBytes: number;
  ramAddress: bigint;
  trace: boolean;
  /** KVM's reset sregs of this vCPU (the INIT state's segments). */
  resetSregs: Uint8Array;
  /** KVM_CAP_X86_SMM: an SMI can be passed on with KVM_SMI. */
  smm: boolean;
}


const d = workerData as WorkerInit;
const EINTR = 4;
const cpu = d.cpu;
const tids = new BigInt64Array(d.buffers.tids);
blockKickSignal();
if (cpu >= 0) tids[cpu] = threadId();
const runs: Mapping[] = d.vcpuFds.map((fd) => mapRun(fd, d.mmapSize));
const outBuf: number[] = [];

const rt = new Replica(d.buffers, d.shape, {
  ramBytes: d.ramBytes,
  kick: (j) => {
    runs[j].bytes[K['kvm_run.immediate_exit']] = 1;
    Atomics.notify(rt.ctl, CTL_HEADER + j * CpuCtl.WORDS + CpuCtl.KICKED);
    if (tids[j] !== 0n) signalThread(tids[j]);
  },
  serial: (b) => {
    outBuf.push(b);
    if (b === 10 || outBuf.length >= 256) flushSerial();
  },
  exit: (status) => stop(status, `the guest wrote to isa-debug-exit: status ${status}`),
  flushPage: (gpa) => {
    if (gpa < d.ramBytes) flushHostPage(d.ramAddress + BigInt(gpa));
  },
  trace: d.trace ? (time, c, text) => writeSync(2, `${time} P${c} vmm: ${text}\n`) : undefined,
  onTrace: d.trace ? (e) => writeSync(2, `${e.time} ${e.cpu < 0 ? 'platform' : `P${e.cpu}`} ${e.layer}: ${e.text}\n`) : undefined,
});

function flushSerial(): void {
  if (outBuf.length) writeSync(1, Uint8Array.from(outBuf));
  outBuf.length = 0;
}

function stop(status: number, reason: string): void {
  if (Atomics.compareExchange(rt.ctl, VmCtl.STOP, 0, 1) === 0) {
    rt.ctl[VmCtl.EXIT_STATUS] = status;
    parentPort?.postMessage({ kind: 'stop', status, reason } satisfies StopMessage);
  }
  for (let j = 0; j < runs.length; j++) {
    runs[j].bytes[K['kvm_run.immediate_exit']] = 1;
    Atomics.store(rt.ctl, CTL_HEADER + j * CpuCtl.WORDS + CpuCtl.KICKED, 1);
    Atomics.notify(rt.ctl, CTL_HEADER + j * CpuCtl.WORDS + CpuCtl.KICKED);
    if (j !== cpu && tids[j] !== 0n) signalThread(tids[j]);
  }
  Atomics.notify(rt.ctl, VmCtl.CLOCK_GEN);
}

// ---- the clock thread ------------------------------------------------------------------------------------------

function clockLoop(): void {
  while (!rt.stopped()) {
    const gen = Atomics.load(rt.ctl, VmCtl.CLOCK_GEN);
    rt.lock();
    rt.unlock(-1);
    const next = rt.clock[Clk.NEXT_DEADLINE];
    const ms = Number.isFinite(next) ? rt.msUntil(next) : 1000;
    if (ms > 0) Atomics.wait(rt.ctl, VmCtl.CLOCK_GEN, gen, Math.min(ms, 1000));
  }
}

// ---- a vCPU thread ---------------------------------------------------------------------------------------------

const fd = cpu >= 0 ? d.vcpuFds[cpu] : -1;
const run = cpu >= 0 ? runs[cpu].bytes : new Uint8Array(0);
const kicked = CTL_HEADER + cpu * CpuCtl.WORDS + CpuCtl.KICKED;

function setKvmMsr(index: number, value: bigint): void {
  const b = new Uint8Array(K['kvm_msrs.entries'] + K['sizeof kvm_msr_entry']);
  setU32(b, K['kvm_msrs.nmsrs'], 1);
  setU32(b, K['kvm_msrs.entries'] + K['kvm_msr_entry.index'], index);
  setU64(b, K['kvm_msrs.entries'] + K['kvm_msr_entry.data'], value);
  ioctl(fd, K.KVM_SET_MSRS, b, 'KVM_SET_MSRS');
}

function getSregs(): Uint8Array {
  const s = new Uint8Array(K['sizeof kvm_sregs']);
  ioctl(fd, K.KVM_GET_SREGS, s, 'KVM_GET_SREGS');
  return s;
}
function resetTo(regs: Uint8Array, sregs: Uint8Array): void {
  // The APIC base and interrupt bitmap fields belong to the state KVM keeps; take the current ones.
  const cur = getSregs();
  sregs.set(cur.subarray(K['kvm_sregs.apic_base']), K['kvm_sregs.apic_base']);
  ioctl(fd, K.KVM_SET_SREGS, sregs, 'KVM_SET_SREGS');
  ioctl(fd, K.KVM_SET_REGS, regs, 'KVM_SET_REGS');
}

/** The exit KVM_RUN reported, handled under the lock. False when the VM must stop. */
function handleExit(reason: number): boolean {
  const chip = rt.chip;
  switch (reason) {
    case K.KVM_EXIT_IO: {
      const write = run[K['kvm_run.io.direction']] === K.KVM_EXIT_IO_OUT;
      const size = run[K['kvm_run.io.size']];
      const port = new DataView(run.buffer, run.byteOffset).getUint16(K['kvm_run.io.port'], true);
      const count = u32(run, K['kvm_run.io.count']);
      const at = u64(run, K['kvm_run.io.data_offset']);
      const dv = new DataView(run.buffer, run.byteOffset);
      for (let i = 0; i < count; i++) {
        const p = at + i * size;
        const v = !write ? 0 : size === 1 ? run[p] : size === 2 ? dv.getUint16(p, true) : dv.getUint32(p, true);
        const r = rt.platform.pio(port, size, write, v);
        if (r === undefined) {
          stop(Status.DEVICE, `P${cpu} ${write ? 'wrote' : 'read'} I/O port 0x${port.toString(16)} (${size} bytes): no device lapis-vmm emulates is there`);
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
        const v = u32(run, data);
        if (chip.mmioWrite(cpu, addr, len, v) || openBus(addr)) return true;
      } else {
        const v = chip.mmioRead(cpu, addr, len) ?? (openBus(addr) ? 0xffffffff : undefined);
        if (v !== undefined) {
          setU64(run, data, len > 4 ? 0 : v);
          if (len <= 4) new DataView(run.buffer, run.byteOffset).setUint32(data, v >>> 0, true);
          return true;
        }
      }
      stop(Status.DEVICE, `P${cpu} ${write ? 'wrote' : 'read'} MMIO 0x${addr.toString(16)} (${len} bytes): no device lapis-vmm emulates is there`);
      return false;
    }
    case K.KVM_EXIT_X86_RDMSR:
    case K.KVM_EXIT_X86_WRMSR: {
      const msr = u32(run, K['kvm_run.msr.index']);
      if (reason === K.KVM_EXIT_X86_RDMSR) {
        const r = chip.rdmsr(cpu, msr);
        run[K['kvm_run.msr.error']] = r.ok ? 0 : 1;
        if (r.ok) setU64(run, K['kvm_run.msr.data'], r.value);
      } else {
        const value = new DataView(run.buffer, run.byteOffset).getBigUint64(K['kvm_run.msr.data'], true);
        const r = chip.wrmsr(cpu, msr, value);
        run[K['kvm_run.msr.error']] = r.ok ? 0 : 1;
        // KVM keeps its own copy for CPUID.01H:EDX[9], which follows the global enable (SDM Vol 3A 11.4.3).
        if (r.ok && msr === MSR_IA32_APIC_BASE) setKvmMsr(msr, value);
      }
      return true;
    }
    case K.KVM_EXIT_HLT:
      chip.hlt(cpu);
      return true;
    case K.KVM_EXIT_IRQ_WINDOW_OPEN:
    case K.KVM_EXIT_SET_TPR:
    case K.KVM_EXIT_INTR:
      chip.exits.window += reason === K.KVM_EXIT_IRQ_WINDOW_OPEN ? 1 : 0;
      return true;
    case K.KVM_EXIT_SHUTDOWN:
      stop(Status.FAULT, `P${cpu}: triple fault (KVM_EXIT_SHUTDOWN)`);
      return false;
    case K.KVM_EXIT_FAIL_ENTRY:
      stop(Status.FAULT, `P${cpu}: KVM could not enter the guest (hardware reason 0x${u64(run, K['kvm_run.fail_entry.hardware_entry_failure_reason']).toString(16)})`);
      return false;
    case K.KVM_EXIT_INTERNAL_ERROR:
      stop(Status.FAULT, `P${cpu}: KVM internal error (suberror ${u32(run, K['kvm_run.internal.suberror'])}: KVM could not emulate an instruction)`);
      return false;
    case K.KVM_EXIT_SYSTEM_EVENT:
      stop(Status.HALTED, `P${cpu}: system event ${u32(run, K['kvm_run.system_event.type'])} (shutdown or reset)`);
      return false;
    default:
      stop(Status.FAULT, `P${cpu}: unexpected KVM exit reason ${reason}`);
      return false;
  }
}

/** The area where an APIC or I/O APIC would decode: with it disabled or moved, accesses read all ones. */
function openBus(addr: number): boolean {
  return addr >= 0xfec00000 && addr < 0xff000000;
}

function vcpuLoop(): void {
  const sigmask = new Uint8Array(12);
  new DataView(sigmask.buffer).setUint32(0, 8, true);
  sigmask.set(new Uint8Array(8).fill(0xff), 4);
  const kickBit = KICK_SIGNAL - 1;
  sigmask[4 + (kickBit >> 3)] &= ~(1 << (kickBit & 7));
  ioctl(fd, K.KVM_SET_SIGNAL_MASK, sigmask, 'KVM_SET_SIGNAL_MASK');
  let pending = -1; // the exit reason still to handle, -1 none
  while (!rt.stopped()) {
    rt.lock();
    let ok = true;
    if (pending >= 0) ok = handleExit(pending);
    pending = -1;
    rt.chip.exit(cpu, { windowOpen: run[K['kvm_run.ready_for_interrupt_injection']] !== 0, cr8: u64(run, K['kvm_run.cr8']) });
    run[K['kvm_run.immediate_exit']] = 0;
    const a = ok ? rt.chip.decide(cpu) : null;
    rt.unlock(cpu);
    if (!a || rt.stopped()) break;
    switch (a.kind) {
      case 'run': {
        if (a.nmi) ioctl(fd, K.KVM_NMI, 0, 'KVM_NMI');
        if (a.vector >= 0) ioctl(fd, K.KVM_INTERRUPT, new Uint8Array(new Uint32Array([a.vector]).buffer), 'KVM_INTERRUPT');
        run[K['kvm_run.request_interrupt_window']] = a.requestWindow ? 1 : 0;
        setU64(run, K['kvm_run.cr8'], a.cr8);
        const e = kvmRun(fd);
        if (e === EINTR) {
          drainKickSignal();
          pending = K.KVM_EXIT_INTR;
        } else if (e !== 0) {
          stop(Status.FAULT, `P${cpu}: KVM_RUN failed: errno ${e}`);
        } else {
          pending = u32(run, K['kvm_run.exit_reason']);
        }
        break;
      }
      case 'sleep':
        flushSerial();
        Atomics.wait(rt.ctl, kicked, 0, 1000);
        break;
      case 'init':
        if (!a.waitForSipi) {
          stop(Status.UNSUPPORTED, `P${cpu}: INIT to the BSP resets the machine; lapis-vmm has no firmware to reset to`);
          break;
        }
        resetTo(initRegisters(), d.resetSregs.slice());
        rt.chip.initDone(cpu);
        break;
      case 'sipi':
      {
        const sregs = d.resetSregs.slice();
        resetTo(sipiRegisters(a.vector, sregs), sregs);
        break;
      }
      case 'smi':
        if (d.smm) ioctl(fd, K.KVM_SMI, 0, 'KVM_SMI');
        else stop(Status.UNSUPPORTED, `P${cpu}: an SMI, and this KVM has no SMM (KVM_CAP_X86_SMM = 0)`);
        break;
      case 'shutdown':
        stop(Status.FAULT, `P${cpu}: shutdown (triple fault)`);
        break;
    }
  }
  flushSerial();
  parentPort?.postMessage({ kind: 'stats', cpu, exits: { ...rt.chip.exits } } satisfies StatsMessage);
}

try {
  if (cpu < 0) clockLoop();
  else vcpuLoop();
} catch (e) {
  stop(Status.FAULT, `P${cpu}: ${(e as Error).message}`);
} finally {
  flushSerial();
  for (const r of runs) r.unmap();
}
