// The lapis-vmm backend (src/backends/backends.ts, src/backends/vmm-image.ts, docs/vmm.md) without KVM: the
// catalog's guests as lapis vmm boots them (stage 2 wrapped in a multiboot ELF, checked through the VMM's own
// loader), the descriptor's features and refusals, the launch line, and the command line where /dev/kvm is absent.
// Runs on KVM are in test/vmm/kvm.test.ts (counted skips where /dev/kvm is absent).

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendRefusal, compileTest, CompileRefusal, type CompiledTest } from '../../src/backends/compile.js';
import { buildGuest, GUEST_DIR, MAX_STAGE2_BYTES } from '../../src/backends/build.js';
import { GuestImageError, stage2Elf, STAGE2_BASE } from '../../src/backends/vmm-image.js';
import { elfSegments, findMultibootHeader, MB_BOOTLOADER_MAGIC, planBoot } from '../../src/vmm/boot.js';
import { lapisWith } from '../helpers/lapis.js';
import { backend, BOOT_TEST_MS, load, useRunTempDir } from './helpers.js';

const work = useRunTempDir('lapis-vmm');
const vmm = () => backend('lapis-vmm');
/** A device path that is never there: the no-KVM path on every machine. */
const NO_KVM = { LAPIS_KVM_DEVICE: '/nonexistent/kvm' };

/** guest/lapis.inc's `NAME equ VALUE` (or its default, `%define NAME VALUE`). */
function incValue(name: string): number {
  const m = readFileSync(join(GUEST_DIR, 'lapis.inc'), 'utf8').match(new RegExp(`^\\s*(?:%define\\s+)?${name}\\s+(?:equ\\s+)?(0x[0-9a-fA-F]+|\\d+)`, 'm'));
  if (!m) throw new Error(`${name} not in lapis.inc`);
  return Number(m[1]);
}

function compiled(file: string): CompiledTest | null {
  try {
    return compileTest(load(file));
  } catch (e) {
    if (e instanceof CompileRefusal) return null;
    throw e;
  }
}

