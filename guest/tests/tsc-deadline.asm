; The local APIC timer in TSC-deadline mode (LVT timer bits 18:17 = 10b, SDM Vol 3A 11.5.4.1): arm
; IA32_TSC_DEADLINE 1 ms ahead, wait 20 ms with IF=1. Expected: count=1 (one-shot), deadline-after=0 (the MSR
; reads 0 once the timer fired).
%define LAPIS_CPUS 1
%include "runtime.asm"

test_main:
  ON_VECTOR 0, 0x50, on_50
  APIC_WR APIC_LVT_TIMER, 0x40050       ; TSC-deadline mode, vector 0x50, unmasked
  rdtsc
  add eax, [tsc_per_ms]
  adc edx, 0
  mov ecx, MSR_TSC_DEADLINE
  wrmsr
  sti
  mov eax, 20000
  call lapis_delay_us
  cli
  mov ecx, MSR_TSC_DEADLINE
  rdmsr
  or eax, edx
  REPORT 'count', [COUNT(0, 0x50)]
  REPORT 'deadline-after', eax
  LAPIS_END

on_50:
  APIC_WR APIC_EOI, 0
  ret
