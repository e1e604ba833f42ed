// A VMM thread. cpu >= 0: a vCPU's thread, running src/vmm/vcpu.ts's loop over KVM (blocking in KVM_RUN, sleeping
// in Atomics.wait while halted or waiting for a SIPI). cpu = -1: the clock thread, which fires lapis's timers at
// their deadlines (taking the lock brings lapis's clock up to the guest's TSC) and kicks the vCPUs they interrupt.

import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { KVM_ABI as K } from './abi.js';
import { CpuCtl, CTL_HEADER } from './irqchip.js';
import { blockKickSignal, flushHostPage, KvmVcpu, mapRun, signalThread, threadId, type Mapping } from './kvm.js';
import { Clk, Replica, VmCtl, type MachineShape, type SharedBuffers } from './shared.js';
import { Status, type StatsMessage, type StopMessage } from './status.js';
import { VcpuLoop } from './vcpu.js';

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
  /** The edu device (src/vmm/edu.ts). */
  edu: boolean;
}

const d = workerData as WorkerInit;
const cpu = d.cpu;
const tids = new BigInt64Array(d.buffers.tids);
blockKickSignal();
if (cpu >= 0) tids[cpu] = threadId();
const runs: Mapping[] = d.vcpuFds.map((fd) => mapRun(fd, d.mmapSize));
const outBuf: number[] = [];
const kickedWord = (j: number): number => CTL_HEADER + j * CpuCtl.WORDS + CpuCtl.KICKED;

const rt = new Replica(d.buffers, d.shape, {
  ramBytes: d.ramBytes,
  edu: d.edu,
  kick: (j) => {
    runs[j].bytes[K['kvm_run.immediate_exit']] = 1;
    Atomics.notify(rt.ctl, kickedWord(j));
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

/** The first stop wins: its status is the process's; every vCPU is kicked out of KVM_RUN or its sleep. */
function stop(status: number, reason: string): void {
  if (Atomics.compareExchange(rt.ctl, VmCtl.STOP, 0, 1) === 0) {
    rt.ctl[VmCtl.EXIT_STATUS] = status;
    parentPort?.postMessage({ kind: 'stop', status, reason } satisfies StopMessage);
  }
  for (let j = 0; j < runs.length; j++) {
    runs[j].bytes[K['kvm_run.immediate_exit']] = 1;
    Atomics.store(rt.ctl, kickedWord(j), 1);
    Atomics.notify(rt.ctl, kickedWord(j));
    if (j !== cpu && tids[j] !== 0n) signalThread(tids[j]);
  }
  Atomics.notify(rt.ctl, VmCtl.CLOCK_GEN);
}

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

function vcpuLoop(): void {
  const port = new KvmVcpu(d.vcpuFds[cpu], runs[cpu]);
  const loop = new VcpuLoop(cpu, rt, port, {
    resetSregs: d.resetSregs,
    smm: d.smm,
    sleep: () => {
      flushSerial();
      Atomics.wait(rt.ctl, kickedWord(cpu), 0, 1000);
    },
    stop,
  });
  port.unblockKickInRun();
  while (loop.step());
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
