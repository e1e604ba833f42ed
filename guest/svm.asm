; lapis guest: a small SVM L1 hypervisor (docs/nested.md). Included after runtime.asm (and vmx.asm, whose memory
; map and per-CPU state it shares) by a guest that defines LAPIS_SVM. A CPU that uses it: svm_cpu_prepare
; (EFER.SVME, its host save area), svm_vmcb_setup (a VMCB whose guest is this CPU as it is now), svm_run_here
; (VMRUN: the caller goes on as the guest, in the same address space). Every #VMEXIT comes back to svm_vmexit_entry
; on the CPU's host stack, which saves the guest's general registers, sets GIF again (STGI, as KVM does right after
; VMRUN returns) and calls [vmx_exit_hook] with eax = cpu, ebx = the exit code, esi = the CPU's state; the hook goes
; back to the guest with svm_resume.
;
; Per CPU, in its VMX_AREA slot (SVM and VMX are never both in one guest): the VMCB at VMX_VMCS_OFF, the host save
; area (VM_HSAVE_PA) at VMX_ON_OFF, the host stack in the last page.

%ifndef LAPIS_SVM_ASM
%define LAPIS_SVM_ASM

MSR_EFER        equ 0xC0000080
MSR_VM_CR       equ 0xC0010114
MSR_VM_HSAVE_PA equ 0xC0010117

; VMCB offsets (AMD APM Vol 2 Appendix B)
VMCB_INTERCEPT_MISC1 equ 0x00C          ; bit 0 INTR, 1 NMI, 2 SMI, 3 INIT, 18 CPUID, 24 HLT
VMCB_INTERCEPT_MISC2 equ 0x010          ; bit 0 VMRUN, 1 VMMCALL
VMCB_ASID       equ 0x058
VMCB_VINTR      equ 0x060
VMCB_EXITCODE   equ 0x070
VMCB_EXITINFO1  equ 0x078
VMCB_EXITINFO2  equ 0x080
VMCB_EXITINTINFO equ 0x088
VMCB_EVENTINJ   equ 0x0A8
VMCB_NRIP       equ 0x0C8
VMCB_ES         equ 0x400                 ; ES, CS, SS, DS, FS, GS, GDTR, LDTR, IDTR, TR: 16 bytes each (selector,
VMCB_CS         equ 0x410                 ; attributes, limit, base)
VMCB_GDTR       equ 0x460
VMCB_LDTR       equ 0x470
VMCB_IDTR       equ 0x480
VMCB_TR         equ 0x490
VMCB_CPL        equ 0x4CB
VMCB_EFER       equ 0x4D0
VMCB_CR4        equ 0x548
VMCB_CR3        equ 0x550
VMCB_CR0        equ 0x558
VMCB_DR7        equ 0x560
VMCB_DR6        equ 0x568
VMCB_RFLAGS     equ 0x570
VMCB_RIP        equ 0x578
VMCB_RSP        equ 0x5D8
VMCB_RAX        equ 0x5F8

; exit codes (AMD APM Vol 2 Appendix C)
SVM_EXIT_INTR   equ 0x60
SVM_EXIT_NMI    equ 0x61
SVM_EXIT_INIT   equ 0x63
SVM_EXIT_CPUID  equ 0x72
SVM_EXIT_HLT    equ 0x78
SVM_EXIT_VMRUN  equ 0x80
SVM_EXIT_VMMCALL equ 0x81
SVM_EXIT_SHUTDOWN equ 0x7F
SVM_EXIT_INVALID equ 0xFFFFFFFF
SVM_EXIT_NONE   equ 0xFFFFFFFE                ; not an exit code: written before VMRUN, replaced by the #VMEXIT's

; eax = cpu -> edi = its VMCB
%macro SVM_VMCB_OF 0
  mov edi, eax
  shl edi, 14
  add edi, VMX_AREA + VMX_VMCS_OFF
%endmacro

