; lapis: the I/O APIC and device MSIs for compiled litmus tests (included by litmus.asm when LIT_IOAPIC or LIT_MSI
; is 1; docs/conformance.md, "The I/O APIC and MSIs").
;
; The I/O APIC is the chipset's, at its default base 0xFEC00000: IOREGSEL (offset 0x00) selects an indirect
; register, IOWIN (offset 0x10) reads or writes it (82093AA datasheet 3.0, 3.1; ICH9/PIIX datasheets). Redirection
; entry n is registers 0x10 + 2n (low dword) and 0x11 + 2n (high dword: destination in bits 56-63) (82093AA 3.2.4).
; Every access (the test's `ioapic write`, the coordinator's reset and its Remote IRR reads) selects and accesses
; under lit_ioapic_lock, so that two CPUs never interleave IOREGSEL and IOWIN.
;
; Pins are driven by QEMU's pc-testdev (`-device pc-testdev`, hw/misc/pc-testdev.c): a byte written to I/O port
; 0x2000 + n sets ISA IRQ line n (0..15) to (byte != 0), as kvm-unit-tests' set_irq_line does. QEMU wires ISA IRQ n
; to I/O APIC pin n, except IRQ 0, which goes to pin 2 (hw/intc/ioapic.c ioapic_set_irq; the MP/ACPI interrupt
; source override every PC firmware reports). The same line also reaches the 8259s, which the runtime masks.
;
; MSIs come from QEMU's edu device (`-device edu`, hw/misc/edu.c, PCI 1234:11e8): the guest writes the message
; address and data into its MSI capability (PCI Local Bus 3.0, 6.8.1), enables it, and a write to BAR0 + 0x60
; ("raise interrupt") makes the device send the message: a memory write by the device to 0xFEExxxxx, which the
; platform turns into an interrupt message (SDM Vol 3A 11.11 Message Signalled Interrupts).

