// QEMU's edu device (hw/misc/edu.c, PCI 1234:11e8) as far as a guest uses it to send MSIs of its choosing: the
// catalog's tests with `msi` agents (guest/ioapic.asm lit_msi_boot, lit_msi_send) find it on PCI bus 0 through
// configuration mechanism #1 (ports 0xCF8/0xCFC), program its MSI capability and make it raise its interrupt through
// BAR0 + 0x60. lapis vmm has no firmware to assign BAR0, so it comes assigned (EDU_BAR). Present only with
// `lapis vmm --device edu` (the lapis-vmm backend asks for it when a test sends MSIs); otherwise the PCI ports read
// as no PCI at all. Not here: edu's factorial and DMA engines and its INTx pin (no guest of ours uses them).
// The state lives in `ctl` words (EduCtl), shared by the vCPU threads, used under their lock.

/** PCI bus 0, this device number, function 0. */
export const EDU_DEVICE = 4;
/** BAR0 (1 MiB of MMIO), below the I/O APIC and the local APICs. */
export const EDU_BAR = 0xfe000000;
const BAR_SIZE = 1 << 20;
/** The MSI capability's offset in configuration space (QEMU's msi_init puts edu's first capability at 0x40). */
export const EDU_MSI_CAP = 0x40;

/** Words of the shared control block (after src/vmm/platform.ts's). */
export const EduCtl = { ADDRESS: 22, COMMAND: 23, BAR: 24, MSI_CONTROL: 25, MSI_ADDRESS: 26, MSI_ADDRESS_HI: 27, MSI_DATA: 28, IRQ_STATUS: 29, LIVENESS: 30 } as const;

/** PCI Local Bus 3.0 6.2.2 Command: memory space (bit 1), bus master (bit 2). */
const CMD_MEMORY = 1 << 1, CMD_MASTER = 1 << 2;
/** PCI Local Bus 3.0 6.8.1.3 Message Control: MSI enable (bit 0), multiple message enable (6:4), 64-bit (bit 7). */
const MSI_ENABLE = 1, MSI_MME = 0x70, MSI_64BIT = 0x80;

export interface EduHost {
  /** A memory write the device masters to the local APICs' range: an MSI (lapis's Machine.msi). */
  msi(address: number, data: number): void;
}

export class Edu {
  constructor(
    private readonly ctl: Int32Array,
    private readonly host: EduHost,
  ) {
    ctl[EduCtl.BAR] = EDU_BAR | 0;
  }

  /** Port 0xCF8 (the configuration address, dword accesses) and 0xCFC-0xCFF (its data): the value read. */
  pio(port: number, size: number, write: boolean, value: number): number {
    const ones = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    if (port === 0xcf8) {
      if (size !== 4) return write ? 0 : ones; // mechanism #1 decodes dword accesses only
      if (write) this.ctl[EduCtl.ADDRESS] = value | 0;
      return write ? 0 : this.ctl[EduCtl.ADDRESS] >>> 0;
    }
    const a = this.ctl[EduCtl.ADDRESS] >>> 0, shift = 8 * (port & 3);
    // Enabled (bit 31), bus 0 (23:16), this device (15:11), function 0 (10:8): anything else is no device.
    if (!(a & 0x80000000) || ((a >>> 8) & 0x7fff) !== EDU_DEVICE << 3) return write ? 0 : ones;
    const reg = a & 0xfc;
    if (!write) return (this.config(reg) >>> shift) & ones;
    const mask = (ones << shift) >>> 0;
    this.configWrite(reg, ((this.config(reg) & ~mask) | ((value << shift) & mask)) >>> 0);
    return 0;
  }

