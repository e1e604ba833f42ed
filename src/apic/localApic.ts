// The local APIC: xAPIC MMIO registers, x2APIC MSRs, IA32_APIC_BASE, priority, acceptance, EOI, ESR, LVT,
// and the APIC timer. State lives in the machine's Uint32Array (see layout.ts); this class is a view on it.

import {
  ApicBase, DFR_FLAT, DeliveryMode, Esr, FIRST_LEGAL_VECTOR, Icr, LVT_COUNT, LVT_OFFSETS, LVT_WRITABLE,
  LvtIndex, Lvt, Reg, SPURIOUS_RESET, Shorthand, Svr, TDCR_WRITABLE, TimerMode, VersionReg, X2APIC_MSR_BASE,
  x2apicMsrToOffset,
} from '../arch/apic.js';
import type { Vendor } from '../arch/cpu.js';
import type { SoftDisabledIrr } from '../arch/quirks.js';
import { A, get64, get64n } from './layout.js';
import { ApicTimer } from './timer.js';
import { derivedX2apicLdr, matchesLogical, matchesPhysical } from './destination.js';
import { GP, XAPIC_READ_ONLY, type ApicConfig, type ApicHost, type ApicMode } from './host.js';
import { writeApicBase, type ApicBaseTarget } from './apicBase.js';
import { put, putFill } from '../arch/writes.js';

export { GP, type ApicConfig, type ApicHost, type ApicMode } from './host.js';

/** The words from TPR up to the LINT levels as RESET and INIT leave them (SDM Vol 3A 11.4.7.1): DFR all 1s, SVR 0xFF,
 *  each LVT entry masked, the rest 0. */
const RESET_VALUES = new Uint32Array(A.LINT - A.TPR);
RESET_VALUES[A.DFR - A.TPR] = DFR_FLAT;
RESET_VALUES[A.SVR - A.TPR] = SPURIOUS_RESET;
RESET_VALUES.fill(Lvt.MASKED, A.LVT - A.TPR, A.LVT - A.TPR + LVT_COUNT);

/** One local APIC, a view on its words of the machine state. */
export class LocalApic {
  readonly timer: ApicTimer;
  private readonly baseTarget: ApicBaseTarget;
  constructor(
    private readonly s: Uint32Array,
    private readonly b: number,
    readonly cpu: number,
    private readonly cfg: ApicConfig,
    private readonly host: ApicHost,
  ) {
    this.timer = new ApicTimer(s, b, cfg.timerRatio, cfg.quirks, {
      now: () => host.now(), nowExact: () => host.nowExact(), signal: () => this.signalLvt(LvtIndex.TIMER),
      trace: host.trace ? (text) => host.trace!(cpu, text) : undefined,
    });
    this.baseTarget = {
      s, b, cpu, cfg, host, mode: () => this.mode(), globallyEnabled: () => this.globallyEnabled(), resetRegisters: () => this.resetRegisters(),
    };
  }

  // ---------------------------------------------------------------- reset

  /**
   * Power-up / RESET. SDM Vol 3A 11.4.7.1 Local APIC State After Power-Up or Reset: IRR, ISR, TMR, ICR, LDR
   * and TPR are 0; timer registers 0; DFR all 1s; LVT entries masked (only the mask bit set); SVR 0xFF
   * (software disabled). SDM Vol 3A 11.4.4: IA32_APIC_BASE = 0xFEE00000 | EN | BSP for the BSP;
   * SDM Vol 3A 11.12.5.1 x2APIC States: RESET puts the APIC in xAPIC mode.
   */
  reset(initialId: number, bsp: boolean): void {
    const s = this.s, b = this.b;
    const pins = s[b + A.LINT];
    putFill(s, 0, b, b + A.WORDS);
    put(s, b + A.LINT, pins);
    put(s, b + A.BASE_LO, ApicBase.DEFAULT_BASE | ApicBase.EN | (bsp ? ApicBase.BSP : 0));
    put(s, b + A.INITIAL_ID, initialId >>> 0);
    put(s, b + A.ID, initialId >>> 0);
    this.resetRegisters();
  }

  /**
   * INIT. SDM Vol 3A 11.4.7.3 Local APIC State After an INIT Reset ("Wait-for-SIPI" State): as after
   * power-up, except that the APIC ID and arbitration ID are unaffected. IA32_APIC_BASE (and so xAPIC or
   * x2APIC mode) is unchanged: SDM Vol 3A 11.12.5.1 x2APIC States, except under quirk initResetsApicBase (Bochs).
   */
  initReset(): void {
    const s = this.s, b = this.b;
    if (this.cfg.quirks.initResetsApicId) put(s, b + A.ID, s[b + A.INITIAL_ID]);
    if (this.cfg.quirks.initResetsApicBase) {
      put(s, b + A.BASE_LO, ApicBase.DEFAULT_BASE | ApicBase.EN | (s[b + A.BASE_LO] & ApicBase.BSP));
      put(s, b + A.BASE_HI, 0);
    }
    this.resetRegisters();
  }

