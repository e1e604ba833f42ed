; Never ends and never checks the watchdog: the host's timeout must kill it (status hung).
%define LAPIS_CPUS 1
%include "runtime.asm"

test_main:
  cli
.spin:
  jmp .spin
