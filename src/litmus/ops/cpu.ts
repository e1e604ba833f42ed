// The instructions the interrupt rules depend on: STI (with its one-instruction shadow, SDM Vol 2B STI), CLI and
// HLT (SDM Vol 3A 7.10 Halt: a halted processor wakes on an unmasked interrupt, NMI, SMI, INIT or RESET).

import type { OpFamily } from './types.js';

export const cpu: OpFamily<'sti' | 'cli' | 'hlt'> = {
  parse: {
    sti: (p, t) => (p.next(), { kind: 'sti', pos: t.pos }),
    cli: (p, t) => (p.next(), { kind: 'cli', pos: t.pos }),
    hlt: (p, t) => (p.next(), { kind: 'hlt', pos: t.pos }),
  },
  defs: {
    sti: {
      where: 'cpu',
      print: () => 'sti',
      refs: () => {},
      describe: () => 'sti',
      exec(_op, x) {
        x.cpu!.sti();
        return x.pc + 1;
      },
      footprint: () => {},
      emit: (_op, e) => void e.out.push('  sti'),
    },
    cli: {
      where: 'cpu',
      print: () => 'cli',
      refs: () => {},
      describe: () => 'cli',
      exec(_op, x) {
        x.cpu!.cli();
        return x.pc + 1;
      },
      footprint: () => {},
      emit: (_op, e) => void e.out.push('  cli'),
    },
    hlt: {
      where: 'cpu',
      print: () => 'hlt',
      refs: () => {},
      describe: () => 'hlt',
      exec(_op, x) {
        x.halt();
        return x.pc + 1;
      },
      footprint: () => {},
      emit(_op, e) {
        const blocked = `LIT_BLOCKED + ${e.apicId} * 4`;
        e.out.push(`  push dword [${blocked}]`, `  mov dword [${blocked}], 1   ; blocked: the run may end here`, '  hlt', `  pop dword [${blocked}]`);
      },
    },
  },
};
