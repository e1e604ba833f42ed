; Returning from an NMI handler ends NMI blocking (SDM Vol 3A 7.7.1 "Handling Multiple NMIs"), on every backend:
; with IRETD, and on a kvm_pvm host (LAPIS_SOFT_IRET) through the runtime's real-mode IRET (lapis_soft_iret).
;   1. NMIS_IN_A_ROW self-NMIs one after the other (physical destination = own APIC ID 0: the self shorthand is
;      invalid with NMI delivery, SDM Vol 3A 11.6.1), each awaited: without the unblocking only the first arrives.
;   2. The handler of one more NMI sends another self-NMI and waits 2 ms inside: it is held (blocked, not nested)
;      and taken once the handler returns.
;   3. LAPIS_SOFT_IRET only: see below.
; Expected: in-a-row=NMIS_IN_A_ROW, held-during-handler=1 (nothing arrived while blocked), pending-taken=1,
; nested=0, count=NMIS_IN_A_ROW+2 (+4 with LAPIS_TEST_WINDOW_NMI, phase 3 below).
%define LAPIS_CPUS 1
%ifdef LAPIS_SOFT_IRET
  %define LAPIS_TEST_WINDOW_NMI                ; phase 3
%endif
%ifndef NMIS_IN_A_ROW
  %define NMIS_IN_A_ROW 5
%endif
%include "runtime.asm"

test_main:
  ON_VECTOR 0, 2, on_nmi
  xor ebx, ebx                          ; NMIs that arrived in time
.row:
  SEND ICR_NMI | ICR_ASSERT, 0
  lea ecx, [ebx + 1]
  push ebx
  mov ebx, ecx
  mov esi, COUNT(0, 2)
  mov eax, 200000                       ; 200 ms (KVM's emulator may take a while to deliver)
  call lapis_wait_eq_us
  pop ebx
  test eax, eax
  jz .row_done
  inc ebx
  cmp ebx, NMIS_IN_A_ROW
  jb .row
.row_done:
  REPORT 'in-a-row', ebx
  ; 2: one NMI whose handler sends the next
  mov dword [send_in_handler], 1
  SEND ICR_NMI | ICR_ASSERT, 0
  mov esi, COUNT(0, 2)
  lea ebx, [ebx + 2]
  mov eax, 200000
  call lapis_wait_eq_us
  REPORT 'pending-taken', eax
  REPORT 'held-during-handler', [held]
  REPORT 'nested', [nested]
%ifdef LAPIS_TEST_WINDOW_NMI
  ; 3 (LAPIS_SOFT_IRET only): the runtime sends a self-NMI inside its window, after the real-mode IRET, and spins
  ; there (1: in real mode, 2: in 32-bit code before the IDT is back); it must be taken once, through the window's
  ; handlers (window-rm: the real-mode vector; window-pm: the hybrid table, also reached from real mode)
  mov edi, 1
.window:
  mov ebx, [COUNT(0, 2)]
  add ebx, 2
  mov [lapis_window_nmi], edi
  SEND ICR_NMI | ICR_ASSERT, 0
  mov esi, COUNT(0, 2)
  mov eax, 200000
  call lapis_wait_eq_us
  mov [window_taken + edi * 4], eax
  inc edi
  cmp edi, 2
  jbe .window
  mov eax, 2000
  call lapis_delay_us
  REPORT 'window-taken-rm', [window_taken + 4]
  REPORT 'window-taken-pm', [window_taken + 8]
  REPORT 'window-rm', [lapis_window_rm]
  REPORT 'window-pm', [lapis_window_pm]
  REPORT 'nested', [nested]
%endif
  REPORT 'count', [COUNT(0, 2)]
  LAPIS_END

; eax = cpu, ebx = 2 (after the count)
on_nmi:
  cmp dword [in_handler], 0
  je .first
  mov dword [nested], 1
.first:
  mov dword [in_handler], 1
  cmp dword [send_in_handler], 0
  je .out
  mov dword [send_in_handler], 0
  mov esi, [COUNT(0, 2)]
  SEND ICR_NMI | ICR_ASSERT, 0
  mov eax, 2000
  call lapis_delay_us
  cmp esi, [COUNT(0, 2)]                ; nothing taken while this handler runs
  sete al
  movzx eax, al
  mov [held], eax
.out:
  mov dword [in_handler], 0
  ret

align 4
send_in_handler: dd 0
in_handler: dd 0
nested: dd 0
held: dd 0
window_taken: dd 0, 0, 0
