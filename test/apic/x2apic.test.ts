// IA32_APIC_BASE and x2APIC mode through the Machine API: state transitions, reserved bits, base relocation,
// global disable, the x2APIC MSR interface and its #GP rules, the 64-bit ICR, SELF IPI and INIT.
// SDM Vol 3A 11.4.3, 11.4.4, 11.12 (docs/spec-map.md sections 2 and 5).

import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/arch/apic.js';
import { Machine } from '../../src/machine/machine.js';
import { machine } from './helpers.js';

const IA32_APIC_BASE = 0x1b;
const BASE = 0xfee00000n;
const BSP = 1n << 8n;
const EXTD = 1n << 10n;
const EN = 1n << 11n;
const GP = { ok: false, fault: 'GP' } as const;
const OK = { ok: true } as const;

const MSR = {
  ID: 0x802, VERSION: 0x803, TPR: 0x808, APR: 0x809, PPR: 0x80a, EOI: 0x80b, RRD: 0x80c, LDR: 0x80d, DFR: 0x80e,
  SVR: 0x80f, ISR0: 0x810, TMR0: 0x818, IRR0: 0x820, ESR: 0x828, LVT_CMCI: 0x82f, ICR: 0x830, ICR2: 0x831,
  LVT_TIMER: 0x832, LVT_THERMAL: 0x833, LVT_PMC: 0x834, LVT_LINT0: 0x835, LVT_LINT1: 0x836, LVT_ERROR: 0x837,
  TMICT: 0x838, TMCCT: 0x839, TDCR: 0x83e, SELF_IPI: 0x83f,
} as const;

type Mode = 'disabled' | 'xapic' | 'x2apic' | 'invalid';
const MODE_BITS: Record<Mode, bigint> = { disabled: 0n, xapic: EN, x2apic: EN | EXTD, invalid: EXTD };

function base(m: Machine, cpu: number): bigint {
  const r = m.rdmsr(cpu, IA32_APIC_BASE);
  if (!r.ok) throw new Error('IA32_APIC_BASE faulted');
  return r.value;
}
function msr(m: Machine, cpu: number, n: number): bigint {
  const r = m.rdmsr(cpu, n);
  if (!r.ok) throw new Error(`RDMSR 0x${n.toString(16)} faulted`);
  return r.value;
}
function setMode(m: Machine, cpu: number, mode: Mode): ReturnType<Machine['wrmsr']> {
  return m.wrmsr(cpu, IA32_APIC_BASE, BASE | MODE_BITS[mode]);
}
function modeOf(m: Machine, cpu: number): Mode {
  const v = base(m, cpu) & (EN | EXTD);
  return (Object.keys(MODE_BITS) as Mode[]).find((k) => MODE_BITS[k] === v) as Mode;
}
/** An x2APIC, software-enabled CPU. */
function x2(m: Machine, cpu: number): void {
  expect(setMode(m, cpu, 'x2apic')).toEqual(OK);
  expect(m.wrmsr(cpu, MSR.SVR, 0x1ffn)).toEqual(OK);
}
function irr(m: Machine, cpu: number, v: number): boolean {
  return ((msr(m, cpu, MSR.IRR0 + (v >>> 5)) >> BigInt(v & 31)) & 1n) === 1n;
}

