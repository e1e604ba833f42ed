; The coordinator's sleeps while it waits for a run (guest/litmus.asm): HLT, woken by its APIC timer, and the waits
; and clocks built on them. Included by guest/litmus.asm after litmus-iteration.asm; it is one assembly with it.

; ---- the coordinator sleeps while it waits (HLT, woken by its APIC timer), so that its host thread leaves the
; host's cores to the test's CPUs (QEMU TCG runs each vCPU on a host thread) ------------------------------------

LIT_TICK_VECTOR equ 0xFE

; Calibrate the coordinator's APIC timer against the TSC (1 ms at divide-by-1) and make every vector's handler on
; the coordinator an EOI (a broadcast of the test may reach it while it sleeps with IF = 1).
lit_sleep_init:
  call lapis_cpu_id
  shl eax, 10
  mov ecx, 32
.h:
  mov dword [PC_HANDLER + eax + ecx * 4], lit_coord_eoi
  inc ecx
  cmp ecx, 255
  jb .h
  mov dword [PC_HANDLER + eax + LIT_TICK_VECTOR * 4], lit_coord_tick
  APIC_WR APIC_TIMER_DCR, 0xB           ; divide by 1
  APIC_WR APIC_LVT_TIMER, 0x10000 | LIT_TICK_VECTOR
  push esi
  push edi
  mov edi, 0xFFFFFFFF
  mov esi, 3                            ; the least of three: a vCPU descheduled between arming the count and
.measure:                               ; reading it back can only add ticks (as in tsc_calibrate)
  APIC_WR APIC_TIMER_ICR, 0xFFFFFFFF
  mov eax, 1000
  call lapis_delay_us
  APIC_RD APIC_TIMER_CCR
  mov ebx, eax
  APIC_WR APIC_TIMER_ICR, 0
  mov eax, 0xFFFFFFFF
  sub eax, ebx                          ; timer ticks in 1 ms at divide-by-1
  cmp eax, edi
  jae .more
  mov edi, eax
.more:
  dec esi
  jnz .measure
  mov eax, edi
  pop edi
  pop esi
%ifdef LIT_TIMER_WAIT_US
  push eax                              ; a test that arms the APIC timer: its counts are in model ticks, one
  mov ecx, LIT_TIMER_WAIT_US            ; model tick = LIT_TIMER_WAIT_US of guest time = lit_timer_k timer ticks
  mul ecx
  mov ecx, 1000
  div ecx
  test eax, eax
  jnz .k
  inc eax
.k:
  mov [lit_timer_k], eax
  pop eax
%endif
  xor edx, edx
  mov ecx, 1000
  div ecx                               ; timer ticks per microsecond
  test eax, eax
  jnz .ok
  inc eax
.ok:
  mov [lit_timer_per_us], eax
  ret

lit_coord_eoi:
  APIC_WR APIC_EOI, 0
  ret

; The sleep's tick (eax = cpu, ebx = vector; the interrupted EIP above the return address and pushad): an EOI, and
; past the HLT when taken right before it. That happens after an NMI taken between lit_sleep_us's STI and HLT (SDM
; Vol 2B STI: NMIs "may be inhibited" in its shadow, model-specific; QEMU TCG takes them there, decision D-9) while
; the tick came during its handler: the tick is taken after the handler's IRET, and the HLT would then wait for a
; tick that has been. A test's NMI to all but self reaches the coordinator (nmi-others: the boot hung, about one
; run in 1,000 on QEMU).
lit_coord_tick:
  cmp dword [esp + 4 + 32 + 4], lit_sleep_hlt
  jne lit_coord_eoi
  inc dword [esp + 4 + 32 + 4]          ; HLT is one byte
  jmp lit_coord_eoi

; Sleep about eax microseconds (at least one timer interrupt or another interrupt). Clobbers eax, ecx, edx.
lit_sleep_us:
  mul dword [lit_timer_per_us]
  test edx, edx
  jz .arm
  mov eax, 0xFFFFFFFF
.arm:
  push eax
  APIC_WR APIC_LVT_TIMER, LIT_TICK_VECTOR ; one-shot
  pop eax
  mov ecx, APIC_TIMER_ICR
  call lapis_apic_write
  sti
lit_sleep_hlt:
  hlt
  cli
  APIC_WR APIC_TIMER_ICR, 0
  ret

; Wait eax microseconds, sleeping. Clobbers eax, ecx, edx.
lit_pause_us:
  push ebx
  mov ebx, eax
  rdtsc
  mov [lit_t1], eax
  mov [lit_t1 + 4], edx
.l:
  mov eax, 50
  call lit_sleep_us
  mov eax, ebx
  call lit_elapsed1
  jc .l
  pop ebx
  ret

; eax = microseconds: CF set while less than that has passed since lit_t0. Clobbers eax, ecx, edx.
lit_elapsed:
  call lapis_us_ticks
  mov ecx, eax                          ; ticks
  rdtsc
  sub eax, [lit_t0]
  sbb edx, [lit_t0 + 4]
  test edx, edx
  jnz .over
  cmp eax, ecx                          ; CF = eax < ticks
  ret
.over:
  clc
  ret

; The same since lit_t1.
lit_elapsed1:
  call lapis_us_ticks
  mov ecx, eax
  rdtsc
  sub eax, [lit_t1]
  sbb edx, [lit_t1 + 4]
  test edx, edx
  jnz .over
  cmp eax, ecx
  ret
.over:
  clc
  ret
