// The pending-event ladder and the processor-level event rules, through the Machine API (SMM and SMBASE:
// events-smm.test.ts). SDM Vol 3A 7.9 Priority Among Concurrent Events (Table 7-2), 7.7.1 Handling Multiple NMIs,
// 7.8.3, 7.15; SDM Vol 3A 9.4 MP initialization; APM Vol 2 15.17 (GIF).

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Reg } from '../../src/arch/apic.js';
import { VmxMode, sipiStartAddress } from '../../src/arch/cpu.js';
import { A } from '../../src/apic/layout.js';
import { F } from '../../src/cpu/cpu.js';
import { EVENT_LADDER, EVENT_NAMES, EventKind, nextEvent } from '../../src/cpu/events.js';
import { Machine } from '../../src/machine/machine.js';
import { INIT, SIPI, SVR_ON, machine, activity, ipi, interrupt, extint, readyBsp, bootAp, held } from './events-helpers.js';


describe('the ladder: SMI > INIT > NMI > ExtINT > INTR', () => {
  const ORDER = ['smi', 'init', 'nmi', 'extint', 'intr'] as const;
  const raise: Record<(typeof ORDER)[number], (m: Machine) => void> = {
    smi: (m) => m.smi(0),
    init: (m) => m.init(0),
    nmi: (m) => m.nmi(0),
    extint: (m) => extint(m, 0, 0x28),
    intr: (m) => interrupt(m, 0, 0x40),
  };

  it.each(ORDER.map((top, i) => [top, ORDER.slice(i)] as const))('takes %s first when it and every event below it are pending', (top, pending) => {
    const m = readyBsp();
    // Raise them lowest first, so that arrival order cannot be what decides.
    for (const k of [...pending].reverse()) raise[k](m);
    expect(m.pendingEvent(0)).toBe(top);
    expect(m.takeEvent(0).kind).toBe(top);
  });

  it('takes SMI, NMI, ExtINT and INTR one per boundary in ladder order, losing none', () => {
    const m = readyBsp();
    interrupt(m, 0, 0x40);
    extint(m, 0, 0x28);
    m.nmi(0);
    m.smi(0);
    expect(m.takeEvent(0)).toEqual({ kind: 'smi', vector: -1 });
    expect(m.takeEvent(0).kind).toBe('none'); // in SMM: IF = 0 and NMI blocked
    expect(m.cpus[0].rsm()).toBe(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'nmi', vector: 2 });
    m.cpus[0].iret(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'extint', vector: 0x28 });
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x40 });
    expect(m.takeEvent(0).kind).toBe('none');
  });
});

describe('the ladder\'s cheap skip (EventRule.needs)', () => {
  it('no row is pending without the flags it names, whatever the rest of the processor\'s state', () => {
    // nextEvent skips a row whose flags are clear without asking it: that is only sound if the row agrees.
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (flags, act, x2apic) => {
      const m = machine({ x2apic });
      const cpu = m.cpus[1];
      cpu.setFlags(flags >>> 0);
      cpu.setActivity(act);
      for (const rule of EVENT_LADDER) {
        if ((cpu.flags() & rule.needs) !== rule.needs) expect([EVENT_NAMES[rule.kind], rule.pending(cpu)]).toEqual([EVENT_NAMES[rule.kind], false]);
      }
    }), { numRuns: 500 });
    expect(EVENT_LADDER.filter((r) => r.needs !== 0).map((r) => EVENT_NAMES[r.kind])).toEqual(['smi', 'init', 'sipi-discard', 'nmi']);
  });

  it('nextEvent, which asks the rows one by one, names the first row of EVENT_LADDER that is pending and not blocked', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.boolean(), fc.boolean(), fc.constantFrom('intel', 'amd'),
      (flags, act, vmx, x2apic, irr, vendor) => {
        const m = machine({ x2apic, vendor: vendor as 'intel' | 'amd' });
        const cpu = m.cpus[1];
        m.apicWrite(1, Reg.SVR, SVR_ON);
        if (irr) interrupt(m, 1, 0x41);
        cpu.setFlags(flags >>> 0);
        cpu.setActivity(act);
        cpu.setVmx(vmx as VmxMode);
        const first = EVENT_LADDER.find((rule) => rule.blockedBy(cpu) === null && rule.pending(cpu));
        const expected = first === undefined ? 'none' : first.kind === EventKind.INIT && vmx === VmxMode.NON_ROOT ? 'init-vmexit' : EVENT_NAMES[first.kind];
        expect(EVENT_NAMES[nextEvent(cpu)]).toBe(expected);
      }), { numRuns: 2000 });
  });
});