; Make this CPU ready for VMRUN (APM Vol 2 15.4 Enabling SVM): CPUID Fn8000_0001:ECX.SVM, VM_CR.SVMDIS clear,
; EFER.SVME, the host save area. eax = 0, or 1 when the CPU has no usable SVM. Keeps ebx..ebp.
svm_cpu_prepare:
  push ebx
  mov eax, 0x80000001
  cpuid
  bt ecx, 2
  jnc .no
  mov ecx, MSR_VM_CR
  rdmsr
  test eax, 1 << 4                      ; SVMDIS
  jnz .no
  mov ecx, MSR_EFER
  rdmsr
  or eax, 1 << 12                       ; SVME
  wrmsr
  call lapis_cpu_id
  shl eax, 14
  add eax, VMX_AREA + VMX_ON_OFF
  xor edx, edx
  mov ecx, MSR_VM_HSAVE_PA
  wrmsr
  xor eax, eax
  pop ebx
  ret
.no:
  mov eax, 1
  pop ebx
  ret

; One segment of the VMCB state save area: %1 = offset, %2 = selector, %3 = attributes (APM Vol 2 15.5.1: the
; descriptor's bits 55:52 and 47:40, packed into 12 bits).
%macro SVM_SEG 3
  mov word [edi + %1], %2
  mov word [edi + %1 + 2], %3
  mov dword [edi + %1 + 4], 0xFFFFFFFF
  mov dword [edi + %1 + 8], 0
  mov dword [edi + %1 + 12], 0
%endmacro

; This CPU's VMCB: intercepts VMRUN (required), VMMCALL and INIT; ASID 1; a guest that is this CPU as it is now
; (flat 32-bit protected mode, its CR0/CR3/CR4/EFER, GDT and IDT). eax = cpu, ebx = extra MISC1 intercepts.
; Clobbers eax, ecx, edx, edi.
svm_vmcb_setup:
  SVM_VMCB_OF
  push edi
  cld
  xor eax, eax
  mov ecx, 0x1000 / 4
  rep stosd
  pop edi
  or ebx, 1 << 3                        ; INIT (APM Vol 2 15.19)
  mov [edi + VMCB_INTERCEPT_MISC1], ebx
  mov dword [edi + VMCB_INTERCEPT_MISC2], 3 ; VMRUN, VMMCALL
  mov dword [edi + VMCB_ASID], 1
  SVM_SEG VMCB_ES, SEL_DATA, 0xC93
  SVM_SEG VMCB_CS, SEL_CODE, 0xC9B
  SVM_SEG VMCB_CS + 0x10, SEL_DATA, 0xC93
  SVM_SEG VMCB_CS + 0x20, SEL_DATA, 0xC93
  SVM_SEG VMCB_CS + 0x30, SEL_DATA, 0xC93
  SVM_SEG VMCB_CS + 0x40, SEL_DATA, 0xC93
  sgdt [svm_desc]
  movzx eax, word [svm_desc]
  mov [edi + VMCB_GDTR + 4], eax
  mov eax, [svm_desc + 2]
  mov [edi + VMCB_GDTR + 8], eax
  sidt [svm_desc]
  movzx eax, word [svm_desc]
  mov [edi + VMCB_IDTR + 4], eax
  mov eax, [svm_desc + 2]
  mov [edi + VMCB_IDTR + 8], eax
  mov word [edi + VMCB_TR + 2], 0x8B    ; a busy 32-bit TSS (VMRUN does not load TR: the host's stays)
  mov dword [edi + VMCB_TR + 4], 0x67
  mov byte [edi + VMCB_CPL], 0
  mov ecx, MSR_EFER
  rdmsr
  mov [edi + VMCB_EFER], eax
  mov eax, cr4
  mov [edi + VMCB_CR4], eax
  mov eax, cr3
  mov [edi + VMCB_CR3], eax
  mov eax, cr0
  mov [edi + VMCB_CR0], eax
  mov dword [edi + VMCB_DR7], 0x400
  mov dword [edi + VMCB_DR6], 0xFFFF0FF0
  mov dword [edi + VMCB_RFLAGS], 2
  ret

; VMRUN this CPU's VMCB with the guest's general registers from its save area (VS_GPRS; RAX, RSP, RIP and RFLAGS
; are in the VMCB). eax = cpu. Returns only when the VMRUN fails its consistency checks (#VMEXIT with VMEXIT_INVALID:
; CF set, VS_ERROR = 0x10000 | 0xFFFF), with esp and ebp as they were.
svm_resume:
  VMX_STATE_OF
  mov [esi + VS_L1_ESP], esp
  mov [esi + VS_L1_EBP], ebp
  mov dword [esi + VS_ERROR], 0
  mov dword [esi + VS_MODE], 2
  mov edx, eax
  SVM_VMCB_OF
  lea esp, [edx + 1]                    ; the host stack: a PUSHAD frame of the guest's registers at its top, with
  shl esp, 14                           ; the VMCB's address where EAX goes (VMRUN takes it in rAX)
  add esp, VMX_AREA - 32
  push esi
  lea edi, [esp + 4]
  lea esi, [esi + VS_GPRS]
  mov ecx, 8
  rep movsd
  pop esi
  mov edx, eax
  SVM_VMCB_OF
  mov [esp + 28], edi
  mov dword [edi + VMCB_EXITCODE], SVM_EXIT_NONE ; no #VMEXIT yet (a CPU INITed after one finds its code here)
  mov dword [edi + VMCB_EXITCODE + 4], 0xFFFFFFFF
  popad
  vmrun                                 ; (rAX = the VMCB)
svm_vmexit_entry:                       ; #VMEXIT: the host's RSP, RAX and RIP again, GIF = 0 (APM Vol 2 15.6)
  pushad                                ; the guest's registers but EAX and ESP (in the VMCB)
  call lapis_cpu_id
  mov ebx, eax
  VMX_STATE_OF
  call vmx_save_frame
  mov eax, ebx
  SVM_VMCB_OF
  mov eax, [edi + VMCB_RAX]
  mov [esi + VS_GPRS + 28], eax
  mov dword [esi + VS_MODE], 1
  mov eax, [edi + VMCB_EXITCODE]
  mov [esi + VS_REASON], eax
  mov eax, [edi + VMCB_EXITINFO1]
  mov [esi + VS_QUAL], eax
  mov eax, [edi + VMCB_EXITINTINFO]
  mov [esi + VS_INTR], eax
  stgi                                  ; GIF = 1: NMIs and interrupts reach L1 again (KVM: svm_vcpu_run)
  mov eax, ebx
  lea esp, [eax + 1]
  shl esp, 14
  add esp, VMX_AREA - 0x100
  mov ebx, [esi + VS_REASON]
  cmp ebx, SVM_EXIT_INVALID
  je .invalid
  mov edx, [vmx_exit_hook]
  test edx, edx
  jz .unhandled
  jmp edx
.invalid:                               ; the VMRUN failed its checks (APM Vol 2 15.5.1): back to svm_resume's caller
  mov dword [esi + VS_ERROR], 0x1FFFF
  mov esp, [esi + VS_L1_ESP]
  mov ebp, [esi + VS_L1_EBP]
  stc
  ret
.unhandled:
  REPORT 'svm-exit-code', ebx
  REPORT 'svm-exit-cpu', eax
  REPORT_LINE 'error=svm-unhandled-exit'
  LAPIS_END

; Step the guest over the instruction that exited: nRIP when the CPU saves it (APM Vol 2 15.7.1, CPUID
; Fn8000_000A:EDX[3]), else the length the caller gives in ecx. eax = cpu. Clobbers ecx, edi.
svm_skip_insn:
  SVM_VMCB_OF
  cmp dword [edi + VMCB_NRIP], 0
  je .len
  mov ecx, [edi + VMCB_NRIP]
  mov [edi + VMCB_RIP], ecx
  ret
.len:
  add [edi + VMCB_RIP], ecx
  ret

; Enter the guest here (as vmx_launch_here): the caller goes on as the guest at the instruction after the call,
; with its stack, flags and registers. eax = cpu. Returns as the guest with CF clear, or in the host with CF set.
svm_run_here:
  pushad
  VMX_STATE_OF
  call vmx_save_frame
  SVM_VMCB_OF
  mov ecx, [esp + 32]
  mov [edi + VMCB_RIP], ecx
  lea ecx, [esp + 36]
  mov [edi + VMCB_RSP], ecx
  pushfd
  pop ecx
  mov [edi + VMCB_RFLAGS], ecx
  mov ecx, [esp + 28]
  mov [edi + VMCB_RAX], ecx
  mov eax, [esp + 28]
  call svm_resume
  popad
  stc
  ret

svm_desc: dw 0
          dd 0

%endif
