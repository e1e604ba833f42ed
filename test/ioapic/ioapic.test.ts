import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeliveryMode } from '../../src/arch/apic.js';
import { HostError } from '../../src/arch/errors.js';
import { IoApicMmio, IoApicReg, Redir } from '../../src/arch/ioapic.js';
import { IoApic, type IoApicHost } from '../../src/ioapic/ioapic.js';

interface Message {
  vector: number;
  mode: DeliveryMode;
  logical: boolean;
  destination: number;
  level: boolean;
}

const BASE = 3;
const LEVEL = Redir.TRIGGER_LEVEL;
const MASKED = Redir.MASKED;
const lo = (pin: number): number => IoApicReg.REDTBL_BASE + 2 * pin;
const hi = (pin: number): number => IoApicReg.REDTBL_BASE + 2 * pin + 1;
const mode = (m: DeliveryMode): number => m << Redir.DELIVERY_MODE_SHIFT;

function make(version: 0x11 | 0x20 = 0x11, onDeliver?: (m: Message) => void) {
  const state = new Uint32Array(BASE + IoApic.WORDS + 2).fill(0xdeadbeef);
  const sent: Message[] = [];
  const host: IoApicHost = {
    deliver(vector, deliveryMode, logical, destination, level) {
      const m = { vector, mode: deliveryMode, logical, destination, level };
      sent.push(m);
      onDeliver?.(m);
    },
  };
  const io = new IoApic(state, BASE, host, { version });
  return { io, state, sent };
}

/** Program entry `pin` the way an OS does: high dword first, then the low dword. */
function program(io: IoApic, pin: number, low: number, high = 0): void {
  io.writeRegister(hi(pin), high);
  io.writeRegister(lo(pin), low);
}