describe('what wakes HLT', () => {
  it('an interrupt wakes HLT only when IF = 1', () => {
    const m = readyBsp();
    m.cpus[0].cli();
    m.cpus[0].hlt();
    interrupt(m, 0, 0x40);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(activity(m, 0)).toBe('halted');
    expect(held(m, 0).intr).toBe('IF=0');

    const n = readyBsp();
    n.cpus[0].hlt();
    interrupt(n, 0, 0x40);
    expect(n.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x40 });
    expect(activity(n, 0)).toBe('active');
  });

  it('an ExtINT wakes HLT only when IF = 1', () => {
    const m = readyBsp();
    m.cpus[0].cli();
    m.cpus[0].hlt();
    extint(m, 0, 0x30);
    expect(m.takeEvent(0).kind).toBe('none');
    m.cpus[0].setIf(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'extint', vector: 0x30 });
    expect(activity(m, 0)).toBe('active');
  });

  it('NMI wakes HLT with IF = 0', () => {
    const m = readyBsp();
    m.cpus[0].cli();
    m.cpus[0].hlt();
    m.nmi(0);
    expect(m.takeEvent(0)).toEqual({ kind: 'nmi', vector: 2 });
    expect(activity(m, 0)).toBe('active');
  });

  it('SMI wakes HLT with IF = 0', () => {
    const m = readyBsp();
    m.cpus[0].cli();
    m.cpus[0].hlt();
    m.smi(0);
    expect(m.takeEvent(0).kind).toBe('smi');
    expect(activity(m, 0)).toBe('active');
    expect(m.cpus[0].inSmm()).toBe(true);
  });

  it('INIT wakes HLT with IF = 0 (the BSP restarts active)', () => {
    const m = readyBsp();
    m.cpus[0].cli();
    m.cpus[0].hlt();
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('init');
    expect(activity(m, 0)).toBe('active');
  });
});

describe('shutdown', () => {
  function shutDown(): Machine {
    const m = readyBsp();
    m.cpus[0].shutdown();
    return m;
  }

  it('NMI wakes shutdown', () => {
    const m = shutDown();
    m.nmi(0);
    expect(m.takeEvent(0).kind).toBe('nmi');
    expect(activity(m, 0)).toBe('active');
  });

  it('SMI wakes shutdown', () => {
    const m = shutDown();
    m.smi(0);
    expect(m.takeEvent(0).kind).toBe('smi');
    expect(m.cpus[0].inSmm()).toBe(true);
    expect(activity(m, 0)).toBe('active');
  });

  it('INIT wakes shutdown', () => {
    const m = shutDown();
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('init');
    expect(activity(m, 0)).toBe('active');
  });

  it('an interrupt does not wake shutdown, even with IF = 1', () => {
    const m = shutDown();
    interrupt(m, 0, 0x40);
    extint(m, 0, 0x30);
    expect(m.pendingEvent(0)).toBe('none');
    expect(m.takeEvent(0).kind).toBe('none');
    expect(activity(m, 0)).toBe('shutdown');
    expect(held(m, 0)).toEqual({ extint: 'activity state', intr: 'activity state' });
  });

  it('a shutdown inside an NMI handler is left by RESET only', () => {
    const m = readyBsp();
    m.nmi(0);
    expect(m.takeEvent(0).kind).toBe('nmi');
    m.cpus[0].shutdown(); // triple fault in the NMI handler, before its IRET
    m.smi(0);
    m.init(0);
    m.nmi(0);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(activity(m, 0)).toBe('shutdown');
    m.powerOn();
    expect(activity(m, 0)).toBe('active');
  });

  it('a shutdown inside SMM is left by RESET only, even once an IRET has unblocked NMIs', () => {
    const m = readyBsp();
    m.smi(0);
    m.takeEvent(0);
    m.cpus[0].iret(false); // SDM Vol 3C 34.8: an IRET in SMM unblocks NMIs
    m.cpus[0].shutdown();
    m.nmi(0);
    m.smi(0);
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(activity(m, 0)).toBe('shutdown');
  });
});

