// The irqchip glue and the run loop, driven by scripted guests through the fake KVM (test/vmm/fake-kvm.ts, a test
// double, not KVM): every exit goes through src/vmm/vcpu.ts's loop, lapis's Machine and the platform devices as on a
// real VM; what KVM would be asked (KVM_INTERRUPT, KVM_NMI, registers at INIT and SIPI) is checked at each entry.

import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/arch/apic.js';
import { KVM_ABI as K } from '../../src/vmm/abi.js';
import { Status } from '../../src/vmm/status.js';
import { APIC, APIC_ENABLE as ENABLE, apicRead, apicWrite, debugExit, FakeVm, icrLo, Mode, read, type Entry, type GuestExit } from './fake-kvm.js';

const { FIXED, NMI } = Mode;

describe('platform devices through port I/O exits', () => {
  it('the 16550 transmits what the guest writes (rep outsb too); isa-debug-exit stops with (code << 1) | 1', () => {
    const vm = new FakeVm([function* () {
      const lsr = yield { kind: 'in', port: 0x3fd, size: 1 };
      expect(read(lsr) & 0x20).toBe(0x20); // THRE: the transmitter takes a byte
      yield { kind: 'out', port: 0x3f8, size: 1, value: 0x68 };
      yield { kind: 'out', port: 0x3f8, size: 1, value: [0x69, 0x0a] };
      yield debugExit(0x21);
    }]);
    expect(vm.runToStop()).toEqual({ status: 0x43, reason: 'isa-debug-exit 67' });
    expect(String.fromCharCode(...vm.serial)).toBe('hi\n');
  });

  it('the 16550 in loopback: the modem status follows MCR (how Linux finds the UART), nothing reaches the line', () => {
    const vm = new FakeVm([function* () {
      yield { kind: 'out', port: 0x3fc, size: 1, value: 0x10 | 0x0a }; // LOOP | RTS | OUT2
      expect(read(yield { kind: 'in', port: 0x3fe, size: 1 }) & 0xf0).toBe(0x90); // DCD | CTS
      yield { kind: 'out', port: 0x3fc, size: 1, value: 0x10 | 0x05 }; // LOOP | DTR | OUT1
      expect(read(yield { kind: 'in', port: 0x3fe, size: 1 }) & 0xf0).toBe(0x60); // RI | DSR
      yield { kind: 'out', port: 0x3f8, size: 1, value: 0x41 };
      yield { kind: 'out', port: 0x3fc, size: 1, value: 0x0b };
      yield { kind: 'out', port: 0x3f8, size: 1, value: 0x42 };
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
    expect(vm.serial).toEqual([0x42]);
  });

  it('the RTC reads the host time in BCD, 24-hour, never mid-update', () => {
    const vm = new FakeVm([function* () {
      const reg = function* (i: number): Generator<GuestExit, number, Entry> {
        yield { kind: 'out', port: 0x70, size: 1, value: 0x80 | i };
        return read(yield { kind: 'in', port: 0x71, size: 1 });
      };
      expect((yield* reg(0x0a)) & 0x80).toBe(0); // UIP
      expect(yield* reg(0x0b)).toBe(0x02);
      const t = [yield* reg(0x32), yield* reg(0x09), yield* reg(0x08), yield* reg(0x07), yield* reg(0x04), yield* reg(0x02), yield* reg(0x00)];
      expect(t).toEqual([0x20, 0x26, 0x12, 0x06, 0x13, 0x05, 0x09]);
      yield debugExit(0);
    }], { wallClockMs: Date.UTC(2026, 11, 6, 13, 5, 9) });
    expect(vm.runToStop().status).toBe(1);
  });

  it('fw_cfg answers the CPU count and RAM size kvm-unit-tests reads', () => {
    const vm = new FakeVm([function* () {
      const sig: number[] = [];
      yield { kind: 'out', port: 0x510, size: 2, value: 0 };
      for (let i = 0; i < 4; i++) sig.push(read(yield { kind: 'in', port: 0x511, size: 1 }));
      expect(String.fromCharCode(...sig)).toBe('QEMU');
      yield { kind: 'out', port: 0x510, size: 2, value: 5 }; // FW_CFG_NB_CPUS
      const n = yield { kind: 'in', port: 0x511, size: 1, count: 2 };
      expect(n.read).toEqual([3, 0]);
      yield { kind: 'out', port: 0x510, size: 2, value: 3 }; // FW_CFG_RAM_SIZE
      const ram = yield { kind: 'in', port: 0x511, size: 1, count: 8 };
      expect((ram.read as number[]).reduce((s, b, i) => s + b * 2 ** (8 * i), 0)).toBe(64 << 20);
      yield debugExit(0);
    }, function* () {}, function* () {}], { ramBytes: 64 << 20 });
    expect(vm.runToStop().status).toBe(1);
  });

  it('a port no device decodes stops the VM with the device status and the port in the message', () => {
    const vm = new FakeVm([function* () {
      yield { kind: 'out', port: 0x3f8, size: 1, value: 0x41 };
      yield { kind: 'in', port: 0x1234, size: 2 };
    }]);
    const s = vm.runToStop();
    expect(s.status).toBe(Status.DEVICE);
    expect(s.reason).toMatch(/P0 read I\/O port 0x1234 \(2 bytes\): no device/);
  });

  it('ports of absent legacy devices read all ones and ignore writes', () => {
    const vm = new FakeVm([function* () {
      yield { kind: 'out', port: 0x21, size: 1, value: 0xff }; // mask the 8259
      expect(read(yield { kind: 'in', port: 0x40, size: 1 })).toBe(0xff); // PIT channel 0
      expect(read(yield { kind: 'in', port: 0xcfc, size: 4 })).toBe(0xffffffff);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });
});

describe('xAPIC MMIO and the APIC MSRs', () => {
  it('each vCPU reads its own APIC ID; narrow reads take bytes of the register', () => {
    const ids: number[] = [];
    const guest = (cpu: number) => function* (): Generator<GuestExit, void, Entry> {
      ids[cpu] = read(yield apicRead(Reg.ID));
      if (cpu === 1) expect(read(yield { kind: 'mmio-read', addr: APIC + Reg.ID + 3, len: 1 })).toBe(1);
      if (cpu === 0) yield debugExit(0);
      else yield { kind: 'hlt', if: false };
    };
    const vm = new FakeVm([guest(0), guest(1)]);
    expect(vm.step(1)).toBe('sleep'); // wait-for-SIPI
    vm.sipi(1, 0x10);
    expect(vm.step(1)).toBe('sipi');
    expect(vm.vcpus[1].regs).toEqual({ rip: 0, cs: 0x1000, csBase: 0x10000 });
    expect(vm.step(1)).toBe('run'); // reads its ID
    expect(vm.step(1)).toBe('run'); // a byte of it
    expect(vm.step(1)).toBe('run'); // HLT
    expect(vm.step(1)).toBe('sleep');
    expect(vm.runToStop().status).toBe(1);
    expect(ids).toEqual([0, 1 << 24]);
  });

  it('TPR written through MMIO is CR8 at the next entry; CR8 written by the guest is TPR[7:4]', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      const e = yield apicWrite(Reg.TPR, 0x5a);
      expect(e.cr8).toBe(5);
      expect(read(yield apicRead(Reg.TPR, { cr8: 5 }))).toBe(0x5a); // CR8 unchanged: TPR[3:0] kept
      expect(read(yield apicRead(Reg.TPR, { cr8: 3 }))).toBe(0x30); // MOV to CR8 clears TPR[3:0]
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });

  it('a narrow or misaligned APIC write is dropped', () => {
    const vm = new FakeVm([function* () {
      yield { kind: 'mmio-write', addr: APIC + Reg.TPR, value: 0x70, len: 1 };
      yield { kind: 'mmio-write', addr: APIC + Reg.TPR + 4, value: 0x70 };
      expect(read(yield apicRead(Reg.TPR))).toBe(0);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });

  it('relocating the APIC moves its MMIO; a globally disabled APIC decodes nothing (open bus); KVM gets IA32_APIC_BASE', () => {
    const vm = new FakeVm([function* () {
      const base = yield { kind: 'rdmsr', index: 0x1b };
      expect(base.read).toBe(0xfee00900n); // enabled, BSP
      yield { kind: 'wrmsr', index: 0x1b, value: 0xfed00900n };
      expect(read(yield { kind: 'mmio-read', addr: 0xfed00000 + Reg.VERSION }) & 0xff).toBe(0x14);
      expect(read(yield apicRead(Reg.VERSION))).toBe(0xffffffff);
      yield { kind: 'wrmsr', index: 0x1b, value: 0xfee00100n }; // global disable (bit 11 clear)
      expect(read(yield apicRead(Reg.VERSION))).toBe(0xffffffff);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
    expect(vm.vcpus[0].log.filter((l) => l.startsWith('KVM_SET_MSRS'))).toEqual(['KVM_SET_MSRS 0x1b=0xfed00900', 'KVM_SET_MSRS 0x1b=0xfee00100']);
  });

  it('x2APIC MSRs: #GP in xAPIC mode, the APIC ID once EXTD is set; MMIO no longer decodes', () => {
    const vm = new FakeVm([function* () {
      expect((yield { kind: 'rdmsr', index: 0x802 }).read).toBe('#GP');
      yield { kind: 'wrmsr', index: 0x1b, value: 0xfee00d00n }; // EN | EXTD | BSP
      expect((yield { kind: 'rdmsr', index: 0x802 }).read).toBe(0n);
      expect(read(yield apicRead(Reg.ID))).toBe(0xffffffff);
      expect((yield { kind: 'wrmsr', index: 0x808, value: 1n << 32n }).read).toBe('#GP'); // TPR: reserved bits
      yield debugExit(0);
    }], { x2apic: true });
    expect(vm.runToStop().status).toBe(1);
  });
});

describe('interrupt injection', () => {
  it('a self-IPI is injected once, at the entry after it, and acknowledged (IRR -> ISR)', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      const e = yield apicWrite(Reg.ICR_LO, icrLo(0x40, FIXED) | (1 << 18)); // shorthand self
      expect(e.vector).toBe(0x40);
      // In the handler (IF = 0): ISR holds it, IRR does not; nothing is injected again.
      const isr = yield apicRead(Reg.ISR0 + 0x20, { if: false });
      expect(read(isr)).toBe(1);
      expect(isr.vector).toBe(-1);
      expect(read(yield apicRead(Reg.IRR0 + 0x20, { if: false }))).toBe(0);
      yield apicWrite(Reg.EOI, 0, { if: false });
      expect(read(yield apicRead(Reg.ISR0 + 0x20, { if: false }))).toBe(0);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
    expect(vm.vcpus[0].log.filter((l) => l.startsWith('KVM_INTERRUPT'))).toEqual(['KVM_INTERRUPT 0x40']);
  });

  it('with the window closed (IF = 0, or an STI shadow) the loop asks for the window and injects when it opens', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      const a = yield apicWrite(Reg.ICR_LO, icrLo(0x41, FIXED) | (1 << 18), { if: false });
      expect(a).toMatchObject({ vector: -1, requestWindow: true });
      const b = yield { kind: 'window', shadow: true }; // STI; the shadow still holds it
      expect(b).toMatchObject({ vector: -1, requestWindow: true });
      const c = yield { kind: 'window' };
      expect(c).toMatchObject({ vector: 0x41, requestWindow: false });
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });

  it('higher priority first: two pending vectors are injected in priority order, one per window', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_LO, icrLo(0x31, FIXED) | (1 << 18), { if: false });
      const a = yield apicWrite(Reg.ICR_LO, icrLo(0x72, FIXED) | (1 << 18), { if: false });
      expect(a.vector).toBe(-1);
      const b = yield { kind: 'window' };
      expect(b.vector).toBe(0x72);
      const c = yield apicWrite(Reg.EOI, 0, { if: false });
      expect(c).toMatchObject({ vector: -1, requestWindow: true });
      const d = yield { kind: 'window' };
      expect(d.vector).toBe(0x31);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });

  it('an IPI wakes a halted vCPU: its thread is kicked and the vector injected; HLT with IF = 0 sleeps through it', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_HI, 1 << 24);
      yield apicWrite(Reg.ICR_LO, icrLo(0x50, FIXED)); // P1 halted with IF = 1
      yield apicWrite(Reg.ICR_LO, icrLo(0x51, FIXED)); // P1 halted with IF = 0
      yield apicWrite(Reg.ICR_LO, icrLo(0, NMI));
      yield debugExit(0);
    }, function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      const a = yield { kind: 'hlt' };
      expect(a.vector).toBe(0x50);
      yield apicWrite(Reg.EOI, 0, { if: false });
      const b = yield { kind: 'hlt', if: false };
      expect(b).toMatchObject({ vector: -1, nmi: 1 });
      yield { kind: 'hlt', if: false };
    }]);
    vm.sipi(1, 0);
    expect(vm.kicks).toEqual([1]); // the SIPI woke P1's thread
    expect(vm.step(1)).toBe('sipi');
    expect(vm.step(1)).toBe('run'); // SVR
    expect(vm.step(1)).toBe('run'); // HLT
    expect(vm.step(1)).toBe('sleep');
    vm.step(0); // SVR
    vm.step(0); // ICR_HI
    vm.step(0); // ICR_LO is the exit now, handled at P0's next turn
    expect(vm.kicked(1)).toBe(false);
    vm.step(0); // the IPI 0x50 to P1
    expect(vm.kicks).toEqual([1, 1]);
    expect(vm.step(1)).toBe('run'); // 0x50 injected at its entry; it exits on the EOI
    expect(vm.step(1)).toBe('run'); // EOI; it exits on HLT with IF = 0
    expect(vm.step(1)).toBe('sleep');
    vm.step(0); // 0x51 to P1: it cannot be taken, so P1 is not woken
    expect(vm.kicks).toEqual([1, 1]);
    expect(vm.step(1)).toBe('sleep');
    vm.step(0); // NMI to P1: it wakes
    expect(vm.kicks).toEqual([1, 1, 1]);
    expect(vm.step(1)).toBe('run');
    expect(vm.vcpus[1].log.filter((l) => l === 'KVM_NMI')).toHaveLength(1);
    expect(vm.runToStop().status).toBe(1);
    expect(vm.vcpus[1].log.filter((l) => l.startsWith('KVM_INTERRUPT'))).toEqual(['KVM_INTERRUPT 0x50']);
  });

  it('a kick while a vector is queued (KVM_RUN ends with EINTR) neither loses nor doubles it', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_LO, icrLo(0x60, FIXED) | (1 << 18));
      // The loop injected 0x60 and entered; the double saw the kick first: KVM_RUN returned EINTR with 0x60 queued.
    }]);
    vm.step(0);
    vm.step(0);
    // The next turn injects 0x60; a kick lands before KVM_RUN.
    const v = vm.vcpus[0];
    const orig = v.enter.bind(v);
    let kicked = false;
    v.enter = () => {
      if (!kicked) {
        kicked = true;
        v.run[K['kvm_run.immediate_exit']] = 1;
      }
      return orig();
    };
    vm.step(0); // KVM_INTERRUPT 0x60, KVM_RUN: EINTR
    expect(v.log.slice(-3)).toEqual(['KVM_INTERRUPT 0x60', 'KVM_RUN: EINTR', 'drain kick']);
    vm.vcpus[0].enter = orig;
    // Nothing is injected at the next entry (the window is closed while 0x60 is queued); KVM delivers 0x60 itself.
    expect(() => vm.step(0)).toThrow(/script ended/);
    expect(v.log.filter((l) => l.startsWith('KVM_INTERRUPT'))).toEqual(['KVM_INTERRUPT 0x60']);
    expect(v.entries.at(-1)?.vector).toBe(0x60);
  });
});
