// The APIC bus through the Machine API: destination resolution, ICR validity, lowest-priority arbitration,
// queued delivery, MSI decoding and CPU hotplug. SDM Vol 3A 11.6 Issuing Interprocessor Interrupts,
// 11.11 Message Signalled Interrupts, 11.12.10 (x2APIC destinations); decisions D-10, D-11, D-12.

import { describe, expect, it } from 'vitest';
import { ApicBase, DeliveryMode, MSR_IA32_APIC_BASE, Reg, Shorthand } from '../../src/arch/apic.js';
import { ACTIVITY_NAMES } from '../../src/arch/cpu.js';
import { HostError } from '../../src/arch/errors.js';
import { Machine, type MachineConfig } from '../../src/machine/machine.js';

const SVR_ON = 0x1ff;
const FOCUS_DISABLED = 1 << 9;
const LOGICAL = 1 << 11;
const ASSERT = 1 << 14;
const LEVEL = 1 << 15;
const DELIVERY_STATUS = 1 << 12;
const NMI = 0x400, INIT = 0x500 | ASSERT, SIPI = (v: number): number => 0x600 | ASSERT | v, LOWEST = 0x100, SMI = 0x200;
const SELF = Shorthand.SELF << 18, ALL = Shorthand.ALL << 18, OTHERS = Shorthand.OTHERS << 18;
const X2APIC_ICR = 0x830, X2APIC_SVR = 0x80f, X2APIC_LDR = 0x80d;

/** A machine with every CPU booted, its APIC software-enabled and IF = 1. */
function booted(config: Partial<MachineConfig> = {}): Machine {
  const m = new Machine({ cpus: 4, ...config });
  for (let i = 0; i < m.cpus.length; i++) {
    if (!m.cpus[i].present()) continue;
    if (i > 0) {
      sendXapic(m, 0, m.apics[i].id(), INIT);
      sendXapic(m, 0, m.apics[i].id(), SIPI(0x10));
      if (m.config.delivery === 'queued') while (m.inFlight().length > 0) m.deliver(0);
    }
    m.apicWrite(i, Reg.SVR, SVR_ON);
    m.cpus[i].setIf(true);
  }
  return m;
}
function sendXapic(m: Machine, from: number, destination: number, icrLo: number): void {
  m.apicWrite(from, Reg.ICR_HI, (destination << 24) >>> 0);
  m.apicWrite(from, Reg.ICR_LO, icrLo);
}
function sendX2apic(m: Machine, from: number, destination: number, icrLo: number): void {
  expect(m.wrmsr(from, X2APIC_ICR, (BigInt(destination >>> 0) << 32n) | BigInt(icrLo)).ok).toBe(true);
}
function toX2apic(m: Machine, cpu: number): void {
  expect(m.wrmsr(cpu, MSR_IA32_APIC_BASE, BigInt((ApicBase.DEFAULT_BASE | ApicBase.EN | ApicBase.EXTD) >>> 0)).ok).toBe(true);
  expect(m.wrmsr(cpu, X2APIC_SVR, BigInt(SVR_ON)).ok).toBe(true);
}
/** Which CPUs hold `vector` in IRR. */
function holders(m: Machine, vector: number): number[] {
  return m.apics.flatMap((a, i) => (a.irr(vector) ? [i] : []));
}
function nmiPending(m: Machine): number[] {
  return m.cpus.flatMap((c, i) => (m.pendingEvent(i) === 'nmi' ? [i] : []));
}
function activity(m: Machine, cpu: number): string {
  return ACTIVITY_NAMES[m.cpus[cpu].activity()];
}
/** Put `vector` in service on `cpu` (accept and acknowledge it). */
function inService(m: Machine, cpu: number, vector: number): void {
  m.send(0, { vector, mode: DeliveryMode.FIXED, levelTriggered: false, assert: true, logical: false, shorthand: Shorthand.NONE, destination: m.apics[cpu].id(), x2apic: false });
  expect(m.takeEvent(cpu)).toEqual({ kind: 'intr', vector });
}

