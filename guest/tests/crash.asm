; Triple-faults (an empty IDT, then INT3): QEMU -no-reboot exits and Bochs (reset_on_triple_fault=0) panics,
; with no end marker (status crashed).
%define LAPIS_CPUS 1
%include "runtime.asm"

test_main:
  lidt [empty_idt]
  int3
  jmp $

empty_idt:
  dw 0
  dd 0
