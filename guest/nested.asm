; lapis: nested VMX / SVM for compiled litmus tests (docs/nested.md; src/backends/nested.ts). Included by litmus.asm
; when LIT_NESTED is 1 (Intel VMX, guest/vmx.asm) or 2 (AMD SVM, guest/svm.asm). A test CPU whose `init` has
; `Pn.vmx = root` runs its code in VMX root operation (SVM: the host, EFER.SVME set); `Pn.vmx = non-root` runs it as
; the guest (L2) of a VMCS or VMCB set up right before it waits for go, in the same address space and with the same
; IDT, so its handlers and the end-of-test ping work as anywhere else. The L1 is this file: it emulates the guest's
; CPUID (VMX: an unconditional exit), counts the INIT and SIPI VM exits and runs the test's `on vmexit init|sipi`
; code for them, enters the guest again for `vmentry` (VMRESUME / VMRUN, in the activity state asked), and takes the
; guest out of VMX operation when the run is over (the guest's VMCALL / VMMCALL: L1 continues the guest's code in
; VMX off).
;
; Tables the compiled test defines: lit_cpu_vmx db (per test CPU: LIT_VMX_* below), lit_vmexit_init dd and
; lit_vmexit_sipi dd (the handlers, 0: none).

LIT_VMX_NONE    equ 0                   ; the CPU never uses VMX / SVM
LIT_VMX_OFF     equ 1                   ; VMX off, ready for VMXON (paging, CR4.VMXE)
LIT_VMX_ROOT    equ 2                   ; VMX root (SVM: EFER.SVME, the host)
LIT_VMX_GUEST   equ 3                   ; the guest, active
LIT_VMX_GUEST_WFS equ 4                 ; the guest, in the wait-for-SIPI activity state

