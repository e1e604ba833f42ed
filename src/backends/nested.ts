// Nested VMX / SVM in compiled litmus guests (docs/nested.md): the analysis and the code of the test's VMX
// constructs (`init Pn.vmx`, `Pn on vmexit init|sipi`, `vmentry`, `vmxon`, `vmxoff`, `Pn.vmx`, `Pn.vmexits(init|
// sipi)`), which guest/nested.asm runs with a small L1 hypervisor of its own (guest/vmx.asm, guest/svm.asm). The
// compiler (compile.ts) calls in here at each of those constructs; everything else about a nested test compiles as
// any test does, in VMX non-root operation where the test says so.

import type { CpuBlock, InitItem, LitmusTest, Observable, Op, Pos } from '../litmus/ast.js';
import { printInitItem } from '../litmus/print.js';
import type { Features } from './backends.js';
import type { NestedKind, RefusalCategory } from '../litmus/ops/types.js';

export type { NestedKind };

/** The `config accel` values whose vCPUs the guest's L1 runs (the others are refused with accelRefusalReason). */
export function compiledAccel(accel: string): boolean {
  return accel === 'none' || accel === 'tpr-shadow' || accel === 'apicv';
}

/** A `wait` tick in a nested test: an L1 exit handler takes a few hundred instructions (VMREADs, VMWRITEs, the
 *  guest's CPUID exits), and Bochs runs ~2 instructions per emulated µs (BOCHS_IPS); the model lets every
 *  instantaneous step run before time passes, so a `wait` must outlast a handler. */
export const NESTED_WAIT_US_PER_TICK = 100;

/** Why a test whose CPUs are vCPUs under a hardware assist (`config accel`) is not compiled: what is missing. */
export function accelRefusalReason(accel: string): string {
  const head = 'the test runs its CPUs as vCPUs under a hardware assist (AVIC, APICv, a TPR shadow) and a hypervisor the model plays';
  switch (accel) {
    case 'avic':
      return `${head}: AMD AVIC, which no backend here has (QEMU TCG refuses +avic; Bochs 2.7's ryzen model: CPUID Fn8000_000A:EDX[13] = 0)`;
    default:
      return `${head}: ${accel}`;
  }
}

const VAPIC_ONLY = 'a test of vCPUs under an assist has no L1 code or VMX operation of its own (the L1 is the runtime\'s)';

/** The guest tables' codes for a CPU (guest/nested.asm LIT_VMX_*). */
const MODE = { none: 0, off: 1, root: 2, guest: 3, guestWfs: 4 } as const;

type Refuse = (construct: string, reason: string, pos?: Pos | null, category?: RefusalCategory) => never;

/** Whether a test uses VMX or SVM at all (before the full analysis: it sets the wait scale). */
export function usesNested(test: LitmusTest): boolean {
  if (test.settings.accel === 'tpr-shadow' || test.settings.accel === 'apicv') return true;
  if ((test.init?.items ?? []).some((it) => it.kind === 'vmx' && it.value !== 'off')) return true;
  for (const b of test.blocks) {
    if (b.kind === 'cpu' && (b.handler === 'vmexit-init' || b.handler === 'vmexit-sipi')) return true;
    let found = false;
    const walk = (ops: Op[]): void => {
      for (const op of ops) {
        if (op.kind === 'vmentry' || op.kind === 'vmxon' || op.kind === 'vmxoff') found = true;
        if (op.kind === 'repeat') walk(op.body);
      }
    };
    walk(b.body);
    if (found) return true;
  }
  return false;
}