  private resetRegisters(): void {
    // Each word written once, with its value after RESET (a fill with 0 and the rest written again wrote DFR, SVR and
    // the LVT twice, and the explorer's write log noted both).
    const s = this.s, at = this.b + A.TPR;
    for (let i = 0; i < RESET_VALUES.length; i++) put(s, at + i, RESET_VALUES[i]);
  }

  // ---------------------------------------------------------------- mode and IA32_APIC_BASE

  mode(): ApicMode {
    const lo = this.s[this.b + A.BASE_LO];
    const en = (lo & ApicBase.EN) !== 0, extd = (lo & ApicBase.EXTD) !== 0;
    return en ? (extd ? 'x2apic' : 'xapic') : extd ? 'invalid' : 'disabled';
  }
  isX2apic(): boolean {
    return (this.s[this.b + A.BASE_LO] & (ApicBase.EN | ApicBase.EXTD)) === (ApicBase.EN | ApicBase.EXTD);
  }
  globallyEnabled(): boolean {
    return (this.s[this.b + A.BASE_LO] & ApicBase.EN) !== 0;
  }
  /** SDM Vol 3A 11.4.3 Enabling or Disabling the Local APIC: SVR bit 8. */
  softwareEnabled(): boolean {
    return (this.s[this.b + A.SVR] & Svr.APIC_ENABLED) !== 0;
  }
  vendor(): Vendor {
    return this.cfg.vendor;
  }
  isBsp(): boolean {
    return (this.s[this.b + A.BASE_LO] & ApicBase.BSP) !== 0;
  }
  /**
   * Whether the xAPIC MMIO interface is there at all: xAPIC mode (SDM Vol 3A 11.12.1.2, 11.4.3). Quirk
   * apicMmioDecodedWhenDisabled: always (QEMU's page looks at no IA32_APIC_BASE bit).
   */
  decodesXapic(): boolean {
    return this.cfg.quirks.apicMmioDecodedWhenDisabled || (this.s[this.b + A.BASE_LO] & (ApicBase.EN | ApicBase.EXTD)) === ApicBase.EN;
  }

  /**
   * The xAPIC MMIO page's physical address: IA32_APIC_BASE's base field (SDM Vol 3A 11.4.5 Relocating the Local APIC
   * Registers). Quirk apicBaseRelocationIgnored: 0xFEE00000 whatever the field holds.
   */
  mmioBase(): number {
    if (this.cfg.quirks.apicBaseRelocationIgnored) return ApicBase.DEFAULT_BASE;
    return get64(this.s, this.b + A.BASE_LO) - (this.s[this.b + A.BASE_LO] & 0xfff);
  }
  /** SDM Vol 3A 11.12.1.2 x2APIC Register Address Space: in x2APIC mode, and when globally disabled, MMIO is not decoded. */
  decodesMmio(address: number): boolean {
    return this.decodesXapic() && address - this.mmioBase() >= 0 && address - this.mmioBase() < 0x1000;
  }

  apicBase(): bigint {
    return get64n(this.s, this.b + A.BASE_LO);
  }

  /** WRMSR IA32_APIC_BASE (src/apic/apicBase.ts): false on #GP. */
  writeApicBase(value: bigint): boolean {
    return writeApicBase(this.baseTarget, value);
  }
  // ---------------------------------------------------------------- derived registers

  id(): number {
    return this.s[this.b + A.ID];
  }
  /** SDM Vol 3A 11.12.10.2 Deriving Logical x2APIC ID from the Local x2APIC ID. */
  x2apicLdr(): number {
    // Quirk x2apicLdrNotDerivedOnEntry: what src/apic/apicBase.ts left in the LDR word (Bochs 2.7).
    if (this.cfg.quirks.x2apicLdrNotDerivedOnEntry) return this.s[this.b + A.LDR];
    return derivedX2apicLdr(this.s[this.b + A.ID]);
  }
  ldr(): number {
    return this.isX2apic() ? this.x2apicLdr() : this.s[this.b + A.LDR];
  }

  /** Quirk versionCountsSixLvts: max LVT entry 5 with the CMCI entry there all the same (Bochs 2.7). */
  version(): number {
    const q = this.cfg.quirks, six = q.noCmciLvt || q.versionCountsSixLvts;
    return this.cfg.vendor === 'amd'
      ? VersionReg.INTEGRATED_AMD | ((LVT_COUNT - 2) << 16)
      : VersionReg.INTEGRATED_INTEL | ((LVT_COUNT - (six ? 2 : 1)) << 16) | (q.noEoiBroadcastSuppression ? 0 : VersionReg.EOI_SUPPRESSION_SUPPORTED);
  }

  private hasLvt(i: number): boolean {
    // AMD has no CMCI LVT (APM Vol 2 16.4 Local Vector Table); quirk noCmciLvt: QEMU's 6 entries (APIC_LVT_NB).
    return i !== LvtIndex.CMCI || (this.cfg.vendor === 'intel' && !this.cfg.quirks.noCmciLvt);
  }