LIT_NESTED_BASE equ LIT_BASE + LIT_SIZE
LIT_VMEXITS_INIT equ LIT_NESTED_BASE + 0x000 ; dword[cpu]: INIT VM exits this run
LIT_VMEXITS_SIPI equ LIT_NESTED_BASE + 0x100 ; dword[cpu]: SIPI VM exits this run
LIT_VMX_END     equ LIT_NESTED_BASE + 0x200 ; dword[cpu]: VS_MODE when the run ended (-1: not known)
LIT_RELEASE     equ LIT_NESTED_BASE + 0x300 ; dword[cpu]: the run is over: a VM exit now takes the CPU out of VMX
LIT_VMXOFF_MARK equ LIT_NESTED_BASE + 0x400 ; dword[cpu]: inside the test's VMXOFF (an INIT it releases stops it here)
LIT_SAVED_BLOCKED equ LIT_NESTED_BASE + 0x500 ; dword[cpu]: the guest's LIT_BLOCKED at its VM exit
LIT_L1_FRAME    equ LIT_NESTED_BASE + 0x600 ; dword[cpu]: an exit handler runs (a VM exit to return from)
LIT_SAVED_AWAIT equ LIT_NESTED_BASE + 0x700 ; 4 dwords[cpu]: the guest's LIT_AWAIT at its VM exit
LIT_VIRT_SIPI   equ LIT_NESTED_BASE + 0xB00 ; dword[cpu]: the next SIPI entry is the L1's `vmentry sipi`, not a SIPI
LIT_VMEXITS_EFAIL equ LIT_NESTED_BASE + 0x2D00 ; dword[cpu]: failed VM entries this run (`Pn.vmexits(entry-failure)`)
LIT_NESTED_SIZE equ 0x2E00                  ; (with guest/vapic.asm's tables)

%if LIT_NESTED == 2
  %define LIT_SVM 1
%else
  %define LIT_SVM 0
%endif
%ifndef LIT_VAPIC
  %define LIT_VAPIC 0                 ; every test CPU a vCPU: 1 under a TPR shadow (guest/vapic.asm), 2 under APICv
%endif                                ; without posted interrupts (guest/vid.asm)

%include "vmx.asm"
%if LIT_SVM
%include "svm.asm"
%endif
%if LIT_VAPIC == 1
%include "vapic.asm"
%elif LIT_VAPIC == 2
%include "vid.asm"
%endif

; Once, at boot (BSP): the page directory and the exit hook.
lit_nested_boot:
  call vmx_boot
%if LIT_VAPIC == 1
  call lit_vapic_boot
%endif
  mov dword [vmx_exit_hook], lit_vmexit
  cld
  mov edi, LIT_NESTED_BASE
  mov ecx, LIT_NESTED_SIZE / 4
  xor eax, eax
  rep stosd
  ret

; Before go (the coordinator, lit_reset_state).
lit_nested_reset:
  pushad
  xor ebx, ebx
.l:
  xor eax, eax
  mov [LIT_VMEXITS_INIT + ebx * 4], eax
  mov [LIT_VMEXITS_SIPI + ebx * 4], eax
  mov [LIT_RELEASE + ebx * 4], eax
  mov [LIT_VMXOFF_MARK + ebx * 4], eax
  mov dword [LIT_VMX_END + ebx * 4], 0xFFFFFFFF
%if LIT_VAPIC
  mov [LIT_NESTED_BASE + 0x2C00 + ebx * 4], eax ; (guest/vapic.asm, guest/vid.asm: their exit counters)
%endif
  mov [LIT_NESTED_BASE + 0x2D00 + ebx * 4], eax ; (LIT_VMEXITS_EFAIL; guest/vid.asm's EOI exits)
  inc ebx
  cmp ebx, LIT_CPUS
  jb .l
  popad
  ret

; A CPU's start code, after its init items, before it waits for go: VMX (SVM) as its init puts it. eax = cpu,
; ebx = the LIT_READY value to store (LIT_VMX_GUEST_WFS only: right before the VM entry, which leaves it waiting for
; a SIPI). Returns in the mode asked (as the guest for LIT_VMX_GUEST); ends the boot when that fails.
lit_nested_enter:
  push ebp
  mov ebp, eax
  movzx ecx, byte [lit_cpu_vmx + eax]
  cmp ecx, LIT_VMX_NONE
  je .out
  mov [lit_nested_ready + ebp * 4], ebx
  mov [lit_nested_kind + ebp * 4], ecx
%if LIT_SVM
  call svm_cpu_prepare
%else
  call vmx_cpu_prepare
%endif
  test eax, eax
  jnz .fail_prepare
  mov eax, ebp
  VMX_STATE_OF
  mov dword [esi + VS_MODE], 0
  mov ecx, [lit_nested_kind + ebp * 4]
  cmp ecx, LIT_VMX_OFF
  je .out
%if LIT_SVM
  mov dword [esi + VS_MODE], 1          ; the host, EFER.SVME set
  cmp ecx, LIT_VMX_ROOT
  je .out
  mov eax, ebp
  xor ebx, ebx
  call svm_vmcb_setup
  mov eax, ebp
  call svm_run_here                     ; (SVM has no wait-for-SIPI guest state: refused at compile time)
  jc .fail_entry
%else
  mov eax, ebp
  call vmx_on
  jc .fail_vmxon
  mov ecx, [lit_nested_kind + ebp * 4]
  cmp ecx, LIT_VMX_ROOT
  je .out
  mov eax, ebp
  xor ebx, ebx                          ; pin-based: no exits for interrupts or NMIs (the guest takes them itself)
  mov ecx, VMX_PROC_WANT
  xor edx, edx
%if LIT_VAPIC == 1
  call lit_vapic_controls               ; a vCPU: its interrupts exit, TPR shadow, APIC virtualization
%elif LIT_VAPIC == 2
  call lit_vid_controls                 ; a vCPU under APICv: virtual-interrupt delivery
%endif
  call vmx_vmcs_setup
  jc .fail_vmcs
%if LIT_VAPIC == 1
  mov eax, ebp
  call lit_vapic_setup
%elif LIT_VAPIC == 2
  mov eax, ebp
  call lit_vid_setup
%endif
  mov ebx, VMX_ACT_ACTIVE
  cmp dword [lit_nested_kind + ebp * 4], LIT_VMX_GUEST_WFS
  jne .enter
  mov ebx, VMX_ACT_WFS
  mov eax, ebp
  VMX_STATE_OF
  lea eax, [LIT_READY + ebp * 4]
  mov [esi + VS_READY_AT], eax          ; ready, right before the entry
  mov eax, [lit_nested_ready + ebp * 4]
  mov [esi + VS_READY_VAL], eax
  mov dword [LIT_BLOCKED + ebp * 4], 1
.enter:
  mov eax, ebp
  call vmx_launch_here
  jc .fail_entry
%endif
.out:
  pop ebp
  ret
.fail_prepare:
  REPORT 'nested-cpu', ebp
  REPORT_LINE 'error=no-vmx'
  LAPIS_END
%if LIT_SVM == 0
.fail_vmxon:
  REPORT 'nested-cpu', ebp
  REPORT_LINE 'error=vmxon-failed'
  LAPIS_END
.fail_vmcs:
  REPORT 'nested-cpu', ebp
  REPORT_LINE 'error=vmcs-setup-failed'
  LAPIS_END
%endif
.fail_entry:
  mov eax, ebp
  VMX_STATE_OF
%if LIT_SVM == 0 && LIT_VAPIC != 2     ; (guest/vid.asm keeps its EOI exits where this counter is)
  ; A VM entry that fails on the guest state (SDM Vol 3C 27.8 VM-Entry Failures During or After Loading Guest State:
  ; exit reason bit 31, basic reason 33; vmx_exit_entry returns it as VS_ERROR 0x10000 | reason), e.g. an activity
  ; state the CPU does not support (27.3.1.5): counted as `Pn.vmexits(entry-failure)`, and the L1 idles in VMX root,
  ; as a hypervisor whose L2 cannot start does.
  test dword [esi + VS_ERROR], 0x10000
  jz .entry_error
  lock inc dword [LIT_VMEXITS_EFAIL + eax * 4]
  mov dword [LIT_SIPI_BUSY + eax * 4], 0
  jmp lit_l1_idle
.entry_error:
%endif
  REPORT 'nested-cpu', ebp
  REPORT 'vm-entry-error', [esi + VS_ERROR]
  REPORT_LINE 'error=vm-entry-failed'
  LAPIS_END

; ---- the L1: every VM exit (eax = cpu, ebx = the basic exit reason or SVM exit code, esi = the CPU's state) -----

lit_vmexit:
%if LIT_VAPIC == 1
  call lit_vapic_exit                   ; the vCPU's APIC (returns for the other exits)
%elif LIT_VAPIC == 2
  call lit_vid_exit
%endif
%if LIT_SVM
  cmp ebx, SVM_EXIT_INIT
  je .init
  cmp ebx, SVM_EXIT_VMMCALL
  je lit_nested_devirtualize
  cmp ebx, SVM_EXIT_VMRUN               ; the guest's VMRUN (APM Vol 2 15.5: always intercepted): the L1 offers no
  jne .unexpected                       ; nested SVM, a fault
  lock inc dword [PC_FAULTS + eax * 4]
  mov ecx, 3
  call svm_skip_insn
  jmp lit_l1_resume
%else
  cmp ebx, VMX_EXIT_CPUID
  jne .not_cpuid
  call vmx_emulate_cpuid
  jmp lit_l1_resume
.not_cpuid:
  cmp ebx, VMX_EXIT_INIT
  je .init
  cmp ebx, VMX_EXIT_SIPI
  je .sipi
  cmp ebx, VMX_EXIT_VMCALL
  je lit_nested_devirtualize
  cmp ebx, VMX_EXIT_VMCALL + 1          ; VMCLEAR .. VMXON in the guest (SDM Vol 3C 26.1.2): the L1 offers no
  jb .unexpected                        ; nested VMX, the guest's VMX instruction fails: a fault
  cmp ebx, VMX_EXIT_VMXON
  ja .unexpected
  lock inc dword [PC_FAULTS + eax * 4]
  call vmx_skip_insn
  jmp lit_l1_resume
.sipi:                                  ; SDM Vol 3C 26.2: a SIPI in the wait-for-SIPI activity state; the exit
  mov dword [LIT_SIPI_PENDING + eax * 4], 0 ; qualification is its vector
  call lit_nmi_unblock
  cmp dword [LIT_RELEASE + eax * 4], 0
  jne lit_nested_release
  mov ecx, [esi + VS_QUAL]
  and ecx, 0xFF
  mov [PC_SIPI_VECTOR + eax * 4], ecx   ; `sv` in the handler
  lock inc dword [LIT_VMEXITS_SIPI + eax * 4]
  mov edx, [lit_vmexit_sipi + eax * 4]
  jmp lit_l1_handler
%endif
.init:                                  ; SDM Vol 3C 26.2 / APM Vol 2 15.19: an INIT while the guest runs
  cmp dword [LIT_RELEASE + eax * 4], 0
  jne lit_nested_release
  lock inc dword [LIT_VMEXITS_INIT + eax * 4]
%if LIT_SVM
  SVM_VMCB_OF
  mov dword [edi + VMCB_EXITCODE], SVM_EXIT_NONE ; (counted)
%endif
  mov edx, [lit_vmexit_init + eax * 4]
  jmp lit_l1_handler
.unexpected:
  REPORT 'vmexit-reason', ebx
  REPORT 'vmexit-cpu', eax
  REPORT_LINE 'error=unexpected-vmexit'
  LAPIS_END

; Run exit handler edx (0: none, L1 idles) for cpu eax: the guest's blocked state is kept for its return.
lit_l1_handler:
  mov ecx, [LIT_BLOCKED + eax * 4]
  mov [LIT_SAVED_BLOCKED + eax * 4], ecx
  mov ecx, eax
  shl ecx, 4
  push esi
  push edi
  lea esi, [LIT_AWAIT + ecx]
  lea edi, [LIT_SAVED_AWAIT + ecx]
  movsd
  movsd
  movsd
  movsd
  pop edi
  pop esi
  mov dword [LIT_AWAIT + ecx], 0
  mov dword [LIT_BLOCKED + eax * 4], 0
  mov dword [LIT_L1_FRAME + eax * 4], 1
  mov dword [LIT_SIPI_BUSY + eax * 4], 1 ; (the coordinator waits for it as for SIPI code)
  LIT_EVENT
  test edx, edx
  jz lit_l1_idle
  cmp dword [lit_drain], 0
  jne lit_l1_idle
  jmp edx

; The end of an exit handler (eax = cpu): L1 idles in VMX root, halted, until the end-of-test ping.
lit_l1_idle:
  mov dword [LIT_SIPI_BUSY + eax * 4], 0
  mov dword [LIT_BLOCKED + eax * 4], 1
  LIT_EVENT
  jmp lit_idle

; Back into the guest as it was (a CPUID, a VMX instruction): eax = cpu. The guest is never in SMM, so blocking by
; SMI (interruptibility bit 2) is cleared: Bochs 2.7 keeps SMIs masked after a SIPI VM exit and saves that bit with
; every later exit, which fails the next VM entry (SDM Vol 3C 27.3.1.5: blocking by SMI only in SMM). The test's own
; `vmentry` resumes with the state as saved (lit_vmentry).
lit_l1_resume:
%if LIT_VAPIC == 1
  jmp lit_vapic_resume
%endif
%if LIT_SVM
  call svm_resume
%else
  push eax
  VMR VMCS_GUEST_INTR_STATE
  and eax, ~4
  mov ecx, eax
  VMW VMCS_GUEST_INTR_STATE, ecx
  pop eax
  call vmx_resume
%endif
  REPORT 'nested-cpu', eax
  REPORT_LINE 'error=vm-entry-failed'
  LAPIS_END

; SDM Vol 3A 7.7.1: IRET ends NMI blocking. Bochs 2.7 leaves NMIs (and SMIs) masked after a SIPI VM exit (the
; wait-for-SIPI state masked them and deliver_SIPI's VM exit skips the unmask): without this the end-of-test NMI
; would never reach the CPU. On other implementations nothing blocks NMIs here and the IRET changes nothing.
lit_nmi_unblock:
  push eax
  pushfd
  push dword SEL_CODE
  push dword .next
  iretd
.next:
  pop eax
  ret

; The test's `vmentry` (eax = cpu, ebx = 0 resume, 1 activity = wait-for-sipi, 2 sipi). Returns only when the VM entry
; fails: P<cpu>.faults goes up and the code after it runs (the model's `vmentry` that fails is a fault).
lit_vmentry:
  push ebp
  mov ebp, eax
  cmp dword [LIT_L1_FRAME + eax * 4], 0
  jne .frame
  ; no VM exit to return from: the instruction runs as it is, and fails (SDM Vol 3C 31.3: VMfailInvalid without a
  ; current VMCS, VMfailValid(5) for a VMCS not launched; in the guest it exits and L1 counts a fault)
  VMX_STATE_OF
  cmp dword [esi + VS_MODE], 0
  je .fault                             ; VMX off: #UD on a real CPU, a fault in the model
  cmp dword [esi + VS_MODE], 2
  je .in_guest
%if LIT_SVM
  jmp .fault                            ; the host without a VMCB to run: a fault
%else
  vmresume
  jmp .fault
%endif
.in_guest:                              ; the guest's VM entry instruction exits; the L1 counts the fault
%if LIT_SVM
  mov eax, vmx_ptr
  vmrun
%else
  vmresume
%endif
  pop ebp
  ret
.frame:
%if LIT_SVM
  cmp ebx, 1
  je .fault                             ; APM Vol 2 15: SVM has no wait-for-SIPI guest activity state
%endif
  mov dword [LIT_L1_FRAME + eax * 4], 0
  mov dword [LIT_SIPI_BUSY + eax * 4], 0
  VMX_STATE_OF
  cmp ebx, 0
  jne .not_resume
  mov ecx, [LIT_SAVED_BLOCKED + eax * 4] ; the guest goes on where it was: its blocked state and await back
  mov [LIT_BLOCKED + eax * 4], ecx
  mov ecx, eax
  shl ecx, 4
  push esi
  lea esi, [LIT_SAVED_AWAIT + ecx]
  lea edi, [LIT_AWAIT + ecx]
  movsd
  movsd
  movsd
  movsd
  pop esi
  jmp .go
.not_resume:
  mov ecx, eax
  shl ecx, 4
  mov dword [LIT_AWAIT + ecx], 0
%if LIT_SVM == 0
  cmp ebx, 1
  jne .sipi
  ; L1 emulating INIT for its guest: the wait-for-SIPI activity state (SDM Vol 3C 27.6.2), no event blocking
  mov dword [LIT_BLOCKED + eax * 4], 1
  VMW VMCS_GUEST_ACTIVITY, VMX_ACT_WFS
  VMW VMCS_GUEST_INTR_STATE, 0
  mov eax, ebp
  VMX_STATE_OF
  mov dword [esi + VS_ENTRY_ACT], VMX_ACT_WFS
  jmp .go
.sipi:
%endif
  ; L1 emulating the SIPI its exit reported: the guest starts at the SIPI entry (guest/runtime.asm ap_entry32, as
  ; a SIPI'd CPU after the trampoline) with the vector in ebx, IF = 0, active, no event blocking
  mov dword [LIT_BLOCKED + eax * 4], 0
  mov dword [LIT_VIRT_SIPI + eax * 4], 1
  mov ecx, [PC_SIPI_VECTOR + eax * 4]
  mov [esi + VS_GPRS + 16], ecx         ; ebx (PUSHAD order)
  lea ecx, [eax + 1]
  shl ecx, 14
  add ecx, STACKS_BASE
%if LIT_SVM
  SVM_VMCB_OF
  mov dword [edi + VMCB_RIP], ap_entry32
  mov [edi + VMCB_RSP], ecx
  mov dword [edi + VMCB_RFLAGS], 2
%else
  VMW VMCS_GUEST_RSP, ecx
  VMW VMCS_GUEST_RIP, ap_entry32
  VMW VMCS_GUEST_RFLAGS, 2
  VMW VMCS_GUEST_ACTIVITY, VMX_ACT_ACTIVE
  VMW VMCS_GUEST_INTR_STATE, 0
  mov eax, ebp
  VMX_STATE_OF
  mov dword [esi + VS_ENTRY_ACT], VMX_ACT_ACTIVE
%endif
.go:
  mov eax, ebp
  VMX_STATE_OF
  cmp ebx, 0
  jne .act_set
%if LIT_SVM == 0
  VMR VMCS_GUEST_ACTIVITY
  mov [esi + VS_ENTRY_ACT], eax
%endif
.act_set:
  LIT_EVENT
  mov eax, ebp
%if LIT_SVM
  call svm_resume
%else
  call vmx_resume
%endif
  mov eax, ebp                          ; the VM entry failed: the handler goes on (its frame is still there)
  mov dword [LIT_VIRT_SIPI + eax * 4], 0
  mov dword [LIT_L1_FRAME + eax * 4], 1
  mov dword [LIT_SIPI_BUSY + eax * 4], 1
  mov dword [LIT_BLOCKED + eax * 4], 0
.fault:
  mov eax, ebp
  lock inc dword [PC_FAULTS + eax * 4]
  LIT_EVENT
  pop ebp
  ret

; The test's `vmxon` (eax = cpu): VMXON, a fault when it fails (VMfailValid in VMX root; in the guest it exits).
lit_vmxon_op:
  push ebp
  mov ebp, eax
  VMX_STATE_OF
  cmp dword [esi + VS_MODE], 2
  je .guest
  mov eax, ebp
  call vmx_on                           ; (sets VS_MODE = 1 when it succeeds)
  jnc .out
.fault:
  lock inc dword [PC_FAULTS + ebp * 4]
.out:
  pop ebp
  ret
.guest:
  vmxon [vmx_ptr]                       ; exits (SDM Vol 3C 26.1.2); L1 counts the fault
  jmp .out

; The test's `vmxoff` (eax = cpu). SDM Vol 3C 24.8: VMXOFF unblocks INIT; a latched INIT is taken at once, and the
; CPU never gets past the instruction (LIT_VMXOFF_MARK stays set: lit_nested_collect reads it as wait-for-SIPI).
lit_vmxoff_op:
  push ebp
  mov ebp, eax
  VMX_STATE_OF
  cmp dword [esi + VS_MODE], 0
  je .fault                             ; VMX off: #UD on a real CPU, a fault in the model
  cmp dword [esi + VS_MODE], 2
  je .guest
  LIT_EVENT_LONG                        ; an INIT it releases takes the CPU to wait-for-SIPI
  mov dword [LIT_VMXOFF_MARK + ebp * 4], 1
  vmxoff
  mov dword [LIT_VMXOFF_MARK + ebp * 4], 0
  mov dword [esi + VS_MODE], 0
  jmp .out
.guest:
  vmxoff                                ; exits; L1 counts the fault
  jmp .out
.fault:
  lock inc dword [PC_FAULTS + ebp * 4]
.out:
  pop ebp
  ret

%include "nested-end.asm"
