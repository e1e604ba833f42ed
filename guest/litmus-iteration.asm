; The test's iteration loop: one run (guest/litmus.asm). The coordinator's sleeps while it waits: litmus-sleep.asm.
; Included by guest/litmus.asm at this point of it; it is one assembly with it.

; ---- one iteration ---------------------------------------------------------------------------------------------

; INIT the test's APs; start again the ones that do not begin in wait-for-SIPI; wait for P0's reset. Returns
; eax = 0, or 1 + the CPU that did not get ready.
lit_setup:
  mov ebx, 1
.init:
  cmp ebx, LIT_CPUS
  jae .inited
  mov dword [LIT_READY + ebx * 4], 0
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_UNPLUGGED
  je .init_next                         ; an empty slot
  SEND ICR_INIT | ICR_ASSERT, ebx
.init_next:
  inc ebx
  jmp .init
.inited:
  mov eax, LIT_INIT_US
  call lapis_delay_us
  mov ebx, 1
.start:
  cmp ebx, LIT_CPUS
  jae .aps_up
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_UNPLUGGED
  je .next
  mov eax, [lit_cpu_start + ebx * 4]
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_WFS
  jne .entry
  mov eax, lit_ap_checkin               ; (INITed again below, once it runs: see lit_boot)
.entry:
  mov [PC_SIPI_ENTRY + ebx * 4], eax
  mov edi, LIT_SIPI_TRIES
.sipi:
  SEND ICR_STARTUP | ICR_ASSERT | LAPIS_BRINGUP_VECTOR, ebx
  mov esi, LIT_READY
  lea esi, [esi + ebx * 4]
  push ebx
  mov ebx, [lit_iter]
  inc ebx
  mov eax, LIT_READY_US
  call lapis_wait_eq_us
  pop ebx
  test eax, eax
  jnz .next
  dec edi
  jnz .sipi
  lea eax, [ebx + 1]
  ret
.next:
  inc ebx
  jmp .start
.aps_up:
  ; The APs that start in wait-for-SIPI: each INITs itself now that it runs (lit_ap_checkin: QEMU holds an INIT to a
  ; halted CPU, and one sent by another CPU can still be pending when the run starts). All are asked at once (with
  ; many spinning vCPUs on a few host cores, one can wait long for its thread to run); wait until each says it is
  ; about to, then give the INITs time to be taken.
  xor edi, edi
  mov ebx, 1
.ask:
  cmp ebx, LIT_CPUS
  jae .asked
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_WFS
  jne .ask_next
  mov dword [LIT_SELF_INIT + ebx * 4], 1
  inc edi
.ask_next:
  inc ebx
  jmp .ask
.asked:
  mov ebx, 1
.wfs:
  cmp ebx, LIT_CPUS
  jae .wfs_sent
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_WFS
  jne .wfs_next
  mov esi, LIT_SELF_INIT
  lea esi, [esi + ebx * 4]
  push ebx
  mov ebx, 2
  mov eax, LIT_SELF_INIT_US
  call lapis_wait_eq_us
  pop ebx
  mov dword [LIT_SELF_INIT + ebx * 4], 0
  test eax, eax
  jnz .wfs_next
  lea eax, [ebx + 1]                    ; it never got to its INIT: this CPU did not get ready
  ret
.wfs_next:
  inc ebx
  jmp .wfs
.wfs_sent:
  test edi, edi
  jz .no_wfs
  mov eax, LIT_WFS_INIT_US
  call lapis_delay_us
.no_wfs:
  mov ebx, 1                            ; from now on the test's own SIPIs lead to its SIPI code
.sipi_entries:
  cmp ebx, LIT_CPUS
  jae .p0
  mov eax, [lit_cpu_sipi + ebx * 4]
  mov [PC_SIPI_ENTRY + ebx * 4], eax
  inc ebx
  jmp .sipi_entries
.p0:
  cmp byte [lit_cpu_kind], LIT_KIND_PARK
  je .ok
  mov esi, LIT_READY
  mov ebx, [lit_iter]
  inc ebx
  mov eax, LIT_P0_READY_US
  call lapis_wait_eq_us
  test eax, eax
  jz .p0_failed
.ok:
  xor eax, eax
  ret
.p0_failed:
  mov eax, 1
  ret