describe('IA32_APIC_BASE state transitions', () => {
  const MODES: Mode[] = ['disabled', 'xapic', 'x2apic', 'invalid'];
  // SDM Vol 3A 11.12.5 Figure 11-29: legal transitions.
  const LEGAL: Record<Mode, Record<Mode, boolean>> = {
    disabled: { disabled: true, xapic: true, x2apic: false, invalid: false },
    xapic: { disabled: true, xapic: true, x2apic: true, invalid: false },
    x2apic: { disabled: true, xapic: false, x2apic: true, invalid: false },
    invalid: { disabled: false, xapic: false, x2apic: false, invalid: false },
  };
  const cells = MODES.flatMap((from) => MODES.map((to) => [from, to, LEGAL[from][to] ? 'succeeds' : '#GP'] as const));

  it.each(cells)('%s -> %s %s', (from, to, outcome) => {
    const m = machine();
    // Reach `from` the legal way (RESET gives xAPIC; x2APIC only from xAPIC).
    if (from === 'disabled') expect(setMode(m, 0, 'disabled')).toEqual(OK);
    if (from === 'x2apic') expect(setMode(m, 0, 'x2apic')).toEqual(OK);
    if (from === 'invalid') {
      // The invalid state (EN = 0, EXTD = 1) cannot be entered from any state, so no transition leaves it.
      for (const start of ['xapic', 'x2apic', 'disabled'] as const) {
        const n = machine();
        if (start === 'x2apic') setMode(n, 0, 'x2apic');
        if (start === 'disabled') setMode(n, 0, 'disabled');
        expect(setMode(n, 0, 'invalid')).toEqual(GP);
        expect(modeOf(n, 0)).toBe(start);
      }
      expect(outcome).toBe('#GP');
      return;
    }
    expect(modeOf(m, 0)).toBe(from);
    const before = base(m, 0);
    const result = setMode(m, 0, to);
    if (outcome === 'succeeds') {
      expect(result).toEqual(OK);
      expect(modeOf(m, 0)).toBe(to);
      expect(base(m, 0)).toBe(BASE | MODE_BITS[to] | BSP);
    } else {
      expect(result).toEqual(GP);
      expect(base(m, 0)).toBe(before);
    }
  });

  it('the only way from x2APIC back to xAPIC is through disabled', () => {
    const m = machine();
    setMode(m, 0, 'x2apic');
    expect(setMode(m, 0, 'xapic')).toEqual(GP);
    expect(setMode(m, 0, 'disabled')).toEqual(OK);
    expect(setMode(m, 0, 'xapic')).toEqual(OK);
    expect(m.apicRead(0, Reg.VERSION)).toBe(0x01060014);
  });

  it('a faulting WRMSR leaves the whole machine state unchanged', () => {
    const m = machine();
    x2(m, 0);
    const hash = m.hash();
    expect(setMode(m, 0, 'xapic')).toEqual(GP);
    expect(setMode(m, 0, 'invalid')).toEqual(GP);
    expect(m.wrmsr(0, IA32_APIC_BASE, BASE | EN | EXTD | 1n)).toEqual(GP);
    expect(m.hash()).toBe(hash);
  });
});

describe('IA32_APIC_BASE reserved bits', () => {
  it.each([0, 1, 2, 3, 4, 5, 6, 7, 9])('bit %i is reserved (#GP)', (b) => {
    const m = machine();
    expect(m.wrmsr(0, IA32_APIC_BASE, BASE | EN | (1n << BigInt(b)))).toEqual(GP);
    expect(base(m, 0)).toBe(BASE | EN | BSP);
  });

  it.each([
    [36, 35], [40, 39], [46, 45], [52, 51],
  ])('with MAXPHYADDR %i, base bit %i is legal and every bit from MAXPHYADDR to 63 is reserved', (maxPhysAddr, top) => {
    const m = machine({ maxPhysAddr });
    for (let b = maxPhysAddr; b < 64; b++) expect(m.wrmsr(0, IA32_APIC_BASE, BASE | EN | (1n << BigInt(b)))).toEqual(GP);
    expect(m.wrmsr(0, IA32_APIC_BASE, BASE | EN | (1n << BigInt(top)))).toEqual(OK);
    expect(base(m, 0)).toBe(BASE | EN | BSP | (1n << BigInt(top)));
  });

  it('with MAXPHYADDR below 32, base bits at and above it are reserved too', () => {
    const m = machine({ maxPhysAddr: 24 });
    expect(m.wrmsr(0, IA32_APIC_BASE, 0x01000000n | EN)).toEqual(GP);
    expect(m.wrmsr(0, IA32_APIC_BASE, 0x80000000n | EN)).toEqual(GP);
    expect(m.wrmsr(0, IA32_APIC_BASE, 0x00fff000n | EN)).toEqual(OK);
    expect(m.mmioRead(0, 0x00fff000 + Reg.VERSION)).toBe(0x01060014);
  });

  it('values outside 0..2^64-1 raise #GP', () => {
    const m = machine();
    expect(m.wrmsr(0, IA32_APIC_BASE, 1n << 64n)).toEqual(GP);
    expect(m.wrmsr(0, IA32_APIC_BASE, -1n)).toEqual(GP);
  });

  it('EXTD raises #GP when the processor does not support x2APIC', () => {
    const m = machine({ x2apic: false });
    expect(setMode(m, 0, 'x2apic')).toEqual(GP);
    expect(setMode(m, 0, 'invalid')).toEqual(GP);
    expect(modeOf(m, 0)).toBe('xapic');
    expect(setMode(m, 0, 'disabled')).toEqual(OK);
    expect(setMode(m, 0, 'xapic')).toEqual(OK);
  });

  it('quirk x2apicAbsentNoGp (QEMU 7.2 TCG; CONFORMANCE.md F12): EXTD is dropped and x2APIC MSRs read 0, without #GP', () => {
    const m = machine({ x2apic: false, quirks: { x2apicAbsentNoGp: true } });
    expect(setMode(m, 0, 'x2apic')).toEqual(OK);
    expect(modeOf(m, 0)).toBe('xapic');
    expect(base(m, 0) & EXTD).toBe(0n);
    expect(setMode(m, 0, 'invalid')).toEqual(OK);
    expect(modeOf(m, 0)).toBe('disabled');
    expect(m.rdmsr(1, 0x802)).toEqual({ ok: true, value: 0n });
    expect(m.wrmsr(1, 0x808, 0x20n)).toEqual(OK);
    expect(m.apics[1].tpr()).toBe(0);
    // With x2APIC in CPUID the quirk does not apply: xAPIC mode still faults on x2APIC MSRs.
    const x = machine({ quirks: { x2apicAbsentNoGp: true } });
    expect(x.rdmsr(1, 0x802)).toEqual(GP);
  });

  it('a write to the BSP flag is ignored (decision D-2)', () => {
    const m = machine();
    expect(m.wrmsr(1, IA32_APIC_BASE, BASE | EN | BSP)).toEqual(OK);
    expect(base(m, 1)).toBe(BASE | EN);
    expect(m.wrmsr(0, IA32_APIC_BASE, BASE | EN)).toEqual(OK);
    expect(base(m, 0)).toBe(BASE | EN | BSP);
  });

  it('the ignored BSP flag keeps deciding what INIT does: an AP still enters wait-for-SIPI', () => {
    const m = machine();
    m.cpu(1).receiveSipi(0x10);
    m.wrmsr(1, IA32_APIC_BASE, BASE | EN | BSP);
    m.init(1);
    m.takeEvent(1);
    expect(m.waitingForSipi(1)).toBe(true);
  });
});

