; x2APIC mode through IA32_APIC_BASE (EN|EXTD), then a self-IPI through the x2APIC ICR (MSR 0x830, shorthand
; self) and one through the SELF IPI register (MSR 0x83F). Expected: x2apic-id=0, count=2. QEMU 7.2 TCG (no
; x2APIC) ignores the EXTD bit and the x2APIC MSRs without a #GP: there count=0.
%define LAPIS_CPUS 1
%include "runtime.asm"

test_main:
  call lapis_x2apic_enable
  ON_VECTOR 0, 0x40, on_40
  mov ecx, X2APIC_MSR + (APIC_ID >> 4)
  rdmsr
  REPORT 'x2apic-id', eax
  sti
  SEND ICR_FIXED | ICR_ASSERT | ICR_SELF | 0x40, 0
  mov eax, 1000
  call lapis_delay_us
  mov ecx, X2APIC_MSR + (APIC_SELF_IPI >> 4)
  mov eax, 0x40
  xor edx, edx
  wrmsr
  mov eax, 1000
  call lapis_delay_us
  cli
  REPORT 'count', [COUNT(0, 0x40)]
  LAPIS_END

on_40:
  APIC_WR APIC_EOI, 0
  ret
