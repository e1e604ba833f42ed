// SMBASE relocation and SMIs to several CPUs on real backends (docs/conformance.md, "SMM and SMBASE"): the SMM
// entry finds the save-state SMBASE field (AMD64 map at SMBASE + 0xFF00, Intel maps at SMBASE + 0xFEF8), `smbase =`
// writes it and RSM loads it; `Pn.smbase` is probed with an SMI after the ping; before every run the runtime's own
// SMI puts each CPU's SMBASE back where the run starts it (init gives SMI targets their own SMBASEs: decision D-26,
// CPUs with one SMBASE share one state-save map); `smram read/write` reach the map's fields.

import { describe, expect, it } from 'vitest';
import type { LitmusTest } from '../../src/litmus/ast.js';
import { compileTest } from '../../src/backends/compile.js';
import { conform } from '../../src/backends/conform.js';
import { backend, BOOT_TEST_MS, expectJudged, load, parse, ran, refusal, text, useRunTempDir } from './helpers.js';

useRunTempDir('smbase');

/** P0 relocates P1's SMBASE with one SMI, then sends another: it enters at the new SMBASE. */
const RELOCATE = `lapis relocate-then-smi
config {
  cpus = 2
}
P0 {
  send smi -> P1
  await moved == 1
  wait 10
  send smi -> P1
}
P1 {
  nop
}
P1 on smi {
  smbase = 0x50000
  store moved = 1
  rsm
}
forall (P1.smbase = 0x50000 /\\ P1.count(smi) = 2 /\\ P1.smm = 0)
`;

/** SMIs to two CPUs at once: each needs its own state-save area, which init gives it. */
const TWO = `lapis two-smis
config {
  cpus = 3
}
init {
  P1.smbase = 0x41000
  P2.smbase = 0x42000
}
P0 {
  send smi -> P1
  send smi -> P2
}
P1 {
  nop
}
P2 {
  nop
}
P1 on smi {
  rsm
}
P2 on smi {
  rsm
}
forall (P1.count(smi) = 1 /\\ P2.count(smi) = 1)
`;

/** The state-save map's fields as an SMI handler reads them. */
const FIELDS = `lapis smram-fields
config {
  cpus = 2
}
P0 {
  send smi -> P1
}
P1 {
  nop
}
P1 on smi {
  smram read r1 = SMBASE
  smram read r3 = IO_RESTART
  smram write IO_RESTART = 0
  rsm
}
forall (P1:r1 = 0x30000 /\\ P1:r3 = 0 /\\ P1.count(smi) = 1)
`;

describe('compiler', () => {
  it('installs the SMM entry at every SMBASE the test reaches and resets SMBASE before every run', () => {
    const c = compileTest(parse(RELOCATE));
    expect(c.asm).toMatch(/lit_smbases: dd 0x30000, 0x50000, 0/);
    expect(c.asm).toMatch(/lit_smbase_init: dd 1, 0x30000, 0xffffffff/);
    expect(c.asm).toMatch(/lit_smbase_probe: dd 1, 0xffffffff/);
    expect(c.asm).toMatch(/mov edi, \[LIT_SMBASE_FLD \+ 1 \* 4\]/);
    expect(c.asm).toMatch(/LIT_KV_SMBASE 'P1\.smbase', 1/);
  });

  it('gives each SMI target the SMBASE of its own init gives it, and refuses targets that share the default (D-26)', () => {
    const c = compileTest(parse(TWO));
    expect(c.asm).toMatch(/lit_smbase_init: dd 1, 0x41000, 2, 0x42000, 0xffffffff/);
    expect(compileTest(load('litmus/bringup-4.litmus')).asm).toMatch(/lit_smbase_init: dd 1, 0x41000, 2, 0x42000, 3, 0x43000, 4, 0x44000,/);
    expect(refusal(parse(TWO.replace(/init \{[^}]*\}\n/, ''))).reason).toMatch(/they all start with the default SMBASE 0x30000 .* sharing one state-save map \(decision D-26\)/);
  });

  it('reads and writes the state-save map fields of the AMD64 or the Intel map, whichever the entry found', () => {
    const c = compileTest(parse(FIELDS));
    expect(c.asm).toMatch(/sub ecx, \[LIT_SMBASE_NOW \+ 1 \* 4\]\n  cmp ecx, 0xFF00/);
    expect(c.asm).toMatch(/add edi, 8 +; Intel: SMBASE \+ 0xFF00/);
    expect(c.asm).toMatch(/sub edi, 0x38 +; AMD64: SMBASE \+ 0xFEC8/);
    expect(refusal(parse(FIELDS.replace('IO_RESTART = 0', 'IO_RESTART = 0xff'))).reason).toMatch(/I\/O instruction restart set after an SMI that trapped no I\/O instruction/);
  });

  it('refuses what it cannot relocate or read honestly', () => {
    expect(refusal(load('litmus/seed-003-apic-id-in-smm.litmus')).reason).toMatch(/computed SMBASE/);
    expect(refusal(load('litmus/init-keeps-smbase.litmus')).reason).toMatch(/wait-for-SIPI/);
    expect(refusal(load('litmus/smbase-relocate-one-at-a-time.litmus')).reason).toMatch(/sets SMBASE in an SMI handler .* resume at each other's code/);
    expect(refusal(load('litmus/seed-000-lost-smi.litmus')).reason).toMatch(/a late SMI arrives at whichever later step/);
    expect(refusal(parse(RELOCATE.replace('0x50000\n  store', '0x9a000\n  store'))).reason).toMatch(/free low memory/);
  });
});

describe.each(['qemu-tcg', 'bochs'])('%s', (name) => {
  const b = backend(name);
  const cases: [string, LitmusTest][] = [
    ['relocate, then an SMI at the new SMBASE', parse(RELOCATE)],
    ['SMIs to two CPUs, each with its own SMBASE', parse(TWO)],
    ['smbase-effective-at-rsm', load('litmus/smbase-effective-at-rsm.litmus')],
    ['the state-save map fields', parse(FIELDS)],
  ];
  it.each(cases)('%s: every outcome allowed by spec (Bochs); the outcome and SMBASEs the model allows (QEMU)', async (_label, t) => {
    const r = ran(await conform(t, { backend: b, runs: 20 }));
    expectJudged(r, 20);
    if (name === 'bochs') {
      // Bochs's guest time is its instruction count: nothing the host does reaches a run.
      expect(r.forbidden, text(r)).toBe(0);
      return;
    }
    // On QEMU the end of a run is the guest's settle time (LIT_SETTLE_US of TSC time): on a loaded host an SMI can
    // still be on its way when it runs out, and the run reads one SMI fewer. What does not turn on the host: QEMU
    // gives the model's outcome, and every SMBASE a run reports is one the model allows.
    expect(r.outcomes.some((o) => o.verdict === 'allowed'), text(r)).toBe(true);
    const smbases = (key: string): string => key.split('; ').filter((p) => /\.smbase=/.test(p)).join('; ');
    const allowed = new Set(r.model.allowed.map(smbases));
    for (const o of r.outcomes) expect(allowed.has(smbases(o.key)), text(r)).toBe(true);
  }, BOOT_TEST_MS);
});