describe('base relocation and global disable', () => {
  it('relocating the base keeps the mode and moves the MMIO page', () => {
    const m = machine();
    expect(m.wrmsr(0, IA32_APIC_BASE, 0xfec10000n | EN)).toEqual(OK);
    expect(base(m, 0)).toBe(0xfec10000n | EN | BSP);
    expect(m.mmioRead(0, 0xfec10000 + Reg.VERSION)).toBe(0x01060014);
    expect(m.mmioRead(0, 0xfee00000 + Reg.VERSION)).toBeUndefined();
  });

  it('relocation does not reset APIC registers', () => {
    const m = machine();
    m.apicWrite(0, Reg.TPR, 0x42);
    m.wrmsr(0, IA32_APIC_BASE, 0xfec10000n | EN);
    expect(m.apicRead(0, Reg.TPR)).toBe(0x42);
  });

  it('the base survives a trip through x2APIC mode', () => {
    const m = machine();
    m.wrmsr(0, IA32_APIC_BASE, 0xfec10000n | EN | EXTD);
    m.wrmsr(0, IA32_APIC_BASE, 0xfec10000n);
    m.wrmsr(0, IA32_APIC_BASE, 0xfec10000n | EN);
    expect(m.mmioRead(0, 0xfec10000 + Reg.SVR)).toBe(0xff);
  });

  it('global disable returns every APIC register to its power-up value (decision D-3)', () => {
    const m = machine();
    const fresh = machine();
    m.apicWrite(0, Reg.SVR, 0x1ff);
    m.apicWrite(0, Reg.ID, 0x0f000000);
    m.apicWrite(0, Reg.TPR, 0x42);
    m.apicWrite(0, Reg.LDR, 0x01000000);
    m.apicWrite(0, Reg.DFR, 0);
    m.apicWrite(0, Reg.LVT_TIMER, 0x20040);
    m.apicWrite(0, Reg.TIMER_DCR, 0xb);
    m.apicWrite(0, Reg.TIMER_ICR, 1000);
    m.apicWrite(0, Reg.ICR_HI, 0x01000000);
    m.apicWrite(0, Reg.ICR_LO, 0x40000 | 0x77);
    m.apicRead(0, 0x040);
    expect(setMode(m, 0, 'disabled')).toEqual(OK);
    expect(setMode(m, 0, 'xapic')).toEqual(OK);
    for (const off of [Reg.ID, Reg.TPR, Reg.LDR, Reg.DFR, Reg.SVR, Reg.LVT_TIMER, Reg.TIMER_DCR, Reg.TIMER_ICR,
      Reg.TIMER_CCR, Reg.ICR_LO, Reg.ICR_HI, Reg.ESR, Reg.IRR0 + 0x30, Reg.PPR]) {
      expect(m.apicRead(0, off)).toBe(fresh.apicRead(0, off));
    }
    m.wrmsr(0, IA32_APIC_BASE, BASE | EN);
    expect(m.apicRead(0, Reg.ESR)).toBe(0);
    m.apicWrite(0, Reg.ESR, 0);
    expect(m.apicRead(0, Reg.ESR)).toBe(0); // the latch was cleared too
    expect(m.hash()).toBe((() => { fresh.apicWrite(0, Reg.ESR, 0); return fresh.hash(); })());
  });

  it('a timer armed before a global disable never fires', () => {
    const fired: number[] = [];
    const m = new Machine({ cpus: 1, onTrace: (e) => { if (e.text === 'apic: timer fired') fired.push(e.time); } });
    m.apicWrite(0, Reg.TIMER_ICR, 10);
    setMode(m, 0, 'disabled');
    m.advanceTo(1000);
    expect(fired).toEqual([]);
  });

  it('a globally disabled APIC accepts no interrupt messages, not even NMI', () => {
    const m = machine();
    m.cpu(1).receiveSipi(0x10);
    setMode(m, 1, 'disabled');
    m.apicWrite(0, Reg.ICR_HI, 0x01000000);
    m.apicWrite(0, Reg.ICR_LO, 0x400);
    m.msi(0xfee01000, 0x40);
    expect(m.takeEvent(1).kind).toBe('none');
  });

  it('x2APIC -> disabled keeps the x2APIC ID for the next x2APIC entry', () => {
    const m = machine({ apicIds: [0x1234, 1] });
    setMode(m, 0, 'x2apic');
    setMode(m, 0, 'disabled');
    setMode(m, 0, 'xapic');
    setMode(m, 0, 'x2apic');
    expect(msr(m, 0, MSR.ID)).toBe(0x1234n);
  });
});