  /** Highest set vector of an 8x32 bit register (IRR, ISR), or -1. */
  private highest(at: number): number {
    const s = this.s;
    for (let w = 7; w >= 0; w--) {
      const x = s[at + w];
      if (x !== 0) return (w << 5) | (31 - Math.clz32(x));
    }
    return -1;
  }
  highestIrr(): number {
    return this.highest(this.b + A.IRR);
  }
  highestIsr(): number {
    return this.highest(this.b + A.ISR);
  }
  private bit(at: number, v: number): boolean {
    return (this.s[at + (v >>> 5)] & (1 << (v & 31))) !== 0;
  }
  irr(v: number): boolean {
    return this.bit(this.b + A.IRR, v);
  }
  isr(v: number): boolean {
    return this.bit(this.b + A.ISR, v);
  }
  tmr(v: number): boolean {
    return this.bit(this.b + A.TMR, v);
  }

  tpr(): number {
    return this.s[this.b + A.TPR] & 0xff;
  }

  /**
   * SDM Vol 3A 11.8.3.1 Task and Processor Priorities: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4,
   * where ISRV is the highest in-service vector (0 if none).
   */
  ppr(): number {
    const tpr = this.s[this.b + A.TPR] & 0xff;
    const isrv = Math.max(this.highestIsr(), 0);
    return (tpr & 0xf0) >= (isrv & 0xf0) ? tpr : isrv & 0xf0;
  }

  /**
   * Arbitration priority. Intel: SDM Vol 3A 11.6.2.4 Lowest Priority Delivery Mode (the P6 family APR): APR = TPR
   * if TPR[7:4] >= IRRV[7:4] and TPR[7:4] > ISRV[7:4]; otherwise APR[7:4] = max(TPR[7:4] AND ISRV[7:4],
   * IRRV[7:4]) and APR[3:0] = 0 (the AND is the SDM's; Bochs get_apr has it too). AMD: APM Vol 2 16.6.2 Lowest
   * Priority Messages and Arbitration: the higher of TPR and the classes of the highest in-service and requested
   * vectors.
   */
  apr(): number {
    const tpr = this.s[this.b + A.TPR] & 0xff;
    const tprClass = tpr >>> 4, isrv = Math.max(this.highestIsr(), 0) >>> 4, irrv = Math.max(this.highestIrr(), 0) >>> 4;
    if (this.cfg.vendor === 'amd') return tprClass >= Math.max(isrv, irrv) ? tpr : Math.max(isrv, irrv) << 4;
    if (tprClass >= irrv && tprClass > isrv) return tpr;
    return Math.max(tprClass & isrv, irrv) << 4;
  }

  /**
   * The vector the APIC would present to the processor now, or -1. SDM Vol 3A 11.8.4 Interrupt Acceptance
   * for Fixed Interrupts: the highest IRR vector is dispatched when its priority class is above PPR[7:4].
   * A software-disabled APIC still presents held IRR bits (SDM Vol 3A 11.4.7.2: "pending interrupts in the
   * IRR and ISR registers are held and require masking or handling by the CPU"; decision D-1).
   */
  deliverableVector(): number {
    if (this.softDisabledIrr() === 'hidden' && !this.softwareEnabled()) return -1;
    const v = this.highestIrr();
    if (v < 0) return -1;
    const ppr = this.ppr();
    if (ppr === 0 && this.cfg.quirks.pprZeroDeliversAny) return v;
    return (v & 0xf0) > (ppr & 0xf0) ? v : -1;
  }

  /**
   * What a software-disabled APIC does with a held IRR bit: decision D-1 (or the profile's quirk) for an APIC that
   * presents interrupts through INTA; under APICv virtual-interrupt delivery the vector is recognised from RVI and
   * VPPR and delivered with VISR set (SDM Vol 3C 30.2.1 Evaluation of Pending Virtual Interrupts, 30.2.2
   * Virtual-Interrupt Delivery), which never read the virtual SVR: always as itself (decision D-24).
   */
  private softDisabledIrr(): SoftDisabledIrr {
    return this.cfg.virtualInterruptDelivery ? 'normal' : this.cfg.quirks.softDisabledIrr;
  }

  /** For traces: the IRR vector a software-disabled APIC hides from the processor (quirk softDisabledIrr = hidden), or -1. */
  hiddenIrr(): number {
    return this.softDisabledIrr() === 'hidden' && !this.softwareEnabled() ? this.highestIrr() : -1;
  }

  /**
   * Interrupt acknowledge (INTA). SDM Vol 3A 11.8.4: the highest IRR bit moves to ISR. SDM Vol 3A 11.9 Spurious
   * Interrupt: if nothing is deliverable at acknowledge the spurious vector (SVR[7:0]) is returned and ISR is
   * untouched. A software-disabled APIC hands a held IRR bit over as a spurious interrupt (decision D-1).
   */
  acknowledge(): number {
    const s = this.s, b = this.b;
    const v = this.deliverableVector();
    const spurious = s[b + A.SVR] & Svr.VECTOR;
    if (v < 0) return spurious;
    put(s, b + A.IRR + (v >>> 5), s[b + A.IRR + (v >>> 5)] & ~(1 << (v & 31)));
    if (!this.softwareEnabled() && this.softDisabledIrr() === 'spurious') return spurious;
    put(s, b + A.ISR + (v >>> 5), s[b + A.ISR + (v >>> 5)] | (1 << (v & 31)));
    return v;
  }