describe('I/O APIC registers', () => {
  it('reset masks every entry and clears ID and IOREGSEL', () => {
    const { io } = make();
    io.writeRegister(IoApicReg.ID, 0x05000000);
    program(io, 7, 0x31, 0x01000000);
    io.mmioWrite(IoApicMmio.IOREGSEL, 0x12);
    io.reset();
    expect(io.readRegister(IoApicReg.ID)).toBe(0);
    expect(io.mmioRead(IoApicMmio.IOREGSEL)).toBe(0);
    for (let pin = 0; pin < 24; pin++) {
      expect(io.readRegister(lo(pin))).toBe(0x00010000);
      expect(io.readRegister(hi(pin))).toBe(0);
    }
  });

  it('leaves the words around its slice of the state untouched', () => {
    const { io, state } = make();
    io.setPin(4, true);
    program(io, 4, 0x40, 0xff000000);
    expect(state[BASE - 1]).toBe(0xdeadbeef);
    expect(state[BASE + IoApic.WORDS]).toBe(0xdeadbeef);
  });

  it('version register reads 0x00170011 for the 82093AA and 0x00170020 for the I/O(x)APIC, and ignores writes', () => {
    const a = make(0x11).io;
    const b = make(0x20).io;
    a.writeRegister(IoApicReg.VER, 0xffffffff);
    expect(a.readRegister(IoApicReg.VER)).toBe(0x00170011);
    expect(b.readRegister(IoApicReg.VER)).toBe(0x00170020);
    expect((a.readRegister(IoApicReg.VER) >>> 16) & 0xff).toBe(0x17);
  });

  it('ID register keeps bits 27:24 only', () => {
    const { io } = make();
    io.writeRegister(IoApicReg.ID, 0xffffffff);
    expect(io.readRegister(IoApicReg.ID)).toBe(0x0f000000);
  });

  it('arbitration ID register is loaded from the ID and is read-only', () => {
    const { io } = make();
    io.writeRegister(IoApicReg.ID, 0x09000000);
    expect(io.readRegister(IoApicReg.ARB)).toBe(0x09000000);
    io.writeRegister(IoApicReg.ARB, 0x03000000);
    expect(io.readRegister(IoApicReg.ARB)).toBe(0x09000000);
    expect(io.readRegister(IoApicReg.ID)).toBe(0x09000000);
  });

  it('IOREGSEL keeps bits 7:0 only and selects the register IOWIN accesses', () => {
    const { io } = make();
    io.mmioWrite(IoApicMmio.IOREGSEL, 0xabcd0012);
    expect(io.mmioRead(IoApicMmio.IOREGSEL)).toBe(0x12);
    io.mmioWrite(IoApicMmio.IOWIN, 0x00000045);
    expect(io.entry(1).vector).toBe(0x45);
    expect(io.mmioRead(IoApicMmio.IOWIN)).toBe(0x00000045);
  });

  it('reserved register indices read 0 and ignore writes', () => {
    const { io, state } = make();
    const before = state.slice();
    for (const index of [0x03, 0x0f, 0x40, 0x41, 0xff]) {
      io.writeRegister(index, 0xffffffff);
      expect(io.readRegister(index)).toBe(0);
      io.mmioWrite(IoApicMmio.IOREGSEL, index);
      expect(io.mmioRead(IoApicMmio.IOWIN)).toBe(0);
    }
    before[BASE] = 0xff; // IOREGSEL was left at 0xff
    expect(state).toEqual(before);
  });

  it('reserved bits of a redirection entry read 0', () => {
    const { io } = make();
    io.writeRegister(lo(2), 0xffffffff);
    io.writeRegister(hi(2), 0xffffffff);
    expect(io.readRegister(lo(2))).toBe(0x0001afff);
    expect(io.readRegister(hi(2))).toBe(0xff000000);
  });

  it('delivery status and Remote IRR ignore writes', () => {
    const { io } = make();
    io.writeRegister(lo(0), 0x30 | LEVEL | MASKED | Redir.REMOTE_IRR | Redir.DELIVERY_STATUS);
    expect(io.readRegister(lo(0)) & (Redir.REMOTE_IRR | Redir.DELIVERY_STATUS)).toBe(0);
    io.setPin(0, true);
    io.writeRegister(lo(0), 0x30 | LEVEL);
    expect(io.remoteIrr(0)).toBe(true);
    io.writeRegister(lo(0), 0x30 | LEVEL | MASKED);
    expect(io.remoteIrr(0)).toBe(true);
    expect(io.readRegister(lo(0)) & Redir.DELIVERY_STATUS).toBe(0);
  });

  it('decodes the low address byte and reads 0 from undecoded offsets', () => {
    const { io } = make();
    io.mmioWrite(0x100 + IoApicMmio.IOREGSEL, 0x01);
    expect(io.mmioRead(IoApicMmio.IOREGSEL)).toBe(0x01);
    expect(io.mmioRead(0x110)).toBe(0x00170011);
    expect(io.mmioRead(0x20)).toBe(0);
    io.mmioWrite(0x20, 0xffffffff);
    expect(io.mmioRead(IoApicMmio.IOREGSEL)).toBe(0x01);
  });

  it('entry decodes every field', () => {
    const { io } = make();
    program(io, 5, 0x7b | mode(DeliveryMode.LOWEST) | Redir.DEST_LOGICAL | Redir.POLARITY_LOW | LEVEL | MASKED, 0xa5000000);
    expect(io.entry(5)).toEqual({
      vector: 0x7b,
      deliveryMode: DeliveryMode.LOWEST,
      logical: true,
      polarityLow: true,
      remoteIrr: false,
      levelTriggered: true,
      masked: true,
      destination: 0xa5,
    });
  });
});

