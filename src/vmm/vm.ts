// `lapis vmm`: a KVM VM created without an in-kernel irqchip, whose local APICs and I/O APIC are lapis's Machine.
// The main thread creates the VM (RAM, vCPUs, CPUID consistent with lapis, the MSR filter that sends the APIC MSRs to
// user space), loads the image, starts one worker per vCPU and a clock worker, and waits: for the guest's
// isa-debug-exit, a stop a worker reports, the timeout or Ctrl-C. Every way out joins the workers and releases the
// file descriptors and guest RAM.

import { Worker } from 'node:worker_threads';
import { KVM_ABI as K } from './abi.js';
import { BootError, place, planBoot, type BootPlan } from './boot.js';
import { CpuCtl, CTL_HEADER } from './irqchip.js';
import { closeFd, ioctl, KvmError, kvmAvailable, mapRam, mapRun, openKvm, signalThread, type Mapping } from './kvm.js';
import { entryRegisters } from './regs.js';
import { allocShared, VmCtl, type MachineShape } from './shared.js';
import { Status, type StatsMessage, type StopMessage } from './status.js';
import { setU32, setU64, u32, u64 } from './struct.js';
import type { WorkerInit } from './vcpu-worker.js';

export interface VmmOptions {
  image: Uint8Array;
  name: string;
  cpus: number;
  memMiB: number;
  x2apic: boolean;
  tscDeadline: boolean;
  initrd?: Uint8Array;
  append?: string;
  timeoutS?: number;
  trace: boolean;
  /** QEMU's edu PCI device (src/vmm/edu.ts), whose MSIs a guest programs. */
  edu?: boolean;
  kvmPath?: string;
  /** Ctrl-C: resolves when the user interrupts. */
  interrupted?: Promise<void>;
}

export interface VmmResult {
  status: number;
  reason: string;
  ms: number;
  exits: Record<string, number>;
  tscKhz: number;
}

/** The largest RAM below the I/O APIC and local APIC window (one slot from 0). */
export const MAX_MEM_MIB = 3072;

const MSR_TSC = 0x10;
/** KVM_FEATURE_CLOCKSOURCE (bit 0), KVM_FEATURE_CLOCKSOURCE2 (bit 3), KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (bit 24). */
export const KVMCLOCK_FEATURES = (1 << 0) | (1 << 3) | (1 << 24);
/** CPUID.01H:ECX[31]: running under a hypervisor. */
const HYPERVISOR = 1 << 31;

function cpuidEntries(kvm: number): Uint8Array {
  const n = 256, size = K['sizeof kvm_cpuid_entry2'];
  const buf = new Uint8Array(K['kvm_cpuid2.entries'] + n * size);
  setU32(buf, K['kvm_cpuid2.nent'], n);
  ioctl(kvm, K.KVM_GET_SUPPORTED_CPUID, buf, 'KVM_GET_SUPPORTED_CPUID');
  return buf.slice(0, K['kvm_cpuid2.entries'] + u32(buf, K['kvm_cpuid2.nent']) * size);
}

/**
 * CPUID for vCPU `apicId`, consistent with lapis: leaf 1 EBX[31:24] the initial APIC ID, EDX[9] APIC, ECX[21] x2APIC
 * and ECX[24] TSC-deadline as configured (SDM Vol 2A CPUID; SDM Vol 3A 11.4.2, 11.12.1, 11.5.4.1); leaves 0xB and 0x1F
 * EDX the x2APIC ID (SDM Vol 3A 11.12.8.1); ECX[31], which hardware leaves 0 and hypervisors set (QEMU does; KVM's
 * supported list does not), so that a guest looks at leaf 0x40000000 and finds KVM. Of KVM's paravirtual features (leaf 0x40000001) only kvmclock stays
 * (KVM_FEATURE_CLOCKSOURCE, CLOCKSOURCE2, CLOCKSOURCE_STABLE_BIT: a Linux guest's TSC rate, with no PIT or HPET to
 * calibrate against); PV EOI, PV IPIs, PV TLB flush and async page faults need KVM's in-kernel APIC.
 */
