// KVM from Node through koffi (an optional dependency: a C FFI with prebuilt binaries, so nothing is compiled at
// install): open/ioctl/mmap/munmap/mprotect/close and the few pthread and signal calls a vCPU thread needs. Every ioctl
// number and struct offset comes from src/vmm/abi.ts, which test/vmm/abi.test.ts checks against <linux/kvm.h>.

import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { KVM_ABI as K } from './abi.js';
import { setU32, setU64 } from './struct.js';
import type { VcpuPort } from './vcpu.js';

export class KvmError extends Error {
  constructor(
    message: string,
    readonly errno = 0,
  ) {
    super(message);
  }
}

type Fn = (...args: unknown[]) => unknown;
interface Libc {
  open: Fn; close: Fn; ioctlPtr: Fn; ioctlInt: Fn; mmap: Fn; mmapAt: Fn; munmap: Fn; mprotect: Fn;
  pthreadSelf: Fn; pthreadKill: Fn; sigtimedwait: Fn; pthreadSigmask: Fn;
  koffi: { view(p: unknown, n: number): ArrayBuffer; address(p: unknown): bigint; errno(): number };
}

let libc: Libc | null = null;
let libcError: string | null = null;

/** koffi and libc, loaded once per thread; null with the reason when koffi is not installed. */
export function loadLibc(): Libc {
  if (libc) return libc;
  if (libcError) throw new KvmError(libcError);
  try {
    const koffi = createRequire(import.meta.url)('koffi') as { load(p: string): { func(d: string): Fn } } & Libc['koffi'];
    const l = koffi.load('libc.so.6');
    libc = {
      koffi,
      open: l.func('int open(const char *path, int flags)'),
      close: l.func('int close(int fd)'),
      ioctlPtr: l.func('int ioctl(int fd, unsigned long req, void *arg)'),
      ioctlInt: l.func('int ioctl(int fd, unsigned long req, unsigned long arg)'),
      mmap: l.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)'),
      mmapAt: l.func('uintptr_t mmap(uintptr_t addr, size_t len, int prot, int flags, int fd, long off)'),
      munmap: l.func('int munmap(void *addr, size_t len)'),
      mprotect: l.func('int mprotect(uintptr_t addr, size_t len, int prot)'),
      pthreadSelf: l.func('unsigned long pthread_self()'),
      pthreadKill: l.func('int pthread_kill(unsigned long thread, int sig)'),
      sigtimedwait: l.func('int sigtimedwait(const uint8_t *set, void *info, const int64_t *timeout)'),
      pthreadSigmask: l.func('int pthread_sigmask(int how, const uint8_t *set, uint8_t *old)'),
    };
    return libc;
  } catch (e) {
    libcError = `koffi (an optional dependency lapis vmm needs for ioctl and mmap) could not be loaded: ${(e as Error).message}`;
    throw new KvmError(libcError);
  }
}

const O_RDWR = 2, O_CLOEXEC = 0o2000000;
export const PROT_READ = 1, PROT_WRITE = 2, PROT_NONE = 0;
const MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
/** The signal that kicks a vCPU thread out of KVM_RUN (main installs a handler so that it is never fatal). */
export const KICK_SIGNAL = osConstants.signals.SIGUSR2;

function errnoName(e: number): string {
  for (const [name, v] of Object.entries(osConstants.errno)) if (v === e) return name;
  return `errno ${e}`;
}

export function ioctl(fd: number, req: number, arg: Uint8Array | number | null, what: string): number {
  const c = loadLibc();
  const r = (typeof arg === 'number' ? c.ioctlInt(fd, req, arg) : c.ioctlPtr(fd, req, arg)) as number;
  if (r < 0) {
    const e = c.koffi.errno();
    throw new KvmError(`${what}: ${errnoName(e)}`, e);
  }
  return r;
}

/** KVM_RUN: 0, or the errno (EINTR when kicked) without throwing. */
export function kvmRun(fd: number): number {
  const c = loadLibc();
  const r = c.ioctlInt(fd, K.KVM_RUN, 0) as number;
  return r < 0 ? c.koffi.errno() : 0;
}

