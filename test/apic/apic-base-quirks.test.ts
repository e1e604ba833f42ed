// IA32_APIC_BASE writes as Bochs 2.7, QEMU and KVM handle them, and Bochs's version register, as quirks (src/apic/apicBase.ts;
// CONFORMANCE.md F13, F14, F15, K1, K3): each against the architecture's rule (or the decision) through the Machine
// API, `apic read` of a page the APIC does not decode as the MMIO load it compiles to (D-31), and the catalog tests
// whose every run on a backend its profile now gives exactly.

import { describe, expect, it } from 'vitest';
import { ApicBase, Reg } from '../../src/arch/apic.js';
import type { Quirks } from '../../src/arch/quirks.js';
import { runTest } from '../../src/explore/run.js';
import { parseLitmus } from '../../src/litmus/parse.js';
import { Machine } from '../../src/machine/machine.js';
import { deriveProfile } from '../../src/sim/profile-data.js';
import { findProfile } from '../../src/sim/profiles.js';
import { expectProfileGivesOnly, rd } from './helpers.js';

const IA32_APIC_BASE = 0x1b;
const BASE = BigInt(ApicBase.DEFAULT_BASE), EN = BigInt(ApicBase.EN), EXTD = BigInt(ApicBase.EXTD), BSP = BigInt(ApicBase.BSP);

function m(quirks: Partial<Quirks>): Machine {
  return new Machine({ cpus: 2, x2apic: true, quirks });
}
const base = (mc: Machine): bigint => {
  const r = mc.rdmsr(0, IA32_APIC_BASE);
  if (!r.ok) throw new Error('IA32_APIC_BASE faulted');
  return r.value;
};

describe('apicBaseWritesIgnoredWhenDisabled', () => {
  it('re-enabling: the SDM (Vol 3A 11.4.3) takes the write; Bochs drops it and the APIC stays disabled', () => {
    for (const quirk of [false, true]) {
      const mc = m({ apicBaseWritesIgnoredWhenDisabled: quirk });
      expect(mc.wrmsr(0, IA32_APIC_BASE, BASE | BSP).ok).toBe(true);
      expect(mc.wrmsr(0, IA32_APIC_BASE, BASE | BSP | EN).ok).toBe(true);
      expect(base(mc)).toBe(quirk ? BASE | BSP : BASE | BSP | EN);
      expect(mc.apics[0].mode()).toBe(quirk ? 'disabled' : 'xapic');
    }
  });

  it('from disabled, EN = 0/EXTD = 1 and a switch straight to x2APIC raise #GP (SDM Vol 3A 11.12.5); under the quirk they change nothing', () => {
    for (const write of [BASE | EXTD, BASE | EN | EXTD, 1n << 60n]) {
      for (const quirk of [false, true]) {
        const mc = m({ apicBaseWritesIgnoredWhenDisabled: quirk });
        expect(mc.wrmsr(1, IA32_APIC_BASE, BASE).ok).toBe(true);
        expect(mc.wrmsr(1, IA32_APIC_BASE, write).ok).toBe(quirk);
        expect(mc.apics[1].mode()).toBe('disabled');
      }
    }
  });

  it('an enabled APIC takes writes as the SDM says, quirk or not', () => {
    const mc = m({ apicBaseWritesIgnoredWhenDisabled: true });
    expect(mc.wrmsr(1, IA32_APIC_BASE, BASE | EN | EXTD).ok).toBe(true);
    expect(mc.apics[1].mode()).toBe('x2apic');
    expect(mc.wrmsr(1, IA32_APIC_BASE, BASE | EN).ok).toBe(false); // x2APIC -> xAPIC
  });
});