/** The backend feature a nested test needs, or null. */
export function nestedRefusalReason(kind: NestedKind | null, f: Features): string | null {
  if (kind === 'vmx-vid' && !f.vmx.ok) return `the test's CPUs are vCPUs of an L1 hypervisor on Intel VMX with virtual-interrupt delivery; this backend has no VMX: ${f.vmx.reason}`;
  if (kind === 'vmx-vid' && !f.vid.ok) return `the test's CPUs are vCPUs of an L1 hypervisor with virtual-interrupt delivery; this backend has none: ${f.vid.reason}`;
  if (kind === 'vmx-tpr-shadow' && !f.vmx.ok) return `the test's CPUs are vCPUs of an L1 hypervisor on Intel VMX with a TPR shadow; this backend has no VMX: ${f.vmx.reason}`;
  if (kind === 'vmx-tpr-shadow' && !f.tprShadow.ok) return `the test's CPUs are vCPUs of an L1 hypervisor with a TPR shadow; this backend has none: ${f.tprShadow.reason}`;
  if (kind === 'vmx' && !f.vmx.ok) return `the test runs an L1 hypervisor on Intel VMX; this backend has no VMX: ${f.vmx.reason}`;
  if (kind === 'svm' && !f.svm.ok) return `the test runs an L1 hypervisor on AMD SVM (vendor = amd); this backend has no SVM: ${f.svm.reason}`;
  return null;
}

/** The nested part of one test's compilation. */
export class NestedPlan {
  /** Per test CPU: MODE.* */
  private readonly mode: number[];
  private readonly handlers = new Map<string, CpuBlock>();
  private used = false;
  readonly kind: NestedKind;
  /** Every test CPU is a vCPU of the L1: 1 under a TPR shadow with the L1's virtual local APIC (`config accel =
   *  tpr-shadow`), 2 under virtual-interrupt delivery without posted interrupts (`config accel = apicv`); 0 not. */
  private readonly vapic: 0 | 1 | 2;

  constructor(private readonly test: LitmusTest, private readonly refuse: Refuse) {
    this.mode = new Array<number>(test.settings.cpus).fill(MODE.none);
    this.vapic = test.settings.accel === 'tpr-shadow' ? 1 : test.settings.accel === 'apicv' ? 2 : 0;
    this.kind = this.vapic === 1 ? 'vmx-tpr-shadow' : this.vapic === 2 ? 'vmx-vid' : test.settings.vendor === 'amd' ? 'svm' : 'vmx';
    if (this.vapic) for (let c = 0; c < this.mode.length; c++) this.mark(c, MODE.guest);
  }

  /** The hardware assist the guest needs (null: the test uses none). */
  get needs(): NestedKind | null {
    return this.used ? this.kind : null;
  }

  private mark(c: number, m: number): void {
    this.used = true;
    if (this.mode[c] < m) this.mode[c] = m;
  }

  /** `init Pn.vmx = off | root | non-root`. `wfs`: the CPU starts in wait-for-SIPI (no main block). */
  initVmx(it: Extract<InitItem, { kind: 'vmx' }>, wfs: boolean, parked: boolean): void {
    const what = printInitItem(it);
    if (this.vapic) this.refuse(what, VAPIC_ONLY, it.pos);
    if (it.value === 'off') return;
    if (parked) this.refuse(what, 'P0 has no main block: the model has it wait for a SIPI, a real BSP cannot (and cannot be a guest waiting for one)', it.pos);
    if (it.value === 'root') {
      if (wfs) this.refuse(what, 'a CPU waiting for a SIPI runs nothing: it cannot be in VMX root operation', it.pos);
      this.mark(it.cpu, MODE.root);
      return;
    }
    if (wfs && this.kind === 'svm') this.refuse(what, 'AMD SVM has no wait-for-SIPI guest activity state (APM Vol 2 15): the L1 cannot enter its guest there', it.pos);
    this.mark(it.cpu, wfs ? MODE.guestWfs : MODE.guest);
  }

  /** `Pn on vmexit init|sipi`. */
  handler(b: CpuBlock): void {
    if (b.handler !== 'vmexit-init' && b.handler !== 'vmexit-sipi') return;
    if (this.vapic) this.refuse(`P${b.cpu} on ${b.handler.replace('-', ' ')}`, VAPIC_ONLY, b.pos);
    this.handlers.set(`${b.cpu}:${b.handler}`, b);
    this.used = true;
  }

