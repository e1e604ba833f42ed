; lapis: the L1's virtual local APIC for `config accel = tpr-shadow` tests (docs/nested.md, "vCPUs under a TPR
; shadow"). Included by guest/nested.asm when LIT_VAPIC is 1. Every test CPU is a vCPU: a guest of the L1 with "use
; TPR shadow" and no virtual-interrupt delivery, as KVM runs a vCPU without APICv (SDM Vol 3C 30.1.2):
;
;   - VTPR is the virtual-APIC page's TPR, written by the guest without exits (xAPIC: "virtualize APIC accesses" with
;     the APIC-access page at 0xFEE00000; x2APIC: "virtualize x2APIC mode", MSR 808H); the processor compares it with
;     the TPR threshold and exits when VTPR[7:4] drops below it (TPR below threshold, trap-like).
;   - Every other APIC access exits (APIC-access exits, decoded here; x2APIC: RDMSR/WRMSR exits) and the L1 answers
;     it from its virtual IRR and ISR (IRR, ISR, TMR, PPR, EOI) or passes it to the real APIC (ICR, SVR, LVTs, ...).
;   - Interrupts for the vCPU reach its real APIC and exit (external-interrupt exiting, acknowledged on exit); the L1
;     sets the vector in the virtual IRR, EOIs the real APIC at once and injects the highest deliverable vector at
;     VM entry, or asks for an interrupt-window exit while the guest cannot take it.
;   - After every event of the vCPU (an interrupt for it, an injection, an EOI, a TPR-below-threshold exit, an
;     interrupt window) the L1 writes the TPR threshold afresh as KVM's vmx_update_cr8_intercept does: the class of
;     the highest pending vector if VTPR blocks it, else 0 (the model's `spec`: src/sim/sim.ts cr8Intercept).
;   - A VM entry that fails (SDM Vol 3C 28.2.1.1: with the x2APIC setup, a threshold above VTPR[7:4]) is counted
;     (`Pn.vmexits(entry-failure)`) and the vCPU never runs again: the L1 idles.

LIT_VAPIC_BASE  equ LIT_NESTED_BASE + 0xC00 ; per CPU, 0x80 bytes (VA_* below)
VA_IRR          equ 0x00                  ; 8 dwords: the virtual IRR
VA_ISR          equ 0x20                  ; 8 dwords: the virtual ISR
VA_REQ          equ 0x40                  ; 1: evaluate injection and the threshold before the next VM entry
VA_X2           equ 0x44                  ; 1: the vCPU's APIC is in x2APIC mode (fixed for the run)
VA_LEN          equ 0x48                  ; the length of the instruction an APIC-access exit decodes
VA_SIZE         equ 0x50
LIT_VMEXITS_TPR equ LIT_NESTED_BASE + 0x2C00 ; dword[cpu]: TPR-below-threshold VM exits this run

VMX_MSR_BITMAP_X2 equ VMX_BASE + 0x3000   ; RDMSR/WRMSR of 800H-8FFH exit, except 808H (the virtualized TPR)
VMX_PROC_INTR_WINDOW equ 1 << 2
VMX_PROC_TPR_SHADOW  equ 1 << 21
VMX_PROC2_VAPIC_ACCESS equ 1 << 0
VMX_PROC2_X2APIC     equ 1 << 4
VMX_PIN_EXTINT       equ 1 << 0
VMX_EXIT_ACK_INTR    equ 1 << 15

; eax = cpu -> edi = its virtual APIC state
%macro VA_OF 0
  mov edi, eax
  shl edi, 7
  add edi, LIT_VAPIC_BASE
%endmacro

; Once, at boot: the x2APIC MSR bitmap (SDM Vol 3C 25.6.9: read bitmap for low MSRs at 0, write bitmap at 800H).
lit_vapic_boot:
  pushad
  cld
  mov edi, VMX_MSR_BITMAP_X2
  xor eax, eax
  mov ecx, 0x1000 / 4
  rep stosd
  mov edi, VMX_MSR_BITMAP_X2 + 0x800 / 8
  mov al, 0xFF
  mov ecx, 0x100 / 8
  rep stosb
  mov edi, VMX_MSR_BITMAP_X2 + 0x800 + 0x800 / 8
  mov ecx, 0x100 / 8
  rep stosb
  and byte [VMX_MSR_BITMAP_X2 + 0x808 / 8], ~1
  and byte [VMX_MSR_BITMAP_X2 + 0x800 + 0x808 / 8], ~1
  popad
  ret

; Before go, right after the VMCS is set up (lit_nested_enter): the vCPU's controls and its virtual APIC, which
; starts as the real one is now (its TPR moves to VTPR; the real TPR goes to 0). eax = cpu. Clobbers eax..edi.
lit_vapic_setup:
  push ebp
  mov ebp, eax
  VA_OF
  xor eax, eax
  mov ecx, VA_SIZE / 4
  rep stosd
  mov eax, ebp
  mov edi, eax
  shl edi, 14
  add edi, VMX_AREA + VMX_VAPIC_OFF
  push edi
  xor eax, eax
  mov ecx, 0x1000 / 4
  rep stosd
  pop edi
  mov ecx, MSR_APIC_BASE
  rdmsr
  and eax, 0xC00
  cmp eax, 0xC00
  je .x2
  mov eax, [APIC_BASE + APIC_TPR]
  mov [edi + APIC_TPR], eax
  mov dword [APIC_BASE + APIC_TPR], 0
  VMW VMCS_APIC_ACCESS_ADDR, APIC_BASE
  jmp .done
.x2:
  mov ecx, X2APIC_MSR + (APIC_TPR >> 4)
  rdmsr
  mov [edi + APIC_TPR], eax
  xor eax, eax
  xor edx, edx
  wrmsr
  mov eax, ebp
  VA_OF
  mov dword [edi + VA_X2], 1
  VMW VMCS_MSR_BITMAP, VMX_MSR_BITMAP_X2
.done:
  VMW VMCS_TPR_THRESHOLD, 0
  mov dword [LIT_VMEXITS_TPR + ebp * 4], 0
  mov dword [LIT_VMEXITS_EFAIL + ebp * 4], 0
  pop ebp
  ret

; The controls a vCPU's VMCS asks for (lit_nested_enter): ebx = pin-based, ecx = primary, edx = secondary. eax = cpu.
lit_vapic_controls:
  push eax
  mov ecx, MSR_APIC_BASE
  rdmsr
  and eax, 0xC00
  mov edx, VMX_PROC2_VAPIC_ACCESS
  cmp eax, 0xC00
  jne .xapic
  mov edx, VMX_PROC2_X2APIC
.xapic:
  mov dword [vmx_want_exit], VMX_EXIT_ACK_INTR
  mov ebx, VMX_PIN_EXTINT
  mov ecx, VMX_PROC_WANT | VMX_PROC_TPR_SHADOW
  pop eax
  ret

; The exits of a vCPU's virtual APIC (from lit_vmexit: eax = cpu, ebx = reason, esi = its state). Returns (CF clear)
; for the exits it does not handle.
lit_vapic_exit:
  VA_OF
  cmp ebx, VMX_EXIT_EXTINT
  je .extint
  cmp ebx, VMX_EXIT_TPR_BELOW
  je .tpr
  cmp ebx, VMX_EXIT_INTR_WINDOW
  je .window
  cmp ebx, VMX_EXIT_APIC_ACCESS
  je .access
  cmp ebx, VMX_EXIT_RDMSR
  je .msr
  cmp ebx, VMX_EXIT_WRMSR
  je .msr
  clc
  ret
.extint:                                ; acknowledged on exit (SDM Vol 3C 27.2.2): the vector is in the info
  mov ecx, [esi + VS_INTR]
  test ecx, ecx
  jns .req                              ; (no valid vector: nothing to take)
  and ecx, 0xFF
  lock bts [edi + VA_IRR], ecx
  push eax
  call lit_vapic_real_eoi               ; the real ISR bit the acknowledgement set
  pop eax
  LIT_EVENT
  jmp .req
.tpr:                                   ; SDM Vol 3C 30.1.2: trap-like; the L1 writes the threshold afresh (`spec`)
  lock inc dword [LIT_VMEXITS_TPR + eax * 4]
  LIT_EVENT
  jmp .req
.window:
.req:
  mov dword [edi + VA_REQ], 1
  jmp lit_vapic_resume
.access:
  call lit_vapic_access
  jmp lit_vapic_resume
.msr:
  call lit_vapic_msr
  jmp lit_vapic_resume

; Enter the vCPU again: with a pending event evaluation, inject and write the threshold first. eax = cpu. A VM
; entry that fails kills the vCPU: counted, and the L1 idles.
lit_vapic_resume:
  push eax
  VA_OF
  cmp dword [edi + VA_REQ], 0
  je .enter
  mov dword [edi + VA_REQ], 0
  call lit_vapic_evaluate
.enter:
  pop eax
  push eax
  call vmx_resume
  pop eax
  VMX_STATE_OF
  cmp dword [esi + VS_ERROR], 7         ; VMfailValid(7), invalid control fields: SDM Vol 3C 28.2.1.1
  jne .error
  lock inc dword [LIT_VMEXITS_EFAIL + eax * 4]
  mov dword [LIT_SIPI_BUSY + eax * 4], 0
  LIT_EVENT
  jmp lit_l1_idle
.error:
  REPORT 'nested-cpu', eax
  REPORT 'vm-entry-error', [esi + VS_ERROR]
  REPORT_LINE 'error=vm-entry-failed'
  LAPIS_END

; KVM's inject_pending_event and update_cr8_intercept for vCPU eax (edi = its virtual APIC): the highest vector of
; the virtual IRR above the virtual PPR is injected when the guest can take an interrupt (RFLAGS.IF, no STI or MOV SS
; shadow, not waiting for a SIPI), else an interrupt-window exit is asked for; then the threshold. Keeps eax, edi.
lit_vapic_evaluate:
  push eax
  push ebp
  mov ebp, eax
  call lit_vapic_highest_irr            ; ecx = vector or -1
  test ecx, ecx
  js .no_window
  call lit_vapic_ppr                    ; eax = virtual PPR
  mov edx, ecx
  shr edx, 4
  shr eax, 4
  cmp edx, eax
  jbe .no_window                        ; SDM Vol 3A 11.8.3.1: a class above the PPR's
  push ecx
  VMR VMCS_GUEST_RFLAGS
  push eax
  VMR VMCS_GUEST_INTR_STATE
  push eax
  VMR VMCS_GUEST_ACTIVITY
  pop ebx                               ; interruptibility
  pop edx                               ; RFLAGS
  pop ecx
  test edx, 0x200
  jz .window
  test ebx, 3
  jnz .window
  cmp eax, VMX_ACT_WFS
  je .window
  lock btr [edi + VA_IRR], ecx           ; injected (SDM Vol 3C 27.6): IRR -> ISR, as the processor's acknowledgement
  lock bts [edi + VA_ISR], ecx
  or ecx, 0x80000000                    ; valid, type 0 (external interrupt)
  VMW VMCS_ENTRY_INTR_INFO, ecx
  LIT_EVENT
.no_window:
  mov ecx, 0
  jmp .set_window
.window:
  mov ecx, VMX_PROC_INTR_WINDOW
.set_window:
  push ecx
  VMR VMCS_PROC_CTLS
  and eax, ~VMX_PROC_INTR_WINDOW
  pop ecx
  or ecx, eax
  VMW VMCS_PROC_CTLS, ecx
  ; the threshold: the class of the highest vector left in the IRR if VTPR blocks it, else 0
  mov eax, ebp
  call lit_vapic_highest_irr
  xor edx, edx
  test ecx, ecx
  js .thr
  shr ecx, 4
  mov eax, ebp
  call lit_vapic_vtpr
  shr eax, 4
  cmp eax, ecx
  jb .thr
  mov edx, ecx
.thr:
  VMW VMCS_TPR_THRESHOLD, edx
  pop ebp
  pop eax
  ret

; ecx = the highest vector set in the virtual IRR of edi, or -1. Clobbers edx.
lit_vapic_highest_irr:
  lea edx, [edi + VA_IRR]
  jmp lit_vapic_highest
; ecx = the highest vector set in the virtual ISR of edi, or -1. Clobbers edx.
lit_vapic_highest_isr:
  lea edx, [edi + VA_ISR]
; ecx = the highest vector set in the 256-bit table at edx, or -1. Clobbers edx.
lit_vapic_highest:
  push ebx
  mov ebx, 7
.l:
  mov ecx, [edx + ebx * 4]
  test ecx, ecx
  jnz .found
  dec ebx
  jns .l
  mov ecx, -1
  pop ebx
  ret
.found:
  bsr ecx, ecx
  shl ebx, 5
  add ecx, ebx
  pop ebx
  ret

; eax = VTPR of vCPU eax (the virtual-APIC page).
lit_vapic_vtpr:
  shl eax, 14
  mov eax, [VMX_AREA + VMX_VAPIC_OFF + APIC_TPR + eax]
  and eax, 0xFF
  ret

; eax = the virtual PPR of vCPU ebp (edi = its virtual APIC): SDM Vol 3A 11.8.3.1, from VTPR and the highest
; virtual ISR vector. Clobbers edx.
lit_vapic_ppr:
  push ecx
  call lit_vapic_highest_isr
  test ecx, ecx
  jns .have
  xor ecx, ecx
.have:
  mov eax, ebp
  call lit_vapic_vtpr
  mov edx, eax
  shr edx, 4
  shr ecx, 4
  cmp edx, ecx
  jae .out
  mov eax, ecx
  shl eax, 4
.out:
  pop ecx
  ret

; EOI to the real APIC of this CPU (in VMX root: no virtualization). eax = cpu (edi = its virtual APIC).
lit_vapic_real_eoi:
  cmp dword [edi + VA_X2], 0
  jne .x2
  mov dword [APIC_BASE + APIC_EOI], 0
  ret
.x2:
  push ecx
  push edx
  mov ecx, X2APIC_MSR + (APIC_EOI >> 4)
  xor eax, eax
  xor edx, edx
  wrmsr
  pop edx
  pop ecx
  ret

; A read of APIC register ecx (xAPIC offset) by vCPU ebp: edx:eax. IRR, ISR, TMR and PPR are the virtual ones,
; the rest the real APIC's (edi = its virtual APIC).
lit_vapic_read:
  xor edx, edx
  cmp ecx, APIC_PPR
  je .ppr
  cmp ecx, APIC_ISR0
  jb .real
  cmp ecx, APIC_ISR0 + 0x80
  jb .isr
  cmp ecx, APIC_IRR0
  jb .zero                              ; TMR: no level-triggered vector reaches a vCPU here
  cmp ecx, APIC_IRR0 + 0x80
  jb .irr
.real:
  cmp dword [edi + VA_X2], 0
  jne .x2
  mov eax, [APIC_BASE + ecx]
  ret
.x2:
  push ecx
  shr ecx, 4
  add ecx, X2APIC_MSR
  rdmsr
  pop ecx
  ret
.ppr:
  call lit_vapic_ppr
  xor edx, edx
  ret
.isr:
  mov eax, ecx
  sub eax, APIC_ISR0
  shr eax, 4
  mov eax, [edi + VA_ISR + eax * 4]
  ret
.irr:
  mov eax, ecx
  sub eax, APIC_IRR0
  shr eax, 4
  mov eax, [edi + VA_IRR + eax * 4]
  ret
.zero:
  xor eax, eax
  ret

; A write of edx:eax to APIC register ecx (xAPIC offset) by vCPU ebp: an EOI completes the highest virtual ISR
; vector (and asks for an evaluation: KVM's apic_set_eoi raises KVM_REQ_EVENT); the rest goes to the real APIC.
lit_vapic_write:
  cmp ecx, APIC_EOI
  jne .real
  push ecx
  call lit_vapic_highest_isr
  test ecx, ecx
  js .eoi_done
  btr [edi + VA_ISR], ecx
.eoi_done:
  pop ecx
  mov dword [edi + VA_REQ], 1
  LIT_EVENT
  ret
.real:
  cmp dword [edi + VA_X2], 0
  jne .x2
  mov [APIC_BASE + ecx], eax
  ret
.x2:
  push ecx
  shr ecx, 4
  add ecx, X2APIC_MSR
  wrmsr
  pop ecx
  ret

; RDMSR / WRMSR of an x2APIC register by vCPU eax (esi = its state, edi = its virtual APIC): the guest's ECX and
; EDX:EAX, then the instruction is stepped over.
lit_vapic_msr:
  push ebp
  mov ebp, eax
  mov ecx, [esi + VS_GPRS + 24]         ; PUSHAD order: edi, esi, ebp, esp, ebx, edx, ecx, eax
  sub ecx, X2APIC_MSR
  shl ecx, 4
  cmp ebx, VMX_EXIT_WRMSR
  je .write
  call lit_vapic_read
  mov [esi + VS_GPRS + 28], eax
  mov [esi + VS_GPRS + 20], edx
  jmp .out
.write:
  mov eax, [esi + VS_GPRS + 28]
  mov edx, [esi + VS_GPRS + 20]
  call lit_vapic_write
.out:
  mov eax, ebp
  call vmx_skip_insn
  pop ebp
  ret

; An APIC-access VM exit of vCPU eax (SDM Vol 3C 29.4.4: qualification bits 11:0 the offset, 15:12 the access type,
; 0 a linear read, 1 a linear write): the instruction at the guest's RIP is decoded (the forms the runtime and the
; compiled code use: MOV r/m32,r32 89 /r; MOV r32,r/m32 8B /r; MOV r/m32,imm32 C7 /0; TEST r/m32,imm32 F7 /0, with
; 32-bit addressing; MOV moffs32,EAX A3 and MOV EAX,moffs32 A1), emulated against the virtual APIC, and stepped over.
lit_vapic_access:
  push ebp
  mov ebp, eax
  VA_OF
  VMR VMCS_GUEST_RIP
  mov ebx, eax                          ; the instruction (linear = physical: identity paging, CS base 0)
  cmp byte [ebx], 0xA1
  je .moffs
  cmp byte [ebx], 0xA3
  je .moffs
  movzx ecx, byte [ebx + 1]             ; ModR/M
  mov edx, 2                            ; length so far: opcode, ModR/M
  mov eax, ecx
  and eax, 7                            ; r/m
  shr ecx, 6                            ; mod
  cmp ecx, 3
  je .bad
  cmp eax, 4
  jne .no_sib
  inc edx
  movzx eax, byte [ebx + 2]             ; SIB: base 5 with mod 0 means disp32
  and eax, 7
  test ecx, ecx
  jnz .no_sib
  cmp eax, 5
  jne .disp
  add edx, 4
  jmp .disp
.no_sib:
  test ecx, ecx
  jnz .disp
  cmp eax, 5
  jne .disp
  add edx, 4                            ; mod 0, r/m 5: disp32
.disp:
  cmp ecx, 1
  jne .disp4
  inc edx
.disp4:
  cmp ecx, 2
  jne .len
  add edx, 4
.len:
  mov [edi + VA_LEN], edx
.decoded:
  VMR VMCS_EXIT_QUAL
  mov ecx, eax
  and ecx, 0xFF0                        ; the register (aligned dword accesses only)
  movzx eax, byte [ebx]                 ; opcode
  movzx edx, byte [ebx + 1]
  shr edx, 3
  and edx, 7                            ; ModR/M reg
  neg edx
  lea edx, [VS_GPRS + 28 + edx * 4]     ; the register's slot in the saved PUSHAD frame (eax is reg 0, at +28)
  cmp al, 0xA3
  je .eax_store
  cmp al, 0xA1
  je .eax_load
  cmp al, 0x89
  je .mov_store
  cmp al, 0x8B
  je .mov_load
  cmp al, 0xC7
  je .mov_imm
  cmp al, 0xF7
  je .test
.bad:
  REPORT 'vapic-insn', [ebx]
  REPORT_LINE 'error=vapic-unknown-instruction'
  LAPIS_END
.moffs:                                 ; opcode, 32-bit address
  mov dword [edi + VA_LEN], 5
  jmp .decoded
.eax_store:
  mov edx, VS_GPRS + 28
.mov_store:
  mov eax, [esi + edx]
  xor edx, edx
  call lit_vapic_write
  jmp .done
.mov_imm:
  add dword [edi + VA_LEN], 4
  mov eax, [edi + VA_LEN]
  mov eax, [ebx + eax - 4]
  xor edx, edx
  call lit_vapic_write
  jmp .done
.eax_load:
  mov edx, VS_GPRS + 28
.mov_load:
  push edx
  call lit_vapic_read
  pop edx
  mov [esi + edx], eax
  jmp .done
.test:
  add dword [edi + VA_LEN], 4
  call lit_vapic_read
  mov edx, [edi + VA_LEN]
  and eax, [ebx + edx - 4]              ; TEST: ZF, SF, PF from the AND; CF, OF clear
  pushfd
  pop ecx
  and ecx, 0x8C4                        ; OF, SF, ZF, PF of the host's AND (CF/OF cleared by it)
  push ecx
  VMR VMCS_GUEST_RFLAGS
  and eax, ~0x8D5                       ; OF, SF, ZF, AF, PF, CF
  pop ecx
  or ecx, eax
  VMW VMCS_GUEST_RFLAGS, ecx
.done:
  VMR VMCS_GUEST_RIP
  add eax, [edi + VA_LEN]
  mov ecx, eax
  VMW VMCS_GUEST_RIP, ecx
  mov eax, ebp
  pop ebp
  ret