IOAPIC_BASE     equ 0xFEC00000
IOAPIC_SEL      equ IOAPIC_BASE + 0x00
IOAPIC_WIN      equ IOAPIC_BASE + 0x10
IOAPIC_EOIR     equ IOAPIC_BASE + 0x40    ; I/O APIC version 0x20 (ICH): writing a vector clears Remote IRR of the
                                          ; entries with that vector (QEMU's default version is 0x20)
IOAPIC_PINS     equ 24
IOAPIC_RED_LO   equ 0x10
TESTDEV_IRQ     equ 0x2000                ; pc-testdev: port 0x2000 + ISA IRQ line

PCI_ADDR        equ 0xCF8
PCI_DATA        equ 0xCFC
EDU_ID          equ 0x11E81234            ; device << 16 | vendor
EDU_RAISE       equ 0x60                  ; BAR0 + 0x60: raise interrupt (status |= value; MSI if enabled)
EDU_ACK         equ 0x64

; Take / release lit_ioapic_lock (IF off while it is held: a handler of the same CPU may access the I/O APIC).
; Keep every register but eflags.
lit_ioapic_lock_take:
  push eax
.try:
  mov eax, 1
  xchg [lit_ioapic_lock], eax
  test eax, eax
  jz .got
.spin:
  pause
  cmp dword [lit_ioapic_lock], 0
  jne .spin
  jmp .try
.got:
  pop eax
  ret
lit_ioapic_lock_give:
  mov dword [lit_ioapic_lock], 0
  ret

; eax = register index, edx = value: one indirect write. Keeps every register.
lit_ioapic_write:
  pushfd
  cli
  call lit_ioapic_lock_take
  mov [IOAPIC_SEL], eax
  mov [IOAPIC_WIN], edx
  call lit_ioapic_lock_give
  popfd
  ret

; eax = register index: eax = its value. Keeps the other registers.
lit_ioapic_read:
  pushfd
  cli
  call lit_ioapic_lock_take
  mov [IOAPIC_SEL], eax
  mov eax, [IOAPIC_WIN]
  call lit_ioapic_lock_give
  popfd
  ret

; eax = ISA IRQ line, dl = level (0/1): set the line through pc-testdev. Keeps every register.
lit_irq_line:
  push eax
  push edx
  push edx
  mov edx, TESTDEV_IRQ
  add edx, eax
  pop eax
  out dx, al
  pop edx
  pop eax
  ret

; At boot: every test line low, every redirection entry masked (edge, destination 0); the firmware's IOAPICID kept
; for the quiesce to restore (a test may write it: 82093AA 3.2.1, bits 27:24 R/W).
lit_ioapic_boot:
  xor eax, eax
  call lit_ioapic_read
  mov [lit_ioapic_id0], eax
  call lit_lines_low
  xor ebx, ebx
.pin:
  lea eax, [IOAPIC_RED_LO + ebx * 2 + 1]
  xor edx, edx
  call lit_ioapic_write
  dec eax
  mov edx, 0x10000
  call lit_ioapic_write
  inc ebx
  cmp ebx, IOAPIC_PINS
  jb .pin
  ret

; Every line the test drives low.
lit_lines_low:
  mov esi, lit_irq_lines
.l:
  movzx eax, byte [esi]
  cmp eax, 0xFF
  je .out
  xor edx, edx
  call lit_irq_line
  inc esi
  jmp .l
.out:
  ret

; After a run (before P0's reset and the next run's INITs): every line the test drives low, and every entry the
; test uses masked and switched to edge, which clears its Remote IRR (82093AA 3.2.4: Remote IRR is "undefined for
; edge triggered interrupts"; QEMU clears it when an entry becomes edge, hw/intc/ioapic.c), and an EOI to the
; I/O APIC's EOI register with the entry's vector for a version 0x20 I/O APIC (ICH9 datasheet 13.5.5 EOI
; Register). Nothing the test set up can fire during the next run's setup.
lit_ioapic_quiesce:
  xor eax, eax
  mov edx, [lit_ioapic_id0]
  call lit_ioapic_write                 ; IOAPICID as the firmware left it
  call lit_lines_low
  mov esi, lit_ioapic_pins
.pin:
  movzx ebx, byte [esi]
  cmp ebx, 0xFF
  je .out
  lea eax, [IOAPIC_RED_LO + ebx * 2]
  call lit_ioapic_read
  and eax, 0xFF
  mov [IOAPIC_EOIR], eax
  lea eax, [IOAPIC_RED_LO + ebx * 2]
  mov edx, 0x10000
  call lit_ioapic_write
  inc eax
  xor edx, edx
  call lit_ioapic_write
  inc esi
  jmp .pin
.out:
  ret

; Before go: the test's `init` entries, the high dword (destination) first, then the low dword (which may unmask).
lit_ioapic_program:
  mov esi, lit_ioapic_init
.l:
  mov ebx, [esi]
  cmp ebx, 0xFFFFFFFF
  je .out
  lea eax, [IOAPIC_RED_LO + ebx * 2 + 1]
  mov edx, [esi + 8]
  call lit_ioapic_write
  dec eax
  mov edx, [esi + 4]
  call lit_ioapic_write
  add esi, 12
  jmp .l
.out:
  ret

%if LIT_MSI
; eax = PCI configuration address (bus 0, device, function, register): eax = the dword. Clobbers edx.
lit_pci_read:
  or eax, 0x80000000
  mov dx, PCI_ADDR
  out dx, eax
  mov dx, PCI_DATA
  in eax, dx
  ret
; eax = address, ecx = dword: write it. Clobbers edx.
lit_pci_write:
  or eax, 0x80000000
  mov dx, PCI_ADDR
  out dx, eax
  mov dx, PCI_DATA
  mov eax, ecx
  out dx, eax
  ret

; At boot: find the edu device on bus 0, its BAR0 (assigned by the firmware) and its MSI capability; enable memory
; decoding and bus mastering (a device's MSI is a memory write it masters). Reports `error=...` and ends the boot
; when it is missing.
lit_msi_boot:
  xor ebx, ebx                          ; device << 11
.dev:
  mov eax, ebx
  call lit_pci_read
  cmp eax, EDU_ID
  je .found
  add ebx, 0x800
  cmp ebx, 32 * 0x800
  jb .dev
  REPORT_LINE 'error=no-edu-device'
  LAPIS_END
.found:
  mov [lit_edu_cfg], ebx
  lea eax, [ebx + 0x10]
  call lit_pci_read
  and eax, ~0xF
  mov [lit_edu_bar], eax
  lea eax, [ebx + 0x04]
  call lit_pci_read
  or eax, 0x6                           ; memory space, bus master
  mov ecx, eax
  and ecx, 0xFFFF
  lea eax, [ebx + 0x04]
  call lit_pci_write
  lea eax, [ebx + 0x34]                 ; the capability list
  call lit_pci_read
  movzx esi, al
.cap:
  and esi, 0xFC
  jz .nocap
  lea eax, [ebx + esi]
  call lit_pci_read
  cmp al, 0x05                          ; MSI
  je .msi
  movzx esi, ah
  jmp .cap
.nocap:
  REPORT_LINE 'error=edu-without-msi'
  LAPIS_END
.msi:
  mov [lit_edu_msi], esi
  shr eax, 16                           ; message control
  mov [lit_edu_msictl], eax
  ret

; `msi`: eax = message address (low dword), edx = message data. Under lit_ioapic_lock (the configuration space
; and the device are shared): program the capability, enable MSI (control bit 0, one message), raise the device's
; interrupt, acknowledge it. Keeps every register.
lit_msi_send:
  pushad
  pushfd
  cli
  call lit_ioapic_lock_take
  mov edi, edx
  mov ecx, eax
  mov ebx, [lit_edu_cfg]
  mov esi, [lit_edu_msi]
  lea eax, [ebx + esi + 4]              ; message address
  call lit_pci_write
  mov ebp, 8                            ; data at +8 (32-bit capability) or +12 (64-bit: address high at +8)
  test dword [lit_edu_msictl], 0x80
  jz .data
  lea eax, [ebx + esi + 8]
  xor ecx, ecx
  call lit_pci_write
  mov ebp, 12
.data:
  lea eax, [ebx + esi]
  add eax, ebp
  mov ecx, edi                          ; (the data register is 16 bits; the dword write's high half is the next
  and ecx, 0xFFFF                       ; register or reserved)
  call lit_pci_write
  mov eax, [lit_edu_msictl]
  and eax, ~0x70                        ; one message
  or eax, 1                             ; MSI enable
  shl eax, 16
  or eax, 0x05
  mov ecx, eax
  lea eax, [ebx + esi]
  call lit_pci_read_keep_next           ; ecx = the capability's first dword with the new control
  lea eax, [ebx + esi]
  call lit_pci_write
  mov eax, [lit_edu_bar]
  mov dword [eax + EDU_RAISE], 1        ; the device sends the message now
  mov dword [eax + EDU_ACK], 1
  call lit_ioapic_lock_give
  popfd
  popad
  ret

; eax = config address of the capability, ecx = new first dword whose bits 8-15 (next pointer) are replaced by the
; current ones. Clobbers eax, edx.
lit_pci_read_keep_next:
  push ecx
  call lit_pci_read
  pop ecx
  and eax, 0xFF00
  and ecx, 0xFFFF00FF
  or ecx, eax
  ret

align 4
lit_edu_cfg: dd 0
lit_edu_bar: dd 0
lit_edu_msi: dd 0
lit_edu_msictl: dd 0
%endif

align 4
lit_ioapic_lock: dd 0
lit_ioapic_id0: dd 0
