// lapis vmm on real KVM: kvm-unit-tests' apic, ioapic, smptest, eventinj and msr with lapis as the only interrupt
// controller, run exactly as issue 11 gives the command lines; Debian's kernel; the catalog on the lapis-vmm backend
// (issue 11 item 2). Where /dev/kvm is not usable every test here logs
// `SKIPPED (no /dev/kvm)` and is skipped at run time (counted by vitest, totalled in the afterAll line): none of
// them has run on the machine this was written on (docs/vmm.md "What was verified").

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackend, kvmUsable } from '../../src/backends/backends.js';
import { suiteReport } from '../../src/backends/cli.js';
import { conform, formatConform } from '../../src/backends/conform.js';
import { load } from '../backends/helpers.js';
import { parseKutOutput, summariesEqual, tableSummary } from '../../src/backends/kut.js';
import { lapisWith } from '../helpers/lapis.js';
import { bootInitramfs, parseInitReport } from './initramfs.js';

const KUT = join(process.env.LAPIS_KUT_DIR ?? '/opt/lapis/kvm-unit-tests', 'x86');
let dir: string;
let env: string;
let skips = 0;

function kvmSkipped(what: string, ctx: { skip: (note?: string) => void }): boolean {
  const k = kvmUsable();
  if (k.ok) return false;
  skips++;
  console.warn(`vmm kvm.test ${what}: SKIPPED (no /dev/kvm): ${k.reason}`);
  ctx.skip(`no /dev/kvm: ${k.reason}`);
  return true;
}

/** An ELF with no PT_INTERP: it runs in an initramfs with nothing else in it. */
function isStaticElf(b: Uint8Array): boolean {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 64 || v.getUint32(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const phoff = Number(v.getBigUint64(32, true)), n = v.getUint16(56, true), size = v.getUint16(54, true);
  for (let i = 0; i < n; i++) if (v.getUint32(phoff + i * size, true) === 3) return false;
  return true;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lapis-vmm-kvm-'));
  env = join(dir, 'env');
  writeFileSync(env, 'TEST_DEVICE=0\n');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  const k = kvmUsable();
  if (skips > 0) console.warn(`vmm kvm.test: ${skips} KVM test(s) SKIPPED (no /dev/kvm)${k.ok ? '' : `: ${k.reason}`}`);
});

/** unittests.cfg's x86 tests, as lapis vmm options (smp = --cpus; -cpu qemu64,+x2apic,+tsc-deadline = --cpu-features). */
const TESTS: { name: string; flat: string; args: string[] }[] = [
  { name: 'x2apic', flat: 'apic.flat', args: ['--cpus', '2', '--cpu-features', 'x2apic,tsc-deadline'] },
  { name: 'xapic', flat: 'apic.flat', args: ['--cpus', '2', '--cpu-features', 'tsc-deadline'] },
  { name: 'ioapic', flat: 'ioapic.flat', args: ['--cpus', '4', '--cpu-features', 'x2apic'] },
  { name: 'smptest', flat: 'smptest.flat', args: ['--cpus', '2'] },
  { name: 'smptest3', flat: 'smptest.flat', args: ['--cpus', '3'] },
  { name: 'eventinj', flat: 'eventinj.flat', args: [] },
  { name: 'msr', flat: 'msr.flat', args: ['--cpu-features', 'x2apic,tsc-deadline'] },
];

describe('kvm-unit-tests on lapis vmm (needs /dev/kvm)', () => {
  for (const t of TESTS) {
    it(`${t.name}: runs to its SUMMARY and exits through isa-debug-exit; the table agrees with the SUMMARY`, (ctx) => {
      if (kvmSkipped(t.name, ctx)) return;
      const flat = join(KUT, t.flat);
      expect(existsSync(flat), `${flat} (npm run setup builds it)`).toBe(true);
      const r = lapisWith({}, 'vmm', flat, ...t.args, '--initrd', env, '--timeout', '300');
      const out = parseKutOutput(r.out);
      console.log(`lapis vmm ${t.name}: status ${r.code}; ${r.err.trim().split('\n').at(-1)}`);
      expect(r.code % 2, `${r.err}\n${r.out.slice(-2000)}`).toBe(1); // (code << 1) | 1: the guest ended the run
      expect(out.abort).toBeNull();
      expect(out.summary).not.toBeNull();
      expect(summariesEqual(tableSummary(out.checks), out.summary!)).toBe(true);
      if (t.name.startsWith('smptest')) expect(r.code).toBe(1); // every CPU came up: nothing failed
    });
  }
});

