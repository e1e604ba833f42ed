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

LIT_PING_LATE   equ 3             ; LIT_PING: the coordinator gave up waiting for the answer (lit_collect)

LIT_ACT_UNKNOWN equ 0
LIT_ACT_ACTIVE  equ 1
LIT_ACT_HALTED  equ 2
LIT_ACT_WFS     equ 3
LIT_ACT_UNPLUGGED equ 4

LIT_BASE        equ PERCPU_BASE + PERCPU_SIZE  ; 0x1C0000, below the stacks
LIT_READY       equ LIT_BASE + 0x0000 ; dword[cpu]: iteration + 1 once it waits for go; -1: P0's reset failed
LIT_DONE        equ LIT_BASE + 0x0100 ; dword[cpu]: its main block finished (Pn.done)
LIT_SIPI_BUSY   equ LIT_BASE + 0x0200 ; dword[cpu]: running its `on sipi` code
LIT_PING        equ LIT_BASE + 0x0300 ; dword[cpu]: 1 the next NMI is the end-of-test ping, 2 the same, answer even if busy,
                                      ; LIT_PING_LATE the same, but the run is printed without its answer
LIT_REPORTED    equ LIT_BASE + 0x0400 ; dword[cpu]: 1 answered the ping, 2 busy (an interrupt was about to be taken)
LIT_ACT         equ LIT_BASE + 0x0500 ; dword[cpu]: LIT_ACT_* as found at the end
LIT_IN_SMM      equ LIT_BASE + 0x0600 ; dword[cpu]: inside the SMM entry (between SMI and RSM)
LIT_SMM_BODY    equ LIT_BASE + 0x0700 ; dword[cpu]: the test's `on smi` code (0: RSM at once)
LIT_SIPI_SEQ    equ LIT_BASE + 0x0800 ; dword[cpu]: event number when it last entered its SIPI code (0: never)
LIT_INIT_SEQ    equ LIT_BASE + 0x0900 ; dword[cpu]: event number when an INIT was last sent to it (0: never)
LIT_AGENT_DONE  equ LIT_BASE + 0x0A00 ; dword[spare]: its agent finished
LIT_BLOCKED     equ LIT_BASE + 0x0B00 ; dword[APIC ID]: waiting in an await or a HLT op (0 while a handler runs)
LIT_SMM_SEQ     equ LIT_BASE + 0x0C00 ; dword[cpu]: event number when it last entered SMM
LIT_BEAT        equ LIT_BASE + 0x0D00 ; dword[cpu]: goes up while it waits in an await (or its SMM code in a wait)
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
LIT_AWAIT_SEQ   equ LIT_BASE + 0x6700 ; dword[APIC ID]: lit_seq when it began the await it spins in (an INIT
                                      ; sent after that may have taken it away: lit_await_gone)
LIT_SELF_INIT   equ LIT_BASE + 0x6800 ; dword[cpu]: 1 the coordinator asks an AP parked in lit_ap_checkin to INIT itself,
                                      ; 2 it is about to (lit_setup)
LIT_SIZE        equ 0x6900
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
%ifndef LIT_SELF_INIT_US
  %define LIT_SELF_INIT_US 500000     ; for an AP in lit_ap_checkin to say it INITs itself (its vCPU may wait long
%endif                                ; for a host core)
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
  cmp byte [lit_cpu_kind + ebx], LIT_KIND_UNPLUGGED
  je .ap_next                           ; an empty slot: nothing there yet
  mov dword [PC_SIPI_ENTRY + ebx * 4], lit_ap_first
  mov edx, ebx
  call lit_start_cpu
.ap_next:
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

%include "litmus-iteration.asm"
%include "litmus-sleep.asm"
%include "litmus-tsc.asm"
%include "litmus-cpus.asm"
%include "litmus-report.asm"