export function cpuidFor(template: Uint8Array, apicId: number, x2apic: boolean, tscDeadline: boolean): Uint8Array {
  const buf = template.slice(), size = K['sizeof kvm_cpuid_entry2'];
  const n = u32(buf, K['kvm_cpuid2.nent']);
  for (let i = 0; i < n; i++) {
    const e = K['kvm_cpuid2.entries'] + i * size;
    const fn = u32(buf, e + K['kvm_cpuid_entry2.function']);
    const reg = (r: 'eax' | 'ebx' | 'ecx' | 'edx'): number => e + K[`kvm_cpuid_entry2.${r}`];
    if (fn === 1) {
      setU32(buf, reg('ebx'), (u32(buf, reg('ebx')) & 0x00ffffff) | ((apicId & 0xff) << 24));
      let ecx = u32(buf, reg('ecx'));
      ecx = x2apic ? ecx | (1 << 21) : ecx & ~(1 << 21);
      ecx = tscDeadline ? ecx | (1 << 24) : ecx & ~(1 << 24);
      setU32(buf, reg('ecx'), ecx | HYPERVISOR);
      setU32(buf, reg('edx'), u32(buf, reg('edx')) | (1 << 9));
    } else if (fn === 0xb || fn === 0x1f) {
      setU32(buf, reg('edx'), apicId);
    } else if (fn === 0x40000001) {
      setU32(buf, reg('eax'), u32(buf, reg('eax')) & KVMCLOCK_FEATURES);
      setU32(buf, reg('edx'), 0);
    }
  }
  return buf;
}

/**
 * The MSR filter: IA32_APIC_BASE and IA32_TSC_DEADLINE exit to user space (one bitmap byte at `bitmap`, bit 0 = deny).
 * KVM never filters the x2APIC MSRs (kvm_msr_allowed: "x2APIC MSRs do not support filtering"); without an in-kernel
 * APIC their accesses fail, and a failed access exits to user space with reason INVAL.
 */
export function msrFilter(bitmap: bigint): Uint8Array {
  const f = new Uint8Array(K['sizeof kvm_msr_filter']);
  setU32(f, K['kvm_msr_filter.flags'], K.KVM_MSR_FILTER_DEFAULT_ALLOW);
  const ranges: [number, number][] = [[0x1b, 1], [0x6e0, 1]];
  ranges.forEach(([base, n], i) => {
    const r = K['kvm_msr_filter.ranges'] + i * K['sizeof kvm_msr_filter_range'];
    setU32(f, r + K['kvm_msr_filter_range.flags'], K.KVM_MSR_FILTER_READ | K.KVM_MSR_FILTER_WRITE);
    setU32(f, r + K['kvm_msr_filter_range.nmsrs'], n);
    setU32(f, r + K['kvm_msr_filter_range.base'], base);
    setU64(f, r + K['kvm_msr_filter_range.bitmap'], bitmap);
  });
  return f;
}

function enableCap(vm: number, cap: number, arg0: number, what: string): void {
  const c = new Uint8Array(K['sizeof kvm_enable_cap']);
  setU32(c, K['kvm_enable_cap.cap'], cap);
  setU64(c, K['kvm_enable_cap.args'], arg0);
  ioctl(vm, K.KVM_ENABLE_CAP, c, what);
}

/** The boot plan for these options, or the usage error that refuses them (checked before KVM is touched). */
export function planFor(o: VmmOptions): BootPlan | string {
  try {
    return planBoot(o.image, { name: o.name, ramBytes: o.memMiB * 1024 * 1024, append: o.append, initrd: o.initrd, apicIds: apicIds(o.cpus) });
  } catch (e) {
    if (e instanceof BootError) return `${o.name}: ${e.message}`;
    throw e;
  }
}

const apicIds = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function result(status: number, reason: string, ms = 0): VmmResult {
  return { status, reason, ms, exits: {}, tscKhz: 0 };
}