describe('bspFlagWritable, globalDisable, apicBaseReservedBitsIgnored', () => {
  it('a write that clears the BSP flag: ignored (D-2), kept under bspFlagWritable (Bochs, KVM)', () => {
    for (const quirk of [false, true]) {
      const mc = m({ bspFlagWritable: quirk });
      expect(mc.wrmsr(0, IA32_APIC_BASE, BASE | EN).ok).toBe(true);
      expect(base(mc)).toBe(quirk ? BASE | EN : BASE | EN | BSP);
    }
  });

  it('a global disable resets the registers (D-3); QEMU clears only SVR[8]; KVM keeps them and resets the ID on enable', () => {
    for (const rule of ['power-up', 'clear-svr-enable', 'keep'] as const) {
      const mc = m({ globalDisable: rule });
      mc.apicWrite(1, Reg.SVR, 0x1ff);
      mc.apicWrite(1, Reg.TPR, 0x40);
      mc.apicWrite(1, Reg.LVT_LINT0, 0x700);
      mc.apicWrite(1, Reg.ID, 0x5000000);
      expect(mc.wrmsr(1, IA32_APIC_BASE, BASE).ok).toBe(true);
      expect(mc.wrmsr(1, IA32_APIC_BASE, BASE | EN).ok).toBe(true);
      const got = [Reg.TPR, Reg.SVR, Reg.LVT_LINT0, Reg.ID].map((r) => rd(mc, 1, r));
      expect(got, rule).toEqual({
        'power-up': [0, 0xff, 0x10000, 0x1000000],
        'clear-svr-enable': [0x40, 0xff, 0x700, 0x5000000],
        keep: [0x40, 0x1ff, 0x700, 0x1000000],
      }[rule]);
    }
  });

  it('reserved bits raise #GP (SDM Vol 3A 11.4.4); QEMU 7.2 drops them and bits 63:32, without a fault', () => {
    for (const write of [BASE | EN | BSP | 1n, BASE | EN | BSP | (1n << 52n)]) {
      for (const quirk of [false, true]) {
        const mc = new Machine({ cpus: 1, x2apic: false, quirks: { apicBaseReservedBitsIgnored: quirk } });
        expect(mc.wrmsr(0, IA32_APIC_BASE, write).ok).toBe(quirk);
        expect(base(mc)).toBe(BASE | EN | BSP);
      }
    }
  });
});

describe('x2apicLdrNotDerivedOnEntry', () => {
  it('xAPIC -> x2APIC derives the LDR from the x2APIC ID (SDM Vol 3A 11.12.10.2); Bochs keeps the xAPIC logical ID until a later write', () => {
    for (const quirk of [false, true]) {
      const mc = m({ x2apicLdrNotDerivedOnEntry: quirk });
      mc.apicWrite(1, Reg.LDR, 0x4000000);
      expect(mc.wrmsr(1, IA32_APIC_BASE, BASE | EN | EXTD).ok).toBe(true);
      const ldr = (): bigint => {
        const r = mc.rdmsr(1, 0x80d);
        if (!r.ok) throw new Error('X2APIC_LDR faulted');
        return r.value;
      };
      expect(ldr()).toBe(quirk ? 4n : 2n);
      expect(mc.wrmsr(1, IA32_APIC_BASE, BASE | EN | EXTD).ok).toBe(true);
      expect(ldr()).toBe(2n);
    }
  });
});

