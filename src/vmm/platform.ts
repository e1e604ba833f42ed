// The PC devices a lapis-vmm guest sees besides the APICs, all on port I/O: a 16550 UART at 0x3F8 (output only:
// the transmitter is always empty; its THRE interrupt on ISA IRQ 4), QEMU's fw_cfg at 0x510/0x511, isa-debug-exit at 0xF4 and pc-testdev (its IRQ
// lines at 0x2000 + n drive I/O APIC pin n, its scratch port 0xE0 and page flush 0xE4). kvm-unit-tests touches these
// (lib/x86/io.c, fwcfg.c, apic.c set_irq_line, x86/eventinj.c). The catalog's guests (guest/runtime.asm, the
// lapis-vmm backend) print to QEMU's isa-debugcon at 0xE9 (the same output as COM1) and calibrate their TSC against
// the PIT's channel 2, gated through port 0x61 (tsc_calibrate): that channel is here, counting on the guest's TSC.
// Legacy ports a PC guest probes for devices that are
// not here (8259 masks, PIT, CMOS, PCI configuration, keyboard, POST) read as no device (all ones) and drop writes;
// any other port is a device lapis-vmm does not emulate: `pio` returns undefined and the VMM stops with a message.
// The state lives in `ctl` words (shared by the vCPU threads, used under their lock).

import { Edu } from './edu.js';

export const Port = {
  COM1: 0x3f8,
  CMOS_INDEX: 0x70,
  CMOS_DATA: 0x71,
  FW_CFG_SELECTOR: 0x510,
  FW_CFG_DATA: 0x511,
  DEBUG_EXIT: 0xf4,
  TESTDEV_IOPORT: 0xe0,
  TESTDEV_FLUSH_PAGE: 0xe4,
  TESTDEV_IRQ: 0x2000,
  DEBUGCON: 0xe9,
  PIT_COUNTER2: 0x42,
  PIT_CONTROL: 0x43,
  PORT_B: 0x61,
} as const;
export const TESTDEV_IRQ_LINES = 24;

/** fw_cfg items (QEMU docs/specs/fw_cfg.rst; kvm-unit-tests lib/x86/fwcfg.h). */
export const FwCfg = { SIGNATURE: 0x00, ID: 0x01, RAM_SIZE: 0x03, NB_CPUS: 0x05, MAX_CPUS: 0x0f, MAX_RAM: 0x11 } as const;

/** Words of the shared control block the platform uses (below src/vmm/irqchip.ts's CTL_HEADER). */
export const PlatformCtl = {
  FW_SEL: 4, FW_OFF: 5, LCR: 6, IER: 7, MCR: 8, SCR: 9, DLL: 10, DLM: 11, SCRATCH: 12, THRE: 13, IRQ: 14, CMOS_INDEX: 15,
  /** PIT channel 2: its count (0 = 65536), the next byte written (PIT_LSB/PIT_MSB bits), port B's gate and speaker
   *  bits, the ticks counted before the gate last rose, and the guest TSC (low, high words) when it rose. */
  PIT_COUNT: 16, PIT_WRITE: 17, PORT_B: 18, PIT_DONE: 19, PIT_START_LO: 20, PIT_START_HI: 21,
} as const;
/** The 8254's input clock, Hz (8254 datasheet; the PC's 14.31818 MHz crystal divided by 12). */
export const PIT_HZ = 1_193_182;
/** PIT_WRITE: the control word's read/write field (bits 5:4) in bits 1:0 (1 LSB only, 2 MSB only, 3 LSB then MSB);
 *  bit 2: the LSB of an LSB-then-MSB pair was written, the MSB is next; bit 3: a control word was written and the
 *  count is not complete (OUT2 stays low). */
const PIT_LSB_NEXT_MSB = 4, PIT_AWAIT_COUNT = 8;
/** COM1's ISA IRQ, I/O APIC pin 4 (the MP table maps ISA IRQ n to pin n). */
export const COM1_IRQ = 4;

