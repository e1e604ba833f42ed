// kvm-unit-tests on the QEMU backends (src/backends/kut.ts, docs/kvm-unit-tests.md): the suite's own apic.flat and
// smptest.flat (built by `npm run setup` into LAPIS_KUT_DIR) booted for real on qemu-tcg and qemu10-tcg, every check
// parsed into a table and the table's counts compared with the guest's own SUMMARY line. KVM runs where /dev/kvm is
// usable; elsewhere it is a loud, counted skip.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kvmUsable } from '../../src/backends/backends.js';
import {
  formatKut, kutDir, kutEnv, loadKutConfig, parseKutOutput, parseUnittestsCfg, runKut, summariesEqual, tableSummary, type KutResult,
} from '../../src/backends/kut.js';
import { useRunTempDir } from './helpers.js';

useRunTempDir('kut');
let kvmSkips = 0;
afterAll(() => {
  if (kvmSkips > 0) console.warn(`kut.test: ${kvmSkips} KVM test(s) SKIPPED (no /dev/kvm)`);
});

/** Issue 11's environment: TEST_DEVICE=0 tells the guest it has no KVM test device, so apic.flat skips its KVM
 *  hypercall (test_pv_ipi: VMCALL, #UD under TCG) and runs to its SUMMARY. */
const NO_TEST_DEVICE = { TEST_DEVICE: '0' };
/** unittests.cfg's timeouts are for an idle host (x2apic: 30 s; apic.flat takes 4-16 s on QEMU 10 here, most of it
 *  30000 NMIs of test_sti_nmi): these tests check what the guest reports, not how fast the host is, so the limit is
 *  generous. The hang test below sets its own. */
const LIMIT = { timeoutS: 600 };
/** Longer than a run's start-up limit and LIMIT together: vitest never abandons a QEMU in progress. */
const TEST_MS = 900_000;
const text = (r: KutResult): string => formatKut(r).join('\n');

/** The guest's SUMMARY line equals the table's counts, and every check line of the raw output is in the table. */
function expectHonestTable(r: KutResult): void {
  expect(r.summary, text(r)).not.toBeNull();
  if (!r.summary) return;
  expect(r.consistent, text(r)).toBe(true);
  expect(summariesEqual(r.summary, tableSummary(r.checks))).toBe(true);
  const raw = r.output.split('\n').filter((l) => /^(PASS|FAIL|XPASS|XFAIL|KFAIL|SKIP): /.test(l));
  expect(r.checks.length).toBe(raw.length);
  expect(r.summary.tests).toBe(raw.length);
}