describe('x2APIC ID and logical ID', () => {
  it('the x2APIC ID is the full 32-bit initial APIC ID', () => {
    const m = machine({ apicIds: [0x1234, 0xfffffffe] });
    setMode(m, 0, 'x2apic');
    setMode(m, 1, 'x2apic');
    expect(msr(m, 0, MSR.ID)).toBe(0x1234n);
    expect(msr(m, 1, MSR.ID)).toBe(0xfffffffen);
  });

  it('the x2APIC ID is read-only: WRMSR raises #GP', () => {
    const m = machine({ apicIds: [0x1234, 1] });
    setMode(m, 0, 'x2apic');
    expect(m.wrmsr(0, MSR.ID, 0x55n)).toEqual(GP);
    expect(m.wrmsr(0, MSR.ID, 0x1234n)).toEqual(GP);
    expect(msr(m, 0, MSR.ID)).toBe(0x1234n);
  });

  it('entering x2APIC mode restores the initial ID even after software rewrote the xAPIC ID', () => {
    const m = machine({ apicIds: [0x1234, 1] });
    m.apicWrite(0, Reg.ID, 0x07000000);
    setMode(m, 0, 'x2apic');
    expect(msr(m, 0, MSR.ID)).toBe(0x1234n);
  });

  it.each([
    [0x0, 0x00000001], [0x1, 0x00000002], [0xf, 0x00008000], [0x10, 0x00010001], [0x1234, 0x01230010],
    [0xabcde, 0xabcd4000], [0xfffff, 0xffff8000], [0x12345678, 0x45670100],
  ].map(([id, ldr]) => [id.toString(16), ldr.toString(16), id, ldr] as const))(
    'x2APIC ID 0x%s has the derived LDR 0x%s (ID[19:4] << 16 | 1 << ID[3:0])', (_i, _l, id, ldr) => {
    const m = machine({ apicIds: [id, id === 0 ? 1 : 0] });
    m.apicWrite(0, Reg.LDR, 0xff000000); // an xAPIC LDR does not carry over
    setMode(m, 0, 'x2apic');
    expect(msr(m, 0, MSR.LDR)).toBe(BigInt(ldr));
  },
  );

  it('the logical x2APIC ID is read-only: WRMSR raises #GP', () => {
    const m = machine();
    setMode(m, 0, 'x2apic');
    expect(m.wrmsr(0, MSR.LDR, 0x10001n)).toEqual(GP);
    expect(msr(m, 0, MSR.LDR)).toBe(1n);
  });

  it('a logical x2APIC IPI reaches the CPU named by cluster and bit', () => {
    const m = machine({ apicIds: [0, 0x23] });
    x2(m, 0);
    x2(m, 1);
    // cluster 2, bit 3
    expect(m.wrmsr(0, MSR.ICR, (0x00020008n << 32n) | 0x800n | 0x51n)).toEqual(OK);
    expect(irr(m, 1, 0x51)).toBe(true);
    expect(m.wrmsr(0, MSR.ICR, (0x00030008n << 32n) | 0x800n | 0x52n)).toEqual(OK);
    expect(irr(m, 1, 0x52)).toBe(false);
  });
});

