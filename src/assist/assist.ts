// The hardware-assist layer: a machine's CPUs as vCPUs of a hypervisor, under AMD AVIC, Intel APICv or a TPR
// shadow, with the hypervisor's scheduling (IsRunning, blocking on HLT, waking) and its exit handlers. Every guest
// register access, IPI and EOI of a vCPU goes through it; with `accel = none` it passes them to the machine.
// Its state is a few words per vCPU in the machine's state array (state.ts), so snapshots and hashes cover it.

import { ApicBase, Reg, X2APIC_MSR_BASE } from '../arch/apic.js';
import type { Accel, VmexitKind } from '../arch/assist.js';
import { HostError } from '../arch/errors.js';
import type { Quirks } from '../arch/quirks.js';
import { EventKind, nextEvent } from '../cpu/events.js';
import type { Machine } from '../machine/machine.js';
import { cr8Write, physRead } from '../machine/platform.js';
import { apicvDescribe, apicvHasWork, apicvIcrWrite, apicvPosts, apicvStep, eoiExitBitmap, post } from './apicv.js';
import { avicDescribe, avicEntered, avicEoiTraps, avicIcrWrite, avicIntercepts, avicReadFaults, avicStep, avicWriteTraps } from './avic.js';
import { Pi, Sched, W, WORDS, type AssistCore } from './state.js';
import { irrSignature, reenter, tprWritten } from './tprShadow.js';
import { put, putFill } from '../arch/writes.js';

export interface AssistConfig {
  accel: Accel;
  /** Intel IPI virtualization under APICv (SDM Vol 3C 30.1.6). */
  ipiv?: boolean;
  /** Called at each VM exit the layer takes (its kind). */
  onExit?: (cpu: number, kind: VmexitKind) => void;
  onTrace?: (cpu: number, text: string) => void;
}

/** What a vCPU does at its next step: the assist's own work, nothing (it is off its CPU), or run the guest. */
export type VcpuNext = 'work' | 'off' | 'guest';

const ICR_MSR = X2APIC_MSR_BASE + (Reg.ICR_LO >> 4);
const EOI_MSR = X2APIC_MSR_BASE + (Reg.EOI >> 4);
const TPR_MSR = X2APIC_MSR_BASE + (Reg.TPR >> 4);

export class Assist implements AssistCore {
  /** State words the layer needs for `cpus` vCPUs under `accel`. */
  static words(cpus: number, accel: Accel): number {
    return cpus * WORDS[accel];
  }

  readonly s: Uint32Array;
  readonly quirks: Readonly<Quirks>;
  readonly accel: Accel;
  /** The CPUs are vCPUs: they run only while on a physical CPU. */
  readonly vcpus: boolean;
  private readonly stride: number;
  private readonly ipiv: boolean;
  private readonly onExit?: (cpu: number, kind: VmexitKind) => void;
  private readonly onTrace?: (cpu: number, text: string) => void;

  constructor(readonly machine: Machine, private readonly base: number, config: AssistConfig) {
    const n = machine.cpus.length;
    if (config.accel === 'avic' && n > 32) throw new HostError('bad-argument', 'AVIC: at most 32 vCPUs (the layer keeps IPI targets as a 32-bit mask)');
    if (config.ipiv && config.accel !== 'apicv') throw new HostError('bad-argument', 'IPI virtualization needs APICv');
    if (!Number.isInteger(base) || base < 0 || base + Assist.words(n, config.accel) > machine.state.length) {
      throw new HostError('bad-argument', `the assist's ${Assist.words(n, config.accel)} words at ${base} do not fit the machine's state`);
    }
    this.s = machine.state;
    this.quirks = machine.quirks;
    this.accel = config.accel;
    this.vcpus = config.accel !== 'none';
    this.stride = WORDS[config.accel];
    this.ipiv = config.ipiv ?? false;
    this.onExit = config.onExit;
    this.onTrace = config.onTrace;
  }

  w(c: number, off: number): number {
    return this.base + c * this.stride + off;
  }
  exit(c: number, kind: VmexitKind): void {
    this.onExit?.(c, kind);
    if (this.accel === 'avic') avicEntered(this, c);
  }
  get tracing(): boolean {
    return this.onTrace !== undefined;
  }
  trace(c: number, text: string): void {
    this.onTrace?.(c, text);
  }