/** Run the image; never throws for what the guest does (a stop is a result with its status and reason). */
export async function runVmm(o: VmmOptions): Promise<VmmResult> {
  const plan = planFor(o);
  if (typeof plan === 'string') return result(Status.USAGE, plan);
  const avail = kvmAvailable(o.kvmPath);
  if (!avail.ok) return result(Status.NO_KVM, `KVM is not usable: ${avail.reason}`);
  const fds: number[] = [];
  const maps: Mapping[] = [];
  const workers: Worker[] = [];
  let timer: NodeJS.Timeout | undefined;
  const noop = (): void => {};
  process.on('SIGUSR2', noop); // a kick is never fatal: it only ends KVM_RUN (src/vmm/kvm.ts)
  const t0 = performance.now();
  try {
    const kvm = openKvm(o.kvmPath);
    fds.push(kvm);
    const vm = ioctl(kvm, K.KVM_CREATE_VM, 0, 'KVM_CREATE_VM');
    fds.push(vm);
    const smm = ioctl(kvm, K.KVM_CHECK_EXTENSION, K.KVM_CAP_X86_SMM, 'KVM_CHECK_EXTENSION') > 0;
    ioctl(vm, K.KVM_SET_TSS_ADDR, 0xfffbd000, 'KVM_SET_TSS_ADDR');
    enableCap(vm, K.KVM_CAP_X86_USER_SPACE_MSR, K.KVM_MSR_EXIT_REASON_FILTER | K.KVM_MSR_EXIT_REASON_INVAL | K.KVM_MSR_EXIT_REASON_UNKNOWN, 'KVM_ENABLE_CAP(X86_USER_SPACE_MSR)');
    const bitmap = mapRam(4096);
    maps.push(bitmap);
    ioctl(vm, K.KVM_X86_SET_MSR_FILTER, msrFilter(bitmap.address), 'KVM_X86_SET_MSR_FILTER');

    const ramBytes = o.memMiB * 1024 * 1024;
    const ram = mapRam(ramBytes);
    maps.push(ram);
    const region = new Uint8Array(K['sizeof kvm_userspace_memory_region']);
    setU64(region, K['kvm_userspace_memory_region.memory_size'], ramBytes);
    setU64(region, K['kvm_userspace_memory_region.userspace_addr'], ram.address);
    ioctl(vm, K.KVM_SET_USER_MEMORY_REGION, region, 'KVM_SET_USER_MEMORY_REGION');
    place(plan, ram.bytes);

    const mmapSize = ioctl(kvm, K.KVM_GET_VCPU_MMAP_SIZE, 0, 'KVM_GET_VCPU_MMAP_SIZE');
    const cpuid = cpuidEntries(kvm);
    const vcpus: number[] = [];
    const resetSregs: Uint8Array[] = [];
    for (let i = 0; i < o.cpus; i++) {
      const v = ioctl(vm, K.KVM_CREATE_VCPU, i, `KVM_CREATE_VCPU ${i}`);
      fds.push(v);
      vcpus.push(v);
      ioctl(v, K.KVM_SET_CPUID2, cpuidFor(cpuid, i, o.x2apic, o.tscDeadline), 'KVM_SET_CPUID2');
      const s = new Uint8Array(K['sizeof kvm_sregs']);
      ioctl(v, K.KVM_GET_SREGS, s, 'KVM_GET_SREGS');
      resetSregs.push(s.slice());
      if (i === 0) {
        const regs = entryRegisters(plan.entry, s);
        ioctl(v, K.KVM_SET_SREGS, s, 'KVM_SET_SREGS');
        ioctl(v, K.KVM_SET_REGS, regs, 'KVM_SET_REGS');
      }
    }
    // lapis's clock is the guest's TSC: its rate from KVM_GET_TSC_KHZ, its value now from vCPU 0.
    const tscKhz = ioctl(vcpus[0], K.KVM_GET_TSC_KHZ, 0, 'KVM_GET_TSC_KHZ');
    const msrs = new Uint8Array(K['kvm_msrs.entries'] + K['sizeof kvm_msr_entry']);
    setU32(msrs, K['kvm_msrs.nmsrs'], 1);
    setU32(msrs, K['kvm_msrs.entries'] + K['kvm_msr_entry.index'], MSR_TSC);
    const ns = Number(process.hrtime.bigint());
    ioctl(vcpus[0], K.KVM_GET_MSRS, msrs, 'KVM_GET_MSRS(IA32_TSC)');
    const shape: MachineShape = { cpus: o.cpus, x2apic: o.x2apic, tscDeadline: o.tscDeadline, timerRatio: timerRatio(tscKhz) };
    const buffers = allocShared(shape, { tscBase: u64(msrs, K['kvm_msrs.entries'] + K['kvm_msr_entry.data']), nsBase: ns, tscKhz });
    const ctl = new Int32Array(buffers.ctl);

    const exits: Record<string, number> = {};
    let stopped: StopMessage | null = null;
    let failed: string | null = null;
    const url = new URL('./vcpu-worker.js', import.meta.url);
    const done: Promise<void>[] = [];
    let wake: () => void = noop;
    const woken = new Promise<void>((r) => (wake = r));
    for (let cpu = -1; cpu < o.cpus; cpu++) {
      const init: WorkerInit = { cpu, vcpuFds: vcpus, mmapSize, buffers, shape, ramBytes, ramAddress: ram.address, trace: o.trace, resetSregs: cpu >= 0 ? resetSregs[cpu] : new Uint8Array(0), smm, edu: o.edu === true };
      const w = new Worker(url, { workerData: init });
      workers.push(w);
      w.on('message', (m: StopMessage | StatsMessage) => {
        if (m.kind === 'stop') {
          stopped ??= m;
          wake();
        } else for (const [k, v] of Object.entries(m.exits)) exits[k] = (exits[k] ?? 0) + v;
      });
      done.push(new Promise((r) => w.once('exit', () => r())));
      w.once('error', (e) => {
        failed ??= `vCPU thread ${cpu}: ${e.message}`;
        wake();
      });
    }
    const timeout = new Promise<'timeout'>((r) => {
      if (o.timeoutS) timer = setTimeout(() => r('timeout'), o.timeoutS * 1000);
    });
    const why = await Promise.race([woken.then(() => 'stop' as const), timeout, (o.interrupted ?? new Promise<void>(noop)).then(() => 'interrupted' as const)]);
    // Stop every thread: the STOP word, then kick each vCPU out of KVM_RUN or its sleep until its thread has ended.
    Atomics.store(ctl, VmCtl.STOP, 1);
    const kicks = vcpus.map((fd) => mapRun(fd, mmapSize));
    for (let i = 0; i < o.cpus; i++) {
      kicks[i].bytes[K['kvm_run.immediate_exit']] = 1;
      Atomics.store(ctl, CTL_HEADER + i * CpuCtl.WORDS + CpuCtl.KICKED, 1);
      Atomics.notify(ctl, CTL_HEADER + i * CpuCtl.WORDS + CpuCtl.KICKED);
    }
    Atomics.notify(ctl, VmCtl.CLOCK_GEN);
    const tids = new BigInt64Array(buffers.tids);
    const again = setInterval(() => tids.forEach((t) => t !== 0n && signalThread(t)), 20);
    tids.forEach((t) => t !== 0n && signalThread(t));
    await Promise.all(done);
    clearInterval(again);
    for (const k of kicks) k.unmap();
    const ms = performance.now() - t0;
    if (failed) return { status: Status.FAULT, reason: failed, ms, exits, tscKhz };
    if (why === 'timeout') return { status: Status.TIMEOUT, reason: `the guest did not finish within ${o.timeoutS} s (--timeout)`, ms, exits, tscKhz };
    if (why === 'interrupted') return { status: Status.INTERRUPTED, reason: 'interrupted', ms, exits, tscKhz };
    const s = stopped as StopMessage | null;
    return { status: s?.status ?? Status.FAULT, reason: s?.reason ?? 'stopped', ms, exits, tscKhz };
  } catch (e) {
    if (e instanceof KvmError) return result(Status.NO_KVM, e.message, performance.now() - t0);
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
    for (const m of maps) m.unmap();
    for (const fd of fds.reverse()) closeFd(fd);
    process.off('SIGUSR2', noop);
  }
}

/** TSC ticks per APIC timer tick: the APIC timer's base clock taken as 1 GHz (1 ns ticks), at least one TSC tick. */
export function timerRatio(tscKhz: number): number {
  return Math.max(1, Math.round(tscKhz / 1e6));
}