describe('I/O APIC edge-triggered pins', () => {
  it('delivers on a rising edge of an unmasked pin only', () => {
    const { io, sent } = make();
    program(io, 3, 0x33, 0x02000000);
    io.setPin(3, true);
    io.setPin(3, true);
    io.setPin(3, false);
    expect(sent).toEqual([{ vector: 0x33, mode: DeliveryMode.FIXED, logical: false, destination: 2, level: false }]);
    expect(io.remoteIrr(3)).toBe(false);
  });

  it('loses an edge that arrives while masked', () => {
    const { io, sent } = make();
    program(io, 3, 0x33 | MASKED);
    io.setPin(3, true);
    program(io, 3, 0x33);
    expect(sent).toEqual([]);
    io.setPin(3, false);
    io.setPin(3, true);
    expect(sent.map((m) => m.vector)).toEqual([0x33]);
  });

  it('pulse sends one edge and leaves the pin deasserted', () => {
    const { io, sent } = make();
    program(io, 9, 0x49);
    io.pulse(9);
    io.pulse(9);
    expect(sent.map((m) => m.vector)).toEqual([0x49, 0x49]);
    expect(io.pinAsserted(9)).toBe(false);
  });

  it('pulse on an already asserted pin has no edge and changes nothing', () => {
    const { io, sent } = make();
    program(io, 9, 0x49);
    io.setPin(9, true);
    io.pulse(9);
    expect(sent).toHaveLength(1);
    expect(io.pinAsserted(9)).toBe(true);
  });

  it('SMI, NMI, INIT and ExtINT entries act edge-triggered even with trigger mode level', () => {
    for (const m of [DeliveryMode.SMI, DeliveryMode.NMI, DeliveryMode.INIT, DeliveryMode.EXTINT]) {
      const { io, sent } = make();
      program(io, 1, mode(m) | LEVEL);
      io.setPin(1, true);
      expect(io.remoteIrr(1)).toBe(false);
      io.setPin(1, false);
      io.setPin(1, true);
      expect(sent).toHaveLength(2);
      expect(sent.every((s) => s.mode === m && !s.level)).toBe(true);
    }
  });
});