  /**
   * EOI. SDM Vol 3A 11.8.5 Signaling Interrupt Servicing Completion: clears the highest ISR bit; if that
   * vector's TMR bit is set the EOI is broadcast to the I/O APICs unless SVR[12] suppresses it
   * (SDM Vol 3A 11.8.5, "directed EOI"). An EOI with an empty ISR does nothing.
   */
  eoi(): void {
    const s = this.s, b = this.b;
    const v = this.highestIsr();
    if (v < 0) return;
    put(s, b + A.ISR + (v >>> 5), s[b + A.ISR + (v >>> 5)] & ~(1 << (v & 31)));
    if (!this.tmr(v)) return;
    this.lintEoi(v);
    if ((s[b + A.SVR] & Svr.EOI_BROADCAST_SUPPRESSION) === 0) this.host.eoiBroadcast(v);
  }

  /** SDM Vol 3A 11.5.1: LINT0's Remote IRR is "reset when an EOI command is received"; a level still asserted
   *  is then accepted again. */
  private lintEoi(v: number): void {
    const at = this.b + A.LVT + LvtIndex.LINT0, lvt = this.s[at];
    if ((lvt & Lvt.REMOTE_IRR) === 0 || (lvt & Lvt.VECTOR) !== v) return;
    put(this.s, at, lvt & ~Lvt.REMOTE_IRR);
    if ((this.s[this.b + A.LINT] & 1) !== 0) this.signalLvt(LvtIndex.LINT0);
  }

  /**
   * EOI virtualization (SDM Vol 3C 30.1.4 EOI Virtualization, with virtual-interrupt delivery): the highest
   * in-service bit is cleared without a broadcast; if the EOI-exit bitmap has the vector, an EOI-induced VM exit
   * lets the hypervisor forward the EOI to the I/O APIC. Returns the vector (or -1) and whether it exited.
   */
  virtualEoi(eoiExitBitmap: (vector: number) => boolean): { vector: number; exited: boolean } {
    const v = this.highestIsr();
    if (v < 0) return { vector: -1, exited: false };
    put(this.s, this.b + A.ISR + (v >>> 5), this.s[this.b + A.ISR + (v >>> 5)] & ~(1 << (v & 31)));
    const exited = eoiExitBitmap(v);
    if (exited) this.host.eoiBroadcast(v);
    return { vector: v, exited };
  }

  // ---------------------------------------------------------------- acceptance

  /**
   * A fixed or lowest-priority interrupt arriving from the bus or an LVT entry.
   * SDM Vol 3A 11.5.2 Valid Interrupt Vectors: vectors 0-15 are rejected with ESR "receive illegal vector".
   * SDM Vol 3A 11.8.4: IRR is set; TMR is set for level-triggered and cleared for edge-triggered interrupts.
   * A software-disabled APIC does not accept new fixed interrupts (decision D-1). Returns whether accepted.
   */
  acceptFixed(vector: number, levelTriggered: boolean): boolean {
    const q = this.cfg.quirks;
    if (vector < FIRST_LEGAL_VECTOR && !q.esrNotModelled) {
      this.error(Esr.RECEIVE_ILLEGAL_VECTOR);
      return false;
    }
    if (!this.softwareEnabled() && !q.softDisabledAcceptsNew) {
      this.host.trace?.(this.cpu, `apic: vector 0x${vector.toString(16)} dropped, APIC software-disabled`);
      return false;
    }
    const s = this.s, w = vector >>> 5, m = 1 << (vector & 31);
    put(s, this.b + A.IRR + w, s[this.b + A.IRR + w] | m);
    if (levelTriggered) put(s, this.b + A.TMR + w, s[this.b + A.TMR + w] | m);
    else put(s, this.b + A.TMR + w, s[this.b + A.TMR + w] & ~m);
    return true;
  }