describe('physical destinations', () => {
  it('a physical destination reaches only the CPU with that APIC ID', () => {
    const m = booted({ apicIds: [0, 2, 5, 7] });
    sendXapic(m, 0, 5, 0x41);
    expect(holders(m, 0x41)).toEqual([2]);
    sendXapic(m, 0, 3, 0x42); // no such APIC
    expect(holders(m, 0x42)).toEqual([]);
  });

  it('physical destination 0xFF is a broadcast to every CPU, the sender included', () => {
    const m = booted({ apicIds: [0, 2, 5, 7] });
    sendXapic(m, 1, 0xff, 0x43);
    expect(holders(m, 0x43)).toEqual([0, 1, 2, 3]);
  });

  it('x2APIC physical destination 0xFFFFFFFF is a broadcast, and 0xFF names APIC ID 0xFF only', () => {
    const m = booted({ apicIds: [0, 1, 2, 0xff] });
    for (let i = 0; i < 4; i++) toX2apic(m, i);
    sendX2apic(m, 0, 0xffffffff, 0x44);
    expect(holders(m, 0x44)).toEqual([0, 1, 2, 3]);
    sendX2apic(m, 0, 0xff, 0x45);
    expect(holders(m, 0x45)).toEqual([3]);
  });
});

describe('logical destinations', () => {
  it('flat model: every APIC whose LDR shares a bit with the destination accepts', () => {
    const m = booted();
    for (let i = 0; i < 4; i++) m.apicWrite(i, Reg.LDR, (1 << (24 + i)) >>> 0);
    sendXapic(m, 0, 0b0101, LOGICAL | 0x50);
    expect(holders(m, 0x50)).toEqual([0, 2]);
    sendXapic(m, 0, 0xff, LOGICAL | 0x51);
    expect(holders(m, 0x51)).toEqual([0, 1, 2, 3]);
  });

  it('flat model: an APIC with LDR 0 is never a logical target', () => {
    const m = booted();
    m.apicWrite(1, Reg.LDR, 0x01000000);
    sendXapic(m, 0, 0xff, LOGICAL | 0x52);
    expect(holders(m, 0x52)).toEqual([1]);
  });

  it('cluster model: the cluster nibble must match and the member bits must overlap', () => {
    const m = booted();
    const ldr = [0x11, 0x12, 0x21, 0x22];
    for (let i = 0; i < 4; i++) {
      m.apicWrite(i, Reg.DFR, 0x0fffffff);
      m.apicWrite(i, Reg.LDR, (ldr[i] << 24) >>> 0);
    }
    expect(m.apicRead(0, Reg.DFR)).toBe(0x0fffffff);
    sendXapic(m, 0, 0x13, LOGICAL | 0x53);
    expect(holders(m, 0x53)).toEqual([0, 1]);
    sendXapic(m, 0, 0x21, LOGICAL | 0x54);
    expect(holders(m, 0x54)).toEqual([2]);
    sendXapic(m, 0, 0x31, LOGICAL | 0x55);
    expect(holders(m, 0x55)).toEqual([]);
  });

  it('x2APIC cluster model: ID[19:4] is the cluster and 1 << ID[3:0] the member', () => {
    const m = booted({ apicIds: [0, 1, 0x10, 0x13] });
    for (let i = 0; i < 4; i++) toX2apic(m, i);
    const ldr = (i: number) => m.rdmsr(i, X2APIC_LDR);
    expect(ldr(2)).toEqual({ ok: true, value: 0x00010001n });
    expect(ldr(3)).toEqual({ ok: true, value: 0x00010008n });
    sendX2apic(m, 0, 0x00010009, LOGICAL | 0x56);
    expect(holders(m, 0x56)).toEqual([2, 3]);
    sendX2apic(m, 3, 0x00000003, LOGICAL | 0x57);
    expect(holders(m, 0x57)).toEqual([0, 1]);
    sendX2apic(m, 0, 0x00020001, LOGICAL | 0x58);
    expect(holders(m, 0x58)).toEqual([]);
  });
});