; Memory words and registers to their initial values; counters and flags to 0.
lit_reset_state:
  cld
  mov esi, lit_mem_init
  mov edi, lit_mem
  mov ecx, LIT_MEM_BYTES / 4
  rep movsd
  mov esi, lit_regs_init
  mov edi, lit_regs
  mov ecx, LIT_REGS_BYTES / 4
  rep movsd
  xor eax, eax
  mov edi, PC_COUNTS
  mov ecx, LIT_CPUS * 256
  rep stosd
  xor ebx, ebx
.cpu:
  mov [PC_SMI_COUNT + ebx * 4], eax
  mov [PC_SIPI_COUNT + ebx * 4], eax
  mov [PC_FAULTS + ebx * 4], eax
  mov [LIT_DONE + ebx * 4], eax
  mov [LIT_SIPI_BUSY + ebx * 4], eax
  mov [LIT_PING + ebx * 4], eax
  mov [LIT_REPORTED + ebx * 4], eax
  mov [LIT_ACT + ebx * 4], eax
  mov [LIT_SIPI_SEQ + ebx * 4], eax
  mov [LIT_INIT_SEQ + ebx * 4], eax
  mov [LIT_SMM_SEQ + ebx * 4], eax
  mov [LIT_IN_SMM + ebx * 4], eax
  mov [LIT_BLOCKED + ebx * 4], eax
  mov [LIT_SIPI_PENDING + ebx * 4], eax
  mov [LIT_HALTED + ebx * 4], eax
  mov [LIT_SHADOW + ebx * 4], eax
  inc ebx
  cmp ebx, LIT_CPUS
  jb .cpu
  xor ebx, ebx
.spares:
  mov [LIT_AGENT_DONE + ebx * 4], eax
  mov [LIT_BLOCKED + (LIT_CPUS + ebx) * 4], eax
  inc ebx
  cmp ebx, LIT_SPARES
  jb .spares
  mov edi, LIT_RVALID
  mov ecx, LIT_CPUS * LIT_SLOTS / 4
  rep stosd
  mov edi, LIT_AWAIT
  mov ecx, (LIT_CPUS + LIT_SPARES) * 4
  rep stosd
  mov dword [lit_seq], 0
  mov dword [lit_drain], 0
%if LIT_NESTED
  call lit_nested_reset
%endif
  ret

; Wait until the run is over: every main block finished or blocked (in an await or a HLT op), every SIPI code
; that started likewise, every agent finished or blocked, and no interrupt-side event (a send, a handler, SMM) for
; LIT_SETTLE_US. At most LIT_ITER_TIMEOUT_US (then `@timeout=1`: something kept running).
lit_wait_end:
  rdtsc
  mov [lit_t0], eax
  mov [lit_t0 + 4], edx
.poll:
  xor ebx, ebx
.cpu:
  cmp ebx, LIT_CPUS
  jae .spares
  mov ecx, LIT_BUSY_SIPI
  cmp dword [LIT_SIPI_PENDING + ebx * 4], 0 ; a SIPI on its way to a CPU in wait-for-SIPI
  jne .busy_at
  cmp dword [LIT_BLOCKED + ebx * 4], 0
  je .running
  call lit_await_holds                  ; blocked in an await whose condition holds: it is about to go on,
  jnc .next
  call lit_await_gone                   ; unless an INIT took it away (QEMU and Bochs do not hold INIT in SMM)
  jnc .await_busy
  mov ecx, ebx
  shl ecx, 4
  mov dword [LIT_AWAIT + ecx], 0
  call lit_parked
  jmp .next
.await_busy:
  mov ecx, LIT_BUSY_AWAIT
  jmp .busy_at
.running:
  cmp dword [LIT_IN_SMM + ebx * 4], 0   ; running SMM code, unless an INIT reset it out of it (lit_smm_check)
  je .not_smm
  call lit_smm_check
  mov ecx, LIT_BUSY_SMM
  cmp dword [LIT_IN_SMM + ebx * 4], 0
  jne .busy_at
  call lit_parked                       ; reset out of SMM into wait-for-SIPI: its main block went with it
  jc .next
.not_smm:
  test byte [lit_cpu_flags + ebx], LIT_F_MAIN
  jz .sipi
  mov ecx, LIT_BUSY_MAIN
  cmp dword [LIT_DONE + ebx * 4], 0
  je .busy_at
.sipi:
  mov ecx, LIT_BUSY_SIPI_CODE
  cmp dword [LIT_SIPI_BUSY + ebx * 4], 0
  jne .busy_at
