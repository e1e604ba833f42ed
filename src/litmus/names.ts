// Name tables of the litmus format, derived from the architectural tables in src/arch (never copied).

import { DELIVERY_MODE_NAMES, MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE, REGISTER_NAMES, X2APIC_MSR_NAMES } from '../arch/apic.js';
import { ACTIVITY_NAMES, VMX_MODE_NAMES } from '../arch/cpu.js';
import { IOAPIC_PINS, IoApicReg } from '../arch/ioapic.js';
import type { ApicModeName, ConfigKey, DeliveryModeName } from './ast.js';

export { ACTIVITY_NAMES, DELIVERY_MODE_NAMES, IOAPIC_PINS, VMX_MODE_NAMES };

/**
 * xAPIC registers by SDM name. SELF_IPI is left out: it exists only as an x2APIC MSR (SDM Vol 3A 11.12.11),
 * so `apic write SELF_IPI` would be a reserved MMIO offset; use `wrmsr X2APIC_SELF_IPI` or the offset 0x3f0.
 */
export const APIC_REGISTERS: ReadonlyMap<string, number> = new Map([...REGISTER_NAMES].filter(([n]) => n !== 'SELF_IPI'));

/** MSR names: the two the contract names, and every X2APIC_REG (SDM Vol 3A 11.12.1.2). */
export const MSR_NAMES: ReadonlyMap<string, number> = new Map([
  ['IA32_APIC_BASE', MSR_IA32_APIC_BASE],
  ['IA32_TSC_DEADLINE', MSR_IA32_TSC_DEADLINE],
  ...X2APIC_MSR_NAMES,
]);

/** I/O APIC indirect registers (82093AA 3.2): ID, VER, ARB, and REDTBLn_LO / REDTBLn_HI for each pin. */
export const IOAPIC_REGISTERS: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const [name, index] of Object.entries(IoApicReg)) if (name !== 'REDTBL_BASE') m.set(name, index);
  for (let n = 0; n < IOAPIC_PINS; n++) {
    m.set(`REDTBL${n}_LO`, IoApicReg.REDTBL_BASE + 2 * n);
    m.set(`REDTBL${n}_HI`, IoApicReg.REDTBL_BASE + 2 * n + 1);
  }
  return m;
})();

export const APIC_MODE_NAMES: readonly ApicModeName[] = ['xapic', 'x2apic', 'disabled'];

/**
 * Delivery modes an MSI or an I/O APIC redirection entry can carry: 011 and 110 are reserved in the MSI data
 * register (SDM Vol 3A 11.11.2) and in IOREDTBL DELMOD (82093AA 3.2.4).
 */
export const PLATFORM_MODE_NAMES: readonly DeliveryModeName[] = DELIVERY_MODE_NAMES.filter((m) => m !== 'remote-read' && m !== 'sipi');

/** Delivery modes whose ICR vector field means something, so `send` must give one. */
export const VECTOR_MODES: readonly DeliveryModeName[] = ['fixed', 'lowest', 'sipi'];

export const CONFIG_KEYS: readonly ConfigKey[] = ['cpus', 'vendor', 'x2apic', 'tsc-deadline', 'ioapic', 'timer-ratio', 'accel', 'ipiv', 'ioapic-version', 'apic-ids', 'pic'];

/** General-purpose registers are r0..r31. */
export const REG_COUNT = 32;
export const MAX_CPUS = 256;
export const MAX_AGENTS = 256;

/** `r0`..`r31` (no leading zeros). */
export function isGpr(name: string): boolean {
  const m = /^r(0|[1-9][0-9]?)$/.exec(name);
  return m !== null && Number(m[1]) < REG_COUNT;
}

/** `P3` -> 3, `D0` -> 0 for the given letter; null otherwise. */
export function procIndex(name: string, letter: 'P' | 'D'): number | null {
  const m = /^([PD])(0|[1-9][0-9]*)$/.exec(name);
  return m && m[1] === letter ? Number(m[2]) : null;
}

/** Names a memory word cannot have: they mean something else in `init`, `observe` and conditions. */
export function reservedWord(name: string): string | null {
  if (/^[PD][0-9]+($|[.:])/.test(name)) return 'it names a CPU or an agent';
  if (/^ioapic($|\.)/.test(name)) return 'it names the I/O APIC';
  if (/^r[0-9]+$/.test(name) || name === 'sv') return 'it is a register name';
  if (name === 'true' || name === 'false') return 'it is a boolean';
  return null;
}

/** The closest candidate within a small edit distance (or that `word` begins), for "did you mean" hints. */
export function suggest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const prefix = word.length >= 3 && c.toLowerCase().startsWith(word.toLowerCase());
    const d = prefix ? 1 : distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === null ? '' : `; did you mean \`${s}\`?`;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** `a`, `b` or `c` for messages. */
export function oneOf(names: readonly string[]): string {
  const q = names.map((n) => `\`${n}\``);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

export { ACCELS, VMEXIT_KINDS, type Accel, type VmexitKind } from '../arch/assist.js';