  // ---------------------------------------------------------------- scheduling

  /** IsRunning: the vCPU is on a physical CPU (always, without an assist). */
  isRunning(c: number): boolean {
    return !this.vcpus || (this.s[this.w(c, W.SCHED)] & Sched.NOT_RUNNING) === 0;
  }

  next(c: number): VcpuNext {
    if (!this.vcpus) return 'guest';
    const s = this.s;
    if (this.accel === 'apicv' && s[this.w(c, W.PI_FLAGS)] & (Pi.RESUME_1 | Pi.RESUME_2)) return 'work';
    if (s[this.w(c, W.SCHED)] & Sched.NOT_RUNNING) return 'off';
    if (this.accel === 'apicv' && s[this.w(c, W.PI_FLAGS)] & Pi.NOTIFY) return 'work';
    if (this.accel === 'avic' && s[this.w(c, W.AVIC_STAGE)] !== 0) return 'work';
    return 'guest';
  }

  /** The step next(c) === 'work' announces. */
  work(c: number): void {
    if (this.accel === 'apicv' && apicvHasWork(this, c)) apicvStep(this, c);
    else if (this.accel === 'avic') avicStep(this, c);
  }

  describeWork(c: number): string {
    return this.accel === 'apicv' ? apicvDescribe(this, c) : avicDescribe(this, c);
  }

  /**
   * HLT in a vCPU: the hypervisor blocks it, clearing IsRunning (KVM avic_vcpu_blocking), unless an event is
   * already pending (kvm_vcpu_check_block) or, under APICv, a posted interrupt is outstanding (ON: KVM
   * pi_has_pending_interrupt). A blocked vCPU runs again only when something wakes it.
   */
  hlt(c: number): void {
    const cpu = this.machine.cpus[c];
    cpu.hlt();
    if (!this.vcpus || nextEvent(cpu) !== EventKind.NONE) return;
    if (this.accel === 'apicv' && this.s[this.w(c, W.PI_FLAGS)] & Pi.ON) return;
    put(this.s, this.w(c, W.SCHED), this.s[this.w(c, W.SCHED)] | (Sched.NOT_RUNNING | Sched.BLOCKED));
    // IsRunning is AVIC's bit (APM Vol 2 15.29.3.1); under APICv the blocked vCPU's descriptor keeps SN clear
    // and its notification vector becomes the wake-up vector (KVM pi_enable_wakeup_handler).
    if (this.tracing) this.trace(c, this.accel === 'avic' ? 'vcpu blocked: IsRunning = 0' : this.accel === 'apicv' ? 'vcpu blocked: posted interrupts wake it' : 'vcpu blocked');
  }

  /** The hypervisor wakes a blocked vCPU (kvm_vcpu_wake_up); a preempted or running one is left as it is. */
  wake(c: number): void {
    const v = this.w(c, W.SCHED);
    if (!(this.s[v] & Sched.BLOCKED) || this.s[v] & Sched.DEAD) return;
    if (this.accel === 'apicv') {
      // The vCPU thread wakes and goes back in through vcpu_load (apicvStep), still off the CPU until then.
      put(this.s, v, Sched.NOT_RUNNING);
      put(this.s, this.w(c, W.PI_FLAGS), this.s[this.w(c, W.PI_FLAGS)] | Pi.RESUME_1);
      if (this.tracing) this.trace(c, 'vcpu woken');
      return;
    }
    put(this.s, v, 0);
    if (this.accel === 'avic') avicEntered(this, c);
    if (this.tracing) this.trace(c, this.accel === 'avic' ? 'vcpu woken: IsRunning = 1' : 'vcpu woken');
  }

  /** Something the vCPU would take is pending: the hypervisor kicks it awake (kvm_vcpu_kick). */
  kick(c: number): void {
    if (this.vcpus && nextEvent(this.machine.cpus[c]) !== EventKind.NONE) this.wake(c);
  }

