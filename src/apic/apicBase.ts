// WRMSR IA32_APIC_BASE: the base, the global enable and x2APIC mode (SDM Vol 3A 11.4.4 Local APIC Status and
// Location, 11.12.5 x2APIC State Transitions), and the quirks of implementations that handle the write otherwise.
// The local APIC (localApic.ts) owns the state; this is its one write path for the MSR.

import { ApicBase, Svr } from '../arch/apic.js';
import { A } from './layout.js';
import { derivedX2apicLdr } from './destination.js';
import type { ApicConfig, ApicHost, ApicMode } from './host.js';
import { put } from '../arch/writes.js';

/** What a write needs of the local APIC. */
export interface ApicBaseTarget {
  readonly s: Uint32Array;
  readonly b: number;
  readonly cpu: number;
  readonly cfg: ApicConfig;
  readonly host: ApicHost;
  mode(): ApicMode;
  globallyEnabled(): boolean;
  /** The registers as after power-up (SDM Vol 3A 11.4.7.1), ID and IA32_APIC_BASE aside. */
  resetRegisters(): void;
}

/** QEMU 7.2's apic_set_base keeps `val & 0xfffff000` (an unsigned int mask) and the EN bit's clearing. */
const QEMU72_KEPT = 0xfffff000n | BigInt(ApicBase.EN | ApicBase.EXTD);

/**
 * WRMSR IA32_APIC_BASE; false on #GP. SDM Vol 3A 11.12.5 x2APIC State Transitions (Figure 11-29): legal transitions
 * are disabled<->xAPIC, xAPIC->x2APIC and x2APIC->disabled; x2APIC->xAPIC, disabled->x2APIC and any write of
 * EN=0/EXTD=1 raise #GP. Reserved bits (0-7, 9, at or above MAXPHYADDR; EXTD without x2APIC support) raise #GP.
 * The BSP flag is set by hardware at RESET; a write to it is ignored (decision D-2 in docs/decisions.md).
 */
export function writeApicBase(t: ApicBaseTarget, value: bigint): boolean {
  const q = t.cfg.quirks;
  if (value >> 64n !== 0n || value < 0n) return false;
  // Quirk apicBaseWritesIgnoredWhenDisabled (Bochs 2.7 relocate_apic: nothing is checked or kept while EN is clear).
  if (q.apicBaseWritesIgnoredWhenDisabled && !t.globallyEnabled()) return true;
  // Quirk apicBaseReservedBitsIgnored (QEMU 7.2 apic_set_base): reserved bits and bits 63:32 are dropped, no #GP.
  if (q.apicBaseReservedBitsIgnored) value &= QEMU72_KEPT;
  const hi = Number((value >> 32n) & 0xffffffffn);
  // SDM Vol 3A 11.4.4 Local APIC Status and Location: bits at and above MAXPHYADDR are reserved, whatever
  // MAXPHYADDR is (a 32-bit shift count of maxPhysAddr - 32 went negative below 32 and wrapped).
  const mpa = t.cfg.maxPhysAddr;
  const maxPhys = BigInt(Number.isFinite(mpa) ? Math.max(0, Math.min(64, Math.floor(mpa))) : 64);
  if ((value >> maxPhys) !== 0n) return false;
  let lo = Number(value & 0xffffffffn);
  if ((lo & ApicBase.RESERVED_LOW) !== 0) return false;
  if ((lo & ApicBase.EXTD) !== 0 && !t.cfg.x2apic) {
    if (!q.x2apicAbsentNoGp) return false;
    lo &= ~ApicBase.EXTD;
  }
  // Quirk apicNotReenabled (QEMU 7.2 apic_set_base: "if disabled, cannot be enabled again"); SDM Vol 3A 11.4.3 says
  // so only of P6-family processors on the 3-wire APIC bus.
  if (q.apicNotReenabled && !t.globallyEnabled()) lo &= ~ApicBase.EN;
  const from = t.mode();
  const en = (lo & ApicBase.EN) !== 0, extd = (lo & ApicBase.EXTD) !== 0;
  const to: ApicMode = en ? (extd ? 'x2apic' : 'xapic') : extd ? 'invalid' : 'disabled';
  if (to === 'invalid') return false;
  if (from === 'x2apic' && to === 'xapic') return false;
  if (from === 'disabled' && to === 'x2apic') return false;
  const { s, b } = t;
  // Quirk bspFlagWritable (Bochs relocate_apic, KVM kvm_lapic_set_base: the value is kept whole).
  put(s, b + A.BASE_LO, q.bspFlagWritable ? lo : (lo & ~ApicBase.BSP) | (s[b + A.BASE_LO] & ApicBase.BSP));
  put(s, b + A.BASE_HI, hi);
  if (from !== to) {
    t.host.trace?.(t.cpu, `apic mode ${from} -> ${to}`);
    if (to === 'disabled') {
      if (q.globalDisable === 'clear-svr-enable') {
        // QEMU apic_set_base: only the software enable goes ("s->spurious_vec &= ~APIC_SV_ENABLE").
        put(s, b + A.SVR, s[b + A.SVR] & ~Svr.APIC_ENABLED);
      } else if (q.globalDisable === 'power-up') {
        // SDM Vol 3A 11.4.3: a globally disabled APIC may lose its state and return to the power-up state;
        // decision D-3: it does, so that re-enabling always starts from a defined state.
        put(s, b + A.ID, s[b + A.INITIAL_ID]);
        t.resetRegisters();
      }
    } else if (from === 'disabled' && q.globalDisable === 'keep') {
      // KVM kvm_lapic_set_base: enabling sets the xAPIC ID back to the vCPU's (kvm_apic_set_xapic_id), nothing else.
      put(s, b + A.ID, s[b + A.INITIAL_ID]);
    } else if (to === 'x2apic') {
      // SDM Vol 3A 11.12.5.1 x2APIC States: on xAPIC->x2APIC the x2APIC ID is the initial x2APIC ID and
      // the LDR is derived from it; other registers keep their xAPIC values.
      put(s, b + A.ID, s[b + A.INITIAL_ID]);
      // Quirk x2apicLdrNotDerivedOnEntry: Bochs's set_base derives the LDR only when the mode it had was x2APIC, so the
      // switch keeps the xAPIC logical ID (its 8-bit `ldr`) as the x2APIC LDR.
      if (q.x2apicLdrNotDerivedOnEntry) put(s, b + A.LDR, s[b + A.LDR] >>> 24);
    }
  } else if (to === 'x2apic' && q.x2apicLdrNotDerivedOnEntry) {
    // A write in x2APIC mode: set_base derives it now (SDM Vol 3A 11.12.10.2).
    put(s, b + A.LDR, derivedX2apicLdr(s[b + A.ID]));
  }
  return true;
}
