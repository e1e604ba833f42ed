; The test's CPUs: the end-of-test ping, P0, helpers for the test's code, SMM (guest/litmus.asm).
; Included by guest/litmus.asm at this point of it; it is one assembly with it.

; ---- the end-of-test ping (an NMI), on the test's CPUs ----------------------------------------------------------

; From isr_common on every NMI: eax = cpu, ebx = 2; stack: pushad (32 bytes), vector, eip, cs, eflags.
lit_nmi_hook:
  cmp eax, LIT_CPUS
  jae lapis_isr_count
  xor ecx, ecx
  xchg ecx, [LIT_PING + eax * 4]        ; (locked: the coordinator may mark it late at the same time)
  test ecx, ecx
  jz lapis_isr_count                    ; the test's own NMI
  mov ebp, eax
  call lit_sync_mode
  cmp ecx, LIT_PING_LATE
  je lit_ping_done                      ; not the test's NMI either: stop, without a report
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
; After the answer, or a ping that came after the coordinator gave up waiting for it (LIT_PING_LATE): ebp = cpu.
lit_ping_done:
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

lit_ap_checkin:                         ; an AP that starts a run in wait-for-SIPI: check in, then INIT itself
  cli
  call lapis_cpu_id
  mov ebx, eax
  mov edx, [lit_iter]
  inc edx
  mov [LIT_READY + ebx * 4], edx
  ; Into wait-for-SIPI by an INIT of its own, not the coordinator's: QEMU TCG takes an INIT on the target's own
  ; thread, at its next instruction boundary, and a vCPU thread the host has not run for milliseconds (three
  ; spinning vCPUs on two host cores) still had the coordinator's INIT pending when the test's first event came;
  ; QEMU then takes the INIT first and drops what came with it (do_cpu_init keeps only a SIPI): the SMI of
  ; CONFORMANCE.md F21. Its own INIT is raised one instruction after it says so, and taken before its next.
.wait:
  cmp dword [LIT_SELF_INIT + ebx * 4], 1
  je .init
  pause
  jmp .wait
.init:
  mov ecx, 0x1B                         ; IA32_APIC_BASE: which door its APIC has now (not PC_X2APIC: an INIT
  rdmsr                                 ; may have taken x2APIC mode away, CONFORMANCE.md F49)
  test eax, 0x400
  jnz .x2
  mov dword [APIC_BASE + APIC_SVR], 0x1FF ; software-enabled, as an OS has it (the INIT resets SVR again)
  mov eax, ebx
  shl eax, 24
  mov [APIC_BASE + APIC_ICR_HI], eax
  mov dword [LIT_SELF_INIT + ebx * 4], 2
  mov dword [APIC_BASE + APIC_ICR_LO], ICR_INIT | ICR_ASSERT
  jmp lit_park_ap                       ; (not reached once the INIT is taken)
.x2:
  mov ecx, X2APIC_MSR + (APIC_SVR >> 4)
  mov eax, 0x1FF
  xor edx, edx
  wrmsr
  mov ecx, X2APIC_MSR + (APIC_ICR_LO >> 4)
  mov edx, ebx                          ; ICR[63:32]: the destination, this CPU's x2APIC ID
  mov eax, ICR_INIT | ICR_ASSERT
  mov dword [LIT_SELF_INIT + ebx * 4], 2
  wrmsr
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

%ifdef LIT_CPUHP_PORT
; ---- CPU hot-plug (an agent's `hotplug Pk`) ---------------------------------------------------------------------

; eax = the APIC ID of an empty slot: ask the host to add the CPU (the line `lapis: hotplug=N`; src/backends/run.ts
; sends QMP device_add), wait until the ACPI CPU hot-plug register shows it present (one bit per APIC ID), then
; count it a CPU that waits for a SIPI, as a hot-added processor comes up (SDM Vol 3A 9.4.2: an AP waits for a
; SIPI). Clobbers eax, ecx, edx.
lit_hotplug:
  push ebx
  mov ebx, eax
  REPORT "hotplug", ebx
  mov edx, ebx
  shr edx, 3
  add edx, LIT_CPUHP_PORT
  mov ecx, ebx
  and ecx, 7
.poll:
  in al, dx
  bt eax, ecx
  jc .present
  pause
  call lapis_watchdog_check
  jmp .poll
.present:
  mov byte [lit_cpu_kind + ebx], LIT_KIND_WFS
  pop ebx
  ret
%endif
