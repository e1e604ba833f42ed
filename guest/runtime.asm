; lapis guest runtime: boot sector, 32-bit protected mode, IDT, per-CPU stacks, local APIC, AP bring-up through a
; real-mode SIPI trampoline, an SMM handler for the default SMBASE, the debug-port result channel, exit and a
; watchdog. A test includes lapis.inc, then this file, then defines `test_main`. docs/conformance.md has the map.
;
; Image layout (a raw hard-disk image; the build pads it to one 16-head x 63-sector cylinder, 516096 bytes):
;   sector 0      boot sector, linked at 0x7C00: loads sectors 1..127 to STAGE2_LOAD with int 13h AH=42h,
;                 enables A20, enters 32-bit protected mode, copies stage 2 to STAGE2_BASE and jumps there
;   sectors 1..   stage 2, linked at STAGE2_BASE (1 MiB): this runtime, then the test (at most 65024 bytes)

%include "lapis.inc"

STAGE2_SECTORS  equ 127
BOOT_CHUNK      equ 32                  ; sectors per int 13h call (16 KiB, never across a 64 KiB boundary)
SEL_CODE        equ 0x08
SEL_DATA        equ 0x10
SEL_CODE16      equ 0x18                ; LAPIS_SOFT_IRET only
%if STACK_SIZE != 0x4000
  %error "ap_entry32 assumes 16 KiB stacks"
%endif

; =============================================================================================================
section boot start=0 vstart=0x7C00
bits 16
boot_sector:
  cli
  cld
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7C00
  jmp 0:.cs0                            ; some BIOSes enter at 07C0:0000
.cs0:
  mov [boot_drive], dl
  mov word [dap_segment], STAGE2_LOAD >> 4
  mov dword [dap_lba], 1
  mov bp, STAGE2_SECTORS
.load:
  mov ax, BOOT_CHUNK
  cmp bp, ax
  jae .count_ok
  mov ax, bp
.count_ok:
  mov [dap_count], ax
  mov si, dap
  mov dl, [boot_drive]
  mov ah, 0x42
  int 0x13
  jc boot_fail
  mov ax, [dap_count]
  sub bp, ax
  add [dap_lba], ax
  shl ax, 5                             ; sectors -> paragraphs
  add [dap_segment], ax
  test bp, bp
  jnz .load

  in al, 0x92                           ; fast A20 (both QEMU and Bochs decode port 0x92)
  or al, 2
  and al, 0xFE
  out 0x92, al
  lgdt [boot_gdt_desc]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp SEL_CODE:boot_pm

bits 32
boot_pm:
  mov ax, SEL_DATA
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov fs, ax
  mov gs, ax
  mov esp, 0x7C00
  mov esi, STAGE2_LOAD
  mov edi, STAGE2_BASE
  mov ecx, STAGE2_SECTORS * 128
  rep movsd
  jmp SEL_CODE:stage2_entry

bits 16
boot_fail:                              ; report and leave through both exit ports
  mov si, boot_fail_msg
.l:
  lodsb
  test al, al
  jz .exit
  out DEBUGCON_PORT, al
  jmp .l
.exit:
  mov al, DEBUG_EXIT_OK
  out DEBUG_EXIT_PORT, al
  mov dx, BOCHS_SHUTDOWN_PORT
  mov si, boot_shutdown_str
.s:
  lodsb
  test al, al
  jz .halt
  out dx, al
  jmp .s
.halt:
  hlt
  jmp .halt

boot_fail_msg: db 'lapis: error=disk-read', 10, 0
boot_shutdown_str: db 'Shutdown', 0
boot_drive: db 0
align 4
dap:            db 16, 0
dap_count:      dw 0
dap_offset:     dw 0
dap_segment:    dw 0
dap_lba:        dq 0
align 8
boot_gdt:
  dq 0
  dq 0x00CF9A000000FFFF                 ; 0x08: 32-bit code, base 0, 4 GiB
  dq 0x00CF92000000FFFF                 ; 0x10: data, base 0, 4 GiB
boot_gdt_desc:
  dw boot_gdt_desc - boot_gdt - 1
  dd boot_gdt
  times 510 - ($ - $$) db 0
  dw 0xAA55

