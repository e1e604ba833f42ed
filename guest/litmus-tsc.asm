; The model's TSC in the guest (docs/conformance.md, "The APIC timer"): the model's TSC is 0 when a run's CPUs are
; released (lit_tsc0, the machine's TSC then) and counts model ticks of ebx microseconds. `rdtsc` reads it, and
; IA32_TSC_DEADLINE is converted both ways at the same scale. Needs lit_tsc0 and lapis_us_ticks (runtime-cpu.asm).

; `rdtsc`: ebx = microseconds a model tick lasts -> edx:eax = model ticks (the model's TSC at timer-ratio 1) since
; the run began. Keeps ebx..ebp.
lit_rdtsc:
  push ecx
  mov eax, ebx
  call lapis_us_ticks                   ; TSC ticks a model tick
  mov ecx, eax
  rdtsc
  sub eax, [lit_tsc0]
  sbb edx, [lit_tsc0 + 4]
  div ecx                               ; (edx < ecx while a run lasts less than 2^32 model ticks)
  xor edx, edx
  pop ecx
  ret

; `wrmsr IA32_TSC_DEADLINE`: edx:eax = a deadline in model ticks, ebx = microseconds a model tick lasts -> edx:eax =
; the machine's TSC at that tick of the run (lit_tsc0 + ticks x TSC ticks a model tick), the inverse of lit_rdtsc.
; 0 stays 0: it disarms the timer (SDM Vol 3A 11.5.4.1 TSC-Deadline Mode). Keeps ebx..ebp.
lit_deadline_tsc:
  mov ecx, eax
  or ecx, edx
  jz .zero
  push esi
  push edi
  mov esi, eax
  mov edi, edx
  mov eax, ebx
  call lapis_us_ticks                   ; TSC ticks a model tick
  mov ecx, eax
  mov eax, edi
  mul ecx
  mov edi, eax                          ; high x k (below 2^32: the compiler keeps deadlines under 2^32 ticks)
  mov eax, esi
  mul ecx
  add edx, edi
  add eax, [lit_tsc0]
  adc edx, [lit_tsc0 + 4]
  pop edi
  pop esi
.zero:
  ret

; `rdmsr IA32_TSC_DEADLINE`: edx:eax = the machine's deadline, ebx = microseconds a model tick lasts -> edx:eax = model
; ticks since the run began, rounded up (a deadline lit_deadline_tsc wrote reads back as written); 0 (disarmed) stays
; 0. Keeps ebx..ebp.
lit_tsc_deadline:
  mov ecx, eax
  or ecx, edx
  jz .zero
  push esi
  push edi
  sub eax, [lit_tsc0]
  sbb edx, [lit_tsc0 + 4]
  jc .wild                              ; before the run began: no write of this run's (never compiled)
  mov esi, eax
  mov edi, edx
  mov eax, ebx
  call lapis_us_ticks
  mov ecx, eax
  cmp edi, ecx
  jae .wild                             ; 2^32 model ticks or more: the compiler writes none
  mov eax, esi
  mov edx, edi
  div ecx
  test edx, edx
  jz .exact
  inc eax
.exact:
  xor edx, edx
  jmp .done
.wild:
  mov eax, 0xFFFFFFFF                   ; a value no compiled write makes: read as such, not a divide error
  xor edx, edx
.done:
  pop edi
  pop esi
.zero:
  ret
