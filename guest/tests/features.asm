; Reports what the CPU offers (CPUID) and what the runtime found: the runner checks a backend's feature table
; against it. cpuid1-ecx bit 21 = x2APIC, bit 24 = TSC-deadline; apic-version = the local APIC's version register.
%define LAPIS_CPUS 1
%include "runtime.asm"

test_main:
  mov eax, 1
  cpuid
  mov esi, ecx
  mov edi, edx
  REPORT 'cpuid1-ecx', esi
  REPORT 'cpuid1-edx', edi
  APIC_RD APIC_VERSION
  REPORT 'apic-version', eax
  REPORT 'tsc-per-ms', [tsc_per_ms]
  mov ecx, MSR_APIC_BASE
  rdmsr
  REPORT 'apic-base', eax
  LAPIS_END
