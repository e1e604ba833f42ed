; The end of a run under the guest's L1 hypervisor (guest/nested.asm).
; Included by guest/nested.asm at this point of it; it is one assembly with it.

; ---- the end of a run -------------------------------------------------------------------------------------------

; Out of VMX operation (the CPU answered the ping; an AP parks next, P0 resets): eax = cpu. From the guest through
; its VMCALL (VMMCALL): L1 continues the guest's code with VMX off. Keeps every register.
lit_nested_leave:
  pushad
  mov ebx, eax
  VMX_STATE_OF
  cmp dword [esi + VS_MODE], 0
  je .out
  cmp dword [esi + VS_MODE], 2
  je .guest
  mov dword [esi + VS_MODE], 0
%if LIT_SVM == 0
  vmxoff                                ; (Bochs 2.7: an INIT its INIT VM exit left pending acts now: wait-for-SIPI)
%endif
  jmp .out
.guest:
%if LIT_SVM
  vmmcall
%else
  vmcall
%endif
.out:
  popad
  ret

; The guest's VMCALL / VMMCALL (lit_nested_leave): L1 leaves VMX operation and goes on with the guest's code at the
; instruction after it, on its stack, with its registers and flags; NMI blocking stays as it is (no IRET). eax = cpu,
; esi = its state.
lit_nested_devirtualize:
%if LIT_SVM
  mov ebp, eax
  SVM_VMCB_OF
  mov ecx, 3                            ; VMMCALL is 3 bytes (for a CPU without nRIP: QEMU)
  call svm_skip_insn
  mov ebx, [edi + VMCB_RIP]
  mov ecx, [edi + VMCB_RSP]
  mov edx, [edi + VMCB_RFLAGS]
%else
  mov ebp, eax
  call vmx_skip_insn
  VMR VMCS_GUEST_RIP
  mov ebx, eax
  VMR VMCS_GUEST_RSP
  mov ecx, eax
  VMR VMCS_GUEST_RFLAGS
  mov edx, eax
  mov dword [esi + VS_MODE], 0
  vmxoff                                ; (Bochs 2.7: a pending INIT acts here: wait-for-SIPI)
%endif
  mov dword [esi + VS_MODE], 0
  sub ecx, 12                           ; on the guest's stack: EFLAGS, EIP, CS (POPFD; RETF), under them its registers
  mov [ecx], edx
  mov [ecx + 4], ebx
  mov dword [ecx + 8], SEL_CODE
  lea edi, [ecx - 32]
  lea esi, [esi + VS_GPRS]
  mov ecx, 8
  cld
  rep movsd
  lea esp, [edi - 32]
  popad
  popfd
  retf

; A CPU the run is over for, in a VM exit (LIT_RELEASE): it answered (or was found waiting for a SIPI), leaves VMX
; operation and parks until the next run's INIT. eax = cpu, esi = its state.
lit_nested_release:
  mov dword [LIT_REPORTED + eax * 4], 1
  mov dword [esi + VS_MODE], 0
%if LIT_SVM == 0
  vmxoff
%endif
  jmp lit_park_ap

; CPU eax enters its SIPI code (the compiled Pn_sipi_entry). After the L1's `vmentry sipi` it is the guest; after
; a real SIPI an INIT reset it: VMX off, no exit handler under way. An AMD CPU whose INIT came while its guest ran
; took the #VMEXIT(INIT) first (the VMCB has its exit code), but the INIT stayed pending and reset the L1 before it
; ran (QEMU TCG: at once, GIF = 0 or not; Bochs 2.7: at the STGI after it; docs/nested.md): that exit counts here.
; Keeps every register.
lit_nested_sipi_entry:
  pushad
  cmp byte [lit_cpu_vmx + eax], 0
  je .out
  cmp dword [LIT_VIRT_SIPI + eax * 4], 0
  je .real
  mov dword [LIT_VIRT_SIPI + eax * 4], 0
  jmp .out
.real:
  VMX_STATE_OF
%if LIT_SVM
  cmp dword [esi + VS_MODE], 0
  je .off
  SVM_VMCB_OF
  cmp dword [edi + VMCB_EXITCODE], SVM_EXIT_INIT
  jne .off
  mov dword [edi + VMCB_EXITCODE], SVM_EXIT_NONE
  lock inc dword [LIT_VMEXITS_INIT + eax * 4]
.off:
%endif
  mov dword [esi + VS_MODE], 0
  mov dword [LIT_L1_FRAME + eax * 4], 0
