; INIT-SIPI-SIPI bring-up of P1 (docs/conformance.md, hand-written proof).
; P1 is left in wait-for-SIPI by the runtime's INIT; P0 sends INIT, SIPI 0x10, SIPI 0x10 (SDM Vol 3A 9.4.4.1);
; P1's SIPI code (page 0x10000) reaches 32-bit mode and stores booted = 1. Expected: booted=1, sipi-vector=16,
; sipi-count=1 (the second SIPI finds P1 running and is ignored).
%define LAPIS_CPUS 2
%include "runtime.asm"

test_main:
  mov eax, 0x10
  call lapis_install_trampoline
  mov dword [PC_SIPI_ENTRY + 1 * 4], p1_sipi
  SEND ICR_INIT | ICR_ASSERT, 1
  mov eax, 10000
  call lapis_delay_us
  SEND ICR_STARTUP | ICR_ASSERT | 0x10, 1
  mov eax, 200
  call lapis_delay_us
  SEND ICR_STARTUP | ICR_ASSERT | 0x10, 1
  mov esi, booted
  mov ebx, 1
  mov eax, 200000
  call lapis_wait_eq_us
  mov eax, 1000                         ; let a late second SIPI land before reading the count
  call lapis_delay_us
  REPORT 'booted', [booted]
  REPORT 'sipi-vector', [PC_SIPI_VECTOR + 1 * 4]
  REPORT 'sipi-count', [PC_SIPI_COUNT + 1 * 4]
  LAPIS_END

p1_sipi:                                ; ebx = SIPI vector, ecx = APIC ID
  mov dword [booted], 1
  cli
.h:
  hlt
  jmp .h

align 4
booted: dd 0
