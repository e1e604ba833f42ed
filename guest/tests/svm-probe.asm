; What an SVM implementation does with an intercepted INIT (docs/nested.md, "Probes"). P1 runs a guest
; (guest/svm.asm: EFER.SVME, a VMCB intercepting INIT, VMRUN; the guest checks in with VMMCALL, then counts in a
; loop) under an L1 that counts #VMEXITs and goes back in. BSP: INIT to P1, 5 ms, then SIPI 0x20 (a page whose
; code records that it ran). Reports `vmcb-exitcode` (the VMCB's exit code after the INIT: 99 = #VMEXIT(INIT)),
; `init-exits-seen` (#VMEXIT(INIT)s L1's handler saw, after its STGI) and `sipi-ran` (1: P1 was INITed itself,
; waited for the SIPI and ran the page). With SVM_PHASE=2 there is no INIT: `guest-runs` (the guest counts on) and
; the SIPI to the running guest (`sipi-ran` 0: discarded).
%define LAPIS_CPUS 2
%define LAPIS_ACTIVE_APS 0b10
%ifndef SVM_PHASE
  %define SVM_PHASE 1
%endif
%include "runtime.asm"
%include "vmx.asm"
%include "svm.asm"

test_main:
  mov eax, 0x80000001
  cpuid
  bt ecx, 2
  jc .svm
  REPORT 'svm', 0
  LAPIS_END
.svm:
  REPORT 'svm', 1
  mov eax, 0x8000000A
  cpuid
  REPORT 'svm-features', edx
  call vmx_boot
  mov dword [vmx_exit_hook], l1_exit
  mov dword [PC_MAIN + 4], p1_main
  mov eax, 0x20
  call lapis_install_trampoline
  mov dword [lapis_go], 1
  AWAIT_EQ [guest_started], 1
  mov dword [PC_SIPI_ENTRY + 4], sipi_page
%if SVM_PHASE == 1
  SEND ICR_INIT | ICR_ASSERT, 1
  mov esi, VMX_AREA + VMX_AREA_SIZE + VMX_VMCS_OFF + VMCB_EXITCODE
  mov ebx, SVM_EXIT_INIT
  mov eax, 200000                       ; (bounded waits, not fixed delays: a vCPU of a busy host may be slow)
  call lapis_wait_eq_us
  REPORT 'vmcb-exitcode', [VMX_AREA + VMX_AREA_SIZE + VMX_VMCS_OFF + VMCB_EXITCODE]
  mov eax, 5000
  call lapis_delay_us
  SEND ICR_STARTUP | ICR_ASSERT | 0x20, 1
  mov esi, sipi_ran
  mov ebx, 1
  mov eax, 200000
  call lapis_wait_eq_us
%else
  mov ecx, 200000                       ; the guest goes on counting (up to 200 ms to see it)
  mov eax, [guest_count]
.runs:
  cmp eax, [guest_count]
  jne .ran
  push eax
  push ecx
  mov eax, 1
  call lapis_delay_us
  pop ecx
  pop eax
  loop .runs
.ran:
  cmp eax, [guest_count]
  setne al
  movzx eax, al
  REPORT 'guest-runs', eax
  SEND ICR_STARTUP | ICR_ASSERT | 0x20, 1
  mov eax, 20000
  call lapis_delay_us
%endif
  REPORT 'init-exits-seen', [init_exits]
  REPORT 'sipi-ran', [sipi_ran]
  LAPIS_END

sipi_page:
  lock inc dword [sipi_ran]
  cli
  hlt

p1_main:
  call svm_cpu_prepare
  test eax, eax
  jnz .fail
  mov eax, 1
  xor ebx, ebx
  call svm_vmcb_setup
  mov eax, 1
  call svm_run_here
  jc .fail
  vmmcall                               ; in the guest: an exit L1 counts (the guest runs under SVM)
  mov dword [guest_started], 1
.l:
  lock inc dword [guest_count]
  pause
  jmp .l
.fail:
  REPORT_LINE 'error=svm-setup'
  LAPIS_END

; eax = cpu, ebx = exit code, esi = its state (GIF is 1 again: svm_vmexit_entry did STGI)
l1_exit:
  cmp ebx, SVM_EXIT_VMMCALL
  jne .not_vmmcall
  mov ecx, 3
  call svm_skip_insn
  jmp .resume
.not_vmmcall:
  cmp ebx, SVM_EXIT_INIT
  jne .other
  inc dword [init_exits]
  jmp .resume
.other:
  REPORT 'unexpected-exit', ebx
  LAPIS_END
.resume:
  push eax
  call svm_resume
  pop eax
  REPORT_LINE 'error=vmrun-failed'
  LAPIS_END

align 4
guest_started: dd 0
guest_count: dd 0
init_exits: dd 0
sipi_ran: dd 0