describe('I/O APIC level-triggered pins', () => {
  it('delivers when asserted and sets Remote IRR', () => {
    const { io, sent } = make();
    program(io, 10, 0x5a | LEVEL | Redir.DEST_LOGICAL, 0x0f000000);
    io.setPin(10, true);
    expect(sent).toEqual([{ vector: 0x5a, mode: DeliveryMode.FIXED, logical: true, destination: 0x0f, level: true }]);
    expect(io.remoteIrr(10)).toBe(true);
    expect(io.entry(10).remoteIrr).toBe(true);
  });

  it('coalesces while Remote IRR is set', () => {
    const { io, sent } = make();
    program(io, 10, 0x5a | LEVEL);
    io.setPin(10, true);
    io.setPin(10, false);
    io.setPin(10, true);
    io.pulse(11);
    expect(sent).toHaveLength(1);
    expect(io.remoteIrr(10)).toBe(true);
  });

  it('deassertion does not clear Remote IRR', () => {
    const { io } = make();
    program(io, 10, 0x5a | LEVEL);
    io.setPin(10, true);
    io.setPin(10, false);
    expect(io.remoteIrr(10)).toBe(true);
  });

  it('EOI broadcast clears Remote IRR and re-delivers while the pin is still asserted', () => {
    const { io, sent } = make();
    program(io, 10, 0x5a | LEVEL);
    io.setPin(10, true);
    io.eoi(0x5a);
    expect(sent).toHaveLength(2);
    expect(io.remoteIrr(10)).toBe(true);
    io.setPin(10, false);
    io.eoi(0x5a);
    expect(sent).toHaveLength(2);
    expect(io.remoteIrr(10)).toBe(false);
  });

  it('EOI broadcast for another vector leaves Remote IRR set', () => {
    const { io, sent } = make();
    program(io, 10, 0x5a | LEVEL);
    io.setPin(10, true);
    io.eoi(0x5b);
    expect(io.remoteIrr(10)).toBe(true);
    expect(sent).toHaveLength(1);
  });

  it('EOI clears Remote IRR of every entry with that vector', () => {
    const { io, sent } = make();
    program(io, 1, 0x60 | LEVEL);
    program(io, 2, 0x60 | LEVEL);
    io.setPin(1, true);
    io.setPin(2, true);
    io.setPin(1, false);
    io.eoi(0x60);
    expect(io.remoteIrr(1)).toBe(false);
    expect(io.remoteIrr(2)).toBe(true);
    expect(sent).toHaveLength(3);
  });

  it('EOI register of a version-0x20 I/O APIC clears Remote IRR using bits 7:0 and re-delivers', () => {
    const { io, sent } = make(0x20);
    program(io, 4, 0x44 | LEVEL);
    io.setPin(4, true);
    io.mmioWrite(IoApicMmio.EOI, 0xffffff44);
    expect(sent).toHaveLength(2);
    io.setPin(4, false);
    io.mmioWrite(IoApicMmio.EOI, 0x44);
    expect(io.remoteIrr(4)).toBe(false);
    expect(io.mmioRead(IoApicMmio.EOI)).toBe(0);
  });

  it('EOI register is ignored on a version-0x11 I/O APIC', () => {
    const { io, sent } = make(0x11);
    program(io, 4, 0x44 | LEVEL);
    io.setPin(4, true);
    io.setPin(4, false);
    io.mmioWrite(IoApicMmio.EOI, 0x44);
    expect(io.remoteIrr(4)).toBe(true);
    expect(sent).toHaveLength(1);
  });

  it('a masked level pin delivers nothing and does not set Remote IRR', () => {
    const { io, sent } = make();
    program(io, 6, 0x66 | LEVEL | MASKED);
    io.setPin(6, true);
    expect(sent).toEqual([]);
    expect(io.remoteIrr(6)).toBe(false);
  });

  it('unmasking an asserted level pin delivers', () => {
    const { io, sent } = make();
    program(io, 6, 0x66 | LEVEL | MASKED);
    io.setPin(6, true);
    io.writeRegister(lo(6), 0x66 | LEVEL);
    expect(sent.map((m) => m.vector)).toEqual([0x66]);
    expect(io.remoteIrr(6)).toBe(true);
  });

  it('unmasking a level pin whose Remote IRR is set waits for the EOI', () => {
    const { io, sent } = make();
    program(io, 6, 0x66 | LEVEL);
    io.setPin(6, true);
    io.writeRegister(lo(6), 0x66 | LEVEL | MASKED);
    io.writeRegister(lo(6), 0x66 | LEVEL);
    expect(sent).toHaveLength(1);
    io.eoi(0x66);
    expect(sent).toHaveLength(2);
  });

  it('EOI while masked clears Remote IRR without delivering', () => {
    const { io, sent } = make();
    program(io, 6, 0x66 | LEVEL);
    io.setPin(6, true);
    io.writeRegister(lo(6), 0x66 | LEVEL | MASKED);
    io.eoi(0x66);
    expect(io.remoteIrr(6)).toBe(false);
    expect(sent).toHaveLength(1);
  });

  it('switching an entry from level to edge clears Remote IRR (the Linux EOI emulation for version 0x11)', () => {
    const { io, sent } = make();
    program(io, 8, 0x58 | LEVEL);
    io.setPin(8, true);
    io.writeRegister(lo(8), 0x58 | MASKED);
    expect(io.remoteIrr(8)).toBe(false);
    io.writeRegister(lo(8), 0x58 | LEVEL);
    // Restoring the level entry while the pin is still asserted re-delivers, as an EOI would.
    expect(sent).toHaveLength(2);
    expect(io.remoteIrr(8)).toBe(true);
  });

  it('switching an entry from edge to level while the pin is asserted delivers', () => {
    const { io, sent } = make();
    program(io, 8, 0x58);
    io.setPin(8, true);
    io.writeRegister(lo(8), 0x58 | LEVEL);
    expect(sent.map((m) => m.level)).toEqual([false, true]);
    expect(io.remoteIrr(8)).toBe(true);
  });

  it('pin levels survive reset, and a re-programmed asserted level pin delivers', () => {
    const { io, sent } = make();
    io.setPin(12, true);
    io.reset();
    expect(io.pinAsserted(12)).toBe(true);
    program(io, 12, 0x72 | LEVEL);
    expect(sent.map((m) => m.vector)).toEqual([0x72]);
  });
});