describe('shorthands', () => {
  it('self reaches only the sender', () => {
    const m = booted();
    sendXapic(m, 2, 0, SELF | 0x60);
    expect(holders(m, 0x60)).toEqual([2]);
  });

  it('all-including-self reaches every CPU', () => {
    const m = booted();
    sendXapic(m, 2, 0, ALL | 0x61);
    expect(holders(m, 0x61)).toEqual([0, 1, 2, 3]);
  });

  it('all-excluding-self reaches every CPU but the sender', () => {
    const m = booted();
    sendXapic(m, 2, 0, OTHERS | NMI);
    expect(nmiPending(m)).toEqual([0, 1, 3]);
  });

  it('a shorthand ignores the destination field', () => {
    const m = booted();
    sendXapic(m, 1, 3, SELF | 0x62);
    expect(holders(m, 0x62)).toEqual([1]);
  });
});

describe('ICR validity (Table 11-3, D-12)', () => {
  it('self with NMI delivery is not sent', () => {
    const m = booted();
    sendXapic(m, 0, 0, SELF | NMI);
    expect(nmiPending(m)).toEqual([]);
  });

  it('all-including-self with INIT delivery is not sent', () => {
    const m = booted();
    sendXapic(m, 0, 0, ALL | INIT);
    for (let i = 0; i < 4; i++) expect(activity(m, i)).toBe('active');
    expect(m.pendingEvent(0)).toBe('none');
  });

  it('a level-triggered fixed IPI with level 0 is ignored', () => {
    const m = booted();
    sendXapic(m, 0, 1, LEVEL | 0x63);
    expect(holders(m, 0x63)).toEqual([]);
  });

  it('a level-triggered fixed IPI with level 1 is sent edge-triggered', () => {
    const m = booted();
    sendXapic(m, 0, 1, LEVEL | ASSERT | 0x64);
    expect(holders(m, 0x64)).toEqual([1]);
    expect(m.apics[1].tmr(0x64)).toBe(false);
  });

  it('INIT level de-assert has no effect on the target', () => {
    const m = booted();
    m.apicWrite(1, Reg.TPR, 0x20);
    sendXapic(m, 0, 1, LEVEL | 0x500);
    expect(m.pendingEvent(1)).toBe('none');
    expect(activity(m, 1)).toBe('active');
    expect(m.apicRead(1, Reg.TPR)).toBe(0x20);
  });

  it('delivery modes 011 and 111 are reserved and send nothing', () => {
    const m = booted();
    sendXapic(m, 0, 1, 0x300 | 0x65);
    sendXapic(m, 0, 1, 0x700 | 0x66);
    expect(m.pendingEvent(1)).toBe('none');
    expect(holders(m, 0x65)).toEqual([]);
  });

  it('an SMI IPI reaches its target', () => {
    const m = booted();
    sendXapic(m, 0, 3, SMI);
    expect(m.pendingEvent(3)).toBe('smi');
  });
});