  /**
   * The host scheduler takes the vCPU off its physical CPU: IsRunning clears (APM Vol 2 15.29.3.1); under APICv,
   * KVM suppresses notifications (vmx_vcpu_pi_put sets SN) and a notification not yet processed is left as ON in
   * the descriptor.
   */
  preempt(c: number): void {
    if (!this.vcpus) return;
    const v = this.w(c, W.SCHED);
    if (this.s[v] & Sched.NOT_RUNNING) return this.traceSched(c, `vcpu already off its CPU (${this.s[v] & Sched.BLOCKED ? 'blocked' : 'preempted'}): preempt changes nothing`);
    if (this.accel === 'apicv') {
      const pi = this.w(c, W.PI_FLAGS);
      if (this.s[pi] & (Pi.RESUME_1 | Pi.RESUME_2)) return this.traceSched(c, 'vcpu being put back on its CPU: preempt changes nothing');
      put(this.s, pi, (this.s[pi] | Pi.SN) & ~Pi.NOTIFY);
    }
    put(this.s, v, this.s[v] | Sched.NOT_RUNNING);
    this.traceSched(c, `vcpu preempted: ${this.accel === 'avic' ? 'IsRunning = 0' : this.accel === 'apicv' ? 'SN set' : 'off its CPU'}`);
  }

  /** A preempted vCPU runs again (under APICv through vcpu_load); a blocked one stays blocked until woken. */
  resume(c: number): void {
    if (!this.vcpus) return;
    const v = this.w(c, W.SCHED);
    if (this.s[v] & Sched.BLOCKED) return this.traceSched(c, 'vcpu blocked: resume changes nothing until something wakes it');
    if (!(this.s[v] & Sched.NOT_RUNNING)) return this.traceSched(c, 'vcpu already running: resume changes nothing');
    if (this.accel === 'apicv') put(this.s, this.w(c, W.PI_FLAGS), this.s[this.w(c, W.PI_FLAGS)] | Pi.RESUME_1);
    else put(this.s, v, this.s[v] & ~Sched.NOT_RUNNING);
    if (this.accel === 'avic') avicEntered(this, c);
    this.traceSched(c, `vcpu resumed: ${this.accel === 'avic' ? 'IsRunning = 1' : this.accel === 'apicv' ? 'kvm puts it back through vcpu_load' : 'on its CPU'}`);
  }

  private traceSched(c: number, text: string): void {
    if (this.tracing) this.trace(c, text);
  }

  /** A posted interrupt to vCPU c (a device, or the hypervisor). */
  post(vector: number, c: number): void {
    if (this.accel !== 'apicv') throw new HostError('bad-argument', 'a posted interrupt needs APICv');
    post(this, vector, c);
  }

  /** The vCPU's slot is emptied (unplug): its assist words go back to their initial state. */
  reset(c: number): void {
    putFill(this.s, 0, this.w(c, 0), this.w(c, this.stride));
  }

  // ---------------------------------------------------------------- what the guest does

  apicWrite(c: number, offset: number, value: number): void {
    const m = this.machine;
    m.apicWrite(c, offset, value);
    if (this.accel === 'avic' && avicWriteTraps(m, c, offset)) this.exit(c, 'noaccel');
    if (this.accel === 'tpr-shadow' && offset === Reg.TPR) tprWritten(this, c);
  }

  apicRead(c: number, offset: number): number {
    if (this.accel === 'avic' && avicReadFaults(this.machine, c, offset)) this.exit(c, 'noaccel');
    // `apic read` is an xAPIC MMIO load at the page's default address (the guest compiler's): a page the APIC does not
    // decode (globally disabled, x2APIC mode) leaves it to the rest of the physical address space (D-31).
    return this.machine.apicRead(c, offset) ?? physRead(this.machine, c, ApicBase.DEFAULT_BASE + offset);
  }

  wrmsr(c: number, msr: number, value: bigint): boolean {
    const r = this.machine.wrmsr(c, msr, value);
    if (r.ok && this.accel === 'tpr-shadow' && msr === TPR_MSR) tprWritten(this, c);
    return r.ok;
  }

  /** MOV to CR8; false on #GP. A TPR shadow virtualizes it as it does a TPR write (SDM Vol 3C 30.1.2). */
  cr8Write(c: number, value: bigint): boolean {
    const ok = cr8Write(this.machine, c, value);
    if (ok && this.accel === 'tpr-shadow') tprWritten(this, c);
    return ok;
  }