; =============================================================================================================
section stage2 start=512 vstart=STAGE2_BASE
bits 32
stage2_entry:
  lgdt [gdt_desc]
  jmp SEL_CODE:.reload
.reload:
  mov ax, SEL_DATA
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov fs, ax
  mov gs, ax
  mov esp, STACKS_BASE + STACK_SIZE     ; P0 (the BSP, APIC ID 0)
  cld
  mov edi, PERCPU_BASE                  ; zero the per-CPU tables
  mov ecx, PERCPU_SIZE / 4
  xor eax, eax
  rep stosd
  call idt_init
  lidt [idt_desc]
%ifdef LAPIS_SOFT_IRET
  call lapis_soft_iret_install
%endif
  mov al, 0xFF                          ; mask both 8259s: no legacy interrupts
  out 0x21, al
  out 0xA1, al
  call tsc_calibrate
  rdtsc                                 ; the watchdog's deadline
  mov [watchdog_start], eax
  mov [watchdog_start + 4], edx
  mov eax, [tsc_per_ms]
  mov ecx, LAPIS_WATCHDOG_MS
  mul ecx
  add eax, [watchdog_start]
  adc edx, [watchdog_start + 4]
  mov [watchdog_deadline], eax
  mov [watchdog_deadline + 4], edx
  call apic_enable_this_cpu
  REPORT_LINE 'start'
  call lapis_bringup
  jmp test_main

; ---- GDT and IDT ---------------------------------------------------------------------------------------------
align 8
gdt:
  dq 0
  dq 0x00CF9A000000FFFF                 ; SEL_CODE
  dq 0x00CF92000000FFFF                 ; SEL_DATA
%ifdef LAPIS_SOFT_IRET
  dq 0x00009A000000FFFF                 ; SEL_CODE16: 16-bit code, base 0, limit 0xFFFF (the way back to real mode)
%endif
gdt_end:
gdt_desc:
  dw gdt_end - gdt - 1
  dd gdt

align 8
idt: times 256 dq 0
idt_desc:
  dw 256 * 8 - 1
  dd idt