describe('unittests.cfg and the output parser', () => {
  it('reads the built suite\'s unittests.cfg: smp, qemu_params, timeouts as x86/run uses them', () => {
    const c = loadKutConfig();
    expect(c.ok, c.ok ? '' : c.reason).toBe(true);
    if (!c.ok) return;
    const x2 = c.tests.get('x2apic');
    expect(x2).toMatchObject({ file: 'apic.flat', smp: 2, qemuParams: ['-cpu', 'qemu64,+x2apic,+tsc-deadline'], timeoutS: 30 });
    expect(c.tests.get('xapic')).toMatchObject({ file: 'apic.flat', smp: 2, qemuParams: ['-cpu', 'qemu64,-x2apic,+tsc-deadline'], timeoutS: 60 });
    expect(c.tests.get('ioapic')).toMatchObject({ file: 'ioapic.flat', smp: 4, timeoutS: 90 });
    expect(c.tests.get('smptest3')).toMatchObject({ file: 'smptest.flat', smp: 3, qemuParams: [] });
    expect(c.tests.get('msr')).toMatchObject({ file: 'msr.flat', smp: 1, qemuParams: ['-cpu', 'max,vendor=GenuineIntel'] });
    // the text itself, to be sure the parser is not reading something else
    expect(readFileSync(join(kutDir(), 'x86', 'unittests.cfg'), 'utf8')).toMatch(/\[x2apic\]\nfile = apic\.flat\nsmp = 2\n/);
  });

  it('parses sections, comments, quoted test_args and timeouts with units', () => {
    const m = parseUnittestsCfg("# c\n[a]\nfile = a.flat # trailing\nsmp = 3\nextra_params = -cpu max -append 'x y'\ntimeout = 2m\n[no-file]\nsmp = 2\n[b]\nfile = b.flat\ntest_args = 'one two'\n");
    expect([...m.keys()]).toEqual(['a', 'b']);
    expect(m.get('a')).toMatchObject({ file: 'a.flat', smp: 3, qemuParams: ['-cpu', 'max', '-append', 'x y'], timeoutS: 120 });
    expect(m.get('b')).toMatchObject({ smp: 1, testArgs: 'one two', timeoutS: 90 });
  });

  it('parses every result kind, the SUMMARY line, an abort; a line cut short is not a check', () => {
    const out = [
      'enabling apic', 'PASS: a: one', 'FAIL: two', 'XPASS: three', 'XFAIL: four', 'KFAIL: five', 'SKIP: six\r',
      'x86/apic.c:1: assert failed: z', 'SUMMARY: 6 tests, 2 unexpected failures, 1 known failures, 1 expected failures, 1 skipped', 'PASS: cut',
    ].join('\n');
    const p = parseKutOutput(out);
    expect(p.checks.map((c) => `${c.result} ${c.name}`)).toEqual(['PASS a: one', 'FAIL two', 'XPASS three', 'XFAIL four', 'KFAIL five', 'SKIP six']);
    expect(p.summary).toEqual({ tests: 6, failures: 2, known: 1, expected: 1, skipped: 1 });
    expect(summariesEqual(p.summary!, tableSummary(p.checks))).toBe(true); // XPASS counts as a failure (lib/report.c)
    expect(p.abort).toBe('x86/apic.c:1: assert failed: z');
    expect(summariesEqual({ ...p.summary!, tests: 7 }, tableSummary(p.checks))).toBe(false);
    // carriage returns and NULs around a line are not text
    expect(parseKutOutput('PASS: x\r\r\n\0SUMMARY: 1 tests\r\r\n').summary).toEqual({ tests: 1, failures: 0, known: 0, expected: 0, skipped: 0 });
  });

  it('writes x86/run\'s environment, the extra variables replacing its own', () => {
    const env = kutEnv('tcg', 'QEMU emulator version 10.0.2 (Debian)', { TEST_DEVICE: '0', TARGET: 'other' });
    expect(env).toMatch(/^TARGET=other\n/m);
    expect(env).toMatch(/^QEMU_ACCEL=tcg\nQEMU_VERSION_STRING=QEMU emulator version 10\.0\.2 \(Debian\)\nQEMU_MAJOR=10\nQEMU_MINOR=0\nQEMU_MICRO=2\n/m);
    expect(env).toMatch(/^ERRATA_FORCE=y\n/m);
    expect(env).toMatch(/^TEST_DEVICE=0\n$/m);
    expect(env.match(/^TARGET=/gm)).toHaveLength(1);
    expect(kutEnv('kvm', 'x')).not.toMatch(/ERRATA_FORCE/);
  });
});

describe.each(['qemu-tcg', 'qemu10-tcg'])('%s', (backend) => {
  it('smptest (2 CPUs): every CPU takes its IPI; the table equals the SUMMARY line', async () => {
    const r = await runKut('smptest', backend, LIMIT);
    expect(r.status, text(r)).toBe('passed');
    expect(r.command).toEqual(expect.arrayContaining(['-kernel', join(kutDir(), 'x86', 'smptest.flat'), '-smp', '2', '-initrd', 'ENV']));
    expect(r.checks).toEqual([{ result: 'PASS', name: 'IPI to each CPU' }]);
    expectHonestTable(r);
    expect(r.output).toMatch(/^ipi called, cpu 1\r?$/m);
    expect(r.guestCode).toBe(0);
  }, TEST_MS);

  it('smptest3 (3 CPUs)', async () => {
    const r = await runKut('smptest3', backend, LIMIT);
    expect(r.status, text(r)).toBe('passed');
    expectHonestTable(r);
    expect(r.output).toMatch(/^found 3 cpus\r?$/m);
  }, TEST_MS);

  it('x2apic (apic.flat, 2 CPUs): run as unittests.cfg says, every check in the table', async () => {
    const r = await runKut('x2apic', backend, { ...LIMIT, env: NO_TEST_DEVICE });
    expect(r.command).toEqual(expect.arrayContaining(['-smp', '2', '-cpu', 'qemu64,+x2apic,+tsc-deadline']));
    if (backend === 'qemu-tcg') {
      // QEMU 7.2 cannot set IA32_APIC_BASE.EN again once it was cleared (hw/intc/apic.c apic_set_base: "if disabled,
      // cannot be enabled again"), and the suite's start-up code disables and re-enables it (reset_apic):
      // apic.flat's first assertion fails and it aborts before any check (docs/kvm-unit-tests.md).
      expect(r.status, text(r)).toBe('aborted');
      expect(r.reason).toMatch(/APIC should be fully enabled by startup code/);
      expect(r.checks).toEqual([]);
      expect(r.summary).toBeNull();
      return;
    }
    expect(r.status, text(r)).toBe('failed');
    expectHonestTable(r);
    const result = (name: string): string[] => r.checks.filter((c) => c.name === name).map((c) => c.result);
    // The deviations docs/kvm-unit-tests.md traces to QEMU's source (the qemu10-tcg profile's evidence), each
    // seen on every run here; the timer checks that depend on how long the vCPU thread is descheduled are not
    // asserted.
    expect(result('apic_disable: *0xfee00030: 50014')).toEqual(['FAIL', 'PASS', 'FAIL']);
    expect(result('apicbase: relocate apic')).toEqual(['FAIL']);
    expect(result('TMCCT should stay at zero')).toEqual(['FAIL']);
    expect(result('self_ipi_x2apic: self ipi')).toEqual(['PASS']);
    expect(result('tsc deadline timer not detected')).toEqual(['SKIP']);
  }, TEST_MS);
});

