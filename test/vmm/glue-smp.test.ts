// The irqchip glue across vCPUs and devices, through the fake KVM (test/vmm/fake-kvm.ts, a test double, not KVM):
// INIT-SIPI-SIPI, the I/O APIC through MMIO and pc-testdev's lines, lapis's timers on the guest's TSC, and the ways a
// run stops (triple fault, INIT to the BSP, SMI without SMM, an address no device decodes).

import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/arch/apic.js';
import { KVM_ABI as K } from '../../src/vmm/abi.js';
import { clearedEvents } from '../../src/vmm/kvm.js';
import { Status } from '../../src/vmm/status.js';
import { u32 } from '../../src/vmm/struct.js';
import { APIC_ENABLE as ENABLE, apicWrite, debugExit, FakeVm, icrLo, IOAPIC, ioapicWrite, Mode, read, type Entry, type GuestExit } from './fake-kvm.js';

const { FIXED, SMI, NMI, INIT, SIPI } = Mode;

describe('INIT and SIPI', () => {
  it('INIT-SIPI-SIPI starts an AP at vector << 12 once; an INIT to a running AP resets it to wait for the next SIPI', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_HI, 1 << 24);
      yield apicWrite(Reg.ICR_LO, icrLo(0, INIT));
      yield apicWrite(Reg.ICR_LO, icrLo(0x10, SIPI));
      yield apicWrite(Reg.ICR_LO, icrLo(0x20, SIPI)); // the second SIPI of the sequence: P1 runs by then, it is dropped
      yield apicWrite(Reg.ICR_LO, icrLo(0, INIT));
      yield apicWrite(Reg.ICR_LO, icrLo(0x30, SIPI));
      yield debugExit(0);
    }, function* () {
      for (;;) yield { kind: 'hlt', if: false };
    }]);
    for (let i = 0; i < 5; i++) vm.step(0); // INIT and SIPI 0x10 sent: P1 is kicked once
    expect(vm.kicks).toEqual([1]);
    expect(vm.step(1)).toBe('sipi'); // INIT (in wait-for-SIPI: taken at once), then SIPI 0x10
    expect(vm.vcpus[1].regs).toEqual({ rip: 0, cs: 0x1000, csBase: 0x10000 });
    expect(vm.step(1)).toBe('run');
    expect(vm.step(1)).toBe('sleep'); // HLT, IF = 0
    vm.step(0); // SIPI 0x20
    expect(vm.kicks).toEqual([1, 1]);
    expect(vm.step(1)).toBe('sleep'); // dropped: not in wait-for-SIPI
    vm.step(0); // INIT
    expect(vm.step(1)).toBe('init');
    expect(vm.vcpus[1].regs).toEqual({ rip: 0xfff0, cs: 0, csBase: 0 }); // KVM's reset segments (zero in the double)
    expect(vm.step(1)).toBe('sleep');
    vm.step(0); // SIPI 0x30
    expect(vm.step(1)).toBe('sipi');
    expect(vm.vcpus[1].regs).toEqual({ rip: 0, cs: 0x3000, csBase: 0x30000 });
    expect(vm.runToStop().status).toBe(1);
    expect(vm.vcpus[1].log.filter((l) => l === 'KVM_SET_REGS')).toHaveLength(3);
  });

  it("an INIT clears KVM's event state: an AP parked in its NMI handler comes back from INIT-SIPI with NMIs unmasked", () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_HI, 1 << 24);
      yield apicWrite(Reg.ICR_LO, icrLo(0, NMI)); // P1 takes it and parks in its handler, no IRET (KVM: NMIs masked)
      yield apicWrite(Reg.ICR_LO, icrLo(0, INIT));
      yield apicWrite(Reg.ICR_LO, icrLo(0x30, SIPI));
      yield debugExit(0);
    }, function* () {
      for (;;) yield { kind: 'hlt', if: false };
    }]);
    vm.sipi(1, 0x10);
    expect(vm.step(1)).toBe('sipi');
    expect(vm.step(1)).toBe('run');
    expect(vm.step(1)).toBe('sleep');
    for (let i = 0; i < 4; i++) vm.step(0); // SVR, ICR_HI, the NMI
    expect(vm.step(1)).toBe('run');
    expect(vm.vcpus[1].entries.at(-1)?.nmi).toBe(1);
    vm.step(0); // INIT
    expect(vm.step(1)).toBe('init');
    const log = vm.vcpus[1].log;
    expect(log.slice(log.lastIndexOf('KVM_SET_REGS') + 1)).toEqual(['KVM_SET_VCPU_EVENTS (cleared)']);
    vm.step(0); // SIPI 0x30
    expect(vm.step(1)).toBe('sipi');
    expect(vm.runToStop().status).toBe(1);
    // What KVM is given (src/vmm/kvm.ts): the NMI and shadow fields valid, and every field zero.
    const e = clearedEvents();
    expect(e.length).toBe(K['sizeof kvm_vcpu_events']);
    expect(u32(e, K['kvm_vcpu_events.flags'])).toBe(K.KVM_VCPUEVENT_VALID_NMI_PENDING | K.KVM_VCPUEVENT_VALID_SHADOW);
    expect([e[K['kvm_vcpu_events.nmi.injected']], e[K['kvm_vcpu_events.nmi.pending']], e[K['kvm_vcpu_events.nmi.masked']], e[K['kvm_vcpu_events.interrupt.shadow']]]).toEqual([0, 0, 0, 0]);
    expect(e.filter((b) => b !== 0)).toHaveLength(1);
  });

  it('an INIT to the BSP stops the VM: there is no firmware to reset to', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_LO, icrLo(0, INIT)); // destination 0: itself
      yield debugExit(0);
    }]);
    const s = vm.runToStop();
    expect(s.status).toBe(Status.UNSUPPORTED);
    expect(s.reason).toMatch(/INIT to the BSP/);
  });

  it('an SMI is refused without SMM in KVM and passed on with KVM_SMI where KVM has SMM', () => {
    const guest = function* (): Generator<GuestExit, void, Entry> {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_LO, icrLo(0, SMI));
      yield debugExit(0);
    };
    const without = new FakeVm([guest]);
    expect(without.runToStop()).toMatchObject({ status: Status.UNSUPPORTED, reason: expect.stringMatching(/KVM_CAP_X86_SMM = 0/) });
    const withSmm = new FakeVm([guest], { smm: true });
    withSmm.step(0);
    withSmm.step(0);
    withSmm.step(0);
    expect(withSmm.vcpus[0].log).toContain('KVM_SMI');
  });
});

