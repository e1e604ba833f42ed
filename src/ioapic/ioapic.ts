// The I/O APIC: 24 interrupt input pins, a redirection table, and the indirect register window.
// Modelled on the Intel 82093AA I/O APIC datasheet ("82093AA"), plus the EOI register of the
// version-0x20 I/O(x)APIC in the ICH datasheets ("ICH"). Decisions where the sources are silent or
// disagree are in docs/ioapic.md.

import { DeliveryMode } from '../arch/apic.js';
import { HostError, checkU32, checkVector } from '../arch/errors.js';
import {
  IOAPIC_PINS, IOREGSEL_MASK, IoApicId, IoApicMmio, IoApicReg, IoApicVer, Redir,
} from '../arch/ioapic.js';
import { put, putFill } from '../arch/writes.js';

export interface IoApicHost {
  /** Put one interrupt message on the APIC bus. */
  deliver(vector: number, deliveryMode: DeliveryMode, logical: boolean, destination: number, levelTriggered: boolean): void;
  trace?(text: string): void;
}

export interface IoApicOptions {
  version?: 0x11 | 0x20;
  pins?: 24;
  /** Quirk ioapicArbitrationReadsZero (Bochs 2.7): IOAPICARB reads 0. */
  arbitrationReadsZero?: boolean;
}

/** A decoded redirection table entry. */
export interface IoApicEntry {
  vector: number;
  deliveryMode: DeliveryMode;
  logical: boolean;
  polarityLow: boolean;
  remoteIrr: boolean;
  levelTriggered: boolean;
  masked: boolean;
  destination: number;
}

/** Word offsets of the state, relative to `base`. Every unused bit is 0. */
const W = {
  /** IOREGSEL, bits 7:0. */
  IOREGSEL: 0,
  /** IOAPICID as read through IOWIN (bits 27:24). */
  ID: 1,
  /** Input pin levels, bit n = pin n logically asserted. */
  PINS: 2,
  /** Redirection table: entry n is words REDTBL + 2n (bits 31:0) and REDTBL + 2n + 1 (bits 63:32). */
  REDTBL: 3,
} as const;

const REDTBL_LAST = IoApicReg.REDTBL_BASE + 2 * IOAPIC_PINS - 1;

/**
 * Whether an entry behaves level-triggered: trigger mode level and a delivery mode that allows it.
 * 82093AA 3.2.4 IOREDTBL DELMOD: SMI "requires an edge trigger mode", NMI and INIT "must be programmed as
 * edge-triggered", ExtINT "requires an edge trigger mode"; Intel Atom E6xx datasheet 11.4.2.3 RTE: Remote IRR
 * "is never set for SMI, NMI, INIT, or ExtINT delivery modes". So those modes act edge-triggered.
 */
function levelSemantics(lo: number): boolean {
  if ((lo & Redir.TRIGGER_LEVEL) === 0) return false;
  const mode = (lo & Redir.DELIVERY_MODE_MASK) >> Redir.DELIVERY_MODE_SHIFT;
  return mode !== DeliveryMode.SMI && mode !== DeliveryMode.NMI && mode !== DeliveryMode.INIT && mode !== DeliveryMode.EXTINT;
}

export class IoApic {
  /** Words of state the device needs at `base`. */
  static readonly WORDS: number = W.REDTBL + 2 * IOAPIC_PINS;

  private readonly version: 0x11 | 0x20;
  private readonly arbitrationReadsZero: boolean;

  constructor(
    private readonly state: Uint32Array,
    private readonly base: number,
    private readonly host: IoApicHost,
    options: IoApicOptions = {},
  ) {
    if (!(state instanceof Uint32Array)) throw new HostError('bad-argument', 'I/O APIC state must be a Uint32Array');
    if (!Number.isInteger(base) || base < 0 || base + IoApic.WORDS > state.length) {
      throw new HostError('bad-argument', `I/O APIC needs ${IoApic.WORDS} words at base ${base}, state has ${state.length}`);
    }
    const version = options.version ?? IoApicVer.V82093AA;
    if (version !== IoApicVer.V82093AA && version !== IoApicVer.IOXAPIC) {
      throw new HostError('bad-argument', `I/O APIC version must be 0x11 or 0x20, got ${version}`);
    }
    if (options.pins !== undefined && options.pins !== IOAPIC_PINS) {
      throw new HostError('bad-argument', `I/O APIC has ${IOAPIC_PINS} pins, got ${options.pins}`);
    }
    this.version = version;
    this.arbitrationReadsZero = options.arbitrationReadsZero ?? false;
    // A new device: no pin driven yet, registers at their power-up values. Restore a snapshot afterwards.
    putFill(state, 0, base, base + IoApic.WORDS);
    this.reset();
  }

