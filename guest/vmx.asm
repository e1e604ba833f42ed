; lapis guest: a small VMX L1 hypervisor (docs/nested.md). Included after runtime.asm by a guest that defines
; LAPIS_VMX. A CPU that uses it: vmx_cpu_prepare (paging, CR4.VMXE, a GDT and TSS of its own), vmx_on (VMXON),
; vmx_launch_here (a VMCS whose guest continues right after the call, in VMX non-root operation: L2 runs the same
; code in the same address space). Every VM exit comes to vmx_exit_entry on the CPU's host stack, which saves the
; guest's general registers and calls [vmx_exit_hook] (eax = cpu, ebx = basic exit reason); the hook goes back to
; the guest with vmx_resume, or stays in VMX root operation.
;
; Memory (above the runtime's stacks and the litmus SMM stacks, below 64 MiB):
;   VMX_PD          page directory: 4 MiB pages, identity (SDM Vol 3A 4.3: CR4.PSE, PDE.PS)
;   VMX_MSR_BITMAP  4 KiB of zeros: no RDMSR/WRMSR exits (SDM Vol 3C 25.6.9)
;   VMX_APIC_ACCESS the APIC-access page (virtualize APIC accesses; not used by the runtime itself)
;   VMX_STATE + cpu * 0x100   per-CPU state (VS_* below)
;   VMX_GDTS  + cpu * 0x100   per-CPU GDT (the runtime's descriptors, a TSS descriptor at SEL_VMX_TSS) and its TSS
;   VMX_AREA  + cpu * 0x4000  VMXON region, VMCS, virtual-APIC page, host stack (one page each)

%ifndef LAPIS_VMX_ASM
%define LAPIS_VMX_ASM

VMX_BASE        equ 0x400000
VMX_PD          equ VMX_BASE
VMX_MSR_BITMAP  equ VMX_BASE + 0x1000
VMX_APIC_ACCESS equ VMX_BASE + 0x2000
VMX_STATE       equ VMX_BASE + 0x4000
VMX_GDTS        equ VMX_BASE + 0x8000
VMX_AREA        equ VMX_BASE + 0x10000
VMX_AREA_SIZE   equ 0x4000
VMX_ON_OFF      equ 0x0000
VMX_VMCS_OFF    equ 0x1000
VMX_VAPIC_OFF   equ 0x2000
VMX_STACK_TOP   equ 0x4000
SEL_VMX_TSS     equ 0x20
VMX_TSS_OFF     equ 0x80                ; the TSS, inside the CPU's 0x100 bytes at VMX_GDTS

; per-CPU state at VMX_STATE + cpu * 0x100
VS_MODE         equ 0x00                ; 0 VMX off, 1 root, 2 non-root (as the runtime last put it)
VS_LAUNCHED     equ 0x04                ; the current VMCS was launched (VMRESUME, not VMLAUNCH)
VS_GPRS         equ 0x08                ; the guest's general registers at the last exit (PUSHAD order, 32 bytes)
VS_REASON       equ 0x28                ; exit reason (full: bit 31 = VM-entry failure)
VS_QUAL         equ 0x2C                ; exit qualification
VS_L1_ESP       equ 0x30                ; L1's stack while a VM entry it asked for is under way (vmx_resume)
VS_INTR         equ 0x34                ; exit interruption information
VS_GUEST_INTR   equ 0x38                ; guest interruptibility state saved by the exit
VS_GUEST_ACT    equ 0x3C                ; guest activity state saved by the exit
VS_ERROR        equ 0x40                ; VM-instruction error of the last VMfailValid (0: none)
VS_ENTRY_ACT    equ 0x44                ; activity state the last VM entry asked for
VS_L1_EBP       equ 0x48                ; (with VS_L1_ESP)
VS_READY_AT     equ 0x4C                ; 0, or an address the next VM entry stores VS_READY_VAL at right before it
VS_READY_VAL    equ 0x50                ; enters the guest (a guest entered in wait-for-SIPI cannot say it is ready)

; VMCS field encodings (SDM Vol 3C Appendix B)
VMCS_GUEST_ES_SEL       equ 0x0800
VMCS_GUEST_TR_SEL       equ 0x080E
VMCS_GUEST_LDTR_SEL     equ 0x080C
VMCS_HOST_ES_SEL        equ 0x0C00
VMCS_HOST_CS_SEL        equ 0x0C02
VMCS_HOST_SS_SEL        equ 0x0C04
VMCS_HOST_DS_SEL        equ 0x0C06
VMCS_HOST_FS_SEL        equ 0x0C08
VMCS_HOST_GS_SEL        equ 0x0C0A
VMCS_HOST_TR_SEL        equ 0x0C0C
VMCS_MSR_BITMAP         equ 0x2004
VMCS_VAPIC_ADDR         equ 0x2012
VMCS_APIC_ACCESS_ADDR   equ 0x2014
VMCS_EOI_EXIT0          equ 0x201C
VMCS_LINK_PTR           equ 0x2800
VMCS_GUEST_DEBUGCTL     equ 0x2802
VMCS_PIN_CTLS           equ 0x4000
VMCS_PROC_CTLS          equ 0x4002
VMCS_EXC_BITMAP         equ 0x4004
VMCS_CR3_TARGET_COUNT   equ 0x400A
VMCS_EXIT_CTLS          equ 0x400C
VMCS_ENTRY_CTLS         equ 0x4012
VMCS_ENTRY_INTR_INFO    equ 0x4016
VMCS_TPR_THRESHOLD      equ 0x401C
VMCS_PROC_CTLS2         equ 0x401E
VMCS_VM_INSN_ERROR      equ 0x4400
VMCS_EXIT_REASON        equ 0x4402
VMCS_EXIT_INTR_INFO     equ 0x4404
VMCS_EXIT_INSN_LEN      equ 0x440C
VMCS_GUEST_ES_LIMIT     equ 0x4800
VMCS_GUEST_LDTR_LIMIT   equ 0x480C
VMCS_GUEST_TR_LIMIT     equ 0x480E
VMCS_GUEST_GDTR_LIMIT   equ 0x4810
VMCS_GUEST_IDTR_LIMIT   equ 0x4812
VMCS_GUEST_ES_AR        equ 0x4814
VMCS_GUEST_LDTR_AR      equ 0x4820
VMCS_GUEST_TR_AR        equ 0x4822
VMCS_GUEST_INTR_STATE   equ 0x4824
VMCS_GUEST_ACTIVITY     equ 0x4826
VMCS_GUEST_SYSENTER_CS  equ 0x482A
VMCS_HOST_SYSENTER_CS   equ 0x4C00
VMCS_CR0_MASK           equ 0x6000
VMCS_CR4_MASK           equ 0x6002
VMCS_CR0_SHADOW         equ 0x6004
VMCS_CR4_SHADOW         equ 0x6006
VMCS_EXIT_QUAL          equ 0x6400
VMCS_GUEST_CR0          equ 0x6800
VMCS_GUEST_CR3          equ 0x6802
VMCS_GUEST_CR4          equ 0x6804
VMCS_GUEST_ES_BASE      equ 0x6806
VMCS_GUEST_LDTR_BASE    equ 0x6812
VMCS_GUEST_TR_BASE      equ 0x6814
VMCS_GUEST_GDTR_BASE    equ 0x6816
VMCS_GUEST_IDTR_BASE    equ 0x6818
VMCS_GUEST_DR7          equ 0x681A
VMCS_GUEST_RSP          equ 0x681C
VMCS_GUEST_RIP          equ 0x681E
VMCS_GUEST_RFLAGS       equ 0x6820
VMCS_GUEST_PENDING_DBG  equ 0x6822
VMCS_GUEST_SYSENTER_ESP equ 0x6824
VMCS_GUEST_SYSENTER_EIP equ 0x6826
VMCS_HOST_CR0           equ 0x6C00
VMCS_HOST_CR3           equ 0x6C02
VMCS_HOST_CR4           equ 0x6C04
VMCS_HOST_FS_BASE       equ 0x6C06
VMCS_HOST_GS_BASE       equ 0x6C08
VMCS_HOST_TR_BASE       equ 0x6C0A
VMCS_HOST_GDTR_BASE     equ 0x6C0C
VMCS_HOST_IDTR_BASE     equ 0x6C0E
VMCS_HOST_SYSENTER_ESP  equ 0x6C10
VMCS_HOST_SYSENTER_EIP  equ 0x6C12
VMCS_HOST_RSP           equ 0x6C14
VMCS_HOST_RIP           equ 0x6C16

; basic exit reasons (SDM Vol 3C Appendix C)
VMX_EXIT_NMI            equ 0
VMX_EXIT_EXTINT         equ 1
VMX_EXIT_TRIPLE         equ 2
VMX_EXIT_INIT           equ 3
VMX_EXIT_SIPI           equ 4
VMX_EXIT_INTR_WINDOW    equ 7
VMX_EXIT_NMI_WINDOW     equ 8
VMX_EXIT_CPUID          equ 10
VMX_EXIT_HLT            equ 12
VMX_EXIT_VMCALL         equ 18
VMX_EXIT_RDMSR          equ 31
VMX_EXIT_WRMSR          equ 32
VMX_EXIT_VMXOFF         equ 26
VMX_EXIT_VMXON          equ 27
VMX_EXIT_BAD_GUEST      equ 33
VMX_EXIT_TPR_BELOW      equ 43
VMX_EXIT_APIC_ACCESS    equ 44
VMX_EXIT_EOI_INDUCED    equ 45
VMX_EXIT_APIC_WRITE     equ 56

; activity states (SDM Vol 3C 25.4.2)
VMX_ACT_ACTIVE  equ 0
VMX_ACT_HLT     equ 1
VMX_ACT_WFS     equ 3

MSR_FEATURE_CONTROL equ 0x3A
MSR_VMX_BASIC       equ 0x480
MSR_VMX_MISC        equ 0x485
MSR_VMX_TRUE_PIN    equ 0x48D
MSR_VMX_TRUE_PROC   equ 0x48E
MSR_VMX_TRUE_EXIT   equ 0x48F
MSR_VMX_TRUE_ENTRY  equ 0x490
MSR_VMX_PROC2       equ 0x48B

; controls the runtime asks for beyond the required ones (each is ANDed with the allowed-1 settings first)
%ifndef VMX_PIN_WANT
  %define VMX_PIN_WANT 0
%endif
%ifndef VMX_PROC_WANT
  %define VMX_PROC_WANT (1 << 28) | (1 << 31) ; MSR bitmaps (no RDMSR/WRMSR exits), secondary controls
%endif
%ifndef VMX_PROC2_WANT
  %define VMX_PROC2_WANT 0
%endif

; VMW field, value: VMWRITE (32-bit operands outside 64-bit mode). Clobbers eax, edx.
%macro VMW 2
  mov edx, %2
  mov eax, %1
  vmwrite eax, edx
%endmacro
; VMR field: eax = VMREAD. Clobbers edx.
%macro VMR 1
  mov edx, %1
  vmread eax, edx
%endmacro

; eax = cpu -> esi = its state (VMX_STATE + cpu * 0x100)
%macro VMX_STATE_OF 0
  mov esi, eax
  shl esi, 8
  add esi, VMX_STATE
%endmacro

; 0, or code called on every VM exit: eax = cpu, ebx = basic exit reason, esi = the CPU's state; esp is the CPU's
; host stack. It ends with vmx_resume (back to the guest), or runs on in VMX root operation.
vmx_exit_hook: dd 0

; Build the shared page directory and clear the MSR bitmap (once, by the BSP, before any CPU uses VMX).
vmx_boot:
  pushad
  cld
  mov edi, VMX_PD
  mov eax, 0x83 | 0x18                  ; P, RW, PS (4 MiB), PWT|PCD: identity, uncached as the APIC page must be
  mov ecx, 1024
.pde:
  stosd
  add eax, 0x400000
  loop .pde
  mov edi, VMX_MSR_BITMAP
  xor eax, eax
  mov ecx, 0x1000 / 4
  rep stosd
  mov edi, VMX_STATE
  mov ecx, (VMX_AREA - VMX_STATE) / 4
  rep stosd
  popad
  ret

; Make this CPU ready for VMXON (SDM Vol 3C 24.7 Enabling and Entering VMX Operation): paging on (identity, so
; nothing moves; IA32_VMX_CR0_FIXED0 has PG, PE and NE), CR4.PSE and CR4.VMXE, IA32_FEATURE_CONTROL locked with VMX
; enabled, its own GDT with a TSS (VM entry needs a usable TR in both host and guest state, SDM Vol 3C 26.2.3 and
; 26.3.1.2). eax = 0, or 1 when the CPU has no VMX or the firmware locked it off. Keeps ebx..ebp.
vmx_cpu_prepare:
  push ebx
  push esi
  push edi
  mov eax, 1
  cpuid
  bt ecx, 5                             ; CPUID.1:ECX.VMX
  jnc .no
  mov ecx, MSR_FEATURE_CONTROL
  rdmsr
  test eax, 1                           ; locked
  jnz .locked
  or eax, 5                             ; lock, VMX outside SMX
  wrmsr
.locked:
  test eax, 4
  jz .no
  call lapis_cpu_id
  mov ebx, eax
  ; the CPU's GDT: the runtime's descriptors, then the TSS descriptor (type 9, available: LTR marks it busy)
  shl eax, 8
  lea edi, [VMX_GDTS + eax]
  mov esi, gdt
  mov ecx, gdt_end - gdt
  rep movsb
  lea edi, [VMX_GDTS + eax]
  lea edx, [edi + VMX_TSS_OFF]          ; TSS base
  mov word [edi + SEL_VMX_TSS], 0x67    ; limit 15:0
  mov [edi + SEL_VMX_TSS + 2], dx       ; base 15:0
  mov ecx, edx
  shr ecx, 16
  mov [edi + SEL_VMX_TSS + 4], cl       ; base 23:16
  mov byte [edi + SEL_VMX_TSS + 5], 0x89 ; P, DPL 0, type 9
  mov byte [edi + SEL_VMX_TSS + 6], 0
  mov [edi + SEL_VMX_TSS + 7], ch       ; base 31:24
  mov word [edi + 0xF0], SEL_VMX_TSS + 7 ; the GDTR image at +0xF0: limit ...
  mov [edi + 0xF2], edi                 ; ... base
  lgdt [edi + 0xF0]
  mov ax, SEL_VMX_TSS
  ltr ax
  mov eax, VMX_PD
  mov cr3, eax
  mov eax, cr4
  or eax, (1 << 4) | (1 << 13)          ; PSE, VMXE
  mov cr4, eax
  mov eax, cr0
  or eax, (1 << 31) | (1 << 5)          ; PG, NE
  mov cr0, eax
  xor eax, eax
  jmp .out
.no:
  mov eax, 1
.out:
  pop edi
  pop esi
  pop ebx
  ret

; VMXON with this CPU's region (SDM Vol 3C 24.11.5): CF or ZF set on failure. eax = cpu. Clobbers eax, ecx, edx,
; esi, edi.
vmx_on:
  VMX_STATE_OF
  mov edi, eax
  shl edi, 14
  add edi, VMX_AREA + VMX_ON_OFF
  mov ecx, MSR_VMX_BASIC
  rdmsr
  and eax, 0x7FFFFFFF                   ; revision identifier
  mov [edi], eax
  mov [edi + VMX_VMCS_OFF], eax
  mov [vmx_ptr], edi
  mov dword [vmx_ptr + 4], 0
  vmxon [vmx_ptr]
  jbe .fail
  mov dword [esi + VS_MODE], 1
  mov dword [esi + VS_LAUNCHED], 0
  clc
  ret
.fail:
  stc
  ret

; VMXOFF (in VMX root operation): VMX off. eax = cpu. Clobbers esi.
vmx_off:
  VMX_STATE_OF
  vmxoff
  mov dword [esi + VS_MODE], 0
  ret

; The allowed settings of a VMX control MSR (ecx) applied to the wanted bits (eax): eax = (wanted | allowed-0)
; & allowed-1 (SDM Vol 3C Appendix A.3). Clobbers ecx, edx.
vmx_ctl:
  push ebx
  mov ebx, eax
  rdmsr
  or ebx, eax
  and ebx, edx
  mov eax, ebx
  pop ebx
  ret

; Set up this CPU's VMCS as current (VMCLEAR, VMPTRLD) with the controls, the host state (vmx_exit_entry on the
; host stack) and a guest that is this CPU as it is now: flat 32-bit protected mode, paging, the same GDT, IDT and
; TSS. eax = cpu, ebx = pin-based controls wanted, ecx = primary processor-based, edx = secondary. CF set on a VMfail.
; Clobbers eax..edi.
vmx_vmcs_setup:
  push ebp
  mov [vmx_want_pin], ebx
  mov [vmx_want_proc], ecx
  mov [vmx_want_proc2], edx
  mov ebx, eax
  VMX_STATE_OF
  mov edi, ebx
  shl edi, 14
  add edi, VMX_AREA + VMX_VMCS_OFF
  mov [vmx_ptr], edi
  vmclear [vmx_ptr]
  jbe .fail
  vmptrld [vmx_ptr]
  jbe .fail
  mov dword [esi + VS_LAUNCHED], 0
  ; controls
  mov eax, [vmx_want_pin]
  mov ecx, MSR_VMX_TRUE_PIN
  call vmx_ctl
  VMW VMCS_PIN_CTLS, eax
  mov eax, [vmx_want_proc]
  mov ecx, MSR_VMX_TRUE_PROC
  call vmx_ctl
  VMW VMCS_PROC_CTLS, eax
  mov eax, [vmx_want_proc2]
  mov ecx, MSR_VMX_PROC2
  call vmx_ctl
  VMW VMCS_PROC_CTLS2, eax
  mov eax, [vmx_want_exit]              ; 32-bit host (no host address-space size); acknowledge on exit if asked
  mov ecx, MSR_VMX_TRUE_EXIT
  call vmx_ctl
  VMW VMCS_EXIT_CTLS, eax
  xor eax, eax                          ; no IA-32e guest
  mov ecx, MSR_VMX_TRUE_ENTRY
  call vmx_ctl
  VMW VMCS_ENTRY_CTLS, eax
  VMW VMCS_EXC_BITMAP, 0
  VMW VMCS_CR3_TARGET_COUNT, 0
  VMW VMCS_CR0_MASK, 0
  VMW VMCS_CR4_MASK, 0
  VMW VMCS_ENTRY_INTR_INFO, 0
  VMW VMCS_MSR_BITMAP, VMX_MSR_BITMAP
  VMW VMCS_MSR_BITMAP + 1, 0
  mov ecx, ebx
  shl ecx, 14
  add ecx, VMX_AREA + VMX_VAPIC_OFF
  VMW VMCS_VAPIC_ADDR, ecx
  VMW VMCS_VAPIC_ADDR + 1, 0
  VMW VMCS_APIC_ACCESS_ADDR, VMX_APIC_ACCESS
  VMW VMCS_APIC_ACCESS_ADDR + 1, 0
  VMW VMCS_TPR_THRESHOLD, 0
  VMW VMCS_LINK_PTR, 0xFFFFFFFF
  VMW VMCS_LINK_PTR + 1, 0xFFFFFFFF
  ; host state: this CPU's registers, RIP = vmx_exit_entry, RSP = its host stack
  mov ecx, cr0
  VMW VMCS_HOST_CR0, ecx
  mov ecx, cr3
  VMW VMCS_HOST_CR3, ecx
  mov ecx, cr4
  VMW VMCS_HOST_CR4, ecx
  VMW VMCS_HOST_ES_SEL, SEL_DATA
  VMW VMCS_HOST_CS_SEL, SEL_CODE
  VMW VMCS_HOST_SS_SEL, SEL_DATA
  VMW VMCS_HOST_DS_SEL, SEL_DATA
  VMW VMCS_HOST_FS_SEL, SEL_DATA
  VMW VMCS_HOST_GS_SEL, SEL_DATA
  VMW VMCS_HOST_TR_SEL, SEL_VMX_TSS
  VMW VMCS_HOST_FS_BASE, 0
  VMW VMCS_HOST_GS_BASE, 0
  mov ecx, ebx
  shl ecx, 8
  add ecx, VMX_GDTS
  VMW VMCS_HOST_GDTR_BASE, ecx
  add ecx, VMX_TSS_OFF
  VMW VMCS_HOST_TR_BASE, ecx
  VMW VMCS_HOST_IDTR_BASE, idt
  VMW VMCS_HOST_SYSENTER_CS, 0
  VMW VMCS_HOST_SYSENTER_ESP, 0
  VMW VMCS_HOST_SYSENTER_EIP, 0
  mov ecx, ebx
  shl ecx, 14
  add ecx, VMX_AREA + VMX_STACK_TOP
  VMW VMCS_HOST_RSP, ecx
  VMW VMCS_HOST_RIP, vmx_exit_entry
  ; guest state (SDM Vol 3C 26.3.1): the same flat segments, CR0/CR3/CR4, GDT, IDT and TSS
  mov ecx, cr0
  VMW VMCS_GUEST_CR0, ecx
  VMW VMCS_CR0_SHADOW, ecx
  mov ecx, cr3
  VMW VMCS_GUEST_CR3, ecx
  mov ecx, cr4
  VMW VMCS_GUEST_CR4, ecx
  VMW VMCS_CR4_SHADOW, ecx
  xor ecx, ecx                          ; ES, CS, SS, DS, FS, GS: selector, limit, access rights, base
.seg:
  mov edi, SEL_DATA
  mov ebp, 0xC093                       ; data: type 3 (read/write, accessed), S, P, D/B, G
  cmp ecx, 1
  jne .data
  mov edi, SEL_CODE
  mov ebp, 0xC09B                       ; code: type 11 (execute/read, accessed)
.data:
  lea eax, [VMCS_GUEST_ES_SEL + ecx * 2]
  vmwrite eax, edi
  lea eax, [VMCS_GUEST_ES_LIMIT + ecx * 2]
  mov edx, 0xFFFFFFFF
  vmwrite eax, edx
  lea eax, [VMCS_GUEST_ES_AR + ecx * 2]
  vmwrite eax, ebp
  lea eax, [VMCS_GUEST_ES_BASE + ecx * 2]
  xor edx, edx
  vmwrite eax, edx
  inc ecx
  cmp ecx, 6
  jb .seg
  VMW VMCS_GUEST_LDTR_SEL, 0
  VMW VMCS_GUEST_LDTR_LIMIT, 0
  VMW VMCS_GUEST_LDTR_AR, 0x10000       ; unusable
  VMW VMCS_GUEST_LDTR_BASE, 0
  VMW VMCS_GUEST_TR_SEL, SEL_VMX_TSS
  VMW VMCS_GUEST_TR_LIMIT, 0x67
  VMW VMCS_GUEST_TR_AR, 0x8B            ; busy 32-bit TSS, P
  mov ecx, ebx
  shl ecx, 8
  add ecx, VMX_GDTS
  VMW VMCS_GUEST_GDTR_BASE, ecx
  VMW VMCS_GUEST_GDTR_LIMIT, SEL_VMX_TSS + 7
  add ecx, VMX_TSS_OFF
  VMW VMCS_GUEST_TR_BASE, ecx
  VMW VMCS_GUEST_IDTR_BASE, idt
  VMW VMCS_GUEST_IDTR_LIMIT, 256 * 8 - 1
  VMW VMCS_GUEST_DR7, 0x400
  VMW VMCS_GUEST_RFLAGS, 2
  VMW VMCS_GUEST_PENDING_DBG, 0
  VMW VMCS_GUEST_DEBUGCTL, 0
  VMW VMCS_GUEST_DEBUGCTL + 1, 0
  VMW VMCS_GUEST_SYSENTER_CS, 0
  VMW VMCS_GUEST_SYSENTER_ESP, 0
  VMW VMCS_GUEST_SYSENTER_EIP, 0
  VMW VMCS_GUEST_INTR_STATE, 0
  VMW VMCS_GUEST_ACTIVITY, VMX_ACT_ACTIVE
  pop ebp
  clc
  ret
.fail:
  pop ebp
  stc
  ret

; Enter the guest with this CPU's current VMCS: VMLAUNCH the first time, VMRESUME after, with the guest's general
; registers from the CPU's save area (VS_GPRS). eax = cpu. Returns only when the VM entry fails with VMfail (CF
; set; VS_ERROR = the VM-instruction error, 0 for VMfailInvalid), with esp and ebp as they were; a VM entry that
; fails on the guest state is a VM exit instead (reason bit 31: vmx_exit_entry, which returns here the same way).
vmx_resume:
  VMX_STATE_OF
  mov [esi + VS_L1_ESP], esp
  mov [esi + VS_L1_EBP], ebp     ; (VS_L1_EBP)
  mov dword [esi + VS_ERROR], 0
  mov dword [esi + VS_MODE], 2
  mov eax, [esi + VS_READY_AT]
  test eax, eax
  jz .entry
  mov ecx, [esi + VS_READY_VAL]
  mov [eax], ecx
  mov dword [esi + VS_READY_AT], 0