describe('lowest priority', () => {
  it('goes to the CPU with the lowest task priority (Intel: the chipset\'s TPR snoop)', () => {
    const m = booted();
    [0x30, 0x20, 0x10, 0x40].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    sendXapic(m, 0, 0xff, LOWEST | 0x70);
    expect(holders(m, 0x70)).toEqual([2]);
  });

  it('compares priority classes only: TPRs 0x1F and 0x10 tie (Intel)', () => {
    const calls: number[][] = [];
    const m = booted({ chooseLowestPriority: (c) => (calls.push([...c]), c[c.length - 1]) });
    [0x30, 0x1f, 0x10, 0x40].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    sendXapic(m, 0, 0xff, LOWEST | 0x71);
    expect(calls).toEqual([[1, 2]]);
    expect(holders(m, 0x71)).toEqual([2]);
  });

  it('goes by TPR alone on Intel: a CPU with a low TPR wins even while it services a high vector', () => {
    const m = booted();
    inService(m, 2, 0x90); // PPR(CPU 2) = 0x90, TPR(CPU 2) = 0
    [0x30, 0x20, 0x00, 0x40].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    expect(m.apicRead(2, Reg.PPR)).toBe(0x90);
    sendXapic(m, 0, 0xff, LOWEST | 0x72);
    expect(holders(m, 0x72)).toEqual([2]);
  });

  it('has no focus processor on Intel: holding the vector in IRR does not attract it', () => {
    const m = booted();
    [0x30, 0x20, 0x10, 0xf0].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    sendXapic(m, 0, m.apics[3].id(), 0x73); // held in CPU 3's IRR by its TPR
    sendXapic(m, 0, 0xff, LOWEST | 0x73);
    expect(holders(m, 0x73)).toEqual([2, 3]);
  });

  it('goes to the focus processor that already has the vector in IRR (AMD)', () => {
    const m = booted({ vendor: 'amd' });
    [0x30, 0x20, 0x10, 0xf0].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    sendXapic(m, 0, m.apics[3].id(), 0x74);
    sendXapic(m, 0, 0xff, LOWEST | 0x74);
    expect(holders(m, 0x74)).toEqual([3]);
  });

  it('goes to the focus processor that is servicing the vector (AMD)', () => {
    const m = booted({ vendor: 'amd' });
    inService(m, 3, 0x75);
    [0x30, 0x20, 0x10, 0x00].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    sendXapic(m, 0, 0xff, LOWEST | 0x75);
    expect(holders(m, 0x75)).toEqual([3]);
  });

  it('ignores a would-be focus processor when SVR[9] disables focus checking (AMD)', () => {
    const m = booted({ vendor: 'amd' });
    for (let i = 0; i < 4; i++) m.apicWrite(i, Reg.SVR, SVR_ON | FOCUS_DISABLED);
    [0x30, 0x20, 0x10, 0xf0].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    sendXapic(m, 0, m.apics[3].id(), 0x76);
    sendXapic(m, 0, 0xff, LOWEST | 0x76);
    expect(holders(m, 0x76)).toEqual([2, 3]);
  });

  it('arbitrates on APR on AMD, which counts a pending IRR vector', () => {
    const m = booted({ vendor: 'amd' });
    [0x30, 0x20, 0x10, 0x40].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    m.cpus[2].cli();
    sendXapic(m, 0, m.apics[2].id(), 0xa1); // APR(CPU 2) = 0xA0 now; its TPR and PPR stay 0x10
    sendXapic(m, 0, 0xff, LOWEST | 0x77);
    expect(holders(m, 0x77)).toEqual([1]);
  });

  it('hands the tied CPUs to a custom chooser and delivers to its pick', () => {
    const calls: { candidates: number[]; vector: number }[] = [];
    const m = booted({
      chooseLowestPriority: (candidates, vector) => {
        calls.push({ candidates: [...candidates], vector });
        return candidates[candidates.length - 1];
      },
    });
    [0x20, 0x10, 0x10, 0x30].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    sendXapic(m, 0, 0xff, LOWEST | 0x78);
    expect(calls).toEqual([{ candidates: [1, 2], vector: 0x78 }]);
    expect(holders(m, 0x78)).toEqual([2]);
  });

  it('does not ask the chooser when one CPU has the lowest priority', () => {
    let asked = 0;
    const m = booted({ chooseLowestPriority: (c) => (asked++, c[0]) });
    [0x20, 0x10, 0x30, 0x30].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    sendXapic(m, 0, 0xff, LOWEST | 0x79);
    expect(asked).toBe(0);
    expect(holders(m, 0x79)).toEqual([1]);
  });

  it('treats a chooser pick outside the tie set as host misuse', () => {
    const m = booted({ chooseLowestPriority: () => 3 });
    [0x10, 0x10, 0x30, 0x30].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    expect(() => sendXapic(m, 0, 0xff, LOWEST | 0x7a)).toThrow(HostError);
    expect(holders(m, 0x7a)).toEqual([]);
  });
});

