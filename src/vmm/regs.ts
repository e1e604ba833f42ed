// vCPU register states as KVM_SET_REGS / KVM_SET_SREGS buffers: the BSP's entry state from the loader, the state
// after INIT (SDM Vol 3A 10.1.1 Processor State After Reset, Table 10-1: the INIT column keeps little but the APIC),
// and the start at a SIPI (SDM Vol 3A 9.4.4.1: CS:IP = VV00:0000 for vector VV, real mode).

import { KVM_ABI as K } from './abi.js';
import type { EntryState } from './boot.js';
import { setU16, setU32, setU64 } from './struct.js';

export const REGS_SIZE = K['sizeof kvm_regs'];
export const SREGS_SIZE = K['sizeof kvm_sregs'];

interface Segment {
  base: number;
  limit: number;
  selector: number;
  type: number;
  db: number;
  l: number;
  g: number;
}

function setSegment(s: Uint8Array, at: number, seg: Segment): void {
  setU64(s, at + K['kvm_segment.base'], seg.base);
  setU32(s, at + K['kvm_segment.limit'], seg.limit);
  setU16(s, at + K['kvm_segment.selector'], seg.selector);
  s[at + K['kvm_segment.type']] = seg.type;
  s[at + K['kvm_segment.present']] = 1;
  s[at + K['kvm_segment.dpl']] = 0;
  s[at + K['kvm_segment.db']] = seg.db;
  s[at + K['kvm_segment.s']] = 1;
  s[at + K['kvm_segment.l']] = seg.l;
  s[at + K['kvm_segment.g']] = seg.g;
  s[at + K['kvm_segment.unusable']] = 0;
}

const DATA_SEGS = [K['kvm_sregs.ds'], K['kvm_sregs.es'], K['kvm_sregs.fs'], K['kvm_sregs.gs'], K['kvm_sregs.ss']];

/** The BSP's registers at the loader's entry state; `sregs` starts as KVM's reset state (KVM_GET_SREGS). */
export function entryRegisters(e: EntryState, sregs: Uint8Array): Uint8Array {
  const long = e.mode === 'long64';
  setSegment(sregs, K['kvm_sregs.cs'], { base: 0, limit: 0xffffffff, selector: e.cs, type: 0xb, db: long ? 0 : 1, l: long ? 1 : 0, g: 1 });
  for (const at of DATA_SEGS) setSegment(sregs, at, { base: 0, limit: 0xffffffff, selector: e.ds, type: 0x3, db: 1, l: 0, g: 1 });
  setU64(sregs, K['kvm_sregs.gdt'] + K['kvm_dtable.base'], e.gdtBase);
  setU16(sregs, K['kvm_sregs.gdt'] + K['kvm_dtable.limit'], e.gdtLimit);
  // CR0: PE and ET (and PG in long mode); CR4.PAE and EFER.LME|LMA for long mode (SDM Vol 3A 10.8.5).
  setU64(sregs, K['kvm_sregs.cr0'], long ? 0x80000011 : 0x11);
  setU64(sregs, K['kvm_sregs.cr3'], e.cr3);
  setU64(sregs, K['kvm_sregs.cr4'], long ? 0x20 : 0);
  setU64(sregs, K['kvm_sregs.efer'], long ? 0x500 : 0);
  const regs = new Uint8Array(REGS_SIZE);
  setU64(regs, K['kvm_regs.rax'], e.rax);
  setU64(regs, K['kvm_regs.rbx'], e.rbx);
  setU64(regs, K['kvm_regs.rsi'], e.rsi);
  setU64(regs, K['kvm_regs.rip'], e.rip);
  setU64(regs, K['kvm_regs.rflags'], 2);
  return regs;
}

/** A SIPI's start (from the INIT state in `sregs`): CS selector vector << 8, base vector << 12, IP 0. */
export function sipiRegisters(vector: number, sregs: Uint8Array): Uint8Array {
  setSegment(sregs, K['kvm_sregs.cs'], { base: vector << 12, limit: 0xffff, selector: vector << 8, type: 0xb, db: 0, l: 0, g: 0 });
  const regs = new Uint8Array(REGS_SIZE);
  setU64(regs, K['kvm_regs.rflags'], 2);
  return regs;
}

/** INIT: the reset registers (RIP 0xFFF0 with CS base 0xFFFF0000, RFLAGS 2, EDX the processor signature is not kept). */
export function initRegisters(): Uint8Array {
  const regs = new Uint8Array(REGS_SIZE);
  setU64(regs, K['kvm_regs.rip'], 0xfff0);
  setU64(regs, K['kvm_regs.rflags'], 2);
  return regs;
}