describe('I/O APIC misuse', () => {
  it('host misuse throws HostError', () => {
    const { io } = make();
    expect(() => io.setPin(24, true)).toThrow(HostError);
    expect(() => io.setPin(-1, true)).toThrow(HostError);
    expect(() => io.setPin(1.5, true)).toThrow(HostError);
    expect(() => io.setPin(1, 1 as unknown as boolean)).toThrow(HostError);
    expect(() => io.pulse(24)).toThrow(HostError);
    expect(() => io.entry(24)).toThrow(HostError);
    expect(() => io.eoi(256)).toThrow(HostError);
    expect(() => io.eoi(-1)).toThrow(HostError);
    expect(() => io.readRegister(256)).toThrow(HostError);
    expect(() => io.writeRegister(0x10, 2 ** 32)).toThrow(HostError);
    expect(() => io.mmioRead(0x1000)).toThrow(HostError);
    expect(() => io.mmioWrite(0, -1)).toThrow(HostError);
    expect(() => new IoApic(new Uint32Array(IoApic.WORDS - 1), 0, { deliver() {} })).toThrow(HostError);
    expect(() => new IoApic(new Uint32Array(IoApic.WORDS), 1, { deliver() {} })).toThrow(HostError);
    expect(() => new IoApic(new Uint32Array(IoApic.WORDS), 0, { deliver() {} }, { version: 0x12 as 0x11 })).toThrow(HostError);
  });

  it('guest misuse never throws', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 0xfff }), fc.nat(0xffffffff)), { maxLength: 60 }), (writes) => {
        const { io } = make(0x20);
        io.setPin(0, true);
        for (const [offset, value] of writes) {
          io.mmioWrite(offset, value);
          io.mmioRead(offset);
        }
      }),
    );
  });
});

// ---- properties -------------------------------------------------------------------------------

type Op =
  | { k: 'pin'; pin: number; level: boolean }
  | { k: 'pulse'; pin: number }
  | { k: 'eoi'; vector: number }
  | { k: 'eoiReg'; value: number }
  | { k: 'entry'; pin: number; bits: number }
  | { k: 'mmio'; offset: number; value: number }
  | { k: 'reset' };

/** Pin p is programmed with vector VEC0 + p, so a message's vector names its pin. */
const VEC0 = 0x20;
const pinArb = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 23 }));
const vectorArb = fc.oneof(fc.integer({ min: VEC0, max: VEC0 + 3 }), fc.integer({ min: 0, max: 255 }));
const entryBits = fc.oneof(fc.nat(0x1ffff), fc.nat(0xffffffff));

const tableOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('pin' as const), pin: pinArb, level: fc.boolean() }),
  fc.record({ k: fc.constant('pulse' as const), pin: pinArb }),
  fc.record({ k: fc.constant('eoi' as const), vector: vectorArb }),
  fc.record({ k: fc.constant('eoiReg' as const), value: vectorArb }),
  fc.record({ k: fc.constant('entry' as const), pin: pinArb, bits: entryBits }),
  fc.record({ k: fc.constant('reset' as const) }),
);
const anyOp: fc.Arbitrary<Op> = fc.oneof(
  tableOp,
  fc.record({
    k: fc.constant('mmio' as const),
    offset: fc.constantFrom(IoApicMmio.IOREGSEL, IoApicMmio.IOWIN, IoApicMmio.EOI, 0x20),
    value: fc.oneof(fc.integer({ min: 0, max: 0x3f }), fc.nat(0xffffffff)),
  }),
);