.entry:
  lea esp, [esi + VS_GPRS]
  cmp dword [esi + VS_LAUNCHED], 0
  popad                                 ; (flags kept)
  jne .resume
  vmlaunch
  jmp vmx_entry_failed
.resume:
  vmresume
vmx_entry_failed:                       ; VMfailInvalid (CF) or VMfailValid (ZF): still in VMX root
  pushfd
  call lapis_cpu_id
  VMX_STATE_OF
  pop eax
  mov esp, [esi + VS_L1_ESP]
  mov ebp, [esi + VS_L1_EBP]
  mov dword [esi + VS_MODE], 1
  test eax, 0x40                        ; ZF: VMfailValid, an error number in the VMCS
  jz .invalid
  VMR VMCS_VM_INSN_ERROR
  mov [esi + VS_ERROR], eax
.invalid:
  stc
  ret

; Every VM exit (SDM Vol 3C 28.5 Loading Host State): IF = 0, esp = this CPU's host stack top.
vmx_exit_entry:
  pushad                                ; the guest's general registers (its ESP is in the VMCS)
  call lapis_cpu_id                     ; (CPUID in VMX root operation: no exit)
  mov ebx, eax
  VMX_STATE_OF
  call vmx_save_frame                   ; to the save area
  mov dword [esi + VS_MODE], 1
  mov dword [esi + VS_LAUNCHED], 1
  VMR VMCS_EXIT_REASON
  mov [esi + VS_REASON], eax
  VMR VMCS_EXIT_QUAL
  mov [esi + VS_QUAL], eax
  VMR VMCS_EXIT_INTR_INFO
  mov [esi + VS_INTR], eax
  VMR VMCS_GUEST_INTR_STATE
  mov [esi + VS_GUEST_INTR], eax
  VMR VMCS_GUEST_ACTIVITY
  mov [esi + VS_GUEST_ACT], eax
  mov eax, ebx
  lea esp, [eax + 1]                    ; a fresh host stack, below the top 0x100 bytes where the next exit saves
  shl esp, 14                           ; the guest's registers (a VM entry that fails on the guest state comes back
  add esp, VMX_AREA - 0x100             ; through an exit, to the caller of vmx_resume)
  mov ebx, [esi + VS_REASON]
  test ebx, ebx
  js .entry_failed
  and ebx, 0xFFFF
  mov edx, [vmx_exit_hook]
  test edx, edx
  jz .unhandled
  jmp edx
