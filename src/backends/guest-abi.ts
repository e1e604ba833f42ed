// The values the guest compiler and guest/litmus.asm share. They are defined here only: every compiled guest
// carries them as NASM `equ`s (guestAbi(), emitted before runtime.asm and litmus.asm are included), so the two
// sides cannot drift apart.

export const GUEST_ABI = {
  /** lit_cpu_kind: how a test CPU starts a run. */
  LIT_KIND_MAIN: [1, 'runs its main block (active at the start)'],
  LIT_KIND_IDLE: [2, 'idles in a HLT loop (init Pn.activity = halted), its APIC as INIT left it'],
  LIT_KIND_WFS: [3, 'an AP left in wait-for-SIPI (no main block)'],
  LIT_KIND_PARK: [4, 'P0 without a main block: the model has it wait for a SIPI; the BSP parks'],
  LIT_KIND_UNPLUGGED: [5, 'an empty slot (init Pn.activity = unplugged): LIT_KIND_WFS once an agent hot-adds it'],
  /** lit_cpu_flags. */
  LIT_F_MAIN: [1, 'wait for its main block to finish'],
  LIT_F_SIPI: [2, 'has `on sipi` code: wait for it to finish once started'],
  LIT_F_WFSABLE: [4, 'may be in wait-for-SIPI at the end (started there, or an INIT may reach it)'],
  /** Report slots a CPU has for the APIC state it reads when pinged (LIT_RVAL qword[cpu * slots + slot]). */
  LIT_SLOTS: [32, 'report slots per CPU (observables)'],
  /** Registers per process in lit_regs (CPUs first, then agents), 8 bytes each. */
  LIT_REGS: [32, 'registers per process in lit_regs'],
  /** SMBASE after RESET (SDM Vol 3C 34.11 SMBASE Relocation). */
  LIT_SMBASE_DEFAULT: [0x30000, 'SMBASE after RESET'],
} as const;

export type GuestAbiName = keyof typeof GUEST_ABI;

export function abi(name: GuestAbiName): number {
  return GUEST_ABI[name][0];
}

/** The `equ` lines every compiled guest starts with. */
export function guestAbi(): string[] {
  return Object.entries(GUEST_ABI).map(([name, [value, what]]) => `${name.padEnd(20)} equ 0x${value.toString(16).padEnd(8)} ; ${what}`);
}

/** The boot sector loads sectors 1..127 (guest/runtime.asm STAGE2_SECTORS): stage 2 (runtime + test) must fit in
 *  them. */
export const MAX_STAGE2_BYTES = 127 * 512;
