// A machine: N processors with their local APICs, the APIC bus, an I/O APIC and a virtual clock, all in one
// Uint32Array so that a snapshot is a copy and a state hash is a pass over words.

import { DeliveryMode, Icr, LvtIndex, Reg, Shorthand, X2APIC_MSR_BASE, X2APIC_MSR_LAST } from '../arch/apic.js';
import { IOAPIC_PINS } from '../arch/ioapic.js';
import { Activity } from '../arch/cpu.js';
import { HostError, checkU32, checkVector } from '../arch/errors.js';
import { NO_QUIRKS, type Quirks } from '../arch/quirks.js';
import { A, get64n, set64, set64n } from '../apic/layout.js';
import { CLOCK_END, SAFE } from '../apic/timer.js';
import { GP, LocalApic, type ApicConfig, type ApicHost } from '../apic/localApic.js';
import { C, Cpu } from '../cpu/cpu.js';
import { EVENT_NAMES, EventKind, eventKind, eventVector, nextEvent, takeEvent } from '../cpu/events.js';
import { rdmsr, wrmsr } from '../cpu/msr.js';
import { IoApic } from '../ioapic/ioapic.js';
import { Pic } from '../pic/pic.js';
import { setLint } from '../apic/pins.js';
import { PIC_COMMAND, PIC_DATA } from '../arch/pic.js';
import { ApicBus, BUS_RECORDS, Msg, PLATFORM, lowestIndex, type LowestPriorityChooser, type Message } from './bus.js';
import { hashWords } from './hash.js';
import { CpuPort, IoApicPort } from './hosts.js';
import { checkConfig, type CheckedConfig, type MachineConfig, type TraceEvent } from './config.js';
import { put, putAll, putFill } from '../arch/writes.js';

export type { MachineConfig, TraceEvent } from './config.js';

export type MsrRead = { ok: true; value: bigint } | { ok: false; fault: 'GP' };
export type MsrWrite = { ok: true } | { ok: false; fault: 'GP' };
const WRITE_OK: MsrWrite = Object.freeze({ ok: true });
const WRITE_GP: MsrWrite = Object.freeze({ ok: false, fault: 'GP' });

export interface TakenEvent {
  kind: (typeof EVENT_NAMES)[number];
  /** The vector delivered (interrupts: the IDT vector; NMI: 2), or -1. */
  vector: number;
}

const H_TIME = 0;
/** Quirk apicMmioInSmm = ram: one word per 16-byte slot of the 4 KiB xAPIC page (other offsets read 0, as D-4). */
const SMM_PAGE_WORDS = 256;
const HEADER = 2;
const CPU_WORDS = C.WORDS + A.WORDS;

export class Machine {
  readonly state: Uint32Array;
  readonly cpus: readonly Cpu[];
  readonly apics: readonly LocalApic[];
  readonly ioapic: IoApic | null;
  readonly pic: Pic | null;
  readonly bus: ApicBus;
  /** Where the client's `extraWords` start in `state`. */
  readonly extraBase: number;
  readonly config: CheckedConfig;
  readonly quirks: Readonly<Quirks>;
  /** Where the bus (its count, then its records) starts in `state`. */
  readonly busBase: number;
  private readonly smmPage: number;
  private readonly onTrace?: (e: TraceEvent) => void;
  private traceOn: boolean;
  private readonly choose: LowestPriorityChooser;
  private readonly scratch: number[] = [];
  /** Queued delivery: a message waits on the bus, which can fill. */
  private readonly queued: boolean;
  /** The state before an operation that might fill the bus, to put back if it does. */
  private undo: Uint32Array | null = null;
  /** The message an ICR write builds, reused so that sending allocates nothing. */
  private readonly icrMessage: Message = { vector: 0, mode: DeliveryMode.FIXED, levelTriggered: false, assert: true, logical: false, shorthand: Shorthand.NONE, destination: 0, x2apic: false };