export function openKvm(path = '/dev/kvm'): number {
  const c = loadLibc();
  const fd = c.open(path, O_RDWR | O_CLOEXEC) as number;
  if (fd < 0) throw new KvmError(`cannot open ${path}: ${errnoName(c.koffi.errno())}`, c.koffi.errno());
  return fd;
}
export function closeFd(fd: number): void {
  if (fd >= 0) loadLibc().close(fd);
}

/** A mapping: its bytes and how to release it. */
export interface Mapping {
  bytes: Uint8Array;
  address: bigint;
  unmap(): void;
}

function mapping(p: unknown, len: number): Mapping {
  const c = loadLibc();
  const address = c.koffi.address(p);
  if (address === 0xffffffffffffffffn || address === 0n) throw new KvmError(`mmap of ${len} bytes failed: ${errnoName(c.koffi.errno())}`);
  let live = true;
  return {
    bytes: new Uint8Array(c.koffi.view(p, len)),
    address,
    unmap: () => {
      if (live) c.munmap(p, len);
      live = false;
    },
  };
}

/** Anonymous guest RAM (not reserved up front: untouched pages cost nothing). */
export function mapRam(len: number): Mapping {
  return mapping(loadLibc().mmap(null, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), len);
}
/** A vCPU's kvm_run area (any thread may map it: kicks write its immediate_exit byte). */
export function mapRun(vcpuFd: number, len: number): Mapping {
  return mapping(loadLibc().mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, vcpuFd, 0), len);
}

/** pc-testdev's flush page: the next guest access to the page faults in again (as QEMU's mprotect pair does). */
export function flushHostPage(address: bigint): void {
  const c = loadLibc();
  c.mprotect(address, 4096, PROT_NONE);
  c.mprotect(address, 4096, PROT_READ | PROT_WRITE);
}

export function threadId(): bigint {
  return BigInt(loadLibc().pthreadSelf() as number | bigint);
}
export function signalThread(tid: bigint): void {
  loadLibc().pthreadKill(tid, KICK_SIGNAL);
}

/**
 * A signal set with the given signals (all = every signal but those): 8 bytes is the kernel's (KVM_SET_SIGNAL_MASK),
 * 128 glibc's sigset_t (pthread_sigmask and sigtimedwait read that many).
 */
export function sigset(signals: number[], all = false, bytes = 8): Uint8Array {
  const s = new Uint8Array(bytes).fill(all ? 0xff : 0);
  for (const n of signals) {
    if (all) s[(n - 1) >> 3] &= ~(1 << ((n - 1) & 7));
    else s[(n - 1) >> 3] |= 1 << ((n - 1) & 7);
  }
  return s;
}

const SIG_BLOCK = 0;
const GLIBC_SIGSET = 128;
/** Block the kick signal in this thread outside KVM_RUN (a kick then only ends KVM_RUN, never runs a handler here). */
export function blockKickSignal(): void {
  loadLibc().pthreadSigmask(SIG_BLOCK, sigset([KICK_SIGNAL], false, GLIBC_SIGSET), null);
}
/** Consume a kick that arrived while blocked, so that the next KVM_RUN does not end at once. */
export function drainKickSignal(): void {
  loadLibc().sigtimedwait(sigset([KICK_SIGNAL], false, GLIBC_SIGSET), null, new BigInt64Array([0n, 0n]));
}

