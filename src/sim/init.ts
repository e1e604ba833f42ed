// A test's `init` items applied to the machine (docs/litmus.md, "Initial state"): memory words, registers,
// activity states, APIC modes and registers, SMBASE, IF, VMX mode and I/O APIC redirection entries.

import { ApicBase, Reg, X2APIC_MSR_BASE, deliveryMode } from '../arch/apic.js';
import { ACTIVITY_NAMES, Activity, VMX_MODE_NAMES, type VmxMode } from '../arch/cpu.js';
import { IoApicReg } from '../arch/ioapic.js';
import { A } from '../apic/layout.js';
import type { Machine } from '../machine/machine.js';
import type { InitItem } from '../litmus/ast.js';
import { resolveDest } from '../litmus/ops/dest.js';

export interface InitTarget {
  setMem(name: string, v: bigint): void;
  setReg(cpu: number, name: string, v: bigint): void;
  /** The CPU runs nothing (`none`: wait-for-SIPI, unplugged), sits in shutdown (`shutdown`), or runs its code from
   *  the start (`run`). */
  setPc(cpu: number, at: 'none' | 'run' | 'shutdown'): void;
  unsupported(what: string): never;
}

export function applyInit(m: Machine, it: InitItem, t: InitTarget): void {
  switch (it.kind) {
    case 'mem': return t.setMem(it.name, it.value);
    case 'activity': {
      const act = ACTIVITY_NAMES.indexOf(it.value) as Activity, cpu = m.cpus[it.cpu];
      if (act === Activity.UNPLUGGED) {
        cpu.unplug();
        return t.setPc(it.cpu, 'none');
      }
      cpu.setActivity(act);
      return t.setPc(it.cpu, act === Activity.WAIT_FOR_SIPI ? 'none' : act === Activity.SHUTDOWN ? 'shutdown' : 'run');
    }
    case 'apic-mode': {
      const lo = (ApicBase.DEFAULT_BASE | (it.cpu === 0 ? ApicBase.BSP : 0)) >>> 0;
      const apic = m.apics[it.cpu];
      const en = it.value === 'disabled' ? 0 : ApicBase.EN, extd = it.value === 'x2apic' ? ApicBase.EXTD : 0;
      // Through xAPIC when going to x2APIC, as software must (SDM Vol 3A 11.12.5).
      if (it.value === 'x2apic' && apic.mode() === 'disabled') apic.writeApicBase(BigInt((lo | ApicBase.EN) >>> 0));
      if (!apic.writeApicBase(BigInt((lo | en | extd) >>> 0)) || apic.mode() !== it.value) t.unsupported(`P${it.cpu}.apic.mode = ${it.value}`);
      return;
    }
    case 'apic-reg': return initApicReg(m, it.cpu, it.reg.offset, it.value);
    case 'smbase': return m.cpus[it.cpu].setSmbase(Number(it.value));
    case 'if': return m.cpus[it.cpu].setIf(it.value === 1);
    case 'vmx': return m.cpus[it.cpu].setVmx(VMX_MODE_NAMES.indexOf(it.value) as VmxMode);
    case 'reg': return t.setReg(it.cpu, it.reg, it.value);
    case 'ioapic-entry': {
      const io = m.ioapic;
      if (!io) throw new Error('init sets an I/O APIC entry but config says ioapic = false');
      const e = it.entry;
      // 82093AA 3.2.4 I/O Redirection Table Registers: vector, delivery mode (10:8), destination mode (11),
      // polarity (13), trigger (15), mask (16); destination in bits 63:56.
      let lo = (e.vector ?? 0) | (deliveryMode(e.mode ?? 'fixed') << 8);
      let dest = 0;
      if (e.dest) {
        const d = resolveDest(m, e.dest);
        if (d.logical) lo |= 1 << 11;
        dest = d.destination & 0xff;
      }
      if (e.polarity === 'low') lo |= 1 << 13;
      if (e.trigger === 'level') lo |= 1 << 15;
      if (e.mask === 1) lo |= 1 << 16;
      io.writeRegister(IoApicReg.REDTBL_BASE + 2 * it.pin + 1, (dest << 24) >>> 0);
      io.writeRegister(IoApicReg.REDTBL_BASE + 2 * it.pin, lo);
      return;
    }
  }
}

/** An `init` register value: written as software would, except state no write reaches (IRR/ISR/TMR, ESR, ICR). */
function initApicReg(m: Machine, c: number, offset: number, value: bigint): void {
  const apic = m.apics[c], v = Number(value & 0xffffffffn);
  if (offset >= Reg.ISR0 && offset < Reg.ESR) {
    const which = (offset - Reg.ISR0) >> 7, i = ((offset - Reg.ISR0) >> 4) & 7;
    apic.setWord([A.ISR, A.TMR, A.IRR][which] + i, v);
    return;
  }
  if (offset === Reg.ESR) return apic.setWord(A.ESR, v);
  if (offset === Reg.ICR_LO) return apic.setWord(A.ICR_LO, v);
  if (offset === Reg.ICR_HI) return apic.setWord(A.ICR_HI, v);
  if (offset === Reg.ID) return apic.setWord(A.ID, apic.isX2apic() ? v : v >>> 24);
  if (apic.isX2apic()) apic.x2apicWrite(X2APIC_MSR_BASE + (offset >> 4), BigInt(v));
  else apic.xapicWrite(offset, v);
}