  constructor(config: MachineConfig) {
    this.config = checkConfig(config);
    const n = this.config.cpus, x2apic = this.config.x2apic, timerRatio = this.config.timerRatio, present = config.present;
    this.onTrace = config.onTrace;
    this.traceOn = config.onTrace !== undefined;
    this.quirks = Object.freeze({ ...NO_QUIRKS, ...config.quirks });
    this.choose = config.chooseLowestPriority ?? lowestIndex;

    const ioWords = this.config.ioapic ? IoApic.WORDS : 0;
    const ioBase = HEADER + n * CPU_WORDS;
    const picWords = config.pic ? Pic.WORDS : 0;
    // Quirk apicMmioInSmm = ram: the page xAPIC accesses in SMM hit, a word per 16-byte register slot.
    this.smmPage = ioBase + ioWords + picWords;
    const pageWords = this.quirks.apicMmioInSmm === 'ram' ? SMM_PAGE_WORDS : 0;
    const extraWords = config.extraWords ?? 0;
    this.extraBase = this.smmPage + pageWords;
    this.busBase = this.extraBase + extraWords;
    this.state = new Uint32Array(this.busBase + BUS_RECORDS + this.config.busCapacity);

    const apicCfg: ApicConfig = {
      vendor: this.config.vendor, quirks: this.quirks, x2apic, tscDeadline: this.config.tscDeadline, timerRatio, maxPhysAddr: this.config.maxPhysAddr,
      virtualInterruptDelivery: config.virtualInterruptDelivery ?? false,
    };
    const apicHost: ApicHost = {
      now: () => this.now(),
      nowExact: () => this.tsc(),
      sendIpi: (src, lo, dest, x2) => this.sendFromIcr(src, lo, dest, x2),
      ipiInFlight: (src) => this.bus.inFlightFrom(src),
      eoiBroadcast: (v) => {
        if (this.traceOn) this.trace('apic', -1, `eoi broadcast vector 0x${v.toString(16)}`);
        this.ioapic?.eoi(v);
      },
      localEvent: (cpu, mode, vector) => this.arrive(Msg.pack(vector, mode, false, true, cpu, PLATFORM)),
      trace: this.onTrace ? (cpu, text) => this.trace('apic', cpu, text) : undefined,
    };
    this.pic = config.pic ? new Pic(this.state, ioBase + ioWords, () => this.picChanged()) : null;
    const pic = this.pic;
    const on = (): boolean => this.traceOn, cpuTrace = (cpu: number, text: string): void => this.trace('cpu', cpu, text);
    const ioapicTrace = (text: string): void => this.trace('ioapic', -1, text);
    const cpuHost = new CpuPort(this.quirks, config.pendingInitSipi ?? false, () => this.cpus, on, cpuTrace, pic ? () => pic.inta() : undefined);
    const apics: LocalApic[] = [], cpus: Cpu[] = [];
    for (let i = 0; i < n; i++) {
      const base = HEADER + i * CPU_WORDS;
      const apic = new LocalApic(this.state, base + C.WORDS, i, apicCfg, apicHost);
      apics.push(apic);
      cpus.push(new Cpu(this.state, base, i, apic, cpuHost));
    }
    this.apics = apics;
    this.cpus = cpus;
    this.bus = new ApicBus(this.state, this.busBase, this.config.busCapacity, cpus, this.config.vendor);
    this.ioapic = this.config.ioapic
      ? new IoApic(this.state, ioBase, new IoApicPort(
          (vector, mode, logical, destination, level) =>
            this.route(PLATFORM, { vector, mode, levelTriggered: level, assert: true, logical, shorthand: Shorthand.NONE, destination, x2apic: false }),
          on, ioapicTrace,
        ), { version: this.config.ioapicVersion, arbitrationReadsZero: this.quirks.ioapicArbitrationReadsZero })
      : null;
    this.queued = this.config.delivery === 'queued';
    this.powerOn(present);
  }

  /** Power-up RESET of the whole machine. */
  powerOn(present?: readonly boolean[]): void {
    putFill(this.state, 0, 0, this.state.length);
    for (let i = 0; i < this.cpus.length; i++) {
      if (present && present[i] === false) this.cpus[i].unplug();
      else this.cpus[i].powerOn(this.config.apicIds[i], i === 0);
    }
    this.ioapic?.reset();
    this.pic?.reset();
  }

  private trace(layer: TraceEvent['layer'], cpu: number, text: string): void {
    if (this.traceOn) this.onTrace?.({ time: this.now(), layer, cpu, text });
  }
  /** Trace events on or off (on when MachineConfig.onTrace is given). The CPUs' and I/O APIC's hosts read it at each
   *  call (`host.trace?.(text)`), so that off, the model builds no trace text (the simulator traces only witnesses). */
  setTracing(on: boolean): void {
    this.traceOn = on && this.onTrace !== undefined;
  }

  cpu(i: number): Cpu {
    if (!Number.isInteger(i) || i < 0 || i >= this.cpus.length) {
      throw new HostError('bad-cpu', `no CPU ${i}: this machine has CPUs 0..${this.cpus.length - 1}`);
    }
    return this.cpus[i];
  }
  apic(i: number): LocalApic {
    return this.cpu(i).apic;
  }
  /**
   * CPU `i`, which must hold a processor: what a processor does (execute, access its registers, take an event)
   * is host misuse on an empty slot. A signal sent to an empty slot is not: it is lost, as on a real board.
   */
  private presentCpu(i: number, what: string): Cpu {
    const c = this.cpu(i);
    if (!c.present()) throw new HostError('bad-cpu', `CPU ${i} is not present (an empty slot): no ${what}`);
    return c;
  }