describe('messages nobody hears', () => {
  it('an IPI to an unplugged CPU is dropped and does not reach it once it is plugged again', () => {
    const m = booted();
    m.unplug(2);
    sendXapic(m, 0, 2, NMI);
    sendXapic(m, 0, 2, SMI);
    sendXapic(m, 0, 0xff, 0x80);
    expect(m.pendingEvent(2)).toBe('none');
    expect(holders(m, 0x80)).toEqual([0, 1, 3]);
    m.hotplug(2);
    expect(m.cpus[2].flags()).toBe(0);
    expect(m.apics[2].highestIrr()).toBe(-1);
  });

  it('an IPI to a globally disabled APIC is dropped, NMI and INIT included', () => {
    const m = booted();
    expect(m.wrmsr(1, MSR_IA32_APIC_BASE, BigInt(ApicBase.DEFAULT_BASE)).ok).toBe(true);
    sendXapic(m, 0, 1, NMI);
    sendXapic(m, 0, 1, INIT);
    sendXapic(m, 0, 0xff, 0x81);
    expect(m.pendingEvent(1)).toBe('none');
    expect(activity(m, 1)).toBe('active');
    expect(holders(m, 0x81)).toEqual([0, 2, 3]);
    m.nmi(1); // the NMI pin does not go through the APIC
    expect(m.pendingEvent(1)).toBe('nmi');
  });

  it('an unplugged CPU executes nothing: its register accesses are host misuse, and IPIs and pins reach nothing', () => {
    const m = booted();
    m.unplug(1);
    const before = m.snapshot();
    for (const call of [
      () => m.apicWrite(1, Reg.ICR_LO, OTHERS | NMI), () => m.apicRead(1, Reg.ID), () => m.rdmsr(1, MSR_IA32_APIC_BASE),
      () => m.wrmsr(1, MSR_IA32_APIC_BASE, 0xfee00900n), () => m.mmioRead(1, 0xfee00020), () => m.mmioWrite(1, 0xfee00300, 0x4500),
      () => m.takeEvent(1), () => m.unplug(1),
    ]) {
      expect(call).toThrow(HostError);
      expect(m.snapshot()).toEqual(before);
    }
    expect(nmiPending(m)).toEqual([]);
    // A signal to the empty slot is lost.
    m.nmi(1);
    m.init(1);
    m.smi(1);
    m.lint(1, 0);
    expect(m.snapshot()).toEqual(before);
    sendXapic(m, 0, 1, 0x40);
    expect(m.apics[1].irr(0x40)).toBe(false);
    expect(m.cpus[1].present()).toBe(false);
    expect(m.pendingEvent(1)).toBe('none');
    expect(m.waitingForSipi(1)).toBe(false);
  });

  it('an emptied slot encodes exactly as a slot that was never filled', () => {
    const a = booted();
    a.apicWrite(2, Reg.TPR, 0x40);
    a.apicWrite(2, Reg.LDR, 0x04000000);
    a.apicWrite(2, Reg.TIMER_ICR, 1000);
    a.unplug(2);
    const b = booted({ present: [true, true, false, true] });
    expect(a.snapshot()).toEqual(b.snapshot());
    expect(a.hash()).toBe(b.hash());
  });
});

