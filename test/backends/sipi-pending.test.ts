// The run stays open while a SIPI of the test is on its way to a CPU that waits for one (LIT_SIPI_PENDING, set by
// the sender in lit_sipi_sent, cleared by the target's SIPI entry). The target may reach its SIPI code, from an
// earlier SIPI, between the sender's look at the evidence and its store: the entry must write LIT_SIPI_SEQ before it
// clears the flag, and the sender read the evidence after its (locked) store of the flag, or the flag stays set for a CPU
// that will never enter again and the run reaches its limit. Before, 63 of 3,000 runs of seed-000-sipi-resend
// without its SMI timed out so on QEMU 10 ("P1 had not reached its SIPI code"); after, none (docs/conformance.md,
// "One run, and the next").
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileTest } from '../../src/backends/compile.js';
import { load } from './helpers.js';

function block(asm: string, label: string): string[] {
  const lines = asm.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${label}:`));
  expect(at, label).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > at && l.trim() === '');
  return lines.slice(at, end);
}

describe('a SIPI on its way', () => {
  it('the SIPI entry records that it ran before it says no SIPI is on its way', () => {
    const asm = compileTest(load('litmus/seed-000-sipi-resend.litmus')).asm;
    const entry = block(asm, 'P1_sipi_entry');
    const seq = entry.findIndex((l) => /mov \[LIT_SIPI_SEQ \+ 1 \* 4\], eax/.test(l));
    const clear = entry.findIndex((l) => /mov dword \[LIT_SIPI_PENDING \+ 1 \* 4\], 0/.test(l));
    expect(seq, entry.join('\n')).toBeGreaterThanOrEqual(0);
    expect(clear, entry.join('\n')).toBeGreaterThan(seq);
  });

  it('the senders store the flag, locked, before they read the evidence (lit_sipi_sent; lit_nested_sipi_sent for a CPU in VMX operation)', () => {
    for (const [file, label, evidence] of [
      ['guest/litmus-iteration.asm', 'lit_sipi_sent', /LIT_SIPI_SEQ/],
      ['guest/nested-end.asm', 'lit_nested_sipi_sent', /VS_MODE|LIT_VMXOFF_MARK/],
    ] as const) {
      const code = block(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'), label).filter((l) => !l.trimStart().startsWith(';'));
      const store = code.findIndex((l) => /xchg \[LIT_SIPI_PENDING \+ eax \* 4\]/.test(l));
      const read = code.findIndex((l) => evidence.test(l));
      expect(store, `${label}: the locked store`).toBeGreaterThanOrEqual(0);
      expect(read, `${label}: the evidence read`).toBeGreaterThan(store);
      // No plain store of 1: that would be the old unlocked set after the read.
      expect(code.filter((l) => /mov dword \[LIT_SIPI_PENDING \+ eax \* 4\], 1/.test(l)), label).toEqual([]);
    }
  });
});