  // ---------------------------------------------------------------- bus capacity

  /**
   * With queued delivery, can an operation that sends up to `messages` messages fill the bus? Such an operation
   * runs atomically: if the bus fills (HostError 'bus-full'), the state is put back as it was.
   */
  private mayFill(messages: number): boolean {
    return this.queued && this.bus.count() + messages > this.config.busCapacity;
  }
  private atomically<T>(op: () => T): T {
    const saved = (this.undo ??= new Uint32Array(this.state.length));
    saved.set(this.state);
    try {
      return op();
    } catch (e) {
      putAll(this.state, saved);
      throw e;
    }
  }
  /** Messages a register write at xAPIC `offset` can send: an ICR write one IPI, an EOI the I/O APIC's redeliveries. */
  private fanout(offset: number): number {
    if (offset === Reg.ICR_LO || offset === Reg.SELF_IPI) return this.cpus.length;
    if (offset === Reg.EOI) return this.ioapic ? IOAPIC_PINS * this.cpus.length : 0;
    return 0;
  }

  // ---------------------------------------------------------------- clock

  /** Virtual time in TSC ticks; exact up to 2^53 (`tsc()` is exact everywhere). */
  now(): number {
    return this.state[H_TIME + 1] * 0x100000000 + this.state[H_TIME];
  }
  /** Virtual time in TSC ticks, exact: the 64-bit TSC. */
  tsc(): bigint {
    return get64n(this.state, H_TIME);
  }
  private setNow(t: number | bigint): void {
    if (typeof t === 'bigint') set64n(this.state, H_TIME, t);
    else set64(this.state, H_TIME, t);
  }

  /**
   * The earliest time > now at which a timer fires, or Infinity. Exact up to 2^53; beyond it the next double up
   * (so `advanceTo(nextDeadline())` fires it), Infinity if that double is 2^64.
   */
  nextDeadline(): number {
    const now = this.now();
    let d = Infinity;
    for (const c of this.cpus) {
      if (!c.present()) continue;
      const e = c.apic.timer.expiry(now);
      if (e < d) d = e;
    }
    return d;
  }

  /**
   * Let virtual time pass up to `t` (an integer 0..2^64 - 1, a number or a bigint), firing each timer that expires
   * on the way at its first expiry, in time order. SDM Vol 3A 11.5.4 APIC Timer: a periodic timer reloads and
   * expires again, but no instruction runs while time jumps, so each later expiry finds what the first one did
   * still done (its vector pending in IRR, or its ESR bit latched, or nothing for a masked entry), and SDM Vol 3A
   * 11.8.4 Interrupt Acceptance for Fixed Interrupts: "Any additional interrupts issued for the same interrupt
   * vector are collapsed into the single bit in the IRR". So the later expiries coalesce and a jump costs one
   * step per timer, not one per period (decision D-21).
   */
  advanceTo(t: number | bigint): void {
    const now = this.now();
    if (typeof t === 'number' && now <= SAFE && t <= SAFE && t >= now && Number.isInteger(t)) {
      let n = 0;
      for (let i = 0; i < this.cpus.length; i++) {
        if (!this.cpus[i].present()) continue;
        const e = this.cpus[i].apic.timer.expiry(now);
        if (e <= t) n = this.queueFire(n, i, e);
      }
      if (n > 0) this.fireQueued(n, t);
      this.setNow(t);
      return;
    }
    const to = exactTime(t, 'time'), from = this.tsc();
    if (to < from) throw new HostError('bad-argument', `cannot move time back from ${from} to ${to}`);
    let n = 0;
    for (let i = 0; i < this.cpus.length; i++) {
      if (!this.cpus[i].present()) continue;
      const e = this.cpus[i].apic.timer.expiryExact(from);
      if (e >= 0n && e <= to) n = this.queueFire(n, i, e);
    }
    if (n > 0) this.fireQueued(n, to);
    this.setNow(to);
  }
  /** Let `dt` ticks pass (an integer, a number or a bigint); the clock ends below 2^64. */
  advanceBy(dt: number | bigint): void {
    const now = this.now();
    if (typeof dt === 'number' && dt >= 0 && Number.isInteger(dt) && now + dt <= SAFE) {
      this.advanceTo(now + dt);
      return;
    }
    const t = this.tsc() + exactTime(dt, 'a time step');
    if (t >= CLOCK_END) throw new HostError('bad-argument', `time ${t} is past the clock's end (2^64 - 1)`);
    this.advanceTo(t);
  }