  /**
   * Signal one LVT entry (timer, error, LINT0/1, thermal, PMC, CMCI). SDM Vol 3A 11.5.1 Local Vector Table:
   * a masked entry delivers nothing; the delivery mode decides where it goes.
   */
  signalLvt(i: LvtIndex): void {
    const lvt = this.s[this.b + A.LVT + i];
    if ((lvt & Lvt.MASKED) !== 0 || !this.hasLvt(i)) return;
    const vector = lvt & Lvt.VECTOR;
    const mode = i === LvtIndex.TIMER || i === LvtIndex.ERROR ? DeliveryMode.FIXED : ((lvt & Lvt.DELIVERY_MODE_MASK) >>> Lvt.DELIVERY_MODE_SHIFT) as DeliveryMode;
    if (mode === DeliveryMode.FIXED) {
      if (vector < FIRST_LEGAL_VECTOR && i === LvtIndex.ERROR) {
        // An illegal error vector would report itself forever; latch the error without another interrupt.
        put(this.s, this.b + A.ESR_LATCH, this.s[this.b + A.ESR_LATCH] | Esr.RECEIVE_ILLEGAL_VECTOR);
        return;
      }
      // SDM Vol 3A 11.5.1 Local Vector Table: a fixed, level-triggered LINT0 sets the entry's Remote IRR when the
      // APIC accepts it and is not sent again until an EOI clears it; "level-sensitive interrupts are not supported
      // for LINT1" (it acts edge-triggered).
      const level = i === LvtIndex.LINT0 && (lvt & Lvt.TRIGGER_LEVEL) !== 0;
      if (level) {
        if ((lvt & Lvt.REMOTE_IRR) !== 0) return;
        if (this.acceptFixed(vector, true)) put(this.s, this.b + A.LVT + i, this.s[this.b + A.LVT + i] | Lvt.REMOTE_IRR);
        return;
      }
      this.acceptFixed(vector, false);
    } else {
      this.host.localEvent(this.cpu, mode, vector);
    }
  }

  /**
   * Detect an error. SDM Vol 3A 11.5.3 Error Handling: errors are latched and become visible in ESR on the
   * next ESR write; each detection signals the LVT error entry.
   */
  error(bits: number): void {
    if (this.cfg.quirks.esrNotModelled) return;
    put(this.s, this.b + A.ESR_LATCH, this.s[this.b + A.ESR_LATCH] | bits);
    this.host.trace?.(this.cpu, `apic: error 0x${bits.toString(16)}`);
    this.signalLvt(LvtIndex.ERROR);
  }

  // ---------------------------------------------------------------- register access

  /**
   * xAPIC MMIO read at a register offset (the page offset; the caller has checked decodesMmio).
   * Reserved offsets read 0 and set ESR "illegal register address" (SDM Vol 3A 11.5.3, bit 7).
   * Offsets inside a register's 16-byte slot other than +0 read 0 (SDM Vol 3A 11.4.1: registers are
   * 128-bit aligned and accessed with 32-bit loads; other accesses are undefined; decision D-4).
   */
  xapicRead(offset: number): number {
    offset &= 0xfff;
    if ((offset & 0xf) !== 0) return 0;
    // In x2APIC mode the page is reached only under apicMmioDecodedWhenDisabled: QEMU's apic_register_read then
    // answers as its MSR door does (is_x2apic_mode).
    const v = this.readRegister(offset, this.isX2apic());
    if (v < 0) {
      this.error(Esr.ILLEGAL_REGISTER_ADDRESS);
      return 0;
    }
    return v;
  }

  /**
   * Register read common to both interfaces; -1 when the register does not exist or is write-only.
   * In xAPIC mode ID reads as ID[31:24]; in x2APIC mode as the 32-bit x2APIC ID.
   */
  private readRegister(offset: number, x2: boolean): number {
    const s = this.s, b = this.b;
    switch (offset) {
      case Reg.ID: return x2 ? s[b + A.ID] : (s[b + A.ID] << 24) >>> 0;
      case Reg.VERSION: return this.version();
      case Reg.TPR: return s[b + A.TPR];
      case Reg.APR: return x2 ? -1 : this.apr();
      case Reg.PPR: return this.ppr();
      case Reg.EOI: return x2 ? -1 : 0;
      case Reg.RRD: return x2 ? -1 : 0;
      case Reg.LDR: return x2 ? this.x2apicLdr() : s[b + A.LDR];
      case Reg.DFR: return x2 ? -1 : s[b + A.DFR];
      case Reg.SVR: return s[b + A.SVR];
      case Reg.ESR: return s[b + A.ESR];
      case Reg.ICR_LO:
        return x2 ? s[b + A.ICR_LO] : s[b + A.ICR_LO] | (this.host.ipiInFlight(this.cpu) ? Icr.DELIVERY_STATUS : 0);
      case Reg.ICR_HI: return x2 ? -1 : s[b + A.ICR_HI];
      case Reg.TIMER_ICR: return s[b + A.TMICT];
      case Reg.TIMER_CCR: return this.timer.currentCount();
      case Reg.TIMER_DCR: return s[b + A.TDCR];
      case Reg.SELF_IPI: return -1;
    }
    if (offset >= Reg.ISR0 && offset < Reg.ESR) return s[b + A.ISR + ((offset - Reg.ISR0) >>> 4)];
    const lvt = LVT_OFFSETS.indexOf(offset);
    if (lvt >= 0 && this.hasLvt(lvt)) return s[b + A.LVT + lvt];
    return -1;
  }

