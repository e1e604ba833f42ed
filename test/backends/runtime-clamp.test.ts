// The guest runtime's microseconds-to-ticks conversion (guest/runtime-cpu.asm lapis_us_ticks) where the calibrated
// TSC rate is absurdly high, as under nested KVM (31 GHz: every exit slower than the PIT window it times): a long
// wait is clamped to 2^31 - 1 ticks and ends, instead of a divide error (#DE) or a 32-bit TSC delta that wraps and
// never reaches its limit. Booted on QEMU 7.2 TCG; the guest reports what each wait returned, never how long it took.

import { describe, expect, it } from 'vitest';
import { BOOT_TEST_MS, bootSource, useRunTempDir } from './helpers.js';

const work = useRunTempDir('runtime-clamp');

const GUEST = `%define LAPIS_CPUS 1
%include "runtime.asm"

test_main:
  mov dword [tsc_per_ms], 40000000      ; 40 GHz: 500 ms is 2e10 ticks, past 32 bits
  mov eax, 500000
  call lapis_us_ticks
  REPORT 'ticks', eax
  mov esi, never
  mov ebx, 1
  mov eax, 500000
  call lapis_wait_eq_us                 ; the condition never holds: it must time out (eax = 0)
  REPORT 'waited', eax
  mov dword [tsc_per_ms], 3000
  mov eax, 1000
  call lapis_us_ticks                   ; an ordinary conversion is exact
  REPORT 'small', eax
  LAPIS_END

never: dd 0
`;

describe('guest runtime: lapis_us_ticks', () => {
  it('clamps a wait past 2^31 ticks, and lapis_wait_eq_us then times out instead of faulting or waiting for ever', async () => {
    const v = await bootSource(work(), 'clamp', GUEST);
    expect(v.ticks).toBe(String(0x7fffffff));
    expect(v.waited).toBe('0');
    expect(v.small).toBe('3000');
  }, BOOT_TEST_MS);
});