  private readonly firing: number[] = [];
  private readonly firingAt: (number | bigint)[] = [];
  /** Insert CPU `cpu`, whose timer expires at `at`, into the first `n` entries of the firing order; ties by CPU. */
  private queueFire(n: number, cpu: number, at: number | bigint): number {
    let j = n;
    while (j > 0 && this.firingAt[j - 1] > at) {
      this.firing[j] = this.firing[j - 1];
      this.firingAt[j] = this.firingAt[j - 1];
      j--;
    }
    this.firing[j] = cpu;
    this.firingAt[j] = at;
    return n + 1;
  }
  private fireQueued(n: number, to: number | bigint): void {
    for (let j = 0; j < n; j++) {
      const at = this.firingAt[j], timer = this.cpus[this.firing[j]].apic.timer;
      this.setNow(at);
      timer.fire();
      if (this.traceOn) {
        const k = timer.expiriesBy(BigInt(at), BigInt(to));
        if (k > 1n) this.trace('apic', this.firing[j], `apic: timer expired ${k - 1n} more times by ${to}, coalesced with the first`);
      }
    }
  }

  // ---------------------------------------------------------------- guest register access

  /** A 32-bit MMIO read by CPU `cpu`; undefined when its APIC does not decode the address. */
  mmioRead(cpu: number, address: number): number | undefined {
    const a = this.presentCpu(cpu, 'MMIO read').apic;
    if (!a.decodesMmio(address)) return undefined;
    return this.xapicRead(cpu, address - a.mmioBase());
  }
  /** A 32-bit MMIO write by CPU `cpu`; false when its APIC does not decode the address. */
  mmioWrite(cpu: number, address: number, value: number): boolean {
    const a = this.presentCpu(cpu, 'MMIO write').apic;
    if (!a.decodesMmio(address)) return false;
    checkU32(value, 'MMIO value');
    this.xapicWrite(cpu, address - a.mmioBase(), value);
    return true;
  }
  /** xAPIC register read by page offset, as the guest would see it at its APIC base. */
  apicRead(cpu: number, offset: number): number | undefined {
    if (!this.presentCpu(cpu, 'APIC register read').apic.decodesXapic()) return undefined;
    return this.xapicRead(cpu, offset & 0xfff);
  }
  apicWrite(cpu: number, offset: number, value: number): boolean {
    if (!this.presentCpu(cpu, 'APIC register write').apic.decodesXapic()) return false;
    checkU32(value, 'MMIO value');
    this.xapicWrite(cpu, offset & 0xfff, value);
    return true;
  }

  /** The one xAPIC access path behind mmioRead/apicRead and mmioWrite/apicWrite (the address is decoded). */
  private xapicRead(cpu: number, offset: number): number {
    const c = this.cpus[cpu];
    if (this.quirks.apicMmioInSmm === 'ram' && c.inSmm()) {
      const v = (offset & 0xf) === 0 ? this.state[this.smmPage + (offset >>> 4)] : 0;
      if (this.traceOn) this.trace('cpu', cpu, `xapic read 0x${offset.toString(16)} in SMM = 0x${v.toString(16)}: a RAM page, not the APIC (quirk apicMmioInSmm)`);
      return v;
    }
    return c.apic.xapicRead(offset);
  }
  private xapicWrite(cpu: number, offset: number, value: number): void {
    const c = this.cpus[cpu];
    if (this.quirks.apicMmioInSmm === 'ram' && c.inSmm()) {
      if ((offset & 0xf) === 0) put(this.state, this.smmPage + (offset >>> 4), value);
      if (this.traceOn) this.trace('cpu', cpu, `xapic write 0x${offset.toString(16)} in SMM: to a RAM page, not the APIC (quirk apicMmioInSmm)`);
      return;
    }
    if (this.mayFill(this.fanout(offset & 0xff0))) this.atomically(() => c.apic.xapicWrite(offset, value));
    else c.apic.xapicWrite(offset, value);
    if (this.quirks.tprWriteTakesEffectLate && offset === Reg.TPR) c.holdInterruptsOneInstruction();
  }

  rdmsr(cpu: number, msr: number): MsrRead {
    const a = this.presentCpu(cpu, 'RDMSR').apic;
    const v = rdmsr({ apic: a, tscDeadlineSupported: this.config.tscDeadline, tsc: () => this.tsc() }, msr);
    return v === GP ? { ok: false, fault: 'GP' } : { ok: true, value: v };
  }
  wrmsr(cpu: number, msr: number, value: bigint): MsrWrite {
    const a = this.presentCpu(cpu, 'WRMSR').apic;
    const write = (): boolean => wrmsr({ apic: a, tscDeadlineSupported: this.config.tscDeadline, tsc: () => this.tsc() }, msr, value);
    const x2 = msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_LAST;
    return (x2 && this.mayFill(this.fanout((msr - X2APIC_MSR_BASE) << 4)) ? this.atomically(write) : write()) ? WRITE_OK : WRITE_GP;
  }