  /**
   * xAPIC MMIO write. Writes to read-only registers are ignored; reserved offsets set ESR bit 7 (SDM Vol 3A 11.5.3).
   * Offsets inside a register's 16-byte slot other than +0 are ignored (decision D-4).
   */
  xapicWrite(offset: number, value: number): void {
    offset &= 0xfff;
    if ((offset & 0xf) !== 0 || XAPIC_READ_ONLY.has(offset) || (offset >= Reg.ISR0 && offset < Reg.ESR)) return;
    if (!this.writeRegister(offset, value >>> 0, this.isX2apic())) this.error(Esr.ILLEGAL_REGISTER_ADDRESS);
  }

  /**
   * RDMSR of an x2APIC register (0x800-0x8FF). SDM Vol 3A 11.12.1.2 x2APIC Register Address Space, Table 11-6:
   * #GP when not in x2APIC mode, for MSRs with no register, and for write-only registers (EOI, SELF IPI).
   */
  x2apicRead(msr: number): bigint | typeof GP {
    if (!this.cfg.x2apic && this.cfg.quirks.x2apicAbsentNoGp) return 0n;
    if (!this.isX2apic()) return GP;
    const offset = x2apicMsrToOffset(msr);
    if (offset === Reg.ICR_LO) return get64n(this.s, this.b + A.ICR_LO);
    // Quirk x2apicMsrUnchecked: QEMU's apic_register_read answers EOI (0), APR and ICR_HI in x2APIC mode too.
    if (this.cfg.quirks.x2apicMsrUnchecked && (offset === Reg.EOI || offset === Reg.APR || offset === Reg.ICR_HI)) return BigInt(this.readRegister(offset, false));
    const v = this.readRegister(offset, true);
    return v < 0 ? GP : BigInt(v);
  }

  /**
   * WRMSR of an x2APIC register. The MSR door adds only its own checks to the one register write: SDM Vol 3A
   * 11.12.1.3 Reserved Bit Checking (a set reserved bit raises #GP, as do the upper 32 bits of any register but
   * ICR), and 11.12.1.2 (#GP for read-only registers and a non-zero write to EOI or ESR). Returns false for #GP.
   */
  x2apicWrite(msr: number, value: bigint): boolean {
    if (!this.cfg.x2apic && this.cfg.quirks.x2apicAbsentNoGp) return value >= 0n && value >> 64n === 0n;
    if (!this.isX2apic() || msr < X2APIC_MSR_BASE || msr > 0x8ff) return false;
    if (value < 0n || value >> 64n !== 0n) return false;
    const offset = x2apicMsrToOffset(msr);
    const lo = Number(value & 0xffffffffn), hi = Number((value >> 32n) & 0xffffffffn);
    if (this.cfg.quirks.x2apicMsrUnchecked && offset !== Reg.ICR_LO) {
      // QEMU apic_register_write: no reserved-bit or value check (the register keeps what fits); VERSION, APR, PPR,
      // ISR, TMR, IRR, ESR and TMCCT ignore writes; ID, LDR, DFR, ICR_HI and unknown indices fault.
      if (offset === Reg.VERSION || offset === Reg.APR || offset === Reg.PPR || offset === Reg.TIMER_CCR || (offset >= Reg.ISR0 && offset <= Reg.ESR)) return true;
      return this.writeRegister(offset, lo, true);
    }
    if (offset === Reg.ICR_LO) {
      // SDM Vol 3A 11.12.9 ICR Operation in x2APIC Mode: bit 12 (the xAPIC delivery status) is reserved, but
      // only AMD faults on it; Intel ignores it (docs/spec-map.md section 5; KVM kvm_x2apic_icr_write).
      const reserved = this.cfg.vendor === 'amd' ? Icr.X2APIC_LO_RESERVED : Icr.X2APIC_LO_RESERVED & ~Icr.DELIVERY_STATUS;
      if ((lo & reserved) !== 0 && !this.cfg.quirks.x2apicLvtIpiReservedUnchecked && !this.cfg.quirks.x2apicMsrUnchecked) return false;
      put(this.s, this.b + A.ICR_HI, hi);
      this.writeIcr((lo & ~Icr.DELIVERY_STATUS) >>> 0, hi, true);
      return true;
    }
    const reserved = this.x2apicReserved(offset);
    if (reserved === null || hi !== 0) return false;
    // Quirk x2apicLvtIpiReservedUnchecked (Bochs write_x2apic): the LVTs, TIMER_DCR and SELF IPI take any low half.
    const unchecked = this.cfg.quirks.x2apicLvtIpiReservedUnchecked && (offset === Reg.SELF_IPI || offset === Reg.TIMER_DCR || LVT_OFFSETS.includes(offset));
    if ((lo & reserved) !== 0 && !unchecked) return false;
    return this.writeRegister(offset, lo, true);
  }

