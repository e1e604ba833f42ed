// The two devices the catalog's guests need beyond kvm-unit-tests' (src/vmm/platform.ts): QEMU's isa-debugcon at
// 0xE9, where guest/runtime.asm prints its result lines, and PIT channel 2 gated through port 0x61, which its
// tsc_calibrate counts 10 ms on. Driven through the fake KVM (a test double, not KVM) with the test's clock.

import { describe, expect, it } from 'vitest';
import { PIT_HZ } from '../../src/vmm/platform.js';
import { debugExit, FakeVm, read, type Entry, type GuestExit } from './fake-kvm.js';

type Script = Generator<GuestExit, void, Entry>;
const outb = (port: number, value: number): GuestExit => ({ kind: 'out', port, size: 1, value });
const inb = (port: number): GuestExit => ({ kind: 'in', port, size: 1 });
const OUT2 = 0x20;

/** tsc_calibrate's programming (guest/runtime-cpu.asm): gate low, counter 2 mode 0 LSB then MSB, the count. */
function* program(count: number): Script {
  const b = read(yield inb(0x61));
  yield outb(0x61, b & 0xfc);
  yield outb(0x43, 0xb0);
  yield outb(0x42, count & 0xff);
  yield outb(0x42, count >> 8);
}

/** The guest time, in ns, of `ticks` PIT clocks: the first ns at which they have all passed. */
const nsOf = (ticks: number): number => Math.ceil((ticks * 1e9) / PIT_HZ);

describe('isa-debugcon at 0xE9', () => {
  it("what the guest writes is the VM's output, as COM1's is; a read returns 0xE9", () => {
    const vm = new FakeVm([function* () {
      yield outb(0xe9, 0x6c);
      yield { kind: 'out', port: 0xe9, size: 1, value: [0x61, 0x0a] };
      expect(read(yield inb(0xe9))).toBe(0xe9);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
    expect(vm.serial).toEqual([0x6c, 0x61, 0x0a]);
  });
});

describe('PIT channel 2 and port B', () => {
  for (const tscKhz of [1_000_000, 2_400_000]) {
    it(`OUT2 rises ${11932} PIT clocks after GATE2 rises, on the guest's TSC (${tscKhz} kHz)`, () => {
      const vm = new FakeVm([function* () {
        yield* program(11932);
        expect(read(yield inb(0x61)) & OUT2).toBe(0); // the count is written: OUT2 low
        vm.ns = 1_000_000; // the gate is still low: nothing counts
        expect(read(yield inb(0x61)) & OUT2).toBe(0);
        yield outb(0x61, 1); // GATE2 high: counting starts
        expect(read(yield inb(0x61)) & 0x03).toBe(1); // the gate and speaker bits read back
        vm.ns = 1_000_000 + nsOf(11932) - 2;
        expect(read(yield inb(0x61)) & OUT2).toBe(0);
        vm.ns = 1_000_000 + nsOf(11932) + 1;
        expect(read(yield inb(0x61)) & OUT2).toBe(OUT2);
        vm.ns += 5e9; // OUT2 stays high in mode 0
        expect(read(yield inb(0x61)) & OUT2).toBe(OUT2);
        yield debugExit(0);
      }], { tscKhz });
      expect(vm.runToStop().status).toBe(1);
    });
  }

  it('GATE2 low suspends counting; a control word sets OUT2 low until a new count is written and counted', () => {
    const vm = new FakeVm([function* () {
      yield* program(1000);
      yield outb(0x61, 1);
      vm.ns = nsOf(600);
      yield outb(0x61, 0); // 600 clocks counted, then suspended
      vm.ns = nsOf(5000);
      expect(read(yield inb(0x61)) & OUT2).toBe(0);
      yield outb(0x61, 1);
      vm.ns = nsOf(5000) + nsOf(398);
      expect(read(yield inb(0x61)) & OUT2).toBe(0);
      vm.ns = nsOf(5000) + nsOf(402);
      expect(read(yield inb(0x61)) & OUT2).toBe(OUT2);
      yield outb(0x43, 0xb0); // a new control word: OUT2 low
      expect(read(yield inb(0x61)) & OUT2).toBe(0);
      yield outb(0x42, 0x10); // half a count: still low, however long
      vm.ns += 1e9;
      expect(read(yield inb(0x61)) & OUT2).toBe(0);
      yield outb(0x42, 0x00); // 16 clocks, counting at once (the gate is high)
      vm.ns += nsOf(15);
      expect(read(yield inb(0x61)) & OUT2).toBe(0);
      vm.ns += nsOf(2);
      expect(read(yield inb(0x61)) & OUT2).toBe(OUT2);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });

  it('counters 0 and 1 stay absent: their control words do not touch counter 2, their ports float high', () => {
    const vm = new FakeVm([function* () {
      yield* program(100);
      yield outb(0x61, 1);
      yield outb(0x43, 0x34); // counter 0, mode 2
      yield outb(0x40, 0x12);
      expect(read(yield inb(0x40))).toBe(0xff);
      vm.ns = nsOf(101);
      expect(read(yield inb(0x61)) & OUT2).toBe(OUT2);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });
});