  // ---------------------------------------------------------------- events

  /** The event CPU `cpu` would take at its next instruction boundary ('none' if nothing can be taken). */
  pendingEvent(cpu: number): TakenEvent['kind'] {
    return EVENT_NAMES[nextEvent(this.cpu(cpu))];
  }
  /** Is a maskable interrupt deliverable to CPU `cpu` now? */
  interruptDeliverable(cpu: number): boolean {
    const k = nextEvent(this.cpu(cpu));
    return k === EventKind.INTR || k === EventKind.EXTINT;
  }
  /** Take the highest-priority event that can be taken now and perform its architectural entry. */
  takeEvent(cpu: number): TakenEvent {
    const taken = takeEvent(this.presentCpu(cpu, 'event to take'));
    if (this.traceOn && eventKind(taken) !== EventKind.NONE) this.trace('cpu', cpu, `take ${EVENT_NAMES[eventKind(taken)]}${eventVector(taken) >= 0 ? ` vector 0x${eventVector(taken).toString(16)}` : ''}`);
    return { kind: EVENT_NAMES[eventKind(taken)], vector: eventVector(taken) };
  }

  // ---------------------------------------------------------------- pins and platform messages

  /** The NMI pin (or an NMI message from the platform). */
  nmi(cpu: number): void {
    this.cpu(cpu).receiveNmi();
  }
  /** The SMI# pin. */
  smi(cpu: number): void {
    this.cpu(cpu).receiveSmi();
  }
  /** The INIT# pin. */
  init(cpu: number): void {
    this.cpu(cpu).receiveInit();
  }
  /** LINT0/LINT1 of a CPU's APIC, through its LVT entry. SDM Vol 3A 11.5.1. */
  lint(cpu: number, pin: 0 | 1): void {
    const c = this.cpu(cpu);
    if (pin !== 0 && pin !== 1) throw new HostError('bad-argument', `a local APIC has pins LINT0 and LINT1: pin must be 0 or 1, got ${String(pin)}`);
    if (c.present()) c.apic.signalLvt(pin === 0 ? LvtIndex.LINT0 : LvtIndex.LINT1);
  }

  /** Drive LINT0 or LINT1 of a CPU to a level (src/apic/pins.ts). With an 8259A, LINT0 is its INT output. */
  setLint(cpu: number, pin: 0 | 1, asserted: boolean): void {
    if (pin !== 0 && pin !== 1) throw new HostError('bad-argument', `LINT pin must be 0 or 1, got ${pin}`);
    if (typeof asserted !== 'boolean') throw new HostError('bad-argument', `pin level must be a boolean, got ${asserted}`);
    if (pin === 0 && this.pic) throw new HostError('bad-argument', 'LINT0 is driven by the 8259A on this machine');
    const c = this.cpu(cpu);
    if (!c.present()) return;
    setLint(c.apic, pin, asserted, () => c.receiveNmi());
  }

  /** The RESET# pin of one processor (Cpu.reset). */
  reset(cpu: number): void {
    const c = this.cpu(cpu);
    if (!c.present()) return;
    c.reset();
    if (this.pic) this.picChanged();
  }

  // ---------------------------------------------------------------- the 8259A

  private requirePic(): Pic {
    if (!this.pic) throw new HostError('bad-argument', 'this machine has no 8259A');
    return this.pic;
  }
  /** An input of the 8259A (the PC's ISA IRQ 0-7). */
  picInput(irq: number, high: boolean): void {
    this.requirePic().setInput(irq, high);
  }
  /** OUT to port 20h / 21h (Pic.write). */
  picWrite(port: number, value: number): void {
    if (port !== PIC_COMMAND && port !== PIC_DATA) throw new HostError('bad-argument', `the 8259A has ports 0x20 and 0x21, got ${port}`);
    this.requirePic().write(port === PIC_DATA ? 1 : 0, value);
  }
  picRead(port: number): number {
    if (port !== PIC_COMMAND && port !== PIC_DATA) throw new HostError('bad-argument', `the 8259A has ports 0x20 and 0x21, got ${port}`);
    return this.requirePic().read(port === PIC_DATA ? 1 : 0);
  }
  /** The 8259A's INT output drives every processor's LINT0 (the PC's virtual-wire wiring, MP Specification 1.4
   *  3.6.2.2) and I/O APIC pin 0 (its ExtINT input). */
  private picChanged(): void {
    const int = this.pic!.int();
    for (const c of this.cpus) if (c.present()) setLint(c.apic, 0, int, () => c.receiveNmi());
    this.ioapic?.setPin(0, int);
  }