describe('NMIs', () => {
  it('two NMIs that reach a running vCPU before its thread decides are both handed to KVM (a third merges)', () => {
    // kvm-unit-tests apic "multiple nmi": P1's NMI and P0's self-NMI meet while P0 is out of the guest.
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_LO, icrLo(0, NMI)); // to itself (destination 0)
      yield debugExit(0);
    }, function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_LO, icrLo(0, NMI)); // to P0
      yield apicWrite(Reg.ICR_LO, icrLo(0, NMI)); // to P0 again
      yield { kind: 'hlt', if: false };
    }]);
    vm.sipi(1, 0);
    vm.step(0); // P0 enters, exits on SVR
    vm.step(0); // SVR; P0 exits on its ICR write
    for (let i = 0; i < 4; i++) vm.step(1); // P1 starts, SVR, its NMI to P0: pending in lapis, P0 kicked
    expect(vm.kicks).toContain(0);
    vm.step(0); // P0's own NMI arrives where one is pending: two KVM_NMIs
    expect(vm.vcpus[0].log.filter((l) => l === 'KVM_NMI')).toHaveLength(2);
    expect(vm.vcpus[0].entries.at(-1)?.nmi).toBe(2);
    const w = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      for (;;) yield { kind: 'hlt', if: false };
    }, function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      for (let i = 0; i < 3; i++) yield apicWrite(Reg.ICR_LO, icrLo(0, NMI));
      yield { kind: 'hlt', if: false };
    }]);
    w.step(0);
    w.step(0);
    expect(w.step(0)).toBe('sleep');
    w.sipi(1, 0);
    for (let i = 0; i < 6; i++) w.step(1); // three NMIs to P0 before its thread runs: one latched, one kept, one merged
    expect(w.step(0)).toBe('run');
    expect(w.vcpus[0].log.filter((l) => l === 'KVM_NMI')).toHaveLength(2);
  });
});