describe('Linux on lapis vmm (needs /dev/kvm)', () => {
  it('4 CPUs boot to init: APs up through INIT-SIPI-SIPI, the local APIC timer ticking on each, COM1 through the I/O APIC', (ctx) => {
    if (kvmSkipped('linux', ctx)) return;
    // npm run setup unpacks both into LAPIS_LINUX_DIR; where KVM is usable, a missing one fails the test.
    const linux = process.env.LAPIS_LINUX_DIR ?? '/opt/lapis/linux';
    const kernel = process.env.LAPIS_BZIMAGE ?? join(linux, 'vmlinuz');
    const bb = process.env.LAPIS_BUSYBOX ?? join(linux, 'busybox');
    expect(existsSync(kernel), `no Linux bzImage at ${kernel}: npm run setup provides it`).toBe(true);
    expect(existsSync(bb), `no busybox at ${bb}: npm run setup provides it`).toBe(true);
    const busybox = new Uint8Array(readFileSync(bb));
    expect(isStaticElf(busybox), `${bb} is not a static x86-64 ELF (Debian: busybox-static)`).toBe(true);
    const initrd = join(dir, 'initramfs.cpio');
    writeFileSync(initrd, bootInitramfs(busybox));
    const r = lapisWith({}, 'vmm', kernel, '--cpus', '4', '--mem', '512', '--cpu-features', 'x2apic,tsc-deadline', '--initrd', initrd, '--append', 'console=ttyS0 quiet panic=-1', '--timeout', '600');
    console.log(`lapis vmm linux: status ${r.code}; ${r.err.trim().split('\n').at(-1)}`);
    expect(r.code, `${r.err}\n${r.out.slice(-3000)}`).toBe(1); // init wrote 0 to isa-debug-exit
    const rep = parseInitReport(r.out);
    expect(rep, r.out.slice(-3000)).not.toBeNull();
    console.log(`lapis vmm linux: ${r.out.match(/LAPIS-INIT .*/)?.[0]}`);
    expect(rep!.cpus).toBe(4);
    expect(rep!.rows.get('LOC')?.counts.slice(0, 4).every((n) => n > 0)).toBe(true);
    expect([...rep!.rows.values()].some((row) => /IO-APIC/.test(row.what) && /ttyS0/.test(row.what) && row.counts.some((n) => n > 0))).toBe(true);
  });
});

/** Issue 11 item 2 on a few catalog tests first (a 2-CPU INIT-SIPI bring-up, IPIs, NMIs, the I/O APIC, the APIC
 *  timer, TSC-deadline mode), then the whole catalog: judged by spec, where a FORBIDDEN outcome on lapis-vmm is a bug
 *  in the VMM or the guest runtime. */
const CATALOG_ON_VMM = ['init-sipi-sipi-bringup', 'dest-physical', 'nmi-others', 'ioapic-level-eoi-clears-remote-irr', 'kut-apic-timer-one-shot', 'timer-tsc-deadline-ignores-icr'];

describe('the catalog on lapis-vmm (needs /dev/kvm)', () => {
  for (const name of CATALOG_ON_VMM) {
    it(`${name}: every run completes or is accounted for, and spec forbids none of its outcomes`, async (ctx) => {
      if (kvmSkipped(`lapis-vmm ${name}`, ctx)) return;
      const r = await conform(load(`litmus/${name}.litmus`), { backend: getBackend('lapis-vmm')!, runs: 10 });
      const text = formatConform(r).join('\n');
      console.log(text);
      expect(r.status, text).toBe('ran');
      if (r.status !== 'ran') return;
      expect(r.forbidden, text).toBe(0);
      expect(r.hung + r.crashed, text).toBe(0);
      expect(r.completed, text).toBeGreaterThan(0);
    }, 900_000);
  }

  it('the whole catalog: every test lapis-vmm does not refuse runs, and spec forbids nothing', async (ctx) => {
    if (kvmSkipped('lapis-vmm catalog', ctx)) return;
    const lines: string[] = [];
    const r = await suiteReport('litmus', { on: 'lapis-vmm', runs: 5 }, (s) => lines.push(s), (s) => lines.push(s));
    console.log(lines.join('\n'));
    expect(r.report, lines.join('\n')).not.toBeNull();
    expect(r.code, lines.join('\n')).toBe(0);
  }, 4 * 3600_000);
});