describe('wait-for-SIPI', () => {
  it('an AP powers on in wait-for-SIPI and a SIPI starts it at vector << 12', () => {
    const m = machine();
    expect(activity(m, 1)).toBe('wait-for-sipi');
    expect(m.waitingForSipi(1)).toBe(true);
    ipi(m, 0, 1, SIPI(0x9a));
    expect(activity(m, 1)).toBe('active');
    expect(m.cpus[1].sipiVector()).toBe(0x9a);
    expect(sipiStartAddress(m.cpus[1].sipiVector())).toBe(0x9a000);
  });

  it('holds an NMI in wait-for-SIPI and takes it once the SIPI has started the AP', () => {
    const m = machine();
    m.nmi(1);
    expect(m.takeEvent(1).kind).toBe('none');
    expect(held(m, 1).nmi).toBe('wait-for-sipi');
    ipi(m, 0, 1, SIPI(0x10));
    expect(m.takeEvent(1)).toEqual({ kind: 'nmi', vector: 2 });
  });

  it('holds an SMI in wait-for-SIPI and takes it right after the SIPI starts the AP', () => {
    const m = machine();
    m.smi(1);
    expect(m.takeEvent(1).kind).toBe('none');
    expect(held(m, 1).smi).toBe('wait-for-sipi');
    ipi(m, 0, 1, SIPI(0x10));
    expect(activity(m, 1)).toBe('active');
    expect(m.pendingEvent(1)).toBe('smi');
    expect(m.takeEvent(1).kind).toBe('smi');
    expect(m.cpus[1].inSmm()).toBe(true);
    expect(m.cpus[1].rsm()).toBe(true);
    expect(activity(m, 1)).toBe('active'); // back at the SIPI's start address, not halted
  });

  it('never takes an interrupt in wait-for-SIPI, even with an enabled APIC and IF = 1', () => {
    const m = machine();
    m.apicWrite(1, Reg.SVR, SVR_ON);
    m.cpus[1].setIf(true);
    interrupt(m, 1, 0x50);
    extint(m, 1, 0x30);
    expect(m.apics[1].irr(0x50)).toBe(true);
    expect(m.pendingEvent(1)).toBe('none');
    expect(m.takeEvent(1).kind).toBe('none');
    expect(held(m, 1)).toEqual({ extint: 'activity state', intr: 'activity state' });
    expect(m.apics[1].irr(0x50)).toBe(true);
  });

  it('takes an INIT in wait-for-SIPI at once: the AP stays there and a held NMI is discarded (D-14, D-8)', () => {
    const m = machine();
    m.nmi(1);
    m.smi(1);
    m.apicWrite(1, Reg.TPR, 0x20);
    m.init(1);
    expect(activity(m, 1)).toBe('wait-for-sipi');
    expect(m.cpus[1].has(F.INIT_PENDING)).toBe(false);
    expect(m.cpus[1].has(F.NMI_PENDING)).toBe(false);
    expect(m.cpus[1].has(F.SMI_PENDING)).toBe(true);
    expect(m.apics[1].word(A.TPR)).toBe(0);
  });

  it('boots an AP with INIT then SIPI even when no event boundary falls between them', () => {
    const m = machine();
    ipi(m, 0, 1, INIT);
    ipi(m, 0, 1, SIPI(0x20));
    expect(activity(m, 1)).toBe('active');
    expect(m.takeEvent(1).kind).toBe('none');
    expect(activity(m, 1)).toBe('active');
    expect(m.cpus[1].sipiVector()).toBe(0x20);
  });

  it('discards a SIPI that reaches an active CPU, and does not latch it', () => {
    const m = machine();
    bootAp(m, 1, 0x10);
    ipi(m, 0, 1, SIPI(0x33));
    expect(m.cpus[1].sipiVector()).toBe(0x10);
    m.init(1);
    m.takeEvent(1);
    expect(activity(m, 1)).toBe('wait-for-sipi'); // the discarded SIPI does not start it now
  });

  it('discards a SIPI that reaches a halted CPU', () => {
    const m = machine();
    bootAp(m, 1, 0x10);
    m.cpus[1].hlt();
    ipi(m, 0, 1, SIPI(0x33));
    expect(activity(m, 1)).toBe('halted');
    expect(m.cpus[1].sipiVector()).toBe(0x10);
  });

  it('discards a SIPI that reaches a CPU in SMM', () => {
    const m = machine();
    bootAp(m, 1, 0x10);
    m.smi(1);
    m.takeEvent(1);
    ipi(m, 0, 1, SIPI(0x33));
    expect(m.cpus[1].sipiVector()).toBe(0x10);
    m.cpus[1].rsm();
    expect(activity(m, 1)).toBe('active');
    expect(m.takeEvent(1).kind).toBe('none');
  });

  it('a SIPI to the BSP after INIT is discarded: the BSP restarts active, not in wait-for-SIPI', () => {
    const m = machine();
    bootAp(m, 1);
    m.init(0);
    m.takeEvent(0);
    ipi(m, 1, 0, SIPI(0x44));
    expect(activity(m, 0)).toBe('active');
    expect(m.cpus[0].sipiVector()).toBe(0);
  });
});

