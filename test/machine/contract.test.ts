// The embedding API's contract (README "Embedding"): host misuse is a HostError thrown before any state changes;
// an empty slot executes nothing; a queued broadcast goes on the bus whole or not at all.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MSR_IA32_APIC_BASE, Reg } from '../../src/arch/apic.js';
import { IoApicReg, Redir } from '../../src/arch/ioapic.js';
import { HostError } from '../../src/arch/errors.js';
import { Machine, type MachineConfig } from '../../src/machine/machine.js';

const ALL_BUT_SELF = 3 << 18;

function booted(config: Partial<MachineConfig> = {}): Machine {
  const m = new Machine({ cpus: 4, ...config });
  for (let i = 1; i < 4; i++) {
    m.apicWrite(0, Reg.ICR_HI, i << 24);
    m.apicWrite(0, Reg.ICR_LO, 0x4500);
    m.apicWrite(0, Reg.ICR_LO, 0x4610);
    while (m.inFlight().length > 0) m.deliver(0);
  }
  for (let i = 0; i < 4; i++) {
    m.apicWrite(i, Reg.SVR, 0x1ff);
    m.cpus[i].setIf(true);
  }
  return m;
}

/** The call throws HostError and leaves every word of the state as it was. */
function misuse(m: Machine, call: () => unknown): HostError {
  const before = m.snapshot();
  let thrown: unknown;
  try {
    call();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(HostError);
  expect(m.snapshot()).toEqual(before);
  return thrown as HostError;
}

describe('an empty slot', () => {
  it('after unplug, WRMSR IA32_APIC_BASE does not revive the slot: every call that acts as the CPU is a HostError', () => {
    const m = booted();
    m.unplug(1);
    misuse(m, () => m.wrmsr(1, MSR_IA32_APIC_BASE, 0xfee00d00n));
    misuse(m, () => m.wrmsr(1, MSR_IA32_APIC_BASE, 0xfee00900n));
    misuse(m, () => m.mmioWrite(1, 0xfee00300, 0xc4400));
    misuse(m, () => m.mmioRead(1, 0xfee00020));
    misuse(m, () => m.apicWrite(1, Reg.ICR_LO, 0xc4400));
    misuse(m, () => m.apicRead(1, Reg.PPR));
    misuse(m, () => m.rdmsr(1, 0x802));
    misuse(m, () => m.takeEvent(1));
    misuse(m, () => m.unplug(1));
    misuse(m, () => m.cpus[1].sti());
    // Still empty, and what the other CPUs see of it is nothing.
    expect(m.cpus[1].present()).toBe(false);
    m.hotplug(1);
    expect(m.cpus[1].present()).toBe(true);
    expect(m.waitingForSipi(1)).toBe(true);
  });
});

describe('queued delivery: the bus', () => {
  it('a broadcast that does not fit is not queued at all, from the API, an ICR write or x2APIC WRMSR', () => {
    const m = booted({ delivery: 'queued', busCapacity: 8 });
    const bcast = { vector: 0x40, mode: 0 as const, levelTriggered: false, assert: true, logical: false, shorthand: 0, destination: 0xff, x2apic: false };
    m.send(0, bcast); // 4 targets
    expect(m.inFlight()).toHaveLength(4);
    m.apicWrite(0, Reg.ICR_LO, ALL_BUT_SELF | 0x41); // 3 more: 7
    expect(m.inFlight()).toHaveLength(7);
    expect(misuse(m, () => m.send(0, bcast)).code).toBe('bus-full');
    expect(misuse(m, () => m.apicWrite(1, Reg.ICR_LO, ALL_BUT_SELF | 0x42)).code).toBe('bus-full');
    expect(misuse(m, () => m.mmioWrite(1, 0xfee00300, ALL_BUT_SELF | 0x42)).code).toBe('bus-full');
    expect(m.inFlight()).toHaveLength(7);
    // One target still fits.
    m.apicWrite(0, Reg.ICR_HI, 2 << 24);
    m.apicWrite(0, Reg.ICR_LO, 0x43);
    expect(m.inFlight()).toHaveLength(8);
    // x2APIC: the ICR is one WRMSR.
    const x = booted({ delivery: 'queued', busCapacity: 2 });
    expect(x.wrmsr(2, MSR_IA32_APIC_BASE, 0xfee00c00n)).toEqual({ ok: true });
    expect(misuse(x, () => x.wrmsr(2, 0x830, BigInt(ALL_BUT_SELF | 0x44))).code).toBe('bus-full');
  });

  it('an EOI or a pin whose I/O APIC messages do not fit leaves the APIC and the I/O APIC as they were', () => {
    const m = booted({ delivery: 'queued', busCapacity: 4 });
    const io = m.ioapic!;
    // Pins 1 and 2, level-triggered, vector 0x50 to every CPU (logical flat 0xff), and asserted.
    for (const pin of [1, 2]) {
      io.writeRegister(IoApicReg.REDTBL_BASE + 2 * pin + 1, (0xff << 24) >>> 0);
      io.writeRegister(IoApicReg.REDTBL_BASE + 2 * pin, 0x50 | Redir.TRIGGER_LEVEL | Redir.DEST_LOGICAL);
    }
    for (let i = 0; i < 4; i++) m.apicWrite(i, Reg.LDR, (1 << (24 + i)) >>> 0);
    m.irq(1, true);
    expect(m.inFlight()).toHaveLength(4);
    // The bus is full: asserting pin 2 would send 4 more.
    expect(misuse(m, () => m.irq(2, true)).code).toBe('bus-full');
    // CPU 0 takes vector 0x50 (level); its EOI would make the I/O APIC send pin 1's message again.
    m.deliver(0);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x50 });
    m.send(0, { vector: 0x60, mode: 0, levelTriggered: false, assert: true, logical: false, shorthand: 0, destination: 3, x2apic: false });
    expect(m.inFlight()).toHaveLength(4);
    expect(misuse(m, () => m.apicWrite(0, Reg.EOI, 0)).code).toBe('bus-full');
    expect(m.apics[0].isr(0x50)).toBe(true);
  });
});