describe('x2APIC MSR access rules', () => {
  const READ_GP: [string, number][] = [
    ['0x800', 0x800], ['0x801', 0x801], ['0x804', 0x804], ['0x805', 0x805], ['0x806', 0x806], ['0x807', 0x807],
    ['APR 0x809', MSR.APR], ['EOI 0x80B', MSR.EOI], ['RRD 0x80C', MSR.RRD], ['DFR 0x80E', MSR.DFR],
    ['0x829', 0x829], ['0x82E', 0x82e], ['ICR2 0x831', MSR.ICR2], ['0x83A', 0x83a], ['0x83D', 0x83d],
    ['SELF_IPI 0x83F', MSR.SELF_IPI], ['0x840', 0x840], ['0x8FF', 0x8ff],
  ];
  it.each(READ_GP)('RDMSR %s raises #GP', (_name, n) => {
    const m = machine();
    setMode(m, 0, 'x2apic');
    expect(m.rdmsr(0, n)).toEqual(GP);
  });

  const READ_OK: [string, number][] = [
    ['ID', MSR.ID], ['VERSION', MSR.VERSION], ['TPR', MSR.TPR], ['PPR', MSR.PPR], ['LDR', MSR.LDR], ['SVR', MSR.SVR],
    ['ISR0', MSR.ISR0], ['ISR7', MSR.ISR0 + 7], ['TMR0', MSR.TMR0], ['IRR7', MSR.IRR0 + 7], ['ESR', MSR.ESR],
    ['LVT_CMCI', MSR.LVT_CMCI], ['ICR', MSR.ICR], ['LVT_TIMER', MSR.LVT_TIMER], ['LVT_ERROR', MSR.LVT_ERROR],
    ['TMICT', MSR.TMICT], ['TMCCT', MSR.TMCCT], ['TDCR', MSR.TDCR],
  ];
  it.each(READ_OK)('RDMSR %s succeeds', (_name, n) => {
    const m = machine();
    setMode(m, 0, 'x2apic');
    expect(m.rdmsr(0, n).ok).toBe(true);
  });

  it('x2APIC reads return the same register values as xAPIC MMIO', () => {
    const m = machine();
    m.apicWrite(0, Reg.SVR, 0x1ff);
    m.apicWrite(0, Reg.TPR, 0x31);
    m.apicWrite(0, Reg.LVT_LINT0, 0x8700);
    setMode(m, 0, 'x2apic');
    expect(msr(m, 0, MSR.VERSION)).toBe(0x01060014n);
    expect(msr(m, 0, MSR.TPR)).toBe(0x31n);
    expect(msr(m, 0, MSR.PPR)).toBe(0x31n);
    expect(msr(m, 0, MSR.SVR)).toBe(0x1ffn);
    expect(msr(m, 0, MSR.LVT_LINT0)).toBe(0x8700n);
  });

  it('AMD has no CMCI MSR (0x82F raises #GP)', () => {
    const m = machine({ vendor: 'amd' });
    setMode(m, 0, 'x2apic');
    expect(m.rdmsr(0, MSR.LVT_CMCI)).toEqual(GP);
    expect(m.wrmsr(0, MSR.LVT_CMCI, 0x10000n)).toEqual(GP);
  });

  const WRITE_GP: [string, number, bigint][] = [
    ['ID 0x802', MSR.ID, 0n], ['VERSION 0x803', MSR.VERSION, 0n], ['APR 0x809', MSR.APR, 0n],
    ['PPR 0x80A', MSR.PPR, 0n], ['RRD 0x80C', MSR.RRD, 0n], ['LDR 0x80D', MSR.LDR, 0n], ['DFR 0x80E', MSR.DFR, 0n],
    ['ISR0 0x810', MSR.ISR0, 0n], ['TMR0 0x818', MSR.TMR0, 0n], ['IRR0 0x820', MSR.IRR0, 0n],
    ['ICR2 0x831', MSR.ICR2, 0n], ['TMCCT 0x839', MSR.TMCCT, 0n], ['undefined 0x804', 0x804, 0n],
    ['undefined 0x800', 0x800, 0n], ['undefined 0x83A', 0x83a, 0n], ['undefined 0x840', 0x840, 0n],
  ];
  it.each(WRITE_GP)('WRMSR %s raises #GP', (_name, n, v) => {
    const m = machine();
    setMode(m, 0, 'x2apic');
    const hash = m.hash();
    expect(m.wrmsr(0, n, v)).toEqual(GP);
    expect(m.hash()).toBe(hash);
  });

  const RESERVED: [string, number, bigint][] = [
    ['TPR bit 8', MSR.TPR, 0x100n],
    ['TPR bit 31', MSR.TPR, 0x80000000n],
    ['SVR bit 10', MSR.SVR, 0x4ffn],
    ['SVR bit 11', MSR.SVR, 0x8ffn],
    ['SVR bit 13', MSR.SVR, 0x20ffn],
    ['LVT timer delivery mode bits', MSR.LVT_TIMER, 0x400n],
    ['LVT timer bit 19', MSR.LVT_TIMER, 0x80000n],
    ['LVT timer delivery status (bit 12)', MSR.LVT_TIMER, 0x1000n],
    ['LVT LINT0 bit 17', MSR.LVT_LINT0, 0x20000n],
    ['LVT LINT0 remote IRR (bit 14)', MSR.LVT_LINT0, 0x4000n],
    ['LVT error delivery mode bits', MSR.LVT_ERROR, 0x200n],
    ['LVT thermal trigger mode bit 15', MSR.LVT_THERMAL, 0x8000n],
    ['TDCR bit 2', MSR.TDCR, 0x4n],
    ['TDCR bit 4', MSR.TDCR, 0x10n],
    ['ICR bit 13', MSR.ICR, 0x2040n],
    ['ICR bit 16', MSR.ICR, 0x10040n],
    ['ICR bit 17', MSR.ICR, 0x20040n],
    ['ICR bit 20', MSR.ICR, 0x100040n],
    ['ICR bit 31', MSR.ICR, 0x80000040n],
    ['SELF_IPI bit 8', MSR.SELF_IPI, 0x140n],
    ['EOI non-zero', MSR.EOI, 1n],
    ['ESR non-zero', MSR.ESR, 1n],
  ];
  it.each(RESERVED)('WRMSR with %s set raises #GP and changes nothing', (_name, n, v) => {
    const m = machine();
    x2(m, 0);
    const hash = m.hash();
    expect(m.wrmsr(0, n, v)).toEqual(GP);
    expect(m.hash()).toBe(hash);
  });

  const HIGH: [string, number][] = [
    ['TPR', MSR.TPR], ['EOI', MSR.EOI], ['SVR', MSR.SVR], ['ESR', MSR.ESR], ['LVT_TIMER', MSR.LVT_TIMER],
    ['LVT_LINT0', MSR.LVT_LINT0], ['TMICT', MSR.TMICT], ['TDCR', MSR.TDCR], ['SELF_IPI', MSR.SELF_IPI],
  ];
  it.each(HIGH)('WRMSR %s with any of bits 63:32 set raises #GP', (_name, n) => {
    const m = machine();
    x2(m, 0);
    expect(m.wrmsr(0, n, 1n << 32n)).toEqual(GP);
    expect(m.wrmsr(0, n, 1n << 63n)).toEqual(GP);
  });

  it('the legal writes succeed: TPR, SVR, LVTs, TMICT, TDCR, EOI 0, ESR 0', () => {
    const m = machine();
    x2(m, 0);
    expect(m.wrmsr(0, MSR.TPR, 0xffn)).toEqual(OK);
    expect(m.wrmsr(0, MSR.SVR, 0x13ffn)).toEqual(OK);
    expect(m.wrmsr(0, MSR.LVT_TIMER, 0x700ffn)).toEqual(OK);
    expect(m.wrmsr(0, MSR.LVT_LINT0, 0x1a7ffn)).toEqual(OK);
    expect(m.wrmsr(0, MSR.TMICT, 0xffffffffn)).toEqual(OK);
    expect(m.wrmsr(0, MSR.TDCR, 0xbn)).toEqual(OK);
    expect(m.wrmsr(0, MSR.EOI, 0n)).toEqual(OK);
    expect(m.wrmsr(0, MSR.ESR, 0n)).toEqual(OK);
    expect(msr(m, 0, MSR.TPR)).toBe(0xffn);
    expect(msr(m, 0, MSR.SVR)).toBe(0x13ffn);
    expect(msr(m, 0, MSR.TMICT)).toBe(0xffffffffn);
  });

  it('SVR bit 12 is reserved on AMD in x2APIC mode (#GP)', () => {
    const m = machine({ vendor: 'amd' });
    setMode(m, 0, 'x2apic');
    expect(m.wrmsr(0, MSR.SVR, 0x11ffn)).toEqual(GP);
    expect(m.wrmsr(0, MSR.SVR, 0x3ffn)).toEqual(OK);
  });

  it('without TSC-deadline support, LVT timer bit 18 is reserved in x2APIC mode (#GP)', () => {
    const m = machine({ tscDeadline: false });
    x2(m, 0);
    expect(m.wrmsr(0, MSR.LVT_TIMER, 0x40040n)).toEqual(GP);
    expect(m.wrmsr(0, MSR.LVT_TIMER, 0x20040n)).toEqual(OK);
    expect(msr(m, 0, MSR.LVT_TIMER)).toBe(0x20040n);
  });

  it('with TSC-deadline support, LVT timer bit 18 is writable in x2APIC mode', () => {
    const m = machine();
    x2(m, 0);
    expect(m.wrmsr(0, MSR.LVT_TIMER, 0x40040n)).toEqual(OK);
    expect(msr(m, 0, MSR.LVT_TIMER)).toBe(0x40040n);
  });

  it('ICR bit 12 (the old delivery status) is ignored on Intel: the IPI is sent', () => {
    const m = machine();
    x2(m, 0);
    expect(m.wrmsr(0, MSR.ICR, 0x1000n | 0x40000n | 0x61n)).toEqual(OK);
    expect(irr(m, 0, 0x61)).toBe(true);
    expect(msr(m, 0, MSR.ICR) & 0x1000n).toBe(0n);
  });

  it('ICR bit 12 must be 0 on AMD (#GP)', () => {
    const m = machine({ vendor: 'amd' });
    x2(m, 0);
    expect(m.wrmsr(0, MSR.ICR, 0x1000n | 0x40000n | 0x61n)).toEqual(GP);
    expect(irr(m, 0, 0x61)).toBe(false);
  });

  it.each([
    ['ID', MSR.ID], ['TPR', MSR.TPR], ['SVR', MSR.SVR], ['ICR', MSR.ICR], ['ESR', MSR.ESR], ['LDR', MSR.LDR],
  ])('x2APIC MSR %s raises #GP in xAPIC mode', (_name, n) => {
    const m = machine();
    expect(m.rdmsr(0, n)).toEqual(GP);
    expect(m.wrmsr(0, n, 0n)).toEqual(GP);
  });

  it('x2APIC MSRs raise #GP while the APIC is globally disabled', () => {
    const m = machine();
    setMode(m, 0, 'x2apic');
    setMode(m, 0, 'disabled');
    expect(m.rdmsr(0, MSR.VERSION)).toEqual(GP);
    expect(m.wrmsr(0, MSR.TPR, 0n)).toEqual(GP);
  });

  it('a non-zero EOI write raises #GP and does not retire the in-service vector', () => {
    const m = machine();
    x2(m, 0);
    m.cpu(0).setIf(true);
    m.wrmsr(0, MSR.SELF_IPI, 0x45n);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x45 });
    expect(m.wrmsr(0, MSR.EOI, 0x45n)).toEqual(GP);
    expect(msr(m, 0, MSR.ISR0 + 2)).toBe(1n << 5n);
    expect(m.wrmsr(0, MSR.EOI, 0n)).toEqual(OK);
    expect(msr(m, 0, MSR.ISR0 + 2)).toBe(0n);
  });
});

