// Processor-level architectural constants: activity states, SMM save-state layout, vendors.
// Citations of the SMM chapter use its 2016-2022 numbering (SDM Vol 3C chapter 34); see docs/spec-map.md.

/**
 * Activity states. SDM Vol 3C 25.4.2 Guest Non-Register State (activity state: active, HLT, shutdown,
 * wait-for-SIPI) and SDM Vol 3A 9.4 Multiple-Processor (MP) Initialization. `unplugged` is a CPU slot with
 * no processor in it (ACPI CPU hotplug): it answers nothing until it is plugged in.
 */
export enum Activity {
  ACTIVE = 0,
  HALTED = 1,
  SHUTDOWN = 2,
  WAIT_FOR_SIPI = 3,
  UNPLUGGED = 4,
}
export const ACTIVITY_NAMES = ['active', 'halted', 'shutdown', 'wait-for-sipi', 'unplugged'] as const;
export type ActivityName = (typeof ACTIVITY_NAMES)[number];

export type Vendor = 'intel' | 'amd';

/** VMX operation of a logical processor. SDM Vol 3C 24.1 Overview (VMX root and non-root operation). */
export enum VmxMode {
  OFF = 0,
  ROOT = 1,
  NON_ROOT = 2,
}
export const VMX_MODE_NAMES = ['off', 'root', 'non-root'] as const;

/** SDM Vol 3C 34.4 SMRAM: default SMBASE after RESET; SMM code starts at SMBASE + 0x8000. */
export const DEFAULT_SMBASE = 0x30000;
export const SMM_ENTRY_OFFSET = 0x8000;
/**
 * Where the SMRAM state-save map and the fields the model keeps lie, as offsets from SMBASE. Intel: SDM Vol 3C 34.4.1
 * SMRAM State Save Map, Tables 34-1 and 34-3 (the 32-bit and the Intel 64 map both end at SMBASE + 0xFFFF; the Intel
 * 64 map starts at SMBASE + 0xFC00; SMBASE field at map offset 7EF8H, I/O instruction restart at 7F00H, auto HALT
 * restart at 7F02H). AMD64: APM Vol 2 10.2.3 SMRAM State-Save Area, Table 10-2 (the map starts at SMBASE + 0xFE00;
 * I/O instruction restart FEC8h, auto halt restart FEC9h, SMBASE FF00h). Processors with one SMBASE share one map.
 */
export const SMM_SAVE_MAP = {
  intel: { start: 0xfc00, smbase: 0xfef8, ioRestart: 0xff00, autoHalt: 0xff02 },
  amd: { start: 0xfe00, smbase: 0xff00, ioRestart: 0xfec8, autoHalt: 0xfec9 },
} as const satisfies Record<Vendor, { start: number; smbase: number; ioRestart: number; autoHalt: number }>;
/** The state-save map fields a litmus SMI handler reads and writes (`smram read/write`). */
export const SAVE_STATE_FIELDS = ['SMBASE', 'AUTO_HALT_RESTART', 'IO_RESTART'] as const;
export type SaveStateField = (typeof SAVE_STATE_FIELDS)[number];
/** SDM Vol 3C 34.4.1: SMM revision identifier at 0xFEFC; bit 17 = SMBASE relocation supported. */
export const SMM_SAVE_REVISION_OFFSET = 0xfefc;
export const SMM_REVISION_ID = 0x00030064 | (1 << 17);

/** The BSP starts at the reset vector; an AP started by SIPI vector V starts at physical V << 12. */
export const RESET_VECTOR = 0xfffffff0;
export function sipiStartAddress(vector: number): number {
  return (vector & 0xff) << 12;
}

/** CPUID output registers, in the order CPUID returns them. */
export const CPUID_REGS = ['eax', 'ebx', 'ecx', 'edx'] as const;
export type CpuidRegName = (typeof CPUID_REGS)[number];

/**
 * The CPUID fields the interrupt architecture owns, per leaf and output register: the only bits the model gives
 * (every other bit reads 0; the guest compiler masks a real CPUID the same way). SDM Vol 2A CPUID, Table 3-8:
 * CPUID.01H:EBX[31:24] initial APIC ID, ECX[21] x2APIC, ECX[24] TSC-deadline, EDX[9] APIC on chip (SDM Vol 3A
 * 11.4.3: it reads 0 while IA32_APIC_BASE[11] is 0); CPUID.0BH:EDX the x2APIC ID of the logical processor (every
 * sub-leaf; SDM Vol 3A 11.12.8.1). AMD: APM Vol 3 Appendix E, the same bits.
 */
export const CPUID_FIELDS: Readonly<Record<number, Readonly<Record<CpuidRegName, number>>>> = {
  0x1: { eax: 0, ebx: 0xff000000, ecx: (1 << 21) | (1 << 24), edx: 1 << 9 },
  0xb: { eax: 0, ebx: 0, ecx: 0, edx: 0xffffffff },
};
export const CpuidBit = {
  X2APIC: 1 << 21,
  TSC_DEADLINE: 1 << 24,
  APIC: 1 << 9,
  INITIAL_APIC_ID_SHIFT: 24,
} as const;
