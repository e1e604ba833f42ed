// SMM entry, RSM and SMBASE through the Machine API, and the SIPI quirk of QEMU TCG (the rest of the event rules:
// events.test.ts). SDM Vol 3C 34 (SMM, 2016-2022 numbering); SDM Vol 3A 9.4 MP initialization.

import { describe, expect, it } from 'vitest';
import { DEFAULT_SMBASE } from '../../src/arch/cpu.js';
import { F } from '../../src/cpu/cpu.js';
import { Machine } from '../../src/machine/machine.js';
import { INIT, SIPI, machine, activity, ipi, interrupt, readyBsp, bootAp, held } from './events-helpers.js';

describe('SMM', () => {
  it('SMM entry clears IF and blocks NMI; RSM restores IF and unblocks NMI', () => {
    const m = readyBsp();
    m.smi(0);
    expect(m.takeEvent(0).kind).toBe('smi');
    expect(m.cpus[0].interruptsEnabled()).toBe(false);
    m.nmi(0);
    interrupt(m, 0, 0x40);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(held(m, 0)).toEqual({ nmi: 'NMI blocked', intr: 'IF=0' });
    expect(m.cpus[0].rsm()).toBe(true);
    expect(m.cpus[0].interruptsEnabled()).toBe(true);
    expect(m.takeEvent(0).kind).toBe('nmi');
  });

  it('RSM keeps NMIs blocked when they were blocked before the SMI', () => {
    const m = readyBsp();
    m.nmi(0);
    m.takeEvent(0); // in the NMI handler
    m.smi(0);
    m.takeEvent(0);
    m.cpus[0].iret(false); // an IRET inside SMM
    m.cpus[0].rsm();
    m.nmi(0);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(held(m, 0).nmi).toBe('NMI blocked');
    m.cpus[0].iret(true); // the NMI handler's own IRET
    expect(m.takeEvent(0).kind).toBe('nmi');
  });

  it('latches one SMI while in SMM and takes it after RSM', () => {
    const m = readyBsp();
    m.smi(0);
    m.takeEvent(0);
    m.smi(0);
    m.smi(0);
    expect(m.takeEvent(0).kind).toBe('none');
    expect(held(m, 0).smi).toBe('in SMM');
    m.cpus[0].rsm();
    expect(m.takeEvent(0).kind).toBe('smi');
    m.cpus[0].rsm();
    expect(m.takeEvent(0).kind).toBe('none');
  });

  it('RSM returns to HLT when SMM was entered from HLT (auto HALT restart)', () => {
    const m = readyBsp();
    m.cpus[0].hlt();
    m.smi(0);
    m.takeEvent(0);
    expect(m.cpus[0].has(F.AUTO_HALT)).toBe(true);
    m.cpus[0].rsm();
    expect(activity(m, 0)).toBe('halted');
  });

  it('RSM resumes after the HLT when the handler clears auto HALT restart', () => {
    const m = readyBsp();
    m.cpus[0].hlt();
    m.smi(0);
    m.takeEvent(0);
    m.cpus[0].setAutoHaltRestart(false);
    m.cpus[0].rsm();
    expect(activity(m, 0)).toBe('active');
  });

  it('RSM outside SMM is #UD and changes nothing', () => {
    const m = readyBsp();
    const before = m.snapshot();
    expect(m.cpus[0].rsm()).toBe(false);
    expect(m.snapshot()).toEqual(before);
  });
});

describe('SMBASE', () => {
  it('is 0x30000 after power-on', () => {
    const m = machine();
    expect(m.cpus[0].smbase()).toBe(DEFAULT_SMBASE);
    expect(m.cpus[1].smbase()).toBe(0x30000);
  });

  it('takes a save-state SMBASE write at RSM, and the next SMI uses it', () => {
    const m = readyBsp();
    m.smi(0);
    m.takeEvent(0);
    expect(m.cpus[0].saveStateSmbase()).toBe(0x30000);
    m.cpus[0].writeSaveStateSmbase(0x7ffc0000);
    expect(m.cpus[0].smbase()).toBe(0x30000); // SMM keeps running at the old SMBASE
    m.cpus[0].rsm();
    expect(m.cpus[0].smbase()).toBe(0x7ffc0000);
    m.smi(0);
    m.takeEvent(0);
    expect(m.cpus[0].saveStateSmbase()).toBe(0x7ffc0000);
    m.cpus[0].rsm();
    expect(m.cpus[0].smbase()).toBe(0x7ffc0000);
  });

  it('ignores a save-state SMBASE write outside SMM', () => {
    const m = readyBsp();
    m.cpus[0].writeSaveStateSmbase(0x50000);
    m.smi(0);
    m.takeEvent(0);
    m.cpus[0].rsm();
    expect(m.cpus[0].smbase()).toBe(0x30000);
  });

  it('keeps a relocated SMBASE across INIT', () => {
    const m = readyBsp();
    m.smi(0);
    m.takeEvent(0);
    m.cpus[0].writeSaveStateSmbase(0x88000);
    m.cpus[0].rsm();
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('init');
    expect(m.cpus[0].smbase()).toBe(0x88000);
  });

  it('returns to 0x30000 at power-on', () => {
    const m = readyBsp();
    m.smi(0);
    m.takeEvent(0);
    m.cpus[0].writeSaveStateSmbase(0x88000);
    m.cpus[0].rsm();
    m.powerOn();
    expect(m.cpus[0].smbase()).toBe(0x30000);
  });
});

