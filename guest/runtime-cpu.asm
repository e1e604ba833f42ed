; The runtime's CPU services: identity and APIC, time, AP bring-up, SMM, the result channel and exit (guest/runtime.asm).
; Included by guest/runtime.asm at this point of it; it is one assembly with it.

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

; tsc_per_ms from 10 ms of PIT channel 2 (gate through port 0x61, OUT2 read back in bit 5), the least of
; TSC_CALIBRATIONS measurements. The TSC is read before the gate opens and after OUT2 is seen, so a vCPU the host
; deschedules in between can only make one measurement longer: the least is the right one, and an inflated rate
; (every wait of the guest longer, its tick conversions overflowing DIV) does not survive a loaded host.
TSC_CALIBRATIONS equ 3
tsc_calibrate:
  push ebx
  push ebp
  mov dword [tsc_per_ms], 0xFFFFFFFF
  mov ebp, TSC_CALIBRATIONS
.again:
  in al, 0x61
  and al, 0xFC                          ; gate low, speaker off
  out 0x61, al
  mov al, 0xB0                          ; channel 2, lobyte/hibyte, mode 0
  out 0x43, al
  mov ax, 11932                         ; 10 ms at 1.193182 MHz
  out 0x42, al
  mov al, ah
  out 0x42, al
  rdtsc
  mov esi, eax
  mov edi, edx
  in al, 0x61
  or al, 1                              ; gate high: counting starts
  out 0x61, al
  mov ecx, 100000000                    ; give up after this many polls
.wait:
  in al, 0x61
  test al, 0x20
  jnz .done
  dec ecx
  jnz .wait
  mov dword [tsc_per_ms], 1000000       ; no PIT: assume 1 GHz
  jmp .out
.done:
  rdtsc
  sub eax, esi
  sbb edx, edi
  mov ecx, 10
  cmp edx, ecx                          ; more than 2^32 ms' worth: descheduled for ever, keep the others
  jae .next
  div ecx
  test eax, eax
  jnz .ok
  inc eax
.ok:
  cmp eax, [tsc_per_ms]
  jae .next
  mov [tsc_per_ms], eax
.next:
  dec ebp
  jnz .again
  cmp dword [tsc_per_ms], 0xFFFFFFFF
  jne .out
  mov dword [tsc_per_ms], 1000000
.out:
  pop ebp
  pop ebx
  ret

; eax microseconds -> eax TSC ticks, at most 2^31 - 1: a longer wait (tsc_per_ms * us / 1000 past that, which a rate
; calibrated on a host slow to exit can reach: under nested KVM the guest measured 31 GHz) is clamped, not a divide
; error, and stays below 2^31 so that the waits that count 32-bit TSC deltas (lapis_wait_eq_us, lit_delay_beat) end
; before the delta wraps. Clobbers ecx, edx.
lapis_us_ticks:
  mul dword [tsc_per_ms]
  mov ecx, 1000
  cmp edx, 500                          ; edx:eax >= 500 * 2^32 = 1000 * 2^31: the quotient would be 2^31 or more
  jae .clamp
  div ecx
  ret
.clamp:
  mov eax, 0x7FFFFFFF
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
  mov eax, ebx
  call lapis_us_ticks                   ; eax = ticks (delays up to ~4 s at 1 GHz)
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
  call lapis_us_ticks
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
%ifdef LAPIS_SOFT_IRET
  mov dword [PC_NMI_BLOCKED + ecx * 4], 0 ; INIT ended any NMI blocking (KVM's vCPU reset clears the NMI mask)
%endif
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