describe('arguments', () => {
  it('bad configurations are HostErrors', () => {
    for (const config of [
      { cpus: 4, busCapacity: -1 }, { cpus: 4, busCapacity: 0 }, { cpus: 4, busCapacity: 1.5 }, { cpus: 4, busCapacity: 2 ** 40 },
      { cpus: 2, present: [false, true] }, { cpus: 2, present: [true] }, { cpus: 2, present: [true, 1 as unknown as boolean] },
      { cpus: 2, vendor: 'via' as 'intel' }, { cpus: 2, delivery: 'later' as 'queued' }, { cpus: 2, maxPhysAddr: 65 },
      { cpus: 2, extraWords: 2 ** 40 }, { cpus: 2, timerRatio: 0.5 }, { cpus: 2, onTrace: 3 as unknown as () => void },
    ] as MachineConfig[]) {
      expect(() => new Machine(config), JSON.stringify(config)).toThrow(HostError);
    }
  });

  it('lint pin 2, fractional or negative times, bad CPU indices and hotplug of a present CPU are HostErrors that change nothing', () => {
    fc.assert(
      fc.property(fc.constantFrom(-1, 0.5, 2, 1.5, Number.NaN), fc.constantFrom(0.5, -1, Number.NaN, Infinity, 2 ** 64), (bad, t) => {
        const m = booted();
        m.advanceTo(100);
        misuse(m, () => m.lint(0, bad as 0));
        misuse(m, () => m.advanceTo(100 + t));
        misuse(m, () => m.advanceBy(t));
        misuse(m, () => m.nmi(bad === 2 ? 4 : bad));
        misuse(m, () => m.hotplug(2));
      }),
      { numRuns: 30 },
    );
  });
});