describe('INIT', () => {
  it('latches INIT in SMM and takes it after RSM (seed 000: INIT-SIPI-SIPI during SMM leaves the AP in wait-for-SIPI)', () => {
    const m = machine();
    bootAp(m, 1, 0x10);
    m.cpus[1].hlt();
    m.smi(1);
    expect(m.takeEvent(1).kind).toBe('smi');
    ipi(m, 0, 1, INIT);
    ipi(m, 0, 1, SIPI(0x20));
    ipi(m, 0, 1, SIPI(0x20));
    expect(m.pendingEvent(1)).toBe('none');
    expect(held(m, 1).init).toBe('in SMM');
    expect(m.cpus[1].rsm()).toBe(true);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('wait-for-sipi');
    expect(m.cpus[1].sipiVector()).toBe(0x10); // both SIPIs were discarded
    ipi(m, 0, 1, SIPI(0x20)); // the resend
    expect(activity(m, 1)).toBe('active');
    expect(m.cpus[1].sipiVector()).toBe(0x20);
  });

  it('holds INIT in VMX root operation until VMX is left', () => {
    const m = readyBsp();
    m.cpus[0].setVmx(VmxMode.ROOT);
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(held(m, 0).init).toBe('VMX root operation');
    m.cpus[0].setVmx(VmxMode.OFF); // VMXOFF
    expect(m.takeEvent(0).kind).toBe('init');
  });

  it('turns INIT in VMX non-root operation into an INIT VM exit that resets nothing', () => {
    const m = readyBsp();
    m.apicWrite(0, Reg.TPR, 0x30);
    m.cpus[0].setVmx(VmxMode.NON_ROOT);
    m.init(0);
    expect(m.pendingEvent(0)).toBe('init-vmexit');
    expect(m.takeEvent(0)).toEqual({ kind: 'init-vmexit', vector: -1 });
    expect(m.cpus[0].vmx()).toBe(VmxMode.ROOT);
    expect(m.cpus[0].interruptsEnabled()).toBe(true);
    expect(m.apicRead(0, Reg.TPR)).toBe(0x30);
    expect(m.apicRead(0, Reg.SVR)).toBe(SVR_ON);
    expect(m.takeEvent(0).kind).toBe('none'); // the INIT is consumed by the exit
  });

  it('restarts the BSP active after INIT and puts an AP in wait-for-SIPI', () => {
    const m = machine();
    bootAp(m, 1);
    m.init(0);
    m.init(1);
    expect(m.takeEvent(0).kind).toBe('init');
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 0)).toBe('active');
    expect(m.apics[0].isBsp()).toBe(true);
    expect(activity(m, 1)).toBe('wait-for-sipi');
  });

  it('keeps a written xAPIC ID across INIT and resets TPR, IRR and SVR', () => {
    const m = machine();
    bootAp(m, 1);
    m.cpus[1].cli();
    m.apicWrite(1, Reg.ID, 0x07000000);
    m.apicWrite(1, Reg.TPR, 0x50);
    interrupt(m, 1, 0x80);
    expect(m.apics[1].irr(0x80)).toBe(true);
    m.init(1);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(m.apicRead(1, Reg.ID)).toBe(0x07000000);
    expect(m.apicRead(1, Reg.TPR)).toBe(0);
    expect(m.apicRead(1, Reg.SVR)).toBe(0xff);
    expect(m.apics[1].highestIrr()).toBe(-1);
  });

  it('discards an NMI that is pending when INIT is taken ahead of it (D-8)', () => {
    const m = readyBsp();
    m.nmi(0);
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('init');
    expect(m.cpus[0].has(F.NMI_PENDING)).toBe(false);
    expect(m.takeEvent(0).kind).toBe('none');
  });
});

