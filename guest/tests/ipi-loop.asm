; A 2-CPU message-passing IPI test that loops ITERATIONS times in one boot (the runs-per-second benchmark).
; Each iteration: P0 { store x = 1; send fixed 0x41 -> P1 }, P1 on vector 0x41 { load r0 = x; eoi }.
; Reports `lapis: run=I P1:r0=V P1:count=C` per iteration (expected: r0=1, count=I+1), then `lapis: end`.
%define LAPIS_CPUS 2
%define LAPIS_ACTIVE_APS 0b10
%ifndef ITERATIONS
  %define ITERATIONS 1000
%endif
%include "runtime.asm"

test_main:
  ON_VECTOR 1, 0x41, p1_on_41
  mov dword [lapis_go], 1               ; P1 has no main: it idles with IF=1
  xor edi, edi
.iter:
  mov dword [x], 0
  mov dword [r0], 0xFFFFFFFF
  mov dword [done], 0
  mov dword [x], 1                      ; P0's program
  SEND ICR_FIXED | ICR_ASSERT | 0x41, 1
  mov esi, done                         ; P1's handler ran (or 100 ms passed: r0 stays 0xFFFFFFFF)
  mov ebx, 1
  mov eax, 100000
  call lapis_wait_eq_us
  LINE_BEGIN
  LINE_KV 'run', edi
  LINE_KV 'P1:r0', [r0]
  LINE_KV 'P1:count', [COUNT(1, 0x41)]
  LINE_END
  inc edi
  cmp edi, ITERATIONS
  jb .iter
  LAPIS_END

p1_on_41:                               ; eax = cpu, ebx = vector
  mov eax, [x]
  mov [r0], eax
  APIC_WR APIC_EOI, 0
  mov dword [done], 1
  ret

align 4
x: dd 0
r0: dd 0
done: dd 0