  /** The bits of an x2APIC register a WRMSR must leave clear, or null when the MSR is not writable. */
  private x2apicReserved(offset: number): number | null {
    switch (offset) {
      case Reg.TPR: return ~0xff;
      case Reg.EOI: case Reg.ESR: return ~0;
      case Reg.SVR: return ~this.svrWritable();
      case Reg.TIMER_ICR: return 0;
      case Reg.TIMER_DCR: return ~TDCR_WRITABLE;
      // SDM Vol 3A 11.12.11 SELF IPI Register: bits 31:8 reserved.
      case Reg.SELF_IPI: return ~0xff;
    }
    const lvt = LVT_OFFSETS.indexOf(offset);
    if (lvt < 0 || !this.hasLvt(lvt)) return null;
    let writable = LVT_WRITABLE[lvt];
    // SDM Vol 3A 11.5.4.1 TSC-Deadline Mode: without CPUID.01H:ECX[24] bit 18 of LVT Timer is reserved.
    if (lvt === LvtIndex.TIMER && !this.cfg.tscDeadline) writable &= ~(2 << Lvt.TIMER_MODE_SHIFT);
    return ~writable;
  }

  /**
   * The one register write behind both doors (as KVM kvm_lapic_reg_write and Xen vlapic_reg_write): what a write
   * does, given a value the door has checked. False when the register is not writable through this door: ID, LDR,
   * DFR and ICR_HI exist only in xAPIC mode as writable registers, SELF IPI only in x2APIC mode.
   */
  private writeRegister(offset: number, value: number, x2: boolean): boolean {
    const s = this.s, b = this.b;
    switch (offset) {
      case Reg.ID:
        // SDM Vol 3A 11.4.6 Local APIC ID: writability is model specific; decision D-5: writable in xAPIC mode.
        if (x2) return false;
        put(s, b + A.ID, value >>> 24);
        return true;
      case Reg.TPR: put(s, b + A.TPR, value & 0xff); return true;
      case Reg.EOI: this.eoi(); return true;
      case Reg.LDR:
        if (x2) return false;
        put(s, b + A.LDR, value & 0xff000000);
        return true;
      case Reg.DFR:
        // SDM Vol 3A 11.6.2.2 Logical Destination Mode: DFR bits 27:0 are reserved and read as 1s.
        if (x2) return false;
        put(s, b + A.DFR, (value | 0x0fffffff) >>> 0);
        return true;
      case Reg.SVR: this.writeSvr(value); return true;
      case Reg.ESR: this.writeEsr(); return true;
      case Reg.ICR_LO:
        if (x2) return false;
        this.writeIcr(value & Icr.XAPIC_LO_WRITABLE, s[b + A.ICR_HI] >>> 24, false);
        return true;
      case Reg.ICR_HI:
        if (x2) return false;
        put(s, b + A.ICR_HI, value & Icr.XAPIC_HI_WRITABLE);
        return true;
      case Reg.TIMER_ICR: this.timer.writeTmict(value); return true;
      case Reg.TIMER_DCR: this.timer.writeTdcr(value & TDCR_WRITABLE); return true;
      case Reg.SELF_IPI:
        // A fixed, edge IPI to self (SDM Vol 3A 11.12.11).
        if (!x2) return false;
        this.sendSelf(value & 0xff);
        return true;
    }
    const lvt = LVT_OFFSETS.indexOf(offset);
    if (lvt < 0 || !this.hasLvt(lvt)) return false;
    this.writeLvt(lvt, value & LVT_WRITABLE[lvt]);
    return true;
  }

  private svrWritable(): number {
    const eoiSuppression = (this.version() & VersionReg.EOI_SUPPRESSION_SUPPORTED) !== 0;
    return Svr.VECTOR | Svr.APIC_ENABLED | Svr.FOCUS_DISABLED | (eoiSuppression ? Svr.EOI_BROADCAST_SUPPRESSION : 0);
  }

  /**
   * SDM Vol 3A 11.4.7.2 Local APIC State After It Has Been Software Disabled: clearing SVR[8] sets every LVT
   * mask bit, and they cannot be cleared while the APIC stays software-disabled.
   */
  private writeSvr(value: number): void {
    const s = this.s, b = this.b;
    put(s, b + A.SVR, value & this.svrWritable());
    if ((value & Svr.APIC_ENABLED) === 0 && !this.cfg.quirks.softDisabledLvtNotMasked) {
      for (let i = 0; i < LVT_COUNT; i++) put(s, b + A.LVT + i, s[b + A.LVT + i] | Lvt.MASKED);
    }
  }

  /** SDM Vol 3A 11.5.3 Error Handling: an ESR write makes the errors latched since the last write visible. */
  private writeEsr(): void {
    const s = this.s, b = this.b;
    put(s, b + A.ESR, s[b + A.ESR_LATCH]);
    put(s, b + A.ESR_LATCH, 0);
  }