describe('x2apicLvtIpiReservedUnchecked', () => {
  it('reserved bits of SELF IPI, ICR, an LVT and TIMER_DCR fault (SDM Vol 3A 11.12.1.3); Bochs takes them, masked, and still checks the upper half and TPR', () => {
    for (const quirk of [false, true]) {
      const mc = m({ x2apicLvtIpiReservedUnchecked: quirk });
      expect(mc.wrmsr(1, IA32_APIC_BASE, BASE | EN | EXTD).ok).toBe(true);
      expect(mc.wrmsr(1, 0x80f, 0x1ffn).ok).toBe(true); // SVR
      expect(mc.wrmsr(1, 0x83f, 0x140n).ok).toBe(quirk); // SELF IPI, bit 8
      expect(mc.wrmsr(1, 0x830, 0x100040n).ok).toBe(quirk); // ICR, bit 20
      expect(mc.wrmsr(1, 0x835, 0x80000041n).ok).toBe(quirk); // LVT_LINT0, bit 31
      expect(mc.wrmsr(1, 0x83e, 0x10n).ok).toBe(quirk); // TIMER_DCR, bit 4
      expect(mc.wrmsr(1, 0x835, 0x100000041n).ok).toBe(false);
      expect(mc.wrmsr(1, 0x808, 0x120n).ok).toBe(false);
      const lint0 = mc.rdmsr(1, 0x835);
      expect(lint0.ok && lint0.value).toBe(quirk ? 0x41n : 0x10000n);
      // The SELF IPI's vector byte, 0x40, arrived (it was sent only under the quirk).
      const irr2 = mc.rdmsr(1, 0x822);
      expect(irr2.ok && (irr2.value & 1n) !== 0n).toBe(quirk);
    }
  });
});

describe('x2apicMsrUnchecked', () => {
  it('the SDM\'s x2APIC #GPs (11.12.1.2-11.12.1.3) but for ID, LDR, DFR and ICR_HI writes are gone under QEMU 10\'s register file', () => {
    // [msr, value (a write) or null (a read), faults under spec, faults under the quirk]
    const cases: [number, bigint | null, boolean, boolean][] = [
      [0x80e, 0n, true, true], [0x802, 5n, true, true], [0x80d, 1n, true, true], [0x831, 0n, true, true],
      [0x80b, 1n, true, false], [0x808, 0x100000020n, true, false], [0x80b, null, true, false], [0x83f, 0x140n, true, false],
      [0x830, 0x100040n, true, false], [0x803, 0n, true, false], [0x828, 1n, true, false], [0x804, 0n, true, true],
    ];
    for (const quirk of [false, true]) {
      const mc = m({ x2apicMsrUnchecked: quirk });
      expect(mc.wrmsr(1, IA32_APIC_BASE, BASE | EN | EXTD).ok).toBe(true);
      for (const [msr, value, spec, qemu] of cases) {
        const ok = value === null ? mc.rdmsr(1, msr).ok : mc.wrmsr(1, msr, value).ok;
        expect(!ok, `${msr.toString(16)} ${value}`).toBe(quirk ? qemu : spec);
      }
      const tpr = mc.rdmsr(1, 0x808);
      expect(tpr.ok && tpr.value).toBe(quirk ? 0x20n : 0n);
    }
  });
});

describe('versionCountsSixLvts', () => {
  it('VERSION says six LVT entries, and LVT_CMCI stays a register', () => {
    for (const quirk of [false, true]) {
      const mc = m({ versionCountsSixLvts: quirk });
      expect((rd(mc, 0, Reg.VERSION) >>> 16) & 0xff).toBe(quirk ? 5 : 6);
      mc.apicWrite(0, Reg.SVR, 0x1ff);
      mc.apicWrite(0, Reg.LVT_CMCI, 0x41);
      expect(rd(mc, 0, Reg.LVT_CMCI)).toBe(0x41);
    }
  });
});