/** 16550 registers (offsets from the base; DLAB = LCR bit 7 selects the divisor latch at 0 and 1). */
const Uart = { THR: 0, IER: 1, IIR: 2, LCR: 3, MCR: 4, LSR: 5, MSR: 6, SCR: 7 } as const;
/** LSR: THRE (bit 5) and TEMT (bit 6): the transmitter takes every byte at once. */
const LSR_IDLE = 0x60;
/** IER bit 1: the transmitter holding register empty interrupt. */
const IER_ETBEI = 0x02;

/** Ports of devices absent from this PC: reads float high, writes are dropped. */
const ABSENT: readonly (readonly [number, number])[] = [
  [0x00, 0x1f], [0xc0, 0xdf], [0x80, 0x8f], // DMA controllers and page registers, POST codes (Linux's io_delay: 0x80)
  [0x20, 0x21], [0xa0, 0xa1], [0x4d0, 0x4d1], // 8259 PICs and their ELCR (kvm-unit-tests masks them: lib/x86/apic.c mask_pic_interrupts)
  [0x40, 0x41], // PIT channels 0 and 1 (channel 2 and port B are emulated)
  [0x60, 0x60], [0x64, 0x64], [0x92, 0x92], // keyboard controller, system control port A
  [0xf0, 0xf1], // the x87 error latch
  [0x2e8, 0x2ef], [0x2f8, 0x2ff], [0x3e8, 0x3ef], // the other UARTs (Linux's 8250 probes all four)
  [0x3b0, 0x3df], [0xcf8, 0xcff], // MDA/VGA, PCI configuration mechanisms #1 and #2, reset control 0xCF9
  [0x8900, 0x8900], // the Bochs shutdown port kvm-unit-tests writes after isa-debug-exit (lib/x86/io.c exit)
];

export interface PlatformHost {
  cpus: number;
  ramBytes: number;
  /** Bytes the guest wrote to COM1. */
  serial(byte: number): void;
  /** isa-debug-exit: the process exit status, (code << 1) | 1 as QEMU reports it. */
  exit(status: number): void;
  /** pc-testdev IRQ line n: I/O APIC pin n. */
  irq(line: number, asserted: boolean): void;
  /** pc-testdev flush page: make the guest's next access to this page fault in again (QEMU remaps it). */
  flushPage?(gpa: number): void;
  /** The RTC's time: milliseconds since 1970 UTC (default: the host's clock). */
  wallClockMs?(): number;
  /** The guest's TSC now and its rate in kHz: the PIT counts on the same clock as lapis (src/vmm/shared.ts). */
  tsc(): number;
  tscKhz(): number;
  /** QEMU's edu device on PCI bus 0 (`lapis vmm --device edu`; src/vmm/edu.ts), its MSIs sent with `msi`. */
  edu?: boolean;
  msi?(address: number, data: number): void;
}

/**
 * The modem status in loopback (MCR bit 4; PC16550D "Modem Control Register"): CTS follows RTS, DSR DTR, RI OUT1 and
 * DCD OUT2. Linux's 8250 driver finds the UART by this test (autoconfig: MCR = LOOP | RTS | OUT2 must read DCD | CTS).
 */
function loopbackMsr(mcr: number): number {
  return ((mcr & 0x02) << 3) | ((mcr & 0x01) << 5) | ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4);
}

export class Platform {
  private readonly edu: Edu | null;

  constructor(
    private readonly ctl: Int32Array,
    private readonly host: PlatformHost,
  ) {
    this.edu = host.edu ? new Edu(ctl, { msi: (a, d) => host.msi?.(a, d) }) : null;
  }

  /** A memory access no APIC decodes: the value read (writes return 0), or undefined where no device is. */
  mmio(addr: number, size: number, write: boolean, value: number): number | undefined {
    return this.edu?.mmio(addr, size, write, value);
  }