function apply(io: IoApic, op: Op): void {
  switch (op.k) {
    case 'pin': io.setPin(op.pin, op.level); break;
    case 'pulse': io.pulse(op.pin); break;
    case 'eoi': io.eoi(op.vector); break;
    case 'eoiReg': io.mmioWrite(IoApicMmio.EOI, op.value); break;
    case 'entry': io.writeRegister(lo(op.pin), ((op.bits & ~0xff) | (VEC0 + op.pin)) >>> 0); break;
    case 'mmio': io.mmioWrite(op.offset, op.value); break;
    case 'reset': io.reset(); break;
  }
}

const EDGE_ONLY = new Set<DeliveryMode>([DeliveryMode.SMI, DeliveryMode.NMI, DeliveryMode.INIT, DeliveryMode.EXTINT]);
const actsLevel = (io: IoApic, pin: number): boolean => io.entry(pin).levelTriggered && !EDGE_ONLY.has(io.entry(pin).deliveryMode);

describe('I/O APIC properties', () => {
  it('never delivers a level-triggered interrupt twice without an EOI, and never leaves an asserted unmasked level pin undelivered', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x11 as const, 0x20 as const), fc.array(tableOp, { maxLength: 80 }), (version, ops) => {
        // outstanding[p]: a level message from pin p awaits its EOI.
        const outstanding = new Array<boolean>(24).fill(false);
        const { io } = make(version, (m) => {
          if (!m.level) return;
          const pin = m.vector - VEC0;
          expect(outstanding[pin]).toBe(false);
          outstanding[pin] = true;
        });
        for (let pin = 0; pin < 24; pin++) program(io, pin, (VEC0 + pin) | MASKED);
        for (const op of ops) {
          const eoiVector = op.k === 'eoi' ? op.vector : op.k === 'eoiReg' && version === 0x20 ? op.value & 0xff : -1;
          if (eoiVector >= VEC0 && eoiVector < VEC0 + 24) outstanding[eoiVector - VEC0] = false;
          if (op.k === 'entry' && (op.bits & LEVEL) === 0) outstanding[op.pin] = false;
          if (op.k === 'reset') outstanding.fill(false);
          apply(io, op);
          if (op.k === 'reset') for (let pin = 0; pin < 24; pin++) program(io, pin, (VEC0 + pin) | MASKED);
          for (let pin = 0; pin < 24; pin++) {
            expect(io.remoteIrr(pin)).toBe(outstanding[pin]);
            if (actsLevel(io, pin) && io.pinAsserted(pin) && !io.entry(pin).masked) expect(io.remoteIrr(pin)).toBe(true);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('keeps the state canonical: reserved bits stay 0', () => {
    fc.assert(
      fc.property(fc.array(anyOp, { maxLength: 80 }), (ops) => {
        const { io, state } = make(0x20);
        for (const op of ops) apply(io, op);
        expect(state[BASE] & ~0xff).toBe(0);
        expect(state[BASE + 1] & ~0x0f000000).toBe(0);
        expect(state[BASE + 2] >>> 24).toBe(0);
        for (let pin = 0; pin < 24; pin++) {
          expect(state[BASE + 3 + 2 * pin] & ~(Redir.LO_WRITABLE | Redir.REMOTE_IRR)).toBe(0);
          expect(state[BASE + 4 + 2 * pin] & ~Redir.HI_WRITABLE).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('behaves identically after state.set(copy), in the same device or another one', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x11 as const, 0x20 as const),
        fc.array(anyOp, { maxLength: 50 }),
        fc.array(anyOp, { maxLength: 50 }),
        (version, prefix, suffix) => {
          const a = make(version);
          for (const op of prefix) apply(a.io, op);
          const snapshot = a.state.slice();
          const mark = a.sent.length;
          for (const op of suffix) apply(a.io, op);
          const expected = { sent: a.sent.slice(mark), state: a.state.slice() };

          a.state.set(snapshot);
          a.sent.length = 0;
          for (const op of suffix) apply(a.io, op);
          expect({ sent: a.sent, state: a.state }).toEqual(expected);

          const b = make(version);
          b.state.set(snapshot);
          for (const op of suffix) apply(b.io, op);
          expect({ sent: b.sent, state: b.state }).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
