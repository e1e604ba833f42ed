; A fixed self-IPI (ICR shorthand self, vector 0x40) taken once with IF=1; the handler EOIs.
; Expected: count=1, isr-after=0 (the EOI cleared ISR bit 0x40).
%define LAPIS_CPUS 1
%include "runtime.asm"

test_main:
  ON_VECTOR 0, 0x40, on_40
  sti
  SEND ICR_FIXED | ICR_ASSERT | ICR_SELF | 0x40, 0
  mov eax, 2000
  call lapis_delay_us
  cli
  APIC_RD APIC_ISR0 + 0x20              ; ISR bits 0x40..0x5F
  and eax, 1
  REPORT 'count', [COUNT(0, 0x40)]
  REPORT 'isr-after', eax
  LAPIS_END

on_40:
  APIC_WR APIC_EOI, 0
  ret