  rdmsr(c: number, msr: number): bigint | null {
    const r = this.machine.rdmsr(c, msr);
    return r.ok ? r.value : null;
  }

  eoi(c: number): void {
    const m = this.machine;
    if (this.accel === 'apicv') {
      // SDM Vol 3C 30.1.3 EOI Virtualization: the ISR bit clears in the virtual-APIC page; an EOI-exit bitmap hit
      // is a trap-like EOI-induced VM exit, where the hypervisor forwards the EOI to the I/O APIC.
      if (m.apics[c].virtualEoi((v) => eoiExitBitmap(this, c, v)).exited) this.exit(c, 'eoi');
      return;
    }
    if (this.accel === 'avic' && avicEoiTraps(m, c)) this.exit(c, 'noaccel');
    if (m.apics[c].isX2apic()) m.wrmsr(c, EOI_MSR, 0n);
    else m.apicWrite(c, Reg.EOI, 0);
    // Without virtual-interrupt delivery an EOI exits (APIC-access or MSR-write VM exit); KVM's apic_set_eoi
    // raises KVM_REQ_EVENT, so the threshold is set afresh before the vCPU goes on.
    if (this.accel === 'tpr-shadow') reenter(this, c, true);
  }

  /** An ICR write by vCPU c; false on #GP. */
  icrWrite(c: number, lo: number, destination: number): boolean {
    if (this.accel === 'avic' && avicIntercepts(lo)) return avicIcrWrite(this, c, lo, destination);
    if (this.accel === 'apicv' && apicvPosts(lo)) {
      apicvIcrWrite(this, c, lo, destination, this.ipiv);
      return true;
    }
    return this.emulateIcr(c, lo, destination);
  }

  /** The ICR write through the machine: xAPIC ICR_HI then ICR_LO; x2APIC one WRMSR. */
  emulateIcr(c: number, lo: number, destination: number): boolean {
    const m = this.machine;
    if (m.apics[c].isX2apic()) return m.wrmsr(c, ICR_MSR, (BigInt(destination >>> 0) << 32n) | BigInt(lo >>> 0)).ok;
    m.apicWrite(c, Reg.ICR_HI, ((destination & 0xff) << 24) >>> 0);
    m.apicWrite(c, Reg.ICR_LO, lo);
    return true;
  }

  // ---------------------------------------------------------------- what the platform and the host do

  /** vCPU c took an interrupt: without virtual-interrupt delivery the hypervisor injected it at a VM entry, after
   *  which KVM (vcpu_enter_guest: inject_pending_event, then update_cr8_intercept) sets the threshold afresh. */
  interruptTaken(c: number): void {
    if (this.accel === 'tpr-shadow') reenter(this, c, true);
  }

  /** A message arrived at vCPU `target` on the hypervisor's emulated path: it kicks the target. */
  delivered(target: number): void {
    if (!this.vcpus) return;
    this.kick(target);
    if (this.accel === 'tpr-shadow') reenter(this, target, true);
  }

  /** A pin (SMI#, NMI, INIT#) of CPU c. */
  signal(kind: 'smi' | 'nmi' | 'init', c: number): void {
    const m = this.machine;
    if (kind === 'smi') m.smi(c);
    else if (kind === 'nmi') m.nmi(c);
    else m.init(c);
    this.kick(c);
  }

  /** Time passes to t. The APIC timer is the hypervisor's: its interrupt wakes a blocked vCPU and, under a TPR
   *  shadow, makes the hypervisor write the threshold afresh. */
  advanceTo(t: number): void {
    const m = this.machine;
    if (!this.vcpus) return m.advanceTo(t);
    const n = m.cpus.length;
    const before = this.accel === 'tpr-shadow' ? Array.from({ length: n }, (_, c) => irrSignature(this, c)) : null;
    m.advanceTo(t);
    if (before) for (let c = 0; c < n; c++) if (irrSignature(this, c) !== before[c]) reenter(this, c, true);
    for (let c = 0; c < n; c++) this.kick(c);
  }

  // ---------------------------------------------------------------- observables

  /** APICv: vector v's bit in vCPU c's PIR. */
  pir(c: number, v: number): boolean {
    return this.accel === 'apicv' && (this.s[this.w(c, W.PIR + (v >>> 5))] & (1 << (v & 31))) !== 0;
  }
}