describe('AMD GIF', () => {
  it('GIF = 0 holds INIT, SMI, NMI and INTR pending until STGI', () => {
    const m = readyBsp({ vendor: 'amd' });
    m.cpus[0].setGif(false);
    interrupt(m, 0, 0x40);
    m.nmi(0);
    m.smi(0);
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(held(m, 0)).toEqual({ smi: 'GIF=0', init: 'GIF=0', nmi: 'GIF=0', intr: 'GIF=0' });
    m.cpus[0].setGif(true);
    expect(m.takeEvent(0).kind).toBe('smi');
  });

  it('GIF = 0 holds an INIT that reaches an AP in wait-for-SIPI', () => {
    const m = machine({ vendor: 'amd' });
    m.cpus[1].setGif(false);
    m.init(1);
    expect(m.cpus[1].has(F.INIT_PENDING)).toBe(true);
    expect(held(m, 1).init).toBe('GIF=0');
  });
});

describe('NMI blocking', () => {
  it('blocks NMIs until IRET; one more is held pending and a third is lost', () => {
    const m = readyBsp();
    m.nmi(0);
    expect(m.takeEvent(0).kind).toBe('nmi');
    m.nmi(0);
    m.nmi(0);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(held(m, 0).nmi).toBe('NMI blocked');
    m.cpus[0].iret(true);
    expect(m.takeEvent(0).kind).toBe('nmi');
    m.cpus[0].iret(true);
    expect(m.takeEvent(0).kind).toBe('none'); // the third was lost
  });

  it('any IRET ends NMI blocking', () => {
    const m = readyBsp();
    m.nmi(0);
    m.takeEvent(0);
    m.nmi(0);
    m.cpus[0].iret(false);
    expect(m.takeEvent(0).kind).toBe('nmi');
  });

  it('the STI shadow blocks an interrupt for one instruction but not an NMI (D-9)', () => {
    const m = readyBsp();
    m.cpus[0].cli();
    interrupt(m, 0, 0x40);
    m.cpus[0].sti();
    expect(m.pendingEvent(0)).toBe('none');
    expect(held(m, 0).intr).toBe('STI shadow');
    m.nmi(0);
    expect(m.takeEvent(0).kind).toBe('nmi'); // at the boundary right after STI
    m.cpus[0].iret(true); // the NMI handler returns to the instruction after STI
    m.cpus[0].beginInstruction();
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x40 });
  });

  it('STI with IF already 1 sets no shadow', () => {
    const m = readyBsp();
    interrupt(m, 0, 0x40);
    m.cpus[0].sti();
    expect(m.takeEvent(0).kind).toBe('intr');
  });

  it('the MOV SS shadow blocks an NMI for one instruction', () => {
    const m = readyBsp();
    m.cpus[0].movSs();
    m.nmi(0);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(held(m, 0).nmi).toBe('MOV SS shadow');
    m.cpus[0].beginInstruction();
    expect(m.takeEvent(0).kind).toBe('nmi');
  });
});
