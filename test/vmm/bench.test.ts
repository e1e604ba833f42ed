// bench/vmm.ts's reading of its guest's lines and of lapis vmm's summary (the numbers themselves are measured by
// `npm run bench`, never asserted). The lines are the bench guest's output from a run under nested KVM.

import { describe, expect, it } from 'vitest';
import { parseBench, vmmBench, vmmTscKhz } from '../../bench/vmm.js';
import { kvmUsable } from '../../src/backends/backends.js';

const OUT = ['bench: tsc-per-ms=31273381', 'bench: mmio n=200 ticks=0x000000005480b068', 'bench: ipi n=200 ticks=0x00000005a159aa0c', 'bench: msr n=200 ticks=0x000000004c65701a', ''].join('\n');

describe('bench/vmm.ts', () => {
  it('reads the TSC ticks per access from the guest and the TSC rate from lapis vmm', () => {
    const b = parseBench(OUT);
    expect(b.tscPerMs).toBe(31273381);
    expect(b.perOp.get('mmio')).toBe(0x5480b068 / 200);
    expect(b.perOp.get('ipi')).toBe(0x5a159aa0c / 200);
    expect(b.perOp.get('msr')).toBe(0x4c65701a / 200);
    expect(vmmTscKhz('lapis vmm: the guest wrote to isa-debug-exit: status 1 after 31.12 s (exits: mmio 1408; guest TSC 2096026 kHz)')).toBe(2096026);
    expect(vmmTscKhz('lapis vmm: KVM is not usable: no /dev/kvm')).toBeNull();
  });

  it('without /dev/kvm every row says not measured and why, with no number', (ctx) => {
    const k = kvmUsable();
    if (k.ok) ctx.skip('KVM is here: npm run bench measures');
    const r = vmmBench(10);
    expect(r.rows).toHaveLength(4);
    for (const row of r.rows) for (const c of [row.lapis, row.qemuKvm]) expect(c).toBe(`not measured: ${k.ok ? '' : k.reason}`);
  });
});