  /** A port access of `size` bytes: the value read (writes return 0), or undefined for a device not emulated here. */
  pio(port: number, size: number, write: boolean, value: number): number | undefined {
    const ones = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    if (port >= Port.COM1 && port < Port.COM1 + 8) return this.uart(port - Port.COM1, write, value & 0xff);
    if (port === Port.CMOS_INDEX) {
      if (write) this.ctl[PlatformCtl.CMOS_INDEX] = value & 0x7f; // bit 7 masks NMI on a PC: no NMI source here
      return write ? 0 : ones;
    }
    if (port === Port.CMOS_DATA) return write ? 0 : this.cmos(this.ctl[PlatformCtl.CMOS_INDEX]);
    if (port === Port.FW_CFG_SELECTOR && size === 2) {
      if (write) {
        this.ctl[PlatformCtl.FW_SEL] = value & 0xffff;
        this.ctl[PlatformCtl.FW_OFF] = 0;
      }
      return write ? 0 : this.ctl[PlatformCtl.FW_SEL];
    }
    if (port === Port.FW_CFG_DATA && size === 1) return write ? 0 : this.fwCfgByte();
    if (port >= Port.DEBUG_EXIT && port < Port.DEBUG_EXIT + 4) {
      if (write) this.host.exit(((value >>> 0) * 2 + 1) % 0x100000000);
      return write ? 0 : ones;
    }
    if (port === Port.TESTDEV_IOPORT && size === 4) {
      if (write) this.ctl[PlatformCtl.SCRATCH] = value | 0;
      return write ? 0 : this.ctl[PlatformCtl.SCRATCH] >>> 0;
    }
    if (port === Port.TESTDEV_FLUSH_PAGE && size === 4) {
      if (write) this.host.flushPage?.((value >>> 0) & ~0xfff);
      return write ? 0 : ones;
    }
    if (port >= Port.TESTDEV_IRQ && port < Port.TESTDEV_IRQ + TESTDEV_IRQ_LINES && size === 1) {
      if (write) this.host.irq(port - Port.TESTDEV_IRQ, (value & 0xff) !== 0);
      return write ? 0 : ones;
    }
    if (this.edu && (port === 0xcf8 || (port >= 0xcfc && port <= 0xcff))) return this.edu.pio(port, size, write, value);
    if (port === Port.DEBUGCON && size === 1) {
      if (write) this.host.serial(value & 0xff);
      return write ? 0 : Port.DEBUGCON; // QEMU's isa-debugcon reads back its readback value, 0xE9
    }
    if (port === Port.PIT_CONTROL && size === 1) {
      if (write) this.pitControl(value & 0xff);
      return write ? 0 : ones;
    }
    if (port === Port.PIT_COUNTER2 && size === 1) {
      if (write) this.pitCount(value & 0xff);
      return write ? 0 : ones;
    }
    if (port === Port.PORT_B && size === 1) {
      if (write) this.portB(value & 0xff);
      return write ? 0 : this.ctl[PlatformCtl.PORT_B] | (this.out2() ? 0x20 : 0);
    }
    for (const [lo, hi] of ABSENT) if (port >= lo && port <= hi) return write ? 0 : ones;
    return undefined;
  }

  // ---- PIT channel 2 (8254 datasheet, mode 0 "interrupt on terminal count"; port B: IBM PC/AT technical reference)
  // Only what a TSC calibration needs: a control word for counter 2 selects how its count is written and sets OUT2
  // low; the count loads; with GATE2 (port B bit 0) high the counter counts down at PIT_HZ and OUT2 (port B bit 5)
  // goes high when it reaches zero, N clocks after counting began; GATE2 low suspends counting. Counting is on the
  // guest's TSC, so a calibration measures KVM_GET_TSC_KHZ. The other modes count the same way (nothing here uses
  // them); the counters cannot be read back (reads float high), and counters 0 and 1 are absent.

  private pitControl(v: number): void {
    if (v >> 6 !== 2) return; // counter 0 or 1 (absent), or the read-back command
    const rw = (v >> 4) & 3;
    if (rw === 0) return; // counter latch: nothing to latch, the count is not readable
    this.ctl[PlatformCtl.PIT_WRITE] = rw | PIT_AWAIT_COUNT;
    this.ctl[PlatformCtl.PIT_DONE] = 0;
  }