/** Where /dev/kvm can be used, or why not. */
export function kvmAvailable(path = '/dev/kvm'): { ok: true } | { ok: false; reason: string } {
  let fd = -1;
  try {
    fd = openKvm(path);
    const v = ioctl(fd, K.KVM_GET_API_VERSION, 0, 'KVM_GET_API_VERSION');
    if (v !== 12) return { ok: false, reason: `KVM API version ${v}, not 12` };
    for (const [cap, name] of [[K.KVM_CAP_X86_USER_SPACE_MSR, 'KVM_CAP_X86_USER_SPACE_MSR'], [K.KVM_CAP_X86_MSR_FILTER, 'KVM_CAP_X86_MSR_FILTER'], [K.KVM_CAP_IMMEDIATE_EXIT, 'KVM_CAP_IMMEDIATE_EXIT'], [K.KVM_CAP_USER_NMI, 'KVM_CAP_USER_NMI']] as const) {
      if (ioctl(fd, K.KVM_CHECK_EXTENSION, cap, 'KVM_CHECK_EXTENSION') <= 0) return { ok: false, reason: `${path} lacks ${name}` };
    }
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    closeFd(fd);
  }
}

/** KVM_SET_VCPU_EVENTS's argument after INIT: no exception or interrupt injected, no interrupt shadow, no NMI
 *  injected, pending (KVM's queue of KVM_NMIs included) or masked (the flags make KVM take the NMI and shadow fields). */
export function clearedEvents(): Uint8Array {
  const e = new Uint8Array(K['sizeof kvm_vcpu_events']);
  setU32(e, K['kvm_vcpu_events.flags'], K.KVM_VCPUEVENT_VALID_NMI_PENDING | K.KVM_VCPUEVENT_VALID_SHADOW);
  return e;
}

/** A vCPU of a real VM: the run loop's port (src/vmm/vcpu.ts) over the vCPU's file descriptor and kvm_run mapping. */
export class KvmVcpu implements VcpuPort {
  readonly run: Uint8Array;
  constructor(
    readonly fd: number,
    runArea: Mapping,
  ) {
    this.run = runArea.bytes;
  }
  enter(): number {
    return kvmRun(this.fd);
  }
  interrupt(vector: number): void {
    const irq = new Uint8Array(4);
    setU32(irq, 0, vector);
    ioctl(this.fd, K.KVM_INTERRUPT, irq, 'KVM_INTERRUPT');
  }
  nmi(): void {
    ioctl(this.fd, K.KVM_NMI, 0, 'KVM_NMI');
  }
  smi(): void {
    ioctl(this.fd, K.KVM_SMI, 0, 'KVM_SMI');
  }
  getSregs(): Uint8Array {
    const s = new Uint8Array(K['sizeof kvm_sregs']);
    ioctl(this.fd, K.KVM_GET_SREGS, s, 'KVM_GET_SREGS');
    return s;
  }
  setSregs(sregs: Uint8Array): void {
    ioctl(this.fd, K.KVM_SET_SREGS, sregs, 'KVM_SET_SREGS');
  }
  setRegs(regs: Uint8Array): void {
    ioctl(this.fd, K.KVM_SET_REGS, regs, 'KVM_SET_REGS');
  }
  setMsr(index: number, value: bigint): void {
    const b = new Uint8Array(K['kvm_msrs.entries'] + K['sizeof kvm_msr_entry']);
    setU32(b, K['kvm_msrs.nmsrs'], 1);
    setU32(b, K['kvm_msrs.entries'] + K['kvm_msr_entry.index'], index);
    setU64(b, K['kvm_msrs.entries'] + K['kvm_msr_entry.data'], value);
    ioctl(this.fd, K.KVM_SET_MSRS, b, 'KVM_SET_MSRS');
  }
  clearEvents(): void {
    ioctl(this.fd, K.KVM_SET_VCPU_EVENTS, clearedEvents(), 'KVM_SET_VCPU_EVENTS');
  }
  drainKick(): void {
    drainKickSignal();
  }
  /** Inside KVM_RUN every signal is blocked but the kick, which ends KVM_RUN with EINTR (kvm_signal_mask, len 8). */
  unblockKickInRun(): void {
    const m = new Uint8Array(K['kvm_signal_mask.sigset'] + 8);
    setU32(m, K['kvm_signal_mask.len'], 8);
    m.set(sigset([KICK_SIGNAL], true), K['kvm_signal_mask.sigset']);
    ioctl(this.fd, K.KVM_SET_SIGNAL_MASK, m, 'KVM_SET_SIGNAL_MASK');
  }
}