  /** A dword of configuration space (PCI Local Bus 3.0 6.1, Figure 6-1; QEMU's edu_class_init and msi_init). */
  config(reg: number): number {
    const c = this.ctl;
    switch (reg) {
      case 0x00: return 0x11e81234; // device, vendor
      case 0x04: return ((0x0010 << 16) | (c[EduCtl.COMMAND] & 0xffff)) >>> 0; // status: capabilities list
      case 0x08: return 0xff000010; // class "other", revision 0x10
      case 0x10: return c[EduCtl.BAR] >>> 0; // 32-bit non-prefetchable memory
      case 0x34: return EDU_MSI_CAP;
      case 0x3c: return 0x00000100; // interrupt pin INTA, line unassigned
      case EDU_MSI_CAP: return ((((c[EduCtl.MSI_CONTROL] & (MSI_ENABLE | MSI_MME)) | MSI_64BIT) << 16) | 0x05) >>> 0; // MSI, the last capability
      case EDU_MSI_CAP + 4: return c[EduCtl.MSI_ADDRESS] >>> 0;
      case EDU_MSI_CAP + 8: return c[EduCtl.MSI_ADDRESS_HI] >>> 0;
      case EDU_MSI_CAP + 12: return c[EduCtl.MSI_DATA] & 0xffff;
      default: return 0;
    }
  }

  private configWrite(reg: number, v: number): void {
    const c = this.ctl;
    switch (reg) {
      case 0x04: c[EduCtl.COMMAND] = v & (CMD_MEMORY | CMD_MASTER); break;
      case 0x10: c[EduCtl.BAR] = (v & ~(BAR_SIZE - 1)) | 0; break; // all ones reads back the size
      case EDU_MSI_CAP: c[EduCtl.MSI_CONTROL] = (v >>> 16) & (MSI_ENABLE | MSI_MME); break;
      case EDU_MSI_CAP + 4: c[EduCtl.MSI_ADDRESS] = (v & ~3) | 0; break;
      case EDU_MSI_CAP + 8: c[EduCtl.MSI_ADDRESS_HI] = v | 0; break;
      case EDU_MSI_CAP + 12: c[EduCtl.MSI_DATA] = v & 0xffff; break;
      default: break; // read-only or not implemented
    }
  }

  /** An access to guest-physical `addr`: undefined where BAR0 does not decode it (memory space disabled, or outside
   *  it); else the value read. 4-byte accesses only (edu_mmio_read/write: other sizes read all ones, dropped). */
  mmio(addr: number, size: number, write: boolean, value: number): number | undefined {
    const c = this.ctl, base = c[EduCtl.BAR] >>> 0, off = addr - base;
    if (!(c[EduCtl.COMMAND] & CMD_MEMORY) || off < 0 || off >= BAR_SIZE) return undefined;
    if (size !== 4) return write ? 0 : 0xffffffff;
    if (!write) {
      switch (off) {
        case 0x00: return 0x010000ed; // version 1.0, "ed"
        case 0x04: return ~c[EduCtl.LIVENESS] >>> 0;
        case 0x24: return c[EduCtl.IRQ_STATUS] >>> 0;
        default: return 0xffffffff;
      }
    }
    if (off === 0x04) c[EduCtl.LIVENESS] = value | 0;
    else if (off === 0x60) {
      c[EduCtl.IRQ_STATUS] |= value;
      this.notify();
    } else if (off === 0x64) c[EduCtl.IRQ_STATUS] &= ~value;
    return 0;
  }

  /** msi_notify: with MSI enabled, one message (vector 0 of those enabled) as a memory write the device masters,
   *  dropped unless bus mastering is on (QEMU's bus_master_as) or the address is above 4 GiB (no APIC there). */
  private notify(): void {
    const c = this.ctl;
    if (!(c[EduCtl.MSI_CONTROL] & MSI_ENABLE) || !(c[EduCtl.COMMAND] & CMD_MASTER) || c[EduCtl.MSI_ADDRESS_HI] !== 0) return;
    this.host.msi(c[EduCtl.MSI_ADDRESS] >>> 0, c[EduCtl.MSI_DATA] & 0xffff);
  }
}