.next:
  inc ebx
  jmp .cpu
.spares:
  xor ebx, ebx
.spare:
  cmp dword [LIT_AGENT_DONE + ebx * 4], 0
  jne .spare_ok
  mov ecx, LIT_BUSY_AGENT
  cmp dword [LIT_BLOCKED + (LIT_CPUS + ebx) * 4], 0
  je .busy_agent
  push ebx
  add ebx, LIT_CPUS
  call lit_await_holds
  pop ebx
  mov ecx, LIT_BUSY_AGENT_AWAIT
  jc .busy_agent
.spare_ok:
  inc ebx
  cmp ebx, LIT_SPARES
  jb .spare
  call lit_quiet                        ; no event for LIT_SETTLE_US?
  jnc .over
  mov ecx, LIT_BUSY_EVENTS
  mov ebx, 0xff
  jmp .busy_at
.busy_agent:
  add ebx, LIT_CPUS
.busy_at:                               ; what kept the run open, for `@busy` if it times out: ecx = the cause,
  shl ecx, 8                            ; ebx = the CPU (spares after the test's CPUs; 0xff: none)
  or ecx, ebx
  mov [lit_busy], ecx
.busy:
  mov eax, 20
  call lit_sleep_us
  mov eax, LIT_ITER_TIMEOUT_US
  call lit_elapsed                      ; CF clear: more than eax microseconds since lit_t0
  jc .poll
  mov dword [lit_timed_out], 1
  mov eax, LIT_SETTLE_US
  call lit_pause_us
.over:
  ret

; A SIPI of the test is being sent to CPU eax: if the evidence says it waits for a SIPI (it has not reached its
; SIPI code since the last INIT sent to it, or since the start for an AP that starts there), the run is not over
; before it gets there (LIT_SIPI_PENDING, cleared by its SIPI entry). The flag is set first, with a locked store,
; and the evidence read after it: a CPU that reaches its SIPI code from an earlier SIPI meanwhile (this one then
; finds it running and starts nothing) writes LIT_SIPI_SEQ before it clears the flag, so either its new
; LIT_SIPI_SEQ is read below or its clear comes after the store. Keeps every register.
lit_sipi_sent:
  pushad
  cmp eax, LIT_CPUS
  jae .out
  cmp byte [lit_cpu_kind + eax], LIT_KIND_UNPLUGGED
  je .out                               ; an empty slot: the SIPI reaches nobody
%if LIT_NESTED
  call lit_nested_sipi_sent             ; a CPU in VMX operation: its own evidence
  jc .out
%endif
  mov ecx, 1
  xchg [LIT_SIPI_PENDING + eax * 4], ecx
  mov ecx, [LIT_SIPI_SEQ + eax * 4]
  mov edx, [LIT_INIT_SEQ + eax * 4]
  test ecx, ecx
  jnz .seq
  cmp byte [lit_cpu_kind + eax], LIT_KIND_WFS
  je .out
  test edx, edx
  jnz .out
  jmp .running
.seq:
  cmp edx, ecx
  ja .out
.running:
  mov dword [LIT_SIPI_PENDING + eax * 4], 0
.out:
  popad
  ret

; ebx = cpu: CF set when an INIT was sent to it after it began its await and it does not spin there any more: the
; INIT reset it, its await is gone. Clobbers eax, ecx, edx, esi.
lit_await_gone:
  mov eax, [LIT_AWAIT_SEQ + ebx * 4]
  jmp lit_init_took

; ebx = cpu, eax = the event number when it began what it runs (an await, its SMM code): CF set when an INIT was sent
; to it after that and its heartbeat (LIT_BEAT: its awaits, and its waits in SMM code) then stands still for 0.5 ms.
; Clobbers eax, ecx, edx, esi.
lit_init_took:
  cmp [LIT_INIT_SEQ + ebx * 4], eax
  jbe .no
  mov esi, [LIT_BEAT + ebx * 4]
  mov eax, 500
  call lit_pause_us
  cmp esi, [LIT_BEAT + ebx * 4]
  jne .no
  stc
  ret
.no:
  clc
  ret

; ebx = cpu, which an INIT reset (lit_await_gone, lit_smm_check): CF set when it waits for a SIPI now (none reached
; its SIPI code since that INIT, none is on its way): nothing of its code is left to run, so it counts as blocked,
; out of SMM; a SIPI's entry makes it run again. Clobbers eax.
lit_parked:
  cmp dword [LIT_SIPI_PENDING + ebx * 4], 0
  jne .no
  mov eax, [LIT_INIT_SEQ + ebx * 4]
  cmp eax, [LIT_SIPI_SEQ + ebx * 4]
  jbe .no
  mov dword [LIT_BLOCKED + ebx * 4], 1
  mov dword [LIT_IN_SMM + ebx * 4], 0
  stc
  ret
.no:
  clc
  ret

; ebx = APIC ID: CF set when it spins in an await whose condition holds now. Clobbers eax, ecx, edx.
lit_await_holds:
  mov ecx, ebx
  shl ecx, 4
  mov edx, [LIT_AWAIT + ecx]
  test edx, edx
  jz .no
  mov eax, [edx]
  cmp eax, [LIT_AWAIT + ecx + 4]
  jne .ne
  mov eax, [edx + 4]
  cmp eax, [LIT_AWAIT + ecx + 8]
  jne .ne
  cmp dword [LIT_AWAIT + ecx + 12], 1   ; equal
  je .yes
  jmp .no
.ne:
  cmp dword [LIT_AWAIT + ecx + 12], 2
  je .yes
.no:
  clc
  ret
.yes:
  stc
  ret

; eax = microseconds after now: the run stays open at least until then (lit_last_event only moves forward).
; Keeps every register.
lit_event:
  pushad
  call lapis_us_ticks
  mov ebx, eax
  rdtsc
  add eax, ebx
  adc edx, 0
  cmp edx, [lit_last_event + 4]
  jb .out
  ja .store
  cmp eax, [lit_last_event]
  jbe .out
.store:
  mov [lit_last_event], eax
  mov [lit_last_event + 4], edx
.out:
  popad
  ret

; CF set while less than LIT_SETTLE_US passed since lit_last_event (or it is still ahead). Clobbers eax, ecx, edx.
lit_quiet:
  push ebx
  push esi
  mov eax, LIT_SETTLE_US
  call lapis_us_ticks
  xor edx, edx
  add eax, [lit_last_event]
  adc edx, [lit_last_event + 4]
  mov ebx, eax
  mov esi, edx                          ; esi:ebx = the end of the quiet time
  rdtsc
  cmp edx, esi
  jne .cmp
  cmp eax, ebx
.cmp:                                   ; CF = now < end
  pop esi
  pop ebx
  ret

; End of the run: ping every test CPU that may answer, P0 last; infer wait-for-SIPI where the evidence says so.
lit_collect:
  mov ebx, LIT_CPUS - 1
.cpu:
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_PARK
  je .next
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_UNPLUGGED
  jne .present
  mov dword [LIT_ACT + ebx * 4], LIT_ACT_UNPLUGGED ; never hot-added: nothing to ask
  jmp .next
.present:
  call lit_smm_check
  cmp dword [LIT_IN_SMM + ebx * 4], 0
  je .not_smm
  mov dword [LIT_ACT + ebx * 4], LIT_ACT_ACTIVE ; in its SMM code: it cannot take the NMI
  jmp .next
.not_smm:
%if LIT_NESTED
  call lit_nested_collect               ; a CPU in VMX operation: its own evidence (1: done, 2: ping it)
  cmp eax, 1
  je .next
  cmp eax, 2
  je .ping
%endif
  test byte [lit_cpu_flags + ebx], LIT_F_WFSABLE
  jz .ping
  ; No SIPI code reached since the last INIT (or since the start, for an AP that began in wait-for-SIPI):
  ; wait-for-SIPI, without asking.
  mov eax, [LIT_SIPI_SEQ + ebx * 4]
  test eax, eax
  jnz .seq
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_WFS
  je .wfs
  cmp dword [LIT_INIT_SEQ + ebx * 4], 0
  jne .wfs
  jmp .ping
.seq:
  cmp [LIT_INIT_SEQ + ebx * 4], eax
  ja .wfs
.ping:
  mov edi, LIT_PING_TRIES               ; tries while the CPU is about to take an interrupt
.try:
  mov dword [LIT_REPORTED + ebx * 4], 0
  mov eax, 1
  cmp edi, 1
  jne .mark
  mov eax, 2                            ; the last try: answer anyway
.mark:
  mov [LIT_PING + ebx * 4], eax
  SEND ICR_NMI | ICR_ASSERT, ebx
.wait:
  call lit_wait_reported
  test eax, eax
  jnz .next
  cmp dword [LIT_REPORTED + ebx * 4], 2
  jne .silent
  mov eax, 200
  call lapis_delay_us
  dec edi
  jnz .try
  jmp .next
.silent:                                ; no answer in LIT_PING_US: a vCPU the host does not run, or one that cannot
  mov eax, [LIT_PING + ebx * 4]         ; take the NMI (it left wait-for-SIPI: its SIPI code ran). Its values stay
  test eax, eax                         ; unknown, and the ping, when it comes, is not the test's NMI: mark it late
  jz .taken                             ; (lit_nmi_hook), unless the hook has just taken it
  mov ecx, LIT_PING_LATE
  lock cmpxchg [LIT_PING + ebx * 4], ecx
  je .next
.taken:                                 ; taken, its answer not written yet: wait again, a try less
  dec edi
  jnz .wait
  jmp .next
.wfs:
  mov dword [LIT_ACT + ebx * 4], LIT_ACT_WFS
  cmp dword [lit_cpu_report + ebx * 4], 0
  je .next
  call lit_wfs_probe
.next:
  dec ebx
  jns .cpu
%if LIT_SMM
  call lit_smbase_probe_all
%endif
  ret

; ebx = cpu, left in wait-for-SIPI, whose local APIC the test observes: a SIPI of the runtime's own starts it at
; lit_ap_probe, which reads its APIC as the ping would. A SIPI changes nothing in the local APIC (SDM Vol 3A 9.4.4.1
; MP Initialization Example: the AP's APIC keeps the state INIT left); its SIPI count and vector are put back.
; Not reached (its APIC ID was changed): its values stay unknown, the run unreadable. Keeps ebx.
lit_wfs_probe:
  push dword [PC_SIPI_COUNT + ebx * 4]
  push dword [PC_SIPI_VECTOR + ebx * 4]
  mov dword [PC_SIPI_ENTRY + ebx * 4], lit_ap_probe
  mov dword [LIT_REPORTED + ebx * 4], 0
  SEND ICR_STARTUP | ICR_ASSERT | LAPIS_BRINGUP_VECTOR, ebx
  call lit_wait_reported
  pop dword [PC_SIPI_VECTOR + ebx * 4]
  pop dword [PC_SIPI_COUNT + ebx * 4]
  ret

lit_ap_probe:                           ; from ap_entry32, IF = 0: report, then park until the next run's INIT
  call lapis_cpu_id
  mov ebp, eax
  call lit_sync_mode
  mov edx, [lit_cpu_report + ebp * 4]
  call edx
  mov dword [LIT_REPORTED + ebp * 4], 1
  jmp lit_park_ap

; ebx = cpu: wait up to LIT_PING_US for its LIT_REPORTED to be 1; eax non-zero when it was. Keeps ebx.
lit_wait_reported:
  mov esi, LIT_REPORTED
  lea esi, [esi + ebx * 4]
  push ebx
  mov ebx, 1
  mov eax, LIT_PING_US
  call lapis_wait_eq_us
  pop ebx
  ret

; ebx = cpu: clear LIT_IN_SMM when the CPU is not in its SMM code any more although it never executed RSM: an INIT
; reset it out of SMM (QEMU and Bochs do not hold INIT in SMM). Evidence: its SIPI code ran after it entered SMM,
; or an INIT was sent to it after it entered and its SMM code stopped running (the heartbeat of its awaits and
; waits stands still). Clobbers eax, ecx, edx, esi.
lit_smm_check:
  cmp dword [LIT_IN_SMM + ebx * 4], 0
  je .out
  mov eax, [LIT_SIPI_SEQ + ebx * 4]
  cmp eax, [LIT_SMM_SEQ + ebx * 4]
  ja .left
  mov eax, [LIT_SMM_SEQ + ebx * 4]
  call lit_init_took
  jnc .out
.left:
  mov dword [LIT_IN_SMM + ebx * 4], 0
.out:
  ret

; eax = microseconds, ebx = cpu: a `wait` in SMM code, beating LIT_BEAT. Clobbers eax, ecx, edx.
lit_delay_beat:
  push esi
  push edi
  call lapis_us_ticks
  mov esi, eax
  rdtsc
  mov edi, eax
.l:
  inc dword [LIT_BEAT + ebx * 4]
  pause
  rdtsc
  sub eax, edi
  cmp eax, esi
  jb .l
  pop edi
  pop esi
  ret
