; What a VMX implementation does with INIT and SIPI around a VM exit (docs/nested.md, "Probes"). P1 runs a guest
; (guest/vmx.asm: VMXON, a VMCS, the guest counting in a loop) under an L1 whose exit handler counts exits and
; goes back in. VMX_PHASE (default 1):
;   1  INIT to P1 -> INIT VM exit, L1 resumes the guest: `init-exits` after 5 ms (SDM Vol 3C 26.2: 1) and the guest's
;      progress (`guest-runs` = 1 when it ran on after the exit).
;   2  INIT -> INIT exit, L1 enters the guest in wait-for-SIPI; SIPI 0x20 -> SIPI exit: `sipi-qual` (the vector),
;      `sipi-intr` (guest interruptibility saved by the exit: bit 2 blocking by SMI, bit 3 by NMI) and, after L1
;      re-enters the guest active with interruptibility 0, `init-exits-after-sipi`.
;   3  P1 in VMX root (no guest): INIT, then VMXOFF: `after-vmxoff` = 1 when P1 got past it (the INIT was not held).
;   4  external-interrupt exiting, acknowledged on exit; the guest spins with IF = 0 (SDM Vol 3C 25.3: RFLAGS.IF does
;      not block external interrupts then); fixed IPI 0x41 to P1: `extint-exits`, `extint-vector`; then the guest
;      executes a CPUID (an exit) and spins on, and IPI 0x42 follows: `extint-exits-2`.
; Also: `vmx-misc` (IA32_VMX_MISC low dword: bit 8 = wait-for-SIPI), `vmx-proc2-allowed` (IA32_VMX_PROCBASED_CTLS2
; allowed-1: bit 9 virtual-interrupt delivery), `vmx-proc-allowed` (allowed-1: bit 21 TPR shadow),
; `vmx-pin-allowed` (bit 7 posted interrupts).
%define LAPIS_CPUS 2
%define LAPIS_ACTIVE_APS 0b10
%ifndef VMX_PHASE
  %define VMX_PHASE 1
%endif
%include "runtime.asm"
%include "vmx.asm"

test_main:
  mov eax, 1
  cpuid
  bt ecx, 5
  jc .vmx
  REPORT 'vmx', 0
  LAPIS_END
.vmx:
  REPORT 'vmx', 1
  mov ecx, MSR_VMX_MISC
  rdmsr
  REPORT 'vmx-misc', eax
  mov ecx, MSR_VMX_PROC2
  rdmsr
  REPORT 'vmx-proc2-allowed', edx
  mov ecx, MSR_VMX_TRUE_PROC
  rdmsr
  REPORT 'vmx-proc-allowed', edx
  mov ecx, MSR_VMX_TRUE_PIN
  rdmsr
  REPORT 'vmx-pin-allowed', edx
  call vmx_boot
  mov dword [vmx_exit_hook], l1_exit
  mov dword [PC_MAIN + 4], p1_main
  mov dword [lapis_go], 1
%if VMX_PHASE == 4
  AWAIT_EQ [guest_started], 1
  SEND ICR_FIXED | ICR_ASSERT | 0x41, 1
  mov eax, 2000
  call lapis_delay_us
  REPORT 'extint-exits', [extint_exits]
  REPORT 'extint-vector', [extint_vector]
  mov dword [do_cpuid], 1
  mov eax, 2000
  call lapis_delay_us
  SEND ICR_FIXED | ICR_ASSERT | 0x42, 1
  mov eax, 2000
  call lapis_delay_us
  REPORT 'extint-exits-2', [extint_exits]
  REPORT 'extint-vector-2', [extint_vector]
%elif VMX_PHASE == 3
  AWAIT_EQ [in_root], 1
  SEND ICR_INIT | ICR_ASSERT, 1
  mov eax, 2000
  call lapis_delay_us
  mov dword [do_vmxoff], 1
  mov eax, 2000
  call lapis_delay_us
  REPORT 'after-vmxoff', [after_vmxoff]
%else
  AWAIT_EQ [guest_started], 1
  SEND ICR_INIT | ICR_ASSERT, 1
  mov eax, 5000
  call lapis_delay_us
  REPORT 'init-exits', [init_exits]
  mov eax, [guest_count]
  mov [snap], eax
  mov eax, 2000
  call lapis_delay_us
  mov eax, [guest_count]
  cmp eax, [snap]
  setne al
  movzx eax, al
  REPORT 'guest-runs', eax