describe('queued delivery', () => {
  it('records one message per target, in flight until delivered', () => {
    const m = booted({ delivery: 'queued' });
    sendXapic(m, 1, 0xff, 0x90);
    expect(m.inFlight().map((r) => [r.source, r.target, r.mode, r.vector])).toEqual([
      [1, 0, 'fixed', 0x90], [1, 1, 'fixed', 0x90], [1, 2, 'fixed', 0x90], [1, 3, 'fixed', 0x90],
    ]);
    expect(holders(m, 0x90)).toEqual([]);
    m.deliver(2);
    expect(holders(m, 0x90)).toEqual([2]);
    expect(m.inFlight().map((r) => r.target)).toEqual([0, 1, 3]);
  });

  it('lets only the oldest record from one source to one target arrive (D-11)', () => {
    const m = booted({ delivery: 'queued' });
    sendXapic(m, 0, 1, INIT);
    sendXapic(m, 0, 1, SIPI(0x20));
    sendXapic(m, 2, 1, NMI);
    expect(m.inFlight().map((r) => r.eligible)).toEqual([true, false, true]);
    expect(() => m.deliver(1)).toThrow(HostError);
    m.deliver(2); // another source overtakes freely
    expect(m.pendingEvent(1)).toBe('nmi');
    m.deliver(0);
    expect(m.inFlight().map((r) => r.eligible)).toEqual([true]);
  });

  it('delivers INIT then SIPI in order and the AP starts at the SIPI vector', () => {
    const m = booted({ delivery: 'queued' });
    m.init(3);
    m.takeEvent(3);
    expect(activity(m, 3)).toBe('wait-for-sipi');
    sendXapic(m, 0, 3, INIT);
    sendXapic(m, 0, 3, SIPI(0x30));
    m.deliver(0);
    m.deliver(0);
    expect(activity(m, 3)).toBe('active');
    expect(m.cpus[3].sipiVector()).toBe(0x30);
  });

  it('shows ICR delivery status (bit 12) while the IPI is in flight and clears it after delivery', () => {
    const m = booted({ delivery: 'queued' });
    sendXapic(m, 0, 0xff, 0x91);
    expect(m.apicRead(0, Reg.ICR_LO)! & DELIVERY_STATUS).toBe(DELIVERY_STATUS);
    expect(m.apicRead(1, Reg.ICR_LO)! & DELIVERY_STATUS).toBe(0);
    m.deliver(0);
    m.deliver(0);
    m.deliver(0);
    expect(m.apicRead(0, Reg.ICR_LO)! & DELIVERY_STATUS).toBe(DELIVERY_STATUS);
    m.deliver(0);
    expect(m.apicRead(0, Reg.ICR_LO)).toBe(0x91);
  });

  it('never shows delivery status with immediate delivery', () => {
    const m = booted();
    sendXapic(m, 0, 1, 0x92);
    expect(m.apicRead(0, Reg.ICR_LO)).toBe(0x92);
  });

  it('drops an in-flight message whose target was unplugged meanwhile', () => {
    const m = booted({ delivery: 'queued' });
    sendXapic(m, 0, 2, NMI);
    m.unplug(2);
    const emptied = m.cpus[2].flags();
    m.deliver(0);
    expect(m.inFlight()).toEqual([]);
    expect(m.pendingEvent(2)).toBe('none');
    expect(m.cpus[2].flags()).toBe(emptied);
  });

  it('rejects delivery of a message that is not in flight', () => {
    const m = booted({ delivery: 'queued' });
    expect(() => m.deliver(0)).toThrow(HostError);
  });
});