  /**
   * Power-up reset. 82093AA 3.1.1 IOREGSEL default 00h; 3.2.1 IOAPICID default 00h; 3.2.4 IOREDTBL default
   * xxx1 xxxx xxxx xxxxh (masked; the x bits are 0 here, as in QEMU and KVM). The pin levels are driven by
   * the devices, not by the I/O APIC, so they survive.
   */
  reset(): void {
    const s = this.state;
    const b = this.base;
    put(s, b + W.IOREGSEL, 0);
    put(s, b + W.ID, 0);
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      put(s, b + W.REDTBL + 2 * pin, Redir.RESET_LO);
      put(s, b + W.REDTBL + 2 * pin + 1, Redir.RESET_HI);
    }
  }

  // ---- memory-mapped interface -------------------------------------------------------------

  /** A 32-bit read at `offset` in the I/O APIC's 4K window. */
  mmioRead(offset: number): number {
    switch (this.decode(offset)) {
      case IoApicMmio.IOREGSEL:
        return this.state[this.base + W.IOREGSEL];
      case IoApicMmio.IOWIN:
        return this.readRegister(this.state[this.base + W.IOREGSEL]);
      default:
        // ICH EOIR is write-only; other offsets are not decoded. Both read 0 (as QEMU and KVM).
        return 0;
    }
  }

  /** A 32-bit write at `offset` in the I/O APIC's 4K window. */
  mmioWrite(offset: number, value: number): void {
    checkU32(value, 'I/O APIC MMIO value');
    switch (this.decode(offset)) {
      case IoApicMmio.IOREGSEL:
        // 82093AA 3.1.1 IOREGSEL: bits 7:0 R/W, bits 31:8 reserved.
        put(this.state, this.base + W.IOREGSEL, value & IOREGSEL_MASK);
        return;
      case IoApicMmio.IOWIN:
        this.writeRegister(this.state[this.base + W.IOREGSEL], value);
        return;
      case IoApicMmio.EOI:
        // ICH EOIR: only I/O(x)APICs of version 0x20 have it (Linux io_apic.c: "IO-APIC versions below 0x20
        // don't support EOI register"). "Only bits 7:0 are actually used. Bits 31:8 are ignored."
        if (this.version === IoApicVer.IOXAPIC) this.endOfInterrupt(value & Redir.VECTOR, 'EOI register');
        return;
      default:
        return;
    }
  }

  // ---- indirect registers --------------------------------------------------------------------

  /** The register at IOREGSEL index `index`, as IOWIN would read it. */
  readRegister(index: number): number {
    this.checkIndex(index);
    const s = this.state;
    const b = this.base;
    switch (index) {
      case IoApicReg.ID:
        return s[b + W.ID];
      case IoApicReg.VER:
        // 82093AA 3.2.2 IOAPICVER: bits 23:16 maximum redirection entry (17h), bits 7:0 version.
        return (((IOAPIC_PINS - 1) << IoApicVer.MAX_REDIR_SHIFT) | this.version) >>> 0;
      case IoApicReg.ARB:
        // 82093AA 3.2.3 IOAPICARB: "loaded when the IOAPIC ID Register is written"; it only rotates with
        // arbitration on the serial APIC bus, which is not modelled, so it equals the ID (as QEMU and KVM).
        // Quirk ioapicArbitrationReadsZero: Bochs answers 0 ("arbitration ID unsupported").
        return this.arbitrationReadsZero ? 0 : s[b + W.ID];
      default: {
        const word = this.redtblWord(index);
        // Reserved indices (03h-0Fh, 40h-FFh) read 0, as QEMU; see docs/ioapic.md.
        return word < 0 ? 0 : s[b + word];
      }
    }
  }

  /** Write the register at IOREGSEL index `index`, as a write to IOWIN would. */
  writeRegister(index: number, value: number): void {
    this.checkIndex(index);
    checkU32(value, 'I/O APIC register value');
    const s = this.state;
    const b = this.base;
    switch (index) {
      case IoApicReg.ID:
        // 82093AA 3.2.1 IOAPICID: bits 27:24 R/W, the rest reserved.
        put(s, b + W.ID, value & IoApicId.MASK);
        return;
      case IoApicReg.VER:
      case IoApicReg.ARB:
        // 82093AA 3.2.2 and 3.2.3: read only.
        return;
      default: {
        const word = this.redtblWord(index);
        if (word < 0) return;
        if ((index & 1) === 1) {
          // 82093AA 3.2.4 IOREDTBL bits 63:56 Destination R/W; 55:32 reserved.
          put(s, b + word, value & Redir.HI_WRITABLE);
        } else {
          // 82093AA 3.2.4 IOREDTBL: Delivery Status and Remote IRR are RO ("writes to this bit ... do not
          // effect this bit"); bits 31:17 reserved.
          let lo = (value & Redir.LO_WRITABLE) | (s[b + word] & Redir.REMOTE_IRR);
          // Remote IRR's "meaning is undefined for edge triggered interrupts" (82093AA 3.2.4); Linux
          // (io_apic.c __eoi_ioapic_pin) clears it on version-0x11 parts by switching the entry to edge and
          // back, so an edge entry has Remote IRR 0 (as QEMU and KVM).
          if ((lo & Redir.TRIGGER_LEVEL) === 0) lo &= ~Redir.REMOTE_IRR;
          put(s, b + word, lo);
        }
        // A now-unmasked (or now-level) entry whose level pin is asserted delivers.
        this.serviceLevel();
      }
    }
  }

  // ---- pins and EOI -----------------------------------------------------------------------------

  /**
   * Drive input pin `pin` to logical `asserted` (polarity already applied by the caller; INTPOL is only
   * stored). Edge entries deliver on a rising edge; level entries deliver while asserted.
   */
  setPin(pin: number, asserted: boolean): void {
    this.checkPin(pin);
    if (typeof asserted !== 'boolean') throw new HostError('bad-argument', `pin level must be a boolean, got ${asserted}`);
    const s = this.state;
    const bit = 1 << pin;
    const pins = s[this.base + W.PINS];
    if (((pins & bit) !== 0) === asserted) return;
    put(s, this.base + W.PINS, asserted ? pins | bit : pins & ~bit);
    // A falling edge delivers nothing, and leaves Remote IRR for the EOI to clear (82093AA 3.2.4 Remote IRR).
    if (!asserted) return;
    const lo = s[this.base + W.REDTBL + 2 * pin];
    if (levelSemantics(lo)) {
      this.serviceLevel();
    } else if ((lo & Redir.MASKED) === 0) {
      this.send(pin, lo);
    } else {
      // 82093AA 3.2.4 Interrupt Mask: "Edge-sensitive interrupts signaled on a masked interrupt pin are
      // ignored (i.e., not delivered or held pending)."
      this.host.trace?.(`ioapic: pin ${pin} edge lost (masked)`);
    }
  }

  /** A rising then a falling edge on a deasserted pin. A pin already asserted has no edge: nothing happens. */
  pulse(pin: number): void {
    this.checkPin(pin);
    if (this.pinAsserted(pin)) return;
    this.setPin(pin, true);
    this.setPin(pin, false);
  }

  /** The EOI message a local APIC broadcasts for a level-triggered interrupt with `vector`. */
  eoi(vector: number): void {
    checkVector(vector);
    this.endOfInterrupt(vector, 'EOI message');
  }

  // ---- inspection --------------------------------------------------------------------------------

  entry(pin: number): IoApicEntry {
    this.checkPin(pin);
    const lo = this.state[this.base + W.REDTBL + 2 * pin];
    const hi = this.state[this.base + W.REDTBL + 2 * pin + 1];
    return {
      vector: lo & Redir.VECTOR,
      deliveryMode: ((lo & Redir.DELIVERY_MODE_MASK) >> Redir.DELIVERY_MODE_SHIFT) as DeliveryMode,
      logical: (lo & Redir.DEST_LOGICAL) !== 0,
      polarityLow: (lo & Redir.POLARITY_LOW) !== 0,
      remoteIrr: (lo & Redir.REMOTE_IRR) !== 0,
      levelTriggered: (lo & Redir.TRIGGER_LEVEL) !== 0,
      masked: (lo & Redir.MASKED) !== 0,
      destination: hi >>> Redir.DEST_SHIFT,
    };
  }

  remoteIrr(pin: number): boolean {
    this.checkPin(pin);
    return (this.state[this.base + W.REDTBL + 2 * pin] & Redir.REMOTE_IRR) !== 0;
  }

  pinAsserted(pin: number): boolean {
    this.checkPin(pin);
    return (this.state[this.base + W.PINS] & (1 << pin)) !== 0;
  }

  // ---- internals -----------------------------------------------------------------------------------

  /**
   * 82093AA 3.2.4 Remote IRR: "set to 0 when an EOI message with a matching interrupt vector is received";
   * ICH EOIR: every entry with a matching vector has Remote IRR cleared, and "if its input remained active
   * when the Remote_IRR bit is cleared, the interrupt will be reissued". Only level entries hold Remote IRR.
   */
  private endOfInterrupt(vector: number, source: string): void {
    const s = this.state;
    const first = this.base + W.REDTBL;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = s[first + 2 * pin];
      if ((lo & Redir.VECTOR) === vector && (lo & Redir.REMOTE_IRR) !== 0) {
        put(s, first + 2 * pin, lo & ~Redir.REMOTE_IRR);
        this.host.trace?.(`ioapic: ${source} vector ${vector} clears Remote IRR of pin ${pin}`);
      }
    }
    this.serviceLevel();
  }

  /**
   * Deliver every level entry that is asserted, unmasked and has Remote IRR clear. 82093AA 3.2.4 Remote IRR:
   * set "when local APIC(s) accept the level interrupt"; while set, the asserted level is not sent again.
   * Remote IRR is set before the message goes out so a re-entrant EOI from the host sees it.
   */
  private serviceLevel(): void {
    const s = this.state;
    const first = this.base + W.REDTBL;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = s[first + 2 * pin];
      if (!levelSemantics(lo) || (lo & (Redir.MASKED | Redir.REMOTE_IRR)) !== 0) continue;
      if ((s[this.base + W.PINS] & (1 << pin)) === 0) continue;
      put(s, first + 2 * pin, lo | Redir.REMOTE_IRR);
      this.send(pin, lo);
    }
  }

  /** Put entry `pin`'s message on the bus. The vector goes out as programmed (10h-FEh is the guest's duty). */
  private send(pin: number, lo: number): void {
    const hi = this.state[this.base + W.REDTBL + 2 * pin + 1];
    const vector = lo & Redir.VECTOR;
    const mode = ((lo & Redir.DELIVERY_MODE_MASK) >> Redir.DELIVERY_MODE_SHIFT) as DeliveryMode;
    const logical = (lo & Redir.DEST_LOGICAL) !== 0;
    const destination = hi >>> Redir.DEST_SHIFT;
    const level = levelSemantics(lo);
    this.host.trace?.(
      `ioapic: pin ${pin} sends vector ${vector} mode ${mode} ${logical ? 'logical' : 'physical'} dest ${destination} ${level ? 'level' : 'edge'}`,
    );
    this.host.deliver(vector, mode, logical, destination, level);
  }

  /** Word offset (from base) of the redirection half selected by `index`, or -1 for a reserved index. */
  private redtblWord(index: number): number {
    if (index < IoApicReg.REDTBL_BASE || index > REDTBL_LAST) return -1;
    return W.REDTBL + (index - IoApicReg.REDTBL_BASE);
  }

  private decode(offset: number): number {
    if (!Number.isInteger(offset) || offset < 0 || offset >= IoApicMmio.WINDOW_SIZE) {
      throw new HostError('bad-argument', `I/O APIC MMIO offset must be an integer 0..0xfff, got ${offset}`);
    }
    return offset & IoApicMmio.DECODE_MASK;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index > IOREGSEL_MASK) {
      throw new HostError('bad-argument', `I/O APIC register index must be an integer 0..255, got ${index}`);
    }
  }

  private checkPin(pin: number): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS) {
      throw new HostError('bad-argument', `I/O APIC pin must be an integer 0..${IOAPIC_PINS - 1}, got ${pin}`);
    }
  }
}
