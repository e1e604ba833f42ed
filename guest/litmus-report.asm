; The run line and the test's state (guest/litmus.asm).
; Included by guest/litmus.asm at this point of it; it is one assembly with it.

; ---- the run line -------------------------------------------------------------------------------------------------

; esi = key, edx:eax = value: ` key=0x...`. Called between LINE_BEGIN and LINE_END. Clobbers eax..edi.
lit_line_hex:
  push edx
  push eax
  mov al, ' '
  out DEBUGCON_PORT, al
  call lapis_puts
  mov esi, lit_str_eq0x
  call lapis_puts
  pop eax
  pop edx
  test edx, edx
  jz .low
  push eax
  mov eax, edx
  xor ecx, ecx                          ; no padding
  call lit_puthex32
  pop eax
  mov ecx, 8                            ; the low half padded to 8 digits
  jmp lit_puthex32
.low:
  xor ecx, ecx
  jmp lit_puthex32

; eax = value, ecx = minimum digits (0: as many as needed, at least 1). Clobbers eax, ecx, edx, edi.
lit_puthex32:
  mov edi, 8
  mov edx, eax
.skip:                                  ; leading zeros beyond the padding
  cmp edi, 1
  je .digits
  cmp edi, ecx
  jbe .digits
  test edx, 0xF0000000
  jnz .digits
  shl edx, 4
  dec edi
  jmp .skip
.digits:
  mov eax, edx
  shr eax, 28
  mov al, [lit_hexdigits + eax]
  out DEBUGCON_PORT, al
  shl edx, 4
  dec edi
  jnz .digits
  ret

; esi = key, edi = string: ` key=string`.
lit_line_str:
  mov al, ' '
  out DEBUGCON_PORT, al
  call lapis_puts
  mov al, '='
  out DEBUGCON_PORT, al
  mov esi, edi
  jmp lapis_puts

; esi = key, ebx = cpu * LIT_SLOTS + slot.
lit_line_rval:
  cmp byte [LIT_RVALID + ebx], 0
  je .unknown
  mov eax, [LIT_RVAL + ebx * 8]
  mov edx, [LIT_RVAL + ebx * 8 + 4]
  jmp lit_line_hex
.unknown:
  mov edi, lit_str_unknown
  jmp lit_line_str

; esi = key, ebx = cpu * LIT_SLOTS + slot holding IA32_APIC_BASE.
lit_line_mode:
  cmp byte [LIT_RVALID + ebx], 0
  je .unknown
  mov eax, [LIT_RVAL + ebx * 8]
  mov edi, lit_str_disabled
  test eax, 0x800
  jz .out
  mov edi, lit_str_xapic
  test eax, 0x400
  jz .out
  mov edi, lit_str_x2apic
.out:
  jmp lit_line_str
.unknown:
  mov edi, lit_str_unknown
  jmp lit_line_str

; esi = key, ebx = cpu.
lit_line_act:
  mov eax, [LIT_ACT + ebx * 4]
  mov edi, [lit_act_names + eax * 4]
  jmp lit_line_str

; esi = key, ebx = cpu.
lit_line_smm:
  cmp dword [LIT_IN_SMM + ebx * 4], 0
  jne .one
  cmp dword [LIT_REPORTED + ebx * 4], 1
  je .zero
  cmp dword [LIT_ACT + ebx * 4], LIT_ACT_WFS
  je .zero
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_PARK
  je .zero
  mov edi, lit_str_unknown
  jmp lit_line_str
.zero:
  xor eax, eax
  xor edx, edx
  jmp lit_line_hex
.one:
  mov eax, 1
  xor edx, edx
  jmp lit_line_hex

; The extra keys of a run line: `@timeout=1` when the run reached LIT_ITER_TIMEOUT_US (something waited for ever),
; with `@busy=0xCCNN`: the last thing that kept it open, cause CC (LIT_BUSY_*) of CPU NN (spares after the test's
; CPUs; 0xff: no CPU, events kept coming).
lit_line_meta:
  cmp dword [lit_timed_out], 0
  je .eip
  mov esi, lit_str_timeout
  mov eax, 1
  xor edx, edx
  call lit_line_hex
  mov esi, lit_str_busy
  mov eax, [lit_busy]
  xor edx, edx
  call lit_line_hex
.eip:
%ifdef LIT_DEBUG
  xor ebx, ebx
.l:
  mov eax, ebx
  add al, '0'
  mov [lit_str_eip + 4], al
  mov esi, lit_str_eip
  mov eax, [LIT_EIP + ebx * 4]
  xor edx, edx
  push ebx
  call lit_line_hex
  pop ebx
  inc ebx
  cmp ebx, LIT_CPUS
  jb .l
%endif
  ret
lit_str_eip: db '@eipN', 0

lit_hexdigits: db '0123456789abcdef'
lit_str_eq0x: db '=0x', 0
lit_str_unknown: db '?', 0
lit_str_active: db 'active', 0
lit_str_halted: db 'halted', 0
lit_str_wfs: db 'wait-for-sipi', 0
lit_str_xapic: db 'xapic', 0
lit_str_x2apic: db 'x2apic', 0
lit_str_disabled: db 'disabled', 0
lit_str_unplugged: db 'unplugged', 0
lit_str_timeout: db '@timeout', 0
lit_str_busy: db '@busy', 0
align 4
lit_act_names: dd lit_str_unknown, lit_str_active, lit_str_halted, lit_str_wfs, lit_str_unplugged

; ---- state ----------------------------------------------------------------------------------------------------
align 4
lit_iter: dd 0                          ; the run in progress, from 0
lit_go: dd 0                            ; lit_iter + 1 once the run's CPUs may start
lit_seq: dd 0                           ; event numbers for LIT_SIPI_SEQ / LIT_INIT_SEQ
lit_drain: dd 0                         ; 1: the test's handlers do not run (P0's reset)
lit_p0_release: dd 0                    ; 1: the run is printed, P0 may reset
lit_timed_out: dd 0
lit_busy: dd 0                          ; LIT_BUSY_* << 8 | CPU: what kept the run open last
lit_tsc0: dq 0                          ; TSC when the run's CPUs were released (the model's TSC 0)
lit_t0: dq 0
lit_t1: dq 0
lit_last_event: dq 0                    ; TSC of the last interrupt-side event (LIT_EVENT)
lit_timer_per_us: dd 1
lit_timer_k: dd 1                       ; APIC timer ticks (divide-by-1) per model tick (LIT_TIMER_WAIT_US)
lit_zero: dq 0                          ; an agent register of an agent without a block

%if LIT_IOAPIC || LIT_MSI
%include "ioapic.asm"
%endif
%if LIT_NESTED
%include "nested.asm"
%endif
