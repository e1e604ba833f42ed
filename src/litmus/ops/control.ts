// Control flow and time: labels, `goto`, `if rK cmp E goto L`, `repeat N { }`, `wait N`, `pause`, `nop`.
// Labels are local to their block; `repeat` is unrolled by the simulator (src/sim/program.ts) and looped by the
// guest compiler.

import type { CmpOp } from '../ast.js';
import { printExpr } from '../format.js';
import { cmpOp, expr, srcReg, U32 } from '../syntax.js';
import type { OpFamily } from './types.js';

const never = (): never => {
  throw new Error('a label or a repeat is not an instruction: the program is flattened before it runs');
};

export function compare(a: bigint, cmp: CmpOp, b: bigint): boolean {
  switch (cmp) {
    case '==': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '>': return a > b;
    case '<=': return a <= b;
    case '>=': return a >= b;
  }
}

/** Unsigned comparisons (registers are 64-bit unsigned): the jump after `cmp`. */
const JCC: Record<CmpOp, string> = { '==': 'je', '!=': 'jne', '<': 'jb', '>': 'ja', '<=': 'jbe', '>=': 'jae' };

export const control: OpFamily<'label' | 'goto' | 'if' | 'repeat' | 'wait' | 'pause' | 'nop'> = {
  parse: {
    goto(p, t) {
      p.next();
      return { kind: 'goto', label: p.expectName('a label after `goto`').text, pos: t.pos };
    },
    if(p, t) {
      p.next();
      const reg = srcReg(p, 'a register after `if`');
      const cmp = cmpOp(p, ['==', '!=', '<', '>', '<=', '>='], `after \`if ${reg}\``);
      const value = expr(p);
      p.expect('goto', 'after the condition of `if` (`if rK == E goto L`)');
      return { kind: 'if', reg, cmp, value, label: p.expectName('a label after `goto`').text, pos: t.pos };
    },
    repeat(p, t, body) {
      p.next();
      const n = p.expectNum('a repeat count after `repeat`');
      const count = p.small(n, U32, 'the count of `repeat`');
      return { kind: 'repeat', count, body: p.nested(t.pos, '`repeat`', () => body('the `repeat` body')), pos: t.pos };
    },
    wait(p, t) {
      p.next();
      const n = p.expectNum('a number of APIC-timer ticks after `wait`');
      return { kind: 'wait', ticks: p.small(n, U32, 'the tick count of `wait`'), pos: t.pos };
    },
    pause: (p, t) => (p.next(), { kind: 'pause', pos: t.pos }),
    nop: (p, t) => (p.next(), { kind: 'nop', pos: t.pos }),
  },
  defs: {
    label: {
      where: 'any',
      print: (op) => `${op.name}:`,
      refs: () => {},
      describe: never,
      exec: never,
      footprint: never,
      emit: (op, e) => void e.out.push(`${e.label(op.name)}:                          ; ${op.name}:`),
    },
    goto: {
      where: 'any',
      print: (op) => `goto ${op.label}`,
      refs: () => {},
      describe: () => 'goto',
      exec: (op) => op.target,
      footprint: () => {},
      emit: (op, e) => void e.out.push(`  jmp ${e.label(op.label)}`),
    },
    if: {
      where: 'any',
      print: (op) => `if ${op.reg} ${op.cmp} ${printExpr(op.value)} goto ${op.label}`,
      refs(op, r) {
        r.readReg(op.reg, op.pos);
        r.expr(op.value);
      },
      describe: (op) => `if ${op.reg} ${op.cmp} ...`,
      exec: (op, x) => (compare(x.reg(op.reg), op.cmp, x.eval(op.value)) ? op.target : x.pc + 1),
      footprint: () => {},
      emit(op, e) {
        const hi = e.local();
        e.expr(op.value);
        e.out.push('  mov ebx, eax', '  mov ecx, edx');
        if (op.reg === 'sv') e.out.push(`  mov eax, [${e.reg('sv')}]`, '  xor edx, edx');
        else e.out.push(`  mov eax, [${e.reg(op.reg)}]`, `  mov edx, [${e.reg(op.reg)} + 4]`);
        e.out.push('  cmp edx, ecx', `  jne ${hi}`, '  cmp eax, ebx', `${hi}:`, `  ${JCC[op.cmp]} ${e.label(op.label)}`);
      },
    },
    repeat: {
      where: 'any',
      print: (op) => `repeat ${op.count} {`,
      refs: () => {},
      describe: never,
      exec: never,
      footprint: never,
      emit(op, e) {
        const slot = e.data('lit_rep');
        const top = e.local(), end = e.local();
        e.out.push(`  mov dword [${slot}], ${op.count}`, `${top}:`, `  cmp dword [${slot}], 0`, `  je ${end}`, `  dec dword [${slot}]`);
        e.body(op.body);
        e.out.push(`  jmp ${top}`, `${end}:                              ; end of repeat`);
      },
    },
    wait: {
      where: 'any',
      print: (op) => `wait ${op.ticks}`,
      refs: () => {},
      describe: (op) => `wait ${op.ticks}`,
      exec(op, x) {
        x.wait(op.ticks);
        return x.pc + 1;
      },
      footprint: () => {},
      emit(op, e) {
        e.out.push(`  mov eax, ${op.ticks * e.waitUsPerTick}                     ; ${e.waitUsPerTick} µs a tick`);
        e.out.push(...(e.smm ? [`  mov ebx, ${e.apicId}`, '  call lit_delay_beat                 ; (in SMM: with a heartbeat)'] : ['  call lapis_delay_us']));
      },
    },
    pause: {
      where: 'any',
      print: () => 'pause',
      refs: () => {},
      describe: () => 'pause',
      exec: (_op, x) => x.pc + 1,
      pauses: true,
      footprint: () => {},
      emit: (_op, e) => void e.out.push('  pause'),
    },
    nop: {
      where: 'any',
      print: () => 'nop',
      refs: () => {},
      describe: () => 'nop',
      exec: (_op, x) => x.pc + 1,
      footprint: () => {},
      emit: (_op, e) => void e.out.push('  nop'),
    },
  },
};