describe('host-side limits and failures', () => {
  it('a test that never ends is killed at its timeout: timed out, not a result; nothing is left behind', async () => {
    // ioapic on QEMU 7.2 TCG waits for ever in test_ioapic_logical_destination_mode (no x2APIC: LDR stays 0 and
    // no APIC accepts the logical message). The limit counts from the guest's first output, so a slow start-up
    // under load does not eat into it.
    const r = await runKut('ioapic', 'qemu-tcg', { timeoutS: 3 });
    expect(r.status, text(r)).toBe('timed-out');
    expect(r.reason).toMatch(/the test's timeout \(3 s\) from its first output/);
    expect(r.summary).toBeNull();
    expect(r.consistent).toBeNull();
    expect(r.signal).toBe('SIGKILL');
    expect(r.checks.every((c) => c.result === 'PASS')).toBe(true);
  }, TEST_MS);

  it('KVM: x2apic and smptest on qemu-kvm (skipped without /dev/kvm)', async (ctx) => {
    const k = kvmUsable();
    if (!k.ok) {
      kvmSkips++;
      console.warn(`SKIPPED (no /dev/kvm): kvm-unit-tests on qemu-kvm: ${k.reason}`);
      const r = await runKut('smptest', 'qemu-kvm');
      expect(r.status).toBe('unavailable');
      expect(r.reason).toBe(k.reason);
      ctx.skip();
      return;
    }
    for (const t of ['x2apic', 'smptest']) {
      const r = await runKut(t, 'qemu-kvm', { ...LIMIT, env: NO_TEST_DEVICE });
      expectHonestTable(r);
    }
  }, TEST_MS);

  it('a backend kvm-unit-tests cannot boot, an unknown test, a missing build: reasons, never a throw', async () => {
    expect((await runKut('smptest', 'bochs')).reason).toMatch(/runs on qemu-tcg, qemu10-tcg/);
    expect((await runKut('no-such-test', 'qemu-tcg')).status).toBe('error');
    const r = await runKut('smptest', 'qemu-tcg', { dir: '/nonexistent' });
    expect(r.status).toBe('unavailable');
    expect(r.reason).toMatch(/no kvm-unit-tests build in \/nonexistent/);
  });
});

describe('lapis kut', () => {
  // Only a guard against a CLI that never returns: runKut's own limits end any QEMU.
  const lapis = (...args: string[]) => spawnSync(process.execPath, ['dist/cli/main.js', 'kut', ...args], { encoding: 'utf8', timeout: TEST_MS });

  it('prints the table and exits 0 when the test passes; --markdown; 2 for a usage error', () => {
    const r = lapis('smptest', '--on', 'qemu10-tcg', '--timeout', '600');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^kvm-unit-tests smptest on qemu10-tcg: passed$/m);
    expect(r.stdout).toMatch(/^ {2}PASS {2}IPI to each CPU$/m);
    expect(r.stdout).toMatch(/^ {2}the table agrees with the summary$/m);
    const m = lapis('smptest3', '--on', 'qemu-tcg,qemu10-tcg', '--markdown', '--timeout', '600');
    expect(m.status, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/^\| 1 \| IPI to each CPU \| PASS \| PASS \|$/m);
    expect(m.stdout).toMatch(/^\| \| \*table = SUMMARY\* \| yes \| yes \|$/m);
    expect(lapis('smptest', '--on', 'bochs').status).toBe(2);
    expect(lapis('nope', '--on', 'qemu-tcg').status).toBe(2);
    expect(lapis('smptest', '--on', 'qemu-tcg', '--env', 'bad').status).toBe(2);
  }, TEST_MS);

  it('exits 1 when a check fails (x2apic on qemu10-tcg)', () => {
    const r = lapis('x2apic', '--on', 'qemu10-tcg', '--env', 'TEST_DEVICE=0', '--json', '--timeout', '600');
    expect(r.status, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout) as KutResult;
    // Once, under a loaded `npm test` (2026-12-07), this run came back 'crashed'; not seen again in seven runs beside
    // CPU-bound processes. The reason, QEMU's last lines and the guest's say which crash it was, should it recur.
    expect(j.status, `${j.reason}\n${j.diagnostics}\n${j.output.split('\n').slice(-10).join('\n')}`).toBe('failed');
    expect(j.consistent).toBe(true);
  }, TEST_MS);
});