describe('x2APIC IPIs', () => {
  it('the 64-bit ICR delivers to a 32-bit x2APIC ID', () => {
    const m = machine({ apicIds: [0, 0x12345] });
    x2(m, 0);
    x2(m, 1);
    expect(m.wrmsr(0, MSR.ICR, (0x12345n << 32n) | 0x40n)).toEqual(OK);
    expect(irr(m, 1, 0x40)).toBe(true);
    expect(irr(m, 0, 0x40)).toBe(false);
  });

  it('only the full 32-bit ID matches: the low 8 bits alone do not', () => {
    const m = machine({ apicIds: [0, 0x12345] });
    x2(m, 0);
    x2(m, 1);
    m.wrmsr(0, MSR.ICR, (0x45n << 32n) | 0x40n);
    m.wrmsr(0, MSR.ICR, (0x1_0000_0045n & 0xffffffffn) << 32n | 0x41n);
    expect(irr(m, 1, 0x40)).toBe(false);
    expect(irr(m, 1, 0x41)).toBe(false);
  });

  it('the ICR reads back all 64 bits', () => {
    const m = machine({ apicIds: [0, 0x12345] });
    x2(m, 0);
    m.wrmsr(0, MSR.ICR, (0x12345n << 32n) | 0xc4040n);
    expect(msr(m, 0, MSR.ICR)).toBe((0x12345n << 32n) | 0xc4040n);
  });

  it('destination 0xFFFFFFFF broadcasts to every x2APIC', () => {
    const m = machine({ apicIds: [0, 0x12345] });
    x2(m, 0);
    x2(m, 1);
    m.wrmsr(0, MSR.ICR, (0xffffffffn << 32n) | 0x40n);
    expect(irr(m, 0, 0x40)).toBe(true);
    expect(irr(m, 1, 0x40)).toBe(true);
  });

  it('SELF IPI delivers a fixed, edge-triggered interrupt to the writer', () => {
    const m = machine();
    x2(m, 0);
    x2(m, 1);
    expect(m.wrmsr(0, MSR.SELF_IPI, 0x99n)).toEqual(OK);
    expect(irr(m, 0, 0x99)).toBe(true);
    expect(irr(m, 1, 0x99)).toBe(false);
    expect(msr(m, 0, MSR.TMR0 + 4)).toBe(0n);
    m.cpu(0).setIf(true);
    expect(m.takeEvent(0)).toEqual({ kind: 'intr', vector: 0x99 });
  });

  it('SELF IPI does not touch the ICR', () => {
    const m = machine();
    x2(m, 0);
    m.wrmsr(0, MSR.ICR, 0x40000n | 0x30n);
    m.wrmsr(0, MSR.SELF_IPI, 0x99n);
    expect(msr(m, 0, MSR.ICR)).toBe(0x40000n | 0x30n);
  });
});