  private pitCount(b: number): void {
    const c = this.ctl, w = c[PlatformCtl.PIT_WRITE], rw = w & 3;
    if (rw === 0) return; // no control word yet
    if (rw === 3 && !(w & PIT_LSB_NEXT_MSB)) {
      c[PlatformCtl.PIT_COUNT] = b;
      c[PlatformCtl.PIT_WRITE] = rw | PIT_LSB_NEXT_MSB | PIT_AWAIT_COUNT;
      c[PlatformCtl.PIT_DONE] = 0;
      return;
    }
    c[PlatformCtl.PIT_COUNT] = rw === 1 ? b : rw === 2 ? b << 8 : (c[PlatformCtl.PIT_COUNT] & 0xff) | (b << 8);
    c[PlatformCtl.PIT_WRITE] = rw;
    c[PlatformCtl.PIT_DONE] = 0; // a new count: nothing counted yet; counting starts now if the gate is high
    if (c[PlatformCtl.PORT_B] & 1) this.pitStart();
  }

  private pitStart(): void {
    const t = this.host.tsc();
    this.ctl[PlatformCtl.PIT_START_LO] = t % 0x100000000 | 0;
    this.ctl[PlatformCtl.PIT_START_HI] = Math.floor(t / 0x100000000);
  }

  /** PIT clocks counted since counting last resumed (the gate is high). */
  private pitRunning(): number {
    const c = this.ctl;
    const start = (c[PlatformCtl.PIT_START_LO] >>> 0) + (c[PlatformCtl.PIT_START_HI] >>> 0) * 0x100000000;
    return Math.max(0, Math.floor(((this.host.tsc() - start) * PIT_HZ) / (this.host.tscKhz() * 1000)));
  }

  private portB(v: number): void {
    const c = this.ctl, was = c[PlatformCtl.PORT_B] & 1, gate = v & 1;
    if (!was && gate) this.pitStart();
    else if (was && !gate) c[PlatformCtl.PIT_DONE] = Math.min(0x7fffffff, c[PlatformCtl.PIT_DONE] + this.pitRunning());
    c[PlatformCtl.PORT_B] = v & 3; // GATE2, speaker data
  }

  private out2(): boolean {
    const c = this.ctl;
    if ((c[PlatformCtl.PIT_WRITE] & 3) === 0 || c[PlatformCtl.PIT_WRITE] & PIT_AWAIT_COUNT) return false;
    const n = c[PlatformCtl.PIT_COUNT] || 0x10000;
    const counted = c[PlatformCtl.PIT_DONE] + (c[PlatformCtl.PORT_B] & 1 ? this.pitRunning() : 0);
    return counted >= n;
  }

  private uart(reg: number, write: boolean, v: number): number {
    const ctl = this.ctl, dlab = (ctl[PlatformCtl.LCR] & 0x80) !== 0;
    if (write) {
      switch (reg) {
        case Uart.THR:
          if (dlab) {
            ctl[PlatformCtl.DLL] = v;
            break;
          }
          if (!(ctl[PlatformCtl.MCR] & 0x10)) this.host.serial(v); // in loopback nothing reaches the line
          // Writing THR clears the THRE interrupt; the byte leaves at once, so THR is empty again: a new edge.
          ctl[PlatformCtl.THRE] = 0;
          this.updateIrq();
          ctl[PlatformCtl.THRE] = 1;
          break;
        case Uart.IER:
          if (dlab) ctl[PlatformCtl.DLM] = v;
          else {
            // Enabling the THRE interrupt with THR empty raises it (PC16550D: "THRE ... when ETBEI is set").
            if (v & ~ctl[PlatformCtl.IER] & IER_ETBEI) ctl[PlatformCtl.THRE] = 1;
            ctl[PlatformCtl.IER] = v & 0x0f;
          }
          break;
        case Uart.LCR: ctl[PlatformCtl.LCR] = v; break;
        case Uart.MCR: ctl[PlatformCtl.MCR] = v & 0x1f; break;
        case Uart.SCR: ctl[PlatformCtl.SCR] = v; break;
        default: break; // FCR, LSR and MSR writes: no FIFO to control, read-only status
      }
      this.updateIrq();
      return 0;
    }
    switch (reg) {
      case Uart.THR: return dlab ? ctl[PlatformCtl.DLL] : 0; // RBR: nothing received
      case Uart.IER: return dlab ? ctl[PlatformCtl.DLM] : ctl[PlatformCtl.IER];
      case Uart.IIR: {
        // The only source is THRE (nothing is ever received); reading IIR that reports it clears it.
        if (!this.threInterrupt()) return 0x01;
        ctl[PlatformCtl.THRE] = 0;
        this.updateIrq();
        return 0x02;
      }
      case Uart.LCR: return ctl[PlatformCtl.LCR];
      case Uart.MCR: return ctl[PlatformCtl.MCR];
      case Uart.LSR: return LSR_IDLE;
      case Uart.MSR: return ctl[PlatformCtl.MCR] & 0x10 ? loopbackMsr(ctl[PlatformCtl.MCR]) : 0xb0; // CTS, DSR, DCD: a terminal is attached
      default: return ctl[PlatformCtl.SCR];
    }
  }