describe('the catalog tests these profile changes answer', () => {
  it('`apic read` of an APIC page nothing decodes reads all ones (D-31), 0 where unassigned reads are 0 (QEMU)', () => {
    const text = ['lapis undecoded', 'P0 {', '  wrmsr IA32_APIC_BASE = 0xfee00100', '  apic read r1 = TPR', '  wrmsr IA32_APIC_BASE = 0xfee00900',
      '  wrmsr IA32_APIC_BASE = 0xfee00d00', '  apic read r2 = TPR', '}', 'forall (P0:r1 = 0 /\\ P0:r2 = 0)'].join('\n');
    const parsed = parseLitmus(text, 'undecoded.litmus');
    if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.format()).join('\n'));
    const zero = deriveProfile(findProfile('spec')!, 'zero', 'unassigned reads 0', [{ quirk: 'unassignedReadsZero', behaviour: '', evidence: '' }]);
    for (const [profile, v] of [[findProfile('spec')!, '0xffffffff'], [zero, '0']] as const) {
      const { result } = runTest(parsed.test, profile, {});
      // Globally disabled, then in x2APIC mode: neither decodes the xAPIC page.
      expect(result!.outcomes.map((o) => o.key)).toEqual([`P0:r1=${v}; P0:r2=${v}`]);
    }
  });

  // Every run of each on Bochs (conformance/results/bochs.json, bochs-slow.json).
  it.each([
    ['decision-d3-global-disable-resets.litmus', 'P0:r1=0xffffffff; P0:r2=0xffffffff; P0.faults=0'],
    ['disabled-to-x2apic-gp.litmus', 'P1.faults=0; P1.apic.mode=disabled'],
    ['x2apic-via-disabled-to-xapic.litmus', 'P1.faults=0; P1.apic.mode=disabled'],
    ['kut-apic-disabled-to-xapic.litmus', 'P0:r0=0xfee00100; P0.faults=0'],
    ['kut-apic-disabled-to-invalid.litmus', 'P0:r0=0xfee00100; P0.faults=0'],
    ['kut-apic-disabled-to-x2apic.litmus', 'P0:r0=0xfee00100; P0.faults=0'],
    ['kut-apic-base-relocate.litmus', 'P0:r0=0x50014; P0:r1=0xffffffff; P0:r2=0xffffffff; P0.faults=0'],
    ['kut-apic-id-x2apic.litmus', 'P1:r0=0x1000000; P1:r1=1; P1:r2=1; P1:r3=0xffffffff; P1.faults=1'],
    ['decision-d2-bsp-flag-write-ignored.litmus', 'P0:r1=0xfee00800; P0.faults=0'],
    ['x2apic-enable-from-xapic.litmus', 'P1.apic.mode=x2apic; P1.faults=0; P1:r1=1; P1:r2=0'],
    ['x2apic-gp-cases.litmus', 'P1.faults=5; P1.apic.TPR=0x20; P1.apic.mode=x2apic; P1.apic.ID=1'],
    ['kut-ioapic-arbitration.litmus', 'P0:r0=0; P0:r1=0'],
  ])('%s under bochs-2.7 gives exactly what Bochs gave (%s), and spec does not', (file, outcome) => {
    expectProfileGivesOnly(file, 'bochs-2.7', outcome);
  });

  it.each([
    // Every run on QEMU 7.2 and QEMU 10 (F14), on QEMU 7.2 (K3), on KVM here, 50 and 30 runs (F15, F14).
    ['decision-d3-global-disable-resets.litmus', 'qemu-tcg-7.2', 'P0:r1=0x40; P0:r2=0xff; P0.faults=0'],
    ['decision-d3-global-disable-resets.litmus', 'qemu10-tcg', 'P0:r1=0x40; P0:r2=0xff; P0.faults=0'],
    ['kut-apic-base-reserved.litmus', 'qemu-tcg-7.2', 'P0:r0=0xfee00900; P0:r1=0xfee00900; P0.faults=0'],
    ['decision-d2-bsp-flag-write-ignored.litmus', 'kvm-pvm-6.18', 'P0:r1=0xfee00800; P0.faults=0'],
    ['decision-d3-global-disable-resets.litmus', 'kvm-pvm-6.18', 'P0:r1=0x40; P0:r2=0x1ff; P0.faults=0'],
    // Every run on QEMU 10 (F56).
    ['x2apic-gp-cases.litmus', 'qemu10-tcg', 'P1.faults=2; P1.apic.TPR=0x20; P1.apic.mode=x2apic; P1.apic.ID=1'],
  ])('%s under %s gives exactly what the backend gave (%s), and spec does not', (file, profile, outcome) => {
    expectProfileGivesOnly(file, profile, outcome);
  });
});