  /**
   * A message-signalled interrupt. SDM Vol 3A 11.11.1 Message Address Register Format (destination ID bits
   * 19:12, DM bit 2) and 11.11.2 Message Data Register Format (vector 7:0, delivery mode 10:8, level 14,
   * trigger 15).
   */
  msi(address: number, data: number): void {
    checkU32(address, 'MSI address');
    checkU32(data, 'MSI data');
    if (address >>> 20 !== 0xfee) {
      if (this.traceOn) this.trace('bus', -1, `msi to 0x${address.toString(16)} is not an interrupt message; ignored`);
      return;
    }
    this.send(PLATFORM, {
      vector: data & 0xff,
      mode: ((data >>> 8) & 7) as DeliveryMode,
      levelTriggered: (data & (1 << 15)) !== 0,
      assert: (data & (1 << 14)) !== 0,
      logical: (address & 4) !== 0,
      shorthand: Shorthand.NONE,
      destination: (address >>> 12) & 0xff,
      x2apic: false,
    });
  }

  /** Drive an I/O APIC input. */
  irq(gsi: number, asserted: boolean): void {
    const io = this.requireIoapic();
    if (this.mayFill(IOAPIC_PINS * this.cpus.length)) this.atomically(() => io.setPin(gsi, asserted));
    else io.setPin(gsi, asserted);
  }
  pulse(gsi: number): void {
    const io = this.requireIoapic();
    if (this.mayFill(IOAPIC_PINS * this.cpus.length)) this.atomically(() => io.pulse(gsi));
    else io.pulse(gsi);
  }
  private requireIoapic(): IoApic {
    if (!this.ioapic) throw new HostError('bad-argument', 'this machine has no I/O APIC');
    return this.ioapic;
  }

  /** ACPI hotplug of a processor into an empty slot; it appears in wait-for-SIPI. */
  hotplug(cpu: number): void {
    const c = this.cpu(cpu);
    if (c.present()) throw new HostError('bad-argument', `CPU ${cpu} is already present`);
    c.plug(this.config.apicIds[cpu]);
  }
  unplug(cpu: number): void {
    const c = this.cpu(cpu);
    if (cpu === 0) throw new HostError('bad-argument', 'the BSP cannot be unplugged');
    if (!c.present()) throw new HostError('bad-argument', `CPU ${cpu} is not present`);
    c.unplug();
  }

  // ---------------------------------------------------------------- the bus

  /**
   * An ICR write. SDM Vol 3A 11.6.1 Interrupt Command Register, Table 11-4 (valid combinations for the
   * Pentium 4 and Intel Xeon xAPIC ICR): the self shorthand takes only fixed; all-including-self only fixed;
   * level-triggered fixed, lowest-priority and NMI IPIs act edge-triggered when level = 1 and are ignored when
   * level = 0; SMI and SIPI ignore the trigger mode; INIT with trigger = level and level = 0 is INIT level
   * de-assert. Delivery modes 011 and 111 are reserved for the ICR. Invalid combinations are not sent (D-12).
   */
  private sendFromIcr(source: number, lo: number, destination: number, x2apic: boolean): void {
    const vector = lo & Icr.VECTOR;
    let mode = ((lo & Icr.DELIVERY_MODE_MASK) >>> Icr.DELIVERY_MODE_SHIFT) as DeliveryMode;
    const shorthand = ((lo & Icr.SHORTHAND_MASK) >>> Icr.SHORTHAND_SHIFT) as Shorthand;
    const level = (lo & Icr.TRIGGER_LEVEL) !== 0, assert = (lo & Icr.LEVEL_ASSERT) !== 0;
    const invalid = (why: string): void => {
      if (this.traceOn) this.trace('bus', source, `ipi not sent: ${why}`);
    };
    const q = this.quirks;
    if (q.selfShorthandIsFixed && shorthand === Shorthand.SELF) mode = DeliveryMode.FIXED;
    if (mode === DeliveryMode.REMOTE_READ || mode === DeliveryMode.EXTINT) return invalid('reserved delivery mode');
    if ((shorthand === Shorthand.SELF || shorthand === Shorthand.ALL) && mode !== DeliveryMode.FIXED && !q.icrNoValidity) {
      return invalid('shorthand allows only fixed delivery');
    }
    let levelTriggered = false;
    if (level && mode === DeliveryMode.INIT && !assert) {
      levelTriggered = true; // INIT level de-assert
    } else if (level && !assert && (mode === DeliveryMode.FIXED || mode === DeliveryMode.LOWEST || mode === DeliveryMode.NMI) && !q.icrNoValidity) {
      return invalid('level-triggered IPI with level 0');
    } else if (level && q.levelIpiSetsTmr && (mode === DeliveryMode.FIXED || mode === DeliveryMode.LOWEST)) {
      levelTriggered = true;
    }
    if (this.traceOn) this.trace('bus', source, `ipi ${DELIVERY_NAME[mode]} 0x${vector.toString(16)} dest 0x${destination.toString(16)}${shorthand ? ` shorthand ${shorthand}` : ''}`);
    const m = this.icrMessage;
    m.vector = vector;
    m.mode = mode;
    m.levelTriggered = levelTriggered;
    m.assert = assert || !level;
    m.logical = (lo & Icr.DEST_LOGICAL) !== 0;
    m.shorthand = shorthand;
    m.destination = destination;
    m.x2apic = x2apic;
    this.route(source + 1, m);
  }