describe('MSI decoding', () => {
  const msiAddress = (dest: number, logical = false) => (0xfee00000 | (dest << 12) | (logical ? 4 : 0)) >>> 0;

  it('takes the destination from address bits 19:12 and the vector from data bits 7:0', () => {
    const m = booted({ apicIds: [0, 2, 5, 7] });
    m.msi(msiAddress(7), 0xa2);
    expect(holders(m, 0xa2)).toEqual([3]);
    expect(m.apics[3].tmr(0xa2)).toBe(false);
  });

  it('uses logical destination mode when address bit 2 is set', () => {
    const m = booted();
    for (let i = 0; i < 4; i++) m.apicWrite(i, Reg.LDR, (1 << (24 + i)) >>> 0);
    m.msi(msiAddress(0b1010, true), 0xa3);
    expect(holders(m, 0xa3)).toEqual([1, 3]);
  });

  it('takes the delivery mode from data bits 10:8', () => {
    const m = booted();
    m.msi(msiAddress(2), 0x400);
    expect(m.pendingEvent(2)).toBe('nmi');
    m.msi(msiAddress(1), 0x200);
    expect(m.pendingEvent(1)).toBe('smi');
  });

  it('lowest-priority MSI with a logical destination is arbitrated', () => {
    const m = booted();
    for (let i = 0; i < 4; i++) m.apicWrite(i, Reg.LDR, (1 << (24 + i)) >>> 0);
    [0x30, 0x20, 0x10, 0x00].forEach((tpr, i) => m.apicWrite(i, Reg.TPR, tpr));
    m.msi(msiAddress(0b0111, true), 0x100 | 0xa4);
    expect(holders(m, 0xa4)).toEqual([2]);
  });

  it('sets TMR for a level-triggered MSI (data bit 15) asserted (data bit 14)', () => {
    const m = booted();
    m.msi(msiAddress(1), LEVEL | ASSERT | 0xa5);
    expect(holders(m, 0xa5)).toEqual([1]);
    expect(m.apics[1].tmr(0xa5)).toBe(true);
  });

  it('raises no interrupt for a level-triggered MSI de-assert', () => {
    const m = booted();
    m.msi(msiAddress(1), LEVEL | 0xa6);
    expect(holders(m, 0xa6)).toEqual([]);
  });

  it('ignores a write outside the 0xFEExxxxx interrupt window', () => {
    const m = booted();
    const before = m.snapshot();
    m.msi((0xfed00000 | (1 << 12)) >>> 0, 0xa7);
    expect(m.snapshot()).toEqual(before);
  });

  it('rejects an address or data word that is not a 32-bit value', () => {
    const m = booted();
    expect(() => m.msi(-1, 0x40)).toThrow(HostError);
    expect(() => m.msi(0xfee00000, 2 ** 32)).toThrow(HostError);
  });
});

describe('hotplug', () => {
  it('a plugged CPU starts in wait-for-SIPI with its APIC ID, an xAPIC and SMBASE 0x30000', () => {
    const m = booted({ present: [true, true, true, false], apicIds: [0, 1, 2, 9] });
    expect(activity(m, 3)).toBe('unplugged');
    m.hotplug(3);
    expect(activity(m, 3)).toBe('wait-for-sipi');
    expect(m.apicRead(3, Reg.ID)).toBe(9 << 24);
    expect(m.apics[3].mode()).toBe('xapic');
    expect(m.apics[3].isBsp()).toBe(false);
    expect(m.cpus[3].smbase()).toBe(0x30000);
  });

  it('a plugged CPU boots with INIT-SIPI from the BSP', () => {
    const m = booted({ present: [true, true, true, false], apicIds: [0, 1, 2, 9] });
    m.hotplug(3);
    sendXapic(m, 0, 9, INIT);
    sendXapic(m, 0, 9, SIPI(0x9f));
    expect(activity(m, 3)).toBe('active');
    expect(m.cpus[3].sipiVector()).toBe(0x9f);
    m.apicWrite(3, Reg.SVR, SVR_ON);
    m.cpus[3].setIf(true);
    sendXapic(m, 0, 9, 0xb0);
    expect(m.takeEvent(3)).toEqual({ kind: 'intr', vector: 0xb0 });
  });

  it('an unplugged CPU executes nothing: HLT, IRET or STI on it is host misuse and the slot stays empty', () => {
    const m = booted();
    m.unplug(3);
    const before = m.snapshot();
    expect(() => m.cpus[3].hlt()).toThrow(HostError);
    expect(() => m.cpus[3].shutdown()).toThrow(HostError);
    expect(() => m.cpus[3].iret(true)).toThrow(HostError);
    expect(() => m.cpus[3].sti()).toThrow(HostError);
    expect(m.snapshot()).toEqual(before);
    expect(activity(m, 3)).toBe('unplugged');
    m.nmi(3); // a pin to an empty slot is lost, not an error
    expect(m.pendingEvent(3)).toBe('none');
  });

  it('plugging a present CPU and unplugging the BSP are host misuse', () => {
    const m = booted();
    expect(() => m.hotplug(1)).toThrow(HostError);
    expect(() => m.unplug(0)).toThrow(HostError);
  });
});
