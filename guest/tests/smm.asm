; An SMI IPI to P1 (idling in its HLT loop): P1 enters SMM at its SMBASE + 0x8000, where the runtime's handler
; (installed for the default SMBASE 0x30000; INIT keeps SMBASE, so the firmware's choice stands) counts it and
; returns with RSM. Expected: smi-count=1, and P1 still takes a fixed IPI afterwards (after-rsm=1).
; With -DSMM_TARGET=0 the SMI goes to the BSP instead (whose SMBASE the firmware may have relocated: then the
; firmware's handler runs and smi-count stays 0).
%define LAPIS_CPUS 2
%define LAPIS_ACTIVE_APS 0b10
%ifndef SMM_TARGET
  %define SMM_TARGET 1
%endif
%include "runtime.asm"

test_main:
  mov eax, SMM_DEFAULT_BASE
  call lapis_install_smm_handler
  mov dword [lapis_go], 1
  SEND ICR_SMI | ICR_ASSERT, SMM_TARGET
  mov esi, PC_SMI_COUNT + SMM_TARGET * 4
  mov ebx, 1
  mov eax, 100000
  call lapis_wait_eq_us
  SEND ICR_FIXED | ICR_ASSERT | 0x42, 1   ; P1 still alive (after its RSM)
  mov esi, COUNT(1, 0x42)
  mov ebx, 1
  mov eax, 100000
  call lapis_wait_eq_us
  REPORT 'smi-count', [PC_SMI_COUNT + SMM_TARGET * 4]
  REPORT 'after-rsm', [COUNT(1, 0x42)]
  LAPIS_END
