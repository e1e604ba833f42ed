// The boot test's initramfs writer and report reader (test/vmm/initramfs.ts), without KVM: the archive read back by
// the newc format's rules, and a report as Debian's kernel printed it on lapis vmm under nested KVM (docs/vmm.md).

import { describe, expect, it } from 'vitest';
import { bootInitramfs, INIT_SCRIPT, newc, parseInitReport } from './initramfs.js';

/** buffer-format.rst, read independently: 110-byte header, name + NUL to a 4-byte boundary, data to a 4-byte boundary. */
function readNewc(b: Uint8Array): { name: string; mode: number; data: Uint8Array }[] {
  const text = (at: number, n: number): string => Buffer.from(b.subarray(at, at + n)).toString('latin1');
  const out: { name: string; mode: number; data: Uint8Array }[] = [];
  let at = 0;
  for (;;) {
    expect(text(at, 6)).toBe('070701');
    const field = (i: number): number => parseInt(text(at + 6 + 8 * i, 8), 16);
    const mode = field(1), size = field(6), nameSize = field(11);
    const name = text(at + 110, nameSize - 1);
    expect(b[at + 110 + nameSize - 1]).toBe(0);
    const dataAt = at + Math.ceil((110 + nameSize) / 4) * 4;
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, data: b.subarray(dataAt, dataAt + size) });
    at = dataAt + Math.ceil(size / 4) * 4;
    expect(at % 4).toBe(0);
  }
}

describe('the boot initramfs', () => {
  it('is a newc archive: directories, an executable busybox and /init, then the trailer', () => {
    const busybox = new Uint8Array(4099).map((_, i) => (i * 13) & 0xff); // a length that needs padding
    const entries = readNewc(bootInitramfs(busybox));
    expect(entries.map((e) => [e.name, e.mode.toString(8)])).toEqual([
      ['bin', '40755'], ['dev', '40755'], ['proc', '40755'], ['sys', '40755'], ['bin/busybox', '100755'], ['init', '100755'],
    ]);
    expect(Buffer.from(entries[4].data).equals(Buffer.from(busybox))).toBe(true);
    expect(new TextDecoder().decode(entries[5].data)).toBe(INIT_SCRIPT);
    expect(readNewc(newc([{ name: 'a', data: new Uint8Array([1, 2, 3]) }]))).toEqual([{ name: 'a', mode: 0o100644, data: new Uint8Array([1, 2, 3]) }]);
  });

  it('the init script leaves through isa-debug-exit (port 0xF4) after its report', () => {
    expect(INIT_SCRIPT).toMatch(/^#!\/bin\/busybox sh\n/);
    expect(INIT_SCRIPT).toMatch(/dd of=\/dev\/port bs=1 seek=244 count=1/);
    expect(INIT_SCRIPT.indexOf('LAPIS-INIT-END')).toBeLessThan(INIT_SCRIPT.indexOf('/dev/port'));
  });

  it('reads the report as the kernel printed it, kernel messages in between and all', () => {
    const out = [
      'LAPIS-INIT cpus=4 clocksource=kvm-clock uptime=123.41',
      '           CPU0       CPU1       CPU2       CPU3       ',
      '  4:          7          0          0          0   IO-APIC   4-edge      ttyS0',
      'NMI:          0          1          0          0   Non-maskable interrupts',
      'LOC:        282        244        177        254   Local timer interrupts',
      '[  150.136053] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
      'CAL:        188        122        180        147   Function call interrupts',
      'LAPIS-INIT-END',
      'LOC:          0          0          0          0   after the end: not read',
    ].join('\r\n');
    const r = parseInitReport(out);
    expect(r).toMatchObject({ cpus: 4, clocksource: 'kvm-clock' });
    expect(r?.rows.get('LOC')).toEqual({ counts: [282, 244, 177, 254], what: 'Local timer interrupts' });
    expect(r?.rows.get('4')).toEqual({ counts: [7, 0, 0, 0], what: 'IO-APIC   4-edge      ttyS0' });
    expect(r?.rows.has('CAL')).toBe(true);
    expect(parseInitReport('no report here')).toBeNull();
  });
});