describe('catalog guests as lapis vmm boots them', () => {
  it("stage2Elf's load address is guest/lapis.inc's STAGE2_BASE", () => {
    expect(STAGE2_BASE).toBe(incValue('STAGE2_BASE'));
  });

  it('the VMM loads every catalog guest lapis-vmm runs: stage 2 at STAGE2_BASE, entered at its first instruction, nothing of the VMM in what the runtime uses', () => {
    const dir = mkdtempSync(join(work(), 'img-'));
    // Guest memory the runtime writes without loading it (guest/lapis.inc): the soft-IRET trampoline and its
    // stacks in page 0, its own SIPI page, the per-CPU tables, stacks and everything above.
    const used: [number, number, string][] = [
      [incValue('RM_TRAMP_BASE'), 0x1000, 'the real-mode IRET trampoline'],
      [incValue('LAPIS_BRINGUP_VECTOR') << 12, (incValue('LAPIS_BRINGUP_VECTOR') + 1) << 12, 'the bring-up SIPI page'],
      [incValue('PERCPU_BASE'), 2 ** 32, 'the per-CPU tables, stacks and test data'],
    ];
    let loaded = 0;
    for (const f of readdirSync('litmus').filter((x) => x.endsWith('.litmus')).sort()) {
      const c = compiled(join('litmus', f));
      if (!c || backendRefusal(c, vmm())) continue;
      writeFileSync(join(dir, 't.asm'), c.asm);
      const disk = readFileSync(buildGuest({ source: join(dir, 't.asm'), out: join(dir, 't.img'), defines: [...vmm().asmDefines(), 'ITERATIONS=2'] }));
      const elf = stage2Elf(disk);
      const plan = planBoot(elf, { name: 'guest.elf', ramBytes: (c.machine.memMiB ?? 64) << 20, apicIds: Array.from({ length: c.machine.cpus }, (_, i) => i) });
      expect(plan.kind, f).toBe('multiboot');
      expect(plan.entry, f).toMatchObject({ mode: 'protected32', rip: STAGE2_BASE, rax: MB_BOOTLOADER_MAGIC });
      const seg = plan.chunks.find((k) => k.at === STAGE2_BASE);
      expect(seg?.size, f).toBe(MAX_STAGE2_BYTES);
      expect(Buffer.from(seg!.bytes).equals(disk.subarray(512, 512 + MAX_STAGE2_BYTES)), f).toBe(true);
      // stage2_entry's first instruction, where the boot sector jumps: lgdt [gdt_desc] (0F 01 /2, disp32).
      expect([...seg!.bytes.subarray(0, 3)], f).toEqual([0x0f, 0x01, 0x15]);
      for (const k of plan.chunks.filter((x) => x !== seg)) {
        for (const [lo, hi, what] of used) expect(k.at + k.size <= lo || k.at >= hi, `${f}: ${k.what} at 0x${k.at.toString(16)} overlaps ${what}`).toBe(true);
      }
      loaded++;
    }
    rmSync(dir, { recursive: true, force: true });
    expect(loaded).toBeGreaterThanOrEqual(100);
  }, BOOT_TEST_MS);

  it('the ELF: one PT_LOAD of stage 2 and a multiboot header without the a.out kludge; a disk that is not a guest is refused', () => {
    const disk = new Uint8Array(512 + MAX_STAGE2_BYTES);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    disk.set([0xf4, 0xeb, 0xfd], 512);
    const elf = stage2Elf(disk);
    const hdr = findMultibootHeader(elf);
    expect(hdr).toBeGreaterThan(0);
    expect(new DataView(elf.buffer).getUint32(hdr + 4, true) & (1 << 16)).toBe(0);
    const { entry, chunks } = elfSegments(elf);
    expect(entry).toBe(STAGE2_BASE);
    expect(chunks.map((k) => [k.at, k.size, k.bytes[0]])).toEqual([[STAGE2_BASE, MAX_STAGE2_BYTES, 0xf4]]);
    expect(() => stage2Elf(disk.subarray(0, 4096))).toThrow(GuestImageError);
    expect(() => stage2Elf(new Uint8Array(disk.length))).toThrow(/no boot signature/);
  });
});