; Return from an interrupt or exception. IRETD, except with LAPIS_SOFT_IRET (assembled for KVM on a kvm_pvm host,
; whose instruction emulator runs this 32-bit guest and cannot emulate a protected-mode IRET: "emulation
; failure"): lapis_soft_iret (below), which restores EFLAGS, CS and EIP with POPFD; RETF and, when the CPU is
; blocking NMIs, ends the blocking first through a real-mode IRET.
%macro LAPIS_IRET 0
%ifdef LAPIS_SOFT_IRET
  jmp lapis_soft_iret                   ; [esp] eip, [esp+4] cs, [esp+8] eflags, as for IRETD
%else
  iretd
%endif
%endmacro

; 256 stubs of 16 bytes: push the vector, jump to the common code (exceptions with an error code are fatal
; except #GP with a fixup, handled in isr_common).
align 16
isr_stubs:
%assign v 0
%rep 256
  align 16
  push dword v
  jmp isr_common
%assign v v + 1
%endrep

idt_init:
  mov edi, idt
  mov esi, isr_stubs
  mov ecx, 256
.l:
  mov eax, esi
  mov [edi], ax                         ; offset 15:0
  mov word [edi + 2], SEL_CODE
  mov word [edi + 4], 0x8E00            ; present, DPL 0, 32-bit interrupt gate
  shr eax, 16
  mov [edi + 6], ax                     ; offset 31:16
  add esi, 16
  add edi, 8
  loop .l
  ret

; The common interrupt path. Stack: vector, [error code], eip, cs, eflags.
isr_common:
  pushad                                ; 32 bytes
  mov ebx, [esp + 32]                   ; vector
  call lapis_cpu_id                     ; eax = APIC ID
  cmp ebx, 2
  jne .not_nmi
%ifdef LAPIS_SOFT_IRET
  mov dword [PC_NMI_BLOCKED + eax * 4], 1 ; NMI delivery blocks NMIs until the next IRET (SDM Vol 3A 7.7.1)
%endif
  mov edx, [lapis_nmi_hook]             ; NMI: a hook may take it (guest/litmus.asm's end-of-test ping); it goes
  test edx, edx                         ; on at lapis_isr_count (eax = cpu, ebx = 2, the stack as here) when the
  jz .count                             ; NMI is not its own
  jmp edx
.not_nmi:
  cmp ebx, 32
  jae .count
  bt dword [lapis_count_low], ebx       ; a vector below 32 the test counts as an interrupt (LAPIS_COUNT_LOW)
  jc .count
  cmp ebx, 13
  jne .fatal
  mov edx, [PC_FIXUP + eax * 4]         ; #GP with a fixup: count it and resume at the fixup
  test edx, edx
  jz .fatal
  mov dword [PC_FIXUP + eax * 4], 0
  lock inc dword [PC_FAULTS + eax * 4]
  mov [esp + 40], edx                   ; eip, above the error code
  popad
  add esp, 8                            ; vector, error code
  LAPIS_IRET
.count:
  mov ecx, eax
  shl ecx, 10
  lock inc dword [PC_COUNTS + ecx + ebx * 4]
  mov edx, [PC_HANDLER + ecx + ebx * 4]
  test edx, edx
  jz .done
  call edx                              ; eax = cpu, ebx = vector
.done:
  popad
  add esp, 4
  LAPIS_IRET
.fatal:
  mov ecx, eax
  REPORT 'exception', ebx
  REPORT 'exception-cpu', ecx
  mov eax, [esp + 36]                   ; eip, or the error code of #DF, #TS, #NP, #SS, #GP, #PF, #AC
  cmp ebx, 8
  je .errcode
  cmp ebx, 17
  je .errcode
  cmp ebx, 10
  jb .eip
  cmp ebx, 14
  ja .eip
.errcode:
  mov eax, [esp + 40]
.eip:
  REPORT 'exception-eip', eax
  jmp lapis_end

%ifdef LAPIS_SOFT_IRET
; ---- NMI unblocking without a protected-mode IRET (LAPIS_SOFT_IRET) --------------------------------------------
;
; KVM's instruction emulator (arch/x86/kvm/emulate.c, em_iret) implements IRET in real-address mode only
; (emulate_iret_real; "iret from protected mode unimplemented yet"), and emulate_iret_real ends with
; set_nmi_mask(false): a real-mode IRET ends NMI blocking, as every IRET does (SDM Vol 3A 7.7.1 "Handling Multiple
; NMIs": NMIs are blocked from the NMI's delivery "until the next execution of the IRET instruction"). So a return
; from an interrupt while this CPU blocks NMIs (PC_NMI_BLOCKED: set at an NMI's entry in isr_common) goes through
; real mode:
;
;   1. 32-bit: PUSHAD below the interrupt frame, EBP = that block (the GPRs survive the mode switches; no code
;      below changes EBP), ESP = this CPU's real-mode stack in page 0, IDTR = the hybrid table (below); far jump to
;      the 16-bit protected-mode code segment (base 0, limit 0xFFFF), which is how real mode is entered (SDM Vol 3A
;      10.9.2 "Switching Back to Real-Address Mode": a code segment with a 64 KiB limit, then clear CR0.PE, then a
;      far jump). DS, ES, FS, GS and SS are not reloaded (10.9.2 suggests 64 KiB descriptors): the descriptor
;      caches keep the flat protected-mode descriptors (base 0, 4 GiB) until a segment load, which nothing below
;      does, so the data and stack addresses are the same in both modes ("unreal mode"; KVM's emulator checks a
;      real-mode address against the cached limit too).
;   2. real mode: IRET with a frame FLAGS = 0x0002 (IF = 0), CS:IP = 0:rm_after. NMI blocking ends here.
;   3. real mode, NMIs unblocked: set CR0.PE, far jump to 32-bit code (SDM Vol 3A 10.9.1), ESP = EBP, IDTR = the
;      runtime's IDT, POPAD, then POPFD; RETF to the interrupted context, as without the trampoline.
;
; An NMI that comes after step 2 and before the IDT is back is delivered through the hybrid table, whose
; real-mode vector 2 (4-byte far pointer at base + 8) and protected-mode gate 2 (8 bytes at base + 16) do not
; overlap (in real-address mode the IDTR's base and limit locate the interrupt vector table: SDM Vol 3B, "8086
; Emulation", "Interrupt and Exception Handling"; LIDT). Whether it arrives in real mode, between setting PE and the
; far jump, or in 32-bit code before LIDT, its handler drops its own frame (this NMI keeps NMIs blocked, as it
; should) and delivers it to the interrupted context: ESP = EBP, IDTR = the runtime's IDT, POPAD, then the NMI
; stub with the original interrupt frame on the stack, exactly what the CPU would have pushed for an NMI taken right
; after an IRET to that context (IF = 0 like an interrupt gate). The NMI is neither lost nor moved past an
; instruction of the interrupted context. Other vectors are not expected in the window (IF = 0, no faulting code):
; they find no gate (limit 23) and shut the CPU down, a crash rather than a wrong result.

%define RMA(x) ((x) - rm_blob + RM_TRAMP_BASE) ; an address in the low copy (rm_blob, below)

; Copy the low part (hybrid table and 16-bit code) to RM_TRAMP_BASE and point gate 2 at lapis_soft_iret_nmi_pm.
; Clobbers eax, ecx, esi, edi.
lapis_soft_iret_install:
  mov esi, rm_blob
  mov edi, RM_TRAMP_BASE
  mov ecx, rm_blob_end - rm_blob
  rep movsb
  mov eax, lapis_soft_iret_nmi_pm
  mov [RM_TRAMP_BASE + 16], ax          ; gate 2: offset 15:0
  mov word [RM_TRAMP_BASE + 18], SEL_CODE
  mov word [RM_TRAMP_BASE + 20], 0x8E00 ; present, DPL 0, 32-bit interrupt gate
  shr eax, 16
  mov [RM_TRAMP_BASE + 22], ax          ; offset 31:16
  ret

; LAPIS_IRET: [esp] eip, [esp+4] cs, [esp+8] eflags. (In the runtime's interrupt code, between isr_stubs and
; lapis_cpu_id: the end-of-test ping treats an NMI taken here as "busy", as one taken at an IRETD.)
lapis_soft_iret:
  pushad
  call lapis_cpu_id
  cmp dword [PC_NMI_BLOCKED + eax * 4], 0
  jne .unblock
  popad
.return:
  push eax                              ; [esp+4] eip, [esp+8] cs, [esp+12] eflags
  mov eax, [esp + 12]
  xchg eax, [esp + 4]
  xchg eax, [esp + 8]
  mov [esp + 12], eax                   ; now eflags, eip, cs
  pop eax
  popfd
  retf
.unblock:
  mov dword [PC_NMI_BLOCKED + eax * 4], 0
  mov ebp, esp                          ; the PUSHAD block, the interrupt frame above it
  inc eax
  shl eax, 5
  %if RM_STACK_SIZE != 32
    %error "lapis_soft_iret assumes 32-byte real-mode stacks"
  %endif
  lea esp, [eax + RM_STACKS]            ; (id + 1) * 32 + RM_STACKS
  lidt [rm_idt_desc]
  jmp SEL_CODE16:RMA(rm_pm16)
; Step 3, in 32-bit code again (NMIs unblocked).
.back:
  mov esp, ebp
%ifdef LAPIS_TEST_WINDOW_NMI
  cmp dword [lapis_window_spin], 2      ; 2: stay in 32-bit code before LIDT a while, the NMI comes here
  jne .no_test
  mov dword [lapis_window_spin], 0
  mov ecx, 100000
.spin:
  dec ecx
  jnz .spin
.no_test:
%endif
  lidt [idt_desc]
  popad
  jmp .return

; Gate 2 of the hybrid table, and where its real-mode vector 2 leads once in protected mode: an NMI in the window.
lapis_soft_iret_nmi_pm:
%ifdef LAPIS_TEST_WINDOW_NMI
  lock inc dword [lapis_window_pm]
%endif
  mov esp, ebp
  lidt [idt_desc]
  popad
  jmp isr_stubs + 2 * 16                ; vector 2's stub: push 2, isr_common (which sets PC_NMI_BLOCKED again)

%ifdef LAPIS_TEST_WINDOW_NMI
lapis_window_nmi: dd 0                  ; 1 or 2: rm_after sends a self-NMI (once) and spins in real mode (1) or in
lapis_window_spin: dd 0                 ; 32-bit code before LIDT (2)
lapis_window_rm: dd 0                   ; NMIs taken in real mode in the window
lapis_window_pm: dd 0                   ; NMIs taken through the hybrid table (real mode or protected mode)
%endif
align 4
rm_idt_desc:
  dw 23                                 ; real-mode vectors 0-5, protected-mode gates 0-2
  dd RM_TRAMP_BASE

; The low part, copied to RM_TRAMP_BASE (it runs there).
align 8
rm_blob:
  dd 0, 0                               ; real-mode vectors 0, 1 / protected-mode gate 0 (not present)
  dw RMA(rm_nmi_real), 0                ; real-mode vector 2 (IP, CS): an NMI in real mode
  dd 0                                  ; real-mode vector 3 (gate 1: not present)
  dd 0, 0                               ; protected-mode gate 2 (lapis_soft_iret_install fills it)
bits 16
rm_pm16:                                ; 16-bit protected mode, CS base 0: leave protected mode
  mov eax, cr0
  and al, 0xFE
  mov cr0, eax
  jmp 0:RMA(rm_real)
rm_real:                                ; real mode, CS = 0; the stack is this CPU's, in page 0
  push word 0x0002                      ; FLAGS: IF = 0
  push word 0                           ; CS
  push word RMA(rm_after)               ; IP
  iret                                  ; real-address-mode IRET: NMI blocking ends (SDM Vol 3A 7.7.1)
rm_after:
%ifdef LAPIS_TEST_WINDOW_NMI                ; guest/tests/nmi-unblock.asm: a self-NMI sent inside the window, once
  mov ecx, [dword lapis_window_nmi]    ; (32-bit addresses: DS keeps its flat descriptor in real mode)
  jecxz .no_test
  mov dword [dword lapis_window_nmi], 0
  mov [dword lapis_window_spin], ecx
  mov dword [dword APIC_BASE + APIC_ICR_HI], 0
  mov dword [dword APIC_BASE + APIC_ICR_LO], ICR_NMI | ICR_ASSERT ; to APIC ID 0 (the test runs on the BSP)
  cmp ecx, 1
  jne .no_test
  mov ecx, 100000                       ; 1: stay in real mode a while, so that the NMI comes here
.spin:
  dec ecx
  jnz .spin
.no_test:
%endif
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp dword SEL_CODE:lapis_soft_iret.back
rm_nmi_real:                            ; an NMI after the IRET, still in real mode: NMIs are blocked again
%ifdef LAPIS_TEST_WINDOW_NMI
  lock inc dword [dword lapis_window_rm]
%endif
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp dword SEL_CODE:lapis_soft_iret_nmi_pm
bits 32
rm_blob_end:
  times -((rm_blob_end - rm_blob) > (RM_STACKS - RM_TRAMP_BASE)) db 0 ; an error if it does not fit below RM_STACKS
%endif

; The common path's counting part: count vector ebx for cpu eax, run its PC_HANDLER, return from the interrupt.
lapis_isr_count equ isr_common.count
; 0, or code that sees every NMI first (see isr_common).
lapis_nmi_hook: dd 0
; Bit v (v < 32): an entry through gate v is an interrupt, counted in PC_COUNTS like vectors 32-255, not an
; exception that ends the run. Only for gates where the exception pushes no error code (an interrupt never pushes
; one; the exceptions that do are 8, 10-14, 17, 21, 29, 30: SDM Vol 3A Table 7-1 and 7.13 "Error Code"), so
; the stack is the same either way; and only where the test's code raises no exception at that gate: the guest then
; reads an entry there as an interrupt someone sent with that vector (an MSI or IPI the APIC should have refused as
; illegal, SDM Vol 3A 11.5.2). Vector 2 is the NMI's and never in the mask.
%ifndef LAPIS_COUNT_LOW
  %define LAPIS_COUNT_LOW 0
%endif
%if (LAPIS_COUNT_LOW) & 0x60227D04
  %error "LAPIS_COUNT_LOW: vectors 2, 8, 10-14, 17, 21, 29 and 30 cannot be counted as interrupts"
%endif
lapis_count_low: dd LAPIS_COUNT_LOW

%include "runtime-cpu.asm"
