// An INIT that resets a CPU out of its SMM code (QEMU and Bochs do not hold INIT in SMM: F3) ends the run instead of
// keeping it open to the per-run limit: the coordinator sees that the CPU's await or SMM code stopped beating after
// the INIT (lit_await_gone, lit_smm_check) and counts it as waiting for a SIPI (docs/conformance.md, "One run, and
// the next"). Before, every run of these tests on these backends timed out and none was judged.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { conform } from '../../src/backends/conform.js';
import type { SuiteJson } from '../../src/backends/report.js';
import { backend, BOOT_TEST_MS, expectJudged, load, ran, text, useRunTempDir } from './helpers.js';

useRunTempDir('init-in-smm');

describe('an INIT that resets a CPU out of SMM', () => {
  it('bochs: every run ends and is judged; the outcome is the one bochs-2.7 gives (INIT not held in SMM)', async () => {
    for (const [file, part] of [['init-latched-in-smm', 'smmdone=0'], ['seed-000-ovmf-pen-init-in-smm', 'relocated=0'], ['init-ipi-in-smm-then-sipi', 'booted=0']]) {
      const r = ran(await conform(load(`litmus/${file}.litmus`), { backend: backend('bochs'), runs: 10 }));
      // Bochs's time is its instruction count: nothing of the host can time a run out.
      expect(r.completed, text(r)).toBe(10);
      expect(r.outcomes, text(r)).toHaveLength(1);
      expect(r.outcomes[0].key, text(r)).toContain(part);
      expect(r.outcomes[0].allowedBy, text(r)).toContain('bochs-2.7');
    }
  }, BOOT_TEST_MS);

  it('qemu-tcg: runs end and are judged, and what they give is what qemu-tcg-7.2 allows', async () => {
    const r = ran(await conform(load('litmus/init-latched-in-smm.litmus'), { backend: backend('qemu-tcg'), runs: 10 }));
    expectJudged(r, 10);
    for (const o of r.outcomes) expect(o.allowedBy, text(r)).toContain('qemu-tcg-7.2');
  }, BOOT_TEST_MS);

  it('a CPU the INIT does not take away is still waited for: INIT blocked in VMX root gives what it gave before', async () => {
    const saved = JSON.parse(readFileSync('conformance/results/bochs.json', 'utf8')) as SuiteJson;
    for (const file of ['nested-init-in-root-then-vmxoff', 'nested-init-blocked-in-guest-wfs']) {
      const before = saved.tests.find((t) => t.file === `${file}.litmus`)!;
      const r = ran(await conform(load(`litmus/${file}.litmus`), { backend: backend('bochs'), runs: 5 }));
      expect(r.completed, text(r)).toBe(5);
      expect(r.outcomes.map((o) => o.key), text(r)).toEqual(before.outcomes.map((o) => o.key));
    }
  }, BOOT_TEST_MS);
});
