// QEMU's edu device in lapis vmm (src/vmm/edu.ts, `--device edu`) as guest/ioapic.asm drives it: found on PCI bus
// 0 through configuration mechanism #1, its MSI capability programmed, its interrupt raised through BAR0 + 0x60,
// the message delivered by lapis's Machine and injected. Through the fake KVM (a test double, not KVM).

import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/arch/apic.js';
import { EDU_BAR, EDU_DEVICE, EDU_MSI_CAP } from '../../src/vmm/edu.js';
import { APIC_ENABLE, apicWrite, debugExit, FakeVm, read, type Entry, type GuestExit } from './fake-kvm.js';

type Script = Generator<GuestExit, void, Entry>;
const cfgAddr = (dev: number, reg: number): number => (0x80000000 | (dev << 11) | reg) >>> 0;
function* cfgRead(dev: number, reg: number): Generator<GuestExit, number, Entry> {
  yield { kind: 'out', port: 0xcf8, size: 4, value: cfgAddr(dev, reg) };
  return read(yield { kind: 'in', port: 0xcfc, size: 4 });
}
function* cfgWrite(dev: number, reg: number, value: number): Script {
  yield { kind: 'out', port: 0xcf8, size: 4, value: cfgAddr(dev, reg) };
  yield { kind: 'out', port: 0xcfc, size: 4, value };
}

/** lit_msi_boot and lit_msi_send: find edu, enable memory and (if `master`) bus mastering, program the MSI, raise. */
function* sendMsi(address: number, data: number, master: boolean, seen: { dev: number; bar: number; cap: number }): Script {
  for (let dev = 0; dev < 32; dev++) {
    if ((yield* cfgRead(dev, 0)) === 0x11e81234) {
      seen.dev = dev;
      break;
    }
  }
  seen.bar = ((yield* cfgRead(seen.dev, 0x10)) & ~0xf) >>> 0;
  yield* cfgWrite(seen.dev, 0x04, master ? 0x6 : 0x2);
  seen.cap = (yield* cfgRead(seen.dev, 0x34)) & 0xfc;
  const cap0 = yield* cfgRead(seen.dev, seen.cap);
  expect(cap0 & 0xff).toBe(0x05); // MSI
  expect((cap0 >>> 16) & 0x80).toBe(0x80); // 64-bit capable: the data at +12
  yield* cfgWrite(seen.dev, seen.cap + 4, address);
  yield* cfgWrite(seen.dev, seen.cap + 8, 0);
  yield* cfgWrite(seen.dev, seen.cap + 12, data);
  yield* cfgWrite(seen.dev, seen.cap, ((cap0 >>> 16) | 1) << 16 | 0x05);
  yield { kind: 'mmio-write', addr: seen.bar + 0x60, value: 1 };
  yield { kind: 'mmio-write', addr: seen.bar + 0x64, value: 1 };
}

describe('edu (lapis vmm --device edu)', () => {
  it('an MSI the guest programs reaches the vCPU its address names, with its vector', () => {
    const seen = { dev: -1, bar: 0, cap: 0 };
    let got = -1;
    const vm = new FakeVm([
      function* () {
        yield apicWrite(Reg.SVR, APIC_ENABLE);
        yield* sendMsi(0xfee01000, 0x0055, true, seen); // physical destination 1, fixed, vector 0x55
        for (let i = 0; i < 20 && got < 0; i++) yield { kind: 'hlt' };
        yield debugExit(0);
      },
      function* () {
        yield apicWrite(Reg.SVR, APIC_ENABLE);
        for (;;) {
          const e = yield { kind: 'hlt' };
          if (e.vector >= 0) {
            got = e.vector;
            yield apicWrite(Reg.EOI, 0);
            for (;;) yield { kind: 'hlt', if: false };
          }
        }
      },
    ], { edu: true });
    vm.sipi(1, 0x10);
    expect(vm.runToStop()).toEqual({ status: 1, reason: 'isa-debug-exit 1' });
    expect(seen).toEqual({ dev: EDU_DEVICE, bar: EDU_BAR, cap: EDU_MSI_CAP });
    expect(got).toBe(0x55);
  });

  it('without bus mastering the message is dropped; without --device edu there is no PCI device at all', () => {
    let got = -1;
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, APIC_ENABLE);
      yield* sendMsi(0xfee00000, 0x0066, false, { dev: -1, bar: 0, cap: 0 });
      const e = yield { kind: 'out', port: 0xe9, size: 1, value: 0x2e };
      got = e.vector;
      yield debugExit(0);
    }], { edu: true });
    expect(vm.runToStop()).toEqual({ status: 1, reason: 'isa-debug-exit 1' });
    expect(got).toBe(-1);
    const bare = new FakeVm([function* () {
      for (let dev = 0; dev < 32; dev++) expect(yield* cfgRead(dev, 0)).toBe(0xffffffff);
      yield debugExit(0);
    }]);
    expect(bare.runToStop().status).toBe(1);
  });

  it('BAR0 sizes as 1 MiB of memory and decodes only with memory space enabled', () => {
    const vm = new FakeVm([function* () {
      yield* cfgWrite(EDU_DEVICE, 0x10, 0xffffffff);
      expect(yield* cfgRead(EDU_DEVICE, 0x10)).toBe(0xfff00000);
      yield* cfgWrite(EDU_DEVICE, 0x10, EDU_BAR);
      yield* cfgWrite(EDU_DEVICE, 0x04, 0x2);
      expect(read(yield { kind: 'mmio-read', addr: EDU_BAR, len: 4 })).toBe(0x010000ed);
      yield* cfgWrite(EDU_DEVICE, 0x04, 0);
      yield { kind: 'mmio-read', addr: EDU_BAR, len: 4 }; // no device decodes it now: the VM stops
    }], { edu: true });
    const s = vm.runToStop();
    expect(s.reason).toMatch(/read MMIO 0xfe000000 \(4 bytes\): no device/);
  });
});
