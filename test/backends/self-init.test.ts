// An AP that a test starts in wait-for-SIPI is put there by an INIT of its own (lit_ap_checkin), not the
// coordinator's: QEMU TCG takes an INIT on the target's vCPU thread at its next instruction boundary, and a thread
// the host had not run still had the coordinator's INIT pending when the test's first event came, which QEMU then
// dropped as it took the INIT (do_cpu_init keeps only a SIPI). QEMU's log (-d cpu_reset, -trace apic_mem_writel)
// showed it in every run of smi-in-wfs-held-until-sipi that counted no SMI (CONFORMANCE.md F21). The AP says it is
// about to INIT itself in the instruction just before the one that does, so nothing of the test can come between.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { conform } from '../../src/backends/conform.js';
import { BOOT_TEST_MS, backend, expectJudged, load, ran, text } from './helpers.js';

function code(file: string, label: string, end: RegExp): string[] {
  const lines = readFileSync(new URL(`../../guest/${file}`, import.meta.url), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith(label));
  expect(at, label).toBeGreaterThanOrEqual(0);
  const stop = lines.findIndex((l, i) => i > at && end.test(l));
  return lines.slice(at, stop).map((l) => l.replace(/;.*/, '').trim()).filter((l) => l !== '');
}

describe('an AP left in wait-for-SIPI for a run', () => {
  it('raises its own INIT in the instruction after it says so, through the door its APIC has (xAPIC MMIO, x2APIC WRMSR)', () => {
    const checkin = code('litmus-cpus.asm', 'lit_ap_checkin:', /^lit_ap_first:/);
    const says = checkin.flatMap((l, i) => (l === 'mov dword [LIT_SELF_INIT + ebx * 4], 2' ? [i] : []));
    expect(says.length, checkin.join('\n')).toBe(2);
    expect(says.map((i) => checkin[i + 1])).toEqual(['mov dword [APIC_BASE + APIC_ICR_LO], ICR_INIT | ICR_ASSERT', 'wrmsr']);
    // The x2APIC path's ICR: the INIT to itself (EDX: its ID), set up before it says so.
    const x2 = checkin.slice(checkin.indexOf('.x2:'), says[1]);
    expect(x2).toEqual(expect.arrayContaining(['mov ecx, X2APIC_MSR + (APIC_ICR_LO >> 4)', 'mov edx, ebx', 'mov eax, ICR_INIT | ICR_ASSERT']));
    // The door is read from IA32_APIC_BASE.EXTD, not from what the runtime last set (an INIT may have changed it).
    expect(checkin.slice(0, checkin.indexOf('.x2:'))).toEqual(expect.arrayContaining(['mov ecx, 0x1B', 'rdmsr', 'test eax, 0x400']));
  });

  it('the coordinator asks every such AP first, then waits for each; it sends none of them an INIT of its own', () => {
    const setup = code('litmus-iteration.asm', '.aps_up:', /^\.no_wfs:/);
    const ask = setup.indexOf('mov dword [LIT_SELF_INIT + ebx * 4], 1');
    const wait = setup.indexOf('call lapis_wait_eq_us');
    expect(ask, setup.join('\n')).toBeGreaterThanOrEqual(0);
    expect(setup.indexOf('.asked:')).toBeGreaterThan(ask);
    expect(wait).toBeGreaterThan(setup.indexOf('.asked:'));
    expect(setup.filter((l) => /ICR_INIT/.test(l))).toEqual([]);
  });

  it('bochs: init-sipi-sipi-bringup, whose P1 starts in wait-for-SIPI, gives its outcome in every run', async () => {
    const r = ran(await conform(load('litmus/init-sipi-sipi-bringup.litmus'), { backend: backend('bochs'), runs: 10 }));
    expectJudged(r, 10);
    expect(r.completed, text(r)).toBe(10);
    expect(r.outcomes.map((o) => [o.key, o.verdict]), text(r)).toEqual([['booted=1; P1.count(sipi)=1; P1:r0=0x9a; P1.activity=halted', 'allowed']]);
  }, BOOT_TEST_MS);

  // Fourteen APs (P2..P15) wait for a SIPI in x2APIC mode: each INITs itself by WRMSR, all asked at once (one at a
  // time, 18 spinning vCPUs on two host cores kept one from answering within 20 ms). Its one outcome is F19's.
  it('qemu10-tcg: dest-x2apic-cluster, fourteen APs in wait-for-SIPI in x2APIC mode: every run judged, its one outcome', async () => {
    const r = ran(await conform(load('litmus/dest-x2apic-cluster.litmus'), { backend: backend('qemu10-tcg'), runs: 10 }));
    expectJudged(r, 10);
    expect(r.outcomes.map((o) => o.key), text(r)).toEqual(['P16.count(0x54)=0; P0.count(0x54)=0; P1.count(0x54)=0; P0.count(0x55)=1; P1.count(0x55)=1; P16.count(0x55)=0']);
  }, BOOT_TEST_MS);
});
