; lapis: vCPUs under APICv without posted interrupts, for `config accel = apicv` tests (docs/nested.md, "vCPUs
; under APICv"). Included by guest/nested.asm when LIT_VAPIC is 2. Every test CPU is a guest of the L1 with "use TPR
; shadow", "virtualize APIC accesses" (the APIC-access page at 0xFEE00000), APIC-register virtualization and
; virtual-interrupt delivery (SDM Vol 3C 30.1-30.4); Bochs 2.7 has no posted interrupts, so interrupts for a vCPU
; reach it as KVM delivers them without posted interrupts: they exit (external-interrupt exiting, acknowledged on
; exit), and the L1 records them in the virtual-APIC page's IRR and RVI; the processor delivers them and virtualizes
; EOIs (no EOI-exit bitmap bit is set: no level-triggered vector reaches a vCPU here).
;
;   - The virtual-APIC page starts as a copy of the real APIC's registers (the TPR moves there; the real one is 0).
;   - Reads are virtualized; writes too, and those the processor does not emulate itself exit (APIC-write, trap-like,
;     SDM Vol 3C 30.4.3.3): ICR low sends the IPI for real (ICR high from the page) and counts in
;     `Pn.vmexits(apic-write)` (a self-IPI is virtualized and does not exit); other registers go to the real APIC.
;   - `Pn.vmexits(eoi)`: EOI-induced exits (none with an empty EOI-exit bitmap).

LIT_VMEXITS_APICW equ LIT_NESTED_BASE + 0x2C00 ; dword[cpu]: APIC-write VM exits of ICR writes this run
LIT_VMEXITS_EOI  equ LIT_NESTED_BASE + 0x2D00  ; dword[cpu]: EOI-induced VM exits this run

VMCS_GUEST_INTR_STATUS equ 0x0810       ; RVI (bits 7:0), SVI (15:8)
VMX_PROC_TPR_SHADOW_VID equ 1 << 21
VMX_PROC2_VID_ALL equ (1 << 0) | (1 << 8) | (1 << 9) ; virtualize APIC accesses, APIC-register virtualization, VID
VMX_EXIT_EOI_VIRT equ 45

; The controls of a vCPU's VMCS (lit_nested_enter): ebx = pin-based, ecx = primary, edx = secondary. eax = cpu.
lit_vid_controls:
  mov dword [vmx_want_exit], 1 << 15    ; acknowledge interrupt on exit
  mov ebx, 1                            ; external-interrupt exiting (SDM Vol 3C 26.2.1.1: VID needs it)
  mov ecx, VMX_PROC_WANT | VMX_PROC_TPR_SHADOW_VID
  mov edx, VMX_PROC2_VID_ALL
  ret

; The vCPU's virtual APIC, right after its VMCS is set up: the real APIC's registers copied to the virtual-APIC page
; (IRR, ISR and TMR empty; PPR from the TPR), RVI = SVI = 0, an empty EOI-exit bitmap. eax = cpu. Clobbers eax..edi.
lit_vid_setup:
  mov edi, eax
  shl edi, 14
  add edi, VMX_AREA + VMX_VAPIC_OFF
  push edi
  xor eax, eax
  mov ecx, 0x1000 / 4
  cld
  rep stosd
  pop edi
  mov esi, lit_vid_copied
.copy:
  movzx ecx, word [esi]
  test ecx, ecx
  jz .copied
  mov eax, [APIC_BASE + ecx]
  mov [edi + ecx], eax
  add esi, 2
  jmp .copy
.copied:
  mov eax, [edi + APIC_TPR]
  and eax, 0xF0
  mov [edi + APIC_PPR], eax
  mov dword [APIC_BASE + APIC_TPR], 0
  VMW VMCS_APIC_ACCESS_ADDR, APIC_BASE
  VMW VMCS_GUEST_INTR_STATUS, 0
  xor ecx, ecx
.bitmap:
  lea eax, [VMCS_EOI_EXIT0 + ecx]
  xor edx, edx
  vmwrite eax, edx
  inc ecx
  cmp ecx, 8                            ; four 64-bit fields, full and high
  jb .bitmap
  ret

; Registers the virtual-APIC page starts with (xAPIC offsets; 0 ends).
lit_vid_copied: dw APIC_ID, APIC_VERSION, APIC_TPR, APIC_LDR, APIC_DFR, APIC_SVR, APIC_LVT_TIMER, APIC_LVT_THERMAL
                dw APIC_LVT_PMC, APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR, APIC_TIMER_ICR, APIC_TIMER_DCR, 0

; The exits of a vCPU under APICv (from lit_vmexit: eax = cpu, ebx = reason, esi = its state). Returns (CF clear)
; for the exits it does not handle.
lit_vid_exit:
  cmp ebx, VMX_EXIT_EXTINT
  je .extint
  cmp ebx, VMX_EXIT_APIC_WRITE
  je .write
  cmp ebx, VMX_EXIT_EOI_VIRT
  je .eoi
  cmp ebx, VMX_EXIT_APIC_ACCESS
  je .access
  clc
  ret
.extint:                                ; an interrupt for the vCPU: into the virtual IRR and RVI (SDM Vol 3C 30.2.1)
  mov ecx, [esi + VS_INTR]
  test ecx, ecx
  jns .resume
  and ecx, 0xFF
  mov edi, eax
  shl edi, 14
  add edi, VMX_AREA + VMX_VAPIC_OFF
  mov edx, ecx
  shr edx, 5
  shl edx, 4
  mov ebx, ecx
  and ebx, 31
  lock bts [edi + APIC_IRR0 + edx], ebx
  mov dword [APIC_BASE + APIC_EOI], 0   ; the real ISR bit the acknowledgement set
  push eax
  VMR VMCS_GUEST_INTR_STATUS
  cmp al, cl
  jae .rvi_kept
  mov al, cl
.rvi_kept:
  mov ecx, eax
  VMW VMCS_GUEST_INTR_STATUS, ecx
  pop eax
  LIT_EVENT
  jmp .resume
.write:                                 ; trap-like: the value is in the virtual-APIC page
  push eax
  VMR VMCS_EXIT_QUAL
  mov ecx, eax
  and ecx, 0xFF0
  pop eax
  mov edi, eax
  shl edi, 14
  add edi, VMX_AREA + VMX_VAPIC_OFF
  cmp ecx, APIC_ICR_LO
  jne .real
  lock inc dword [LIT_VMEXITS_APICW + eax * 4]
  mov edx, [edi + APIC_ICR_HI]
  mov [APIC_BASE + APIC_ICR_HI], edx
  mov edx, [edi + APIC_ICR_LO]
  and edx, ~ICR_BUSY
  mov [APIC_BASE + APIC_ICR_LO], edx    ; the IPI, for real
  mov [edi + APIC_ICR_LO], edx
  LIT_EVENT
  jmp .resume
.real:
  mov edx, [edi + ecx]
  mov [APIC_BASE + ecx], edx
  jmp .resume
.eoi:                                   ; SDM Vol 3C 30.1.4: the vector's EOI-exit bitmap bit was set
  lock inc dword [LIT_VMEXITS_EOI + eax * 4]
  LIT_EVENT
  jmp .resume
.access:                                ; SDM Vol 3C 30.4.2: a read the processor does not virtualize (PPR, CCR)
  call lit_vid_read_exit
  jmp .resume
.resume:
  call vmx_resume
  REPORT 'nested-cpu', eax
  REPORT_LINE 'error=vm-entry-failed'
  LAPIS_END

; An APIC-access exit of vCPU eax for a read (PPR: the processor's VPPR in the page; anything else the real APIC's):
; the instruction is MOV EAX,moffs32 (A1) or MOV r32,[disp32] / [reg+disp32] (8B /r, mod 00 r/m 101 or mod 10), the
; forms the runtime and the compiled code read with; the register gets the value and the instruction is stepped over.
lit_vid_read_exit:
  push ebp
  mov ebp, eax
  VMR VMCS_EXIT_QUAL
  test eax, 0xF000                      ; access type 0: a linear read
  jnz .bad
  and eax, 0xFF0
  mov ecx, eax
  mov edi, ebp
  shl edi, 14
  add edi, VMX_AREA + VMX_VAPIC_OFF
  mov edx, [edi + ecx]
  cmp ecx, APIC_PPR
  je .value
  mov edx, [APIC_BASE + ecx]
.value:
  push edx
  VMR VMCS_GUEST_RIP
  mov ebx, eax
  pop edx
  mov ecx, 28                           ; EAX's slot in the PUSHAD frame
  mov edi, 5
  cmp byte [ebx], 0xA1
  je .store
  cmp byte [ebx], 0x8B
  jne .bad
  movzx eax, byte [ebx + 1]             ; ModR/M
  mov edi, 6
  mov ecx, eax
  and ecx, 0xC7
  cmp ecx, 0x05                         ; mod 00, r/m 101: [disp32]
  je .reg
  and ecx, 0xC0
  cmp ecx, 0x80                         ; mod 10: [reg + disp32]
  jne .bad
  mov ecx, eax
  and ecx, 7
  cmp ecx, 4                            ; (a SIB byte: not a form used)
  je .bad
.reg:
  shr eax, 3
  and eax, 7
  mov ecx, 7
  sub ecx, eax
  shl ecx, 2                            ; reg r is at 4 * (7 - r) in the PUSHAD frame
.store:
  mov [esi + VS_GPRS + ecx], edx
  VMR VMCS_GUEST_RIP
  add eax, edi
  mov ecx, eax
  VMW VMCS_GUEST_RIP, ecx
  mov eax, ebp
  pop ebp
  ret
.bad:
  REPORT 'apic-access-cpu', ebp
  REPORT_LINE 'error=apicv-apic-access'
  LAPIS_END