  private threInterrupt(): boolean {
    return (this.ctl[PlatformCtl.IER] & IER_ETBEI) !== 0 && this.ctl[PlatformCtl.THRE] !== 0;
  }

  /** COM1's IRQ line: an interrupt pending, gated by OUT2 as on a PC (MCR bit 3). Edges reach the I/O APIC. */
  private updateIrq(): void {
    const level = this.threInterrupt() && (this.ctl[PlatformCtl.MCR] & 0x08) !== 0 ? 1 : 0;
    if (level === this.ctl[PlatformCtl.IRQ]) return;
    this.ctl[PlatformCtl.IRQ] = level;
    this.host.irq(COM1_IRQ, level === 1);
  }

  /**
   * The MC146818 RTC, read-only: the host's UTC time in BCD, 24-hour (register B = 02h), never mid-update (register
   * A's UIP clear), valid (register D's VRT set); the rest of CMOS reads 0 and writes are dropped. Linux's rtc_cmos
   * probes it at boot, and an all-ones UIP kept it polling for seconds.
   */
  private cmos(index: number): number {
    const d = new Date(this.host.wallClockMs?.() ?? Date.now());
    const bcd = (n: number): number => ((Math.floor(n / 10) % 10) << 4) | (n % 10);
    switch (index) {
      case 0x00: return bcd(d.getUTCSeconds());
      case 0x02: return bcd(d.getUTCMinutes());
      case 0x04: return bcd(d.getUTCHours());
      case 0x06: return d.getUTCDay() + 1;
      case 0x07: return bcd(d.getUTCDate());
      case 0x08: return bcd(d.getUTCMonth() + 1);
      case 0x09: return bcd(d.getUTCFullYear() % 100);
      case 0x32: return bcd(Math.floor(d.getUTCFullYear() / 100));
      case 0x0a: return 0x26; // 32.768 kHz time base, 1024 Hz rate, UIP clear
      case 0x0b: return 0x02; // 24-hour, BCD, no interrupts
      case 0x0d: return 0x80; // VRT: the time and RAM are valid
      default: return 0;
    }
  }

  private fwCfgByte(): number {
    const item = this.fwCfgItem(this.ctl[PlatformCtl.FW_SEL]);
    const off = this.ctl[PlatformCtl.FW_OFF]++;
    return item && off < item.length ? item[off] : 0;
  }

  fwCfgItem(selector: number): Uint8Array | null {
    const le = (v: number, n: number): Uint8Array => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
      return b;
    };
    switch (selector) {
      case FwCfg.SIGNATURE: return new TextEncoder().encode('QEMU');
      case FwCfg.ID: return le(1, 4); // the traditional interface only (no DMA)
      case FwCfg.RAM_SIZE:
      case FwCfg.MAX_RAM: return le(this.host.ramBytes, 8);
      case FwCfg.NB_CPUS:
      case FwCfg.MAX_CPUS: return le(this.host.cpus, 2);
      default: return null;
    }
  }
}
