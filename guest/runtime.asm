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
; failure"): POPFD then RETF, which restores EFLAGS, CS and EIP the same way but does not end NMI blocking.
%macro LAPIS_IRET 0
%ifdef LAPIS_SOFT_IRET
  push eax                              ; [esp+4] eip, [esp+8] cs, [esp+12] eflags
  mov eax, [esp + 12]
  xchg eax, [esp + 4]
  xchg eax, [esp + 8]
  mov [esp + 12], eax                   ; now eflags, eip, cs
  pop eax
  popfd
  retf
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
  mov edx, [lapis_nmi_hook]             ; NMI: a hook may take it (guest/litmus.asm's end-of-test ping); it goes
  test edx, edx                         ; on at lapis_isr_count (eax = cpu, ebx = 2, the stack as here) when the
  jz .count                             ; NMI is not its own
  jmp edx
.not_nmi:
  cmp ebx, 32
  jae .count
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

; The common path's counting part: count vector ebx for cpu eax, run its PC_HANDLER, return from the interrupt.
lapis_isr_count equ isr_common.count
; 0, or code that sees every NMI first (see isr_common).
lapis_nmi_hook: dd 0

; ---- CPU identity, APIC ----------------------------------------------------------------------------------------

; eax = this CPU's initial APIC ID (CPUID.1:EBX[31:24]); other registers kept
lapis_cpu_id:
  push ebx
  push ecx
  push edx
  mov eax, 1
  cpuid
  mov eax, ebx
  shr eax, 24
  pop edx
  pop ecx
  pop ebx
  ret

; ecx = xAPIC register offset, eax = value. Clobbers eax, ecx, edx.
lapis_apic_write:
  push ebx
  mov ebx, eax
  call lapis_cpu_id
  cmp dword [PC_X2APIC + eax * 4], 0
  jne .x2
  mov [APIC_BASE + ecx], ebx
  pop ebx
  ret
.x2:
  shr ecx, 4
  add ecx, X2APIC_MSR
  mov eax, ebx
  xor edx, edx
  wrmsr
  pop ebx
  ret

; ecx = xAPIC register offset -> eax. Clobbers ecx, edx.
lapis_apic_read:
  call lapis_cpu_id
  cmp dword [PC_X2APIC + eax * 4], 0
  jne .x2
  mov eax, [APIC_BASE + ecx]
  ret
.x2:
  shr ecx, 4
  add ecx, X2APIC_MSR
  rdmsr
  ret

; eax = ICR low, edx = destination APIC ID. xAPIC: ICR_HI, ICR_LO, then wait for delivery status idle.
; x2APIC: one WRMSR to 0x830. Clobbers eax, ecx, edx.
lapis_send_ipi:
  push ebx
  mov ebx, eax
  call lapis_cpu_id
  cmp dword [PC_X2APIC + eax * 4], 0
  jne .x2
  shl edx, 24
  mov [APIC_BASE + APIC_ICR_HI], edx
  mov [APIC_BASE + APIC_ICR_LO], ebx
.busy:
  test dword [APIC_BASE + APIC_ICR_LO], ICR_BUSY
  jz .done
  pause
  jmp .busy
.x2:
  mov ecx, X2APIC_MSR + (APIC_ICR_LO >> 4)
  mov eax, ebx
  wrmsr
.done:
  pop ebx
  ret

; Software-enable this CPU's APIC as an OS leaves it: SVR = 0x1FF, TPR 0, every LVT masked. Clobbers eax, ecx, edx.
apic_enable_this_cpu:
  APIC_WR APIC_SVR, 0x1FF
  APIC_WR APIC_TPR, 0
  APIC_WR APIC_LVT_TIMER, 0x10000
  APIC_WR APIC_LVT_LINT0, 0x10000
  APIC_WR APIC_LVT_LINT1, 0x10000
  APIC_WR APIC_LVT_ERROR, 0x10000
  ret

; Switch this CPU to x2APIC mode (IA32_APIC_BASE: EN and EXTD). Clobbers eax, ecx, edx.
lapis_x2apic_enable:
  mov ecx, MSR_APIC_BASE
  rdmsr
  or eax, 0xC00
  wrmsr
  call lapis_cpu_id
  mov dword [PC_X2APIC + eax * 4], 1
  ret

; ---- time ---------------------------------------------------------------------------------------------------

; tsc_per_ms from 10 ms of PIT channel 2 (gate through port 0x61, OUT2 read back in bit 5).
tsc_calibrate:
  in al, 0x61
  and al, 0xFC                          ; gate low, speaker off
  out 0x61, al
  mov al, 0xB0                          ; channel 2, lobyte/hibyte, mode 0
  out 0x43, al
  mov ax, 11932                         ; 10 ms at 1.193182 MHz
  out 0x42, al
  mov al, ah
  out 0x42, al
  in al, 0x61
  or al, 1                              ; gate high: counting starts
  out 0x61, al
  rdtsc
  mov esi, eax
  mov edi, edx
  mov ecx, 100000000                    ; give up after this many polls
.wait:
  in al, 0x61
  test al, 0x20
  jnz .done
  dec ecx
  jnz .wait
  mov dword [tsc_per_ms], 1000000       ; no PIT: assume 1 GHz
  ret
.done:
  rdtsc
  sub eax, esi
  sbb edx, edi
  mov ecx, 10
  div ecx
  test eax, eax
  jnz .ok
  inc eax
.ok:
  mov [tsc_per_ms], eax
  ret

; Busy-wait eax microseconds (TSC). Clobbers eax, ecx, edx.
lapis_delay_us:
  push ebx
  push esi
  push edi
  mov ebx, eax
  rdtsc
  mov esi, eax
  mov edi, edx
  mov eax, [tsc_per_ms]
  mul ebx
  mov ecx, 1000
  div ecx                               ; eax = ticks (delays up to ~4 s at 1 GHz)
  add esi, eax
  adc edi, 0
.l:
  pause
  rdtsc
  cmp edx, edi
  jb .l
  ja .out
  cmp eax, esi
  jb .l
.out:
  pop edi
  pop esi
  pop ebx
  ret

; Wait until dword [esi] == ebx or eax microseconds pass: eax = 1 if it held, 0 on time-out. Clobbers ecx, edx.
lapis_wait_eq_us:
  push edi
  push ebp
  mov ecx, eax
  mov eax, [tsc_per_ms]
  mul ecx
  mov ecx, 1000
  div ecx
  mov edi, eax                          ; ticks
  rdtsc
  mov ebp, eax
.l:
  cmp [esi], ebx
  je .yes
  pause
  rdtsc
  sub eax, ebp
  cmp eax, edi
  jb .l
  xor eax, eax
  jmp .out
.yes:
  mov eax, 1
.out:
  pop ebp
  pop edi
  ret

; Move the watchdog's deadline to LAPIS_WATCHDOG_MS from now (a guest that loops re-arms it per iteration).
; Keeps every register.
lapis_watchdog_rearm:
  pushad
  rdtsc
  mov esi, eax
  mov edi, edx
  mov eax, [tsc_per_ms]
  mov ecx, LAPIS_WATCHDOG_MS
  mul ecx
  add eax, esi
  adc edx, edi
  mov [watchdog_deadline], eax
  mov [watchdog_deadline + 4], edx
  popad
  ret

; Ends the run with `lapis: watchdog=1` once the deadline has passed. Keeps every register.
lapis_watchdog_check:
  pushad
  rdtsc
  cmp edx, [watchdog_deadline + 4]
  jb .ok
  ja .expired
  cmp eax, [watchdog_deadline]
  jb .ok
.expired:
  REPORT 'watchdog', 1
  jmp lapis_end
.ok:
  popad
  ret

; ---- AP bring-up ------------------------------------------------------------------------------------------------

; INIT every AP (all excluding self): each goes to wait-for-SIPI whatever the BIOS left it doing. Then start
; the APs in LAPIS_ACTIVE_APS with SIPI (twice, as the MP spec says) at the runtime's trampoline page; each comes
; up in ap_online, enables its APIC and checks in. The test's own trampolines are installed after this.
lapis_bringup:
  SEND ICR_INIT | ICR_ASSERT | ICR_OTHERS, 0
  mov eax, 10000
  call lapis_delay_us
%if LAPIS_ACTIVE_APS != 0
  mov eax, LAPIS_BRINGUP_VECTOR
  call lapis_install_trampoline
  mov ebx, 1
.each:
  cmp ebx, LAPIS_CPUS
  jae .wait_all
  bt dword [active_aps], ebx
  jnc .next
  mov dword [PC_SIPI_ENTRY + ebx * 4], ap_online
  SEND ICR_STARTUP | ICR_ASSERT | LAPIS_BRINGUP_VECTOR, ebx
  mov eax, 200
  call lapis_delay_us
  cmp dword [PC_ONLINE + ebx * 4], 0
  jne .next
  SEND ICR_STARTUP | ICR_ASSERT | LAPIS_BRINGUP_VECTOR, ebx
.next:
  inc ebx
  jmp .each
.wait_all:
  mov ebx, 1
.w:
  cmp ebx, LAPIS_CPUS
  jae .up
  bt dword [active_aps], ebx
  jnc .wn
  AWAIT_EQ [PC_ONLINE + ebx * 4], 1
.wn:
  inc ebx
  jmp .w
.up:
%endif
  ret

active_aps: dd LAPIS_ACTIVE_APS

; Where the runtime's bring-up SIPI leads: enable the APIC, check in, wait for the BSP's go, run PC_MAIN[cpu]
; (or idle). ecx = APIC ID.
ap_online:
  call apic_enable_this_cpu
  call lapis_cpu_id
  mov ebx, eax
  mov dword [PC_ONLINE + ebx * 4], 1
.go:
  cmp dword [lapis_go], 0
  jne .run
  pause
  jmp .go
.run:
  mov eax, [PC_MAIN + ebx * 4]
  test eax, eax
  jz lapis_idle
  call eax
; After its program a CPU idles in a HLT loop with IF=1, taking interrupts (docs/litmus.md).
lapis_idle:
  sti
  hlt
  jmp lapis_idle

lapis_go: dd 0

; Copy the real-mode SIPI trampoline to page eax (eax = SIPI vector: the page is eax << 12). Clobbers eax, ecx.
lapis_install_trampoline:
  push esi
  push edi
  shl eax, 12
  mov edi, eax
  mov esi, trampoline
  mov ecx, trampoline_end - trampoline
  rep movsb
  pop edi
  pop esi
  ret

; The trampoline: an AP leaves wait-for-SIPI at CS = vector << 8, IP = 0 in real mode. Position-independent in
; its segment: it loads the runtime's GDT, enters protected mode and far-jumps to ap_entry32 with the SIPI vector
; in ebx.
%define TR(x) ((x) - trampoline)
bits 16
align 16
trampoline:
  cli
  mov ax, cs
  mov ds, ax
  movzx ebx, ax
  shr ebx, 8                            ; the SIPI vector
  o32 lgdt [TR(tramp_gdt_desc)]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp dword far [TR(tramp_far)]
align 4
tramp_gdt_desc:
  dw gdt_end - gdt - 1
  dd gdt
tramp_far:
  dd ap_entry32
  dw SEL_CODE
trampoline_end:
bits 32

; 32-bit entry of every SIPI'd CPU: segments, its stack, the IDT; record the SIPI; go to PC_SIPI_ENTRY[cpu]
; with ebx = SIPI vector, ecx = APIC ID (or idle with IF=0 held in HLT when there is none).
ap_entry32:
  mov ax, SEL_DATA
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov fs, ax
  mov gs, ax
  cld
  mov esi, ebx                          ; the SIPI vector (cpuid clobbers ebx)
  mov eax, 1
  cpuid
  shr ebx, 24
  mov ecx, ebx                          ; APIC ID
  lea esp, [ecx + 1]
  shl esp, 14                           ; (id + 1) * STACK_SIZE
  add esp, STACKS_BASE
  lidt [idt_desc]
  mov ebx, esi
  mov [PC_SIPI_VECTOR + ecx * 4], ebx
  lock inc dword [PC_SIPI_COUNT + ecx * 4]
  mov eax, [PC_SIPI_ENTRY + ecx * 4]
  test eax, eax
  jz .halt
  jmp eax
.halt:
  cli
  hlt
  jmp .halt

; ---- SMM ----------------------------------------------------------------------------------------------------

; Copy the runtime's SMM handler to eax + 0x8000 (eax = SMBASE). Clobbers eax, ecx.
lapis_install_smm_handler:
  push esi
  push edi
  lea edi, [eax + SMM_HANDLER_OFF]
  mov esi, smm_handler
  mov ecx, smm_handler_end - smm_handler
  rep movsb
  pop edi
  pop esi
  ret

; The SMM handler: entered in SMM's real-address-like mode (CS base = SMBASE, IP = 0x8000, 4 GiB limits). It
; counts the SMI for this CPU in PC_SMI_COUNT (32-bit addressing) and returns with RSM.
bits 16
smm_handler:
  mov eax, 1
  cpuid
  shr ebx, 24
  xor ax, ax
  mov ds, ax
  lock inc dword [dword PC_SMI_COUNT + ebx * 4]
  rsm
smm_handler_end:
bits 32

; ---- the result channel and exit ----------------------------------------------------------------------------

; esi = NUL-terminated string: write it to the debug port. Clobbers eax, esi.
lapis_puts:
.l:
  lodsb
  test al, al
  jz .d
  out DEBUGCON_PORT, al
  jmp .l
.d:
  ret

; eax = unsigned value: write it in decimal. Clobbers eax, ecx, edx, edi.
lapis_putdec:
  sub esp, 12
  lea edi, [esp + 11]
  mov byte [edi], 0
  mov ecx, 10
.l:
  xor edx, edx
  div ecx
  add dl, '0'
  dec edi
  mov [edi], dl
  test eax, eax
  jnz .l
.out:
  mov al, [edi]
  test al, al
  jz .d
  out DEBUGCON_PORT, al
  inc edi
  jmp .out
.d:
  add esp, 12
  ret

print_lock: dd 0
lock_print:
  push eax
.l:
  mov eax, 1
  xchg eax, [print_lock]
  test eax, eax
  jz .got
  pause
  jmp .l
.got:
  pop eax
  ret
unlock_print:
  mov dword [print_lock], 0
  ret

; esi = key, eax = value: `lapis: key=value\n`.
lapis_report_kv:
  call lock_print
  push eax
  push esi
  mov esi, str_prefix
  call lapis_puts
  pop esi
  call lapis_puts
  mov al, '='
  out DEBUGCON_PORT, al
  pop eax
  call lapis_putdec
  mov al, 10
  out DEBUGCON_PORT, al
  call unlock_print
  ret

; esi = text: `lapis: text\n`.
lapis_report_line:
  call lock_print
  push esi
  mov esi, str_prefix
  call lapis_puts
  pop esi
  call lapis_puts
  mov al, 10
  out DEBUGCON_PORT, al
  call unlock_print
  ret

; A result line built in pieces (LINE_BEGIN, LINE_KV ..., LINE_END in lapis.inc): `lapis: k=v k=v`.
lapis_line_begin:
  call lock_print
  mov esi, str_prefix_bare
  jmp lapis_puts
; esi = key, eax = value: ` key=value`
lapis_line_kv:
  push eax
  mov al, ' '
  out DEBUGCON_PORT, al
  call lapis_puts
  mov al, '='
  out DEBUGCON_PORT, al
  pop eax
  jmp lapis_putdec
lapis_line_end:
  mov al, 10
  out DEBUGCON_PORT, al
  jmp unlock_print

; `lapis: end`, then leave: QEMU's isa-debug-exit first, then Bochs's shutdown port; a halt loop if neither.
lapis_end:
  cli
  REPORT_LINE 'end'
  mov al, DEBUG_EXIT_OK
  out DEBUG_EXIT_PORT, al
  mov esi, str_shutdown
  mov dx, BOCHS_SHUTDOWN_PORT
.s:
  lodsb
  test al, al
  jz .h
  out dx, al
  jmp .s
.h:
  hlt
  jmp .h

str_prefix: db 'lapis: ', 0
str_prefix_bare: db 'lapis:', 0
str_shutdown: db 'Shutdown', 0
align 4
tsc_per_ms: dd 0
watchdog_start: dq 0
watchdog_deadline: dq 0
