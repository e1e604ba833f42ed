; lapis: support for guests compiled from litmus tests (src/backends/compile.ts; docs/conformance.md, "Compiled
; litmus guests"). A compiled guest defines the LIT_* settings and tables below, includes runtime.asm and then
; this file, and defines the test's code. This file is the part that is the same for every test:
;
;   - the iteration loop, run by a spare CPU, the coordinator (APIC ID LIT_CPUS): per iteration it INITs the test's
;     APs and starts them again (INIT, then the runtime's bring-up SIPI), waits for P0 to reset itself, resets the
;     test's memory words, registers and counters, releases every CPU at once (`lit_go`), plays agent D-first, waits
;     until the test is over, pings every CPU that can answer with an NMI (the end-of-test IPI: the CPU reads the
;     APIC state the test observes, says whether it was halted, and stops), and prints one `lapis: run=I ...` line;
;   - P0's reset (the BSP cannot be INITed: INIT sends it to the firmware), after its ping: EOI until ISR is clear,
;     let held IRR bits drain with the test's handlers off, registers back to an OS's values;
;   - an SMM entry that goes to 32-bit protected mode, runs the test's `on smi` code and returns with RSM;
;   - 64-bit helpers for the test's registers and the hexadecimal result printer.
;
; Settings the compiled guest defines (before including runtime.asm):
;   LIT_CPUS            the test's CPUs P0..P(n-1) (APIC IDs 0..n-1); LAPIS_CPUS = LIT_CPUS + LIT_SPARES
;   LIT_SPARES          spare CPUs: the coordinator (it also plays the first agent) and one per further agent
;   LIT_SMM             1: install the SMM entry at the default SMBASE (0x30000 + 0x8000)
;   ITERATIONS          test runs in this boot
;   LIT_ITER_TIMEOUT_US how long a run may take before its CPUs are pinged anyway (an await that never holds)
;   LIT_SETTLE_US       quiet time after every program finished, for IPIs still on their way
; Tables it defines (one entry per test CPU unless said):
;   lit_cpu_kind   db  LIT_KIND_*          lit_cpu_flags db LIT_F_*
;   lit_cpu_start  dd  code that sets the CPU up after its bring-up SIPI (P0: after its reset) and waits for go
;   lit_cpu_sipi   dd  where the test's own SIPIs lead (its `on sipi` code, or an idle loop)
;   lit_cpu_report dd  code that reads the APIC observables of the CPU into LIT_RVAL (0: none)
;   lit_agent_body dd  per spare: the agent it plays (0: none)
;   lit_sipi_pages db  SIPI vectors whose page gets the trampoline, 0-terminated
;   lit_mem / lit_mem_init (LIT_MEM_BYTES), lit_regs / lit_regs_init (LIT_REGS_BYTES): shared words and registers
;   lit_print_run      prints the run line; lit_install        registers the test's handlers

; LIT_KIND_* (lit_cpu_kind), LIT_F_* (lit_cpu_flags), LIT_SLOTS (report slots per CPU), LIT_REGS (registers per
; process) and LIT_SMBASE_DEFAULT are defined by the compiled guest from src/backends/guest-abi.ts, the one place
; the compiler and this file share them.

; What kept a run open when it reached LIT_ITER_TIMEOUT_US (`@busy`; src/backends/conform.ts BUSY_CAUSES names them)
LIT_BUSY_SIPI       equ 1             ; a SIPI of the test on its way: the CPU has not reached its SIPI code
LIT_BUSY_AWAIT      equ 2             ; blocked in an await whose condition holds: about to go on
LIT_BUSY_SMM        equ 3             ; inside its SMM code
LIT_BUSY_MAIN       equ 4             ; its main block has not finished
LIT_BUSY_SIPI_CODE  equ 5             ; its `on sipi` code has not finished
LIT_BUSY_AGENT      equ 6             ; an agent has not finished
LIT_BUSY_AGENT_AWAIT equ 7            ; an agent blocked in an await whose condition holds
LIT_BUSY_EVENTS     equ 8             ; every program done, but interrupt-side events kept coming

LIT_ACT_UNKNOWN equ 0
LIT_ACT_ACTIVE  equ 1
LIT_ACT_HALTED  equ 2
LIT_ACT_WFS     equ 3

LIT_BASE        equ PERCPU_BASE + PERCPU_SIZE  ; 0x1C0000, below the stacks
LIT_READY       equ LIT_BASE + 0x0000 ; dword[cpu]: iteration + 1 once it waits for go; -1: P0's reset failed
LIT_DONE        equ LIT_BASE + 0x0100 ; dword[cpu]: its main block finished (Pn.done)
LIT_SIPI_BUSY   equ LIT_BASE + 0x0200 ; dword[cpu]: running its `on sipi` code
LIT_PING        equ LIT_BASE + 0x0300 ; dword[cpu]: 1 the next NMI is the end-of-test ping, 2 the same, answer even if busy
LIT_REPORTED    equ LIT_BASE + 0x0400 ; dword[cpu]: 1 answered the ping, 2 busy (an interrupt was about to be taken)
LIT_ACT         equ LIT_BASE + 0x0500 ; dword[cpu]: LIT_ACT_* as found at the end
LIT_IN_SMM      equ LIT_BASE + 0x0600 ; dword[cpu]: inside the SMM entry (between SMI and RSM)
LIT_SMM_BODY    equ LIT_BASE + 0x0700 ; dword[cpu]: the test's `on smi` code (0: RSM at once)
LIT_SIPI_SEQ    equ LIT_BASE + 0x0800 ; dword[cpu]: event number when it last entered its SIPI code (0: never)
LIT_INIT_SEQ    equ LIT_BASE + 0x0900 ; dword[cpu]: event number when an INIT was last sent to it (0: never)
LIT_AGENT_DONE  equ LIT_BASE + 0x0A00 ; dword[spare]: its agent finished
LIT_BLOCKED     equ LIT_BASE + 0x0B00 ; dword[APIC ID]: waiting in an await or a HLT op (0 while a handler runs)
LIT_SMM_SEQ     equ LIT_BASE + 0x0C00 ; dword[cpu]: event number when it last entered SMM
LIT_BEAT        equ LIT_BASE + 0x0D00 ; dword[cpu]: goes up while its SMM code waits in an await
LIT_EIP         equ LIT_BASE + 0x0E00 ; dword[cpu]: where the ping found it (LIT_DEBUG prints it)
LIT_SIPI_PENDING equ LIT_BASE + 0x1000 ; dword[cpu]: a SIPI was sent to it while the evidence says it waits for one
LIT_AWAIT       equ LIT_BASE + 0x0F00 ; 4 dwords[APIC ID]: the await it spins in: address (0: none), value lo, hi,
                                      ; 1 for ==, 2 for != (the coordinator does not end a run on a true one)
LIT_RVAL        equ LIT_BASE + 0x1400 ; qword[cpu * LIT_SLOTS + slot]: what the CPU read for its report
LIT_RVALID      equ LIT_BASE + 0x5400 ; byte[cpu * LIT_SLOTS + slot]: 1 when that read worked
LIT_SMM_CMD     equ LIT_BASE + 0x6000 ; dword[cpu]: the runtime's own SMI to it: 1 set SMBASE to LIT_SMM_ARG, 2 probe
LIT_SMM_ARG     equ LIT_BASE + 0x6100 ; dword[cpu]: the SMBASE command 1 writes
LIT_SMBASE_NOW  equ LIT_BASE + 0x6200 ; dword[cpu]: SMBASE at its last SMM entry (CS base: the CPU's own SMBASE)
LIT_SMBASE_FLD  equ LIT_BASE + 0x6300 ; dword[cpu]: address of the save-state SMBASE field at its last entry (0: none)
LIT_SMBASE_OK   equ LIT_BASE + 0x6400 ; dword[cpu]: LIT_SMBASE_NOW was seen this run (the probe or an entry)
LIT_HALTED      equ LIT_BASE + 0x6500 ; dword[cpu]: in a HLT (set just before it, cleared after it and while a
                                      ; handler or SMM runs): what `await Pk.activity == halted` spins on
LIT_SHADOW      equ LIT_BASE + 0x6600 ; dword[cpu]: NMIs its `on nmi` block found taken in an STI or MOV SS shadow
                                      ; (the interrupted EIP is one the compiler listed: `Pn.in-shadow(nmi)`)
LIT_SIZE        equ 0x6800
LIT_SMM_STACKS  equ 0x310000          ; CPU i's SMM stack top: LIT_SMM_STACKS + (i + 1) * 0x1000

LIT_COORD       equ LIT_CPUS          ; the coordinator's APIC ID

%ifndef LIT_IOAPIC
  %define LIT_IOAPIC 0                ; 1: the test uses the I/O APIC (guest/ioapic.asm; tables lit_irq_lines,
%endif                                ; lit_ioapic_pins, lit_ioapic_init)
%ifndef LIT_MSI
  %define LIT_MSI 0                   ; 1: the test sends device MSIs (the edu device)
%endif
%ifndef LIT_NESTED
  %define LIT_NESTED 0                ; 1: an L1 on VMX, 2: on SVM (guest/nested.asm)
%endif
%ifndef LIT_SMI_US
  %define LIT_SMI_US 200000           ; the runtime's own SMI (SMBASE setup, probe) to be taken: long, so that a
%endif                                ; retry never doubles an SMI that was only slow (a busy host)
%ifndef LIT_INIT_US
  %define LIT_INIT_US 100             ; after INIT, before the bring-up SIPI
%endif
%ifndef LIT_WFS_INIT_US
  %define LIT_WFS_INIT_US 1000        ; after the INIT that leaves an AP in wait-for-SIPI for a run
%endif
%ifndef LIT_READY_US
  %define LIT_READY_US 20000          ; per bring-up SIPI, before another one is sent (a SIPI QEMU still holds
                                      ; through the next INIT would start the AP again: send few)
%endif
%ifndef LIT_SIPI_TRIES
  %define LIT_SIPI_TRIES 5
%endif
%ifndef LIT_P0_READY_US
  %define LIT_P0_READY_US 500000      ; P0's reset
%endif
%ifndef LIT_SIPI_SETTLE_US
  %define LIT_SIPI_SETTLE_US 3000     ; quiet time after a SIPI or INIT is sent
%endif
%ifndef LIT_PING_TRIES
  %define LIT_PING_TRIES 8            ; pings while the CPU is taking an interrupt (200 us apart; the last: answer)
%endif
%ifndef LIT_PING_US
  %define LIT_PING_US 20000           ; an answer to the end-of-test NMI
%endif

; ---- macros the compiled code uses ----------------------------------------------------------------------------

; LIT_SEND cpu, icr_lo, dest: `send` on CPU `cpu` (its APIC ID, a constant): xAPIC: ICR_HI then ICR_LO with
; interrupts off (one step, as the model's), then wait for the delivery status to go idle; x2APIC: one WRMSR to
; the ICR (0x830), whose #GP (reserved bits) counts in Pn.faults and skips the send. Clobbers eax, ecx, edx.
%macro LIT_SEND 3
%if ((%2) & 0x700) == 0x500 || ((%2) & 0x700) == 0x600 || ((%2) & 0x700) == 0x400 || ((%2) & 0x700) == 0x200
  LIT_EVENT_LONG
%else
  LIT_EVENT
%endif
  mov eax, %2
  mov edx, %3
  cmp dword [PC_X2APIC + (%1) * 4], 0
  jne %%x2
  call lit_send_xapic
  jmp %%done
%%x2:
  mov ecx, X2APIC_MSR + (APIC_ICR_LO >> 4)
  mov dword [PC_FIXUP + (%1) * 4], %%done
  wrmsr
  mov dword [PC_FIXUP + (%1) * 4], 0
%%done:
%endmacro

; LIT_EVENT: record the time of an interrupt-side event (a send, a handler's or SMM's entry or exit): the run is
; over only once LIT_SETTLE_US passed without one. Clobbers eax, edx.
%macro LIT_EVENT 0
  push eax
  xor eax, eax
  call lit_event
  pop eax
%endmacro
; LIT_EVENT_LONG: the same for a SIPI, INIT, NMI or SMI sent: the target's way to its SIPI code (real mode, the
; trampoline) may take longer, and an NMI still on its way when the end-of-test NMI comes would merge with it; the
; run stays open LIT_SIPI_SETTLE_US after it.
%macro LIT_EVENT_LONG 0
  push eax
  mov eax, LIT_SIPI_SETTLE_US
  call lit_event
  pop eax
%endmacro

; LIT_INIT_SENT cpu: record that an INIT is being sent to Pcpu (for the wait-for-SIPI inference). Clobbers eax.
%macro LIT_INIT_SENT 1
  mov eax, 1
  lock xadd [lit_seq], eax
  inc eax
  mov [LIT_INIT_SEQ + (%1) * 4], eax
%endmacro

; LIT_KV "name", address: ` name=0x...` for a qword in memory. LIT_KV32: for a dword.
%macro LIT_KV 2
  mov esi, %%key
  mov eax, [%2]
  mov edx, [%2 + 4]
  call lit_line_hex
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro
%macro LIT_KV32 2
  mov esi, %%key
  mov eax, [%2]
  xor edx, edx
  call lit_line_hex
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro
; LIT_KV_RVAL "name", cpu, slot: a value Pcpu read for its report, or `?` when it could not (no answer, a #GP).
%macro LIT_KV_RVAL 3
  mov esi, %%key
  mov ebx, (%2) * LIT_SLOTS + (%3)
  call lit_line_rval
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro
; LIT_KV_ACT "name", cpu: Pcpu's activity (active, halted, wait-for-sipi; `?` when nothing says).
%macro LIT_KV_ACT 2
  mov esi, %%key
  mov ebx, %2
  call lit_line_act
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro
; LIT_KV_SMM "name", cpu: 0 when Pcpu answered the ping (an NMI is not taken in SMM) or waits for a SIPI, 1 when
; it is inside its SMM code, `?` otherwise.
%macro LIT_KV_SMM 2
  mov esi, %%key
  mov ebx, %2
  call lit_line_smm
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro
; LIT_KV_MODE "name", cpu, slot: the APIC mode from IA32_APIC_BASE as Pcpu read it.
%macro LIT_KV_MODE 3
  mov esi, %%key
  mov ebx, (%2) * LIT_SLOTS + (%3)
  call lit_line_mode
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro

; LIT_KV_SMBASE "name", cpu: Pcpu's SMBASE as its SMM entry showed it (in SMM at the end, or the probe).
%macro LIT_KV_SMBASE 2
  mov esi, %%key
  mov ebx, %2
  call lit_line_smbase
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro

; LIT_KV_RIRR "name", pin: Remote IRR (bit 14) of redirection entry `pin`, read by the coordinator.
%macro LIT_KV_RIRR 2
  mov eax, 0x10 + (%2) * 2
  call lit_ioapic_read
  shr eax, 14
  and eax, 1
  xor edx, edx
  mov esi, %%key
  call lit_line_hex
  jmp %%over
%%key: db %1, 0
%%over:
%endmacro

; LIT_RD_APIC cpu, slot, reg: (in a report routine) read APIC register `reg` in the CPU's mode into its slot.
%macro LIT_RD_APIC 3
  mov ecx, %3
  mov dword [PC_FIXUP + (%1) * 4], %%done
  call lapis_apic_read
  mov dword [PC_FIXUP + (%1) * 4], 0
  mov [LIT_RVAL + ((%1) * LIT_SLOTS + (%2)) * 8], eax
  mov dword [LIT_RVAL + ((%1) * LIT_SLOTS + (%2)) * 8 + 4], 0
  mov byte [LIT_RVALID + (%1) * LIT_SLOTS + (%2)], 1
%%done:
%endmacro
; LIT_RD_BIT cpu, slot, reg, bit: one bit of an APIC register (IRR/ISR/TMR), 0 or 1.
%macro LIT_RD_BIT 4
  mov ecx, %3
  mov dword [PC_FIXUP + (%1) * 4], %%done
  call lapis_apic_read
  mov dword [PC_FIXUP + (%1) * 4], 0
  shr eax, %4
  and eax, 1
  mov [LIT_RVAL + ((%1) * LIT_SLOTS + (%2)) * 8], eax
  mov dword [LIT_RVAL + ((%1) * LIT_SLOTS + (%2)) * 8 + 4], 0
  mov byte [LIT_RVALID + (%1) * LIT_SLOTS + (%2)], 1
%%done:
%endmacro
; LIT_RD_BASE cpu, slot: IA32_APIC_BASE.
%macro LIT_RD_BASE 2
  mov ecx, MSR_APIC_BASE
  rdmsr
  mov [LIT_RVAL + ((%1) * LIT_SLOTS + (%2)) * 8], eax
  mov [LIT_RVAL + ((%1) * LIT_SLOTS + (%2)) * 8 + 4], edx
  mov byte [LIT_RVALID + (%1) * LIT_SLOTS + (%2)], 1
%endmacro

; ---- boot: the BSP, from test_main -----------------------------------------------------------------------------

; Set everything up, start the spares (the coordinator last) and become P0. Never returns.
lit_boot:
  cld
  mov edi, LIT_BASE
  mov ecx, LIT_SIZE / 4
  xor eax, eax
  rep stosd
  mov esi, lit_sipi_pages               ; the SIPI trampoline on every page a SIPI of the test names, and on
.pages:                                 ; the runtime's bring-up page
  movzx eax, byte [esi]
  test eax, eax
  jz .pages_done
  call lapis_install_trampoline
  inc esi
  jmp .pages
.pages_done:
  mov eax, LAPIS_BRINGUP_VECTOR
  call lapis_install_trampoline
%if LIT_SMM
  mov ebx, lit_smbases                  ; the SMM entry at SMBASE + 0x8000 of every SMBASE the test can reach (the
.smbases:                               ; default 0x30000, the test's `smbase =` values, the runtime's own tiles)
  mov edi, [ebx]
  test edi, edi
  jz .smbases_done
  add edi, SMM_HANDLER_OFF
  mov esi, lit_smm_entry16
  mov ecx, lit_smm_entry16_end - lit_smm_entry16
  rep movsb
  add ebx, 4
  jmp .smbases
.smbases_done:
%endif
  mov dword [lapis_nmi_hook], lit_nmi_hook
  call lit_install                      ; the test's handlers
%if LIT_NESTED
  call lit_nested_boot                  ; the L1 hypervisor (guest/nested.asm)
%endif
%if LIT_IOAPIC || LIT_MSI
  call lit_ioapic_boot                  ; the test's lines low, every redirection entry masked
%endif
%if LIT_MSI
  call lit_msi_boot                     ; the edu device: its BAR and MSI capability
%endif
  xor ebx, ebx                          ; every other vector of a test CPU: a handler that records the event
.cpus:
  mov eax, ebx
  shl eax, 10
  mov ecx, 2
.vec:
  cmp dword [PC_HANDLER + eax + ecx * 4], 0
  jne .has
  mov dword [PC_HANDLER + eax + ecx * 4], lit_default_handler
.has:
  inc ecx
  cmp ecx, 3
  jne .not3
  mov ecx, 32
.not3:
  cmp ecx, 256
  jb .vec
  inc ebx
  cmp ebx, LIT_CPUS
  jb .cpus
  ; Every test AP once into lit_park_ap, a spin loop: QEMU does not act on an INIT while a CPU is halted (the
  ; firmware leaves APs in HLT), so the first run's INIT would wait there and later drop whatever woke it.
  mov ebx, 1
.ap:
  cmp ebx, LIT_CPUS
  jae .aps_parked
  mov dword [PC_SIPI_ENTRY + ebx * 4], lit_ap_first
  mov edx, ebx
  call lit_start_cpu
  inc ebx
  jmp .ap
.aps_parked:
  mov ebx, LIT_SPARES - 1               ; spares, the coordinator (index 0) last
.spare:
  lea edx, [ebx + LIT_CPUS]
  mov eax, lit_spare_entry
  test ebx, ebx
  jnz .entry
  mov eax, lit_coord_entry
.entry:
  mov [PC_SIPI_ENTRY + edx * 4], eax
  call lit_start_cpu
  dec ebx
  jns .spare
  cmp byte [lit_cpu_kind], LIT_KIND_PARK
  je lit_park
  jmp lit_p0_entry

; Start CPU edx at its PC_SIPI_ENTRY with the runtime's SIPI, a second SIPI 500 us later if it is not online yet
; (SDM Vol 3A 9.4.4.1: a second SIPI in case the first was not taken), then wait until it is online. Keeps ebx.
lit_start_cpu:
  push ebx
  push edx
  SEND ICR_STARTUP | ICR_ASSERT | LAPIS_BRINGUP_VECTOR, edx
  mov eax, 500
  call lapis_delay_us
  pop edx
  push edx
  cmp dword [PC_ONLINE + edx * 4], 0
  jne .up
  SEND ICR_STARTUP | ICR_ASSERT | LAPIS_BRINGUP_VECTOR, edx
.up:
  pop edx
  pop ebx
  AWAIT_EQ [PC_ONLINE + edx * 4], 1
  ret

; ---- spares ----------------------------------------------------------------------------------------------------

lit_spare_entry:                        ; from ap_entry32: ecx = APIC ID
  call apic_enable_this_cpu
  call lapis_cpu_id
  mov ebx, eax
  mov dword [PC_ONLINE + ebx * 4], 1
  sub ebx, LIT_CPUS                     ; spare index
  xor esi, esi                          ; the last go seen
.wait:
  mov eax, [lit_go]
  cmp eax, esi
  jne .run
  pause
  jmp .wait
.run:
  mov esi, eax
  mov eax, [lit_agent_body + ebx * 4]
  test eax, eax
  jz .done
  pushad
  call eax
  popad
.done:
  mov dword [LIT_AGENT_DONE + ebx * 4], 1
  jmp .wait

lit_coord_entry:
  call apic_enable_this_cpu
  call lit_sleep_init
  call lapis_cpu_id
  mov dword [PC_ONLINE + eax * 4], 1
  REPORT 'iterations', ITERATIONS
.iter:
  call lapis_watchdog_rearm
  call lit_setup
  test eax, eax
  jnz .setup_failed
%if LIT_IOAPIC || LIT_MSI
  call lit_ioapic_program               ; the test's `init` redirection entries
%endif
%if LIT_SMM
  call lit_smbase_setup                 ; every SMI target's SMBASE as the run starts it
%endif
  call lit_reset_state
  mov dword [lit_timed_out], 0
  mov dword [lit_busy], 0
  LIT_EVENT
  mov eax, [lit_iter]
  inc eax
  push eax
  rdtsc
  mov [lit_tsc0], eax                   ; the model's TSC 0 (lit_rdtsc)
  mov [lit_tsc0 + 4], edx
  pop eax
  mov [lit_go], eax                     ; every CPU (and spare) starts now
  mov eax, [lit_agent_body]
  test eax, eax
  jz .no_agent
  call eax                              ; the first agent
.no_agent:
  mov dword [LIT_AGENT_DONE], 1
  call lit_wait_end
  call lit_collect
  call lit_print_run
%if LIT_IOAPIC || LIT_MSI
  call lit_ioapic_quiesce               ; lines low, the test's entries masked, Remote IRR cleared
%endif
  inc dword [lit_iter]
  mov dword [lit_p0_release], 1         ; P0 resets itself now
  mov eax, [lit_iter]
  cmp eax, ITERATIONS
  jb .iter
  LAPIS_END
.setup_failed:                          ; eax = 1 + the CPU that did not come back
  dec eax
  REPORT 'setup-failed', eax
  cmp dword [LIT_READY], 0xFFFFFFFF
  jne .end
  REPORT 'p0-reset-failed', 1           ; IRR or ISR stayed set, or the APIC did not come back to xAPIC mode
.end:
  LAPIS_END

; ---- one iteration ---------------------------------------------------------------------------------------------

; INIT the test's APs; start again the ones that do not begin in wait-for-SIPI; wait for P0's reset. Returns
; eax = 0, or 1 + the CPU that did not get ready.
lit_setup:
  mov ebx, 1
.init:
  cmp ebx, LIT_CPUS
  jae .inited
  mov dword [LIT_READY + ebx * 4], 0
  SEND ICR_INIT | ICR_ASSERT, ebx
  inc ebx
  jmp .init
.inited:
  mov eax, LIT_INIT_US
  call lapis_delay_us
  mov ebx, 1
.start:
  cmp ebx, LIT_CPUS
  jae .aps_up
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
  ; The APs that start in wait-for-SIPI: INIT once more, now that they run (QEMU holds an INIT to a halted CPU;
  ; in wait-for-SIPI it is halted), and give the INIT time to be taken.
  xor edi, edi
  mov ebx, 1
.wfs:
  cmp ebx, LIT_CPUS
  jae .wfs_sent
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_WFS
  jne .wfs_next
  SEND ICR_INIT | ICR_ASSERT, ebx
  inc edi
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
  call lit_await_holds                  ; blocked in an await whose condition holds: it is about to go on
  mov ecx, LIT_BUSY_AWAIT
  jc .busy_at
  jmp .next
.running:
  mov ecx, LIT_BUSY_SMM
  cmp dword [LIT_IN_SMM + ebx * 4], 0   ; running SMM code (or reset out of it by an INIT: then until the
  jne .busy_at                          ; time limit)
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
; before it gets there (LIT_SIPI_PENDING, cleared by its SIPI entry). Keeps every register.
lit_sipi_sent:
  pushad
  cmp eax, LIT_CPUS
  jae .out
%if LIT_NESTED
  call lit_nested_sipi_sent             ; a CPU in VMX operation: its own evidence
  jc .out
%endif
  mov ecx, [LIT_SIPI_SEQ + eax * 4]
  mov edx, [LIT_INIT_SEQ + eax * 4]
  test ecx, ecx
  jnz .seq
  cmp byte [lit_cpu_kind + eax], LIT_KIND_WFS
  je .pending
  test edx, edx
  jnz .pending
  jmp .out
.seq:
  cmp edx, ecx
  jbe .out
.pending:
  mov dword [LIT_SIPI_PENDING + eax * 4], 1
.out:
  popad
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
  mov ebx, eax
  mov eax, [tsc_per_ms]
  mul ebx
  mov ecx, 1000
  div ecx
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
  mov eax, [tsc_per_ms]
  mov ecx, LIT_SETTLE_US
  mul ecx
  mov ecx, 1000
  div ecx
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
  mov ecx, eax
  mov eax, [tsc_per_ms]
  mul ecx
  mov ecx, 1000
  div ecx
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

; `rdtsc`: ebx = microseconds a model tick lasts -> edx:eax = model ticks (the model's TSC at timer-ratio 1) since
; the run began. Keeps ebx..ebp.
lit_rdtsc:
  push ecx
  mov eax, [tsc_per_ms]
  mul ebx
  mov ecx, 1000
  div ecx                               ; TSC ticks a model tick
  mov ecx, eax
  rdtsc
  sub eax, [lit_tsc0]
  sbb edx, [lit_tsc0 + 4]
  div ecx                               ; (edx < ecx while a run lasts less than 2^32 model ticks)
  xor edx, edx
  pop ecx
  ret

; The same since lit_t1.
lit_elapsed1:
  mov ecx, eax
  mov eax, [tsc_per_ms]
  mul ecx
  mov ecx, 1000
  div ecx
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

; End of the run: ping every test CPU that may answer, P0 last; infer wait-for-SIPI where the evidence says so.
lit_collect:
  mov ebx, LIT_CPUS - 1
.cpu:
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_PARK
  je .next
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
  call lit_wait_reported
  test eax, eax
  jnz .next
  cmp dword [LIT_REPORTED + ebx * 4], 2
  jne .silent
  mov eax, 200
  call lapis_delay_us
  dec edi
  jnz .try
.silent:                                ; no answer: unknown (it had left wait-for-SIPI: its SIPI code ran)
  mov dword [LIT_PING + ebx * 4], 0
  jmp .next
.wfs:
  mov dword [LIT_ACT + ebx * 4], LIT_ACT_WFS
.next:
  dec ebx
  jns .cpu
%if LIT_SMM
  call lit_smbase_probe_all
%endif
  ret

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
  mov eax, [LIT_INIT_SEQ + ebx * 4]
  cmp eax, [LIT_SMM_SEQ + ebx * 4]
  jbe .out
  mov esi, [LIT_BEAT + ebx * 4]
  mov eax, 500
  call lit_pause_us
  cmp esi, [LIT_BEAT + ebx * 4]
  jne .out
.left:
  mov dword [LIT_IN_SMM + ebx * 4], 0
.out:
  ret

; eax = microseconds, ebx = cpu: a `wait` in SMM code, beating LIT_BEAT. Clobbers eax, ecx, edx.
lit_delay_beat:
  push esi
  push edi
  mov ecx, eax
  mov eax, [tsc_per_ms]
  mul ecx
  mov ecx, 1000
  div ecx
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

; ---- the end-of-test ping (an NMI), on the test's CPUs ----------------------------------------------------------

; From isr_common on every NMI: eax = cpu, ebx = 2; stack: pushad (32 bytes), vector, eip, cs, eflags.
lit_nmi_hook:
  cmp eax, LIT_CPUS
  jae lapis_isr_count
  mov ecx, [LIT_PING + eax * 4]
  test ecx, ecx
  jz lapis_isr_count                    ; the test's own NMI
  mov dword [LIT_PING + eax * 4], 0
  mov ebp, eax
  call lit_sync_mode
  cmp ecx, 2
  je .answer
  mov esi, [esp + 36]                   ; interrupted in the runtime's interrupt entry or exit (the stubs and
  cmp esi, isr_stubs                    ; isr_common): an interrupt is being taken; let it finish, be asked again
  jb .ret
  cmp esi, lapis_cpu_id
  jb .busy
.ret:
  mov esi, [esp + 48]                   ; the interrupted stack's top: a return address into isr_common (a handler
  cmp esi, isr_stubs                    ; block just called, or about to return)
  jb .running
  cmp esi, lapis_cpu_id
  jb .busy
.running:
  cmp dword [lit_timed_out], 0          ; running code (not blocked in an await, a HLT or the idle loop) while the
  jne .if                               ; run is meant to be over: something was still on its way
  cmp dword [LIT_BLOCKED + ebp * 4], 0
  je .busy
.if:
  test dword [esp + 44], 0x200          ; IF in the interrupted code, and an IRR vector above PPR: the CPU was
  jz .answer                            ; about to take an interrupt; let it, and be asked again
  call lit_deliverable
  test eax, eax
  jz .answer
.busy:
  mov dword [LIT_REPORTED + ebp * 4], 2
  popad
  add esp, 4
  LAPIS_IRET
.answer:
%if LIT_NESTED
  call lit_nested_snapshot              ; its VMX operation now
%endif
  mov esi, [esp + 36]                   ; interrupted EIP: right after a HLT, or in the idle loop: halted
  mov [LIT_EIP + ebp * 4], esi
  mov eax, LIT_ACT_HALTED
  cmp esi, lit_idle_region
  jb .hlt
  cmp esi, lit_idle_end
  jb .act
.hlt:
  cmp byte [esi - 1], 0xF4
  je .act
  mov eax, LIT_ACT_ACTIVE
.act:
  mov [LIT_ACT + ebp * 4], eax
  mov edx, [lit_cpu_report + ebp * 4]
  test edx, edx
  jz .reported
  call edx
.reported:
  mov dword [LIT_REPORTED + ebp * 4], 1
%if LIT_NESTED
  mov eax, ebp
  call lit_nested_leave                 ; out of VMX operation before it parks or resets
%endif
  test ebp, ebp
  jz lit_p0_after_report
lit_park_ap:                            ; an AP spins here, NMIs blocked, until the next run's INIT (not in HLT:
  cli                                   ; QEMU holds an INIT to a halted CPU until something else wakes it)
.l:
%ifdef LAPIS_SOFT_IRET
  hlt                                   ; KVM (kvm_pvm): an INIT wakes a halted vCPU, and a spinning one would burn a
%else                                   ; host core in the emulator that the other vCPUs need (the run's collection
  pause                                 ; took 3.6 ms instead of 1.1 on this 2-core host)
%endif
  jmp .l

lit_ap_checkin:                         ; an AP that starts a run in wait-for-SIPI, between its two INITs
  call lapis_cpu_id
  mov edx, [lit_iter]
  inc edx
  mov [LIT_READY + eax * 4], edx
  jmp lit_park_ap

lit_ap_first:                           ; a test AP's first SIPI (lit_boot): check in, park
  call lapis_cpu_id
  mov dword [PC_ONLINE + eax * 4], 1
  jmp lit_park_ap

lit_park:                               ; P0 without a main block, or P0 that could not reset: for good
  cli
  hlt
  jmp lit_park

; eax = 1 when the highest vector in IRR has a priority class above PPR's, with the APIC software-enabled.
; Clobbers eax, ecx, edx, esi, edi.
lit_deliverable:
  mov ecx, APIC_SVR
  call lapis_apic_read
  test eax, 0x100
  jz .no
  mov esi, 7
.l:
  mov ecx, esi
  shl ecx, 4
  add ecx, APIC_IRR0
  call lapis_apic_read
  test eax, eax
  jnz .found
  dec esi
  jns .l
.no:
  xor eax, eax
  ret
.found:
  bsr eax, eax
  shl esi, 5
  add eax, esi
  shr eax, 4
  mov edi, eax                          ; the vector's class
  mov ecx, APIC_PPR
  call lapis_apic_read
  shr eax, 4
  and eax, 0xF
  cmp edi, eax
  seta al
  movzx eax, al
  ret

; PC_X2APIC[this CPU] from IA32_APIC_BASE (EN and EXTD). Keeps every register.
lit_sync_mode:
  pushad
  call lapis_cpu_id
  mov ebx, eax
  mov ecx, MSR_APIC_BASE
  rdmsr
  and eax, 0xC00
  cmp eax, 0xC00
  sete al
  movzx eax, al
  mov [PC_X2APIC + ebx * 4], eax
  popad
  ret

; ---- P0 -------------------------------------------------------------------------------------------------------

; After P0's report: wait until the coordinator printed the run, then return from the NMI (ending NMI blocking)
; into lit_p0_entry on a fresh stack, IF = 0.
lit_p0_after_report:
.wait:
  cmp dword [lit_p0_release], 0
  jne .go
  pause
  jmp .wait
.go:
  mov dword [lit_p0_release], 0
  mov esp, STACKS_BASE + STACK_SIZE
  push dword 0x2                        ; EFLAGS: IF = 0
  push dword SEL_CODE
  push dword lit_p0_entry
  LAPIS_IRET

lit_p0_entry:
  mov esp, STACKS_BASE + STACK_SIZE
  cli
  call lit_p0_reset
  test eax, eax
  jnz .failed
  jmp [lit_cpu_start]
.failed:
  mov dword [LIT_READY], 0xFFFFFFFF
  jmp lit_park

; Bring P0's local APIC back to an OS's state: xAPIC mode, SVR = 0x1FF, TPR 0, LVTs masked, timer stopped, ID 0,
; LDR 0, DFR flat; EOI until ISR is clear and let IRR bits drain with the test's handlers off. eax = 0 when IRR and
; ISR ended clear, 1 otherwise (the coordinator then ends the boot).
lit_p0_reset:
  mov dword [PC_FIXUP], .fault
  mov ecx, MSR_APIC_BASE
  rdmsr
  mov ebx, eax
  and ebx, 0xC00
  cmp ebx, 0x800
  je .xapic
  and eax, ~0xC00                       ; x2APIC (or disabled) -> disabled -> xAPIC
  wrmsr
  or eax, 0x800
  wrmsr
  rdmsr
  and eax, 0xC00
  cmp eax, 0x800
  jne .fault
.xapic:
  mov dword [PC_FIXUP], 0
  mov dword [PC_X2APIC], 0
  mov dword [lit_drain], 1
  APIC_WR APIC_SVR, 0x1FF
  APIC_WR APIC_TPR, 0
  APIC_WR APIC_LVT_TIMER, 0x10000
  APIC_WR APIC_TIMER_ICR, 0
  APIC_WR APIC_TIMER_DCR, 0             ; divide by 2, its value after RESET and INIT (SDM Vol 3A 11.5.4)
  APIC_WR APIC_LVT_LINT0, 0x10000
  APIC_WR APIC_LVT_LINT1, 0x10000
  APIC_WR APIC_LVT_ERROR, 0x10000
  APIC_WR APIC_LVT_THERMAL, 0x10000
  APIC_WR APIC_LVT_PMC, 0x10000
  APIC_WR APIC_ID, 0
  APIC_WR APIC_LDR, 0
  APIC_WR APIC_DFR, 0xFFFFFFFF
  mov edi, 8
.drain:
  call lit_eoi_all
  sti                                   ; held IRR bits are taken now (counted, handlers off)
  mov eax, 20
  call lapis_delay_us
  cli
  call lit_eoi_all
  call lit_irr_isr_clear
  test eax, eax
  jnz .clear
  dec edi
  jnz .drain
  mov eax, 1
  jmp .out
.clear:
  xor eax, eax
.out:
  APIC_WR APIC_ESR, 0
  APIC_WR APIC_ESR, 0
  mov dword [lit_drain], 0
  ret
.fault:
  mov dword [PC_FIXUP], 0
  mov eax, 1
  ret

; EOI while any ISR bit is set (at most 256 times). Clobbers eax, ecx, edx, esi.
lit_eoi_all:
  mov esi, 256
.l:
  call lit_isr_any
  test eax, eax
  jz .done
  APIC_WR APIC_EOI, 0
  dec esi
  jnz .l
.done:
  ret

; eax = OR of ISR0..7. Clobbers ecx, edx.
lit_isr_any:
  push ebx
  push edi
  xor edi, edi
  mov ebx, APIC_ISR0
.l:
  mov ecx, ebx
  call lapis_apic_read
  or edi, eax
  add ebx, 0x10
  cmp ebx, APIC_ISR0 + 0x80
  jb .l
  mov eax, edi
  pop edi
  pop ebx
  ret

; eax = 1 when IRR and ISR are all clear. Clobbers ecx, edx.
lit_irr_isr_clear:
  push ebx
  push edi
  xor edi, edi
  mov ebx, APIC_IRR0
.l:
  mov ecx, ebx
  call lapis_apic_read
  or edi, eax
  add ebx, 0x10
  cmp ebx, APIC_IRR0 + 0x80
  jb .l
  call lit_isr_any
  or edi, eax
  xor eax, eax
  test edi, edi
  sete al
  pop edi
  pop ebx
  ret

; ---- helpers for the test's code ------------------------------------------------------------------------------

; An AP at the start of a run: INIT keeps IA32_APIC_BASE, so a run that left it in x2APIC mode or globally
; disabled would leave the next run there: back to xAPIC mode (x2APIC -> disabled -> xAPIC, the legal way).
; Clobbers eax, ecx, edx.
lit_xapic_mode:
  mov ecx, MSR_APIC_BASE
  rdmsr
  mov edx, eax
  and edx, 0xC00
  cmp edx, 0x800
  je .ok
  xor edx, edx
  and eax, ~0xC00
  wrmsr
  or eax, 0x800
  wrmsr
.ok:
  call lapis_cpu_id
  mov dword [PC_X2APIC + eax * 4], 0
  ret

; eax = cpu: say it is ready for iteration lit_iter, wait for go. Keeps ebx..ebp.
lit_ready_wait:
  mov edx, [lit_iter]
  inc edx
  mov [LIT_READY + eax * 4], edx
.w:
  cmp [lit_go], edx
  je .go
  pause
  jmp .w
.go:
  ret

; The end of a main block (eax = cpu): Pn.done, then idle. The end of SIPI code (eax = cpu): idle.
; A CPU after its code: HLT, and again after each interrupt, with IF as the code left it. A ping that finds the CPU
; anywhere in here reports it halted (lit_idle_region .. lit_idle_end).
; eax = cpu in the loop (handlers keep every register), for LIT_HALTED.
lit_idle_region:
lit_end_main:
  mov dword [LIT_DONE + eax * 4], 1
  mov dword [LIT_BLOCKED + eax * 4], 1
  jmp lit_idle
lit_end_sipi:
  mov dword [LIT_BLOCKED + eax * 4], 1
  mov dword [LIT_SIPI_BUSY + eax * 4], 0
lit_idle:
  mov dword [LIT_HALTED + eax * 4], 1
  hlt
  mov dword [LIT_HALTED + eax * 4], 0
  jmp lit_idle
lit_idle_end:

; Every vector of a test CPU without a handler block (isr_common counted it): only the event.
lit_default_handler:
  LIT_EVENT
  ret

; xAPIC send: eax = ICR low, edx = destination APIC ID. Clobbers eax, edx.
lit_send_xapic:
  pushfd
  cli
  shl edx, 24
  mov [APIC_BASE + APIC_ICR_HI], edx
  mov [APIC_BASE + APIC_ICR_LO], eax
  popfd
.busy:
  test dword [APIC_BASE + APIC_ICR_LO], ICR_BUSY
  jz .done
  pause
  jmp .busy
.done:
  ret

; edx:eax <<= ecx:ebx (0 when the count is 64 or more). Clobbers ecx.
lit_shl64:
  test ecx, ecx
  jnz .zero
  cmp ebx, 64
  jae .zero
  mov ecx, ebx
  cmp cl, 32
  jb .small
  mov edx, eax
  xor eax, eax
  sub cl, 32
  shl edx, cl
  ret
.small:
  shld edx, eax, cl
  shl eax, cl
  ret
.zero:
  xor eax, eax
  xor edx, edx
  ret

; edx:eax >>= ecx:ebx (logical). Clobbers ecx.
lit_shr64:
  test ecx, ecx
  jnz .zero
  cmp ebx, 64
  jae .zero
  mov ecx, ebx
  cmp cl, 32
  jb .small
  mov eax, edx
  xor edx, edx
  sub cl, 32
  shr eax, cl
  ret
.small:
  shrd eax, edx, cl
  shr edx, cl
  ret
.zero:
  xor eax, eax
  xor edx, edx
  ret

; ---- SMM --------------------------------------------------------------------------------------------------------

; Copied to SMBASE + 0x8000. SMM starts in a real-address-like mode (CS base = SMBASE, 4 GiB limits): load the
; runtime's GDT, enter 32-bit protected mode and go to lit_smm_entry32 with esi = SMBASE. RSM later restores
; everything the SMI interrupted from the save-state map, whatever mode the handler is in.
bits 16
lit_smm_entry16:
  mov ax, cs
  movzx esi, ax
  shl esi, 4                            ; SMBASE (below 1 MiB)
  o32 lgdt [dword gdt_desc]             ; 32-bit address: DS has base 0 and a 4 GiB limit in SMM
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp dword SEL_CODE:lit_smm_entry32
lit_smm_entry16_end:
bits 32

lit_smm_entry32:
  mov ax, SEL_DATA
  mov ds, ax
  mov es, ax
  mov fs, ax
  mov gs, ax
  mov ss, ax
  cld
  mov eax, 1
  cpuid
  shr ebx, 24
  lea esp, [ebx + 1]
  shl esp, 12
  add esp, LIT_SMM_STACKS
  ; The save-state map's SMBASE field: AMD64 map (AMD APM Vol 2 10.2.3, Table 10-2: SMBASE at SMBASE + 0xFF00;
  ; QEMU's x86-64 CPUs use this map whatever the vendor, target/i386/tcg/sysemu/smm_helper.c) or the Intel maps
  ; (SDM Vol 3C 34.4.1, Tables 34-1 and 34-3: SMBASE at SMBASE + 0x8000 + 0x7EF8). On SMM entry the processor
  ; saves its current SMBASE there, so the field is the one that holds this handler's own SMBASE (CS base). RSM
  ; loads SMBASE from it when the revision identifier (SMBASE + 0xFEFC) has bit 17 set: SMBASE relocation
  ; (SDM Vol 3C 34.11, APM Vol 2 10.2.3).
  mov [LIT_SMBASE_NOW + ebx * 4], esi
  mov dword [LIT_SMBASE_OK + ebx * 4], 1
  xor edi, edi
  test dword [esi + 0xFEFC], 1 << 17
  jz .field
  lea edi, [esi + 0xFF00]
  cmp [edi], esi
  je .field
  lea edi, [esi + 0xFEF8]
  cmp [edi], esi
  je .field
  xor edi, edi
.field:
  mov [LIT_SMBASE_FLD + ebx * 4], edi
  mov eax, [LIT_SMM_CMD + ebx * 4]      ; the runtime's own SMI (not the test's: not counted)
  test eax, eax
  jz .test_smi
  cmp eax, 1
  jne .cmd_done
  mov eax, [LIT_SMM_ARG + ebx * 4]
  test edi, edi
  jz .cmd_done
  mov [edi], eax                        ; SMBASE from RSM on
.cmd_done:
  mov dword [LIT_SMM_CMD + ebx * 4], 0
  rsm
.test_smi:
  lock inc dword [PC_SMI_COUNT + ebx * 4]
  mov dword [LIT_IN_SMM + ebx * 4], 1
  mov eax, 1
  lock xadd [lit_seq], eax
  inc eax
  mov [LIT_SMM_SEQ + ebx * 4], eax
  push dword [LIT_BLOCKED + ebx * 4]    ; SMM interrupts whatever the CPU was blocked in
  mov dword [LIT_BLOCKED + ebx * 4], 0
  push dword [LIT_HALTED + ebx * 4]
  mov dword [LIT_HALTED + ebx * 4], 0
  LIT_EVENT
  mov edx, [LIT_SMM_BODY + ebx * 4]
  test edx, edx
  jz lit_smm_exit
  cmp dword [lit_drain], 0
  jne lit_smm_exit
  mov eax, ebx
  jmp edx                               ; the test's `on smi` code; its `rsm` comes back here
lit_smm_exit:
  call lapis_cpu_id
  lea esp, [eax + 1]
  shl esp, 12
  add esp, LIT_SMM_STACKS - 8           ; the saved LIT_BLOCKED and LIT_HALTED
  pop dword [LIT_HALTED + eax * 4]
  pop dword [LIT_BLOCKED + eax * 4]
  mov dword [LIT_IN_SMM + eax * 4], 0
  LIT_EVENT
  rsm

%if LIT_SMM
; Before go (the CPUs wait in lit_ready_wait): every CPU in lit_smbase_init (cpu, SMBASE pairs, -1 ends) gets an
; SMI of the runtime's that writes the SMBASE the run starts with (the default 0x30000, or a tile of its own when
; several CPUs take SMIs: each CPU's save-state area must be its own, SDM Vol 3C 34.11). Ends the boot if a CPU
; does not come back (error=smbase-setup) or has no relocatable save-state map (error=no-smbase-field).
lit_smbase_setup:
  mov esi, lit_smbase_init
.l:
  mov ebx, [esi]
  cmp ebx, 0xFFFFFFFF
  je .out
  mov eax, [esi + 4]
  mov [LIT_SMM_ARG + ebx * 4], eax
  mov dword [LIT_SMM_CMD + ebx * 4], 1
  mov edi, 3                            ; tries: QEMU now and then loses an SMI to a CPU that a previous run left
.try:                                   ; with a held SMI (CONFORMANCE.md F5)
  call lit_smi_wait
  test eax, eax
  jnz .taken
  dec edi
  jnz .try
  jmp .failed
.taken:
  cmp dword [LIT_SMBASE_FLD + ebx * 4], 0
  je .nofield
  add esi, 8
  jmp .l
.out:
  xor eax, eax
  mov edi, LIT_SMBASE_OK
  mov ecx, LIT_CPUS
  rep stosd
  ret
.failed:
  REPORT 'smbase-setup-cpu', ebx
  REPORT 'smbase-setup-iter', [lit_iter]
  REPORT_LINE 'error=smbase-setup'
  LAPIS_END
.nofield:
  REPORT_LINE 'error=no-smbase-field'
  LAPIS_END

; An SMI of the runtime's to CPU ebx, then wait up to LIT_SMI_US for its SMM code to clear LIT_SMM_CMD[ebx]:
; eax is non-zero when it did. Keeps ebx, esi and edi.
lit_smi_wait:
  push esi
  push edi
  SEND ICR_SMI | ICR_ASSERT, ebx
  mov esi, LIT_SMM_CMD
  lea esi, [esi + ebx * 4]
  push ebx
  xor ebx, ebx
  mov eax, LIT_SMI_US
  call lapis_wait_eq_us
  pop ebx
  pop edi
  pop esi
  ret

; After the pings: every CPU whose SMBASE the test observes (lit_smbase_probe, -1 ends), unless it is inside its
; SMM code (LIT_SMBASE_NOW holds the SMBASE it entered with) or waits for a SIPI (refused at compile time), gets an
; SMI of the runtime's that records its SMBASE (the CS base of the handler it enters) and returns.
lit_smbase_probe_all:
  mov esi, lit_smbase_probe
.l:
  mov ebx, [esi]
  cmp ebx, 0xFFFFFFFF
  je .out
  cmp dword [LIT_IN_SMM + ebx * 4], 0
  jne .next
  mov dword [LIT_SMBASE_OK + ebx * 4], 0
  cmp dword [LIT_REPORTED + ebx * 4], 1 ; only a CPU that answered the ping (parked, NMIs blocked)
  jne .next
  mov dword [LIT_SMM_CMD + ebx * 4], 2
  call lit_smi_wait
  test eax, eax
  jnz .next
  mov dword [LIT_SMBASE_OK + ebx * 4], 0
.next:
  add esi, 4
  jmp .l
.out:
  ret

; esi = key, ebx = cpu: ` key=SMBASE` or `?`.
lit_line_smbase:
  cmp dword [LIT_SMBASE_OK + ebx * 4], 0
  je .unknown
  mov eax, [LIT_SMBASE_NOW + ebx * 4]
  xor edx, edx
  jmp lit_line_hex
.unknown:
  mov edi, lit_str_unknown
  jmp lit_line_str
%endif

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
lit_str_timeout: db '@timeout', 0
lit_str_busy: db '@busy', 0
align 4
lit_act_names: dd lit_str_unknown, lit_str_active, lit_str_halted, lit_str_wfs

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
