// The instructions the interrupt rules depend on: STI (with its one-instruction shadow, SDM Vol 2B STI), CLI and
// HLT (SDM Vol 3A 7.10 Halt: a halted processor wakes on an unmasked interrupt, NMI, SMI, INIT or RESET), and the
// extension's IRET, MOV SS, MOV CR8, CLGI/STGI and the triple fault.

import { printExpr } from '../format.js';
import { describe as describeToken } from '../lexer.js';
import { dstReg, expr } from '../syntax.js';
import type { OpFamily } from './types.js';

const CR8_64 = 'MOV CR8 exists only in 64-bit mode (SDM Vol 3A 11.8.6) and the guest runs in 32-bit protected mode; AMD\'s LOCK MOV CR0 alias (CPUID 8000_0001H:ECX[4]) is not in the backends\' CPU models';
const GIF = 'CLGI/STGI need EFER.SVME, which the runtime does not set, and GIF = 0 would hold the coordinator\'s end-of-test NMI and INIT';

export const cpu: OpFamily<'sti' | 'cli' | 'hlt' | 'iret-op' | 'mov-ss' | 'cr8-write' | 'cr8-read' | 'clgi' | 'stgi' | 'shutdown'> = {
  parse: {
    sti: (p, t) => (p.next(), { kind: 'sti', pos: t.pos }),
    cli: (p, t) => (p.next(), { kind: 'cli', pos: t.pos }),
    hlt: (p, t) => (p.next(), { kind: 'hlt', pos: t.pos }),
    iret: (p, t) => (p.next(), { kind: 'iret-op', pos: t.pos }),
    clgi: (p, t) => (p.next(), { kind: 'clgi', pos: t.pos }),
    stgi: (p, t) => (p.next(), { kind: 'stgi', pos: t.pos }),
    shutdown: (p, t) => (p.next(), { kind: 'shutdown', pos: t.pos }),
    mov(p, t) {
      p.next();
      if (p.accept('ss')) return { kind: 'mov-ss', pos: t.pos };
      if (p.accept('cr8')) {
        p.expect('=', 'after `mov cr8` (`mov cr8 = E`)');
        return { kind: 'cr8-write', value: expr(p), pos: t.pos };
      }
      const d = p.peek();
      if (d.kind !== 'name' || !/^r[0-9]+$/.test(d.text)) p.fail(d.pos, `expected \`ss\`, \`cr8 = E\` or \`rK = cr8\` after \`mov\`, found ${describeToken(d)}`);
      const dst = dstReg(p);
      p.expect('=', `after \`mov ${dst}\` (\`mov ${dst} = cr8\`)`);
      p.expect('cr8', `after \`mov ${dst} =\` (a register is read from \`cr8\`; other moves are \`rK = E\`)`);
      return { kind: 'cr8-read', dst, pos: t.pos };
    },
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
      emit(_op, e) {
        e.out.push('  sti');
        e.shadowPoint();
      },
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
        // LIT_HALTED: the flag `await Pk.activity == halted` spins on, set just before the HLT and cleared after it.
        const blocked = `LIT_BLOCKED + ${e.apicId} * 4`, halted = `LIT_HALTED + ${e.apicId} * 4`;
        e.out.push(`  push dword [${blocked}]`, `  mov dword [${blocked}], 1   ; blocked: the run may end here`, `  mov dword [${halted}], 1`, '  hlt', `  mov dword [${halted}], 0`, `  pop dword [${blocked}]`);
      },
    },
    'iret-op': {
      where: 'cpu',
      word: () => 'iret',
      print: () => 'iret',
      refs: () => {},
      describe: () => 'iret',
      exec(_op, x) {
        // An IRET to the next instruction: EFLAGS (IF) as they are, NMI blocking ended (SDM Vol 3A 7.7.1: "the
        // next IRET"; in SMM too, SDM Vol 3C 34.8 NMI Handling While in SMM).
        x.cpu!.iret(x.cpu!.interruptsEnabled());
        return x.pc + 1;
      },
      footprint: () => {},
      analyze(_op, a) {
        if (a.smm) a.refuse('no-iret', 'an IRET in SMM unblocks NMIs there, and the runtime\'s SMM code has no IDT for the NMI that could then come');
        a.need('nmi');
      },
      emit(_op, e) {
        const next = e.local();
        e.out.push('  pushfd', '  push cs', `  push dword ${next}`, '  iretd                               ; an IRET to the next op: ends NMI blocking', `${next}:`);
      },
    },
    'mov-ss': {
      where: 'cpu',
      word: () => 'mov ss',
      print: () => 'mov ss',
      refs: () => {},
      describe: () => 'mov ss',
      exec(_op, x) {
        // SDM Vol 3A 7.8.3 Masking Exceptions and Interrupts When Switching Stacks: interrupts, NMIs and debug
        // exceptions are held until after the next instruction.
        x.cpu!.movSs();
        return x.pc + 1;
      },
      footprint: () => {},
      emit(_op, e) {
        e.out.push('  mov ax, ss', '  mov ss, ax                          ; the MOV SS shadow covers the next instruction');
        e.shadowPoint();
      },
    },
    'cr8-write': {
      where: 'cpu',
      word: () => 'mov cr8',
      print: (op) => `mov cr8 = ${printExpr(op.value)}`,
      refs: (op, r) => r.expr(op.value),
      describe: () => 'mov cr8',
      exec(op, x) {
        if (!x.cr8Write(x.eval(op.value))) x.fault('mov cr8 (reserved bits 63:4)');
        return x.pc + 1;
      },
      footprint: () => {},
      analyze: (_op, a) => a.refuse('cpu-mode', CR8_64),
      emit: (_op, e) => e.refuse('cpu-mode', CR8_64),
    },
    'cr8-read': {
      where: 'cpu',
      word: () => 'mov rK = cr8',
      print: (op) => `mov ${op.dst} = cr8`,
      refs: (op, r) => r.writeReg(op.dst, op.pos),
      describe: (op) => `mov ${op.dst} = cr8`,
      exec(op, x) {
        x.setReg(op.dst, BigInt(x.cr8Read()));
        return x.pc + 1;
      },
      footprint: () => {},
      analyze: (_op, a) => a.refuse('cpu-mode', CR8_64),
      emit: (_op, e) => e.refuse('cpu-mode', CR8_64),
    },
    clgi: {
      where: 'cpu',
      print: () => 'clgi',
      refs: () => {},
      describe: () => 'clgi',
      exec(_op, x) {
        // APM Vol 2 15.17 Global Interrupt Flag; APM Vol 3 CLGI: #UD without SVM (an Intel processor).
        if (x.cpu!.apic.vendor() !== 'amd') x.fault('clgi on Intel (#UD)');
        else x.cpu!.setGif(false);
        return x.pc + 1;
      },
      footprint: () => {},
      analyze: (_op, a) => a.refuse('gif', GIF),
      emit: (_op, e) => e.refuse('gif', GIF),
    },
    stgi: {
      where: 'cpu',
      print: () => 'stgi',
      refs: () => {},
      describe: () => 'stgi',
      exec(_op, x) {
        if (x.cpu!.apic.vendor() !== 'amd') x.fault('stgi on Intel (#UD)');
        else x.cpu!.setGif(true);
        return x.pc + 1;
      },
      footprint: () => {},
      analyze: (_op, a) => a.refuse('gif', GIF),
      emit: (_op, e) => e.refuse('gif', GIF),
    },
    shutdown: {
      where: 'cpu',
      print: () => 'shutdown',
      refs: () => {},
      describe: () => 'shutdown (triple fault)',
      exec(_op, x) {
        // SDM Vol 3A 7.15 Interrupt 8 Double Fault: a fault while delivering #DF is a triple fault, which enters the
        // shutdown state. A handler of an NMI or SMI that wakes it returns here, into shutdown again (D-32).
        x.cpu!.shutdown();
        return x.shutdownPc;
      },
      footprint: () => {},
      analyze: (_op, a) => a.refuse('shutdown', 'a triple fault: QEMU and Bochs reset the whole machine (KVM_EXIT_SHUTDOWN), ending the run'),
      emit: (_op, e) => e.refuse('shutdown', 'a triple fault resets the machine'),
    },
  },
};