.entry_failed:                          ; VM entry failed on the guest state (SDM Vol 3C 27.8): back to the caller
  mov dword [esi + VS_LAUNCHED], 0      ; of vmx_resume, still in VMX root, with the reason as the error
  and ebx, 0xFFFF
  or ebx, 0x10000
  mov [esi + VS_ERROR], ebx
  mov esp, [esi + VS_L1_ESP]
  mov ebp, [esi + VS_L1_EBP]
  stc
  ret
.unhandled:
  REPORT 'vmx-exit-reason', ebx
  REPORT 'vmx-exit-cpu', eax
  REPORT_LINE 'error=vmx-unhandled-exit'
  LAPIS_END

; Copy the PUSHAD frame the caller pushed right before the call into the save area (VS_GPRS) of the CPU state at
; esi. Keeps every register.
vmx_save_frame:
  push esi
  push edi
  push ecx
  lea edi, [esi + VS_GPRS]
  lea esi, [esp + 16]                   ; above ecx, edi, esi and the return address
  mov ecx, 8
  cld
  rep movsd
  pop ecx
  pop edi
  pop esi
  ret

; The guest's CPUID, emulated (CPUID always exits in VMX non-root operation, SDM Vol 3C 26.1.2): eax = cpu,
; esi = its state. Runs CPUID with the guest's EAX and ECX, gives it the results and steps over the instruction.
vmx_emulate_cpuid:
  push eax
  mov eax, [esi + VS_GPRS + 28]         ; PUSHAD order: edi, esi, ebp, esp, ebx, edx, ecx, eax
  mov ecx, [esi + VS_GPRS + 24]
  cpuid
  mov [esi + VS_GPRS + 28], eax
  mov [esi + VS_GPRS + 24], ecx
  mov [esi + VS_GPRS + 20], edx
  mov [esi + VS_GPRS + 16], ebx
  pop eax