  /** Put a message on the bus from `source` (0 = platform, n = CPU n-1). */
  send(source: number, m: Message): void {
    // Host misuse throws: the record packs the vector in 8 bits, the mode in 3, the source in 9.
    if (!Number.isInteger(source) || source < 0 || source > this.cpus.length) {
      throw new HostError('bad-argument', `message source must be 0 (platform) or 1..${this.cpus.length} (CPU + 1), got ${source}`);
    }
    checkVector(m.vector);
    if (!Number.isInteger(m.mode) || m.mode < 0 || m.mode > 7) throw new HostError('bad-argument', `delivery mode must be 0..7, got ${m.mode}`);
    if (!Number.isInteger(m.shorthand) || m.shorthand < 0 || m.shorthand > 3) throw new HostError('bad-argument', `shorthand must be 0..3, got ${m.shorthand}`);
    checkU32(m.destination, 'destination');
    this.route(source, m);
  }

  /** Address a (valid) message and put it on the bus, or deliver it at once. */
  private route(source: number, m: Message): void {
    const targets = this.scratch;
    let n = this.bus.targets(source - 1, m, targets);
    if (m.mode === DeliveryMode.LOWEST && n > 1) {
      targets.length = n;
      targets[0] = this.bus.arbitrate(targets, m.vector, this.choose);
      n = 1;
    }
    // A broadcast goes on the bus whole or not at all.
    if (this.queued && this.bus.count() + n > this.config.busCapacity) {
      throw new HostError('bus-full', `APIC bus: ${n} more messages do not fit beside the ${this.bus.count()} in flight; raise busCapacity`);
    }
    for (let i = 0; i < n; i++) {
      const w = Msg.pack(m.vector, m.mode, m.levelTriggered, m.assert, targets[i], source);
      if (this.queued) this.bus.push(w);
      else this.arrive(w);
    }
  }

  /** Messages in flight (queued delivery), oldest first. */
  inFlight(): { target: number; source: number; mode: string; vector: number; eligible: boolean }[] {
    const out = [];
    for (let i = 0; i < this.bus.count(); i++) {
      const w = this.bus.record(i);
      out.push({ target: Msg.target(w), source: Msg.source(w) - 1, mode: DELIVERY_NAME[Msg.mode(w)], vector: Msg.vector(w), eligible: this.bus.eligible(i) });
    }
    return out;
  }

