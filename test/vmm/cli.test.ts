// `lapis vmm` as a user runs it (the built CLI), on what needs no KVM: bad input is a usage error (2) before KVM is
// opened, and a good image where KVM is not usable (LAPIS_KVM_DEVICE points at nothing) is status 4 with the reason,
// never a crash. Runs on real KVM are in kvm.test.ts.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lapis, lapisWith } from '../helpers/lapis.js';
import { Status } from '../../src/vmm/status.js';

const APIC_FLAT = join(process.env.LAPIS_KUT_DIR ?? '/opt/lapis/kvm-unit-tests', 'x86/apic.flat');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lapis-vmm-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lapis vmm without KVM', () => {
  it('a missing image or initrd: status 2 and the file named', () => {
    const r = lapis('vmm', join(dir, 'nope.flat'));
    expect(r.code).toBe(Status.USAGE);
    expect(r.err).toContain(`cannot read image ${join(dir, 'nope.flat')}: ENOENT`);
    const s = lapis('vmm', APIC_FLAT, '--initrd', join(dir, 'nope.env'));
    expect(s.code).toBe(Status.USAGE);
    expect(s.err).toContain('cannot read initrd');
  });

  it('a file that is neither multiboot nor bzImage, or too big for --mem: status 2 with the reason, before KVM', () => {
    const junk = join(dir, 'junk.img');
    writeFileSync(junk, 'not a kernel\n'.repeat(100));
    const env = { LAPIS_KVM_DEVICE: join(dir, 'no-kvm') }; // were KVM looked at first, this would be status 4
    const r = lapisWith({ env }, 'vmm', junk);
    expect(r.code).toBe(Status.USAGE);
    expect(r.err).toMatch(/junk\.img: neither a multiboot image .* nor a Linux bzImage/);
    const big = lapisWith({ env }, 'vmm', APIC_FLAT, '--mem', '8');
    expect(big.code).toBe(Status.USAGE);
    expect(big.err).toMatch(/does not fit in 8 MiB of RAM/);
  });

  it('bad options: status 2', () => {
    expect(lapis('vmm', APIC_FLAT, '--cpus', '0').code).toBe(Status.USAGE);
    expect(lapis('vmm', APIC_FLAT, '--mem', '99999').code).toBe(Status.USAGE);
    const f = lapis('vmm', APIC_FLAT, '--cpu-features', 'x2apic,avic');
    expect(f.code).toBe(Status.USAGE);
    expect(f.err).toContain("unknown CPU feature 'avic'");
  });

  it('a good image where KVM is not usable: status 4 and why, no stack trace', () => {
    const r = lapisWith({ env: { LAPIS_KVM_DEVICE: join(dir, 'no-kvm') } }, 'vmm', APIC_FLAT, '--cpus', '2', '--cpu-features', 'x2apic,tsc-deadline');
    expect(r.code).toBe(Status.NO_KVM);
    // koffi is an optional dependency: where it did not install, that is the reason given.
    expect([`lapis vmm: KVM is not usable: cannot open ${join(dir, 'no-kvm')}: ENOENT`, expect.stringMatching(/^lapis vmm: KVM is not usable: koffi .* could not be loaded/)]).toContainEqual(r.err.trim());
    expect(r.out).toBe('');
  });

  it('--help documents every exit status', () => {
    const r = lapis('vmm', '--help');
    expect(r.code).toBe(0);
    for (const s of Object.values(Status)) expect(r.out).toMatch(new RegExp(`^  ${s} `, 'm'));
    expect(r.out).toContain('(code << 1) | 1');
  });
});