describe('quirk sipiHeldUntilTaken (QEMU TCG; CONFORMANCE.md F2)', () => {
  function haltedAp(quirk: boolean): Machine {
    const m = readyBsp({ quirks: { sipiHeldUntilTaken: quirk } });
    bootAp(m, 1);
    m.cpus[1].hlt();
    return m;
  }

  it('architecture: a SIPI to a halted AP is discarded at once, and a later INIT leaves it in wait-for-SIPI', () => {
    const m = haltedAp(false);
    ipi(m, 0, 1, SIPI(0x20));
    expect(activity(m, 1)).toBe('halted');
    ipi(m, 0, 1, INIT);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('wait-for-sipi');
  });

  it('a SIPI kept while halted starts the AP after an INIT that arrives before the AP takes events', () => {
    const m = haltedAp(true);
    ipi(m, 0, 1, SIPI(0x20));
    expect(m.pendingEvent(1)).toBe('sipi-discard');
    ipi(m, 0, 1, INIT);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('active');
    expect(m.cpus[1].sipiVector()).toBe(0x20);
  });

  it('with no INIT the kept SIPI is dropped at the next boundary, and ends the HLT', () => {
    const m = haltedAp(true);
    ipi(m, 0, 1, SIPI(0x20));
    expect(m.takeEvent(1).kind).toBe('sipi-discard');
    expect(activity(m, 1)).toBe('active');
    expect(m.cpus[1].has(F.SIPI_LATCHED)).toBe(false);
    expect(m.pendingEvent(1)).toBe('none');
  });
});

describe('a SIPI kept outside wait-for-SIPI (issue 12 items 1-3)', () => {
  it('never changes the start vector of a running AP, whatever a profile keeps (quirk sipiHeldUntilTaken)', () => {
    const m = readyBsp({ quirks: { sipiHeldUntilTaken: true } });
    bootAp(m, 1, 0x10);
    ipi(m, 0, 1, SIPI(0x20));
    expect(m.cpus[1].has(F.SIPI_LATCHED)).toBe(true);
    expect(m.cpus[1].sipiVector()).toBe(0x10);
    expect(m.takeEvent(1).kind).toBe('sipi-discard');
    expect(m.cpus[1].sipiVector()).toBe(0x10);
  });

  it('sipiLatchedInSmm: kept through SMM, dropped at the first event check after RSM when no INIT is pending', () => {
    const m = readyBsp({ quirks: { sipiLatchedInSmm: true } });
    bootAp(m, 1, 0x10);
    m.smi(1);
    m.takeEvent(1);
    ipi(m, 0, 1, SIPI(0x20));
    expect(m.pendingEvent(1)).toBe('none');
    m.cpus[1].rsm();
    expect(m.takeEvent(1).kind).toBe('sipi-discard');
    m.init(1);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('wait-for-sipi'); // a later INIT does not replay it
    expect(m.cpus[1].sipiVector()).toBe(0x10);
  });

  it('sipiLatchedInSmm: an INIT latched in SMM before the SIPI is taken after RSM, then the SIPI starts the AP', () => {
    const m = readyBsp({ quirks: { sipiLatchedInSmm: true } });
    bootAp(m, 1, 0x10);
    m.smi(1);
    m.takeEvent(1);
    ipi(m, 0, 1, INIT);
    ipi(m, 0, 1, SIPI(0x20));
    m.cpus[1].rsm();
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('active');
    expect(m.cpus[1].sipiVector()).toBe(0x20);
  });

  it('sipiLatchedInSmm: an INIT arriving after the kept SIPI erases it (KVM pending_events = INIT)', () => {
    const m = readyBsp({ quirks: { sipiLatchedInSmm: true } });
    bootAp(m, 1, 0x10);
    m.smi(1);
    m.takeEvent(1);
    ipi(m, 0, 1, SIPI(0x20));
    ipi(m, 0, 1, INIT);
    expect(m.cpus[1].has(F.SIPI_LATCHED)).toBe(false);
    m.cpus[1].rsm();
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('wait-for-sipi');
  });

  it('a vCPU keeps a SIPI that arrives behind an INIT it has not taken, and acts on both in order', () => {
    const m = readyBsp({ pendingInitSipi: true });
    bootAp(m, 1, 0x10);
    ipi(m, 0, 1, INIT);
    ipi(m, 0, 1, SIPI(0x20));
    expect(m.cpus[1].has(F.SIPI_LATCHED)).toBe(true);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('active');
    expect(m.cpus[1].sipiVector()).toBe(0x20);
  });

  it('a vCPU drops a SIPI behind an INIT that is blocked (SMM): only the INIT acts after RSM', () => {
    const m = readyBsp({ pendingInitSipi: true });
    bootAp(m, 1, 0x10);
    m.smi(1);
    m.takeEvent(1);
    ipi(m, 0, 1, INIT);
    ipi(m, 0, 1, SIPI(0x20));
    expect(m.cpus[1].has(F.SIPI_LATCHED)).toBe(false);
    m.cpus[1].rsm();
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('wait-for-sipi');
  });

  it('without pending events (a physical CPU) the SIPI behind an untaken INIT is discarded', () => {
    const m = readyBsp();
    bootAp(m, 1, 0x10);
    ipi(m, 0, 1, INIT);
    ipi(m, 0, 1, SIPI(0x20));
    expect(m.takeEvent(1).kind).toBe('init');
    expect(activity(m, 1)).toBe('wait-for-sipi');
  });
});
