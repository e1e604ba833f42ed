; The exit round-trip guest of `npm run bench` (bench/vmm.ts): a flat binary at 1 MiB, wrapped in a multiboot ELF
; (src/backends/vmm-image.ts flatElf) and booted the same way by lapis vmm and by QEMU+KVM's in-kernel irqchip.
; It times, on the TSC, N accesses of each kind and prints one line per measurement on COM1:
;   bench: tsc-per-ms=T                     the TSC's rate, from 10 ms of PIT channel 2 (as guest/runtime-cpu.asm)
;   bench: mmio n=N ticks=0xHHHHHHHHLLLLLLLL N reads of the xAPIC TPR (MMIO)
;   bench: ipi n=N ticks=...                N round trips of a fixed IPI to CPU 1 and its reply to CPU 0 (xAPIC;
;                                           CPU 1 spins with IF = 1: the IPI reaches a running vCPU)
;   bench: msr n=N ticks=...                N RDMSRs of the x2APIC TPR (0x808) after switching to x2APIC mode
; then leaves through isa-debug-exit (status 1). Interrupt handlers return with POPFD; RETF (no IRET: KVM's
; emulator on a kvm_pvm host has no protected-mode IRET; docs/conformance.md).

bits 32
org 0x100000

%ifndef N
  %define N 10000
%endif
APIC        equ 0xFEE00000
COM1        equ 0x3F8
TRAMP       equ 0x8000              ; CPU 1's SIPI page (vector 0x08)
STACK0      equ 0x200000
STACK1      equ 0x210000

start:
  cli
  cld
  lgdt [gdt_desc]
  jmp 0x08:.cs
.cs:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov fs, ax
  mov gs, ax
  mov esp, STACK0
  call idt_init
  lidt [idt_desc]
  mov al, 0xFF                      ; mask both 8259s
  out 0x21, al
  out 0xA1, al
  mov dword [APIC + 0xF0], 0x1FF    ; SVR: software enable
  call calibrate
  mov esi, s_tsc
  call puts
  mov eax, [tsc_per_ms]
  call putdec
  call newline

  ; ---- xAPIC MMIO: N reads of TPR
  rdtsc
  mov [t0], eax
  mov [t0 + 4], edx
  mov ecx, N
.mmio:
  mov eax, [APIC + 0x80]
  dec ecx
  jnz .mmio
  mov esi, s_mmio
  call report

  ; ---- IPI round trips with CPU 1
  mov esi, ap_tramp                 ; the real-mode trampoline to the SIPI page
  mov edi, TRAMP
  mov ecx, ap_tramp_end - ap_tramp
  rep movsb
  mov dword [APIC + 0x310], 1 << 24
  mov dword [APIC + 0x300], 0x4500  ; INIT, assert
  mov eax, 10000
  call wait_us
  mov dword [APIC + 0x310], 1 << 24
  mov dword [APIC + 0x300], 0x4608  ; SIPI, vector 0x08
  mov eax, 200
  call wait_us
  mov dword [APIC + 0x310], 1 << 24
  mov dword [APIC + 0x300], 0x4608
.wait_ap:
  pause
  cmp dword [ap_ready], 1
  jne .wait_ap
  sti
  rdtsc
  mov [t0], eax
  mov [t0 + 4], edx
  mov ecx, N
.ipi:
  mov dword [pong], 0
  mov dword [APIC + 0x310], 1 << 24
  mov dword [APIC + 0x300], 0x40    ; fixed, vector 0x40, to APIC ID 1
.wait_pong:
  cmp dword [pong], 0
  je .wait_pong
  dec ecx
  jnz .ipi
  cli
  mov esi, s_ipi
  call report

  ; ---- x2APIC MSR: N RDMSRs of TPR (CPUID.1:ECX[21] must say x2APIC)
  mov eax, 1
  cpuid
  test ecx, 1 << 21
  jz .done
  mov ecx, 0x1B
  rdmsr
  or eax, 0xC00                     ; EN | EXTD
  wrmsr
  rdtsc
  mov [t0], eax
  mov [t0 + 4], edx
  mov ebx, N
.msr:
  mov ecx, 0x808
  rdmsr
  dec ebx
  jnz .msr
  mov esi, s_msr
  call report
.done:
  mov al, 0
  out 0xF4, al                      ; isa-debug-exit: status 1
  hlt
  jmp .done

; ---- CPU 1 ---------------------------------------------------------------------------------------------------
bits 16
ap_tramp:                           ; runs at TRAMP in real mode
  cli
  xor ax, ax
  mov ds, ax
  o32 lgdt [TRAMP + (ap_gdt_desc - ap_tramp)]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp dword 0x08:ap_pm
align 4
ap_gdt_desc:
  dw gdt_end - gdt - 1
  dd gdt
ap_tramp_end:
bits 32
ap_pm:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, STACK1
  lidt [idt_desc]
  mov dword [APIC + 0xF0], 0x1FF
  mov dword [ap_ready], 1
  sti
