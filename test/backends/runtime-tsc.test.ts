// The guest's model-TSC conversions (guest/litmus-tsc.asm): a deadline of E model ticks is written as lit_tsc0 + E x
// (TSC ticks a model tick) and read back as E, rounded up; 0 stays 0 (disarmed); a value no compiled write makes
// (before the run began, or 2^32 model ticks past it) reads as 0xFFFFFFFF rather than a divide error. Booted on QEMU
// 7.2 TCG with a fixed TSC rate and lit_tsc0, so every value is exact; the guest reports what each call returned.

import { describe, expect, it } from 'vitest';
import { BOOT_TEST_MS, bootSource, useRunTempDir } from './helpers.js';

const work = useRunTempDir('runtime-tsc');

// 3000 TSC ticks a millisecond: a model tick of 200 µs is 600 TSC ticks. lit_tsc0 = 2^32 + 5 (a high dword to carry).
const GUEST = `%define LAPIS_CPUS 1
%include "runtime.asm"
%include "litmus-tsc.asm"

%macro CALL_REPORT 5                    ; name of eax, name of edx, edx, eax, helper
  mov edx, %3
  mov eax, %4
  mov ebx, 200
  call %5
  REPORT %1, eax
  REPORT %2, edx
%endmacro

test_main:
  mov dword [tsc_per_ms], 3000
  CALL_REPORT 'w50', 'w50_hi', 0, 50, lit_deadline_tsc             ; 2^32 + 5 + 30000
  CALL_REPORT 'w0', 'w0_hi', 0, 0, lit_deadline_tsc               ; disarms
  CALL_REPORT 'r50', 'r50_hi', 1, 5 + 30000, lit_tsc_deadline      ; reads back as written
  CALL_REPORT 'r601', 'r601_hi', 1, 5 + 601, lit_tsc_deadline       ; one TSC tick past a model tick: rounded up to 2
  CALL_REPORT 'r0', 'r0_hi', 0, 0, lit_tsc_deadline               ; disarmed
  CALL_REPORT 'early', 'early_hi', 1, 4, lit_tsc_deadline            ; before lit_tsc0
  CALL_REPORT 'far', 'far_hi', 0x300, 5, lit_tsc_deadline          ; 0x2ff x 2^32 TSC ticks later: past 2^32 model ticks
  LAPIS_END

lit_tsc0: dd 5, 1
`;

describe('guest runtime: IA32_TSC_DEADLINE in model ticks', () => {
  it('converts a deadline to the machine\'s TSC and back exactly, keeps 0, and reads a wild value as 0xFFFFFFFF', async () => {
    const v = await bootSource(work(), 'tsc', GUEST);
    expect([v.w50, v.w50_hi]).toEqual([String(5 + 30000), '1']);
    expect([v.w0, v.w0_hi]).toEqual(['0', '0']);
    expect([v.r50, v.r50_hi]).toEqual(['50', '0']);
    expect([v.r601, v.r601_hi]).toEqual(['2', '0']);
    expect([v.r0, v.r0_hi]).toEqual(['0', '0']);
    expect([v.early, v.far]).toEqual([String(0xffffffff), String(0xffffffff)]);
  }, BOOT_TEST_MS);
});