describe('the I/O APIC through MMIO', () => {
  it('an edge pin raised by pc-testdev is injected with its redirection entry\'s vector', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield* ioapicWrite(0x11 + 2 * 5, 0); // destination APIC 0
      yield* ioapicWrite(0x10 + 2 * 5, 0x55); // fixed, edge, unmasked
      const e = yield { kind: 'out', port: 0x2005, size: 1, value: 1 };
      expect(e.vector).toBe(0x55);
      yield { kind: 'out', port: 0x2005, size: 1, value: 0, if: false };
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });

  it('a level pin holds remote IRR until the EOI reaches the I/O APIC', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield* ioapicWrite(0x10 + 2 * 6, 0x56 | (1 << 15)); // level-triggered
      const e = yield { kind: 'out', port: 0x2006, size: 1, value: 1 };
      expect(e.vector).toBe(0x56);
      yield { kind: 'out', port: 0x2006, size: 1, value: 0, if: false }; // the handler lowers the line
      yield { kind: 'mmio-write', addr: IOAPIC, value: 0x10 + 2 * 6, if: false };
      const before = yield { kind: 'mmio-read', addr: IOAPIC + 0x10, if: false };
      expect(read(before) & (1 << 14)).not.toBe(0); // remote IRR
      yield apicWrite(Reg.EOI, 0, { if: false });
      const after = yield { kind: 'mmio-read', addr: IOAPIC + 0x10, if: false };
      expect(read(after) & (1 << 14)).toBe(0);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
  });

  it('the 16550 raises ISA IRQ 4 for THRE when enabled and OUT2 is set; reading IIR clears it; each THR write re-raises it', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield* ioapicWrite(0x10 + 2 * 4, 0x34); // pin 4: fixed, edge
      const a = yield { kind: 'out', port: 0x3f9, size: 1, value: 0x02 }; // IER.ETBEI, OUT2 still clear
      expect(a.vector).toBe(-1);
      const b = yield { kind: 'out', port: 0x3fc, size: 1, value: 0x08 }; // MCR.OUT2: the line reaches the PIC/I/O APIC
      expect(b.vector).toBe(0x34);
      expect(read(yield { kind: 'in', port: 0x3fa, size: 1, if: false })).toBe(0x02); // THRE
      expect(read(yield { kind: 'in', port: 0x3fa, size: 1, if: false })).toBe(0x01); // cleared by that read
      yield apicWrite(Reg.EOI, 0, { if: false });
      const c = yield { kind: 'out', port: 0x3f8, size: 1, value: 0x41 };
      expect(c.vector).toBe(0x34);
      yield { kind: 'out', port: 0x3f9, size: 1, value: 0, if: false }; // interrupts off
      expect(read(yield { kind: 'in', port: 0x3fa, size: 1, if: false })).toBe(0x01);
      yield debugExit(0);
    }]);
    expect(vm.runToStop().status).toBe(1);
    expect(vm.serial).toEqual([0x41]);
  });

  it('an MMIO address no device decodes stops the VM; the APIC window with nothing there reads all ones', () => {
    const vm = new FakeVm([function* () {
      const e = yield { kind: 'mmio-read', addr: 0xfed00000 };
      expect(read(e)).toBe(0xffffffff);
      yield { kind: 'mmio-write', addr: 0xd0000000, value: 1 };
    }]);
    expect(vm.runToStop()).toMatchObject({ status: Status.DEVICE, reason: expect.stringMatching(/P0 wrote MMIO 0xd0000000 \(4 bytes\)/) });
  });
});

describe('timers on the guest TSC', () => {
  it('a TSC-deadline timer wakes the halted vCPU when the clock reaches it, not before', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.LVT_TIMER, 0x60 | (2 << 17)); // TSC-deadline mode
      yield { kind: 'wrmsr', index: 0x6e0, value: 1000n };
      const e = yield { kind: 'hlt' };
      expect(e.vector).toBe(0x60);
      yield debugExit(0);
    }], { tscDeadline: true, tscKhz: 2_000_000 }); // 2 TSC ticks a nanosecond
    for (let i = 0; i < 4; i++) vm.step(0);
    expect(vm.step(0)).toBe('sleep');
    vm.advance(499);
    expect(vm.kicks).toEqual([]);
    vm.advance(1);
    expect(vm.kicks).toEqual([0]);
    expect(vm.runToStop().status).toBe(1);
  });

  it('a one-shot APIC timer fires after its initial count in timer ticks', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.TIMER_DCR, 0xb); // divide by 1
      yield apicWrite(Reg.LVT_TIMER, 0x61); // one-shot
      yield apicWrite(Reg.TIMER_ICR, 300);
      const e = yield { kind: 'hlt' };
      expect(e.vector).toBe(0x61);
      yield debugExit(0);
    }]);
    for (let i = 0; i < 5; i++) vm.step(0);
    expect(vm.step(0)).toBe('sleep');
    vm.advance(299);
    expect(vm.kicks).toEqual([]);
    vm.advance(1);
    expect(vm.kicks).toEqual([0]);
    expect(vm.runToStop().status).toBe(1);
  });
});

describe('how a run stops', () => {
  it('a triple fault, or an instruction KVM cannot emulate, stops the VM with the fault status', () => {
    expect(new FakeVm([function* () { yield { kind: 'shutdown' }; }]).runToStop()).toMatchObject({ status: Status.FAULT, reason: expect.stringMatching(/triple fault/) });
    expect(new FakeVm([function* () { yield { kind: 'internal-error' }; }]).runToStop()).toMatchObject({ status: Status.FAULT, reason: expect.stringMatching(/could not emulate/) });
  });

  it('--trace lines name the register and the injection', () => {
    const vm = new FakeVm([function* () {
      yield apicWrite(Reg.SVR, ENABLE);
      yield apicWrite(Reg.ICR_LO, icrLo(0x42, FIXED) | (1 << 18));
      yield debugExit(0);
    }]);
    vm.runToStop();
    expect(vm.trace).toEqual(expect.arrayContaining(['0 P0 mmio write SVR 0x1ff', '0 P0 mmio write ICR_LO 0x44042', '0 P0 inject vector 0x42']));
  });
});