.out:
  popad
  ret

; The end-of-test ping found CPU ebp (lit_nmi_hook): what its VMX mode is now.
lit_nested_snapshot:
  push eax
  push esi
  mov eax, ebp
  VMX_STATE_OF
  mov eax, [esi + VS_MODE]
  mov [LIT_VMX_END + ebp * 4], eax
  pop esi
  pop eax
  ret

; The coordinator at the end of a run, CPU ebx (lit_collect): eax = 0 when it does not use VMX (the usual evidence),
; 1 when done with it here, 2 when it must be pinged. A guest in wait-for-SIPI takes no NMI: its state is known, and
; a SIPI of the runtime's (a SIPI VM exit) takes it out of VMX operation to park. A CPU stopped inside the test's
; VMXOFF took the INIT the VMXOFF released: wait-for-SIPI.
lit_nested_collect:
  movzx eax, byte [lit_cpu_vmx + ebx]
  test eax, eax
  jz .out
  mov dword [LIT_RELEASE + ebx * 4], 1
  cmp dword [LIT_VMXOFF_MARK + ebx * 4], 0
  jne .vmxoff_init
  mov eax, ebx
  VMX_STATE_OF
  cmp dword [esi + VS_MODE], 2
  jne .ping
  cmp dword [esi + VS_ENTRY_ACT], VMX_ACT_WFS
  jne .ping
  mov dword [LIT_ACT + ebx * 4], LIT_ACT_WFS
  mov dword [LIT_VMX_END + ebx * 4], 2
  mov dword [LIT_REPORTED + ebx * 4], 0
  SEND ICR_STARTUP | ICR_ASSERT | LAPIS_BRINGUP_VECTOR, ebx
  call lit_wait_reported
  mov dword [LIT_REPORTED + ebx * 4], 0
  mov eax, 1
  ret
.vmxoff_init:
  mov dword [LIT_ACT + ebx * 4], LIT_ACT_WFS
  mov dword [LIT_VMX_END + ebx * 4], 0
  mov eax, 1
  ret
.ping:
  mov eax, 2
.out:
  ret

; A SIPI of the test is being sent to CPU eax (lit_sipi_sent): for a CPU that uses VMX, CF set and LIT_SIPI_PENDING
; as its own evidence says (a guest in wait-for-SIPI, or a CPU stopped in its VMXOFF by an INIT); CF clear for others.
; As lit_sipi_sent: the flag is set first, with a locked store, and the evidence read after it; a SIPI exit from an
; earlier SIPI writes VS_MODE (vmx_exit_entry) before it clears the flag, so either that VS_MODE is read below or the
; clear comes after the store.
lit_nested_sipi_sent:
  push esi
  push ecx
  cmp byte [lit_cpu_vmx + eax], 0
  je .other
  push eax
  VMX_STATE_OF
  pop eax
  mov ecx, 1
  xchg [LIT_SIPI_PENDING + eax * 4], ecx
  cmp dword [LIT_VMXOFF_MARK + eax * 4], 0
  jne .done
  cmp dword [esi + VS_MODE], 2
  jne .running
  cmp dword [esi + VS_ENTRY_ACT], VMX_ACT_WFS
  je .done
.running:
  mov dword [LIT_SIPI_PENDING + eax * 4], 0
.done:
  pop ecx
  pop esi
  stc
  ret
.other:
  pop ecx
  pop esi
  clc
  ret

; LIT_KV_VMX "name", cpu: Pcpu's VMX operation when the run ended (off, root, non-root; `?` when nothing says).
%macro LIT_KV_VMX 2
  mov esi, %%key
  mov ebx, %2
  call lit_line_vmx
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro

; esi = key, ebx = cpu: ` key=off|root|non-root` or `?`.
lit_line_vmx:
  mov eax, [LIT_VMX_END + ebx * 4]
  cmp eax, 2
  ja .unknown
  mov edi, [lit_vmx_names + eax * 4]
  jmp lit_line_str
.unknown:
  mov edi, lit_str_unknown
  jmp lit_line_str

lit_str_vmx_off: db 'off', 0
lit_str_vmx_root: db 'root', 0
lit_str_vmx_nonroot: db 'non-root', 0
align 4
lit_vmx_names: dd lit_str_vmx_off, lit_str_vmx_root, lit_str_vmx_nonroot
lit_nested_ready: times LIT_CPUS dd 0
lit_nested_kind: times LIT_CPUS dd 0