  private writeLvt(i: number, value: number): void {
    const s = this.s, b = this.b;
    if (!this.softwareEnabled() && !this.cfg.quirks.softDisabledLvtNotMasked) value |= Lvt.MASKED;
    if (i === LvtIndex.TIMER) {
      // TSC-deadline mode (bit 18) is writable only when CPUID advertises it; the reserved mode 3 is
      // not taken (decision D-6): the mode field keeps its old value. Quirk reservedTimerMode: it is stored.
      const rule = this.cfg.quirks.reservedTimerMode, written = (value & Lvt.TIMER_MODE_MASK) >>> Lvt.TIMER_MODE_SHIFT;
      if (!this.cfg.tscDeadline && !(written === TimerMode.RESERVED && rule === 'periodic')) value &= ~(2 << Lvt.TIMER_MODE_SHIFT);
      const old = s[b + A.LVT + i];
      if (((value & Lvt.TIMER_MODE_MASK) >>> Lvt.TIMER_MODE_SHIFT) === TimerMode.RESERVED && rule === 'keep-old') {
        value = (value & ~Lvt.TIMER_MODE_MASK) | (old & Lvt.TIMER_MODE_MASK);
      }
      const oldMode = this.timer.modeOf(old), newMode = this.timer.modeOf(value);
      if (oldMode !== newMode) {
        const counts = oldMode !== TimerMode.TSC_DEADLINE && newMode !== TimerMode.TSC_DEADLINE;
        if (counts && this.cfg.quirks.timerModeSwitchRecomputes) {
          // QEMU (apic_timer_update): the count stays a function of the last TMICT write, now under the new mode.
        } else if (counts && this.cfg.quirks.timerModeSwitchKeepsCount) {
          this.timer.rebase(); // KVM (apic_update_lvtt): one-shot <-> periodic keeps counting
        } else {
          // SDM Vol 3A 11.5.4.1 TSC-Deadline Mode: "A write to the LVT Timer Register that changes the timer mode
          // disarms the local APIC timer."
          this.timer.disarm();
        }
      }
    }
    // Delivery status is read-only and not modelled as set; Remote IRR (LINT0) is read-only: a write keeps it.
    put(s, b + A.LVT + i, (value & ~Lvt.REMOTE_IRR) | (s[b + A.LVT + i] & Lvt.REMOTE_IRR));
  }

  /**
   * SDM Vol 3A 11.6.1 Interrupt Command Register: writing the low half sends the IPI. SDM Vol 3A 11.5.2 and
   * 11.5.3: a fixed or lowest-priority IPI with vector 0-15 is not sent and sets ESR "send illegal vector".
   */
  private writeIcr(lo: number, destination: number, x2: boolean): void {
    put(this.s, this.b + A.ICR_LO, lo);
    const mode = (lo & Icr.DELIVERY_MODE_MASK) >>> Icr.DELIVERY_MODE_SHIFT;
    if ((mode === DeliveryMode.FIXED || mode === DeliveryMode.LOWEST) && (lo & Icr.VECTOR) < FIRST_LEGAL_VECTOR && !this.cfg.quirks.esrNotModelled) {
      this.error(Esr.SEND_ILLEGAL_VECTOR);
      return;
    }
    this.host.sendIpi(this.cpu, lo, destination, x2);
  }

  private sendSelf(vector: number): void {
    if (vector < FIRST_LEGAL_VECTOR) {
      this.error(Esr.SEND_ILLEGAL_VECTOR);
      return;
    }
    this.host.sendIpi(this.cpu, vector | (Shorthand.SELF << Icr.SHORTHAND_SHIFT), 0, true);
  }

  // ---------------------------------------------------------------- timer (src/apic/timer.ts)

  timerMode(): TimerMode {
    return this.timer.mode();
  }
  /** The next virtual time > now at which the timer fires (exact up to 2^53, then the next double up), or Infinity. */
  timerDeadline(now?: number): number {
    return this.timer.expiry(now);
  }
  timerFire(): void {
    this.timer.fire();
  }
  tscDeadline(): bigint {
    return this.timer.tscDeadline();
  }
  writeTscDeadline(value: bigint): void {
    this.timer.writeTscDeadline(value);
  }

  // ---------------------------------------------------------------- destination matching (the receiving side)

  /** SDM Vol 3A 11.6.2.1 Physical Destination Mode (src/apic/destination.ts). */
  matchesPhysical(destination: number): boolean {
    return matchesPhysical(this.s[this.b + A.ID], this.isX2apic(), destination);
  }
  /** SDM Vol 3A 11.6.2.2 Logical Destination Mode (src/apic/destination.ts). */
  matchesLogical(destination: number): boolean {
    return matchesLogical(this.isX2apic() ? this.x2apicLdr() : this.s[this.b + A.LDR], this.s[this.b + A.DFR], this.isX2apic(), destination);
  }

  /** SVR[9] = 0: focus processor checking enabled. SDM Vol 3A 11.9 Spurious Interrupt (Figure 11-23). */
  focusCheckingEnabled(): boolean {
    return (this.s[this.b + A.SVR] & Svr.FOCUS_DISABLED) === 0;
  }

  /** A register's value as software would read it in the current mode, without side effects; -1 if none. */
  peek(offset: number): number {
    return this.readRegister(offset, this.isX2apic());
  }

  /** Raw state words, for encodings and tests. */
  word(offset: number): number {
    return this.s[this.b + offset];
  }
  /** Set a raw register value from an `init` block or a restore; bypasses guest write semantics. */
  setWord(offset: number, value: number): void {
    put(this.s, this.b + offset, value >>> 0);
  }
}