describe('INIT in x2APIC mode', () => {
  it('INIT keeps x2APIC mode and the 32-bit x2APIC ID and resets the other registers', () => {
    const m = machine({ apicIds: [0x12345, 1] });
    x2(m, 0);
    m.wrmsr(0, MSR.TPR, 0x40n);
    m.wrmsr(0, MSR.LVT_LINT0, 0x700n);
    m.wrmsr(0, MSR.TMICT, 100n);
    m.init(0);
    expect(m.takeEvent(0).kind).toBe('init');
    expect(base(m, 0)).toBe(BASE | EN | EXTD | BSP);
    expect(msr(m, 0, MSR.ID)).toBe(0x12345n);
    expect(msr(m, 0, MSR.LDR)).toBe((0x1234n << 16n) | (1n << 5n));
    expect(msr(m, 0, MSR.SVR)).toBe(0xffn);
    expect(msr(m, 0, MSR.TPR)).toBe(0n);
    expect(msr(m, 0, MSR.LVT_LINT0)).toBe(0x10000n);
    expect(msr(m, 0, MSR.TMICT)).toBe(0n);
    expect(m.apicRead(0, Reg.VERSION)).toBeUndefined();
  });

  it('INIT of an AP in x2APIC mode keeps the mode and enters wait-for-SIPI', () => {
    const m = machine({ apicIds: [0, 0x300] });
    m.cpu(1).receiveSipi(0x10);
    x2(m, 1);
    m.init(1);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(m.waitingForSipi(1)).toBe(true);
    expect(base(m, 1)).toBe(BASE | EN | EXTD);
    expect(msr(m, 1, MSR.ID)).toBe(0x300n);
  });

  it('INIT keeps xAPIC mode and a software-written xAPIC ID', () => {
    const m = machine();
    m.apicWrite(0, Reg.ID, 0x09000000);
    m.init(0);
    m.takeEvent(0);
    expect(base(m, 0)).toBe(BASE | EN | BSP);
    expect(m.apicRead(0, Reg.ID)).toBe(0x09000000);
  });

  it('INIT keeps a globally disabled APIC disabled', () => {
    const m = machine();
    setMode(m, 0, 'disabled');
    m.init(0);
    m.takeEvent(0);
    expect(modeOf(m, 0)).toBe('disabled');
  });

  it('an x2APIC INIT IPI from another CPU also keeps the target in x2APIC mode', () => {
    const m = machine({ apicIds: [0, 0x300] });
    m.cpu(1).receiveSipi(0x10);
    x2(m, 0);
    x2(m, 1);
    expect(m.wrmsr(0, MSR.ICR, (0x300n << 32n) | 0x4500n)).toEqual(OK);
    expect(m.takeEvent(1).kind).toBe('init');
    expect(modeOf(m, 1)).toBe('x2apic');
    expect(msr(m, 1, MSR.ID)).toBe(0x300n);
  });
});