  /** Every op of the test (CPU `src`, -1 for an agent): `vmentry`, `vmxon`, `vmxoff`; for vCPUs what the L1's
   *  virtual APIC does not emulate. */
  op(op: Op, src: number, no: (reason: string) => never): void {
    if (this.vapic) {
      if (op.kind === 'vmentry' || op.kind === 'vmxon' || op.kind === 'vmxoff') no(VAPIC_ONLY);
      const initSipi = (op.kind === 'send' && (op.mode === 'init' || op.mode === 'sipi')) || (op.kind === 'signal' && op.signal === 'init');
      if (initSipi) no('INIT and SIPI to a vCPU: the L1 does not emulate them for its vCPUs (KVM resets the vCPU itself)');
      if (op.kind === 'send' && op.trigger === 'level') no('a level-triggered IPI to a vCPU: no EOI-exit bitmap or virtual TMR is kept for it');
    }
    if (op.kind !== 'vmentry' && op.kind !== 'vmxon' && op.kind !== 'vmxoff') return;
    if (src < 0) no('VMX operation belongs to a test CPU');
    if (op.kind !== 'vmentry' && this.kind === 'svm') no('AMD SVM has no VMX operation to enter or leave (VMXON, VMXOFF): not compiled for vendor = amd');
    this.mark(src, MODE.off);
  }

  /** `Pn.vmx`, `Pn.vmexits(...)`. */
  observable(o: Observable): void {
    if (o.kind === 'vmx') {
      this.mark(o.cpu, MODE.off);
      return;
    }
    if (o.kind !== 'vmexits') return;
    const counted = [['init', 'sipi', 'entry-failure'], ['tpr-below-threshold', 'entry-failure'], ['apic-write', 'eoi']][this.vapic];
    if (!counted.includes(o.of)) this.refuse(`P${o.cpu}.vmexits(${o.of})`, `VM exits the guest's L1 does not count in this test (it counts ${counted.join(' and ')})`, o.pos);
    this.mark(o.cpu, MODE.off);
  }

  /** The analysis is over: constructs that cannot share a guest with an L1. */
  finish(needs: { smm: boolean; irqLines: boolean; msi: boolean; x2apic: boolean }, ioapic: boolean): void {
    if (!this.used) return;
    const accel = `config accel = ${this.test.settings.accel}`;
    if (this.vapic && this.test.settings.vendor === 'amd') this.refuse(accel, 'an Intel VMX control: not with vendor = amd');
    if (this.vapic && (ioapic || needs.irqLines || needs.msi)) this.refuse('I/O APIC', 'the I/O APIC or an MSI for vCPUs: the L1 keeps no virtual TMR or EOI-exit bitmap and forwards no EOI to the I/O APIC');
    if (this.vapic === 2 && this.test.settings.ipiv) this.refuse('config ipiv = true', 'IPI virtualization: no backend here has it (Bochs 2.7 has none)', null, 'vcpu-assist');
    if (this.vapic === 2 && needs.x2apic) this.refuse('x2APIC', 'vCPUs under APICv in x2APIC mode: the L1 virtualizes xAPIC accesses only (not compiled)');
    if (needs.smm) this.refuse('SMI', 'SMM in a test that uses VMX or SVM: the SMM entry of the runtime is not written for a CPU in VMX operation (no dual-monitor treatment), and Bochs 2.7 leaves SMIs masked after a SIPI VM exit (docs/nested.md)');
    for (const [k] of this.handlers) {
      const c = Number(k.split(':')[0]);
      if (this.mode[c] === MODE.none) this.mark(c, MODE.off);
    }
  }

  // ---- emission ------------------------------------------------------------------------------------------------

  defines(): string[] {
    if (!this.used) return [];
    return [
      `%define LIT_NESTED ${this.kind === 'svm' ? 2 : 1}   ; an L1 hypervisor in the guest (guest/nested.asm)`,
      ...(this.vapic === 1 ? ['%define LIT_VAPIC 1    ; its vCPUs under a TPR shadow, with a virtual local APIC (guest/vapic.asm)'] : []),
      ...(this.vapic === 2 ? ['%define LIT_VAPIC 2    ; its vCPUs under APICv without posted interrupts (guest/vid.asm)'] : []),
    ];
  }