.spin:
  pause
  jmp .spin

; Vector 0x40 (CPU 1): reply with vector 0x41 to CPU 0, EOI. Vector 0x41 (CPU 0): pong, EOI.
isr_ping:
  mov dword [APIC + 0x310], 0
  mov dword [APIC + 0x300], 0x41
  mov dword [APIC + 0xB0], 0
  jmp soft_iret
isr_pong:
  mov dword [pong], 1
  mov dword [APIC + 0xB0], 0
  jmp soft_iret
isr_other:                          ; anything else: report it and stop (status 3)
  mov esi, s_unexpected
  call puts
  mov al, 1
  out 0xF4, al
  hlt

; [esp] eip, [esp+4] cs, [esp+8] eflags -> eflags, eip, cs; POPFD; RETF.
soft_iret:
  push eax
  mov eax, [esp + 12]
  xchg eax, [esp + 4]
  xchg eax, [esp + 8]
  mov [esp + 12], eax
  pop eax
  popfd
  retf

idt_init:
  mov edi, idt
  mov ecx, 256
.l:
  mov eax, isr_other
  cmp ecx, 256 - 0x40
  jne .n1
  mov eax, isr_ping
.n1:
  cmp ecx, 256 - 0x41
  jne .n2
  mov eax, isr_pong
.n2:
  mov [edi], ax
  mov word [edi + 2], 0x08
  mov word [edi + 4], 0x8E00        ; 32-bit interrupt gate
  shr eax, 16
  mov [edi + 6], ax
  add edi, 8
  loop .l
  ret

; ---- time ----------------------------------------------------------------------------------------------------
calibrate:                          ; tsc_per_ms from 10 ms of PIT channel 2 (gate: port 0x61 bit 0; OUT2: bit 5)
  in al, 0x61
  and al, 0xFC
  out 0x61, al
  mov al, 0xB0
  out 0x43, al
  mov ax, 11932
  out 0x42, al
  mov al, ah
  out 0x42, al
  rdtsc
  mov esi, eax
  mov edi, edx
  in al, 0x61
  or al, 1
  out 0x61, al
.w:
  in al, 0x61
  test al, 0x20
  jz .w
  rdtsc
  sub eax, esi
  sbb edx, edi
  mov ecx, 10
  div ecx
  mov [tsc_per_ms], eax
  ret

wait_us:                            ; eax microseconds
  mul dword [tsc_per_ms]
  mov ecx, 1000
  div ecx
  mov ecx, eax
  rdtsc
  mov esi, eax
.w:
  pause
  rdtsc
  sub eax, esi
  cmp eax, ecx
  jb .w
  ret

; ---- output --------------------------------------------------------------------------------------------------
report:                             ; esi: name; prints "bench: NAME n=N ticks=0x..." with the TSC since t0
  rdtsc
  sub eax, [t0]
  sbb edx, [t0 + 4]
  push eax
  push edx
  call puts
  mov eax, N
  call putdec
  mov esi, s_ticks
  call puts
  pop eax
  call puthex
  pop eax
  call puthex
  call newline
  ret

putc:                               ; al
  push edx
  push eax
  mov dx, COM1 + 5
.w:
  in al, dx
  test al, 0x20
  jz .w
  pop eax
  mov dx, COM1
  out dx, al
  pop edx
  ret
puts:                               ; esi: NUL-terminated
  lodsb
  test al, al
  jz .e
  call putc
  jmp puts
.e:
  ret
newline:
  mov al, 10
  jmp putc
putdec:                             ; eax
  mov ecx, 10
  xor ebx, ebx
.d:
  xor edx, edx
  div ecx
  push edx
  inc ebx
  test eax, eax
  jnz .d
.p:
  pop eax
  add al, '0'
  call putc
  dec ebx
  jnz .p
  ret
puthex:                             ; eax, 8 digits
  mov ecx, 8
.h:
  rol eax, 4
  push eax
  and al, 0x0F
  add al, '0'
  cmp al, '9'
  jbe .o
  add al, 'a' - '9' - 1
.o:
  call putc
  pop eax
  loop .h
  ret

s_tsc: db 'bench: tsc-per-ms=', 0
s_mmio: db 'bench: mmio n=', 0
s_ipi: db 'bench: ipi n=', 0
s_msr: db 'bench: msr n=', 0
s_ticks: db ' ticks=0x', 0
s_unexpected: db 'bench: unexpected interrupt or exception', 10, 0

align 8
gdt:
  dq 0
  dq 0x00CF9A000000FFFF             ; 0x08: 32-bit code, flat
  dq 0x00CF92000000FFFF             ; 0x10: data, flat
gdt_end:
gdt_desc:
  dw gdt_end - gdt - 1
  dd gdt
align 4
tsc_per_ms: dd 0
ap_ready: dd 0
pong: dd 0
t0: dq 0
align 8
idt: times 256 dq 0
idt_desc:
  dw 256 * 8 - 1
  dd idt