%if VMX_PHASE == 2
  SEND ICR_STARTUP | ICR_ASSERT | 0x20, 1
  mov eax, 5000
  call lapis_delay_us
  REPORT 'sipi-exits', [sipi_exits]
  REPORT 'sipi-qual', [sipi_qual]
  REPORT 'sipi-intr', [sipi_intr]
  REPORT 'init-exits-after-sipi', [init_exits]
%endif
%endif
  REPORT 'failed-entries', [failed_entries]
  LAPIS_END

p1_main:
  call vmx_cpu_prepare
  REPORT 'prepare', eax
  mov eax, 1
  call vmx_on
  jc p1_fail
%if VMX_PHASE == 3
  mov dword [in_root], 1
.w:
  cmp dword [do_vmxoff], 0
  je .w
  vmxoff
  mov dword [after_vmxoff], 1
  cli
  hlt
  jmp guest_loop
%else
  mov eax, 1
  xor ebx, ebx
%if VMX_PHASE == 4
  mov ebx, 1                            ; external-interrupt exiting
  mov dword [vmx_want_exit], 1 << 15    ; acknowledge interrupt on exit
%endif
  mov ecx, VMX_PROC_WANT
  xor edx, edx
  call vmx_vmcs_setup
  jc p1_fail
  mov eax, 1
  mov ebx, VMX_ACT_ACTIVE
  call vmx_launch_here
  jc p1_fail
%endif
guest_loop:
  cli
  mov dword [guest_started], 1
.l:
  lock inc dword [guest_count]
  pause
%if VMX_PHASE == 4
  cmp dword [do_cpuid], 1
  jne .l
  mov dword [do_cpuid], 2
  push eax
  push ebx
  push ecx
  push edx
  xor eax, eax
  cpuid
  pop edx
  pop ecx
  pop ebx
  pop eax
%endif
  jmp .l
p1_fail:
  REPORT_LINE 'error=vmx-setup'
  LAPIS_END

; eax = cpu, ebx = exit reason, esi = its state
l1_exit:
  cmp ebx, VMX_EXIT_CPUID
  jne .not_cpuid
  call vmx_emulate_cpuid
  jmp .resume
.not_cpuid:
  cmp ebx, VMX_EXIT_INIT
  jne .not_init
  inc dword [init_exits]
%if VMX_PHASE == 2
  cmp dword [sipi_exits], 0
  jne .resume
  push eax
  VMW VMCS_GUEST_ACTIVITY, VMX_ACT_WFS
  pop eax
%endif
  jmp .resume
.not_init:
  cmp ebx, VMX_EXIT_EXTINT
  jne .not_extint
  inc dword [extint_exits]
  mov ecx, [esi + VS_INTR]
  and ecx, 0xFF
  mov [extint_vector], ecx
  mov dword [APIC_BASE + APIC_EOI], 0   ; the acknowledged vector's ISR bit
  jmp .resume
.not_extint:
  cmp ebx, VMX_EXIT_SIPI
  jne .other
  inc dword [sipi_exits]
  mov ecx, [esi + VS_QUAL]
  mov [sipi_qual], ecx
  mov ecx, [esi + VS_GUEST_INTR]
  mov [sipi_intr], ecx
  push eax
  VMW VMCS_GUEST_ACTIVITY, VMX_ACT_ACTIVE
  VMW VMCS_GUEST_INTR_STATE, 0
  VMW VMCS_GUEST_RIP, guest_loop
  pop eax
  jmp .resume
.other:
  REPORT 'unexpected-exit', ebx
  LAPIS_END
.resume:
  push eax
  call vmx_resume
  pop eax
  inc dword [failed_entries]              ; (a VM entry that failed: L1 stops here)
  cli
  hlt

align 4
in_root: dd 0
do_vmxoff: dd 0
after_vmxoff: dd 0
guest_started: dd 0
guest_count: dd 0
snap: dd 0
init_exits: dd 0
sipi_exits: dd 0
sipi_qual: dd 0
sipi_intr: dd 0
failed_entries: dd 0
extint_exits: dd 0
extint_vector: dd 0
do_cpuid: dd 0