  /** The guest table's kind for CPU c: a guest in wait-for-SIPI is started like an idle CPU and enters the guest
   *  itself (LIT_KIND_IDLE = 2), not left in a real wait-for-SIPI. */
  tableKind(c: number, kind: number): number {
    return this.mode[c] === MODE.guestWfs ? 2 : kind;
  }

  /** The whole start code of a CPU that begins as a guest in wait-for-SIPI, or null. */
  ownStart(c: number): string[] | null {
    if (this.mode[c] !== MODE.guestWfs) return null;
    return [
      `P${c}_start:                             ; a guest of the L1 in wait-for-SIPI (SDM Vol 3C 27.6.2)`,
      '  call lit_xapic_mode                 ; (INIT keeps x2APIC mode: back to xAPIC)',
      '  APIC_WR APIC_SVR, 0xFF               ; as INIT leaves it: software-disabled',
      '  mov ebx, [lit_iter]',
      '  inc ebx                             ; ready, stored right before the VM entry',
      `  mov eax, ${c}`,
      '  call lit_nested_enter               ; (never returns: the guest waits for a SIPI)',
      `  mov eax, ${c}`,
      '  jmp lit_l1_idle',
      '',
    ];
  }

  /** In CPU c's start code, after its init items and before it waits for go: VMX as its init puts it. */
  startLines(c: number): string[] {
    if (this.mode[c] === MODE.none) return [];
    const what = ['', 'VMX off (ready for VMXON)', 'VMX root operation', 'the guest (VMX non-root)'][this.mode[c]];
    return [`  mov eax, ${c}`, `  call lit_nested_enter               ; init: ${what}`];
  }

  /** At the top of CPU c's SIPI entry: a real SIPI (after an INIT) finds VMX off. */
  sipiEntryLines(c: number): string[] {
    return this.mode[c] === MODE.none ? [] : [`  mov eax, ${c}`, '  call lit_nested_sipi_entry           ; a real SIPI: VMX off (an INIT reset the CPU)'];
  }

  /** The tables guest/nested.asm reads. */
  tables(): string[] {
    if (!this.used) return [];
    const n = this.test.settings.cpus;
    const h = (kind: string): string =>
      [...Array(n).keys()].map((c) => (this.handlers.has(`${c}:${kind}`) ? `P${c}_on_${kind.replace('-', '_')}` : '0')).join(', ');
    return [
      `lit_cpu_vmx: db ${this.mode.join(', ')}   ; LIT_VMX_*: none, off, root, guest, guest in wait-for-SIPI`,
      'align 4',
      `lit_vmexit_init: dd ${h('vmexit-init')}`,
      `lit_vmexit_sipi: dd ${h('vmexit-sipi')}`,
    ];
  }

  /** The code of an exit handler block (L1, VMX root, the CPU's host stack); `ops` emits the block's body. */
  block(b: CpuBlock, ops: (out: string[]) => void): string[] {
    if (b.handler !== 'vmexit-init' && b.handler !== 'vmexit-sipi') return [];
    const name = `P${b.cpu}_on_${b.handler.replace('-', '_')}`;
    const out = [`${name}:                     ; ${b.pos.line}: P${b.cpu} on ${b.handler.replace('-', ' ')} { (L1, after the VM exit)`];
    ops(out);
    out.push(`  mov eax, ${b.cpu}`, '  jmp lit_l1_idle                     ; the handler ends: L1 idles in VMX root', '');
    return out;
  }

  /** The run line's code for `Pn.vmx` and `Pn.vmexits(init|sipi)`, or null for other observables. */
  print(ob: Observable, name: string): string[] | null {
    if (ob.kind === 'vmx') return [`  LIT_KV_VMX '${name}', ${ob.cpu}`];
    const table: Record<string, string> = { init: 'INIT', sipi: 'SIPI', 'tpr-below-threshold': 'TPR', 'entry-failure': 'EFAIL', 'apic-write': 'APICW', eoi: 'EOI' };
    if (ob.kind === 'vmexits') return [`  LIT_KV32 '${name}', {LIT_VMEXITS_${table[ob.of]} + ${ob.cpu} * 4}`];
    return null;
  }
}