describe('the lapis-vmm descriptor', () => {
  it('offers x2APIC (and hides it), TSC-deadline, pc-testdev and edu; no SMM, nested virtualization or guest clock', () => {
    const f = vmm().features();
    for (const k of ['x2apic', 'x2apicHidden', 'tscDeadline', 'iret', 'irqLines', 'msi'] as const) expect(f[k], k).toEqual({ ok: true });
    for (const k of ['smm', 'smiToBsp', 'vmx', 'svm', 'tprShadow', 'vid', 'guestClock'] as const) expect(f[k].ok, k).toBe(false);
    expect(f.ioapicVersion).toBe(0x20);
    expect(vmm().maxCpus).toBeNull();
  });

  it('refusals name the missing feature', () => {
    const cases: [string, string, RegExp][] = [
      ['litmus/smi-latched-only-one.litmus', 'SMI', /no SMM.*no SMRAM/],
      ['litmus/nested-init-exit-then-resume.litmus', 'VMX', /no nested virtualization/],
      ['litmus/timer-one-shot.litmus', 'the APIC timer', /follows the guest's TSC/],
    ];
    for (const [file, construct, reason] of cases) {
      const c = compiled(file);
      expect(c, file).not.toBeNull();
      const r = backendRefusal(c!, vmm());
      expect(r?.construct, file).toBe(construct);
      expect(r?.reason, file).toMatch(reason);
      expect(r?.backend, file).toBe('lapis-vmm');
    }
    // Tests other KVM backends refuse for their fixed CPUID or I/O APIC version run here.
    for (const file of ['litmus/x2apic-not-supported-gp.litmus', 'litmus/kut-ioapic-version-ro.litmus']) {
      expect(backendRefusal(compiled(file)!, vmm()), file).toBeNull();
      expect(backendRefusal(compiled(file)!, backend('qemu-kvm')), file).not.toBeNull();
    }
  });

  it('every catalog test qemu-kvm runs, lapis-vmm runs (issue 11 item 2)', () => {
    const missing: string[] = [];
    for (const f of readdirSync('litmus').filter((x) => x.endsWith('.litmus')).sort()) {
      const c = compiled(join('litmus', f));
      if (!c || backendRefusal(c, backend('qemu-kvm'))) continue;
      const r = backendRefusal(c, vmm());
      if (r) missing.push(`${f}: ${r.construct}`);
    }
    expect(missing).toEqual([]);
  });

  it('boots `lapis vmm` on the ELF with the CPUs, RAM and CPUID features the test asks for', () => {
    const dir = mkdtempSync(join(work(), 'launch-'));
    const disk = new Uint8Array(512 + MAX_STAGE2_BYTES);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    writeFileSync(join(dir, 'disk.img'), disk);
    const l = vmm().launch(join(dir, 'disk.img'), dir, { cpus: 3, memMiB: 32 });
    expect(l.file).toBe(process.execPath);
    expect(l.args.slice(1)).toEqual(['vmm', join(dir, 'guest.elf'), '--cpus', '3', '--mem', '32', '--cpu-features', 'x2apic,tsc-deadline']);
    expect(l.args[0]).toMatch(/cli\/main\.js$/);
    expect(Buffer.from(l.files['guest.elf'] as Uint8Array).equals(stage2Elf(disk))).toBe(true);
    expect(vmm().launch(join(dir, 'disk.img'), dir, { cpus: 1, x2apic: false }).args).toContain('tsc-deadline');
    expect(vmm().launch(join(dir, 'disk.img'), dir, { cpus: 1, x2apic: false }).args.join(' ')).not.toMatch(/x2apic/);
    // A test whose agents send MSIs gets QEMU's edu device, as QEMU gets -device edu.
    expect(vmm().launch(join(dir, 'disk.img'), dir, { cpus: 2, msi: true }).args.slice(-2)).toEqual(['--device', 'edu']);
    expect(l.args).not.toContain('--device');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('the command line where KVM is absent (dist/)', () => {
  it('`lapis vmm` accepts a catalog guest as lapis-vmm launches it, then says KVM is not usable (status 4)', () => {
    const dir = mkdtempSync(join(work(), 'cli-'));
    const c = compiled('litmus/init-sipi-sipi-bringup.litmus')!;
    writeFileSync(join(dir, 't.asm'), c.asm);
    const img = buildGuest({ source: join(dir, 't.asm'), out: join(dir, 'disk.img'), defines: ['ITERATIONS=1'] });
    const l = vmm().launch(img, dir, c.machine);
    writeFileSync(join(dir, 'guest.elf'), l.files['guest.elf']);
    const r = lapisWith({ env: NO_KVM }, ...l.args.slice(1));
    expect(r.err).toMatch(/KVM is not usable: .*\/nonexistent\/kvm/);
    expect(r.code).toBe(4);
    // The disk image itself is no multiboot image: lapis vmm refuses it as usage (2), before KVM; so is a device
    // it does not have.
    expect(lapisWith({ env: NO_KVM }, 'vmm', img).code).toBe(2);
    const dev = lapisWith({ env: NO_KVM }, 'vmm', join(dir, 'guest.elf'), '--device', 'nic');
    expect(dev.code).toBe(2);
    expect(dev.err).toMatch(/unknown device 'nic' \(known: edu\)/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('`lapis backends` lists lapis-vmm as unavailable with the reason; run and suite --on lapis-vmm fail with it (status 2)', () => {
    const b = lapisWith({ env: NO_KVM }, 'backends');
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/^lapis-vmm +unavailable: no \/nonexistent\/kvm$/m);
    for (const args of [['run', 'litmus/init-sipi-sipi-bringup.litmus'], ['suite', 'litmus']]) {
      const r = lapisWith({ env: NO_KVM }, ...args, '--on', 'lapis-vmm');
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(/^lapis: backend lapis-vmm is unavailable here: no \/nonexistent\/kvm$/m);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});