  /**
   * Let in-flight message i arrive at its target. Only an eligible record may arrive: messages from one source
   * to one target arrive in the order sent (decision D-11), so delivering a younger one first is host misuse.
   */
  deliver(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.bus.count()) throw new HostError('bad-argument', `no in-flight message ${i}`);
    if (!this.bus.eligible(i)) throw new HostError('bad-argument', `in-flight message ${i} is behind an older one from the same source to the same target`);
    this.arrive(this.bus.remove(i));
  }

  /**
   * A message arrives at its target. SDM Vol 3A 11.6.3 IPI Delivery and Acceptance; SDM Vol 3A 11.4.7.2: a
   * software-disabled APIC still takes INIT, NMI, SMI and SIPI; a globally disabled or absent one takes nothing.
   */
  private arrive(w: number): void {
    const t = Msg.target(w), c = this.cpus[t];
    const vector = Msg.vector(w), mode = Msg.mode(w);
    if (!c.present() || !c.apic.globallyEnabled()) {
      if (this.traceOn) this.trace('bus', t, `${DELIVERY_NAME[mode]} dropped: no listening APIC`);
      return;
    }
    switch (mode) {
      case DeliveryMode.FIXED:
      case DeliveryMode.LOWEST:
        // SDM Vol 3A 11.11.2 Message Data Register Format: for a level-triggered message the level bit is the
        // state of the interrupt input; a de-assert message (an MSI with trigger = level, level = 0) reports
        // the line going inactive and raises no interrupt (as KVM __apic_accept_irq ignores it).
        if (Msg.levelTriggered(w) && !Msg.assert(w)) {
          if (this.traceOn) this.trace('bus', t, `${DELIVERY_NAME[mode]} level de-assert 0x${vector.toString(16)}: no interrupt`);
          return;
        }
        c.apic.acceptFixed(vector, Msg.levelTriggered(w));
        return;
      case DeliveryMode.NMI: c.receiveNmi(); return;
      case DeliveryMode.SMI: c.receiveSmi(); return;
      case DeliveryMode.INIT:
        // SDM Vol 3A 11.6.1: INIT level de-assert is not supported by Pentium 4 and later; it has no effect.
        if (Msg.levelTriggered(w) && !Msg.assert(w)) this.trace('bus', t, 'init level de-assert: no effect');
        else c.receiveInit();
        return;
      case DeliveryMode.STARTUP: c.receiveSipi(vector); return;
      case DeliveryMode.EXTINT: c.receiveExtint(vector); return;
      default:
        if (this.traceOn) this.trace('bus', t, `reserved delivery mode ${mode} dropped`);
    }
  }

  // ---------------------------------------------------------------- snapshot and hash

  /** A copy of the state; into `into` (the state's length, e.g. pooled) nothing is allocated, which costs more than copying. */
  snapshot(into?: Uint32Array): Uint32Array {
    if (!into) return this.state.slice();
    if (into.length !== this.state.length) throw new HostError('bad-snapshot', `snapshot buffer has ${into.length} words, the state ${this.state.length}`);
    into.set(this.state);
    return into;
  }
  restore(snapshot: Uint32Array): void {
    if (!(snapshot instanceof Uint32Array) || snapshot.length !== this.state.length) {
      throw new HostError('bad-snapshot', `snapshot has ${snapshot?.length} words, this machine ${this.state.length}`);
    }
    if (snapshot[this.busBase] > this.config.busCapacity) {
      throw new HostError('bad-snapshot', `snapshot has ${snapshot[this.busBase]} messages in flight, this machine holds ${this.config.busCapacity}`);
    }
    putAll(this.state, snapshot);
  }
  /** The state's canonical encoding is its words; unused bus slots are always zero and are not hashed. */
  hash(): number {
    return hashWords(this.state, this.busBase + BUS_RECORDS + this.bus.count());
  }

  private relative: Uint32Array | null = null;

  /**
   * The hash of the state with absolute time factored out: the clock reads 0 and every timer field is relative
   * to now (elapsed count time, folded modulo the period once a periodic timer has fired; time left to a TSC
   * deadline). Two states that differ only by when they happen then hash equal, so an explorer sees a periodic
   * timer as a cycle rather than an endless line of new states. `adjust` makes the client's own time fields
   * relative in the copy. Only valid when nothing reads absolute time (the TSC, IA32_TSC_DEADLINE).
   */
  relativeHash(adjust?: (copy: Uint32Array, now: number) => void): number {
    const copy = (this.relative ??= new Uint32Array(this.state.length));
    copy.set(this.state);
    const now = this.now();
    copy[H_TIME] = 0;
    copy[H_TIME + 1] = 0;
    for (let i = 0; i < this.cpus.length; i++) this.relativeTimerWords(i, copy, now);
    adjust?.(copy, now);
    return hashWords(copy, this.busBase + BUS_RECORDS + this.bus.count());
  }

  /** Where CPU `cpu`'s words start in `state`: its Cpu's C.WORDS, then its LocalApic's A.WORDS. */
  cpuBase(cpu: number): number {
    return HEADER + cpu * CPU_WORDS;
  }

  /** The words in `copy` (laid out as `state`) of a present CPU's APIC timer, relative to now, as relativeHash has them. */
  relativeTimerWords(cpu: number, copy: Uint32Array, now = this.now()): void {
    if (this.cpus[cpu].present()) this.cpus[cpu].apic.timer.relativeWords(copy, this.cpuBase(cpu) + C.WORDS, now);
  }

  /** Is CPU `cpu` in a state where nothing can start it but a SIPI? */
  waitingForSipi(cpu: number): boolean {
    return this.cpu(cpu).activity() === Activity.WAIT_FOR_SIPI;
  }
}

const DELIVERY_NAME = ['fixed', 'lowest', 'smi', 'remote-read', 'nmi', 'init', 'sipi', 'extint'];

/** A time or a time step as a bigint: an integer 0..2^64 - 1 given as a number or a bigint. */
function exactTime(t: number | bigint, what: string): bigint {
  if (typeof t === 'bigint' && t >= 0n && t < CLOCK_END) return t;
  if (typeof t === 'number' && Number.isInteger(t) && t >= 0 && t < 2 ** 64) return BigInt(t);
  throw new HostError('bad-argument', `${what} must be an integer 0..2^64 - 1 (a number or a bigint), got ${String(t)}`);
}