; Step the guest over the instruction that exited. Clobbers ecx, edx.
vmx_skip_insn:
  push eax
  VMR VMCS_EXIT_INSN_LEN
  mov ecx, eax
  VMR VMCS_GUEST_RIP
  add eax, ecx
  mov ecx, eax
  VMW VMCS_GUEST_RIP, ecx
  pop eax
  ret

; Enter VMX non-root operation here: the caller goes on as the guest of a VMCS set up by vmx_vmcs_setup, at the
; instruction after the call, with its stack, flags and general registers, in activity state ebx (VMX_ACT_*).
; eax = cpu. Returns (as the guest) with CF clear, or in VMX root with CF set when the VM entry failed.
vmx_launch_here:
  pushad                                ; the guest's registers (esp as after the return)
  VMX_STATE_OF
  call vmx_save_frame
  mov [esi + VS_ENTRY_ACT], ebx
  VMW VMCS_GUEST_ACTIVITY, ebx
  mov ecx, [esp + 32]                   ; return address
  VMW VMCS_GUEST_RIP, ecx
  lea ecx, [esp + 36]
  VMW VMCS_GUEST_RSP, ecx
  pushfd
  pop ecx
  VMW VMCS_GUEST_RFLAGS, ecx
  mov eax, [esp + 28]                   ; cpu
  call vmx_resume
  popad                                 ; failed: CF from vmx_resume is lost by popad's neighbours, set it again
  stc
  ret

align 8
vmx_ptr: dq 0
vmx_want_pin: dd 0
vmx_want_proc: dd 0
vmx_want_proc2: dd 0
vmx_want_exit: dd 0                     ; VM-exit controls wanted (guest/vapic.asm: acknowledge interrupt on exit)

%endif
